#!/usr/bin/env bash
# imagenet_o.sh — an ImageNet-O release end to end over loopback, with
# Debian's WordNet (wordnet-base): the rule of out-of-distribution classes
# (classes ood, add-set --ood and its refusals, a missing WordNet), seeds
# tagged with OOD classes crawled and scored with the demo model, select
# --ood-from (MSP over imagenet-o's 200 classes), review (CLI and the page's
# API), export (layout, README.txt, manifest), verify, audit, eval --ood
# with in-distribution photos (its self-check included), a rebuild into a
# fresh workspace that gives the same tar, and discover --set on an OOD set
# (Openverse answers canned by the server) searching by WordNet names.
# NATADV_KEEP_RELEASE=DIR keeps the release there (for
# scripts/check_export_torchvision.py --ood, run by make check-pytorch).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/review/setup.sh"
export LC_ALL=C
unset NATADV_WORDNET
if [ ! -r /usr/share/wordnet/data.noun ]; then
	echo "SKIP: needs WordNet 3.0, /usr/share/wordnet/data.noun from Debian's wordnet-base (make installs it)"
	exit 77
fi
P=n09391386   # photosphere
V=n04528079   # verdigris
K=n01439514   # carp: tench's sibling, a cyprinid outside ImageNet-1K
NPAT=20

nat -q init

# ---- the rule, with the real WordNet ----
nat classes ood > "$T/ood.tsv"
check "photosphere is usable" 1 "$(grep -c "^$P	photosphere$" "$T/ood.tsv")"
check "carp is usable" 1 "$(grep -c "^$K	carp$" "$T/ood.tsv")"
check "cyprinid is not" 0 "$(grep -c '^n01439121	' "$T/ood.tsv")"
check "toy dog is not" 0 "$(grep -c '^n02085374	' "$T/ood.tsv")"
check "tench (ImageNet-1K) is not" 0 "$(grep -c '^n01440764	' "$T/ood.tsv")"
check "silverfish (a goldfish) is not" 0 "$(grep -c '^n01443736	' "$T/ood.tsv")"
check "no ImageNet-1K class is listed" "" \
	"$(cut -f1 "$T/ood.tsv" | grep -Fx -f <(sql "SELECT wnid FROM classes WHERE index_1k IS NOT NULL"))"
nat classes ood --under n00021939 > "$T/art.tsv"
check "dustpan is an artifact" 1 "$(grep -c '^n03259009	dustpan$' "$T/art.tsv")"
check "photosphere is no artifact" 0 "$(grep -c "^$P	" "$T/art.tsv")"
check "--under keeps a part of the list" 1 "$(( $(wc -l < "$T/art.tsv") > 1000 && $(wc -l < "$T/art.tsv") < $(wc -l < "$T/ood.tsv") ))"
check "--limit" 2 "$(nat classes ood --limit 2 | wc -l)"
check "--json" '{"wnid":"n03259009","names":"dustpan"}' \
	"$(nat classes ood --under n03259009 --json)"
nat classes ood --under n99999999 > /dev/null 2> "$T/err"
check "an unknown --under" 1 "$?"

refuse() {  # WNID EXPECTED-MESSAGE
	nat classes add-set bad --ood --add "$1" > /dev/null 2> "$T/err"
	check "add-set --ood $1 is refused" 1 "$?"
	check_match "and says why ($1)" "$2" "$(cat "$T/err")"
}
refuse n01439121 "'n01439121' \\(cyprinid\\) is an ancestor of ImageNet-1K class 'n01440764' \\(tench\\)"
refuse n02085374 "'n02085374' \\(toy dog\\) is an ancestor of ImageNet-1K class 'n02085620' \\(Chihuahua\\)"
refuse n01443736 "'n01443736' \\(silverfish\\) is a descendant of ImageNet-1K class 'n01443537' \\(goldfish\\)"
refuse n08982289 "'n08982289' \\(Pinatubo\\) is a descendant of ImageNet-1K class 'n09472597' \\(volcano\\)"
refuse n01440764 "'n01440764' \\(tench\\) is an ImageNet-1K class"
refuse n99999999 "'n99999999' is not a WordNet 3.0 noun synset"
refuse "$P,$P" "'$P' is given twice"
check "nothing of the refused sets is stored" "0|0" \
	"$(sql "SELECT (SELECT count(*) FROM class_sets WHERE name = 'bad'), (SELECT count(*) FROM classes WHERE index_1k IS NULL)")"
