#!/usr/bin/python3
"""score_peers.py — the Python side of bench/score.sh, run with Debian's
python3 (python3-torch, python3-torchvision, python3-pil, python3-numpy).

  weights DIR [ARCH]   torchvision ARCH (resnet50) with seed 0 and batch-norm stats
                       from a few train-mode passes, written by hand as
                       DIR/resnet50.safetensors (torchvision's names, F32)
                       and exported as DIR/resnet50.onnx (opset 13, dynamic
                       batch axis)
  torch ST BATCH RUNS  PyTorch's forward pass on those weights, 2 threads,
                       no_grad: one line "images_per_s median best maxrss_kb"
  photos DIR N [SHORT] N distinct ~12 MP JPEGs (q92) from the real photographs
                       of tests/fixtures and scikit-image's data folder, each
                       a different crop, upscaled with PIL, with mild grain;
                       with SHORT, 4:3 photos whose short side is SHORT px
                       (e.g. 256x341, what Resize(256) leaves unchanged)
  preprocess DIR       torchvision's eval transform (PIL) over every file of
                       DIR on one thread: "files seconds"
  reference ST DIR     the agreement check's input: four fixture photos through
                       torchvision's eval transform as raw float32 in
                       DIR/input.f32, and PyTorch's logits in DIR/pytorch.f32
  compare DIR NAME...  DIR/NAME.f32 against DIR/pytorch.f32: max |logit
                       difference| relative to max |logit|, top-5 order
"""
import glob
import json
import os
import resource
import statistics
import struct
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def write_safetensors(path, tensors):
    """safetensors by hand: u64 little-endian header length, a JSON header of
    {name: {dtype, shape, data_offsets}} padded with spaces to 8 bytes, then
    the raw little-endian data in header order."""
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        dtype, le = {"float32": ("F32", "<f4"), "int64": ("I64", "<i8")}[a.dtype.name]
        b = a.astype(le, copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        dt = {"F32": "<f4", "I64": "<i8"}[t["dtype"]]
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data, dtype=dt, count=(b - a) // np.dtype(dt).itemsize,
                                  offset=base + a).reshape(t["shape"])
    return out


