#!/usr/bin/python3
# golden_common.py — what the golden scripts (golden_resnet.py, golden_vgg.py,
# golden_densenet.py) and check_pytorch.py share: photo-like inputs, batch-norm
# calibration, safetensors written and read by hand (no safetensors package in
# Debian), the tiny models' goldens, the live checks' inputs and the command
# line. Imported, not run; needs Debian's python3 with python3-torch.
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def photo_like(g, n, h, w):
    """n normalised [3,h,w] images: smooth colour fields, blobs and bars with
    edges, fine noise, quantised to 8 bits like decoded pixels."""
    out = []
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32),
                            torch.arange(w, dtype=torch.float32), indexing="ij")
    for _ in range(n):
        img = F.interpolate(torch.rand(1, 3, 3, 3, generator=g), size=(h, w),
                            mode="bicubic", align_corners=False)
        img += 0.4 * (F.interpolate(torch.rand(1, 3, 12, 12, generator=g),
                                    size=(h, w), mode="bilinear",
                                    align_corners=False) - 0.5)
        for _ in range(int(torch.randint(2, 8, (1,), generator=g))):
            cy, cx, ry, rx = (torch.rand(4, generator=g) *
                              torch.tensor([h, w, h / 3, w / 3])).tolist()
            ry, rx = ry + 2, rx + 2
            col = torch.rand(3, 1, generator=g)
            if torch.rand(1, generator=g) < 0.5:
                m = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
            else:
                m = ((yy - cy).abs() < ry) & ((xx - cx).abs() < rx / 4)
            img[0][:, m] = col * (0.8 + 0.2 * torch.rand(1, int(m.sum()), generator=g))
        img += 0.04 * torch.randn(img.shape, generator=g)
        img = (img.clamp(0, 1) * 255).round() / 255
        out.append((img - MEAN) / STD)
    return torch.cat(out)


