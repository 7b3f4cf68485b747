#!/usr/bin/env bash
# eval_ood.sh — `natadv eval --ood RELEASE --in-dist DIR`: ImageNet-O's
# AUROC, AUPR and FPR95 per model, equal to the same measures worked out
# here in plain Python from each photo's MSP as `natadv classify` prints it
# (OOD photos positive, score -MSP; exact ties across the two sides
# included); several models at once; an ImageNet-O release made by the
# pipeline (WordNet classes, select --ood-from, export) whose filter model
# passes the self-check (every image at or above the selection's threshold),
# failing when the threshold recorded is raised; refusals: missing
# --in-dist, empty folders, a folder that is not a class.
. "$(dirname "$0")/lib.sh"
TINY=$ROOT/tests/golden/tiny_basic.safetensors
TINYX=$ROOT/tests/golden/tiny_resnext.safetensors
DEMO=$ROOT/examples/demo-model.safetensors
K10="n01440764 n01443537 n01484850 n01491361 n01494475 n01496331 n01498041 n01514668 n01514859 n01518878"

nat -q init
nat -q model add "$TINY" --name tiny
nat -q model add "$TINYX" --name tinyx

# ---- an OOD release of the 10-output test models' classes, photos in the
# folder of the class tiny predicts, and in-distribution photos ----
O=$T/ood
put() { mkdir -p "$1/$2" && cp "$FIX/$3" "$1/$2/"; }
put "$O/imagenet-o" n01440764 hubble_deep_field.jpg
put "$O/imagenet-o" n01440764 green_palette.png
put "$O/imagenet-o" n01440764 cat_gray16.png
put "$O/imagenet-o" n01443537 coffee.png
put "$O/imagenet-o" n01498041 rocket.jpg
put "$O/imagenet-o" n01518878 cat_rgb16.png
put "$O/imagenet-o" n01518878 cat_pal8.png
put "$O/imagenet-o" n01518878 chelsea_cmyk.jpg
put "$O/imagenet-o" n01518878 cat_gray8.png
{ printf 'label\twnid\tindex_1k\tname\n'; i=0; for w in $K10; do printf '%d\t%s\t%d\tc%d\n' $i $w $i $i; i=$((i + 1)); done; } > "$O/classes.tsv"
I=$T/in
for f in chelsea_q90.jpg chelsea_prog.jpg chelsea_gray.jpg cat_rgba8.png cat_la16_adam7.png chelsea_ycck.jpg; do
	put "$I" n01518878 "$f"
done
put "$I" n01443537 coffee_q90.jpg
put "$I" n01443537 coffee_prog444.jpg
put "$I" n01440764 cat_gray1_adam7.png
echo "not a photo" > "$I/README.txt"   # a file beside the class folders is no class

# expected MODEL: {"model", "n_ood", "n_in", "auroc", "aupr", "fpr95"} from the
# MSPs of `classify` (the 10 outputs are the release's 10 classes), computed
# as sklearn and calibration_tools define them, without either.
expected() {
	local m=$1
	"$NATADV" classify --json --model "$m" "$O"/imagenet-o/*/* > "$T/ood.json"
	"$NATADV" classify --json --model "$m" "$I"/*/* > "$T/in.json"
	python3 - "$2" "$T/ood.json" "$T/in.json" <<'PY'
import json, sys
name = sys.argv[1]
msp = lambda f: [json.loads(l)["top5"][0]["prob"] for l in open(f)]
pos = [-v for v in msp(sys.argv[2])]
neg = [-v for v in msp(sys.argv[3])]
P, N = len(pos), len(neg)
auroc = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (P * N)
ex = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg], key=lambda e: -e[0])
tps, fps, tp = [], [], 0
for i, (s, y) in enumerate(ex):
    tp += y
    if i + 1 == len(ex) or ex[i + 1][0] != s:
        tps.append(tp)
        fps.append(i + 1 - tp)
ap, prev = 0.0, 0
for t, f in zip(tps, fps):
    ap += (t - prev) / P * t / (t + f)
    prev = t
last = tps.index(P)
best = min(range(last, -1, -1), key=lambda k: abs(tps[k] / P - 0.95))
print(json.dumps({"model": name, "n_ood": P, "n_in": N, "auroc": auroc, "aupr": ap, "fpr95": fps[best] / N}))
PY
}
# same A B: the two JSON objects have the same keys in the same order, equal
# strings and integers, and reals within 1e-5 (eval prints 6 digits)
same() {
	python3 - "$1" "$2" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ok = list(a) == list(b) and all(
    abs(a[k] - b[k]) <= 1e-5 if isinstance(a[k], float) or isinstance(b[k], float) else a[k] == b[k] for k in a)
print("same" if ok else "differ: %s against %s" % (sys.argv[1], sys.argv[2]))
PY
}

