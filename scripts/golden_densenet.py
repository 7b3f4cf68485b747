#!/usr/bin/python3
# golden_densenet.py — the golden files tests/unit/test_densenet.c checks
# natadv's DenseNet against, from PyTorch/torchvision. Run by hand with
# Debian's python3 (apt-get install python3-torch python3-torchvision):
#     /usr/bin/python3 scripts/golden_densenet.py [OUTDIR]   (default tests/golden)
# or, to compare full-size torchvision DenseNets live (the check-pytorch run):
#     /usr/bin/python3 scripts/golden_densenet.py --check build/rel/tests/test_densenet \
#         [densenet121 densenet161 densenet169 densenet201]
#
# It writes:
#   tiny_densenet.safetensors        torchvision DenseNet(growth_rate=4,
#                                    block_config=(2,3,2,2), num_init_features=8,
#                                    bn_size=4), 10 classes, F16, current names
#                                    (torchvision's and timm's tv_in1k files')
#   tiny_densenet_legacy.safetensors DenseNet(growth_rate=6, block_config=(1,2,3,2),
#                                    num_init_features=12, bn_size=2), 7 classes,
#                                    BF16, torchvision's legacy names
#                                    (denselayerJ.norm.1, conv.1, norm.2, conv.2)
#   tiny_densenet_io.safetensors     input [3,3,57,71] F32 and both models' logits
#   tiny_densenet_1k.safetensors     the first tiny model with a 1000-way
#                                    classifier, for the end-to-end tests
#
# Batch-norm statistics and the classifier's bias are calibrated as in
# golden_common.py, so the random networks tell images apart.
import os
import re
import subprocess
import sys
import tempfile

import torch
from torchvision.models import DenseNet

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_common import (a_classes, calibrate, check_result, live_inputs,  # noqa: E402
                           main, model_tensors, photo_like, report, tiny_goldens,
                           write_safetensors)

LEGACY = re.compile(r"^(.*denselayer\d+\.(?:norm|conv))([12])\.(.*)$")


def legacy(tensors):
    """torchvision's old names, which its loader still remaps."""
    return [(LEGACY.sub(r"\1.\2.\3", n), t, d) for n, t, d in tensors]


def check_live(binary, archs):
    """Each arch with seeded weights and calibrated batch norm, in both
    layouts; the C side (test_densenet --check) applies the agreement rules
    (top-5 set, 200-class argmax, no clear top-1 flip, probabilities within
    2% relative)."""
    import torchvision

    g, calib, x = live_inputs(16)
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch in archs:
            torch.manual_seed(0)
            model = getattr(torchvision.models, arch)()
            calibrate(model, g, calib, 8, head="classifier")
            with torch.no_grad():
                # spread the logits like a trained model's (std 3), so the
                # probability rule is not met by near-uniform softmaxes
                s = 3.0 / model(calib[:8]).std().item()
                model.classifier.weight.mul_(s)
                model.classifier.bias.mul_(s)
                y = model(x)
            report(arch, y)
            iopath = os.path.join(tmp, arch + "_io.safetensors")
            subset = torch.tensor(a_classes(), dtype=torch.float32)
            write_safetensors(iopath, [("input", x, "F32"), ("logits", y, "F32"),
                                       ("subset", subset, "F32")])
            tensors = model_tensors(model, "F32")
            for layout, ts in (("current", tensors), ("legacy", legacy(tensors))):
                mpath = os.path.join(tmp, arch + "_" + layout + ".safetensors")
                write_safetensors(mpath, ts)
                if subprocess.run([binary, "--check", mpath, iopath]).returncode:
                    failed.append(arch + "/" + layout)
                os.unlink(mpath)
    return check_result("check-pytorch densenet", failed)


def make_goldens(out):
    g = torch.Generator().manual_seed(20261207)
    torch.manual_seed(13)

    calib = photo_like(g, 48, 57, 71)
    cand = photo_like(g, 16, 57, 71)
    first = DenseNet(growth_rate=4, block_config=(2, 3, 2, 2), num_init_features=8,
                     bn_size=4, num_classes=10)
    tiny_goldens(out, "tiny_densenet_io.safetensors", [
        ("tiny_densenet", "F16", first, None),
        ("tiny_densenet_legacy", "BF16",
         DenseNet(growth_rate=6, block_config=(1, 2, 3, 2), num_init_features=12,
                  bn_size=2, num_classes=7), legacy),
    ], g, calib, cand, head="classifier")

    # the first tiny model with 1000 classes (ImageNet-1K's order), large
    # weights so that it is confident, as a real network is
    feats = first.classifier.in_features
    gen = torch.Generator().manual_seed(20261208)
    tensors = [(n, t, d) for n, t, d in model_tensors(first, "F16")
               if not n.startswith("classifier.")]
    tensors.append(("classifier.weight",
                    torch.randn(1000, feats, generator=gen) * 3.0 / feats ** 0.5, "F16"))
    tensors.append(("classifier.bias", torch.randn(1000, generator=gen) * 0.1, "F16"))
    write_safetensors(os.path.join(out, "tiny_densenet_1k.safetensors"), tensors)


if __name__ == "__main__":
    main(make_goldens, check_live,
         ["densenet121", "densenet161", "densenet169", "densenet201"])
