#!/usr/bin/env bash
# rebuild.sh — `natadv rebuild --manifest` end to end over loopback: a
# manifest written from a crawled workspace is rebuilt into fresh
# workspaces (all the same, exit 0, the selection and reviews recorded once),
# after a kill, with the server changed (changed + vanished, exit 3), and
# malformed or conflicting manifests are refused before anything is written.
. "$(dirname "$0")/lib.sh"

# The server's files live in a folder of our own, so the test can change them.
mkdir -p "$T/root"
cp "$FIX/chelsea_q90.jpg" "$FIX/coffee_q90.jpg" "$FIX/rocket.jpg" "$FIX/chelsea.png" "$T/root/"
"$TESTSRV" --port-file "$T/port" --root "$T/root" --log "$T/server.log" &
SRV_PID=$!
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.05; done
BASE="http://127.0.0.1:$(cat "$T/port")"

nat -q init
{
	printf 'url\twnid\tsource\tquery\tlicense\n'
	printf '%s/img/chelsea_q90.jpg\tn01498041\topenverse\tstingray\tcc-by-4.0\n' "$BASE"
	printf '%s/img/coffee_q90.jpg\tn01531178\topenverse\tgoldfinch\tcc0\n' "$BASE"
	printf '%s/img/rocket.jpg\tn01534433\tseeds\t\t\n' "$BASE"
	printf '%s/img/chelsea.png\tn01558993\tseeds\t\t\n' "$BASE"
} > "$T/seeds.tsv"
nat -q crawl --seeds "$T/seeds.tsv" --allow-private
check "crawl" 0 "$?"
CO=$(sql "SELECT image_hash FROM urls WHERE url LIKE '%coffee_q90.jpg'")
ROCKET=$(sql "SELECT image_hash FROM urls WHERE url LIKE '%rocket.jpg'")

# A release's manifest.jsonl (the export's format) and classes.tsv, from the
# workspace: set SET, urls through /img/ or PREFIX.
cat > "$T/mk.py" << 'EOF'
import json, os, sqlite3, sys
db, out, set_, prefix, tsv = sys.argv[1:6]
wnids = ["n01498041", "n01531178", "n01534433", "n01558993"]
folder = "imagenet-a" if set_ == "imagenet-a" else set_
con = sqlite3.connect(db)
rows = con.execute(
    "SELECT u.url, u.image_hash, t.wnid, i.sha256, i.bytes, i.width, i.height, i.format, t.source, q.query, "
    "t.license FROM urls u JOIN url_tags t ON t.url_id = u.id JOIN images i ON i.hash = u.image_hash "
    "LEFT JOIN queries q ON q.id = t.query_id").fetchall()
lines = []
for url, h, w, sha, size, width, height, fmt, source, query, lic in rows:
    label = wnids.index(w) if set_ != "imagenet-a" else [0, 1, 2, 3][wnids.index(w)]
    lines.append({
        "path": "%s/%s/%s.jpg" % (folder, w, h), "label": label, "wnid": w, "class_name": "x", "xxh128": h,
        "sha256": sha, "bytes": size, "width": width, "height": height,
        "converted": "png->jpeg q=95" if fmt == "png" else None, "source_sha256": sha, "source_bytes": size,
        "source": source, "query": query, "url": url.replace("/img/", prefix), "final_url": url, "page_url": None,
        "license": lic, "license_raw": None, "author": None, "title": None, "fetched_at": "2026-01-01T00:00:00Z",
        "http_status": 200, "etag": None, "model": "tiny", "model_id": "0" * 64,
        "pred_wnid": wnids[(wnids.index(w) + 1) % 4], "pred_name": "y", "confidence": 0.9, "true_prob": 0.01,
        "selection_id": 1, "selection_rule": "misclassified", "review": "accept", "reviewer": "alice",
        "reviewed_at": "2026-01-01T00:00:00Z", "set": set_, "version": "1.0", "released_at": "2026-01-02T03:04:05Z"})
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "manifest.jsonl"), "w") as f:
    for l in sorted(lines, key=lambda l: l["path"]):
        f.write(json.dumps(l) + "\n")
if tsv == "tsv":
    with open(os.path.join(out, "classes.tsv"), "w") as f:
        f.write("label\twnid\tindex_1k\tname\n")
        for i, w in enumerate(wnids):
            f.write("%d\t%s\t%d\tx\n" % (i, w, i))