out=$(nat eval --model tiny --ood "$O" --in-dist "$I" --json 2> "$T/err")
check "eval --ood" 0 "$?"
check_match "keys" '^\{"model":"tiny","n_ood":9,"n_in":9,"auroc":[0-9.e-]+,"aupr":[0-9.e-]+,"fpr95":[0-9.e-]+\}$' "$out"
want=$(expected "$TINY" tiny)
check "the measures from the MSPs" same "$(same "$want" "$out")"
check "they are not trivial" 1 "$(python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(int(0 < d["auroc"] < 1 and 0 < d["aupr"] < 1))' "$out")"
msp() { "$NATADV" classify --json --model "$TINY" "$FIX/$1" | sed 's/.*"top5":\[{"index":[0-9]*,"wnid":null,"prob":\([0-9.e-]*\)}.*/\1/'; }
check "an OOD and an in-distribution photo tie (same pixels)" "$(msp cat_rgb16.png)" "$(msp cat_rgba8.png)"
out=$(nat eval --model tiny,tinyx --ood "$O" --in-dist "$I" --json 2> /dev/null)
check "two models: two lines" 2 "$(printf '%s\n' "$out" | grep -c '^{"model":')"
check "tiny's line as before" same "$(same "$want" "$(printf '%s\n' "$out" | sed -n 1p)")"
check "tinyx's from its own MSPs" same "$(same "$(expected "$TINYX" tinyx)" "$(printf '%s\n' "$out" | sed -n 2p)")"
check "and as its own run" "$(printf '%s\n' "$out" | sed -n 2p)" \
	"$(nat eval --model tinyx --ood "$O" --in-dist "$I" --json 2> /dev/null)"
text=$(nat eval --model tiny,tinyx --ood "$O" --in-dist "$I" 2> /dev/null)
check_match "text: the header" '^model +n_ood +n_in +auroc +aupr +fpr95$' "$text"
check_match "text: a row per model, in percent" "^tinyx +9 +9 +[0-9.]+% +[0-9.]+% +[0-9.]+%$" "$text"
check_match "text: the in-distribution folder" "^in-distribution $I: 9 images$" "$text"

# ---- refusals ----
nat eval --model tiny --ood "$O" 2> "$T/err"
check "--ood without --in-dist: usage error" 2 "$?"
check_match "says so" "--ood needs --in-dist DIR" "$(cat "$T/err")"
nat eval --model tiny --in-dist "$I" "$O" 2> "$T/err"
check "--in-dist without --ood: usage error" 2 "$?"
mkdir -p "$T/empty"
nat eval --model tiny --ood "$O" --in-dist "$T/empty" 2> "$T/err"
check "an empty in-distribution folder fails" 1 "$?"
check_match "says so" "no images in '$T/empty'" "$(cat "$T/err")"
mkdir -p "$T/empty2/n01440764"
nat eval --model tiny --ood "$O" --in-dist "$T/empty2" 2> "$T/err"
check "class folders without images fail too" 1 "$?"
nat eval --model tiny --ood "$O" --in-dist "$T/nowhere" 2> "$T/err"
check "a missing in-distribution folder fails" 1 "$?"
check_match "named" "cannot read in-distribution folder '$T/nowhere': '$T/nowhere' is not a folder" "$(cat "$T/err")"
put "$T/other" n02123045 chelsea_q90.jpg
nat eval --model tiny --ood "$O" --in-dist "$T/other" 2> "$T/err"
check "a folder of a class outside the release fails" 1 "$?"
check_match "named" "folder '$T/other/n02123045' is not a class of the release" "$(cat "$T/err")"
mkdir -p "$T/o2/imagenet-o/n01440764"
cp "$O/classes.tsv" "$T/o2/"
nat eval --model tiny --ood "$T/o2" --in-dist "$I" 2> "$T/err"
check "an OOD release without images fails" 1 "$?"
check_match "says so" "no images in '$T/o2/imagenet-o'" "$(cat "$T/err")"
nat eval --model tiny --ood "$O/imagenet-o" --in-dist "$I" 2> "$T/err"
check "an OOD folder without classes.tsv fails (the MSP needs every class)" 1 "$?"
check_match "says so" "release '$O/imagenet-o' has no classes.tsv" "$(cat "$T/err")"
printf 'not a jpeg' > "$I/n01443537/broken.jpg"
out=$(nat eval --model tiny --ood "$O" --in-dist "$I" --json 2> "$T/err")
check "an unreadable in-distribution photo: exit 3" 3 "$?"
check_match "named" "cannot evaluate '$I/n01443537/broken.jpg'" "$(cat "$T/err")"
check "left out of the figures" same "$(same "$want" "$out")"
rm "$I/n01443537/broken.jpg"