def cmd_weights(outdir, arch="resnet50"):
    import torch
    import torchvision

    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)()
    # A few train-mode passes give the batch norms realistic statistics, so
    # activations stay in a normal range (no overflow, no denormals).
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    g = torch.Generator().manual_seed(1)
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(8, 3, 224, 224, generator=g))
    model.eval()
    sd = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    write_safetensors(os.path.join(outdir, arch + ".safetensors"), sd)
    x = torch.randn(1, 3, 224, 224, generator=g)
    torch.onnx.export(model, x, os.path.join(outdir, arch + ".onnx"), opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    print("%s: %d tensors, %.1f M parameters" % (arch, len(sd), sum(v.size for v in sd.values()) / 1e6))


def cmd_torch(st, batch, runs):
    import torch
    from torchvision.models import resnet50

    torch.set_num_threads(2)
    model = resnet50()
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in read_safetensors(st).items()})
    model.eval()
    x = torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    per_run = max(1, 32 // batch)  # each run covers at least 32 images
    rates = []
    with torch.no_grad():
        model(x)  # warm-up
        if batch < 8:
            model(x)
        for _ in range(runs):
            t0 = time.perf_counter()
            for _ in range(per_run):
                model(x)
            rates.append(per_run * batch / (time.perf_counter() - t0))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("%.2f %.2f %d" % (statistics.median(rates), max(rates), rss))


def sources():
    srcs = sorted(glob.glob(os.path.join(HERE, "..", "tests", "fixtures", "*.jpg")))
    srcs = [s for s in srcs if "cmyk" not in s and "ycck" not in s]
    sk = "/usr/lib/python3/dist-packages/skimage/data"
    for name in ["astronaut.png", "motorcycle_left.png", "motorcycle_right.png", "retina.jpg",
                 "hubble_deep_field.jpg", "coffee.png", "chelsea.png", "rocket.jpg", "ihc.png",
                 "grass.png", "gravel.png", "brick.png", "camera.png", "moon.png"]:
        p = os.path.join(sk, name)
        if os.path.exists(p):
            srcs.append(p)
    return srcs


def one_photo(args):
    from PIL import Image

    i, src, out, short = args
    rng = np.random.default_rng(1000 + i)
    im = Image.open(src).convert("RGB")
    w, h = im.size
    # A distinct crop of 70-100% of each side, then ~12 MP (landscape or portrait).
    cw, ch = int(w * rng.uniform(0.7, 1.0)), int(h * rng.uniform(0.7, 1.0))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    im = im.crop((x0, y0, x0 + cw, y0 + ch))
    size = (4000, 3000) if cw >= ch else (3000, 4000)
    if short:
        size = (short * 4 // 3, short) if cw >= ch else (short, short * 4 // 3)
    im = im.resize(size, Image.BICUBIC)
    # Grain, so the files have a real photo's entropy rather than smooth upscales.
    a = np.asarray(im, dtype=np.int16)
    a = a + rng.integers(-6, 7, size=a.shape, dtype=np.int16)
    im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    im.save(os.path.join(out, "p%04d.jpg" % i), format="JPEG", quality=92)
    return os.path.getsize(os.path.join(out, "p%04d.jpg" % i))


def cmd_photos(out, n, short=0):
    from multiprocessing import Pool

    os.makedirs(out, exist_ok=True)
    srcs = sources()
    jobs = [(i, srcs[i % len(srcs)], out, short) for i in range(n)]
    with Pool(os.cpu_count() or 1) as p:
        sizes = p.map(one_photo, jobs, chunksize=4)
    what = "short side %d px" % short if short else "~12 MP"
    print("%d photos of %s from %d sources, %.1f KB average" % (n, what, len(srcs), sum(sizes) / n / 1e3))


def eval_transform():
    from torchvision import transforms

    return transforms.Compose([
        transforms.Resize(256),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])


def cmd_preprocess(d):
    import torch
    from PIL import Image

    torch.set_num_threads(1)
    tf = eval_transform()
    files = sorted(glob.glob(os.path.join(d, "*.jpg")))
    t0 = time.perf_counter()
    batch = []
    for p in files:
        with Image.open(p) as im:
            batch.append(tf(im.convert("RGB")))
        if len(batch) == 8:
            torch.stack(batch)  # what a DataLoader's collate does
            batch = []
    print("%d %.3f" % (len(files), time.perf_counter() - t0))


CHECK_PHOTOS = ["chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg"]


def cmd_reference(st, d):
    import torch
    from PIL import Image
    from torchvision.models import resnet50

    tf = eval_transform()
    fix = os.path.join(HERE, "..", "tests", "fixtures")
    x = torch.stack([tf(Image.open(os.path.join(fix, n)).convert("RGB")) for n in CHECK_PHOTOS])
    model = resnet50()
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in read_safetensors(st).items()})
    model.eval()
    with torch.no_grad():
        y = model(x)
    x.numpy().astype("<f4").tofile(os.path.join(d, "input.f32"))
    y.numpy().astype("<f4").tofile(os.path.join(d, "pytorch.f32"))
    print(len(CHECK_PHOTOS))


def cmd_compare(d, names):
    ref = np.fromfile(os.path.join(d, "pytorch.f32"), dtype="<f4").reshape(len(CHECK_PHOTOS), -1)
    bad = 0
    for name in names:
        y = np.fromfile(os.path.join(d, name + ".f32"), dtype="<f4").reshape(ref.shape)
        rel = float(np.abs(y - ref).max() / np.abs(ref).max())
        same = all((np.argsort(-a, kind="stable")[:5] == np.argsort(-b, kind="stable")[:5]).all()
                   for a, b in zip(y, ref))
        ok = rel <= 1e-3 and same
        bad += not ok
        print("agreement with pytorch on %d fixture photos: %-11s max |logit diff| %.1e of max |logit|, "
              "top-5 order %s%s" % (len(ref), name, rel, "identical" if same else "DIFFERENT",
                                    "" if ok else "  <-- outside 1e-3 / top-5"))
    sys.exit(1 if bad else 0)


def main():
    a = sys.argv[1:]
    if len(a) in (2, 3) and a[0] == "weights":
        cmd_weights(*a[1:])
    elif len(a) == 4 and a[0] == "torch":
        cmd_torch(a[1], int(a[2]), int(a[3]))
    elif len(a) in (3, 4) and a[0] == "photos":
        cmd_photos(a[1], int(a[2]), int(a[3]) if len(a) == 4 else 0)
    elif len(a) == 2 and a[0] == "preprocess":
        cmd_preprocess(a[1])
    elif len(a) == 3 and a[0] == "reference":
        cmd_reference(a[1], a[2])
    elif len(a) >= 3 and a[0] == "compare":
        cmd_compare(a[1], a[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