NATADV_WORDNET=$T/none nat classes add-set space --ood --add "$P" > /dev/null 2> "$T/err"
check "without WordNet add-set --ood fails" 1 "$?"
check_match "naming the file and the package" "cannot read WordNet '$T/none'.*wordnet-base" "$(cat "$T/err")"
check "other commands do not need it" 200 "$(NATADV_WORDNET=$T/none nat classes --set imagenet-o | wc -l)"
nat -q classes add-set birds --from none --add "$P" 2> "$T/err"
check "an OOD class is no ImageNet-1K class" 1 "$?"

nat -q classes add-set space --ood --add "$V,$P,$K"
check "the source set, in wnid order" "0 $K carp|1 $V verdigris|2 $P photosphere" \
	"$(nat classes --set space | tr '\t' ' ' | paste -sd '|')"
check "its classes stored with their WordNet names, outside ImageNet-1K" "$P||photosphere" \
	"$(sql "SELECT wnid, index_1k, names FROM classes WHERE wnid = '$P'")"
check "marked out of distribution" "space|1" "$(sql "SELECT name, ood FROM class_sets WHERE ood = 1")"
nat classes add-set x --from space --add n01440764 > /dev/null 2> "$T/err"
check "a 1K set cannot grow from it" 1 "$?"

# ---- seeds tagged with OOD classes → crawl → score ----
# (the server also answers discover's Openverse searches, used at the end)
printf '/api/openverse/v1/images/\tq=photosphere&page=1\tdiscover/openverse/junco_1.json\n' > "$T/routes.tsv"
printf '/api/openverse/v1/images/\tq=%s\tdiscover/openverse/empty.json\n' verdigris carp >> "$T/routes.tsv"
start_server --routes "$T/routes.tsv"
seeds_ood "$P" "$V" "$K" "$NPAT"
nat -q crawl --seeds "$T/seeds.tsv" --allow-private
check "images crawled" $((NPAT + 5)) "$(sql 'SELECT count(*) FROM images')"
check "tagged with the OOD classes" "$K|21 $V|3 $P|2" "$(sql "SELECT wnid, count(*) FROM image_tags GROUP BY wnid" | paste -sd ' ')"
nat -q model add "$ROOT/examples/demo-model.safetensors" --name demo
nat -q score --model demo
check "scored, no 1K probability for an OOD tag" "$((NPAT + 5))|0" \
	"$(sql "SELECT count(DISTINCT image_hash), count(p_1k) FROM score_tags")"

# ---- select --ood-from ----
nat select --ood-from imagenet-a --model demo > /dev/null 2> "$T/err"
check "--ood-from needs an OOD set" 1 "$?"
check_match "and says so" "'imagenet-a' is not an out-of-distribution set" "$(cat "$T/err")"
nat select --set space --ood-from space --model demo > /dev/null 2> "$T/err"
check "the target set cannot be one" 1 "$?"
nat select --ood-from space --model demo --space 1k > /dev/null 2> "$T/err"
check "--ood-from has no --space" 2 "$?"
nat -q select --set imagenet-o --ood-from space --model demo --min-confidence 0 > /dev/null
ALL=$(sql "SELECT max(id) FROM selections")
nat -q select --set imagenet-o --ood-from space --model demo --min-confidence 0.6 > "$T/select.out"
SEL=$(sql "SELECT max(id) FROM selections")
check "one proposal per image (coffee has two source classes)" "$((NPAT + 5))|$((NPAT + 5))" \
	"$(sql "SELECT count(*), count(DISTINCT image_hash) FROM proposals WHERE selection_id = $ALL")"
