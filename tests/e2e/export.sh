#!/usr/bin/env bash
# export.sh — natadv export and verify end to end: a workspace crawled from
# the fixtures and generated patterns over loopback, scored with the demo
# model, selected twice and reviewed with the real commands, then: the
# refusals (an image accepted for two classes, empty classes, an existing
# --out), two exports giving the same tar bytes, the release's layout and
# provenance, verify and its tamper tests (folder and tar), --force,
# --partial, and kill -9 during an export.
# NATADV_KEEP_RELEASE=DIR keeps the full and the partial release there (for
# scripts/check_export_torchvision.py, run by make check-pytorch).
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
DEMO=$ROOT/examples/demo-model.safetensors
A=n01498041   # stingray
B=n01531178   # goldfinch
C=n01534433   # junco
NPAT=150      # the server's /pattern/I.png: other pixels (and dHash) for every I

start_server
{
	printf 'url\twnid\tsource\tquery\tpage_url\tlicense\tauthor\n'
	printf '%s/img/rocket.jpg\t%s\tseeds\trocket launch\thttp://example.org/rocket\tcc-by-4.0\tNASA "JPL"\n' "$BASE" "$A"
	printf '%s/img/chelsea.png\t%s\tseeds\tcat\t\tcc0\t\n' "$BASE" "$B"
	printf '%s/img/chelsea_q90.jpg\t%s\tseeds\t\t\t\t\n' "$BASE" "$B"   # the same photo: dHash distance 4
	printf '%s/img/coffee_q90.jpg\t%s\tseeds\t\t\t\t\n' "$BASE" "$C"
	printf '%s/img/hubble_deep_field.jpg\t%s\tseeds\t\t\t\t\n' "$BASE" "$C"
	printf '%s/pattern/1000.png\t%s\tseeds\t\t\t\t\n' "$BASE" "$A"
	printf '%s/pattern/1000.png\t%s\tseeds\t\t\t\t\n' "$BASE" "$B"
	for i in $(seq 1 $NPAT); do
		case $((i % 3)) in 0) w=$A ;; 1) w=$B ;; *) w=$C ;; esac
		printf '%s/pattern/%d.png\t%s\tseeds\t\t\t\t\n' "$BASE" "$i" "$w"
	done
} > "$T/seeds.tsv"
nat -q init
nat -q crawl --seeds "$T/seeds.tsv" --allow-private
check "images crawled" $((NPAT + 6)) "$(sql 'SELECT count(*) FROM images')"
nat -q model add "$DEMO" --name demo
nat -q score --model demo
check "images scored" $((NPAT + 6)) "$(sql "SELECT count(*) FROM scores WHERE status = 'scored'")"

h() { sql "SELECT image_hash FROM urls WHERE url = '$BASE/$1'"; }
TWO=$(h pattern/1000.png)
ROCKET=$(h img/rocket.jpg)
PNG=$(h img/chelsea.png)
Q90=$(h img/chelsea_q90.jpg)
REJ=$(h pattern/4.png)
UNDONE=$(h pattern/7.png)
for v in TWO ROCKET PNG Q90 REJ UNDONE; do
	check_match "$v is a content key" '^[0-9a-f]{32}$' "${!v}"
done
# prop SELECTION HASH WNID: the proposal's id
prop() { sql "SELECT id FROM proposals WHERE selection_id = $1 AND image_hash = '$2' AND wnid = '$3'"; }

# ---- two selections and the reviews, with the real commands ----
# The demo model takes every image for a pencil box or a rifle, which no
# class of the set is: over all its outputs (--space 1k) every tag is wrong,
# with a confidence from 0.12 to 0.86.
nat -q classes add-set birds --from none --add "$A,$B"
nat -q classes add-set fixtures --from birds --add "$C"
# Selection 1: every tag; chelsea_q90 and chelsea.png (distance 4) both kept.
nat -q select --model demo --set fixtures --space 1k --min-confidence 0.1 --near-distance 3 > /dev/null
S1=$(sql "SELECT max(id) FROM selections")
check "selection 1: every tag proposed" "$((NPAT + 7))|0" \
	"$(sql "SELECT count(*) || '|' || sum(status = 'near_duplicate') FROM proposals WHERE selection_id = $S1")"
