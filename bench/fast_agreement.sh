#!/usr/bin/env bash
# fast_agreement.sh — what `--fast` (libjpeg DCT-scaled JPEG decoding before
# the PIL-exact resize) costs in agreement with the exact path, which matches
# PyTorch's PIL preprocessing bit for bit: top-1 agreement, top-5 overlap
# and the largest change in the top-1 probability, plus the speed of both.
# Uses the ResNet-50 weights and photos bench/score.sh leaves in its cache.
# Usage: bench/fast_agreement.sh [PHOTOS_DIR] [N=100]
set -eu
cd "$(dirname "$0")/.."
CACHE=${CACHE:-/tmp/natadv-bench-cache}
WT=$CACHE/weights/resnet50.safetensors
DIR=${1:-$CACHE/photos-300}
N=${2:-100}
[ -f "$WT" ] && [ -d "$DIR" ] || { echo "run bench/score.sh first (needs $WT and $DIR)" >&2; exit 1; }
make -s MODE=rel natadv >&2
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
ls "$DIR"/*.jpg | head -n "$N" > "$W/list"
t0=$(date +%s.%N)
./natadv classify --model "$WT" --json --batch 8 $(cat "$W/list") > "$W/exact.jsonl"
t1=$(date +%s.%N)
./natadv classify --model "$WT" --json --batch 8 --fast $(cat "$W/list") > "$W/fast.jsonl"
t2=$(date +%s.%N)
/usr/bin/python3 - "$W/exact.jsonl" "$W/fast.jsonl" "$(echo "$t1 - $t0" | bc -l)" "$(echo "$t2 - $t1" | bc -l)" <<'PY'
import json, sys
exact = [json.loads(l) for l in open(sys.argv[1])]
fast = [json.loads(l) for l in open(sys.argv[2])]
n = len(exact)
top1 = sum(e["top5"][0]["index"] == f["top5"][0]["index"] for e, f in zip(exact, fast))
overlap = sum(len({x["index"] for x in e["top5"]} & {x["index"] for x in f["top5"]}) for e, f in zip(exact, fast)) / (5 * n)
sub = sum(e["subset"]["index"] == f["subset"]["index"] for e, f in zip(exact, fast))
dp = max(abs(e["top5"][0]["prob"] - f["top5"][0]["prob"]) for e, f in zip(exact, fast))
te, tf = float(sys.argv[3]), float(sys.argv[4])
print("fast decoding vs exact (= PyTorch's PIL path) on %d photos:" % n)
print("  top-1 agreement %d/%d (%.1f%%), imagenet-a argmax agreement %d/%d, top-5 overlap %.1f%%, max top-1 prob change %.4f"
      % (top1, n, 100.0 * top1 / n, sub, n, 100 * overlap, dp))
print("  exact %.1f photos/s, fast %.1f photos/s (%.2fx)" % (n / te, n / tf, te / tf))
PY
