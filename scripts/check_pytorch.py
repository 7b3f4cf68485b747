#!/usr/bin/python3
"""check_pytorch.py — natadv against PyTorch end to end: for each architecture
named, a torchvision model (seed 0, batch-norm statistics calibrated on the
fixture photos so different images get different answers) is saved as
safetensors; then every fixture image goes through torchvision's eval
transform (PIL) + the model in PyTorch, and through `natadv classify --json`
(natadv's own decoding, PIL-exact resize and forward pass). The top-5 must be
identical and the probabilities within 1e-3 of each other.

Run with Debian's python3 (python3-torch, python3-torchvision, python3-pil):
    /usr/bin/python3 scripts/check_pytorch.py NATADV resnet18 resnet50 ...
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_common import model_tensors, write_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRANSFORM = transforms.Compose([
    transforms.Resize(256),
    transforms.CenterCrop(224),
    transforms.ToTensor(),
    transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
])


def main():
    natadv, archs = sys.argv[1], sys.argv[2:] or ["resnet18", "resnet50", "resnext50_32x4d"]
    files = sorted(glob.glob(os.path.join(ROOT, "tests", "fixtures", "*.jpg")) +
                   glob.glob(os.path.join(ROOT, "tests", "fixtures", "*.png")))
    images = [TRANSFORM(Image.open(p).convert("RGB")) for p in files]
    x = torch.stack(images)
    torch.set_num_threads(2)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for arch in archs:
            torch.manual_seed(0)
            model = getattr(torchvision.models, arch)()
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.reset_running_stats()
                    m.momentum = None
            model.train()
            with torch.no_grad():
                model(x)
            model.eval()
            path = os.path.join(tmp, arch + ".safetensors")
            write_safetensors(path, model_tensors(model, "F32"))
            with torch.no_grad():
                probs = torch.softmax(model(x), dim=1).numpy()
            out = subprocess.run([natadv, "classify", "--model", path, "--json"] + files,
                                 capture_output=True, text=True, check=True).stdout
            got = [json.loads(line) for line in out.splitlines()]
            worst, mismatches, classes = 0.0, 0, set()
            for i, (p, g) in enumerate(zip(files, got)):
                want = np.argsort(-probs[i], kind="stable")[:5]
                idx = [t["index"] for t in g["top5"]]
                dp = max(abs(t["prob"] - probs[i][t["index"]]) for t in g["top5"])
                worst = max(worst, dp)
                classes.add(idx[0])
                if idx != list(want) or dp > 1e-3:
                    mismatches += 1
                    print("  %s %s: natadv top-5 %s, pytorch %s, max prob diff %.2e" %
                          (arch, os.path.basename(p), idx, list(want), dp))
            print("%-16s %d images, %d distinct top-1, top-5 identical on %d, max |prob diff| %.2e: %s" %
                  (arch, len(files), len(classes), len(files) - mismatches, worst, "ok" if not mismatches else "FAIL"))
            failed += mismatches
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