EOF
python3 "$T/mk.py" "$T/ws/natadv.db" "$T/rel" mini /img/ tsv
M=$T/rel/manifest.jsonl
check "manifest lines" 4 "$(wc -l < "$M")"

# sql2 WS QUERY: a query on another workspace.
sql2() { sqlite3 -batch -noheader "$T/$1/natadv.db" "$2"; }

# 1. Into a fresh workspace: every image the same.
"$NATADV" -w "$T/ws2" rebuild --manifest "$M" --allow-private > "$T/out" 2> "$T/err"
check "rebuild, all the same" 0 "$?"
check "one report line per manifest line" 4 "$(grep -c '^ *[0-9]  same  ' "$T/out")"
check_match "summary" "rebuilt 4 of 4 images of '$M': 4 same, 0 changed, 0 vanished, 0 pending" "$(cat "$T/err")"
check "the set, made from classes.tsv" "1|4|0,1,2,3" "$(sql2 ws2 "SELECT based_on IS NULL, (SELECT count(*) FROM class_set_members WHERE set_name = 'mini'),
  (SELECT group_concat(set_index) FROM (SELECT set_index FROM class_set_members WHERE set_name = 'mini' ORDER BY wnid))
  FROM class_sets WHERE name = 'mini'")"
check "the same images" "$(sql "SELECT group_concat(hash) FROM (SELECT hash FROM images ORDER BY hash)")" \
	"$(sql2 ws2 "SELECT group_concat(hash) FROM (SELECT hash FROM images ORDER BY hash)")"
check "provenance from the manifest" "openverse|stingray|cc-by-4.0|manifest.jsonl:1" \
	"$(sql2 ws2 "SELECT t.source, q.query, t.license, t.seed_ref FROM url_tags t JOIN queries q ON q.id = t.query_id
	             JOIN urls u ON u.id = t.url_id WHERE u.url LIKE '%chelsea_q90.jpg'")"
MSHA=$(sha256sum < "$M" | cut -d' ' -f1)
check "a selection with rule manifest" "mini|1|manifest|1|1|4" "$(sql2 ws2 "SELECT set_name, model_id IS NULL, rule,
  json_extract(params, '\$.manifest_sha256') = '$MSHA', finished_at IS NOT NULL, proposals FROM selections")"
check "proposals from the manifest" "4|4|0.9|0.01" "$(sql2 ws2 "SELECT count(*), sum(status = 'proposed'), max(confidence), max(true_prob) FROM proposals")"
check "the prediction kept" "n01531178" "$(sql2 ws2 "SELECT pred_wnid FROM proposals WHERE wnid = 'n01498041'")"
check "auto-accepted by rebuild" "4|accept|rebuild|auto" "$(sql2 ws2 "SELECT count(*), decision, reviewer, mode FROM review_state GROUP BY decision")"
check_match "the review names the manifest line" "^manifest.jsonl line 1: accepted by alice" "$(sql2 ws2 "SELECT reason FROM reviews ORDER BY id LIMIT 1")"
check "the selection is in force" 1 "$(sql2 ws2 "SELECT selection_id FROM current_selection WHERE set_name = 'mini'")"
check "the run recorded" "rebuild|0" "$(sql2 ws2 "SELECT command, status FROM runs ORDER BY id DESC LIMIT 1")"
check_match "audit names the manifest line" "seed line +manifest.jsonl:2" "$(NATADV_WORKSPACE=$T/ws2 "$NATADV" audit "$CO")"

# 2. Again: nothing new is fetched or recorded.
fetches=$(sql2 ws2 "SELECT count(*) FROM fetches")
"$NATADV" -w "$T/ws2" rebuild --manifest "$M" --allow-private --json > "$T/out" 2> "$T/err"
check "rebuild again" 0 "$?"
check "no new fetch" "$fetches" "$(sql2 ws2 "SELECT count(*) FROM fetches")"
check "one selection" "1|4|4" "$(sql2 ws2 "SELECT count(*), (SELECT count(*) FROM proposals), (SELECT count(*) FROM reviews) FROM selections")"
check_match "said so" "was recorded by an earlier run" "$(cat "$T/err")"
got=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["lines"], d["same"], d["changed"], d["vanished"], d["set"], d["version"], d["released_at"], d["selection_id"])
print(sorted(set(i["status"] for i in d["items"])), all(i["expected"] == i["got"] for i in d["items"]))' "$T/out")
check "json report" "4 4 0 0 mini 1.0 2026-01-02T03:04:05Z 1
['same'] True" "$got"

