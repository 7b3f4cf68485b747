#!/usr/bin/env bash
# http_policy.sh — the rules every HTTP client of natadv shares (crawler/http.c)
# and the refusals around them: one crawl per workspace (the second prints the
# refusal only), the private-address policy and total timeout of model fetch,
# discover giving up at once on a refused address, and a crawl that cannot
# clean its temporary blobs stopping before it fetches.
. "$(dirname "$0")/lib.sh"
start_server
nat -q init
SRV_LOG_LINES() { wc -l < "$T/server.log"; }

# ---- a second crawl while one holds the workspace: only the refusal ----
printf 'url\twnid\n%s/img/coffee_q90.jpg\tn07920052\n' "$BASE" > "$T/seeds.tsv"
nat -q crawl --seeds "$T/seeds.tsv" --no-fetch
exec 9> "$T/ws/crawl.lock"
flock -n 9
check "the test holds the crawl lock" 0 "$?"
nat crawl --allow-private 2> "$T/err"
check "a second crawl is refused" 1 "$?"
check_match "with the refusal" "another 'natadv crawl' is running in" "$(cat "$T/err")"
check "and no summary of a run that never started" 0 "$(grep -c 'crawled' "$T/err")"
check "one line only" 1 "$(wc -l < "$T/err")"
exec 9>&-
nat -q crawl --allow-private
check "once the lock is free the crawl runs" "0|fetched" "$?|$(sql 'SELECT state FROM urls')"

# ---- a blob folder whose tmp cannot be cleaned stops the crawl before any request ----
printf 'url\twnid\n%s/img/chelsea.png\tn02123045\n' "$BASE" > "$T/more.tsv"
nat -q crawl --seeds "$T/more.tsv" --no-fetch
rm -rf "$T/ws/objects/tmp" && touch "$T/ws/objects/tmp"
before=$(grep -c chelsea.png "$T/server.log")
nat crawl --allow-private 2> "$T/err"
check "an unusable objects/tmp stops the crawl" 1 "$?"
check_match "saying so" "cannot clean '.*/objects/tmp'" "$(cat "$T/err")"
check "before any request" "0|pending" "$(( $(grep -c chelsea.png "$T/server.log") - before ))|$(sql "SELECT state FROM urls WHERE url LIKE '%chelsea.png'")"
rm -f "$T/ws/objects/tmp"
nat -q crawl --allow-private
check "the crawl runs once it is fixed" "0|fetched" "$?|$(sql "SELECT state FROM urls WHERE url LIKE '%chelsea.png'")"

# ---- model fetch: public addresses only unless --allow-private ----
RX_SHA=$(sha256sum < "$ROOT/tests/golden/tiny_resnext.safetensors" | cut -d' ' -f1)
cp "$ROOT/tests/golden/tiny_resnext.safetensors" "$T/tiny_resnext.safetensors"
start_root_server() {
	rm -f "$T/port2"
	"$TESTSRV" --port-file "$T/port2" --root "$T" --log "$T/server2.log" &
	SRV2=$!
	for _ in $(seq 1 100); do [ -s "$T/port2" ] && break; sleep 0.05; done
	BASE2="http://127.0.0.1:$(cat "$T/port2")"
}
start_root_server
nat -q model fetch tinyx --url "$BASE2/img/tiny_resnext.safetensors" --sha256 "$RX_SHA" 2> "$T/err"
check "model fetch from loopback refused without --allow-private" 1 "$?"
check_match "with the reason" "refused: host resolves to a private or loopback address \(use --allow-private\)" \
	"$(cat "$T/err")"
check "no request reached the server" 0 "$(grep -c tiny_resnext "$T/server2.log")"
check "no model added" 0 "$(nat model list | wc -l)"
check "nothing left behind" 0 "$(ls "$T/ws/models" 2>/dev/null | grep -c download)"
nat -q model fetch tinyx --url "$BASE2/img/tiny_resnext.safetensors" --sha256 "$RX_SHA" --allow-private
check "allowed with --allow-private" "0|1" "$?|$(nat model list | grep -c tinyx)"

# ---- model fetch: a total timeout ----
SECONDS=0
nat -q model fetch slow --url "$BASE2/drip/tiny_resnext.safetensors" --sha256 "$RX_SHA" --allow-private \
	--timeout 1 2> "$T/err"
rc=$? took=$SECONDS
check "a download over --timeout fails" 1 "$rc"
check_match "saying it timed out" "cannot download '.*/drip/tiny_resnext.safetensors': Timeout" "$(cat "$T/err")"
check "promptly (took ${took} s)" 1 "$(( took < 10 ))"
check "nothing left behind after a timeout" 0 "$(ls "$T/ws/models" | grep -c download)"
kill "$SRV2" 2>/dev/null; wait "$SRV2" 2>/dev/null

# ---- discover: a refused address is final, not retried with backoff ----
SECONDS=0
nat discover --source openverse --endpoint "$BASE/api/openverse" --classes n01440764 --min-interval 0 \
	2> "$T/err"
rc=$? took=$SECONDS
check "discover against loopback is refused" 3 "$rc"
check "at once, without backoff (took ${took} s)" 1 "$(( took < 10 ))"
check_match "with a clear message" "refused to connect to a private address \(--allow-private permits it\)" \
	"$(cat "$T/err")"
check "no 'trying again'" 0 "$(grep -c 'trying again' "$T/err")"
check "one request per query, none retried" "2|0" \
	"$(sql "SELECT count(*) || '|' || sum(outcome = 'retry') FROM api_requests WHERE wnid = 'n01440764'")"
check "nothing reached the server" 0 "$(grep -c '/api/openverse' "$T/server.log")"
finish
