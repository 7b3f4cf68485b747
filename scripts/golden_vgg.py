#!/usr/bin/python3
# golden_vgg.py — natadv's VGG against PyTorch/torchvision. Run with Debian's
# python3 (python3-torch, python3-torchvision):
#     /usr/bin/python3 scripts/golden_vgg.py [OUTDIR]      (default tests/golden)
# writes the unit tests' goldens (tests/unit/test_vgg.c):
#   tiny_vgg_tv.safetensors       vgg11's layout (1,1,2,2,2 convs per stage)
#                                 with narrow widths and a small classifier,
#                                 torchvision's names, F16 weights
#   tiny_vgg_timm_bn.safetensors  the same with batch norm, in timm's
#                                 vgg11_bn.tv_in1k names (pre_logits.fc1 as a
#                                 [hidden, C, 7, 7] conv, pre_logits.fc2
#                                 [hidden, hidden, 1, 1], head.fc), BF16
#   tiny_vgg_io.safetensors       input [2, 3, 96, 128] (F16) and both
#                                 models' logits: 3x4 features, so the
#                                 adaptive pooling to 7x7 does real work
# and, for make check-pytorch,
#     /usr/bin/python3 scripts/golden_vgg.py --check BINARY [vgg11 vgg16_bn ...]
# makes each full-size torchvision VGG with seeded weights (batch norm
# calibrated), saves it in /tmp in both layouts, runs `BINARY --logits MODEL
# IO OUT` (tests/unit/test_vgg.c) on each and applies the agreement rules of
# agree() to natadv's logits against PyTorch's.
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models import vgg as tv_vgg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_common import (ROOT, a_classes, calibrate, check_result, live_inputs,  # noqa: E402
                           main, photo_like, read_safetensors, report, round_model,
                           state_tensors, write_safetensors)

ARCHS = ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn",
         "vgg19", "vgg19_bn"]


class TimmVGG(nn.Module):
    """timm's VGG forward (timm/models/vgg.py: ConvMlp + ClassifierHead),
    with its module names, for the timm layout's reference logits."""

    def __init__(self, features, cin, hidden, classes):
        super().__init__()
        self.features = features
        self.pre_logits = nn.Module()
        self.pre_logits.fc1 = nn.Conv2d(cin, hidden, 7)
        self.pre_logits.fc2 = nn.Conv2d(hidden, hidden, 1)
        self.head = nn.Module()
        self.head.fc = nn.Linear(hidden, classes)

    def forward(self, x):
        x = self.features(x)
        if x.shape[-2] < 7 or x.shape[-1] < 7:
            x = F.adaptive_avg_pool2d(x, (max(7, x.shape[-2]), max(7, x.shape[-1])))
        x = F.relu(self.pre_logits.fc1(x))
        x = F.relu(self.pre_logits.fc2(x))
        x = x.mean((2, 3))
        return self.head.fc(x)


def to_timm(state):
    """timm's checkpoint_filter_fn for VGG: classifier.0/3/6 renamed, the
    first two reshaped into convolutions."""
    out = {}
    for k, v in state.items():
        if k.startswith("classifier.0."):
            k = "pre_logits.fc1." + k.split(".")[-1]
            if k.endswith("weight"):
                v = v.reshape(v.shape[0], -1, 7, 7)
        elif k.startswith("classifier.3."):
            k = "pre_logits.fc2." + k.split(".")[-1]
            if k.endswith("weight"):
                v = v.reshape(v.shape[0], v.shape[1], 1, 1)
        elif k.startswith("classifier.6."):
            k = "head.fc." + k.split(".")[-1]
        out[k] = v
    return out


def timm_twin(model, cin, hidden, classes):
    twin = TimmVGG(model.features, cin, hidden, classes)
    twin.load_state_dict(to_timm(model.state_dict()))
    return twin.eval()


def tiny_model(bn):
    """vgg11's layout with narrow widths and a small classifier."""
    cfg = [4, "M", 8, "M", 12, 16, "M", 16, 16, "M", 16, 16, "M"]
    model = tv_vgg.VGG(tv_vgg.make_layers(cfg, batch_norm=bn), num_classes=10)
    model.classifier = nn.Sequential(
        nn.Linear(16 * 7 * 7, 32), nn.ReLU(True), nn.Dropout(),
        nn.Linear(32, 32), nn.ReLU(True), nn.Dropout(), nn.Linear(32, 10))
    return model


def tiny(bn, g, calib):
    model = tiny_model(bn)
    calibrate(model, g, calib, 16, head="classifier.6", spread=True)
    return model


