#!/usr/bin/env bash
# export.sh — natadv export and verify end to end: a workspace crawled from
# the fixtures over loopback and scored with the tiny model, a selection with
# reviews, then: the refusals (an image accepted for two classes, empty
# classes, an existing --out), two exports giving the same tar bytes, the
# release's layout and provenance, verify and its tamper tests (folder and
# tar), --force, --partial, and kill -9 during an export.
# NATADV_KEEP_RELEASE=DIR keeps the full and the partial release there (for
# scripts/check_export_torchvision.py, run by make check-pytorch).
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
TINY=$ROOT/tests/golden/tiny_basic.safetensors
A=n01498041   # stingray
B=n01531178   # goldfinch
C=n01534433   # junco
NGEN=150

start_server
{
	printf 'url\twnid\tsource\tquery\tpage_url\tlicense\tauthor\n'
	printf '%s/img/rocket.jpg\t%s\tseeds\trocket launch\thttp://example.org/rocket\tcc-by-4.0\tNASA "JPL"\n' "$BASE" "$A"
	printf '%s/img/chelsea.png\t%s\tseeds\tcat\t\tcc0\t\n' "$BASE" "$B"
	printf '%s/img/coffee_q90.jpg\t%s\tseeds\t\t\t\t\n' "$BASE" "$C"
	printf '%s/img/hubble_deep_field.jpg\t%s\tseeds\t\t\t\t\n' "$BASE" "$C"
	printf '%s/img/chelsea_prog.jpg\t%s\tseeds\t\t\t\t\n' "$BASE" "$A"
	printf '%s/img/chelsea_prog.jpg\t%s\tseeds\t\t\t\t\n' "$BASE" "$B"
	for i in $(seq 1 $NGEN); do
		case $((i % 3)) in 0) w=$A ;; 1) w=$B ;; *) w=$C ;; esac
		printf '%s/gen/%d.jpg\t%s\tseeds\t\t\t\t\n' "$BASE" "$i" "$w"
	done
} > "$T/seeds.tsv"
nat -q init
nat -q crawl --seeds "$T/seeds.tsv" --allow-private
check "images crawled" $((NGEN + 5)) "$(sql 'SELECT count(*) FROM images')"
nat -q model add "$TINY" --name tiny
nat -q score --model tiny
check "images scored" $((NGEN + 5)) "$(sql "SELECT count(*) FROM scores WHERE status = 'scored'")"

h() { sql "SELECT image_hash FROM urls WHERE url = '$BASE/$1'"; }
PROG=$(h img/chelsea_prog.jpg)
ROCKET=$(h img/rocket.jpg)
PNG=$(h img/chelsea.png)

# ---- selection, proposals and reviews by SQL, until select lands ----
# (natadv select and natadv review are being written on another branch; these
# rows follow schema/004 and CONTRACTS.md: the latest finished selection per
# set is in force, the latest accept/reject not undone is the decision.)
NOW=2026-01-01T00:00:00Z
sql "INSERT INTO class_sets(name, version, created_at, based_on) VALUES('fixtures', '1', '$NOW', 'imagenet-a');
     INSERT INTO class_set_members(set_name, set_index, wnid) VALUES('fixtures', 0, '$A'), ('fixtures', 1, '$B'),
       ('fixtures', 2, '$C');"
MODEL=$(sql "SELECT id FROM models WHERE name = 'tiny'")
propose() { # SELECTION SET: one proposal per image tag of the set's classes (gen/6 left out)
	sql "INSERT INTO proposals(selection_id, image_hash, wnid, pred_wnid, confidence, true_prob, status)
	     SELECT $1, t.image_hash, t.wnid, 'n01440764', 0.5 + (abs(coalesce(s.prob_1k, 0.5) * 1000) % 40) / 100.0, 0.015625, 'proposed'
	     FROM (SELECT DISTINCT image_hash, wnid FROM image_tags) t
	     JOIN class_set_members m ON m.set_name = '$2' AND m.wnid = t.wnid
	     JOIN scores s ON s.image_hash = t.image_hash AND s.model_id = '$MODEL'
	     WHERE t.image_hash <> '$(h gen/6.jpg)'"
}
sql "INSERT INTO selections(id, set_name, model_id, rule, params, created_at, finished_at)
     VALUES(1, 'fixtures', '$MODEL', 'misclassified', '{\"space\":\"subset\"}', '$NOW', '$NOW'),
           (2, 'fixtures', '$MODEL', 'misclassified', '{\"space\":\"subset\",\"min_confidence\":0.5}', '$NOW', '$NOW'),
           (3, 'fixtures', '$MODEL', 'misclassified', '{}', '$NOW', NULL);
     INSERT INTO proposals(selection_id, image_hash, wnid, pred_wnid, confidence, true_prob, status)
     VALUES(1, '$(h gen/6.jpg)', '$C', 'n01440764', 0.9, 0.01, 'proposed'),
           (3, '$(h gen/6.jpg)', '$C', 'n01440764', 0.9, 0.01, 'proposed');"
