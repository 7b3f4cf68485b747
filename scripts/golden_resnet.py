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
import math
import os
import sys

import numpy as np
import torch
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet, resnet50

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_common import (calibrate, check_result, live_inputs, main,  # noqa: E402
                           min_gap, model_tensors, photo_like, pick, report,
                           rounded, tiny_goldens, write_safetensors)


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


def check_live(binary, archs):
    """Each arch with random weights and calibrated batch norm, saved to a
    temp dir as safetensors with its logits on 4 photo-like images; the C
    side (test_resnet --check) must meet the golden criterion."""
    import subprocess
    import tempfile

    import torchvision

    g, calib, x = live_inputs(32)
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
    return check_result("check-pytorch", failed)


def make_goldens(out):
    g = torch.Generator().manual_seed(20260701)
    torch.manual_seed(7)

    # (a) tiny models on odd, non-square inputs
    calib = photo_like(g, 48, 57, 71)
    cand = photo_like(g, 16, 57, 71)
    tiny_goldens(out, "tiny_io.safetensors", [
        ("tiny_basic", "F16", small(BasicBlock, [2, 2, 1, 1], 10), None),
        ("tiny_resnext", "BF16",
         small(Bottleneck, [1, 2, 1, 1], 10, groups=4, width_per_group=8), None),
    ], g, calib, cand)

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
    keep = [(n, t, d) for n, t, d in model_tensors(model, "F32")
            if not n.endswith("conv1.weight") and not n.endswith("conv2.weight")
            and not n.endswith("conv3.weight") and not n.endswith(
                "downsample.0.weight") and n != "fc.weight"]
    keep += [("golden.input", x, "F16"), ("golden.logits", y, "F32")]
    write_safetensors(os.path.join(out, "resnet50_golden.safetensors"), keep)


if __name__ == "__main__":
    main(make_goldens, check_live, ["resnet18", "resnet50", "resnext50_32x4d"])
