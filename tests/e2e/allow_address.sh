#!/usr/bin/env bash
# allow_address.sh — --allow-address ADDR[/BITS] lets exactly those private
# addresses through, for crawl, discover and model fetch, and nothing else:
# the redirect trick (an allowed 127.0.0.1 sending the crawler on to another
# private address, a live server on 127.0.0.2 or cloud metadata at
# 169.254.169.254) is refused at connect time and recorded.
. "$(dirname "$0")/lib.sh"
start_server
nat -q init
# a second server, live, on another loopback address
"$TESTSRV" --port-file "$T/port2" --bind 127.0.0.2 --root "$FIX" --log "$T/server2.log" &
SRV2=$!
for _ in $(seq 1 100); do [ -s "$T/port2" ] && break; sleep 0.05; done
BASE2="http://127.0.0.2:$(cat "$T/port2")"
check "the second server answers on 127.0.0.2" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$BASE2/img/chelsea.png")"
: > "$T/server2.log"

{
	printf 'url\twnid\n'
	printf '%s/img/coffee_q90.jpg\tn07920052\n' "$BASE"
	printf '%s/redirect-to?url=%s/img/chelsea.png\tn02123045\n' "$BASE" "$BASE2"
	printf '%s/redirect-to?url=http://169.254.169.254/latest/meta-data/\tn02123045\n' "$BASE"
} > "$T/seeds.tsv"
SECONDS=0
nat -q crawl --seeds "$T/seeds.tsv" --allow-address 127.0.0.1 --retries 0 --connect-timeout 3
rc=$?
check "crawl ends with some urls failed" 3 "$rc"
check "promptly (took ${SECONDS} s)" 1 "$(( SECONDS < 20 ))"
check "the allowed address is fetched" fetched "$(sql "SELECT state FROM urls WHERE url LIKE '%coffee_q90.jpg'")"
check_match "the redirect to another private address is refused and recorded" \
	"^failed\|refused: '?http://127\.0\.0\.2:[0-9]+'? resolves to a private or loopback address" \
	"$(sql "SELECT state || '|' || last_error FROM urls WHERE url LIKE '%127.0.0.2%'")"
check "nothing reached the server on 127.0.0.2" 0 "$(wc -l < "$T/server2.log")"
check_match "the redirect to cloud metadata is refused and recorded" \
	"^failed\|refused: '?http://169\.254\.169\.254'? resolves to a private or loopback address" \
	"$(sql "SELECT state || '|' || last_error FROM urls WHERE url LIKE '%169.254.169.254%'")"
check "each refused hop is in the fetch log" 2 \
	"$(sql "SELECT count(*) FROM fetches f JOIN urls u ON u.id = f.url_id WHERE u.url LIKE '%redirect-to%' AND f.error LIKE '%private%'")"

# a block lets in what it covers; another address is not in it
printf 'url\twnid\n%s/img/chelsea.png\tn02123045\n' "$BASE2" > "$T/two.tsv"
nat -q crawl --seeds "$T/two.tsv" --allow-address 127.0.0.0/31 --retries 0
check_match "127.0.0.0/31 does not cover 127.0.0.2" "^failed\|refused" \
	"$(sql "SELECT state || '|' || last_error FROM urls WHERE url = '$BASE2/img/chelsea.png'")"
nat -q crawl --retry-failed --allow-address 127.0.0.2 --allow-address 127.0.0.0/30 --retries 0
check "two blocks: 127.0.0.2 allowed" fetched "$(sql "SELECT state FROM urls WHERE url = '$BASE2/img/chelsea.png'")"

# bad blocks are usage errors
nat crawl --allow-address localhost 2> "$T/err"
check "a name is refused" 2 "$?"
check_match "saying why" "'localhost' is not an IPv4 or IPv6 address" "$(cat "$T/err")"
nat crawl --allow-address 10.0.0.1/8 2> "$T/err"
check "host bits past the prefix are refused" 2 "$?"

# model fetch: the allowed address, but not a redirect from it to another
RX_SHA=$(sha256sum < "$ROOT/tests/golden/tiny_resnext.safetensors" | cut -d' ' -f1)
mkdir -p "$T/www" && cp "$ROOT/tests/golden/tiny_resnext.safetensors" "$T/www/"
"$TESTSRV" --port-file "$T/port3" --root "$T/www" --log "$T/server3.log" &
SRV3=$!
for _ in $(seq 1 100); do [ -s "$T/port3" ] && break; sleep 0.05; done
BASE3="http://127.0.0.1:$(cat "$T/port3")"
"$TESTSRV" --port-file "$T/port4" --bind 127.0.0.2 --root "$T/www" --log "$T/server4.log" &
SRV4=$!
for _ in $(seq 1 100); do [ -s "$T/port4" ] && break; sleep 0.05; done
BASE4="http://127.0.0.2:$(cat "$T/port4")"
nat -q model fetch viaredirect --url "$BASE3/redirect-to?url=$BASE4/img/tiny_resnext.safetensors" --sha256 "$RX_SHA" \
	--allow-address 127.0.0.1 2> "$T/err"
check "model fetch: a redirect to another private address is refused" 1 "$?"
check_match "with the reason" "refused: host resolves to a private or loopback address" "$(cat "$T/err")"
check "nothing reached 127.0.0.2" 0 "$(grep -c tiny_resnext "$T/server4.log")"
nat -q model fetch tinyx --url "$BASE3/img/tiny_resnext.safetensors" --sha256 "$RX_SHA" --allow-address 127.0.0.1/32
check "model fetch: the allowed address" "0|1" "$?|$(nat model list | grep -c tinyx)"

# discover: the allowed address is asked; another private one is refused at once
nat discover --source openverse --endpoint "$BASE/api/openverse" --classes n01440764 --min-interval 0 \
	--retries 0 --allow-address 127.0.0.1 2> /dev/null
check "discover: the allowed address is asked" 1 "$(( $(grep -c '/api/openverse' "$T/server.log") > 0 ))"
SECONDS=0
nat discover --source openverse --endpoint "$BASE2/api/openverse" --classes n01443537 --min-interval 0 \
	--allow-address 127.0.0.1 2> "$T/err"
check "discover: another private address is refused" "3|0" "$?|$(grep -c '/api/' "$T/server2.log")"
check "at once (took ${SECONDS} s)" 1 "$(( SECONDS < 10 ))"
check_match "with the reason" "refused to connect to a private address" "$(cat "$T/err")"
kill "$SRV2" "$SRV3" "$SRV4" 2>/dev/null
wait "$SRV2" "$SRV3" "$SRV4" 2>/dev/null
finish
