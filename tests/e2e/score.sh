#!/usr/bin/env bash
# score.sh — models, classify and score end to end with a small ResNet made
# by PyTorch (tests/golden/tiny_basic.safetensors): adding and refusing
# weights, fetching them over loopback with a pinned SHA-256, classifying
# files without a workspace, and scoring stored images resumably.
. "$(dirname "$0")/lib.sh"
TINY=$ROOT/tests/golden/tiny_basic.safetensors
TINY_SHA=$(sha256sum < "$TINY" | cut -d' ' -f1)

out=$("$NATADV" classify --model "$TINY" --json "$FIX/rocket.jpg" "$FIX/chelsea.png")
check "classify without a workspace" 0 "$?"
check "one json line per image" 2 "$(printf '%s\n' "$out" | grep -c '^{"path":')"
check_match "json top5" '"top5":\[\{"index":[0-9]+,"wnid":null,"prob":0\.[0-9]+' "$out"
"$NATADV" classify --model "$TINY" "$FIX/rocket.jpg" "$T/missing.jpg" > /dev/null 2> "$T/err"
check "an unreadable image makes exit 3" 3 "$?"
check_match "and is named" "cannot classify '$T/missing.jpg'" "$(cat "$T/err")"
"$NATADV" classify --model "$FIX/rocket.jpg" "$FIX/rocket.jpg" 2> "$T/err"
check "an image is not a model" 1 "$?"
check_match "model error message" "cannot load model" "$(cat "$T/err")"

nat -q init
nat -q model add "$TINY" --name tiny
check "model add" 0 "$?"
check "model list" "$(printf 'tiny\tresnet\t10\t%s\t-' "$TINY_SHA")" "$(nat model list)"
check "weights copied into the workspace" "$TINY_SHA" "$(sha256sum < "$T/ws/models/$TINY_SHA.safetensors" | cut -d' ' -f1)"
nat -q model add "$ROOT/tests/golden/tiny_resnext.safetensors" --name tiny 2> "$T/err"
check "a taken name is refused" 1 "$?"
nat -q model add "$FIX/chelsea.png" --name png 2> "$T/err"
check "a non-safetensors file is refused" 1 "$?"
check "refused files leave no model" 1 "$(nat model list | wc -l)"

# model fetch over loopback, checked against a pinned SHA-256
"$TESTSRV" --port-file "$T/port2" --root "$ROOT/tests/golden" --log "$T/server2.log" &
SRV2=$!
for _ in $(seq 1 100); do [ -s "$T/port2" ] && break; sleep 0.05; done
URL="http://127.0.0.1:$(cat "$T/port2")/img/tiny_resnext.safetensors"
nat -q model fetch resnet50 --url "$URL" --allow-private 2> "$T/err"
check "a download with another sha-256 is refused" 1 "$?"
check_match "pinned sha-256 named" "expected 5d061a3c593d795bfe682d9b152bafbcf550579873492def3515b46db1189888" "$(cat "$T/err")"
check "nothing left behind" 0 "$(ls "$T/ws/models" | grep -c download)"
RX_SHA=$(sha256sum < "$ROOT/tests/golden/tiny_resnext.safetensors" | cut -d' ' -f1)
nat -q model fetch tinyx --url "$URL" --sha256 "$RX_SHA" --allow-private
check "fetch with a matching sha-256" 0 "$?"
check_match "fetched model listed with its source" "^tinyx	resnet	10	$RX_SHA	$URL$" "$(nat model list | grep tinyx)"
kill "$SRV2"

# score every stored image, resumably
start_server
{
	printf 'url\twnid\n'
	for i in $(seq 1 240); do printf '%s/gen/%d.jpg\tn02123045\n' "$BASE" "$i"; done
	printf '%s/img/rocket.jpg\tn04266014\n' "$BASE"
} > "$T/seeds.tsv"
nat -q crawl --seeds "$T/seeds.tsv" --allow-private
check "images stored" 241 "$(sql 'SELECT count(*) FROM images')"
rocket=$(sql "SELECT image_hash FROM urls WHERE url LIKE '%rocket.jpg'")
rm "$T/ws/objects/${rocket:0:2}/${rocket:2}"   # one image that cannot be read
"$NATADV" -w "$T/ws" -q score --model tiny --batch 4 &
pid=$!
# killed once its first batch is stored (within 10 s)
for _ in $(seq 1 200); do
	[ "$(sqlite3 -batch "$T/ws/natadv.db" 'SELECT count(*) > 0 FROM scores' 2> /dev/null)" = 1 ] && break
	sleep 0.05
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
before=$(sql 'SELECT count(*) FROM scores')
nat -q score --model tiny --batch 4
check "every image scored once" "241|241" "$(sql "SELECT count(*) || '|' || count(DISTINCT image_hash) FROM scores")"
check_num "the killed run had scored some images" 1 "$(( before > 0 ))"
check "and had left some work ($before scored)" 1 "$(( before < 241 ))"
check "unscorable with the reason" "unscorable|1" "$(sql "SELECT status || '|' || (error LIKE 'cannot open ''%') FROM scores WHERE image_hash = '$rocket'")"
check "logits stored compactly" 40 "$(sql "SELECT DISTINCT length(logits) FROM scores WHERE status = 'scored'")"
check "tag probabilities need a 1000-class model" 0 "$(sql 'SELECT count(*) FROM score_tags WHERE p_1k IS NOT NULL')"
same=$(sql "SELECT top5 FROM scores WHERE status = 'scored' ORDER BY image_hash LIMIT 1")
first=$(sql "SELECT image_hash FROM scores WHERE status = 'scored' ORDER BY image_hash LIMIT 1")
cp "$T/ws/objects/${first:0:2}/${first:2}" "$T/first.jpg"
check_match "a stored top-5" '^\[(\[[0-9]+,0\.[0-9]+\],){4}\[[0-9]+,0\.[0-9]+\]\]$' "$same"
check "score agrees with classify: the same top-5 indexes and probabilities" "$same" \
	"$("$NATADV" classify --json --model "$TINY" "$T/first.jpg" | python3 -c '
import re, sys
print("[" + ",".join("[%s,%s]" % t for t in re.findall(r"\"index\":([0-9]+),\"wnid\":[^,]*,\"prob\":([^,}]+)", sys.stdin.read())) + "]")')"
nat -q score --model tiny
check "nothing left to score" 0 "$?"
check "second run adds nothing" 241 "$(sql 'SELECT count(*) FROM scores')"
nat score --model tinyx 2> "$T/err"
check "a second model scores everything again; the unreadable image makes exit 3" 3 "$?"
check_match "summary" "scored 241 of 241 images with 'tinyx' \(1 unscorable\)" "$(cat "$T/err")"
check "integrity" ok "$(sql 'PRAGMA integrity_check')"
finish
