#!/usr/bin/env bash
# discover.sh — natadv discover against canned answers of the four image APIs
# (tests/fixtures/discover/routes.tsv) on loopback: licences, authors and
# queries kept, a 429 and a 503 waited out, truncated JSON and an HTML page
# refused without storing anything, endless pagination cut, resuming after
# --max-requests and after kill -9, the API key never stored; then crawl and
# check each image's provenance back to the request that found it.
. "$(dirname "$0")/lib.sh"
start_server --routes "$FIX/discover/routes.tsv"
nat -q init
G=n01531178   # goldfinch, Carduelis carduelis
B=n01530575   # brambling, Fringilla montifringilla: an endless search
disc() { # SOURCE ARGS...
	local src=$1
	shift
	nat discover --source "$src" --endpoint "$BASE/api/$src" --min-interval 0 --retry-base 0.1 --allow-private "$@"
}
# the SHA-256 of a fixture as served (with {base} filled in)
served_sha() { sed "s#{base}#$BASE#g" "$FIX/discover/$1" | sha256sum | cut -d' ' -f1; }
tag() { # URL-SUFFIX WNID COLUMNS
	sql "SELECT $3 FROM url_tags t JOIN urls u ON u.id = t.url_id LEFT JOIN queries q ON q.id = t.query_id
	     WHERE u.url LIKE '%$1' AND t.wnid = '$2'"
}

# ---- usage and setup errors ----
nat discover --source google 2> "$T/err"
check "unknown source is a usage error" 2 "$?"
check_match "named" "unknown source 'google'" "$(cat "$T/err")"
nat discover --source openverse --query-template "photo" 2> /dev/null
check "a template without {name}" 2 "$?"
nat discover --source openverse --classes n99999999 2> "$T/err"
check "unknown wnid" 2 "$?"
nat discover --source openverse --set imagenet-a --classes $G 2> /dev/null
check "--set and --classes together" 2 "$?"
FLICKR_API_KEY= disc flickr --classes $G 2> "$T/err"
check "flickr without a key fails" 1 "$?"
check_match "and says which variable" "flickr needs an API key: set FLICKR_API_KEY" "$(cat "$T/err")"
"$NATADV" -w "$T/none" discover --source openverse 2> "$T/err"
check "no workspace" 1 "$?"

# ---- openverse: 429, truncated JSON, an HTML page, licences ----
out=$(disc openverse --classes $G,n01534433 --page-size 2 2>&1)
check "openverse: done, some pages failed" 3 "$?"
check "requests in order" "1:429:retry,1:200:ok,2:200:failed,3:200:ok" \
	"$(sql "SELECT group_concat(x) FROM (SELECT a.page || ':' || a.http_status || ':' || a.outcome AS x FROM api_requests a
	        JOIN queries q ON q.id = a.query_id WHERE a.source = 'openverse' AND q.query = 'goldfinch' ORDER BY a.id)")"
check "Retry-After: 1 was waited out" 1 \
	"$(sql "SELECT (julianday(b.started_at) - julianday(a.finished_at)) * 86400 >= 0.9 FROM api_requests a
	        JOIN api_requests b ON b.id = a.id + 1 WHERE a.id = 1")"
check_match "the truncated page is named with its request" \
	"openverse request 3 \(page 2 of 'goldfinch' for $G\) 'http://127.0.0.1:[0-9]+/api/openverse/v1/images/\?q=goldfinch&[^']*': malformed JSON at line 12" "$out"
check_match "the HTML page too" "openverse request 5 \(page 1 of 'Carduelis carduelis' for $G\) .*: an HTML page, not JSON; nothing stored from it, going on with the next page" "$out"
check_match "an unknown licence is reported" "unknown licence 'sampling\+ 1.0' of image 'c0ffee00-1111-4222-8333-444455556666': recorded, not queued" "$out"
check "nothing stored from a failed page" 0 \
	"$(sql "SELECT count(*) FROM url_tags t JOIN api_requests a ON a.id = t.api_request_id WHERE a.outcome != 'ok'")"
check "the request asked for the licence filter" 1 \
	"$(sql "SELECT count(*) FROM api_requests WHERE id = 2 AND url LIKE '%&license=cc0\%2Cpdm\%2Cby\%2Cby-sa&%' ESCAPE '\\'")"
