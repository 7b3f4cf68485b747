#!/usr/bin/env bash
# audit.sh — `natadv audit` end to end: fixtures crawled over loopback,
# scored with the demo model, selected, reviewed (reject, undo, accept) and
# exported with the real commands, and the image found by hash, prefix,
# SHA-256, URL (as queued, normalised, final), release path and file content,
# in text and JSON; not found and ambiguous fail.
. "$(dirname "$0")/lib.sh"
DEMO=$ROOT/examples/demo-model.safetensors

start_server
nat -q init
{
	printf 'url\twnid\tpage_url\tlicense\tauthor\tsource\tquery\n'
	printf '%s/img/chelsea_q90.jpg\tn01498041\thttp://example.org/chelsea\tcc-by-4.0\tAnn Author\tseeds\tstingray photo\n' "$BASE"
	printf '%s/img/coffee_q90.jpg\tn01531178\t\t\t\t\t\n' "$BASE"
	printf '%s/same/a/coffee_q90.jpg\tn01534433\t\t\t\t\t\n' "$BASE"
	printf '%s/redirect/1/rocket.jpg\tn01558993\t\t\t\t\t\n' "$BASE"
	printf '%s/img/chelsea.png\tn01580077\t\t\t\t\t\n' "$BASE"
	printf '%s/status/404\tn01614925\t\t\t\t\t\n' "$BASE"
	printf '%s/img/chelsea_gray.jpg\tn01498041\t\t\t\t\t\n' "$BASE"
} > "$T/seeds.tsv"
nat -q crawl --seeds "$T/seeds.tsv" --allow-private --retries 0
check "crawl: one url fails" 3 "$?"
nat -q model add "$DEMO" --name demo
nat -q score --model demo
check "score" 0 "$?"

CH=$(sql "SELECT image_hash FROM urls WHERE url LIKE '%/img/chelsea_q90.jpg'")
CH_SHA=$(sql "SELECT sha256 FROM images WHERE hash = '$CH'")
CO=$(sql "SELECT image_hash FROM urls WHERE url LIKE '%/img/coffee_q90.jpg'")
PNG=$(sql "SELECT image_hash FROM urls WHERE url LIKE '%/chelsea.png'")
GRAY=$(sql "SELECT image_hash FROM urls WHERE url LIKE '%/chelsea_gray.jpg'")
ROCKET=$(sql "SELECT image_hash FROM urls WHERE url LIKE '%/rocket.jpg'")
MODEL=$(sql "SELECT id FROM models WHERE name = 'demo'")
check_match "hashes" '^[0-9a-f]{32}$' "$CH"

# Select, review and export. The demo model takes the cats (tagged stingray
# and jay) for alligators and the coffee (goldfinch, junco) for a newt;
# chelsea_gray, the same photo as CH with less confidence, is collapsed into
# CH. Bob rejects CH and undoes it, Alice accepts it and the png.
nat -q select --model demo --min-confidence 0.3 > /dev/null
check "select" 0 "$?"
prop() { sql "SELECT id FROM proposals WHERE image_hash = '$1' AND wnid = '$2'"; }
P_CH=$(prop "$CH" n01498041)
P_PNG=$(prop "$PNG" n01580077)
check "CH proposed, chelsea_gray collapsed into it" "proposed|near_duplicate|$P_CH" \
	"$(sql "SELECT group_concat(status || coalesce('|' || duplicate_of, ''), '|') FROM (SELECT * FROM proposals
	        WHERE wnid = 'n01498041' ORDER BY id)")"
R1=$(nat -q review --reject "$P_CH" --reason blurry --reviewer bob | cut -f1)
R2=$(nat -q review --undo "$R1" --reason misclick --reviewer bob | cut -f1)
R3=$(nat -q review --accept "$P_CH" --reason 'a cat the model calls an alligator' --reviewer alice | cut -f1)
nat -q review --accept "$P_PNG" --reviewer alice > /dev/null
check "reviews recorded" "3|$P_CH|$P_CH|$P_CH" "$(sql "SELECT count(DISTINCT id) || '|' || group_concat(proposal_id, '|')
	FROM reviews WHERE id IN ('$R1', '$R2', '$R3')")"
nat -q export --out "$T/rel" --partial > /dev/null
check "export" 0 "$?"
REL_PNG_SHA=$(sql "SELECT sha256 FROM release_items WHERE image_hash = '$PNG'")
check_match "the png was converted" '^[0-9a-f]{64}$' "$REL_PNG_SHA"