propose 2 fixtures
# gen/2 collapsed into gen/5 (same class) as a near-duplicate
sql "UPDATE proposals SET status = 'near_duplicate', distance = 3,
       duplicate_of = (SELECT id FROM proposals WHERE selection_id = 2 AND image_hash = '$(h gen/5.jpg)')
     WHERE selection_id = 2 AND image_hash = '$(h gen/2.jpg)'"
review() { # SELECTION DECISION REVIEWER MODE [WHERE]
	sql "INSERT INTO reviews(set_name, image_hash, wnid, proposal_id, decision, reviewer, mode, at)
	     SELECT sel.set_name, p.image_hash, p.wnid, p.id, '$2', '$3', '$4', '2026-01-02T00:00:00Z'
	     FROM proposals p JOIN selections sel ON sel.id = p.selection_id WHERE p.selection_id = $1 ${5:-}"
}
review 1 accept alice cli
review 3 accept alice cli
review 2 accept alice cli
review 2 reject bob web "AND p.image_hash = '$(h gen/4.jpg)'"
review 2 accept bob web "AND p.image_hash = '$(h gen/7.jpg)'"
sql "INSERT INTO reviews(set_name, image_hash, wnid, proposal_id, decision, reviewer, mode, undoes, at)
     SELECT set_name, image_hash, wnid, proposal_id, 'undo', 'bob', 'web', id, '2026-01-03T00:00:00Z'
     FROM reviews WHERE image_hash = '$(h gen/7.jpg)' AND reviewer = 'bob'"
# In force: every proposal of selection 2 but gen/2 (near-duplicate), gen/4
# (rejected); gen/7 is accepted by alice again once bob's accept is undone.
# gen/6 is only in the superseded and the unfinished selection. chelsea_prog
# is accepted for two classes until one is rejected below.
EXPECTED=$((NGEN + 5 - 3))

# ---- refusals ----
nat export --set fixtures --out "$T/r1" 2> "$T/err"
check "an image accepted for two classes is refused" 1 "$?"
check_match "the refusal names the image and both classes" "image $PROG: $A stingray \(proposal [0-9]+\), $B goldfinch" "$(cat "$T/err")"
check "nothing written" 0 "$(ls "$T" | grep -cE '^r1($|\.tmp-)')"
sql "INSERT INTO reviews(set_name, image_hash, wnid, proposal_id, decision, reason, reviewer, mode, at)
     SELECT 'fixtures', image_hash, wnid, id, 'reject', 'a cat, not a goldfinch', 'alice', 'cli', '2026-01-04T00:00:00Z'
     FROM proposals WHERE selection_id = 2 AND image_hash = '$PROG' AND wnid = '$B'"

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
check "top level" "SHA256SUMS classes.tsv croissant.json fixtures fixtures.tar manifest.jsonl" "$(cd "$T/r1" && echo *)"
check "inside fixtures/: README.txt and one folder per class" "README.txt $A $B $C" "$(cd "$T/r1/fixtures" && echo *)"
check "images" "$EXPECTED" "$(find "$T/r1/fixtures" -name '*.jpg' | wc -l)"
check "nothing else" "$((EXPECTED + 1))" "$(find "$T/r1/fixtures" -type f | wc -l)"
check "file names are the content keys" "$(find "$T/r1/fixtures" -name '*.jpg' | wc -l)" \
	"$(find "$T/r1/fixtures" -name '*.jpg' | grep -cE '/n[0-9]{8}/[0-9a-f]{32}\.jpg$')"
check "JPEG copied byte for byte" "$(sql "SELECT sha256 FROM images WHERE hash = '$ROCKET'")" \
	"$(sha256sum < "$T/r1/fixtures/$A/$ROCKET.jpg" | cut -d' ' -f1)"