# An image is accepted for one class only (the review rule): alice accepts
# every id but TWO's for $B; that accept is then added by hand, as a
# workspace of an older natadv may hold it, which export must still refuse.
TWO_B=$(prop "$S1" "$TWO" $B)
NATADV_REVIEWER=alice nat -q review --accept $(nat -q review --list --set fixtures | cut -f1 | grep -vx "$TWO_B") > /dev/null
sql "INSERT INTO reviews(set_name, image_hash, wnid, proposal_id, decision, reviewer, mode, at)
     VALUES('fixtures', '$TWO', '$B', $TWO_B, 'accept', 'alice', 'cli', '2026-01-01T00:00:00Z')"
check "alice accepts them all" "$((NPAT + 7))" "$(sql "SELECT count(*) FROM review_state WHERE reviewer = 'alice'")"
# Selection 2, in force: a min confidence of 0.14 drops five patterns (their
# confidences are 0.116 to 0.131, the next one 0.151), and chelsea_q90 is
# collapsed into chelsea.png, which the model is more sure of. Their accepts
# stay in the log: export must leave them out by itself.
nat -q select --model demo --set fixtures --space 1k --min-confidence 0.14 > /dev/null
S2=$(sql "SELECT max(id) FROM selections")
DROPPED=$(sql "SELECT image_hash FROM proposals WHERE selection_id = $S1
               EXCEPT SELECT image_hash FROM proposals WHERE selection_id = $S2")
check "selection 2 drops five patterns" "5 $(h pattern/2.png)" "$(echo "$DROPPED" | wc -l) $(echo "$DROPPED" | grep -x "$(h pattern/2.png)")"
check "and collapses chelsea_q90 into chelsea.png" "near_duplicate|$(prop "$S2" "$PNG" $B)|4" \
	"$(sql "SELECT status || '|' || duplicate_of || '|' || distance FROM proposals WHERE selection_id = $S2 AND image_hash = '$Q90'")"
# A third selection that never finished: natadv select writes one in a single
# transaction, so only a crash of another writer could leave one; by hand.
# It proposes pattern/2 (accepted above): export must not use it.
sql "INSERT INTO selections(set_name, model_id, rule, params, created_at)
       SELECT 'fixtures', model_id, rule, params, created_at FROM selections WHERE id = $S1;
     INSERT INTO proposals(selection_id, image_hash, wnid, pred_wnid, confidence, true_prob, status)
       SELECT (SELECT max(id) FROM selections), image_hash, wnid, pred_wnid, confidence, true_prob, status
       FROM proposals WHERE selection_id = $S1 AND image_hash = '$(h pattern/2.png)'"
# Bob rejects pattern/4, accepts pattern/7 and undoes that: alice's accept counts again.
nat -q review --reject "$(prop "$S2" "$REJ" $B)" --reason 'a drawing' --reviewer bob > /dev/null
rid=$(nat -q review --accept "$(prop "$S2" "$UNDONE" $B)" --reviewer bob | cut -f1)
nat -q review --undo "$rid" --reviewer bob > /dev/null
check "bob's reviews" "3" "$(sql "SELECT count(*) FROM reviews WHERE reviewer = 'bob'")"
# In force: every proposed tag of selection 2 but pattern/4 (rejected); the
# pattern accepted for two classes is in one once one is rejected below.
EXPECTED=$(($(sql "SELECT count(*) FROM proposals WHERE selection_id = $S2 AND status = 'proposed'") - 2))
check "images in the release" "$((NPAT + 6 - 5 - 1 - 1))" "$EXPECTED"

# ---- refusals ----
nat export --set fixtures --out "$T/r1" 2> "$T/err"
check "an image accepted for two classes is refused" 1 "$?"
check_match "the refusal names the image and both classes" "image $TWO: $A stingray \(proposal [0-9]+\), $B goldfinch" "$(cat "$T/err")"
check "nothing written" 0 "$(ls "$T" | grep -cE '^r1($|\.tmp-)')"
nat -q review --reject "$(prop "$S2" "$TWO" $B)" --reason 'a pattern, not a goldfinch' --reviewer alice > /dev/null

nat export --set nosuchset --out "$T/r1" 2> "$T/err"
check "an unknown set is refused" 1 "$?"
nat export --set fixtures 2> "$T/err"
check "--out is required" 2 "$?"

# ---- two exports of the same content: the same bytes ----
out=$(nat export --set fixtures --out "$T/r1" --tar 2> "$T/err")
check "export --tar" 0 "$?"
check_match "summary" "exported $EXPECTED images of 'fixtures'" "$(cat "$T/err")"
TAR1=$(sha256sum < "$T/r1/fixtures.tar" | cut -d' ' -f1)
check "stdout names the tar and its sha-256" "$TAR1  $T/r1/fixtures.tar" "$out"
sleep 1.1   # a second later: only the release time kept in the database can make the bytes equal
nat -q export --set fixtures --out "$T/r2" --tar > /dev/null
check "exported twice: the same tar sha-256" "$TAR1" "$(sha256sum < "$T/r2/fixtures.tar" | cut -d' ' -f1)"
check "the same manifest" "$(sha256sum < "$T/r1/manifest.jsonl")" "$(sha256sum < "$T/r2/manifest.jsonl")"
check "the same croissant.json" "$(sha256sum < "$T/r1/croissant.json")" "$(sha256sum < "$T/r2/croissant.json")"
check "two releases recorded, one release time" "2|1" "$(sql "SELECT count(*) || '|' || count(DISTINCT released_unix) FROM releases")"
check "release items recorded" $((2 * EXPECTED)) "$(sql 'SELECT count(*) FROM release_items')"
check "tar sha-256 recorded" "$TAR1" "$(sql 'SELECT DISTINCT tar_sha256 FROM releases')"
check "the release names the run" "export" "$(sql 'SELECT DISTINCT r.command FROM releases x JOIN runs r ON r.id = x.run_id')"

# ---- the layout ----
check "top level" "SHA256SUMS classes.tsv croissant.json fixtures fixtures.tar manifest.jsonl report.html" "$(cd "$T/r1" && echo *)"
# the report of the released set beside the release: not part of it
check_match "report.html is the set's report" '<title>natadv report: fixtures</title>' "$(head -c 600 "$T/r1/report.html")"
check "report.html is not in SHA256SUMS" "" "$(grep report.html "$T/r1/SHA256SUMS")"
check "report.html is not in the tar" "" "$(tar tf "$T/r1/fixtures.tar" | grep report.html)"
check "inside fixtures/: README.txt and one folder per class" "README.txt $A $B $C" "$(cd "$T/r1/fixtures" && echo *)"
check "images" "$EXPECTED" "$(find "$T/r1/fixtures" -name '*.jpg' | wc -l)"
check "nothing else" "$((EXPECTED + 1))" "$(find "$T/r1/fixtures" -type f | wc -l)"
check "file names are the content keys" "$(find "$T/r1/fixtures" -name '*.jpg' | wc -l)" \
	"$(find "$T/r1/fixtures" -name '*.jpg' | grep -cE '/n[0-9]{8}/[0-9a-f]{32}\.jpg$')"
check "JPEG copied byte for byte" "$(sql "SELECT sha256 FROM images WHERE hash = '$ROCKET'")" \
	"$(sha256sum < "$T/r1/fixtures/$A/$ROCKET.jpg" | cut -d' ' -f1)"
check "PNG converted to JPEG" "ffd8ff" "$(head -c 3 "$T/r1/fixtures/$B/$PNG.jpg" | od -An -tx1 | tr -d ' \n')"
check "the image accepted for two classes is in one" "$A" "$(cd "$T/r1/fixtures" && ls */"$TWO".jpg | cut -d/ -f1)"
check "not the rejected, the accepted near-duplicate or the accepted but no longer selected" "" \
	"$(cd "$T/r1/fixtures" && for x in $REJ $Q90 $DROPPED; do ls */"$x".jpg 2> /dev/null; done)"
check "classes.tsv" "$(printf 'label\twnid\tindex_1k\tname\n0\t%s\t6\tstingray\n1\t%s\t11\tgoldfinch\n2\t%s\t13\tjunco' $A $B $C)" \
	"$(cat "$T/r1/classes.tsv")"
check "README first line" "The fixtures dataset contains $EXPECTED natural adversarial examples." "$(head -n 1 "$T/r1/fixtures/README.txt")"
check_match "README names the set's base" "class set 'fixtures', which is based on the class set 'birds'" "$(cat "$T/r1/fixtures/README.txt")"
check "README ends with the classes" "$(printf '%s stingray\n%s goldfinch\n%s junco' $A $B $C)" "$(tail -n 3 "$T/r1/fixtures/README.txt")"
check "SHA256SUMS matches sha256sum" "" "$(cd "$T/r1" && sha256sum --quiet -c SHA256SUMS 2>&1)"
check "SHA256SUMS lists every file but itself and the report" "$(cd "$T/r1" && find . -type f ! -name SHA256SUMS ! -name report.html | sed 's|^\./||' | LC_ALL=C sort)" \
	"$(cut -c67- "$T/r1/SHA256SUMS")"
python3 - "$T/r1" "$EXPECTED" "$ROCKET" "$PNG" "$BASE" "$UNDONE" "$(sql "SELECT rule || ' ' || params FROM selections WHERE id = $S2")" \
	"$(sql "SELECT id || '|' || printf('%.17g', confidence) || '|' || printf('%.17g', true_prob) FROM proposals WHERE selection_id = $S2 AND image_hash = '$ROCKET'")" \
	"$S2" "$(sql "SELECT id FROM models WHERE name = 'demo'")" > "$T/py.out" 2>&1 << 'EOF'
import json, sys, tarfile, calendar, time
rel, expected, rocket, png, base, undone, rule, prop, s2, model = sys.argv[1:11]
expected = int(expected)
_, conf, true_prob = prop.split("|")
keys = ("path label wnid class_name xxh128 sha256 bytes width height converted source_sha256 source_bytes source "
        "query url final_url page_url license license_raw author attribution title fetched_at http_status etag model model_id "
        "pred_wnid pred_name confidence true_prob selection_id selection_rule review reviewer reviewed_at set "
        "version released_at").split()
lines = [json.loads(l) for l in open(rel + "/manifest.jsonl")]
assert len(lines) == expected, len(lines)
assert [l["path"] for l in lines] == sorted(l["path"] for l in lines), "not sorted"
for l in lines:
    assert list(l) == keys, list(l)
r = {l["xxh128"]: l for l in lines}[rocket]
assert r["converted"] is None and r["sha256"] == r["source_sha256"] and r["bytes"] == r["source_bytes"]
assert (r["source"], r["query"], r["page_url"], r["license"], r["author"]) == \
    ("seeds", "rocket launch", "http://example.org/rocket", "cc-by-4.0", 'NASA "JPL"'), r
assert r["url"] == base + "/img/rocket.jpg" and r["final_url"] == r["url"] and r["http_status"] == 200, r
assert r["etag"] and r["fetched_at"].endswith("Z") and r["model"] == "demo" and r["model_id"] == model, r
assert r["pred_wnid"] == "n04090263" and r["pred_name"] == "rifle", r
assert abs(r["confidence"] - float(conf)) < 1e-12 and abs(r["true_prob"] - float(true_prob)) < 1e-12, (r, prop)
assert r["selection_id"] == int(s2) and r["selection_rule"] == rule and '"space":"1k"' in rule, (r, rule)
assert (r["review"], r["reviewer"], r["set"], r["version"]) == ("accept", "alice", "fixtures", "1.0"), r
assert (r["label"], r["wnid"], r["class_name"]) == (0, "n01498041", "stingray")
p = {l["xxh128"]: l for l in lines}[png]
assert p["converted"] == "png->jpeg q=95" and p["sha256"] != p["source_sha256"] and p["label"] == 1, p
assert p["width"] == 451 and p["height"] == 300, p
u = {l["xxh128"]: l for l in lines}[undone]
assert (u["review"], u["reviewer"]) == ("accept", "alice"), u
assert sum(l["reviewer"] == "alice" for l in lines) == expected, "an undone accept of bob's"
t = tarfile.open(rel + "/fixtures.tar")
released = calendar.timegm(time.strptime(lines[0]["released_at"], "%Y-%m-%dT%H:%M:%SZ"))
names = [m.name for m in t.getmembers()]
assert names == sorted(names) and names[0] == "fixtures", names[:3]
assert all(m.mtime == released and m.uid == 0 and m.gid == 0 and m.uname == "root" for m in t.getmembers())
assert all(m.name.startswith("fixtures") for m in t.getmembers())
c = json.load(open(rel + "/croissant.json"))
assert c["conformsTo"] == "http://mlcommons.org/croissant/1.0" and c["datePublished"] == lines[0]["released_at"]
assert [d["@type"] for d in c["distribution"]] == ["cr:FileObject"] * 3 + ["cr:FileSet"]
for k in ("rai:dataCollection", "rai:dataCollectionType", "rai:dataAnnotationProtocol", "rai:dataLimitations",
          "name", "description", "license", "url", "creator", "version", "citeAs"):
    assert k in c, k
print("ok")
EOF
check "manifest, tar headers and croissant.json" "ok" "$(tail -n 1 "$T/py.out")"
[ "$(tail -n 1 "$T/py.out")" = ok ] || cat "$T/py.out" >&2

# ---- verify ----
nat verify "$T/r1" > "$T/out" 2> "$T/err"
check "verify a release" 0 "$?"
check "no problem lines" "" "$(cat "$T/out")"
"$NATADV" -w "$T/nowhere" verify "$T/r1/fixtures.tar" > "$T/out" 2> "$T/err"
check "verify a tar, without a workspace" 0 "$?"
one=$(cd "$T/r1" && ls fixtures/$C/*.jpg | head -n 1)
check_match "a file of the release to tamper with" "^fixtures/$C/[0-9a-f]{32}\.jpg\$" "$one"
tamper() { # NAME: a fresh copy of r1 in $T/t-NAME
	rm -rf "$T/t-$1"
	cp -a "$T/r1" "$T/t-$1"
}
tamper mod
printf 'x' >> "$T/t-mod/$one"
nat verify "$T/t-mod" > "$T/out" 2> "$T/err"
check "a modified file fails" 1 "$?"
check "and is named" "modified: $one" "$(cat "$T/out")"
check_match "summary" "does not verify: 1 modified, 0 missing, 0 extra" "$(cat "$T/err")"
tamper miss
rm "$T/t-miss/$one"
nat verify "$T/t-miss" > "$T/out" 2> "$T/err"
check "a missing file fails" 1 "$?"
check "and is named" "missing: $one" "$(cat "$T/out")"
tamper extra
printf 'stray' > "$T/t-extra/fixtures/$A/0000.jpg"
nat verify "$T/t-extra" > "$T/out" 2> "$T/err"
check "an extra file fails" 1 "$?"
check "and is named" "extra: fixtures/$A/0000.jpg" "$(cat "$T/out")"
tamper readme
rm "$T/t-readme/fixtures/README.txt"
nat verify "$T/t-readme" > "$T/out" 2> "$T/err"
check "a missing README.txt fails" "1|missing: fixtures/README.txt" "$?|$(cat "$T/out")"
tamper manifest
rm "$T/t-manifest/manifest.jsonl"
nat verify "$T/t-manifest" > "$T/out" 2> "$T/err"
check "a missing manifest fails, one problem" "1|missing: manifest.jsonl" "$?|$(cat "$T/out")"
tamper tar
python3 - "$T/t-tar/fixtures.tar" "$one" << 'EOF'
import sys, tarfile
m = tarfile.open(sys.argv[1]).getmember(sys.argv[2])
with open(sys.argv[1], "r+b") as f:
    f.seek(m.offset_data + m.size // 2)
    b = f.read(1)
    f.seek(m.offset_data + m.size // 2)
    f.write(bytes([b[0] ^ 0xff]))
EOF
nat verify "$T/t-tar/fixtures.tar" > "$T/out" 2> "$T/err"
check "a modified tar member fails" 1 "$?"
check "the tar and the member are named" "$(printf 'modified: fixtures.tar\nmodified: %s' "$one")" "$(cat "$T/out")"
nat verify "$T/t-tar" > "$T/out" 2> "$T/err"
check "the folder check sees the tar changed" "1|modified: fixtures.tar" "$?|$(cat "$T/out")"
nat verify "$T/nonexistent" 2> "$T/err"
check "verify of nothing fails" 1 "$?"

# ---- an existing --out ----
before=$(sha256sum < "$T/r1/SHA256SUMS")
nat export --set fixtures --out "$T/r1" 2> "$T/err"
check "an existing --out is refused" 1 "$?"
check_match "with the reason" "'$T/r1' exists \(use --force to replace it\)" "$(cat "$T/err")"
check "and left alone" "$before" "$(sha256sum < "$T/r1/SHA256SUMS")"
nat -q export --set fixtures --out "$T/r1" --force
check "--force replaces it" 0 "$?"
nat -q verify "$T/r1"
check "the replacement verifies" 0 "$?"
check "no temporary folders left" "" "$(ls "$T" | grep -E '^r1\.(tmp|old)-')"
mkdir "$T/precious" && echo keep > "$T/precious/notes.txt"
nat export --set fixtures --out "$T/precious" --force 2> "$T/err"
check "--force does not replace a folder that is not a release" 1 "$?"
check "its files stay" keep "$(cat "$T/precious/notes.txt")"

# ---- empty classes: imagenet-a (200 classes) has only three with images ----
# Decisions are per set: imagenet-a starts undecided. The pattern tagged for
# two classes is rejected for one, then the pipeline accepts the rest.
nat -q select --model demo --set imagenet-a --space 1k --min-confidence 0.14 > /dev/null
S4=$(sql "SELECT max(id) FROM selections")
nat -q review --reject "$(prop "$S4" "$TWO" $B)" --reason 'not a goldfinch' --reviewer alice > /dev/null
nat -q review --auto-accept > /dev/null
check "the pipeline's accepts" "$(($(sql "SELECT count(*) FROM proposals WHERE selection_id = $S4 AND status = 'proposed'") - 1))" \
	"$(sql "SELECT count(*) FROM reviews WHERE mode = 'auto' AND set_name = 'imagenet-a'")"
nat export --set imagenet-a --out "$T/p" 2> "$T/err"
check "empty classes are refused" 1 "$?"
check_match "listed with their names" "197 of the 200 classes of 'imagenet-a' have no accepted image .*n01558993 robin" "$(cat "$T/err")"
check "nothing written" 0 "$(ls "$T" | grep -cE '^p($|\.tmp-)')"
nat -q export --set imagenet-a --out "$T/p" --partial
check "--partial exports them" 0 "$?"
check "every class has its folder" 200 "$(find "$T/p/imagenet-a" -mindepth 1 -type d | wc -l)"
check "README first line" "The ImageNet-A dataset contains $((NPAT + 6 - 5 - 1)) natural adversarial examples." "$(head -n 1 "$T/p/imagenet-a/README.txt")"
check_match "README says it loudly" "WARNING: THIS RELEASE IS PARTIAL. 197 of its 200 classes have no images" "$(cat "$T/p/imagenet-a/README.txt")"
check "classes.tsv marks the empty ones" "197" "$(awk -F'\t' 'NR > 1 && $5 == 0' "$T/p/classes.tsv" | wc -l)"
check "classes.tsv header" "$(printf 'label\twnid\tindex_1k\tname\timages')" "$(head -n 1 "$T/p/classes.tsv")"
check_match "an auto-accepted release names no person as creator" '"natadv \(automatic pipeline\)"' "$(cat "$T/p/croissant.json")"
check "recorded as partial" 1 "$(sql "SELECT partial FROM releases WHERE set_name = 'imagenet-a'")"
nat -q verify "$T/p"
check "a partial release verifies (empty class folders included)" 0 "$?"

# ---- kill -9 during an export ----
midway=0
for delay in 0.01 0.02 0.03 0.05 0.1 0.2 0.3 0.5 0.8; do
	"$NATADV" -w "$T/ws" -q export --set fixtures --out "$T/k" --tar --force > /dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2> /dev/null
	wait "$pid" 2> /dev/null
	ls "$T" | grep -q '^k\.tmp-' && midway=$((midway + 1))
	if [ -e "$T/k" ]; then
		nat -q verify "$T/k" > /dev/null 2>&1
		check "after kill -9 at $delay s: the release is complete" 0 "$?"
	fi
done
check_match "some kill landed midway (a temporary folder was left $midway times)" "^[1-9]" "$midway"
nat -q export --set fixtures --out "$T/k" --tar --force > /dev/null
check "a re-run succeeds" 0 "$?"
nat -q verify "$T/k"
check "and verifies" 0 "$?"
check "leftovers of killed exports are gone" "" "$(ls "$T" | grep -E '^k\.(tmp|old)-')"
check "the same bytes again" "$TAR1" "$(sha256sum < "$T/k/fixtures.tar" | cut -d' ' -f1)"
check "integrity" ok "$(sql 'PRAGMA integrity_check')"
check "foreign keys" "" "$(sql 'PRAGMA foreign_key_check')"

if [ -n "${NATADV_KEEP_RELEASE:-}" ]; then
	rm -rf "$NATADV_KEEP_RELEASE"
	mkdir -p "$NATADV_KEEP_RELEASE"
	cp -a "$T/r1" "$NATADV_KEEP_RELEASE/full"
	cp -a "$T/p" "$NATADV_KEEP_RELEASE/partial"
fi
finish