check "coffee under its first source class" "$K" \
	"$(sql "SELECT p.source_wnid FROM proposals p JOIN urls u ON u.image_hash = p.image_hash WHERE p.selection_id = $ALL AND u.url LIKE '%coffee_q90.jpg'")"
check "MSP >= 0.6: exactly the images of the first selection that reach it" \
	"$(sql "SELECT group_concat(image_hash) FROM (SELECT image_hash FROM proposals WHERE selection_id = $ALL AND confidence >= 0.6 ORDER BY image_hash)")" \
	"$(sql "SELECT group_concat(image_hash) FROM (SELECT image_hash FROM proposals WHERE selection_id = $SEL ORDER BY image_hash)")"
check "some are left out" 1 "$(sql "SELECT count(*) > 0 FROM proposals WHERE selection_id = $ALL AND confidence < 0.6")"
check "some are in" 1 "$(sql "SELECT count(*) > 1 FROM proposals WHERE selection_id = $SEL")"
check "filed under the predicted class, one of imagenet-o's, with the source class" 0 \
	"$(sql "SELECT count(*) FROM proposals p WHERE selection_id = $SEL AND (wnid != pred_wnid OR true_prob != 0
	        OR source_wnid NOT IN ('$P', '$V', '$K')
	        OR wnid NOT IN (SELECT wnid FROM class_set_members WHERE set_name = 'imagenet-o'))")"
check "rule and parameters recorded" 'ood|demo|space|0.6|subset' "$(sql "SELECT rule, json_extract(params, '$.model'),
	json_extract(params, '$.ood_from'), json_extract(params, '$.min_confidence'), json_extract(params, '$.space')
	FROM selections WHERE id = $SEL")"
check "over imagenet-o's 200 classes" 1 "$(sql "SELECT params LIKE '%\"space_classes\":200}' FROM selections WHERE id = $SEL")"
check "the table is per source class" 1 "$(grep -c "^$K " "$T/select.out")"

# ---- review: the command line and the page ----
KEPT=$(sql "SELECT id FROM proposals WHERE selection_id = $SEL AND status = 'proposed' ORDER BY confidence DESC, id")
NKEPT=$(echo "$KEPT" | wc -l)
REJ=$(echo "$KEPT" | tail -n 1)
nat review --list --set imagenet-o --json > "$T/list.jsonl"
check "--list --json names the source class" "$(sql "SELECT count(*) FROM proposals WHERE selection_id = $SEL")" \
	"$(grep -c "\"source_wnid\":\"n0" "$T/list.jsonl")"
review_start --set imagenet-o --reviewer tester
curl -s -H "X-Natadv-Token: $TOKEN" "$RBASE/api/proposals?limit=200" > "$T/api.json"
check "the page's API: source synset and predicted class" "$NKEPT|$NKEPT|$NKEPT" "$(python3 -c '
import json, sys
ps = json.load(open(sys.argv[1]))["proposals"]
print("%d|%d|%d" % (len(ps), sum(1 for p in ps if p["source_wnid"] in sys.argv[2:] and p["source_name"]),
                    sum(1 for p in ps if p["pred_wnid"] == p["wnid"] and p["pred_name"])))' "$T/api.json" "$P" "$V" "$K")"
check "a decision through the page" 200 "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Natadv-Token: $TOKEN" \
	-H "Origin: $RBASE" -H 'Content-Type: application/json' \
	--data-binary "{\"proposal_id\":$REJ,\"decision\":\"reject\",\"reason\":\"a star, but blurred\"}" "$RBASE/api/decision")"