# 3. --out exports the rebuilt release.
"$NATADV" -w "$T/ws2" rebuild --manifest "$M" --allow-private --out "$T/release" > /dev/null 2> "$T/err"
check "--out exports" 0 "$?"
check "the release's images" 4 "$(find "$T/release/mini" -name '*.jpg' | wc -l)"
check "the export verifies" 0 "$("$NATADV" verify "$T/release" > /dev/null 2>&1; echo $?)"

# 4. Killed while fetching (each url answers after 1.5 s), then run again: it continues.
python3 "$T/mk.py" "$T/ws/natadv.db" "$T/slow" mini /slow/1500/ tsv
"$NATADV" -w "$T/ws3" rebuild --manifest "$T/slow/manifest.jsonl" --allow-private > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 200); do
	[ "$(sql2 ws3 "SELECT count(*) FROM urls" 2>/dev/null)" = 4 ] && break
	sleep 0.05
done
kill -9 "$pid"
wait "$pid" 2>/dev/null
check "killed with every url queued, none fetched" "4|0" "$(sql2 ws3 "SELECT count(*), sum(state = 'fetched') FROM urls")"
"$NATADV" -w "$T/ws3" rebuild --manifest "$T/slow/manifest.jsonl" --allow-private > "$T/out" 2> "$T/err"
check "run again after the kill" 0 "$?"
check "all the same" 4 "$(grep -c '  same  ' "$T/out")"
check "each url queued once" "4|4" "$(sql2 ws3 "SELECT count(*), count(DISTINCT url) FROM urls")"
check "one selection" 1 "$(sql2 ws3 "SELECT count(*) FROM selections")"
check "the killed run is unfinished" 1 "$(sql2 ws3 "SELECT count(*) FROM runs WHERE command = 'rebuild' AND finished_at IS NULL")"

# 5. imagenet-a without classes.tsv: the set exists, the release was partial.
python3 "$T/mk.py" "$T/ws/natadv.db" "$T/rel-a" imagenet-a /img/ none
"$NATADV" -w "$T/ws4" rebuild --manifest "$T/rel-a/manifest.jsonl" --allow-private > /dev/null 2> "$T/err"
check "imagenet-a" 0 "$?"
check_match "partial" "imagenet-a 1.0, 4 images of 4 classes, partial" "$(cat "$T/err")"
check "set untouched" 200 "$(sql2 ws4 "SELECT count(*) FROM class_set_members WHERE set_name = 'imagenet-a'")"
check "selection of imagenet-a" "imagenet-a|4" "$(sql2 ws4 "SELECT set_name, proposals FROM selections")"

