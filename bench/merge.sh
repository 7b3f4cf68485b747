#!/bin/bash
# merge.sh — the speed of `natadv merge`, the command a user runs. merge_bench
# writes a workspace of IMAGES queued urls split into PARTS crawl parts, each
# "crawled" (one fetch and one new image, with its blob, per url) through the
# store's own calls. Then each round merges every part into a fresh copy of the
# workspace with `natadv -w COPY merge PARTS`, timed from start to exit (opening,
# staging, the one transaction, its commit and SQLite's checkpoint, closing).
# A first round warms the caches and is not counted (it is printed). Prints
# each round's images/s and the median; checks that every image came in
# and that every blob was hard-linked (two links: the part's and the
# workspace's), none copied. Target: >= 50,000 images/s.
#   bash bench/merge.sh [ROUNDS]     (5; IMAGES=200000 PARTS=64 in the environment)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
IMAGES=${IMAGES:-200000}
PARTS=${PARTS:-64}
make -s MODE=rel natadv build/rel/merge_bench
W=$(mktemp -d /tmp/natadv-merge-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
build/rel/merge_bench -n "$IMAGES" -p "$PARTS" -d "$W" -s
rates=()
for r in $(seq 0 "$ROUNDS"); do
	rm -rf "$W/copy"
	cp -a "$W/ws" "$W/copy"
	sync
	t0=$EPOCHREALTIME
	build/rel/natadv -w "$W/copy" merge "$W/parts" 2> "$W/merge.log"
	t1=$EPOCHREALTIME
	new=$(sed -n 's/.*images (\([0-9,]*\) new).*/\1/p' "$W/merge.log" | tr -d , | awk '{n += $1} END {print n + 0}')
	linked=$(find "$W/copy/objects" -type f -links 2 | wc -l)
	copied=$(find "$W/copy/objects" -type f -links 1 ! -path '*/tmp/*' | wc -l)
	rate=$(awk -v n="$new" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}')
	printf 'round %d%s: %d images merged in %.2f s: %s images/s; blobs %d linked, %d copied\n' \
		"$r" "$([ "$r" -eq 0 ] && echo ' (warm-up, not counted)')" "$new" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" "$rate" "$linked" "$copied"
	if [ "$new" -ne "$IMAGES" ] || [ "$linked" -ne "$IMAGES" ] || [ "$copied" -ne 0 ]; then
		echo "merge.sh: round $r merged $new of $IMAGES images, $linked blobs linked, $copied copied" >&2
		exit 1
	fi
	[ "$r" -eq 0 ] || rates+=("$rate")
done
median=$(printf '%s\n' "${rates[@]}" | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')
echo "merge: $IMAGES images from $PARTS parts: median $median images/s over $ROUNDS rounds (${rates[*]}); target >= 50000"
