#!/usr/bin/env bash
# vgg_bench.sh — VGG-16's forward pass alone, natadv (bench/forward_bench.c)
# taking turns with onnxruntime-node 1.30 (bench/ort_bench.js) on the same torchvision
# weights (seed 0) and its ONNX export, batch BATCH on 2 threads, with each
# one's peak RSS; then both on the same 4 random images: max |logit diff| of
# the max |logit| and the top-5 order. Weights and onnxruntime-node are kept
# in CACHE.
# Usage: bench/vgg_bench.sh [BATCH=8] [RUNS=5]
set -eu
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
BATCH=${1:-8}
RUNS=${2:-5}
CACHE=${CACHE:-/tmp/natadv-bench-cache}
PY=/usr/bin/python3
ORT=$CACHE/ort
WT=$CACHE/weights
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
bench_forward_build "$W/forward_bench"
bench_ort_install "$ORT"
if [ ! -f "$WT/vgg16.onnx" ]; then
	echo "making VGG-16 weights (torchvision, seed 0) and its ONNX export ..." >&2
	mkdir -p "$WT"
	$PY bench/score_peers.py weights "$W" vgg16 >&2
	mv "$W/vgg16.safetensors" "$W/vgg16.onnx" "$WT/"
fi
# the two take turns ROUNDS times (bench/densenet.sh): a change of load between
# them then skews no single ratio
ROUNDS=${ROUNDS:-3} RUNS=$RUNS BATCH=$BATCH CACHE=$CACHE bash bench/densenet.sh vgg16
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
$PY - "$W" <<'PY'
import sys
import numpy as np
np.random.default_rng(3).standard_normal((4, 3, 224, 224), dtype=np.float32).tofile(sys.argv[1] + "/in.f32")
PY
"$W/forward_bench" "$WT/vgg16.safetensors" --logits "$W/in.f32" 4 "$W/natadv.f32"
NODE_PATH="$ORT/node_modules" node bench/ort_bench.js "$WT/vgg16.onnx" --logits "$W/in.f32" 4 "$W/ort.f32"
$PY - "$W" <<'PY'
import sys
import numpy as np
a = np.fromfile(sys.argv[1] + "/natadv.f32", dtype="<f4").reshape(4, -1)
b = np.fromfile(sys.argv[1] + "/ort.f32", dtype="<f4").reshape(4, -1)
same = all((np.argsort(-x)[:5] == np.argsort(-y)[:5]).all() for x, y in zip(a, b))
print("agreement natadv/onnxruntime on 4 random inputs: max |logit diff| %.1e of max |logit|, top-5 order %s"
      % (np.abs(a - b).max() / np.abs(b).max(), "identical" if same else "DIFFERENT"))
PY
