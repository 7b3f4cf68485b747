#!/usr/bin/env python3
"""make_demo_model.py — the small classifier the built-in example runs: the
tiny torchvision-style ResNet of tests/golden/tiny_basic.safetensors with a
1000-way final layer (ImageNet-1K's logit order), so the whole pipeline
(score, select, export, eval) works on the example without downloading
ResNet-50. Its answers are those of a random network: it exists to exercise
the pipeline, not to classify. Deterministic: the same file every time.
Usage: make_demo_model.py [IN=tests/golden/tiny_basic.safetensors] [OUT=examples/demo-model.safetensors] [SEED]
SEED (default 20261129, the bundled model's) makes another such random model,
e.g. a second model for tests that evaluate several."""
import json
import random
import struct
import sys

src = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/tiny_basic.safetensors"
out = sys.argv[2] if len(sys.argv) > 2 else "examples/demo-model.safetensors"

raw = open(src, "rb").read()
hlen = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + hlen])
body = raw[8 + hlen:]

tensors = {}
for name, t in header.items():
    if name == "__metadata__" or name.startswith("fc."):
        continue
    a, b = t["data_offsets"]
    tensors[name] = (t["dtype"], t["shape"], body[a:b])

features = header["fc.weight"]["shape"][1]
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 20261129)
# Large weights make the random network confident, as a real one is.
w = [rng.gauss(0.0, 3.0 / features ** 0.5) for _ in range(1000 * features)]
bias = [rng.gauss(0.0, 0.1) for _ in range(1000)]
tensors["fc.weight"] = ("F32", [1000, features], struct.pack("<%df" % len(w), *w))
tensors["fc.bias"] = ("F32", [1000], struct.pack("<1000f", *bias))

meta = {"__metadata__": {"natadv": "demo model: tiny random ResNet, 1000 classes; not a real classifier"}}
offset = 0
data = b""
for name in sorted(tensors):
    dtype, shape, blob = tensors[name]
    meta[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
    offset += len(blob)
    data += blob
h = json.dumps(meta, separators=(",", ":")).encode()
h += b" " * (-len(h) % 8)
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + data)
print("wrote %s (%d bytes)" % (out, 8 + len(h) + len(data)))
