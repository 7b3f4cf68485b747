#!/usr/bin/python3
# golden_resnet.py — make the golden files tests/unit/test_resnet.c checks
# natadv's ResNet against, from PyTorch/torchvision. Run by hand with Debian's
# python3 (apt-get install python3-torch python3-torchvision):
#     /usr/bin/python3 scripts/golden_resnet.py [OUTDIR]    (default tests/golden)
# or, to compare full-size torchvision models live (the check-pytorch run):
#     /usr/bin/python3 scripts/golden_resnet.py --check build/rel/tests/test_resnet \
#         [resnet18 resnet50 resnext50_32x4d ...]
#
# It writes:
#   tiny_basic.safetensors    torchvision ResNet(BasicBlock, [2,2,1,1]) with
#                             planes / 8, 10 classes, F16 weights
#   tiny_resnext.safetensors  ResNet(Bottleneck, [1,2,1,1], groups=4,
#                             width_per_group=8) with planes / 8, BF16 weights
#   tiny_io.safetensors       input [3,3,57,71] F32 and both tiny models' logits
#   resnet50_golden.safetensors
#                             a torchvision resnet50 whose conv and fc weights
#                             follow golden_weight() below (test_resnet.c
#                             regenerates them bit for bit), so only its batch
#                             norm tensors and fc.bias are stored here, with
#                             golden.input [2,3,224,224] F16 and golden.logits
#
# Batch-norm statistics (and fc.bias) are calibrated with train-mode passes on
# procedurally drawn "photo-like" images, so the random networks give
# different answers for different images instead of one class for all.
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet, resnet50

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def golden_weight(name, shape, fan_in):
    """The weight rule shared with test_resnet.c: a counter hash of (name,
    index) mapped to a float32 uniform in [-sqrt(3/fan_in), sqrt(3/fan_in))."""
    key = 0x811C9DC5
    for b in name.encode():
        key = ((key ^ b) * 0x01000193) & 0xFFFFFFFF
    n = int(np.prod(shape))
    with np.errstate(over="ignore"):
        x = np.arange(n, dtype=np.uint32) * np.uint32(0x9E3779B1) + np.uint32(key)
        x ^= x >> np.uint32(16)
        x *= np.uint32(0x7FEB352D)
        x ^= x >> np.uint32(15)
        x *= np.uint32(0x846CA68B)
        x ^= x >> np.uint32(16)
    v = ((x >> np.uint32(8)).astype(np.int64) * 2 - (1 << 24)).astype(np.float32)
    v *= np.float32(2.0 ** -24)
    s = np.float32(math.sqrt(3.0 / fan_in))
    return (v * s).reshape(shape)


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


