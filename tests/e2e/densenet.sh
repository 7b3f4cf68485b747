#!/usr/bin/env bash
# densenet.sh — a DenseNet through the pipeline like a ResNet: a small
# torchvision DenseNet with a 1000-way classifier (tests/golden, made by
# scripts/golden_densenet.py) added, refused when its tensors mix layouts,
# classifying photos, scoring crawled fixtures, and selecting alone and in
# an ensemble with the ResNet demo model (--also-wrong-for both ways).
. "$(dirname "$0")/lib.sh"
DN=$ROOT/tests/golden/tiny_densenet_1k.safetensors
DEMO=$ROOT/examples/demo-model.safetensors

nat -q init
nat model add "$DN" --name dn 2> "$T/err"
check "model add takes a DenseNet" 0 "$?"
check_match "and names its family" "model 'dn' added: densenet, 1000 classes" "$(cat "$T/err")"
check "listed with its architecture" "dn|densenet|1000" "$(sql "SELECT name || '|' || arch || '|' || classes FROM models")"
nat -q model add "$DEMO" --name demo

# one dense layer's norm under torchvision's legacy name: a mixed file
python3 - "$DN" "$T/mixed.safetensors" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
old = "features.denseblock2.denselayer1.norm1.weight"
h[old.replace("norm1", "norm.1")] = h.pop(old)
b = json.dumps(h).encode()
b += b" " * (-len(b) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(b)) + b + raw[8 + n:])
PY
nat model add "$T/mixed.safetensors" --name mixed 2> "$T/err"
check "a file mixing layouts is refused" 1 "$?"
check_match "naming the tensor" "tensor 'features.denseblock2.denselayer1.norm.1.weight': torchvision's legacy name in a file that also has current names" "$(cat "$T/err")"
check "and not recorded" 2 "$(sql 'SELECT count(*) FROM models')"

# ---- classify, score ----
start_server
seeds_three n04266014 n02123045 n07930864
nat -q crawl --seeds "$T/seeds.tsv" --allow-private
check "three images" 3 "$(sql 'SELECT count(*) FROM images')"
nat -q score --model dn
check "score with a DenseNet" 0 "$?"
nat -q score --model demo
DNID=$(sql "SELECT id FROM models WHERE name = 'dn'")
check "every image scored by it" 3 "$(sql "SELECT count(*) FROM scores WHERE model_id = '$DNID' AND status = 'scored'")"
# classify decodes and runs the same network as score: the same top-1
for f in rocket.jpg chelsea.png coffee_q90.jpg; do
	top=$(nat classify --json --model dn "$ROOT/tests/fixtures/$f" | sed 's/.*"top5":\[{"index":\([0-9]*\),.*/\1/')
	hash=$(sql "SELECT image_hash FROM urls WHERE url LIKE '%/$f'")
	check "classify agrees with score on $f" "$(sql "SELECT pred_1k FROM scores WHERE model_id = '$DNID' AND image_hash = '$hash'")" "$top"
done
check "the two networks answer differently" 1 "$(sql "SELECT count(*) > 0 FROM scores a JOIN scores b ON a.image_hash = b.image_hash
	WHERE a.model_id = '$DNID' AND b.model_id != '$DNID' AND a.logits != b.logits")"

# ---- select: alone, then with the ResNet as the second opinion ----
nat -q classes add-set three --from none --add n04266014,n02123045,n07930864
nat -q select --model dn --set three --space 1k --min-confidence 0 --max-true-prob 1 > /dev/null 2> "$T/err"
check "select --model with a DenseNet" 0 "$?"
S1=$(sql 'SELECT max(id) FROM selections')
wrong=$(sql "SELECT count(*) FROM scores s JOIN image_tags t ON t.image_hash = s.image_hash JOIN classes c ON c.wnid = t.wnid
	WHERE s.model_id = '$DNID' AND s.pred_1k != c.index_1k")
check "every tag it gets wrong is proposed" "$wrong" "$(sql "SELECT count(*) FROM proposals WHERE selection_id = $S1")"
check_match "some are" "^[1-3]$" "$wrong"
for pair in dn:demo demo:dn; do
	set -- "${pair%:*}" "${pair#*:}"
	nat -q select --model "$1" --set three --space 1k --min-confidence 0 --max-true-prob 1 --also-wrong-for "$2" > /dev/null 2> "$T/err"
	check "select --model $1 --also-wrong-for $2" 0 "$?"
	S=$(sql 'SELECT max(id) FROM selections')
	both=$(sql "SELECT count(*) FROM image_tags t JOIN classes c ON c.wnid = t.wnid
		JOIN scores a ON a.image_hash = t.image_hash AND a.model_id = (SELECT id FROM models WHERE name = '$1')
		JOIN scores b ON b.image_hash = t.image_hash AND b.model_id = (SELECT id FROM models WHERE name = '$2')
		WHERE a.pred_1k != c.index_1k AND b.pred_1k != c.index_1k")
	check "only what both get wrong ($1 with $2)" "$both" "$(sql "SELECT count(*) FROM proposals WHERE selection_id = $S")"
	check "the other model recorded" "[\"$2\"]" "$(sql "SELECT json_extract(params, '\$.also_wrong_for') FROM selections WHERE id = $S")"
done

# ---- model fetch: timm's tv_in1k files pin no SHA-256 ----
# served from a folder of weights by a server of its own
kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null
mkdir "$T/dl" && cp "$ROOT"/tests/golden/tiny_densenet*.safetensors "$T/dl/"
rm -f "$T/port"
"$TESTSRV" --port-file "$T/port" --root "$T/dl" --log "$T/server2.log" &
SRV_PID=$!
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.05; done
BASE="http://127.0.0.1:$(cat "$T/port")"
nat model fetch densenet169 --url "$BASE/img/tiny_densenet_legacy.safetensors" --allow-private 2> "$T/err"
check "model fetch of a known DenseNet without a pinned sha-256" 0 "$?"
GOT=$(sha256sum "$ROOT/tests/golden/tiny_densenet_legacy.safetensors" | cut -d' ' -f1)
check_match "prints the sha-256 got and how to pin it" "'densenet169' has no pinned sha-256: downloaded $GOT; --sha256 $GOT pins it" "$(cat "$T/err")"
check "recorded under it, with its source" "$GOT|densenet|$BASE/img/tiny_densenet_legacy.safetensors" \
	"$(sql "SELECT id || '|' || arch || '|' || source_url FROM models WHERE name = 'densenet169'")"
nat -q model fetch densenet201 --url "$BASE/img/tiny_densenet_legacy.safetensors" --allow-private --sha256 "$(printf '%064d' 0)" 2> "$T/err"
check "a pinned sha-256 that does not match is refused" 1 "$?"
check_match "saying both" "downloaded file has sha-256 $GOT, expected $(printf '%064d' 0)" "$(cat "$T/err")"
check "and nothing recorded" 0 "$(sql "SELECT count(*) FROM models WHERE name = 'densenet201'")"
nat -q model fetch densenet201 --url "$BASE/img/tiny_densenet.safetensors" --allow-private \
	--sha256 "$(sha256sum "$T/dl/tiny_densenet.safetensors" | cut -d' ' -f1)" 2> "$T/err"
check "a matching --sha256 pins it, quietly" "0|" "$?|$(cat "$T/err")"
finish
