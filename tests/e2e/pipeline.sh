#!/usr/bin/env bash
# pipeline.sh — the whole pipeline of issue 4 over loopback, with the real
# commands only: the example's seed list (plus a few rows) → crawl → score
# with the demo model → a class set of the example's classes → select →
# review --auto-accept → export --tar → verify → audit of every release path
# → eval (the filter model on its own release: accuracy 0) → rebuild into a
# fresh workspace → the same tar SHA-256. (Tamper tests and the empty-class
# refusal are in export.sh.)
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
DEMO=$ROOT/examples/demo-model.safetensors
TABBY=n02123045 MISSILE=n03773504 SHUTTLE=n04266014 ESPRESSO=n07920052 CLIFF=n09246464
CLASSES="$TABBY,$MISSILE,$SHUTTLE,$ESPRESSO,$CLIFF"

start_server
sed "s#{BASE}#$BASE#g" "$ROOT/examples/seeds.tsv" > "$T/seeds.tsv"
check "the example's classes are the set's" "$(echo "$CLASSES" | tr , '\n')" \
	"$(tail -n +2 "$T/seeds.tsv" | cut -f2 | sort -u)"
# The demo model calls nearly every fixture a space shuttle among these five
# classes, so the example's shuttle (rocket.jpg) is no adversarial example:
# the example's two small cats seeded as shuttles, which it calls a missile
# and a cliff, are. Added here: two copies of chelsea_q90 with other bytes
# (the server's /gen/), to be collapsed. And a green image seeded for two
# classes, which it gets wrong for both: which one it is, is for a person to
# say, so the pipeline leaves it out.
{
	printf '%s/gen/1.jpg\t%s\texample\tBSD-3-Clause\tthe scikit-image team\t\n' "$BASE" "$TABBY"
	printf '%s/gen/2.jpg\t%s\texample\tBSD-3-Clause\tthe scikit-image team\t\n' "$BASE" "$TABBY"
	printf '%s/img/green_palette.png\t%s\texample\tBSD-3-Clause\tthe scikit-image team\t\n' "$BASE" "$MISSILE"
	printf '%s/img/green_palette.png\t%s\texample\tBSD-3-Clause\tthe scikit-image team\t\n' "$BASE" "$ESPRESSO"
} >> "$T/seeds.tsv"

# ---- crawl, score ----
nat -q init
nat crawl --seeds "$T/seeds.tsv" --allow-private --retry-base 0.1 2> "$T/err"
check "crawl: done, some urls failed or opted out (as the example intends)" 3 "$?"
check_match "summary" "crawled 15 of 15 urls: 12 images \(1 duplicates\), 1 failed, 2 opted out" "$(cat "$T/err")"
IMAGES=$(sql 'SELECT count(*) FROM images')
check "images" 11 "$IMAGES"
nat -q model add "$DEMO" --name demo
nat -q score --model demo
check "every image scored" "$IMAGES" "$(sql "SELECT count(*) FROM scores WHERE status = 'scored'")"

# ---- a class set, select, review ----
nat -q classes add-set fixtures --from none --add "$CLASSES"
check "class set" "$(echo "$CLASSES" | tr , '\n')" "$(nat classes --set fixtures | cut -f2)"
nat select --model demo --set fixtures --max-true-prob 0.25 > "$T/select.out" 2> "$T/err"
check "select" 0 "$?"
check "proposals per class, the copies collapsed" "$TABBY 1 3
$MISSILE 2 0
$SHUTTLE 1 1
$ESPRESSO 2 1
$CLIFF 1 0
total 7 5" "$(awk 'NR > 1 {print $1, $6, $7}' "$T/select.out")"
nat review --auto-accept --set fixtures > "$T/review.out" 2> "$T/err"
check "auto-accept" 0 "$?"
check_match "says how many" "auto-accepted 5 undecided proposals of selection 1 of 'fixtures'" "$(cat "$T/err")"
check_match "and what it left to a person" "note: 2 proposals left undecided: their image is proposed for another class too" "$(cat "$T/err")"
check "one review line per proposal" 5 "$(grep -c '	accept$' "$T/review.out")"
GREEN=$(sql "SELECT image_hash FROM urls WHERE url = '$BASE/img/green_palette.png'")
check_match "the green image's content key" '^[0-9a-f]{32}$' "$GREEN"
check "the green image's two proposals stay undecided" "undecided $MISSILE
undecided $ESPRESSO" "$(nat -q review --list --set fixtures | awk -v h="$GREEN" '$8 == h {print $2, $4}')"
nat review --auto-accept --set fixtures > "$T/review.out" 2> /dev/null
check "a second auto-accept finds nothing undecided" "0|5" "$?|$(sql 'SELECT count(*) FROM reviews')"

# ---- export, verify ----
REL=$T/rel
out=$(nat export --set fixtures --out "$REL" --tar 2> "$T/err")
check "export --tar" 0 "$?"
check_match "summary" "exported 5 images of 'fixtures'" "$(cat "$T/err")"
TAR=$(sha256sum < "$REL/fixtures.tar" | cut -d' ' -f1)
check "stdout: the tar's sha-256" "$TAR  $REL/fixtures.tar" "$out"
check "one image per class" "$(printf '%s 1\n' $(echo "$CLASSES" | tr , ' '))" \
	"$(cd "$REL/fixtures" && for d in n*; do echo "$d $(ls "$d" | wc -l)"; done)"
check "not the image of two classes" "" "$(find "$REL" -name "$GREEN.jpg")"
nat verify "$REL" > "$T/out" 2> "$T/err"
check "verify the folder" "0|" "$?|$(cat "$T/out")"
nat verify "$REL/fixtures.tar" > "$T/out" 2> "$T/err"
check "verify the tar" "0|" "$?|$(cat "$T/out")"

