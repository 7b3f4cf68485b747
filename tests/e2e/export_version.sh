#!/usr/bin/env bash
# export_version.sh — `natadv export --version V`: the version lands on every
# line of manifest.jsonl, in croissant.json and in the workspace's record of
# the release (audit shows it), verify accepts the release, the default is
# 1.0; a bad version (a space, a control character, more than 64 characters,
# non-ASCII, empty) is refused with its reason and writes nothing.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
A=n01498041   # stingray
B=n01531178   # goldfinch

start_server
{
	printf 'url\twnid\n'
	printf '%s/img/rocket.jpg\t%s\n' "$BASE" "$A"
	printf '%s/img/coffee_q90.jpg\t%s\n' "$BASE" "$B"
} > "$T/seeds.tsv"
nat -q init
nat -q crawl --seeds "$T/seeds.tsv" --allow-private
check "images crawled" 2 "$(sql 'SELECT count(*) FROM images')"
# the demo model gets both wrong over its 1000 outputs (a rifle, a pencil box)
demo_accept pair "$A,$B" 0.1
check "two accepted proposals" 2 "$(sql "SELECT count(*) FROM reviews WHERE decision = 'accept'")"

# json_field FILE KEY: KEY of every JSON line of FILE, one a line
json_field() {
	python3 -c 'import json, sys
for l in open(sys.argv[1]):
    print(json.loads(l)[sys.argv[2]])' "$1" "$2"
}

# ---- a version given ----
V=2.1-rc.1+build_7
nat -q export --set pair --out "$T/rel" --version "$V" --tar > /dev/null
check "export --version" 0 "$?"
check "every manifest line has the version" "$V
$V" "$(json_field "$T/rel/manifest.jsonl" version)"
check "croissant.json has it" "$V" "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$T/rel/croissant.json")"
check "the workspace records it" "pair|$V" "$(sql "SELECT set_name || '|' || version FROM releases ORDER BY id DESC LIMIT 1")"
hash=$(sql "SELECT image_hash FROM urls WHERE url LIKE '%rocket.jpg'")
check_match "audit shows the release with its version" "'pair' version ${V//+/\\+} released [0-9T:-]+Z: " "$(nat audit "$hash" | grep " version ")"
nat verify "$T/rel" > "$T/out" 2> /dev/null
check "verify the release" "0|" "$?|$(cat "$T/out")"
check "the tar keeps its name" "pair.tar" "$(cd "$T/rel" && ls *.tar)"

# ---- the default: 1.0 ----
nat -q export --set pair --out "$T/rel1" > /dev/null
check "export without --version" 0 "$?"
check "the manifest says 1.0" "1.0
1.0" "$(json_field "$T/rel1/manifest.jsonl" version)"
check "croissant.json says 1.0" "1.0" "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$T/rel1/croissant.json")"

# ---- bad versions: refused, nothing written ----
n=$(sql 'SELECT count(*) FROM releases')
long=$(printf 'v%.0s' $(seq 1 65))
i=0
for bad in "1 0" "$(printf '1\t0')" "$long" "é1" ""; do
	i=$((i + 1))
	nat export --set pair --out "$T/bad$i" --version "$bad" > /dev/null 2> "$T/err"
	check "bad version $i refused" 1 "$?"
	check_match "bad version $i: says why" "^natadv: cannot export 'pair': bad version '.*': 1 to 64 printable characters without spaces$" "$(cat "$T/err")"
	check "bad version $i: nothing written" "" "$(ls -A "$T" | grep "^\.*bad$i")"
done
check "bad versions: no release recorded" "$n" "$(sql 'SELECT count(*) FROM releases')"
nat -q export --set pair --out "$T/rel64" --version "${long:1}" > /dev/null
check "64 characters are fine" "0|${long:1}" "$?|$(sql "SELECT version FROM releases ORDER BY id DESC LIMIT 1")"
finish
