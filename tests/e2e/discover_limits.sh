#!/usr/bin/env bash
# discover_limits.sh — what ends or holds back a discover run, against canned
# answers on loopback (tests/fixtures/discover/limits_routes.tsv): three pages
# in a row with nothing new end a query (and a page with something new starts
# the count again); --max-pages, 50 by default, ends an endless search for
# this run and the next run goes on; a Retry-After longer than --max-wait
# (300 s by default) leaves the page for a later run at once, a shorter one is
# waited out, and --max-wait caps the backoff when no Retry-After is sent.
. "$(dirname "$0")/lib.sh"
start_server --routes "$FIX/discover/limits_routes.tsv"
nat -q init
disc() { # SOURCE ARGS...
	local src=$1
	shift
	nat -v discover --source "$src" --endpoint "$BASE/api/$src" --min-interval 0 --retry-base 0.1 --allow-private "$@"
}
# rows QUERY: "page:status:outcome" of each request of a query, in order
rows() {
	sql "SELECT group_concat(x, ',') FROM (SELECT a.page || ':' || coalesce(a.http_status, '') || ':' || a.outcome AS x
	     FROM api_requests a JOIN queries q ON q.id = a.query_id WHERE q.query = '$1' ORDER BY a.id)"
}
now() { date +%s.%N; }
# within A B SECONDS: 1 when B - A < SECONDS
within() { python3 -c "import sys; print(int(float(sys.argv[2]) - float(sys.argv[1]) < float(sys.argv[3])))" "$@"; }

# ---- three pages in a row with nothing new ----
out=$(disc openverse --classes n02666196 --page-size 2 2>&1)
check "the same page again and again: exit 0" 0 "$?"
check "a new page, then three with nothing new, then no more" "1:200:ok,2:200:ok,3:200:ok,4:200:ok" "$(rows abacus)"
check_match "says why it moved on" "openverse: 'abacus' for n02666196: 3 pages in a row held nothing new; moving on" "$out"
check "the two results queued once" 2 "$(sql "SELECT count(*) FROM url_tags WHERE wnid = 'n02666196'")"
out=$(disc openverse --classes n02672831 --page-size 2 2>&1)
check "something new on page 3 starts the count again" "1,2,3,4,5,6" \
	"$(sql "SELECT group_concat(page) FROM (SELECT a.page FROM api_requests a JOIN queries q ON q.id = a.query_id
	        WHERE q.query = 'accordion' ORDER BY a.id)")"
check_match "and it ends three pages after it" "'accordion' for n02672831: 3 pages in a row held nothing new" "$out"

# ---- --max-pages: 50 by default, per query and run ----
pages() { sql "SELECT count(*) || '|' || min(CAST(page AS INTEGER)) || '|' || max(CAST(page AS INTEGER))
               FROM api_requests a JOIN queries q ON q.id = a.query_id WHERE q.query = 'banjo' AND a.run_id = $1"; }
lastrun() { sql "SELECT max(id) FROM runs WHERE command = 'discover'"; }
out=$(disc inaturalist --classes n02787622 --page-size 2 --per-class 1000000 2>&1)
check "an endless search: exit 0" 0 "$?"
check "stops after 50 pages" "50|1|50" "$(pages "$(lastrun)")"
check_match "and says so" "inaturalist: 'banjo' for n02787622: 50 pages in this run \(--max-pages\); run again for more" "$out"
check "every page's results queued" 100 "$(sql "SELECT count(*) FROM url_tags WHERE wnid = 'n02787622'")"
disc inaturalist --classes n02787622 --page-size 2 --per-class 1000000 --max-pages 7 2> /dev/null
check "the next run goes on at page 51, for --max-pages more" "7|51|57" "$(pages "$(lastrun)")"

# ---- --max-wait ----
t0=$(now)
out=$(disc openverse --classes n02730930 --page-size 2 --per-class 2 --max-wait 20 2>&1)
rc=$?
t1=$(now)
check "Retry-After: 30 over --max-wait 20: the page failed (exit 3)" 3 "$rc"
check "one request, recorded as failed, to be asked again" "1:503:failed|1" \
	"$(rows apron)|$(sql "SELECT next_page FROM api_requests a JOIN queries q ON q.id = a.query_id WHERE q.query = 'apron'")"
check_match "the reason names both waits" "HTTP 503 \(asks to wait 30 s, more than 20 s\)" \
	"$(sql "SELECT error FROM api_requests a JOIN queries q ON q.id = a.query_id WHERE q.query = 'apron'")"
check_match "and is reported" "openverse request [0-9]+ \(page 1 of 'apron' for n02730930\) .*HTTP 503 \(asks to wait 30 s, more than 20 s\); nothing stored from it, will be asked again in a later run" "$out"
check "without waiting" 1 "$(within "$t0" "$t1" 10)"
disc openverse --classes n02730930 --page-size 2 --per-class 2 --max-wait 20 2> /dev/null
check "a later run asks the page again and gets it" "0|1:503:failed,1:200:ok|2" \
	"$?|$(rows apron)|$(sql "SELECT count(*) FROM url_tags WHERE wnid = 'n02730930'")"

out=$(disc openverse --classes n02906734 --page-size 2 --per-class 2 --max-wait 20 2>&1)
rc=$?
check "Retry-After: 2 within --max-wait 5 is waited out" "0|1:503:retry,1:200:ok" "$rc|$(rows broom)"
check "for 2 s" 1 \
	"$(sql "SELECT (julianday(b.started_at) - julianday(a.finished_at)) * 86400 >= 1.9 FROM api_requests a
	        JOIN api_requests b ON b.id = a.id + 1 JOIN queries q ON q.id = a.query_id WHERE q.query = 'broom' AND a.outcome = 'retry'")"
check_match "saying so" "HTTP 503; trying again in 2.0 s" "$out"

disc openverse --classes n02909870 --page-size 2 --per-class 2 2> "$T/err"
check "Retry-After: 301 over the default --max-wait of 300: the page failed" "3|1:429:failed" "$?|$(rows bucket)"
check_match "saying so" "HTTP 429 \(asks to wait 301 s, more than 300 s\)" "$(cat "$T/err")"

t0=$(now)
out=$(disc openverse --classes n02834397 --page-size 2 --retries 2 --retry-base 60 --max-wait 0.3 2>&1)
rc=$?
t1=$(now)
check "a 503 without Retry-After: retried twice, then the page failed" "3|1:503:retry,1:503:retry,1:503:failed" "$rc|$(rows bib)"
check "--max-wait caps the backoff (60 s, then 120 s)" 2 "$(printf '%s\n' "$out" | grep -c 'HTTP 503; trying again in 0.3 s$')"
check "so the run is quick" 1 "$(within "$t0" "$t1" 10)"
check "integrity" ok "$(sql 'PRAGMA integrity_check')"
finish