check "the body's SHA-256 is kept" "$(served_sha openverse/goldfinch_3.json)" "$(sql "SELECT body_sha256 FROM api_requests WHERE id = 4")"
check "each ok row counts its candidates" "3|1|2" "$(sql "SELECT candidates || '|' || queued || '|' || next_page FROM api_requests WHERE id = 2")"
check "a queued candidate's provenance" \
	"openverse|goldfinch|cc-by-2.0|by 2.0|Ann Example|American Goldfinch on a thistle|4bc43a04-ef46-4544-a0c1-63c63f56e276|https://www.flickr.com/photos/12345678@N00/3456789012|2" \
	"$(tag /gen/101.jpg $G "t.source || '|' || q.query || '|' || t.license || '|' || t.license_raw || '|' || t.author || '|' || t.title || '|' || t.source_id || '|' || t.page_url || '|' || t.api_request_id")"
check "the same url found for a second class is a second tag" "junco" "$(tag /gen/101.jpg n01534433 q.query)"
check "one url for both" 1 "$(sql "SELECT count(*) FROM urls WHERE url LIKE '%/gen/101.jpg'")"
check "a non-free licence is recorded, not queued" "licence|cc-by-nc-4.0|by-nc 4.0|Bob Sample|2" \
	"$(sql "SELECT reason || '|' || license || '|' || license_raw || '|' || author || '|' || api_request_id FROM discover_skipped WHERE source_id = '9e1c7f0a-2d4b-4c55-8a7e-0f3b5c9d1e22'")"
check "and is not in the frontier" 0 "$(sql "SELECT count(*) FROM urls WHERE url LIKE '%/gen/102.jpg'")"
n=$(sql "SELECT count(*) FROM api_requests")
disc openverse --classes $G,n01534433 --page-size 2 2> /dev/null
check "a second run: nothing left to ask" "0|$n" "$?|$(sql "SELECT count(*) FROM api_requests")"
check_match "requests name natadv and a contact" "^GET /api/openverse/v1/images/ 200 natadv/[0-9.]+%20\(\+https://github.com/natadv/natadv;%20research%20crawler\)" \
	"$(grep -m1 ' 200 ' "$T/server.log")"

# ---- inaturalist: the taxon first, square -> large, all rights reserved ----
disc inaturalist --classes $G --page-size 2 2> "$T/err"
check "inaturalist ok" 0 "$?"
check_match "the Latin name is asked first, as a taxon" "/v1/observations\?taxon_name=Carduelis%20carduelis&photos=true&quality_grade=research&photo_license=cc0%2Ccc-by%2Ccc-by-sa&page=1&per_page=2$" \
	"$(sql "SELECT url FROM api_requests WHERE source = 'inaturalist' ORDER BY id LIMIT 1")"
check "photo urls rewritten to the large size" "3|0" \
	"$(sql "SELECT sum(url LIKE '%/large.jp%'), sum(url LIKE '%square%') FROM urls WHERE url LIKE '%inat-photos%'" | tr '\n' ' ' | sed 's/ $//')"
check "an inaturalist candidate" "cc-by-4.0|cc-by|Fran Field|https://www.inaturalist.org/observations/150001|Carduelis carduelis|Carduelis carduelis" \
	"$(tag /260001/large.jpg $G "t.license || '|' || t.license_raw || '|' || t.author || '|' || t.page_url || '|' || t.title || '|' || q.query")"
check "all rights reserved is not queued" "licence|all-rights-reserved|birder_bo" \
	"$(sql "SELECT reason || '|' || license || '|' || author FROM discover_skipped WHERE source = 'inaturalist'")"

# ---- wikimedia: continuation, HTML in Artist, an SVG, a repeating token ----
out=$(disc wikimedia --classes $G --page-size 2 2>&1)
check "wikimedia ok" 0 "$?"
check "the continuation is asked for as sent" '{"continue":"gsroffset||","gsroffset":2}' \
	"$(sql "SELECT page FROM api_requests WHERE source = 'wikimedia' AND url LIKE '%gsroffset=2%'")"
check "artist without its HTML" "Jane Doe & J. Smith|cc-by-sa-4.0|CC BY-SA 4.0|https://commons.wikimedia.org/wiki/File:Carduelis_carduelis_close_up.jpg" \
	"$(tag '/hubble_deep_field.jpg?wm=88001' $G "t.author || '|' || t.license || '|' || t.license_raw || '|' || t.page_url")"