def make_goldens(out):
    g = torch.Generator().manual_seed(20261207)
    torch.manual_seed(11)
    calib = photo_like(g, 32, 96, 128)
    x = photo_like(g, 2, 96, 128).to(torch.float16).to(torch.float32)
    tv = tiny(False, g, calib)
    round_model(tv, "F16")
    bn = tiny(True, g, calib)
    round_model(bn, "BF16")
    twin = timm_twin(bn, 16, 32, 10)
    with torch.no_grad():
        y_tv, y_timm = tv(x), twin(x)
        assert torch.allclose(y_timm, bn(x), atol=1e-5), "timm twin disagrees"
    report("tiny_vgg_tv", y_tv)
    report("tiny_vgg_timm_bn", y_timm)
    write_safetensors(os.path.join(out, "tiny_vgg_tv.safetensors"),
                      state_tensors(tv.state_dict(), "F16"))
    write_safetensors(os.path.join(out, "tiny_vgg_timm_bn.safetensors"),
                      state_tensors(to_timm(bn.state_dict()), "BF16"))
    write_safetensors(os.path.join(out, "tiny_vgg_io.safetensors"),
                      [("input", x, "F16"), ("logits.tiny_vgg_tv", y_tv, "F32"),
                       ("logits.tiny_vgg_timm_bn", y_timm, "F32")])


def agree(tag, got, want, sub):
    """The agreement rules, image by image: the same top-5 set; the same
    argmax over ImageNet-A's 200 classes; no clear top-1 flip (a different
    top-1 only where PyTorch's top two are within 1e-3 of each other in
    probability); top-5 probabilities within 2% relative."""
    pg, pw = torch.softmax(got, 1), torch.softmax(want, 1)
    bad = 0
    for i in range(len(want)):
        t5g, t5w = set(pg[i].topk(5).indices.tolist()), pw[i].topk(5).indices.tolist()
        a200 = (got[i, sub].argmax().item(), want[i, sub].argmax().item())
        p = pw[i].topk(2).values
        flip = pg[i].argmax().item() != t5w[0] and (p[0] - p[1]).item() > 1e-3
        rel = max(abs(pg[i, j] - pw[i, j]).item() / pw[i, j].item() for j in t5w)
        ok = t5g == set(t5w) and a200[0] == a200[1] and not flip and rel <= 0.02
        bad += not ok
        print(f"  {tag}[{i}]: top-5 {'same' if t5g == set(t5w) else 'DIFFERENT'}, "
              f"200-class argmax {a200[0]} vs {a200[1]}, top-1 "
              f"{'flip' if flip else 'kept'}, top-5 prob rel diff {rel:.2e}: "
              f"{'ok' if ok else 'FAIL'}")
    return bad


def check_sizes(binary, tmp):
    """The tiny goldens on inputs whose features are larger than 7x7 or of
    mixed sizes: torchvision's adaptive pool averages, timm's ConvMlp runs
    fc1 as a convolution and pools after fc2. Max |logit diff| must stay
    within 1e-4 of the max |logit|."""
    import subprocess

    bad = 0
    g = torch.Generator().manual_seed(9)
    for name, bn in (("tiny_vgg_tv", False), ("tiny_vgg_timm_bn", True)):
        path = os.path.join(ROOT, "tests", "golden", name + ".safetensors")
        model = tiny_model(bn)
        ref = TimmVGG(model.features, 16, 32, 10) if bn else model
        ref.load_state_dict(read_safetensors(path))
        ref.eval()
        for h, w in ((320, 288), (100, 260), (480, 352)):
            x = photo_like(g, 2, h, w)
            with torch.no_grad():
                want = ref(x).numpy()
            io, out = os.path.join(tmp, "sizes.safetensors"), os.path.join(tmp, "sizes.f32")
            write_safetensors(io, [("input", x, "F32")])
            subprocess.run([binary, "--logits", path, io, out], check=True, capture_output=True)
            got = np.fromfile(out, dtype="<f4").reshape(want.shape)
            rel = np.abs(got - want).max() / np.abs(want).max()
            bad += rel > 1e-4
            print(f"  {name} at {h}x{w}: max |logit diff| {rel:.1e} of max |logit|: "
                  f"{'ok' if rel <= 1e-4 else 'FAIL'}")
    return bad


def check_live(binary, archs):
    import subprocess

    sub = a_classes()
    g, calib, x = live_inputs(16)
    failed = []
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        if check_sizes(binary, tmp):
            failed.append("input sizes")
        io = os.path.join(tmp, "io.safetensors")
        write_safetensors(io, [("input", x, "F32")])
        for arch in archs:
            torch.manual_seed(0)
            model = getattr(tv_vgg, arch)()
            calibrate(model, g, calib, 4, head="classifier.6", spread=True)
            twin = timm_twin(model, 512, 4096, 1000)
            with torch.no_grad():
                want = model(x)
                want_timm = twin(x)
            report(arch, want)
            for layout, state, ref in (("torchvision", model.state_dict(), want),
                                       ("timm", to_timm(model.state_dict()), want_timm)):
                path = os.path.join(tmp, f"{arch}.{layout}.safetensors")
                out = os.path.join(tmp, "logits.f32")
                write_safetensors(path, state_tensors(state, "F32"))
                rc = subprocess.run([binary, "--logits", path, io, out]).returncode
                os.unlink(path)
                if rc:
                    failed.append(f"{arch}({layout})")
                    continue
                got = torch.from_numpy(np.fromfile(out, dtype="<f4").reshape(ref.shape))
                if agree(f"{arch} {layout}", got, ref, sub):
                    failed.append(f"{arch}({layout})")
    return check_result("check-pytorch vgg", failed)


if __name__ == "__main__":
    main(make_goldens, check_live, ARCHS)
