#!/usr/bin/env bash
# densenet.sh — natadv's DenseNet forward pass against onnxruntime-node 1.30
# on the same weights (torchvision densenet121, seed 0; ONNX export by
# Debian's PyTorch): batch 8 on 2 threads, with OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset, the two taking turns ROUNDS times. Prints each
# run's images/s and peak RSS, and natadv's ratio of the medians.
# Not part of `make test`. Usage: bash bench/densenet.sh [ARCH=densenet121]
#   (any torchvision arch natadv runs, e.g. vgg16; BATCH=8, ROUNDS=N, RUNS=N per measurement, CACHE=DIR as for bench/score.sh)
set -eu
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
ARCH=${1:-densenet121} ROUNDS=${ROUNDS:-3} RUNS=${RUNS:-5} BATCH=${BATCH:-8}
PY=/usr/bin/python3 # Debian's: python3-torch, python3-torchvision
CACHE=${CACHE:-/tmp/natadv-bench-cache}
W=$(mktemp -d /tmp/natadv-densenet.XXXXXX)
trap 'rm -rf "$W"' EXIT

scripts/install-deps.sh test
$PY -c 'import torchvision' 2> /dev/null ||
	{ echo "densenet.sh: needs Debian's python3-torch and python3-torchvision" >&2; exit 1; }
bench_forward_build "$W/forward_bench"
WT=$CACHE/weights
mkdir -p "$WT"
if [ ! -f "$WT/$ARCH.onnx" ]; then
	echo "making $ARCH weights (torchvision, seed 0) and its ONNX export ..." >&2
	$PY - "$ARCH" "$WT" <<'PY'
import os, sys, torch, torchvision
sys.path.insert(0, "scripts")
from golden_common import model_tensors, write_safetensors
arch, out = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
m = getattr(torchvision.models, arch)().eval()
write_safetensors(os.path.join(out, arch + ".safetensors.tmp"), model_tensors(m, "F32"))
torch.onnx.export(m, torch.zeros(1, 3, 224, 224), os.path.join(out, arch + ".onnx.tmp"),
                  opset_version=13, input_names=["input"], output_names=["logits"],
                  dynamic_axes={"input": {0: "n"}, "logits": {0: "n"}})
PY
	mv "$WT/$ARCH.safetensors.tmp" "$WT/$ARCH.safetensors"
	mv "$WT/$ARCH.onnx.tmp" "$WT/$ARCH.onnx"
fi
ORT=$CACHE/ort
bench_ort_install "$ORT"

# each prints "images_per_s_median best maxrss_kb"
for r in $(seq 1 "$ROUNDS"); do
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$W/forward_bench" "$WT/$ARCH.safetensors" "$BATCH" "$RUNS" 2 \
		2> "$W/kernel" >> "$W/natadv"
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE NODE_PATH="$ORT/node_modules" \
		node bench/ort_bench.js "$WT/$ARCH.onnx" "$BATCH" "$RUNS" >> "$W/ort"
	echo "round $r: natadv $(tail -1 "$W/natadv"), onnxruntime $(tail -1 "$W/ort")" >&2
done
sed -n "s/^forward_bench: /natadv: /p" "$W/kernel" >&2
median() { cut -d' ' -f1 "$1" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
rss() { cut -d" " -f3 "$1" | sort -g | tail -1; }
n=$(median "$W/natadv") o=$(median "$W/ort")
printf '%s forward, batch %s, 2 threads: natadv %s img/s (peak RSS %d MB), onnxruntime %s img/s (%d MB): %.2fx\n' \
	"$ARCH" "$BATCH" "$n" $(($(rss "$W/natadv") / 1024)) "$o" $(($(rss "$W/ort") / 1024)) "$(awk -v a="$n" -v b="$o" 'BEGIN {print a / b}')"