check "public domain" "pdm|Unknown author" "$(tag '/chelsea.png?wm=88003' $G "t.license || '|' || t.author")"
check "an SVG is not queued" "not_jpeg_png" "$(sql "SELECT reason FROM discover_skipped WHERE source = 'wikimedia' AND source_id = '88002'")"
check_match "a continuation that repeats itself ends the query" "the source sent the page just asked for as the next one; stopping this query" "$out"
check "and is not asked a third time" 2 "$(sql "SELECT count(*) FROM api_requests a JOIN queries q ON q.id = a.query_id
	WHERE a.source = 'wikimedia' AND q.query = 'Carduelis carduelis'")"

# ---- flickr: the key sent but never stored, a 503, licence ids ----
out=$(FLICKR_API_KEY=test-secret-key disc flickr --classes $G --page-size 4 2>&1)
check "flickr ok" 0 "$?"
check "the key is in no stored url" 0 "$(sql "SELECT count(*) FROM api_requests WHERE url LIKE '%secret%' OR url LIKE '%api\_key%' ESCAPE '\\'")"
# the database as its files hold it: the main file and the WAL (a write can
# stay there until a checkpoint)
db_bytes() { cat "$T/ws/natadv.db" "$T/ws/natadv.db-wal" 2> /dev/null; }
check "the database files hold the requests (the search below can find what is stored)" 1 \
	"$(( $(db_bytes | grep -a -c 'method=flickr\.photos\.search') > 0 ))"
check "nor in the database files" 0 "$(db_bytes | grep -a -c test-secret-key)"
check "a 503 was retried" "2:503:retry" "$(sql "SELECT page || ':' || http_status || ':' || outcome FROM api_requests WHERE source = 'flickr' AND outcome = 'retry'")"
check "a flickr candidate" "cc-by-2.0|4|Gus Grey|https://www.flickr.com/photos/12345678@N01/53012345678|Goldfinch on teasel|53012345678" \
	"$(tag '/coffee.png?fl=53012345678' $G "t.license || '|' || t.license_raw || '|' || t.author || '|' || t.page_url || '|' || t.title || '|' || t.source_id")"
check "the others not queued, with why" "53012345679:licence:all-rights-reserved,53012345680:no_url:cc-by-sa-2.0,53012345681:unknown_licence:" \
	"$(sql "SELECT group_concat(source_id || ':' || reason || ':' || coalesce(license, ''), ',') FROM (SELECT * FROM discover_skipped WHERE source = 'flickr' ORDER BY source_id)")"
check_match "an unknown licence id is reported" "unknown licence '99'" "$out"
out=$(FLICKR_API_KEY=wrong-key disc flickr --classes $B 2>&1)
check "a source failing again and again stops the run" 1 "$?"
check_match "saying why" "flickr failed 3 requests in a row, the last: flickr says: Invalid API Key \(Key has invalid format\) \(code 100\)" "$out"

# ---- stats shows the choice ----
st=$(nat stats)
check_match "stats: discover per source" "openverse +[0-9]+ +2 +" "$st"
check_match "stats: what was not queued and why" "not queued: openverse licence cc-by-nc-4.0: 1" "$st"
check "stats --json" "4|2|1" "$(nat stats --json | python3 -c 'import json,sys; d=json.load(sys.stdin)["discover"]; print(d["sources"]["wikimedia"]["requests"], d["sources"]["flickr"]["queued"], sum(x["count"] for x in d["not_queued"] if x["license"] == "cc-by-nc-4.0"), sep="|")')"

# ---- crawl what was queued; provenance from image to request ----
nat -q crawl --allow-private
check "crawl ok" 0 "$?"
check "everything queued was fetched" "0|0" "$(sql "SELECT sum(state = 'pending'), sum(state = 'failed') FROM urls" | tr -d '\n')"
check "an image traced to its query, licence, author and request" "openverse|goldfinch|cc-by-2.0|Ann Example|1" \
	"$(sql "SELECT t.source || '|' || q.query || '|' || t.license || '|' || t.author || '|' || (a.url LIKE '%?q=goldfinch&%')
	        FROM images i JOIN image_tags it ON it.image_hash = i.hash JOIN urls u ON u.id = it.url_id
	        JOIN url_tags t ON t.url_id = it.url_id AND t.wnid = it.wnid JOIN queries q ON q.id = t.query_id
	        JOIN api_requests a ON a.id = t.api_request_id WHERE u.url LIKE '%/gen/101.jpg' AND it.wnid = '$G'")"