review_stop
check "the page shows the source synset" 1 "$(grep -c "source synset" "$ROOT/review/page/app.js")"
nat -q review --auto-accept --set imagenet-o > /dev/null
check "accepted all but the rejected one" "$((NKEPT - 1))|1" \
	"$(sql "SELECT sum(decision = 'accept'), sum(decision = 'reject') FROM review_state WHERE set_name = 'imagenet-o'")"

# ---- export, verify, audit ----
nat -q export --set imagenet-o --out "$T/rel" > /dev/null 2> "$T/err"
check "a partial release needs --partial" 1 "$?"
nat -q export --set imagenet-o --out "$T/rel" --tar --partial > /dev/null
N=$((NKEPT - 1))
check "one image per accepted proposal" "$N" "$(find "$T/rel/imagenet-o" -name '*.jpg' | wc -l)"
check "each in its predicted class's folder" "" "$(sql "SELECT 'imagenet-o/' || p.wnid || '/' || p.image_hash || '.jpg'
	FROM proposals p JOIN review_state rs ON rs.image_hash = p.image_hash AND rs.wnid = p.wnid
	WHERE p.selection_id = $SEL AND rs.decision = 'accept'" | while read -r f; do [ -f "$T/rel/$f" ] || echo "$f"; done)"
check "README.txt: the count first" "The ImageNet-O dataset contains $N out-of-distribution examples." \
	"$(head -n 1 "$T/rel/imagenet-o/README.txt")"
check "README.txt: then one 'wnid name' line per class, imagenet-o's 200" \
	"$(nat classes --set imagenet-o | cut -f2,3 | tr '\t' ' ')" "$(tail -n 200 "$T/rel/imagenet-o/README.txt")"
check "200 folders, in the set's order" "$(nat classes --set imagenet-o | cut -f2 | paste -sd ' ')" \
	"$(ls "$T/rel/imagenet-o" | grep -v README | paste -sd ' ')"
check "classes.tsv: 200 classes" 201 "$(wc -l < "$T/rel/classes.tsv")"
check "manifest: source class, predicted class and MSP on every line" "$N" "$(python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    ok = d["source_wnid"] in sys.argv[2:] and d["source_name"] and d["pred_wnid"] == d["wnid"] \
        and d["msp"] == d["confidence"] and d["msp"] >= 0.6 and d["path"].startswith("imagenet-o/" + d["pred_wnid"] + "/")
    n += ok
print(n)' "$T/rel/manifest.jsonl" "$P" "$V" "$K")"
check "croissant.json and SHA256SUMS" 2 "$(ls "$T/rel" | grep -c -e croissant.json -e SHA256SUMS)"
nat -q verify "$T/rel" > /dev/null
check "verify the folder" 0 "$?"
nat -q verify "$T/rel/imagenet-o.tar" > /dev/null
check "verify the tar" 0 "$?"
F=$(cd "$T/rel" && find imagenet-o -name '*.jpg' | sort | head -n 1)
nat audit --json "$F" > "$T/audit.json"
check "audit: the image's tag is its source class, its release path the predicted class" 1 "$(python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))
s = json.dumps(a)
print(int(any(t.get("wnid") in sys.argv[3:] for t in a["tags"]) and sys.argv[2] in s
          and all(x["source_wnid"] in sys.argv[3:] and x["rule"] == "ood" for x in a["selections"])))' \
	"$T/audit.json" "$F" "$P" "$V" "$K")"
check_match "audit's text names the source class" "found as +n0" "$(nat audit "$F")"

# ---- eval --ood with in-distribution photos (ImageFolder-style, imagenet-o's classes) ----
I=$T/in-dist
mkdir -p "$I/n01443537" "$I/n01704323"
cp "$FIX/chelsea_gray.jpg" "$FIX/cat_rgb8_adam7.png" "$I/n01443537/"
cp "$FIX/coffee_prog444.jpg" "$I/n01704323/"
out=$(nat eval --model demo --ood "$T/rel" --in-dist "$I" --json 2> "$T/err")
check "eval --ood on the release" 0 "$?"
check "its figures: the release's photos against the in-distribution ones, self-check passed" "demo|$N|3|ok" \
	"$(python3 -c '
