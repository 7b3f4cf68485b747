#!/usr/bin/env bash
# politeness.sh — the per-host cap and delay, the robots.txt cache across
# runs, and the User-Agent the server sees.
. "$(dirname "$0")/lib.sh"
start_server
nat -q init
{
	printf 'url\twnid\n'
	for i in 1 2 3 4; do printf '%s/img/rocket.jpg?n=%d\tn04266014\n' "$BASE" "$i"; done
} > "$T/seeds.tsv"
nat -q crawl --seeds "$T/seeds.tsv" --allow-private --per-host 1 --host-delay 0.4
check "crawl ok" 0 "$?"
gaps=$(sql "SELECT min((julianday(b.started_at) - julianday(a.started_at)) * 86400) >= 0.35 FROM fetches a JOIN fetches b ON b.id = a.id + 1")
check "requests to one host are spaced by --host-delay" 1 "$gaps"
check "robots.txt fetched once" 1 "$(curl -s "$BASE/hits?path=/robots.txt")"

printf 'url\twnid\n%s/img/coffee_q90.jpg\tn07920052\n' "$BASE" > "$T/more.tsv"
nat -q crawl --seeds "$T/more.tsv" --allow-private
check "robots.txt cached across runs" 1 "$(curl -s "$BASE/hits?path=/robots.txt")"
check "one robots.txt provenance row" 1 "$(sql 'SELECT count(*) FROM robots_fetches')"

# the User-Agent names the tool; a custom one is sent as given
check_match "default user agent names natadv and a contact" "^GET /img/coffee_q90.jpg 200 natadv/[0-9.]+%20\(\+http" "$(grep coffee_q90 "$T/server.log")"
printf 'url\twnid\n%s/img/chelsea.png\tn02123045\n' "$BASE" > "$T/ua.tsv"
nat -q crawl --seeds "$T/ua.tsv" --allow-private --user-agent "natadv-test/1 (+http://example.org/contact)"
check_match "custom user agent sent" "^GET /img/chelsea.png 200 natadv-test/1%20" "$(grep chelsea.png "$T/server.log")"

# a second host whose robots.txt disallows everything, reached by a redirect
mkdir -p "$T/root2"
cp "$FIX/rocket.jpg" "$FIX/coffee_q90.jpg" "$T/root2/"
printf 'User-agent: *\nDisallow: /\n' > "$T/root2/robots.txt"
"$TESTSRV" --port-file "$T/port2" --root "$T/root2" --log "$T/server2.log" &
SRV2=$!
for _ in $(seq 1 100); do [ -s "$T/port2" ] && break; sleep 0.05; done
B="http://127.0.0.1:$(cat "$T/port2")"
printf 'url\twnid\n%s/redirect-to?url=%s/img/rocket.jpg\tn04266014\n' "$BASE" "$B" > "$T/redir.tsv"
nat -q crawl --seeds "$T/redir.tsv" --allow-private --retry-base 0.1
check "a redirect into a disallowed host is opted out" "opted_out|1|disallowed by robots.txt of '$B' (after a redirect)" \
	"$(sql "SELECT state || '|' || attempts || '|' || last_error FROM urls WHERE url LIKE '%redirect-to%'")"
check "the other host's robots.txt was asked" 1 "$(curl -s "$B/hits?path=/robots.txt")"
check "the image behind it was not" 0 "$(curl -s "$B/hits?path=/img/rocket.jpg")"
kill "$SRV2"

# robots.txt unreachable: URLs wait without spending attempts, then fail
printf 'url\twnid\nhttp://127.0.0.1:1/a.jpg\tn04266014\n' > "$T/down.tsv"
nat -q crawl --seeds "$T/down.tsv" --allow-private --retries 2 --retry-base 0.1 --connect-timeout 1
check "unreachable robots.txt fails the url after the retries" 3 "$?"
check_match "with the reason and one attempt" "^failed\|1\|robots.txt unreachable: " \
	"$(sql "SELECT state || '|' || attempts || '|' || last_error FROM urls WHERE url = 'http://127.0.0.1:1/a.jpg'")"
check "every robots.txt attempt has a row" 3 "$(sql "SELECT count(*) FROM robots_fetches WHERE host = 'http://127.0.0.1:1' AND error IS NOT NULL")"

# one big host does not hold back another (no head-of-line blocking)
{
	printf 'url\twnid\n'
	for i in $(seq 1 700); do printf '%s/slow/5/rocket.jpg?hol=%d\tn04266014\n' "$BASE" "$i"; done
	for i in 1 2 3; do printf '%s/img/coffee_q90.jpg?hol=%d\tn07920052\n' "$B" "$i"; done
} > "$T/hol.tsv"
mkdir -p "$T/root3"
cp "$FIX/coffee_q90.jpg" "$T/root3/"
"$TESTSRV" --port-file "$T/port3" --root "$T/root3" --log "$T/server3.log" &
SRV3=$!
for _ in $(seq 1 100); do [ -s "$T/port3" ] && break; sleep 0.05; done
sed -i "s#$B/#http://127.0.0.1:$(cat "$T/port3")/#" "$T/hol.tsv"
nat -q crawl --seeds "$T/hol.tsv" --allow-private --per-host 2 --concurrency 8
check "all fetched" 703 "$(sql "SELECT count(*) FROM urls WHERE url LIKE '%hol=%' AND state = 'fetched'")"
first_a=$(sql "SELECT min(f.id) FROM fetches f JOIN urls u ON u.id = f.url_id WHERE u.url LIKE '%slow/5/rocket.jpg?hol=%'")
last_b=$(sql "SELECT max(f.id) FROM fetches f JOIN urls u ON u.id = f.url_id WHERE u.url LIKE '%coffee_q90.jpg?hol=%'")
check_match "the first fetch of the big host and the last of the small one" '^[0-9]+ [0-9]+$' "$first_a $last_b"
check "the small host is done among the first 40 fetches, not after the big one" 1 "$(( last_b - first_a < 40 ))"
kill "$SRV3"
finish