# ---- an ImageNet-O release made by the pipeline: seeds tagged with
# out-of-distribution classes (WordNet) -> crawl -> score -> select
# --ood-from -> review -> export -> verify -> eval, with in-distribution photos ----
unset NATADV_WORDNET
start_server
P=n09391386   # photosphere
V=n04528079   # verdigris
nat -q classes add-set space --ood --add "$P,$V"
{
	printf 'url\twnid\n'
	for f in rocket.jpg hubble_deep_field.jpg chelsea_q90.jpg chelsea_gray.jpg; do printf '%s/img/%s\t%s\n' "$BASE" "$f" "$P"; done
	for f in coffee_q90.jpg coffee_prog444.jpg chelsea_ycck.jpg chelsea.png; do printf '%s/img/%s\t%s\n' "$BASE" "$f" "$V"; done
} > "$T/seeds.tsv"
nat -q crawl --seeds "$T/seeds.tsv" --allow-private
nat -q model add "$DEMO" --name demo
nat -q score --model demo
nat -q select --set imagenet-o --ood-from space --model demo --min-confidence 0.2 > /dev/null
nat -q review --auto-accept --set imagenet-o > /dev/null
nat -q export --set imagenet-o --out "$T/rel" --partial > /dev/null
check "the release verifies" 0 "$(nat -q verify "$T/rel" > /dev/null; echo $?)"
N=$(find "$T/rel/imagenet-o" -name '*.jpg' | wc -l)
check "some of the OOD photos are in it" 1 "$((N > 1))"
NJPEG=$(python3 -c 'import json, sys; print(sum(json.loads(l)["converted"] is None for l in open(sys.argv[1])))' "$T/rel/manifest.jsonl")
check "some of them not converted from PNG (those the self-check judges)" 1 "$((NJPEG > 0))"
# in-distribution photos in folders of imagenet-o classes (goldfish, ...)
D=$T/in-o
put "$D" n01443537 chelsea_prog.jpg
put "$D" n01443537 cat_pal8.png
put "$D" n02655020 cat_rgb8_adam7.png
put "$D" n07697537 coffee.png
out=$(nat eval --model demo --ood "$T/rel" --in-dist "$D" --json 2> "$T/err")
check "eval --ood of the filter model on its ImageNet-O release" 0 "$?"
check_match "every image at or above the threshold: the self-check passed" \
	"^\\{\"model\":\"demo\",\"n_ood\":$N,\"n_in\":4,.*\"self_check\":\\{\"filter_model\":true,\"checked\":$NJPEG,\"below_threshold\":0,\"passed\":true\\}\\}$" "$out"
check "the MSP of every image is at least the threshold, as the manifest says" "$N" \
	"$(python3 -c 'import json, sys; print(sum(json.loads(l)["msp"] >= 0.2 for l in open(sys.argv[1])))' "$T/rel/manifest.jsonl")"
check_match "text: the self-check line" "^self-check demo: passed: $NJPEG of its $NJPEG images at or above the selection's threshold$" \
	"$(nat eval --model demo --ood "$T/rel" --in-dist "$D" 2> /dev/null)"
# the threshold recorded for one image raised above any MSP: the check fails
python3 - "$T/rel/manifest.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
for d in lines:
    if d["converted"] is None:
        rule, params = d["selection_rule"].split(" ", 1)
        p = json.loads(params)
        p["min_confidence"] = 0.999999
        d["selection_rule"] = rule + " " + json.dumps(p)
        break
with open(sys.argv[1], "w") as f:
    for d in lines:
        f.write(json.dumps(d) + "\n")
PY
out=$(nat eval --model demo --ood "$T/rel" --in-dist "$D" --json 2> "$T/err")
check "a failed self-check is an error" 1 "$?"
check_match "it says which image" "self-check failed: model 'demo' .* now 1 of $NJPEG are below it \(first: 'imagenet-o/n[0-9]+/[0-9a-f]{32}\.jpg'\)" "$(cat "$T/err")"
check_match "the figures are still printed" '"below_threshold":1,"passed":false' "$out"
finish
