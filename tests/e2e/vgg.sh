#!/usr/bin/env bash
# vgg.sh — a VGG model end to end, in both weight layouts: small VGGs made
# by PyTorch (tests/golden/tiny_vgg_tv = torchvision's names,
# tiny_vgg_timm_bn = timm's) classify files, are added and fetched over
# loopback (a known unpinned name: the SHA-256 is printed and recorded; a
# wrong --sha256 is refused), score stored images, and select with one VGG
# as --model and the other as --also-wrong-for.
. "$(dirname "$0")/lib.sh"
TV=$ROOT/tests/golden/tiny_vgg_tv.safetensors
TIMM=$ROOT/tests/golden/tiny_vgg_timm_bn.safetensors
TIMM_SHA=$(sha256sum < "$TIMM" | cut -d' ' -f1)
K10="n01440764,n01443537,n01484850,n01491361,n01494475,n01496331,n01498041,n01514668,n01514859,n01518878"

out=$("$NATADV" classify --model "$TV" --json "$FIX/rocket.jpg" "$FIX/chelsea.png")
check "classify with a torchvision-layout VGG" 0 "$?"
check "one json line per image" 2 "$(printf '%s\n' "$out" | grep -c '^{"path":')"
out=$("$NATADV" classify --model "$TIMM" --json "$FIX/rocket.jpg")
check "classify with a timm-layout VGG" 0 "$?"
check_match "json top5" '"top5":\[\{"index":[0-9]+,"wnid":null,"prob":0\.[0-9]+' "$out"

nat -q init
nat -q model add "$TV" --name tv
check "model add" 0 "$?"
check_match "listed as a vgg with 10 classes" "^tv	vgg	10	" "$(nat model list)"

# fetch of a known, unpinned name from a loopback server (no network here)
"$TESTSRV" --port-file "$T/port2" --root "$ROOT/tests/golden" --log "$T/server2.log" &
SRV2=$!
for _ in $(seq 1 100); do [ -s "$T/port2" ] && break; sleep 0.05; done
URL="http://127.0.0.1:$(cat "$T/port2")/img/tiny_vgg_timm_bn.safetensors"
nat -q model fetch vgg16 --url "$URL" --sha256 "$(printf '0%.0s' $(seq 1 64))" --allow-private 2> "$T/err"
check "a wrong --sha256 is refused" 1 "$?"
check_match "and named" "downloaded file has sha-256 $TIMM_SHA, expected 0000" "$(cat "$T/err")"
nat -q model fetch vgg16 --url "$URL" --allow-private 2> "$T/err"
check "fetch of an unpinned known name" 0 "$?"
check_match "prints the sha-256 and how to pin it" "'vgg16' has no pinned sha-256: downloaded $TIMM_SHA; --sha256 $TIMM_SHA pins it" "$(cat "$T/err")"
check_match "recorded with its source" "^vgg16	vgg	10	$TIMM_SHA	$URL$" "$(nat model list | grep vgg16)"
kill "$SRV2"
wait "$SRV2" 2>/dev/null
nat -q model fetch vgg99 2> "$T/err"
check "an unknown name is a usage error" 2 "$?"
check_match "listing the known ones" "known: resnet50, vgg11, vgg11_bn, .*vgg19_bn" "$(cat "$T/err")"

# crawl, score with both, select with one and --also-wrong-for the other
start_server
{
	printf 'url\twnid\n'
	for f in chelsea_q90.jpg chelsea_prog.jpg coffee_q90.jpg rocket.jpg chelsea.png hubble_deep_field.jpg; do
		printf '%s/img/%s\tn01440764\n' "$BASE" "$f"
		printf '%s/img/%s\tn01518878\n' "$BASE" "$f"
	done
} > "$T/seeds.tsv"
nat -q crawl --seeds "$T/seeds.tsv" --allow-private
check "images stored" 6 "$(sql 'SELECT count(*) FROM images')"
nat -q score --model tv
check "score with the torchvision-layout VGG" 0 "$?"
nat -q score --model vgg16
check "score with the timm-layout VGG" 0 "$?"
check "every image scored by both" "12" "$(sql "SELECT count(*) FROM scores WHERE status = 'scored'")"
first=$(sql "SELECT image_hash FROM scores ORDER BY image_hash LIMIT 1")
cp "$T/ws/objects/${first:0:2}/${first:2}" "$T/first.img"
check "score agrees with classify: the same top-1" \
	"$(sql "SELECT pred_1k FROM scores s JOIN models m ON m.id = s.model_id WHERE m.name = 'tv' AND image_hash = '$first'")" \
	"$("$NATADV" classify --json --model "$TV" "$T/first.img" | sed 's/.*"top5":\[{"index":\([0-9]*\),.*/\1/')"
nat -q classes add-set k10 --from none --add "$K10"
nat -q select --model tv --set k10 --space 1k --min-confidence 0 --max-true-prob 1 --also-wrong-for vgg16 > /dev/null 2> "$T/err"
check "select with a VGG, --also-wrong-for another VGG" 0 "$?"
S=$(sql 'SELECT max(id) FROM selections')
expected=$(sql "SELECT count(*) FROM (SELECT DISTINCT t.image_hash, t.wnid FROM image_tags t
	JOIN classes c ON c.wnid = t.wnid
	JOIN scores a ON a.image_hash = t.image_hash AND a.model_id = (SELECT id FROM models WHERE name = 'tv')
	JOIN scores b ON b.image_hash = t.image_hash AND b.model_id = (SELECT id FROM models WHERE name = 'vgg16')
	WHERE a.pred_1k != c.index_1k AND b.pred_1k != c.index_1k)")
check_match "some tags both get wrong" "^[1-9][0-9]*$" "$expected"
check "only what both VGGs get wrong is proposed" "$expected" "$(sql "SELECT count(*) FROM proposals WHERE selection_id = $S")"
check "the selection's model is the VGG" "tv" "$(sql "SELECT m.name FROM selections s JOIN models m ON m.id = s.model_id WHERE s.id = $S")"
finish