def calibrate(model, g, images, batch, head="fc"):
    """Random affine batch norm, then running stats from train-mode passes,
    then the bias of the last layer (model.<head>) centring the logits over
    the calibration images."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.copy_(0.6 + 0.8 * torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * (torch.rand(m.bias.shape, generator=g) - 0.5))
            m.reset_running_stats()
            m.momentum = None  # cumulative average over all passes
    model.train()
    with torch.no_grad():
        for i in range(0, len(images), batch):
            model(images[i:i + batch])
    model.eval()
    feats = []
    fc = getattr(model, head)
    setattr(model, head, torch.nn.Identity())
    with torch.no_grad():
        for i in range(0, len(images), batch):
            feats.append(model(images[i:i + batch]))
    setattr(model, head, fc)
    f = torch.cat(feats)
    with torch.no_grad():
        fc.bias.copy_(fc.bias - fc.weight @ f.mean(0))


class Small(ResNet):
    """torchvision's ResNet with every stage's planes divided by 8; module
    names and forward() are torchvision's own."""

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        return super()._make_layer(block, planes // 8, blocks, stride, dilate)


def small(block, layers, classes, **kw):
    m = Small(block, layers, num_classes=classes, **kw)
    last = m.layer4[-1]
    feats = (last.conv2 if block is BasicBlock else last.conv3).out_channels
    m.fc = torch.nn.Linear(feats, classes)  # ResNet assumes 512 * expansion
    return m


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
    """tensors: list of (name, tensor, dtype). Writes the format by hand (no
    safetensors package in Debian): header padded with spaces to 8 bytes."""
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


def rounded(t, dtype):
    """t as the C side will read it back from the file."""
    if dtype == "F16":
        return t.to(torch.float16).to(torch.float32)
    if dtype == "BF16":
        return t.to(torch.bfloat16).to(torch.float32)
    return t


def model_tensors(model, dtype):
    out = []
    for name, t in model.state_dict().items():
        out.append((name, t, "I64" if t.dtype == torch.int64 else dtype))
    return out


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


def check_live(binary, archs):
    """Each arch with random weights and calibrated batch norm, saved to a
    temp dir as safetensors with its logits on 4 photo-like images; the C
    side (test_resnet --check) must meet the golden criterion."""
    import subprocess
    import tempfile

    import torchvision

    torch.set_num_threads(2)
    g = torch.Generator().manual_seed(1)
    calib = photo_like(g, 32, 224, 224)
    x = photo_like(g, 4, 224, 224)
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch in archs:
            model = getattr(torchvision.models, arch)()
            calibrate(model, g, calib, 8)
            with torch.no_grad():
                y = model(x)
            report(arch, y)
            mpath = os.path.join(tmp, arch + ".safetensors")
            iopath = os.path.join(tmp, arch + "_io.safetensors")
            write_safetensors(mpath, model_tensors(model, "F32"))
            write_safetensors(iopath, [("input", x, "F32"), ("logits", y, "F32")])
            if subprocess.run([binary, "--check", mpath, iopath]).returncode:
                failed.append(arch)
            os.unlink(mpath)
    print("check-pytorch:", "FAILED " + " ".join(failed) if failed else "all passed")
    return 1 if failed else 0


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--check":
        sys.exit(check_live(sys.argv[2], sys.argv[3:] or
                            ["resnet18", "resnet50", "resnext50_32x4d"]))
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/golden"
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    g = torch.Generator().manual_seed(20260701)
    torch.manual_seed(7)

    # (a) tiny models on odd, non-square inputs
    calib = photo_like(g, 48, 57, 71)
    cand = photo_like(g, 16, 57, 71)
    models = [
        ("tiny_basic", "F16", small(BasicBlock, [2, 2, 1, 1], 10)),
        ("tiny_resnext", "BF16",
         small(Bottleneck, [1, 2, 1, 1], 10, groups=4, width_per_group=8)),
    ]
    gaps = []
    for name, dtype, model in models:
        calibrate(model, g, calib, 16)
        round_model(model, dtype)
        model.eval()
        with torch.no_grad():
            gaps.append(min_gap(model(cand)))
    x = cand[pick(gaps, 3)]
    io = [("input", x, "F32")]
    for name, dtype, model in models:
        with torch.no_grad():
            y = model(x)
        report(name, y)
        write_safetensors(os.path.join(out, name + ".safetensors"),
                          model_tensors(model, dtype))
        io.append(("logits." + name, y, "F32"))
    write_safetensors(os.path.join(out, "tiny_io.safetensors"), io)

    # (b) resnet50 with rule weights
    model = resnet50()
    with torch.no_grad():
        for name, mod in model.named_modules():
            if isinstance(mod, torch.nn.Conv2d):
                w = mod.weight
                fan_in = w.shape[1] * w.shape[2] * w.shape[3]
                w.copy_(torch.from_numpy(golden_weight(name + ".weight",
                                                       tuple(w.shape), fan_in)))
        fcw = model.fc.weight
        fcw.copy_(torch.from_numpy(golden_weight("fc.weight", tuple(fcw.shape),
                                                 fcw.shape[1])))
        model.fc.bias.copy_(torch.from_numpy(
            golden_weight("fc.bias", tuple(model.fc.bias.shape), fcw.shape[1])))
    calib = photo_like(g, 64, 224, 224)
    calibrate(model, g, calib, 16)
    with torch.no_grad():
        pred = model(calib[:32]).argmax(1)
    print(f"resnet50 argmax over 32 calibration images: "
          f"{len(set(pred.tolist()))} distinct classes")
    cand = rounded(photo_like(g, 8, 224, 224), "F16")
    with torch.no_grad():
        x = cand[pick([min_gap(model(cand))], 2)]
        y = model(x)
    report("resnet50", y)
    keep = [(n, t, "I64" if t.dtype == torch.int64 else "F32")
            for n, t in model.state_dict().items()
            if not n.endswith("conv1.weight") and not n.endswith("conv2.weight")
            and not n.endswith("conv3.weight") and not n.endswith(
                "downsample.0.weight") and n != "fc.weight"]
    keep += [("golden.input", x, "F16"), ("golden.logits", y, "F32")]
    write_safetensors(os.path.join(out, "resnet50_golden.safetensors"), keep)


if __name__ == "__main__":
    main()