check "every image from each source has a licence and an author" "4|0" \
	"$(sql "SELECT count(DISTINCT t.source), sum(t.license IS NULL OR t.author IS NULL) FROM image_tags it
	        JOIN url_tags t ON t.url_id = it.url_id AND t.wnid = it.wnid" | tr -d '\n')"
check "images from discover" 9 "$(sql "SELECT count(DISTINCT image_hash) FROM image_tags")"
check_blobs

# ---- audit: an image names its query, licence, author and the request that found it ----
nat audit "$BASE/gen/101.jpg" > "$T/audit.out"
check "audit by the discovered url" 0 "$?"
tagblock=$(awk -v w="$G" '/^  n[0-9]+ / { on = ($1 == w) } /^[a-z]/ { on = 0 } on' "$T/audit.out")
check_match "the goldfinch tag: source, query, licence as given, author, title" \
	"source +openverse .*query +goldfinch .*license +cc-by-2.0 .*license as given +by 2.0 .*author +Ann Example .*title +American Goldfinch on a thistle " \
	"$(echo "$tagblock" | tr '\n' ' ')"
REQ_SHA=$(sql "SELECT body_sha256 FROM api_requests WHERE id = 2")
check_match "and the request that found it" \
	"found by request +#2 openverse $BASE/api/openverse/v1/images/\?q=goldfinch&[^ ]* at [0-9T:.-]+Z, HTTP 200, body sha256 $REQ_SHA" "$tagblock"
