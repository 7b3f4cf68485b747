#!/usr/bin/env bash
# audit_null.sh — `natadv audit` of an image whose history has every column
# that may be empty empty (no licence, author or page, a fetch without
# headers, a selection without model, runs without end, ...): the text shows
# what there is, never "(null)", and the JSON says null.
. "$(dirname "$0")/lib.sh"
DEMO=$ROOT/examples/demo-model.safetensors

start_server
nat -q init
printf 'url\twnid\n%s/img/chelsea_q90.jpg\tn01498041\n' "$BASE" > "$T/seeds.tsv"
nat -q crawl --seeds "$T/seeds.tsv" --allow-private --retries 0
check "crawl" 0 "$?"
nat -q model add "$DEMO" --name demo && nat -q score --model demo
check "score" 0 "$?"
nat -q select --model demo --min-confidence 0 --max-true-prob 1 > /dev/null
check "select" 0 "$?"
H=$(sql "SELECT image_hash FROM urls LIMIT 1")
P=$(sql "SELECT id FROM proposals WHERE image_hash = '$H'")
nat -q review --accept "$P" > /dev/null
check "accept" 0 "$?"
nat -q export --out "$T/rel" --partial > /dev/null
check "export" 0 "$?"

# Every column the schema lets be NULL, NULL; text columns that may not be
# NULL hold a blob, which the audit reads as no text either.
sql "PRAGMA foreign_keys = OFF;
UPDATE url_tags SET query_id = NULL, page_url = NULL, license = NULL, author = NULL, run_id = NULL, title = NULL,
	source_id = NULL, license_raw = NULL, seed_ref = NULL, api_request_id = NULL;
UPDATE fetches SET http_status = NULL, final_url = NULL, redirects = NULL, content_type = NULL,
	declared_length = NULL, etag = NULL, last_modified = NULL, headers = NULL, error = NULL, run_id = NULL;
UPDATE robots_fetches SET http_status = NULL, final_url = NULL, error = NULL, body = NULL, run_id = NULL;
UPDATE scores SET error = NULL, top5 = NULL, pred_1k = NULL, prob_1k = NULL, pred_subset_wnid = NULL,
	prob_subset = NULL, run_id = NULL;
UPDATE selections SET model_id = NULL, run_id = NULL;
UPDATE proposals SET duplicate_of = NULL, distance = NULL;
UPDATE reviews SET reason = NULL, run_id = NULL;
UPDATE releases SET tar_sha256 = NULL, run_id = NULL;
UPDATE release_items SET converted = NULL;
UPDATE runs SET finished_at = NULL, status = NULL;
UPDATE runs SET args = x'01' WHERE command = 'crawl';
UPDATE fetches SET started_at = x'01';
UPDATE robots_fetches SET policy = x'01', started_at = x'01';
UPDATE scores SET scored_at = x'01';
UPDATE selections SET rule = x'01';
UPDATE reviews SET at = x'01';
UPDATE releases SET released_at = x'01', version = x'01';" 2> "$T/sqlerr"
check "nulled" "" "$(cat "$T/sqlerr")"
out=$(nat audit "$H" 2> "$T/err")
check "audit of a history full of nulls" 0 "$?"
check "no (null) in the text" "" "$(printf '%s\n' "$out" | grep -n '(null)')"
check_match "still the whole history" "^image $H" "$out"
check_match "its decision" "accept for 'imagenet-a' n01498041" "$out"
json=$(nat audit --json "$H")
check "audit --json" 0 "$?"
check "json: nulls are null" "null|null" "$(printf '%s' "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("%s|%s" % (json.dumps(d["tags"][0]["author"]), json.dumps(d["selections"][0]["model_id"])))')"
check "no (null) in the json" "" "$(printf '%s\n' "$json" | grep -o '(null)')"
finish
