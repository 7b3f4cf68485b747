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
finish