def calibrate(model, g, images, batch, head="fc", spread=False):
    """Random affine batch norm, then running stats from train-mode passes
    (dropout off), then the bias of the last layer (the module at the dotted
    path head: "fc", "classifier", "classifier.6") centring the logits over
    the calibration images; with spread, that layer also scaled so the
    logits spread like a trained model's (std 3 over the images)."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.copy_(0.6 + 0.8 * torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * (torch.rand(m.bias.shape, generator=g) - 0.5))
            m.reset_running_stats()
            m.momentum = None  # cumulative average over all passes
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.eval()
    with torch.no_grad():
        for i in range(0, len(images), batch):
            model(images[i:i + batch])
    model.eval()
    parent_path, _, name = head.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    fc = getattr(parent, name)
    setattr(parent, name, torch.nn.Identity())
    with torch.no_grad():
        f = torch.cat([model(images[i:i + batch]) for i in range(0, len(images), batch)])
    setattr(parent, name, fc)
    with torch.no_grad():
        fc.bias.copy_(fc.bias - fc.weight @ f.mean(0))
        if spread:
            k = 3.0 / (f @ fc.weight.T + fc.bias).std().item()
            fc.weight.mul_(k)
            fc.bias.mul_(k)


def st_bytes(t, dtype):
    t = t.detach().contiguous()
    if dtype == "F32":
        return t.to(torch.float32).numpy().tobytes()
    if dtype == "F16":
        return t.to(torch.float16).numpy().tobytes()
    if dtype == "BF16":
        return t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
    if dtype == "I64":
        return t.to(torch.int64).numpy().tobytes()
    raise ValueError(dtype)


def write_safetensors(path, tensors):
    """tensors: list of (name, tensor, dtype). Writes the format by hand:
    u64 header length, the JSON header padded with spaces to 8 bytes, the
    data in header order."""
    header, blobs, off = {}, [], 0
    for name, t, dtype in tensors:
        b = st_bytes(t, dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def read_safetensors(path):
    """name -> float32 tensor of a file write_safetensors wrote (F16, BF16,
    F32; I64 counters as int64)."""
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    out = {}
    for k, v in json.loads(b[8:8 + n]).items():
        if k == "__metadata__":
            continue
        raw = b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]
        if v["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, dtype={"F16": "<f2", "F32": "<f4", "I64": "<i8"}[v["dtype"]])
            a = a if v["dtype"] == "I64" else a.astype(np.float32)
        out[k] = torch.from_numpy(a.copy()).reshape(v["shape"])
    return out


def rounded(t, dtype):
    """t as the C side will read it back from the file."""
    if dtype == "F16":
        return t.to(torch.float16).to(torch.float32)
    if dtype == "BF16":
        return t.to(torch.bfloat16).to(torch.float32)
    return t


def state_tensors(state, dtype):
    """A state dict as write_safetensors' list: floats as dtype, int64
    counters as I64."""
    return [(n, t, "I64" if t.dtype == torch.int64 else dtype) for n, t in state.items()]


def model_tensors(model, dtype):
    return state_tensors(model.state_dict(), dtype)


def round_model(model, dtype):
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.copy_(rounded(t, dtype))


def min_gap(logits):
    """Per row: the smallest gap between neighbours of the top 6, relative to
    max |logit|; golden rows need clear margins for the top-5 order test."""
    v = logits.topk(6, dim=1).values
    return (v[:, :-1] - v[:, 1:]).min(1).values / logits.abs().max(1).values


def pick(gaps, k):
    """Indices of the k candidates with the largest worst-case gaps."""
    return sorted(torch.stack(gaps).min(0).values.argsort(descending=True)[:k].tolist())


def report(tag, logits):
    top = logits.topk(6, dim=1)
    for i in range(len(logits)):
        v = top.values[i]
        gap = (v[:-1] - v[1:]).min().item()
        rel = gap / logits[i].abs().max().item()
        print(f"{tag}[{i}]: top5 {top.indices[i, :5].tolist()} max|logit| "
              f"{logits[i].abs().max().item():.4g} smallest top-6 gap {gap:.3g} "
              f"({rel:.2g} of max)")
        if rel < 5e-3:
            print(f"  warning: {tag}[{i}] has a near tie in its top 5")


def tiny_goldens(out, io_name, models, g, calib, cand, head="fc"):
    """The goldens of tiny models: each of models, (name, dtype, model,
    names), calibrated on calib and rounded to dtype; the 3 images of cand
    with the clearest top-5 margins over all models as the input; each model
    written as OUT/NAME.safetensors (its tensor list passed through names,
    unless None), the input and every model's logits as OUT/IO_NAME."""
    gaps = []
    for _, dtype, model, _ in models:
        calibrate(model, g, calib, 16, head=head)
        round_model(model, dtype)
        model.eval()
        with torch.no_grad():
            gaps.append(min_gap(model(cand)))
    x = cand[pick(gaps, 3)]
    io = [("input", x, "F32")]
    for name, dtype, model, names in models:
        with torch.no_grad():
            y = model(x)
        report(name, y)
        tensors = model_tensors(model, dtype)
        write_safetensors(os.path.join(out, name + ".safetensors"),
                          names(tensors) if names else tensors)
        io.append(("logits." + name, y, "F32"))
    write_safetensors(os.path.join(out, io_name), io)


def a_classes():
    """ImageNet-1K indices of the 200 ImageNet-A classes, from schema/."""
    with open(os.path.join(ROOT, "schema", "imagenet_a_classes.tsv")) as f:
        return [int(line.split("\t")[1]) for line in f.read().splitlines()[1:]]


def live_inputs(n_calib):
    """The live checks' images, from seed 1 on two threads: n_calib
    photo-like 224x224 calibration images, then 4 to compare on."""
    torch.set_num_threads(2)
    g = torch.Generator().manual_seed(1)
    calib = photo_like(g, n_calib, 224, 224)
    return g, calib, photo_like(g, 4, 224, 224)


def check_result(tag, failed):
    """Prints a live check's verdict; its exit status."""
    print(f"{tag}:", "FAILED " + " ".join(failed) if failed else "all passed")
    return 1 if failed else 0


def main(make_goldens, check_live, archs):
    """A golden script's command line: OUTDIR (default tests/golden) runs
    make_goldens(OUTDIR) on two threads; --check BINARY [ARCH...] exits with
    check_live(BINARY, ARCHS or archs)."""
    if len(sys.argv) > 2 and sys.argv[1] == "--check":
        sys.exit(check_live(sys.argv[2], sys.argv[3:] or archs))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "golden")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    make_goldens(out)
