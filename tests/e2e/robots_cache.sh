#!/usr/bin/env bash
# robots_cache.sh — robots.txt answering 5xx means "wait and try again": the
# host's URLs wait (no attempt spent, nothing failed) and are fetched once
# robots.txt answers; the cached robots.txt is reused within a day and asked
# again after one (NATADV_NOW moves crawl's clock for this).
. "$(dirname "$0")/lib.sh"
nat -q init
srv() { # NAME ARGS...: starts a testsrv over $T/NAME; sets its base URL in B_NAME
	local name=$1
	shift
	"$TESTSRV" --port-file "$T/$name.port" --root "$T/$name" --log "$T/$name.log" "$@" &
	PIDS="${PIDS:-} $!"
	for _ in $(seq 1 100); do [ -s "$T/$name.port" ] && break; sleep 0.05; done
	eval "B_$name=http://127.0.0.1:$(cat "$T/$name.port")"
}
row() { sql "SELECT state || '|' || attempts || '|' || coalesce(last_error, '') FROM urls WHERE url = '$1'"; }

# ---- robots.txt answers 503 twice, then 200 ----
mkdir -p "$T/busy"
cp "$FIX/rocket.jpg" "$FIX/coffee_q90.jpg" "$T/busy/"
srv busy --robots-fail 2
printf 'url\twnid\n%s/img/rocket.jpg\tn04266014\n%s/img/coffee_q90.jpg\tn07920052\n' "$B_busy" "$B_busy" > "$T/busy.tsv"
nat -q crawl --seeds "$T/busy.tsv" --allow-private --retries 3 --retry-base 0.1
check "the crawl ends well" 0 "$?"
check "the first url waited, then was fetched with one attempt" "fetched|1|" "$(row "$B_busy/img/rocket.jpg")"
check "so did the second" "fetched|1|" "$(row "$B_busy/img/coffee_q90.jpg")"
check "robots.txt asked three times" 3 "$(grep -c '^GET /robots.txt' "$T/busy.log")"
check "no image asked before robots.txt answered" "GET /robots.txt 503
GET /robots.txt 503
GET /robots.txt 200" "$(grep -m 3 '^GET ' "$T/busy.log" | cut -d' ' -f1-3)"
check "each image asked once" 2 "$(grep -c '^GET /img/' "$T/busy.log")"
check "every robots.txt attempt recorded" "503|robots.txt unreachable: HTTP 503|disallow_all
503|robots.txt unreachable: HTTP 503|disallow_all
200||rules" "$(sql "SELECT http_status || '|' || coalesce(error, '') || '|' || policy FROM robots_fetches
                     WHERE host = '$B_busy' ORDER BY id")"

# ---- the cache: reused within a day, asked again after one ----
mkdir -p "$T/day"
cp "$FIX/rocket.jpg" "$FIX/coffee_q90.jpg" "$FIX/chelsea.png" "$T/day/"
printf 'User-agent: *\nDisallow: /private/\n' > "$T/day/robots.txt"
srv day
seed() { printf 'url\twnid\n%s/img/%s\t%s\n' "$B_day" "$1" "$2" > "$T/one.tsv"; }
hits() { grep -c '^GET /robots.txt' "$T/day.log"; }
NOW=$(date +%s)
seed rocket.jpg n04266014
nat -q crawl --seeds "$T/one.tsv" --allow-private
check "first crawl fetches robots.txt" "0|1" "$?|$(hits)"
# the host now forbids everything, which only a fresh robots.txt can show
printf 'User-agent: *\nDisallow: /\n' > "$T/day/robots.txt"
seed coffee_q90.jpg n07920052
NATADV_NOW=$((NOW + 23 * 3600)) nat -q crawl --seeds "$T/one.tsv" --allow-private
check "23 hours later the cached robots.txt is used" "0|1" "$?|$(hits)"
check "with its old rules" "fetched|1|" "$(row "$B_day/img/coffee_q90.jpg")"
seed chelsea.png n02123045
NATADV_NOW=$((NOW + 25 * 3600)) nat -q crawl --seeds "$T/one.tsv" --allow-private
check "25 hours later robots.txt is asked again" 2 "$(hits)"
check "and its new rules apply" "opted_out|1|disallowed by robots.txt" "$(row "$B_day/img/chelsea.png")"
check "the image was not asked" 0 "$(grep -c chelsea "$T/day.log")"
check "the new fetch is dated by the moved clock" 1 \
	"$(sql "SELECT abs(max(fetched_unix) - $((NOW + 25 * 3600))) < 600 FROM robots_fetches WHERE host = '$B_day'")"
printf 'url\twnid\n%s/img/rocket.jpg?again=1\tn04266014\n' "$B_day" > "$T/one.tsv"
NATADV_NOW=$((NOW + 26 * 3600)) nat -q crawl --seeds "$T/one.tsv" --allow-private
check "an hour after that, the new copy is reused" 2 "$(hits)"
check "with the new rules" "opted_out|1|disallowed by robots.txt" "$(row "$B_day/img/rocket.jpg?again=1")"
check "two robots.txt rows for the host" 2 "$(sql "SELECT count(*) FROM robots_fetches WHERE host = '$B_day'")"
NATADV_NOW=yesterday nat -q crawl 2> "$T/err"
check "a bad NATADV_NOW is a usage error" 2 "$?"
check_match "saying why" "NATADV_NOW wants unix seconds, not 'yesterday'" "$(cat "$T/err")"
# shellcheck disable=SC2086
kill $PIDS 2>/dev/null
wait $PIDS 2>/dev/null
finish