# 6. Bad manifests: a message with the line number, nothing written.
runs=$(sql2 ws2 "SELECT count(*) FROM runs")
db_sum() { sql2 ws2 "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM urls), (SELECT count(*) FROM selections), (SELECT count(*) FROM class_sets)"; }
before=$(db_sum)
bad_manifest() { # NAME SED-EXPR: a copy of the good manifest, edited
	mkdir -p "$T/$1"
	cp "$T/rel/classes.tsv" "$T/$1/"
	sed "$2" "$M" > "$T/$1/manifest.jsonl"
}
bad_manifest bad-hash '3s/"xxh128": "[0-9a-f]*"/"xxh128": "zz"/'
bad_manifest bad-json '2s/^{/[/'
bad_manifest bad-wnid '4s/"pred_wnid": "n[0-9]*"/"pred_wnid": "n99999999"/'
bad_manifest bad-dup '2{p}'
bad_manifest bad-set '3s/"set": "mini"/"set": "other"/'
bad_manifest bad-time '1,$s/"released_at": "[^"]*"/"released_at": "yesterday"/'
bad_manifest bad-url '2s#"url": "http://#"url": "ftp://#'
for t in "bad-hash|line 3: 'xxh128' is not 32 lower-case hex digits" "bad-json|line 2: not JSON" \
         "bad-wnid|line 4: unknown pred_wnid 'n99999999'" "bad-dup|line 3: the same path as line 2" \
         "bad-set|line 3: 'set' is 'other', line 1 says 'mini'" "bad-time|line 1: 'released_at' is not a UTC time" \
         "bad-url|line 2: 'url': "; do
	name=${t%%|*}
	"$NATADV" -w "$T/ws2" rebuild --manifest "$T/$name/manifest.jsonl" --allow-private > "$T/out" 2> "$T/err"
	check "$name: refused" 1 "$?"
	check_match "$name: message" "cannot read '$T/$name/manifest.jsonl' $(printf '%s' "${t#*|}" | sed 's/[][()]/\\&/g')" "$(cat "$T/err")"
	check "$name: nothing on stdout" "" "$(cat "$T/out")"
done
check "the workspace untouched" "$before" "$(db_sum)"
"$NATADV" -w "$T/ws-new" rebuild --manifest "$T/bad-hash/manifest.jsonl" --allow-private 2> /dev/null
check "a bad manifest makes no workspace" "1|no" "$?|$([ -e "$T/ws-new" ] && echo yes || echo no)"
# A set that exists with other labels.
mkdir -p "$T/bad-labels"
sed -e 's/"label": 0,/"label": 9,/' "$M" > "$T/bad-labels/manifest.jsonl"
sed -e 's/^0\t/9\t/' "$T/rel/classes.tsv" > "$T/bad-labels/classes.tsv"
"$NATADV" -w "$T/ws2" rebuild --manifest "$T/bad-labels/manifest.jsonl" --allow-private 2> "$T/err"
check "a set with other labels" 1 "$?"
check_match "named" "class set 'mini' exists with 'n01498041' at label 0, not 9" "$(cat "$T/err")"
check "the workspace still untouched" "$before" "$(db_sum)"
# A line whose label disagrees with classes.tsv.
mkdir -p "$T/bad-tsv"
sed -e 's/^1\t/7\t/' "$T/rel/classes.tsv" > "$T/bad-tsv/classes.tsv"
cp "$M" "$T/bad-tsv/"
"$NATADV" -w "$T/ws2" rebuild --manifest "$T/bad-tsv/manifest.jsonl" 2> "$T/err"
check "label against classes.tsv" 1 "$?"
check_match "named with its line" "line 2: class 'n01531178' has label 1, .*classes.tsv says 7" "$(cat "$T/err")"
"$NATADV" -w "$T/ws2" rebuild 2> /dev/null
check "no --manifest" 2 "$?"
"$NATADV" -w "$T/ws2" rebuild --manifest "$T/none.jsonl" 2> "$T/err"
check "a missing manifest" 1 "$?"
check_match "said" "cannot open '$T/none.jsonl'" "$(cat "$T/err")"

# 7. The server changed: one url gives other bytes, one is gone.
cp "$FIX/chelsea_prog.jpg" "$T/root/coffee_q90.jpg"
rm "$T/root/rocket.jpg"
"$NATADV" -w "$T/ws5" rebuild --manifest "$M" --allow-private > "$T/out" 2> "$T/err"
check "changed and vanished: exit 3" 3 "$?"
check_match "changed, old and new hash" "  changed   mini/n01531178/$CO.jpg  $BASE/img/coffee_q90.jpg: was $CO, now [0-9a-f]{32}" "$(cat "$T/out")"
check_match "vanished, with the fetch error" "  vanished  mini/n01534433/$ROCKET.jpg  $BASE/img/rocket.jpg: HTTP 404$" "$(cat "$T/out")"
check "the others the same" 2 "$(grep -c '  same  ' "$T/out")"
check_match "summary" "2 same, 1 changed, 1 vanished, 0 pending" "$(cat "$T/err")"
check_match "no release possible" "the release cannot be reproduced" "$(cat "$T/err")"
check "no selection recorded" 0 "$(sql2 ws5 "SELECT count(*) FROM selections")"
"$NATADV" -w "$T/ws5" rebuild --manifest "$M" --allow-private --json 2> /dev/null > "$T/out"
check "json: exit 3 too" 3 "$?"
got=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["same"], d["changed"], d["vanished"])
print(sorted((i["status"], i["http_status"] if "http_status" in i else None, i["got"] is None) for i in d["items"] if i["status"] != "same"))' "$T/out")
check "json: changed and vanished" "2 1 1
[('changed', 200, False), ('vanished', 404, True)]" "$got"
check_blobs
# and in every rebuilt workspace
for w in ws2 ws3 ws4 ws5; do
	check_blobs "$T/$w"
done
finish
