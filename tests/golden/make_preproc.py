#!/usr/bin/python3
"""make_preproc.py — golden outputs for image/'s PIL/torchvision parity test.

For each fixture in tests/fixtures/ writes one line of tests/golden/preproc.tsv:
the SHA-256 of PIL's Image.open(p).convert("RGB") pixels, of the image after
torchvision's Resize(256) (PIL bilinear), of the 224x224 CenterCrop (uint8,
before ToTensor), and of ToTensor + Normalize(ImageNet mean/std) as float32
CHW little-endian. A few crops are also saved as PNG so a mismatch can be
measured, not just detected.

torchvision itself is not installable on this machine (Debian has no
package), so its Resize / CenterCrop / ToTensor / Normalize are restated
below from torchvision.transforms.functional (v0.13-0.20): the size rule of
_compute_resized_output_size, PIL's Image.resize(size, BILINEAR) as
F_pil.resize calls it, center_crop's padding and int(round(...)) offsets,
and float32 div(255), sub_(mean), div_(std).

Run with Debian's python (python3-pil, python3-numpy): tests/golden/make_preproc.py
"""
import glob
import hashlib
import os
import sys
import warnings

import numpy as np
import PIL
from PIL import Image

SIZE, CROP = 256, 224
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(3, 1, 1)
SAVE_CROPS = ["chelsea_q90.jpg", "coffee.png", "rocket.jpg"]


def resize_shorter(im, size):
    w, h = im.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    if (new_w, new_h) == (w, h):
        return im
    return im.resize((new_w, new_h), Image.BILINEAR)


def center_crop(im, crop):
    w, h = im.size
    if crop > w or crop > h:
        pad_l = (crop - w) // 2 if crop > w else 0
        pad_t = (crop - h) // 2 if crop > h else 0
        pad_r = (crop - w + 1) // 2 if crop > w else 0
        pad_b = (crop - h + 1) // 2 if crop > h else 0
        padded = Image.new(im.mode, (w + pad_l + pad_r, h + pad_t + pad_b), 0)
        padded.paste(im, (pad_l, pad_t))
        im = padded
        w, h = im.size
        if (w, h) == (crop, crop):
            return im
    top = int(round((h - crop) / 2.0))
    left = int(round((w - crop) / 2.0))
    return im.crop((left, top, left + crop, top + crop))


def sha(b):
    return hashlib.sha256(b).hexdigest()


def main():
    warnings.simplefilter("ignore")  # PIL's note on palette transparency
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    os.chdir(root)
    os.makedirs("tests/golden/crops", exist_ok=True)
    rows = []
    for path in sorted(glob.glob("tests/fixtures/*.jpg") + glob.glob("tests/fixtures/*.png")):
        name = os.path.basename(path)
        rgb = Image.open(path).convert("RGB")
        r = resize_shorter(rgb, SIZE)
        c = center_crop(r, CROP)
        x = np.asarray(c, dtype=np.uint8).transpose(2, 0, 1).astype(np.float32)
        x = (x / np.float32(255) - MEAN) / STD
        rows.append("\t".join([
            name, str(rgb.size[0]), str(rgb.size[1]), sha(rgb.tobytes()),
            str(r.size[0]), str(r.size[1]), sha(r.tobytes()), sha(c.tobytes()),
            sha(x.astype("<f4").tobytes())]))
        if name in SAVE_CROPS:
            c.save("tests/golden/crops/" + os.path.splitext(name)[0] + ".png", optimize=True)
    with open("tests/golden/preproc.tsv", "w") as f:
        f.write("# made by tests/golden/make_preproc.py with PIL %s, numpy %s\n"
                % (PIL.__version__, np.__version__))
        f.write("# file\twidth\theight\tsha256_rgb\tresized_w\tresized_h\tsha256_resized"
                "\tsha256_crop224\tsha256_normalized_f32le\n")
        f.write("\n".join(rows) + "\n")
    print("wrote %d rows" % len(rows), file=sys.stderr)


if __name__ == "__main__":
    main()