check_match "the junco tag, its own query" " n01534433 junco.* query +junco " "$(tr '\n' ' ' < "$T/audit.out")"
got=$(nat audit --json "$BASE/gen/101.jpg" | python3 -c '
import json, sys
d = json.load(sys.stdin)
t = [t for t in d["tags"] if t["wnid"] == sys.argv[1]][0]
a = t["api_request"]
print(t["source"], t["query"], t["license"], t["license_raw"], t["author"], t["source_id"], sep="|")
print(a["id"], a["source"], a["http_status"], a["body_sha256"] == sys.argv[2], "?q=goldfinch&" in a["url"], sep="|")' "$G" "$REQ_SHA")
check "audit --json: the same provenance" "openverse|goldfinch|cc-by-2.0|by 2.0|Ann Example|4bc43a04-ef46-4544-a0c1-63c63f56e276
2|openverse|200|True|True" "$got"

# ---- endless pagination, --per-class, --max-pages, --max-requests (Openverse serves 20 pages deep) ----
pages() { sql "SELECT group_concat(page) FROM (SELECT a.page FROM api_requests a JOIN queries q ON q.id = a.query_id
               WHERE a.source = 'openverse' AND q.query = 'brambling' AND a.outcome = 'ok' ORDER BY a.id)"; }
disc openverse --classes $B --page-size 2 --per-class 5 2> /dev/null
check "--per-class ends an endless search" "0|1,2,3" "$?|$(pages)"
out=$(disc openverse --classes $B --page-size 2 --per-class 100 --max-pages 2 2>&1)
check "--max-pages: two more pages, resumed" "1,2,3,4,5" "$(pages)"
out=$(disc openverse --classes $B --page-size 2 --per-class 100 --max-requests 1 2>&1)
check "--max-requests: exit 0" 0 "$?"
check_match "and says so" "stopped after 1 requests \(--max-requests\); run again to continue" "$out"
check "one request, the next page" "1,2,3,4,5,6" "$(pages)"

# ---- kill -9 in the middle: whole pages only, and a re-run goes on ----
"$NATADV" -w "$T/ws" discover --source openverse --endpoint "$BASE/api/openverse" --allow-private --classes $B \
	--page-size 2 --per-class 100000 --max-pages 100000 --min-interval 0.2 2> /dev/null &
pid=$!
# poll QUERY: its number, read while discover writes (no failed check meanwhile)
poll() { sqlite3 -batch -noheader -cmd '.timeout 5000' "$T/ws/natadv.db" "$1" 2> /dev/null; }
# killed once it has stored two more pages (7 and 8), not after a fixed sleep
for _ in $(seq 1 400); do
	[ "$(poll "SELECT max(CAST(page AS INTEGER)) FROM api_requests a JOIN queries q ON q.id = a.query_id
	           WHERE q.query = 'brambling' AND a.outcome = 'ok'")" -gt 7 ] 2> /dev/null && break
	sleep 0.05
done
kill -9 "$pid"
wait "$pid" 2> /dev/null
check "every stored page is whole" 0 \
	"$(sql "SELECT count(*) FROM api_requests a JOIN queries q ON q.id = a.query_id WHERE q.query = 'brambling' AND outcome = 'ok' AND candidates !=
	        (SELECT count(*) FROM url_tags WHERE api_request_id = a.id) + (SELECT count(*) FROM discover_skipped WHERE api_request_id = a.id)")"
last=$(sql "SELECT max(CAST(page AS INTEGER)) FROM api_requests a JOIN queries q ON q.id = a.query_id WHERE q.query = 'brambling' AND a.outcome = 'ok'")
check "the killed run got some pages" 1 "$(( last > 7 ))"
disc openverse --classes $B --page-size 2 --per-class 100000 --max-requests 1 2> /dev/null
check "a re-run asks the page after the last stored one" "$((last + 1))" \
	"$(sql "SELECT page FROM api_requests WHERE source = 'openverse' ORDER BY id DESC LIMIT 1")"
"$NATADV" -w "$T/ws" discover --source openverse --endpoint "$BASE/api/openverse" --allow-private --classes n01532829 \
	--page-size 2 --per-class 100000 --min-interval 0.3 2> "$T/err" &
pid=$!
# stopped once it has stored a page, while it waits for the next one
for _ in $(seq 1 400); do
	[ "$(poll "SELECT count(*) FROM api_requests WHERE wnid = 'n01532829' AND outcome = 'ok'")" -gt 0 ] 2> /dev/null && break
	sleep 0.05
done
kill -TERM "$pid"
wait "$pid"
check "SIGTERM stops it cleanly" 1 "$?"
check_match "saying how to go on" "interrupted \(run 'natadv discover' again to continue\)" "$(cat "$T/err")"
check "and records the end of the run" 1 "$(sql "SELECT status FROM runs WHERE command = 'discover' ORDER BY id DESC LIMIT 1")"
check "no page failed by it" 0 "$(sql "SELECT count(*) FROM api_requests WHERE outcome = 'failed' AND wnid = 'n01532829'")"
disc openverse --classes $B --page-size 2 --per-class 100000 2> /dev/null
check "an endless search ends at Openverse's page 20" "0|20|" \
	"$?|$(sql "SELECT page || '|' || coalesce(next_page, '') FROM api_requests a JOIN queries q ON q.id = a.query_id
	          WHERE q.query = 'brambling' ORDER BY a.id DESC LIMIT 1")"
check "integrity" ok "$(sql 'PRAGMA integrity_check')"
check "foreign keys" "" "$(sql 'PRAGMA foreign_key_check')"

# ---- private addresses refused by default; a query template ----
"$NATADV" -w "$T/ws" discover --source openverse --endpoint "$BASE/api/openverse" --classes n01440764 \
	--min-interval 0 --retries 0 2> /dev/null
check "loopback refused without --allow-private" 3 "$?"
check_match "with the reason" "^refused to connect to a private address" \
	"$(sql "SELECT error FROM api_requests WHERE wnid = 'n01440764' ORDER BY id LIMIT 1")"
disc openverse --classes n01440764 --query-template "photo of {name}" 2> /dev/null
check "a template around the common name" "0|Tinca tinca,photo of tench" \
	"$?|$(sql "SELECT group_concat(query) FROM (SELECT DISTINCT q.query FROM api_requests a JOIN queries q ON q.id = a.query_id
	          WHERE a.wnid = 'n01440764' AND a.outcome = 'ok' ORDER BY q.query)")"

# ---- iNaturalist's credit line: the photo's attribution, verbatim, beside the user's name ----
check "inaturalist: the attribution kept verbatim" "Fran Field|(c) Fran Field, some rights reserved (CC BY)" \
	"$(tag /260001/large.jpg $G "t.author || '|' || t.attribution")"
finish
