#!/usr/bin/env bash
# fast_decode.sh — `classify --fast` and `score --fast` against the exact
# decode, with the demo model (examples/demo-model.safetensors: ImageNet-1K's
# 1000 outputs, random weights, so its answers are a sensitive fingerprint of
# the input, not a classification) on the nine JPEG fixtures: the same top-1
# and the same imagenet-a argmax on at least 8 of the 9 (9 measured), the
# top-1 probability within 0.06 (0.032 measured), some answer changed (the
# fast path is taken); PNGs give the same answer both ways. README states the
# bounds; tests/unit/test_fast_decode.c bounds the pixels themselves.
. "$(dirname "$0")/lib.sh"
DEMO=$ROOT/examples/demo-model.safetensors
JPEGS="chelsea_q90 chelsea_prog chelsea_gray chelsea_cmyk chelsea_ycck coffee_q90 coffee_prog444 rocket hubble_deep_field"
PNGS="chelsea coffee"
files() { for f in $JPEGS; do printf '%s\n' "$FIX/$f.jpg"; done; for f in $PNGS; do printf '%s\n' "$FIX/$f.png"; done; }
mapfile -t FILES < <(files)

# compare EXACT FAST: "agree-top1 agree-subset max-dprob changed png-same" over
# lines of "key pred prob subset" (the first 9 lines JPEGs, then the PNGs)
compare() {
	python3 - "$1" "$2" << 'EOF'
import sys
def rows(p):
    return [l.split() for l in open(p) if l.strip()]
e, f = rows(sys.argv[1]), rows(sys.argv[2])
assert len(e) == len(f) == 11 and [r[0] for r in e] == [r[0] for r in f], (len(e), len(f))
j = list(zip(e[:9], f[:9]))
top1 = sum(a[1] == b[1] for a, b in j)
sub = sum(a[3] == b[3] for a, b in j)
dp = max(abs(float(a[2]) - float(b[2])) for a, b in j)
changed = sum(a[2] != b[2] for a, b in j)
png = all(a == b for a, b in zip(e[9:], f[9:]))
print(top1, sub, "%.4f" % dp, changed, png)
EOF
}
# judge DESCRIPTION "top1 sub dp changed png"
judge() {
	read -r top1 sub dp changed png <<< "$2"
	echo "$1: top-1 $top1/9, imagenet-a argmax $sub/9, max top-1 prob change $dp, $changed changed" >&2
	check "$1: the same top-1 on at least 8 of 9 JPEGs" 1 "$(( ${top1:-0} >= 8 ))"
	check "$1: the same imagenet-a argmax on at least 8 of 9" 1 "$(( ${sub:-0} >= 8 ))"
	check "$1: top-1 probability within 0.06" 1 "$(python3 -c "print(int(0 <= float('${dp:-9}') <= 0.06))")"
	check "$1: the fast path changed some answer" 1 "$(( ${changed:-0} >= 1 ))"
	check "$1: PNGs answer the same" True "$png"
}

# ---- classify ----
cls() { # ARGS...: "file top1 prob subset" lines of classify --json
	"$NATADV" classify --model "$DEMO" --json "$@" "${FILES[@]}" | python3 -c '
import json, sys
for l in sys.stdin:
    d = json.loads(l)
    print(d["path"].rsplit("/", 1)[1], d["top5"][0]["index"], d["top5"][0]["prob"], d["subset"]["index"])'
	return "${PIPESTATUS[0]}"
}
cls > "$T/c-exact"
check "classify" 0 "$?"
cls --fast > "$T/c-fast"
check "classify --fast" 0 "$?"
judge "classify --fast" "$(compare "$T/c-exact" "$T/c-fast")"

# ---- score: the same images crawled, scored both ways ----
start_server
{
	printf 'url\twnid\n'
	for f in "${FILES[@]}"; do printf '%s/img/%s\tn01498041\n' "$BASE" "${f##*/}"; done
} > "$T/seeds.tsv"
nat -q init
nat -q crawl --seeds "$T/seeds.tsv" --allow-private
check "images crawled" 11 "$(sql 'SELECT count(*) FROM images')"
nat -q model add "$DEMO" --name demo
cp -a "$T/ws" "$T/ws-fast"
nat -q score --model demo
check "score" 0 "$?"
"$NATADV" -w "$T/ws-fast" -q score --model demo --fast
check "score --fast" 0 "$?"
# "file pred prob subset" in the order of FILES, from a workspace's database
scored() {
	for f in "${FILES[@]}"; do
		sqlite3 -batch -separator ' ' "$1/natadv.db" "SELECT '${f##*/}', s.pred_1k, printf('%.6g', s.prob_1k),
			(SELECT set_index FROM class_set_members WHERE set_name = 'imagenet-a' AND wnid = s.pred_subset_wnid)
			FROM scores s JOIN urls u ON u.image_hash = s.image_hash WHERE u.url LIKE '%/img/${f##*/}'"
	done
}
scored "$T/ws" > "$T/s-exact"
scored "$T/ws-fast" > "$T/s-fast"
judge "score --fast" "$(compare "$T/s-exact" "$T/s-fast")"
check "score records which decode" "0 11|1 11" \
	"$(sql "SELECT fast_decode, count(*) FROM scores" | tr '|' ' ')|$(sqlite3 "$T/ws-fast/natadv.db" "SELECT fast_decode, count(*) FROM scores" | tr '|' ' ')"
# score and classify see the same input: the same answers, both ways
same() { # A B: the predictions agree and the probabilities within 1e-4
	python3 -c '
import sys
a = [l.split() for l in open(sys.argv[1])]
b = [l.split() for l in open(sys.argv[2])]
print(len(a) == len(b) == 11 and all(x[1] == y[1] and x[3] == y[3] and abs(float(x[2]) - float(y[2])) < 1e-4 for x, y in zip(a, b)))' "$1" "$2"
}
check "score agrees with classify" True "$(same "$T/s-exact" "$T/c-exact")"
check "score --fast agrees with classify --fast" True "$(same "$T/s-fast" "$T/c-fast")"
finish
