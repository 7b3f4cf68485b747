#!/usr/bin/env bash
# startup.sh — start-up of `natadv classify` of one photo with full-size
# ResNet-50 weights (torchvision's resnet50, seed 0, made by
# bench/score_peers.py), start to exit: the first run loads, folds and packs
# the weights and writes the packed-weights cache; the second maps the cache.
# Prints wall time and peak RSS of each run (min and median of RUNS pairs),
# the cache's size, and `uptime` (the machine is shared). Not part of
# `make test`; the target (issue 13) is second run <= 0.5 s.
# Usage: bash bench/startup.sh   (RUNS=N pairs, default 5; CACHE=DIR keeps
#        the weights between runs, default /tmp/natadv-bench-cache)
set -eu
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
PY=/usr/bin/python3 # Debian's: python3-torch, python3-torchvision, python3-pil
CACHE=${CACHE:-/tmp/natadv-bench-cache}
W=$(mktemp -d /tmp/natadv-startup.XXXXXX)
trap 'rm -rf "$W"' EXIT
log() { echo "$*" >&2; }

make -s MODE=rel natadv
mkdir -p "$CACHE"
WT=$CACHE/weights
if [ ! -f "$WT/resnet50.safetensors" ]; then
	log "making ResNet-50 weights (torchvision, seed 0) ..."
	rm -rf "$WT.tmp" && mkdir -p "$WT.tmp"
	$PY bench/score_peers.py weights "$WT.tmp" > "$W/weights.log" 2>&1 || { cat "$W/weights.log" >&2; exit 1; }
	mkdir -p "$WT" && mv "$WT.tmp"/* "$WT"/ && rmdir "$WT.tmp"
fi
MODEL=$WT/resnet50.safetensors
$PY -c "
from PIL import Image
import numpy as np
np.random.seed(0)
Image.fromarray((np.random.rand(480, 640, 3) * 255).astype('uint8')).save('$W/photo.jpg', quality=90)"

export XDG_CACHE_HOME=$W/xdg # the cache of a model file: \$XDG_CACHE_HOME/natadv; of a workspace's: its models/
run() { # LABEL [WORKSPACE NAME]: one classify, appends "seconds rss_kb cache-status" to $W/LABEL
	/usr/bin/time -f "%e %M" -o "$W/time" ./natadv -v -w "${2:-$W}" classify --model "${3:-$MODEL}" "$W/photo.jpg" \
		> /dev/null 2> "$W/err" || { cat "$W/err" >&2; exit 1; }
	echo "$(cat "$W/time") $(sed -n 's/.*cache: //p' "$W/err")" >> "$W/$1"
}
for _ in $(seq "$RUNS"); do
	rm -rf "$XDG_CACHE_HOME"
	run first
	run second
done
# the same model in a workspace: its id is the SHA-256, so no hashing at load
./natadv -q -w "$W/ws" init > /dev/null
./natadv -q -w "$W/ws" model add "$MODEL" --name r50 > /dev/null
for _ in $(seq "$RUNS"); do
	rm -f "$W"/ws/models/*.packed
	run ws-first "$W/ws" r50
	run ws-second "$W/ws" r50
done
stats() { # LABEL
	sort -n "$W/$1" | awk -v l="$1" '{t[NR]=$1; r[NR]=$2; s[NR]=$3}
		END {printf "%-9s classify: min %.2f s, median %.2f s, peak RSS %d MB (cache: %s)\n",
		     l, t[1], t[int((NR+1)/2)], r[int((NR+1)/2)]/1024, s[1]}'
}
stats first
stats second
stats ws-first
stats ws-second
echo "cache file: $(du -m "$XDG_CACHE_HOME"/natadv/*.packed | cut -f1) MB; weights $(du -m "$MODEL" | cut -f1) MB"
echo "load: $(uptime)"
