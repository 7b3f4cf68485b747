#!/usr/bin/env bash
# proxy.sh — HTTP proxies from http_proxy/no_proxy, through a loopback
# forward proxy (tests/server/testproxy.c): the private-address rule applies
# to the proxy's address, and to a URL host written as an address, which is
# refused before the proxy is asked; no_proxy goes direct. crawl and discover.
. "$(dirname "$0")/lib.sh"
TESTPROXY=${TESTPROXY:-$(dirname "$TESTSRV")/testproxy}
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
start_server --routes "$FIX/discover/routes.tsv"
nat -q init
"$TESTPROXY" --port-file "$T/pport" --log "$T/proxy.log" &
PXY=$!
"$TESTSRV" --port-file "$T/port2" --bind 127.0.0.2 --root "$FIX" --log "$T/server2.log" &
SRV2=$!
for _ in $(seq 1 100); do [ -s "$T/pport" ] && [ -s "$T/port2" ] && break; sleep 0.05; done
PROXY="http://127.0.0.1:$(cat "$T/pport")"
BASE2="http://127.0.0.2:$(cat "$T/port2")"
: > "$T/proxy.log"
check "the proxy forwards" 200 "$(curl -s -o /dev/null -w '%{http_code}' -x "$PROXY" "$BASE/img/rocket.jpg")"
check "and logs the request" "GET $BASE/img/rocket.jpg" "$(cat "$T/proxy.log")"
: > "$T/proxy.log"
: > "$T/server.log"
px() { http_proxy=$PROXY "$@"; }
state() { sql "SELECT state || '|' || coalesce(last_error, '') FROM urls WHERE url = '$1'"; }

# a proxy on loopback is a private address: refused without an allowance,
# even for a URL whose host is public (the connection goes to the proxy)
printf 'url\twnid\nhttp://192.0.2.10/img/rocket.jpg\tn04266014\n' > "$T/public.tsv"
px nat -q crawl --seeds "$T/public.tsv" --retries 0
check "crawl through a loopback proxy without an allowance fails the url" 3 "$?"
check_match "refused, with the reason" "^failed\|refused: 'http://192\.0\.2\.10' resolves to a private or loopback address" \
	"$(state http://192.0.2.10/img/rocket.jpg)"
check "nothing reached the proxy" 0 "$(wc -l < "$T/proxy.log")"

# allowed: robots.txt and the image go through the proxy
printf 'url\twnid\n%s/img/rocket.jpg\tn04266014\n' "$BASE" > "$T/seeds.tsv"
px nat -q crawl --seeds "$T/seeds.tsv" --retries 0 --allow-address 127.0.0.1
check "crawl through the allowed proxy" 0 "$?"
check "the url is fetched" "fetched|" "$(state "$BASE/img/rocket.jpg")"
check "the proxy saw robots.txt and the image" "GET $BASE/robots.txt
GET $BASE/img/rocket.jpg" "$(cat "$T/proxy.log")"
check "the server saw them" 2 "$(grep -c natadv "$T/server.log")"

# behind the allowed proxy, a host written as another private address is
# refused before the proxy is asked, also after a redirect
: > "$T/proxy.log"
{
	printf 'url\twnid\n'
	printf '%s/img/chelsea.png\tn02123045\n' "$BASE2"
	printf '%s/redirect-to?url=%s/img/coffee_q90.jpg\tn07920052\n' "$BASE" "$BASE2"
} > "$T/private.tsv"
px nat -q crawl --seeds "$T/private.tsv" --retries 0 --allow-address 127.0.0.1
check "another private address behind the proxy fails" 3 "$?"
check_match "refused" "^failed\|refused: 'http://127\.0\.0\.2:[0-9]+' resolves to a private or loopback address" \
	"$(state "$BASE2/img/chelsea.png")"
check_match "after a redirect too" "^failed\|refused: 'http://127\.0\.0\.2:[0-9]+' resolves to a private or loopback address" \
	"$(state "$BASE/redirect-to?url=$BASE2/img/coffee_q90.jpg")"
check "the proxy was asked only the first hop and its robots.txt" "0|1" \
	"$(grep -c "^GET $BASE2" "$T/proxy.log")|$(grep -c 'redirect-to' "$T/proxy.log")"
check "nothing reached 127.0.0.2" 0 "$(wc -l < "$T/server2.log")"

# no_proxy: straight to the server, the proxy is not asked
: > "$T/proxy.log"
printf 'url\twnid\n%s/img/coffee_q90.jpg?direct=1\tn07920052\n' "$BASE" > "$T/direct.tsv"
px env no_proxy=127.0.0.1 "$NATADV" -w "$T/ws" -q crawl --seeds "$T/direct.tsv" --retries 0 --allow-address 127.0.0.1
check "no_proxy: fetched" "0|fetched|" "$?|$(state "$BASE/img/coffee_q90.jpg?direct=1")"
check "no_proxy: the proxy was not asked" 0 "$(wc -l < "$T/proxy.log")"

# discover: the same rules
px nat discover --source openverse --endpoint "$BASE/api/openverse" --classes n01531178 --min-interval 0 \
	--retries 0 2> "$T/err"
check "discover through a loopback proxy without an allowance" "3|0" "$?|$(wc -l < "$T/proxy.log")"
check_match "says why" "refused to connect to a private address" "$(cat "$T/err")"
px nat discover --source openverse --endpoint "$BASE/api/openverse" --classes n01531178 --min-interval 0 \
	--page-size 2 --retry-base 0.1 --allow-address 127.0.0.1 2> "$T/err"
check "discover through the allowed proxy" 1 "$(( $(grep -c "^GET $BASE/api/openverse/" "$T/proxy.log") > 0 ))"
check "found candidates" 1 "$(( $(sql "SELECT count(*) FROM url_tags WHERE wnid = 'n01531178'") > 0 ))"
kill "$PXY" "$SRV2" 2>/dev/null
wait "$PXY" "$SRV2" 2>/dev/null
finish
