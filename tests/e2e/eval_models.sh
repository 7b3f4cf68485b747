#!/usr/bin/env bash
# eval_models.sh — `natadv eval --model a,b,c`: one line (JSON) or table row
# per model, each the same as the model's own single-model run (ResNets and
# VGGs together); a hand-made
# release of the 10-output test models' classes (where the models differ)
# and a release built by the pipeline with the demo model, whose self-check
# still holds (and still fails when an image is moved) among other models;
# an image that cannot be read is reported once, not once per model;
# duplicate, unknown and unsuitable models are refused.
. "$(dirname "$0")/lib.sh"
TINY=$ROOT/tests/golden/tiny_basic.safetensors
TINYX=$ROOT/tests/golden/tiny_resnext.safetensors
DEMO=$ROOT/examples/demo-model.safetensors
K10="n01440764 n01443537 n01484850 n01491361 n01494475 n01496331 n01498041 n01514668 n01514859 n01518878"

nat -q init
nat -q model add "$TINY" --name tiny
nat -q model add "$TINYX" --name tinyx
nat -q model add "$DEMO" --name demo
# a second 1000-output model: the demo model's recipe with another seed
python3 "$ROOT/scripts/make_demo_model.py" "$TINY" "$T/demo7.safetensors" 7 > /dev/null
nat -q model add "$T/demo7.safetensors" --name demo7
cp "$DEMO" "$T/demo-copy.safetensors"

# singles MODEL... RELEASE: each model's own --json run, one after another
singles() {
	local rel=${*: -1} m
	for m in "${@:1:$#-1}"; do
		nat eval --model "$m" --json "$rel" 2> /dev/null
	done
}
# field LINE KEY
field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# ---- a hand-made release of the test models' classes ----
R=$T/release
mkdir -p "$R/k10/n01440764" "$R/k10/n01443537" "$R/k10/n01484850" "$R/k10/n01518878"
cp "$FIX/chelsea_q90.jpg" "$FIX/chelsea_gray.jpg" "$R/k10/n01440764/"
cp "$FIX/coffee_q90.jpg" "$R/k10/n01443537/"
cp "$FIX/coffee_prog444.jpg" "$R/k10/n01484850/"
cp "$FIX/chelsea_ycck.jpg" "$FIX/rocket.jpg" "$R/k10/n01518878/"
{ printf 'label\twnid\tindex_1k\tname\n'; i=0; for w in $K10; do printf '%d\t%s\t%d\tc%d\n' $i $w $i $i; i=$((i + 1)); done; } > "$R/classes.tsv"
out=$(nat eval --model tiny,tinyx,demo,"$T/demo-copy.safetensors" --json "$R" 2> "$T/err")
check "eval of four models" 0 "$?"
check "one line per model" 4 "$(printf '%s\n' "$out" | grep -c '^{"model":')"
check "each as its own run" "$(singles tiny tinyx demo "$T/demo-copy.safetensors" "$R")" "$out"
check "in the order given" "tiny tinyx demo $T/demo-copy.safetensors" \
	"$(printf '%s\n' "$out" | while read -r l; do field "$l" model; done | paste -sd' ')"
check_match "keys" '^\{"model":"tiny","n":6,"accuracy":[0-9.e-]+,"rms_calibration_error":null,"aurra":[0-9.e-]+\}$' \
	"$(printf '%s\n' "$out" | head -n 1)"