# ---- audit: every path of the release leads to its image and its history ----
PATHS=$(python3 -c 'import json, sys; [print(json.loads(l)["path"]) for l in open(sys.argv[1])]' "$REL/manifest.jsonl")
check "the manifest lists five files" 5 "$(printf '%s\n' "$PATHS" | grep -c '^fixtures/n[0-9]\{8\}/[0-9a-f]\{32\}\.jpg$')"
check "the manifest lists the files" "$(cd "$REL" && find fixtures -name '*.jpg' | sort)" "$PATHS"
bad=0
for p in $PATHS; do
	nat audit --json "$p" > "$T/audit.json" || { bad=$((bad + 1)); continue; }
	python3 - "$T/audit.json" "$REL/manifest.jsonl" "$p" "$TAR" > "$T/py.out" 2>&1 << 'EOF' || { bad=$((bad + 1)); cat "$T/py.out" >&2; }
import json, sys
d = json.load(open(sys.argv[1]))
m = {l["path"]: l for l in map(json.loads, open(sys.argv[2]))}[sys.argv[3]]
wnid = m["wnid"]
assert d["image"]["xxh128"] == m["xxh128"] == sys.argv[3].split("/")[-1][:-4], d["image"]
assert d["image"]["sha256"] == m["source_sha256"], d["image"]
assert any(t["wnid"] == wnid and t["url"] == m["url"] and t["license"] == m["license"] for t in d["tags"]), d["tags"]
f = [f for f in d["fetches"] if f["url"] == m["url"] and f["outcome"] == "image"]
assert f and f[0]["http_status"] == 200, d["fetches"]
s = [s for s in d["scores"] if s["model"] == "demo"]
assert s and s[0]["status"] == "scored" and s[0]["model_id"] == m["model_id"], d["scores"]
p = [p for p in d["selections"] if p["in_force"] and p["wnid"] == wnid]
assert len(p) == 1 and p[0]["status"] == "proposed" and p[0]["pred_wnid"] == m["pred_wnid"], d["selections"]
assert abs(p[0]["confidence"] - m["confidence"]) < 1e-6 and p[0]["selection_id"] == m["selection_id"], p
assert [(r["decision"], r["mode"], r["wnid"]) for r in d["reviews"]] == [("accept", "auto", wnid)], d["reviews"]
assert [(r["decision"], r["mode"]) for r in d["review_in_force"]] == [("accept", "auto")], d["review_in_force"]
r = [r for r in d["releases"] if r["path"] == sys.argv[3]]
assert len(r) == 1 and r[0]["set"] == "fixtures" and r[0]["tar_sha256"] == sys.argv[4], d["releases"]
assert r[0]["sha256"] == m["sha256"] and r[0]["converted"] == m["converted"], r
print("ok")
EOF
done
check "every release path audits to its image, fetch, score, selection, review and release" "0 of 5" "$bad of $(echo "$PATHS" | wc -l)"
p=$(echo "$PATHS" | grep "/$MISSILE/")
out=$(nat audit "$REL/$p")
check_match "human output: the file on disk, two tags, both urls" "^image $(basename "$p" .jpg).*n03773504 missile.*/same/b/rocket.jpg.*n04266014 space shuttle.*/img/rocket.jpg" "$(echo "$out" | tr '\n' ' ')"
check_match "the score" "demo \(resnet, [0-9a-f]+…\) at .*, run [0-9]+" "$out"
check_match "the selection" "selection 1 of 'fixtures', rule misclassified \(in force\)" "$out"
check_match "the review" "accept for 'fixtures' $MISSILE \(auto\)" "$out"
check_match "the release" "'fixtures' version 1.0 released [0-9T:-]+Z: $p" "$out"

# ---- eval: the filter model gets every image of its own release wrong ----
out=$(nat eval --model demo --json "$REL" 2> "$T/err")
check "eval" 0 "$?"
check "accuracy 0 on all 5 (too few for the calibration error)" "5 0 None" \
	"$(echo "$out" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["n"], d["accuracy"], d["rms_calibration_error"])')"

# ---- rebuild from the manifest into a fresh workspace: the same release ----
"$NATADV" -w "$T/ws2" rebuild --manifest "$REL/manifest.jsonl" --allow-private --out "$T/rel2" > "$T/out" 2> "$T/err"
check "rebuild" 0 "$?"
check "every image the same" 5 "$(grep -c '^ *[0-9]\+  same ' "$T/out")"
check "the same tar sha-256" "$TAR" "$(sha256sum < "$T/rel2/fixtures.tar" | cut -d' ' -f1)"
check_match "and says so" "tar sha256 $TAR \(the same as the manifest's release\)" "$(cat "$T/err")"
nat verify "$T/rel2" > "$T/out" 2> "$T/err"
check "the rebuilt release verifies" "0|" "$?|$(cat "$T/out")"
check "the rebuilt release's images are the same files" "$(cd "$REL" && sha256sum $PATHS)" "$(cd "$T/rel2" && sha256sum $PATHS)"
out=$("$NATADV" -w "$T/ws2" eval --model "$DEMO" --json "$T/rel2" 2> "$T/err")
check "eval of the rebuilt release with the model file: accuracy 0" "5 0" \
	"$(echo "$out" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["n"], d["accuracy"])')"
# blobs, integrity and foreign keys: of the source and of the rebuilt workspace
check_blobs "$T/ws"
check_blobs "$T/ws2"
finish