# By full hash: every section, readable.
out=$(nat audit "$CH")
check "audit by hash" 0 "$?"
check_match "image heading" "^image $CH" "$out"
check_match "sha-256" "sha256 +$CH_SHA" "$out"
check_match "format and size" "jpeg, [0-9]+ x [0-9]+, 35,042 bytes" "$out"
check_match "class tag with provenance" "n01498041 stingray" "$out"
check_match "query" "query +stingray photo" "$out"
check_match "licence" "license +cc-by-4.0" "$out"
check_match "seed line" "seed line +seeds.tsv:2" "$out"
check_match "the run that queued it" "by +run [0-9]+ at .*crawl --seeds" "$out"
check_match "fetch attempt" "/img/chelsea_q90.jpg attempt 1 at .*: HTTP 200, image" "$out"
check_match "headers kept" "Content-Type: image/jpeg" "$out"
check_match "etag" 'etag +"' "$out"
check_match "robots.txt row" "robots.txt at .*: HTTP 200, rules" "$out"
check_match "score" "demo \(resnet, [0-9a-f]{16}…\) at [^,]+, run [0-9]+" "$out"
check_match "the gemm kernels the score ran on" "ran on +$(hostname), (avx512|avx2|generic) gemm kernels" "$out"
check_match "selection in force" "selection 1 of 'imagenet-a', rule misclassified \(in force\)" "$out"
check_match "proposal" "proposal +$P_CH: n01498041 predicted n01698640, confidence $(sql "SELECT printf('%.4f', confidence) FROM proposals WHERE id = $P_CH")" "$out"
check_match "every review row" "#$R1 .* bob reject for 'imagenet-a' n01498041 \(cli\): blurry" "$out"
check_match "the undo" "#$R2 .* bob undo .*undoes #$R1: misclick" "$out"
check_match "decision in force" "#$R3 .* alice accept for 'imagenet-a' n01498041 \(cli\): a cat the model calls an alligator" "$out"
check_match "release path" "'imagenet-a' version 1.0 released [0-9-]{10}T[0-9:]{8}Z: imagenet-a/n01498041/$CH.jpg" "$out"
check_match "where it was written" "written to +$T/rel$" "$out"

# The same bytes from two urls: both tags, both urls' fetches.
out=$(nat audit "$CO")
check_match "second url's tag" "n01534433 junco" "$out"
check_match "second url's fetch" "/same/a/coffee_q90.jpg attempt 1" "$out"
check_match "proposed for both" "proposal +[0-9]+: n01531178 .*proposal +[0-9]+: n01534433 " "$(echo "$out" | tr '\n' ' ')"
check "no selection: none" 1 "$(nat audit "$ROCKET" | grep -A1 '^selections (0)' | grep -c 'none')"

# The other ways to name it.
check_match "by prefix" "^image $CH" "$(nat audit "${CH:0:8}")"
check_match "by upper-case hash" "^image $CH" "$(nat audit "$(echo "$CH" | tr a-f A-F)")"
check_match "by sha-256" "^image $CH" "$(nat audit "$CH_SHA")"
check_match "by the release file's sha-256" "^image $PNG" "$(nat audit "$REL_PNG_SHA")"
check_match "by url" "^image $CH" "$(nat audit "$BASE/img/chelsea_q90.jpg")"
check_match "by url, normalised" "^image $CH" "$(nat audit "HTTP://127.0.0.1:$PORT/img/chelsea_q90.jpg#frag")"
check_match "by final url after a redirect" "^image $ROCKET" "$(nat audit "$BASE/img/rocket.jpg")"
out=$(nat audit "$BASE/redirect/1/rocket.jpg")
check_match "redirect chain" "redirects +\[\"$BASE/redirect/0/rocket.jpg\",\"$BASE/img/rocket.jpg\"\]" "$out"
check_match "by release path" "^image $CH" "$(nat audit "imagenet-a/n01498041/$CH.jpg")"
check_match "by a path ending in one" "^image $PNG" "$(nat audit "/no/such/dir/imagenet-a/n01580077/$PNG.jpg")"
check_match "by a tail of one" "^image $CH" "$(nat audit "n01498041/$CH.jpg")"
mkdir -p "$T/release/imagenet-a/n01498041" "$T/elsewhere"
cp "$T/ws/objects/${CH:0:2}/${CH:2}" "$T/release/imagenet-a/n01498041/$CH.jpg"
NAT_ABS=$(realpath "$NATADV")
check_match "by a file in an exported release" "^image $CH" \
	"$(cd "$T/release/imagenet-a/n01498041" && "$NAT_ABS" -w "$T/ws" audit "./$CH.jpg")"
check_match "by a release's file name, not recorded here" "^image $ROCKET" "$(nat audit "/elsewhere/imagenet-a/n01558993/$ROCKET.jpg")"
cp "$T/ws/objects/${CO:0:2}/${CO:2}" "$T/elsewhere/renamed.jpg"
check_match "by a file's content" "^image $CO" "$(nat audit "$T/elsewhere/renamed.jpg")"