check "PNG converted to JPEG" "ffd8ff" "$(head -c 3 "$T/r1/fixtures/$B/$PNG.jpg" | od -An -tx1 | tr -d ' \n')"
check "the image accepted for two classes is in one" "$A" "$(cd "$T/r1/fixtures" && ls */"$PROG".jpg | cut -d/ -f1)"
check "not the rejected, the near-duplicate or the superseded" "" \
	"$(cd "$T/r1/fixtures" && ls */"$(h gen/4.jpg)".jpg */"$(h gen/2.jpg)".jpg */"$(h gen/6.jpg)".jpg 2> /dev/null)"
check "classes.tsv" "$(printf 'label\twnid\tindex_1k\tname\n0\t%s\t6\tstingray\n1\t%s\t11\tgoldfinch\n2\t%s\t13\tjunco' $A $B $C)" \
	"$(cat "$T/r1/classes.tsv")"
check "README first line" "The fixtures dataset contains $EXPECTED natural adversarial examples." "$(head -n 1 "$T/r1/fixtures/README.txt")"
check_match "README names the set's base" "class set 'fixtures', which is based on the class set 'imagenet-a'" "$(cat "$T/r1/fixtures/README.txt")"
check "README ends with the classes" "$(printf '%s stingray\n%s goldfinch\n%s junco' $A $B $C)" "$(tail -n 3 "$T/r1/fixtures/README.txt")"
check "SHA256SUMS matches sha256sum" "" "$(cd "$T/r1" && sha256sum --quiet -c SHA256SUMS 2>&1)"
check "SHA256SUMS lists every file but itself" "$(cd "$T/r1" && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | LC_ALL=C sort)" \
	"$(cut -c67- "$T/r1/SHA256SUMS")"
python3 - "$T/r1" "$EXPECTED" "$ROCKET" "$PNG" "$BASE" > "$T/py.out" 2>&1 << 'EOF'
import json, sys, tarfile, calendar, time
rel, expected, rocket, png, base = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
keys = ("path label wnid class_name xxh128 sha256 bytes width height converted source_sha256 source_bytes source "
        "query url final_url page_url license license_raw author title fetched_at http_status etag model model_id "
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
assert r["etag"] and r["fetched_at"].endswith("Z") and r["model"] == "tiny" and len(r["model_id"]) == 64
assert r["pred_wnid"] == "n01440764" and r["pred_name"] == "tench" and r["true_prob"] == 0.015625
assert r["selection_id"] == 2 and r["selection_rule"] == 'misclassified {"space":"subset","min_confidence":0.5}'
assert (r["review"], r["reviewer"], r["set"], r["version"]) == ("accept", "alice", "fixtures", "1.0"), r
assert (r["label"], r["wnid"], r["class_name"]) == (0, "n01498041", "stingray")
p = {l["xxh128"]: l for l in lines}[png]
assert p["converted"] == "png->jpeg q=95" and p["sha256"] != p["source_sha256"] and p["label"] == 1, p
assert p["width"] == 451 and p["height"] == 300, p
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
check "a missing README.txt fails" "missing: fixtures/README.txt" "$(cat "$T/out")"
tamper manifest
rm "$T/t-manifest/manifest.jsonl"
nat verify "$T/t-manifest" > "$T/out" 2> "$T/err"
check "a missing manifest is one problem" "missing: manifest.jsonl" "$(cat "$T/out")"
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
check "the folder check sees the tar changed" "modified: fixtures.tar" "$(cat "$T/out")"
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
sql "INSERT INTO selections(id, set_name, model_id, rule, params, created_at, finished_at)
     VALUES(4, 'imagenet-a', '$MODEL', 'misclassified', '{}', '$NOW', '$NOW')"
propose 4 imagenet-a
review 4 accept auto auto "AND NOT (p.image_hash = '$PROG' AND p.wnid = '$B')"
nat export --set imagenet-a --out "$T/p" 2> "$T/err"
check "empty classes are refused" 1 "$?"
check_match "listed with their names" "197 of the 200 classes of 'imagenet-a' have no accepted image .*n01558993 robin" "$(cat "$T/err")"
check "nothing written" 0 "$(ls "$T" | grep -cE '^p($|\.tmp-)')"
nat -q export --set imagenet-a --out "$T/p" --partial
check "--partial exports them" 0 "$?"
check "every class has its folder" 200 "$(find "$T/p/imagenet-a" -mindepth 1 -type d | wc -l)"
check "README first line" "The ImageNet-A dataset contains $((NGEN + 5 - 1)) natural adversarial examples." "$(head -n 1 "$T/p/imagenet-a/README.txt")"
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