import json, sys
d = json.loads(sys.argv[1])
c = d["self_check"]
ok = all(0 <= d[k] <= 1 for k in ("auroc", "aupr", "fpr95")) and c["filter_model"] and c["passed"] \
    and c["checked"] >= 1 and c["below_threshold"] == 0
print("%s|%d|%d|%s" % (d["model"], d["n_ood"], d["n_in"], "ok" if ok else d))' "$out")"

# ---- a tampered ImageNet-O line is refused by the reader ----
sed '1s/"msp":[0-9.e-]*/"msp":"high"/' "$T/rel/manifest.jsonl" > "$T/bad.jsonl"
"$NATADV" -w "$T/wsbad" rebuild --manifest "$T/bad.jsonl" --allow-private > /dev/null 2> "$T/err"
check "a bad msp is refused" 1 "$?"
check_match "by the manifest reader" "line 1: 'msp' is not a number" "$(cat "$T/err")"

# ---- rebuild into a fresh workspace: the same tar ----
NATADV_WORDNET=$T/none "$NATADV" -w "$T/ws3" -q rebuild --manifest "$T/rel/manifest.jsonl" --allow-private \
	> /dev/null 2> "$T/err"
check "rebuilding ImageNet-O without WordNet fails" 1 "$?"
check_match "naming the package" "wordnet-base" "$(cat "$T/err")"
"$NATADV" -w "$T/ws2" -q rebuild --manifest "$T/rel/manifest.jsonl" --allow-private --out "$T/rel2" > /dev/null
check "rebuild" 0 "$?"
check "the same tar" "$(sha256sum < "$T/rel/imagenet-o.tar")" "$(sha256sum < "$T/rel2/imagenet-o.tar")"
check "the rebuilt workspace tags with the source classes" "$N" \
	"$(sql_in "$T/ws2" "SELECT count(*) FROM proposals WHERE source_wnid IS NOT NULL AND source_wnid IN (SELECT wnid FROM classes WHERE index_1k IS NULL)")"
check "and its manifest keeps them" "$N" "$(grep -c '"source_wnid":"n0' "$T/rel2/manifest.jsonl")"

# ---- discover --set on an OOD source set: searched by WordNet names, crawled, audited ----
W4=$T/ws4
"$NATADV" -w "$W4" -q init
"$NATADV" -w "$W4" -q classes add-set space --ood --add "$V,$P,$K"
"$NATADV" -w "$W4" -q discover --source openverse --set space --endpoint "$BASE/api/openverse" --min-interval 0 \
	--allow-private --per-class 2
check "discover --set searches the OOD classes" 0 "$?"
check "by their WordNet names" "carp|$K photosphere|$P verdigris|$V" \
	"$(sql_in "$W4" "SELECT q.query, q.wnid FROM api_requests a JOIN queries q ON q.id = a.query_id ORDER BY q.query" | paste -sd ' ')"
check "the candidate queued for photosphere" "$P|openverse|photosphere" \
	"$(sql_in "$W4" "SELECT t.wnid, t.source, q.query FROM url_tags t JOIN queries q ON q.id = t.query_id")"
"$NATADV" -w "$W4" -q crawl --allow-private
check "crawled and tagged with the OOD class" "$P" "$(sql_in "$W4" "SELECT wnid FROM image_tags")"
H4=$(sql_in "$W4" "SELECT image_hash FROM image_tags")
check_match "audit names the query that found it" "photosphere" "$("$NATADV" -w "$W4" audit "$H4")"

if [ -n "${NATADV_KEEP_RELEASE:-}" ]; then
	rm -rf "$NATADV_KEEP_RELEASE"
	mkdir -p "$(dirname "$NATADV_KEEP_RELEASE")"
	cp -a "$T/rel" "$NATADV_KEEP_RELEASE"
fi
finish
