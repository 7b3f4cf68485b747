#!/usr/bin/python3
"""make_photos.py — the crawl benchmark's corpus: N byte-distinct real photos.
Takes the real photographs of tests/fixtures and scikit-image's data folder,
re-encodes each at several JPEG qualities and sizes (PIL), then writes N
files, each a base photo with a unique JPEG comment (COM) segment after SOI.
Usage: make_photos.py OUT_DIR N"""
import glob, io, os, sys
from PIL import Image

out, n = sys.argv[1], int(sys.argv[2])
# One base photo in four may be progressive (PROGRESSIVE=1, the default) or
# none (PROGRESSIVE=0); progressive JPEGs cost ~8x more to validate.
PROGRESSIVE = os.environ.get("PROGRESSIVE", "1") == "1"
os.makedirs(out, exist_ok=True)
here = os.path.dirname(os.path.abspath(__file__))
sources = sorted(glob.glob(os.path.join(here, "..", "tests", "fixtures", "*.jpg")))
sk = "/usr/lib/python3/dist-packages/skimage/data"
for name in ["astronaut.png", "motorcycle_left.png", "motorcycle_right.png", "retina.jpg",
             "hubble_deep_field.jpg", "coffee.png", "chelsea.png", "rocket.jpg", "ihc.png",
             "grass.png", "gravel.png", "brick.png"]:
    if os.path.exists(os.path.join(sk, name)):
        sources.append(os.path.join(sk, name))

bases = []
for src in sources:
    im = Image.open(src).convert("RGB")
    for scale in (1.0, 2.0, 3.0):
        size = (int(im.width * scale), int(im.height * scale))
        img = im if scale == 1.0 else im.resize(size, Image.BICUBIC)
        for q, prog in ((85, False), (92, False), (95, False), (90, PROGRESSIVE)):
            b = io.BytesIO()
            img.save(b, format="JPEG", quality=q, progressive=prog)
            bases.append(b.getvalue())
total = 0
for i in range(n):
    b = bases[i % len(bases)]
    text = b"natadv-bench %d" % i
    com = b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text
    data = b[:2] + com + b[2:]
    total += len(data)
    with open(os.path.join(out, "%05d.jpg" % i), "wb") as f:
        f.write(data)
prog = sum(1 for i in range(n) if b"\xff\xc2" in bases[i % len(bases)][:2000])
print("%d files from %d base photos (%d sources), %.0f KB average, %d%% progressive" %
      (n, len(bases), len(sources), total / n / 1024, 100 * prog // n))