l1=$(printf '%s\n' "$out" | sed -n 1p)
l2=$(printf '%s\n' "$out" | sed -n 2p)
check "the two test models differ here" 1 "$([ "${l1#*\"n\"}" != "${l2#*\"n\"}" ] && echo 1)"
check "the same weights by name and by file give the same figures" \
	"$(printf '%s\n' "$out" | sed -n 3p | sed 's/^{"model":"[^"]*",//')" \
	"$(printf '%s\n' "$out" | sed -n 4p | sed 's/^{"model":"[^"]*",//')"
text=$(nat eval --model tiny,tinyx "$R" 2> /dev/null)
check "text: a header and a row per model" 3 "$(printf '%s\n' "$text" | grep -cE '^(model|tiny|tinyx) ')"
check_match "text: the header" '^model +n +accuracy +rms_calibration_error +aurra$' "$text"
check_match "text: tiny's row, in percent" "^tiny +6 +$(awk -v a="$(field "$l1" accuracy)" 'BEGIN { printf "%.2f", 100 * a }')% +n/a +[0-9.]+%$" "$text"
# other architectures in the same run: the tiny VGGs of both layouts (torchvision's, timm's)
VGG_TV=$ROOT/tests/golden/tiny_vgg_tv.safetensors
VGG_TIMM=$ROOT/tests/golden/tiny_vgg_timm_bn.safetensors
out=$(nat eval --model tiny,"$VGG_TV","$VGG_TIMM" --json "$R" 2> /dev/null)
check "a ResNet and two VGGs: each as its own run" "$(singles tiny "$VGG_TV" "$VGG_TIMM" "$R")" "$out"
# one read per image: an unreadable one is reported once, for all the models
printf 'not a jpeg' > "$R/k10/n01443537/broken.jpg"
out=$(nat eval --model tiny,tinyx,demo --json "$R" 2> "$T/err")
check "an unreadable image: exit 3" 3 "$?"
check "reported once" 1 "$(grep -c "cannot evaluate '.*broken.jpg'" "$T/err")"
check "every model counts the others" 3 "$(printf '%s\n' "$out" | grep -c '"n":6,')"
rm "$R/k10/n01443537/broken.jpg"

# ---- refusals ----
nat eval --model tiny,tinyx,tiny "$R" 2> "$T/err"
check "a model given twice: usage error" 2 "$?"
check_match "named" "model 'tiny' is given twice" "$(cat "$T/err")"
nat eval --model tiny,nope "$R" > "$T/out" 2> "$T/err"
check "an unknown model fails" 1 "$?"
check_match "named" "no model 'nope'" "$(cat "$T/err")"
check "and nothing is printed" "" "$(cat "$T/out")"
"$NATADV" -w "$T/none" eval --model "$TINY,$T/nope.safetensors" "$R" 2> "$T/err"
check "a missing file without a workspace fails" 1 "$?"
check_match "named" "no model file '$T/nope.safetensors'" "$(cat "$T/err")"
nat eval --model , "$R" 2> "$T/err"
check "an empty list is a usage error" 2 "$?"
nat eval --model "$(seq -s, -f 'm%g' 1 17)" "$R" 2> "$T/err"
check "more than 16 models is a usage error" 2 "$?"

# ---- a release made by the pipeline with the demo model ----
start_server
sed "s#{BASE}#$BASE#g" "$ROOT/examples/seeds.tsv" > "$T/seeds.tsv"
nat -q crawl --seeds "$T/seeds.tsv" --allow-private --retry-base 0.2 2> /dev/null
nat -q score --model demo
classes=$(cut -f2 "$ROOT/examples/seeds.tsv" | tail -n +2 | sort -u | paste -sd, -)
nat -q classes add-set example --from none --add "$classes"
nat -q select --model demo --set example --max-true-prob 0.25 > /dev/null
nat -q review --auto-accept --set example > /dev/null
nat -q export --set example --out "$T/rel" > /dev/null
check "the release" 0 "$?"
out=$(nat eval --model demo7,demo,"$T/demo-copy.safetensors" --json "$T/rel" 2> "$T/err")
check "eval of three models" 0 "$?"
check "each as its own run" "$(singles demo7 demo "$T/demo-copy.safetensors" "$T/rel")" "$out"
check_match "the filter model: accuracy 0, self-check passed" \
	'^\{"model":"demo","n":[1-9][0-9]*,"accuracy":0,.*"self_check":\{"filter_model":true,"checked":[1-9][0-9]*,"right":0,"passed":true\}\}$' \
	"$(printf '%s\n' "$out" | sed -n 2p)"
check_match "its weights from a file too" '"self_check":\{"filter_model":true,' "$(printf '%s\n' "$out" | sed -n 3p)"
check "the other model has no self-check" 0 "$(printf '%s\n' "$out" | sed -n 1p | grep -c self_check)"
text=$(nat eval --model demo7,demo "$T/rel" 2> /dev/null)
check_match "text: the self-check line" "^self-check demo: passed: [1-9][0-9]* of its [1-9][0-9]* images wrong, as selected$" "$text"
nat eval --model demo,tiny "$T/rel" 2> "$T/err"
check "a model without outputs for the release's classes fails" 1 "$?"
check_match "named" "has no output in a model of 10 classes" "$(cat "$T/err")"

# move one image into the folder of the class the model predicts: the
# filter model now gets it right, and the run fails, saying which model
python3 - "$T/rel" <<'PY'
import json, os, sys
rel = sys.argv[1]
lines = [json.loads(l) for l in open(os.path.join(rel, "manifest.jsonl"))]
for d in lines:
    if d["converted"] is None:
        folder = d["path"].split("/")[0]
        new = "%s/%s/%s" % (folder, d["pred_wnid"], d["path"].split("/")[2])
        os.makedirs(os.path.dirname(os.path.join(rel, new)), exist_ok=True)
        os.rename(os.path.join(rel, d["path"]), os.path.join(rel, new))
        d["path"] = new
        break
with open(os.path.join(rel, "manifest.jsonl"), "w") as f:
    for d in lines:
        f.write(json.dumps(d) + "\n")
PY
out=$(nat eval --model demo7,demo --json "$T/rel" 2> "$T/err")
check "a failed self-check among several models is an error" 1 "$?"
check_match "it names the model and the image" "self-check failed: model 'demo' .* gets 1 of [0-9]+ right \(first: 'example/n[0-9]+/[0-9a-f]{32}\.jpg'\)" "$(cat "$T/err")"
check "both lines are still printed" 2 "$(printf '%s\n' "$out" | grep -c '^{"model":')"
finish