# JSON: one object with stable keys.
nat audit --json "$CH" > "$T/audit.json"
check "audit --json" 0 "$?"
got=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(sorted(d))
print(d["image"]["xxh128"] == sys.argv[2], d["image"]["bytes"])
f = [x for x in d["fetches"] if x["outcome"] == "image"][0]
print(f["http_status"], f["redirects"], f["content_type"])
t = d["tags"][0]
print(t["wnid"], t["source"], t["query"], t["seed_ref"], t["run"]["command"], t["api_request"])
s = d["scores"][0]
print(s["model"], s["model_id"] == sys.argv[3], s["status"], type(s["true_class_probs"]).__name__,
      s["ran_on"]["gemm_kernels"] in ("avx512", "avx2", "generic"), f["ran_on"].get("gemm_kernels"))
p = d["selections"][0]
print(p["rule"], p["params"]["space"], p["in_force"], p["status"])
print([(r["id"], r["decision"], r["undoes"]) for r in d["reviews"]])
r = d["review_in_force"][0]
print(r["decision"], r["reviewer"], r["reason"])
print([(x["path"] == "imagenet-a/n01498041/" + sys.argv[2] + ".jpg", x["version"], x["converted"]) for x in d["releases"]])
' "$T/audit.json" "$CH" "$MODEL")
check "json keys and values" "['fetches', 'image', 'releases', 'review_in_force', 'reviews', 'robots', 'scores', 'selections', 'tags']
True 35042
200 None image/jpeg
n01498041 seeds stingray photo seeds.tsv:2 crawl None
demo True scored list True None
misclassified subset True proposed
[($R1, 'reject', None), ($R2, 'undo', $R1), ($R3, 'accept', None)]
accept alice a cat the model calls an alligator
[(True, '1.0', None)]" "$got"
got=$(nat audit --json "$GRAY" | python3 -c '
import json, sys
d = json.load(sys.stdin)
p = d["selections"][0]
print(p["status"], p["duplicate_of"], p["duplicate_of_image"] == sys.argv[1], p["distance"], d["review_in_force"], d["releases"])
' "$CH")
check_match "a near duplicate in json" "^near_duplicate $P_CH True [0-6] \[\] \[\]$" "$got"
got=$(nat audit --json "$PNG" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["releases"][0]["converted"], d["releases"][0]["sha256"], d["image"]["format"])')
check "a conversion in json" "png->jpeg q=95 $REL_PNG_SHA png" "$got"

# Not found, ambiguous, bad keys: exit 1 with a message.
nat audit 0123456789abcdef0123456789abcdef 2> "$T/err"
check "unknown hash" 1 "$?"
check_match "not found message" "no image matches '0123456789abcdef0123456789abcdef'" "$(cat "$T/err")"
nat audit "$BASE/status/404" 2> "$T/err"
check "a url that gave no image" 1 "$?"
nat audit "$T/no-such-file.jpg" 2> "$T/err"
check "a missing file" 1 "$?"
nat audit abc123 2> "$T/err"
check "too short a prefix" 1 "$?"
check_match "prefix message" "at least 8 hex digits" "$(cat "$T/err")"
# Two images whose hashes share a prefix: by hand, as no crawl makes them on demand.
ODD_SHA=$(printf 'odd' | sha256sum | cut -d' ' -f1)
sql "INSERT INTO images(hash, sha256, bytes, format, width, height, phash, first_seen) VALUES
       ('deadbeef000000000000000000000001', '$ODD_SHA', 1, 'jpeg', 64, 64, 0, '2026-01-01T00:00:00Z'),
       ('deadbeef000000000000000000000002', '$ODD_SHA', 1, 'jpeg', 64, 64, 0, '2026-01-01T00:00:00Z')"
nat audit deadbeef > "$T/out" 2> "$T/err"
check "ambiguous prefix" 1 "$?"
check_match "candidates listed" "matches 2 images" "$(cat "$T/err")"
check "both candidates" 2 "$(grep -c '^  deadbeef00000000000000000000000[12]$' "$T/err")"
check "nothing on stdout" "" "$(cat "$T/out")"
check_match "one of them by its full hash" "^image deadbeef000000000000000000000002" "$(nat audit deadbeef000000000000000000000002)"
nat audit 2> /dev/null
check "no argument" 2 "$?"
nat audit "$CH" "$CO" 2> /dev/null
check "two arguments" 2 "$?"
check "audit runs are recorded" 1 "$(sql "SELECT count(*) > 10 FROM runs WHERE command = 'audit'")"
finish
