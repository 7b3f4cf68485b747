#!/usr/bin/env bash
# demo.sh — the README's first command (make demo = scripts/demo.sh) runs the
# whole pipeline on the built-in example and ends with a verified release.
. "$(dirname "$0")/lib.sh"
NATADV_DEMO_DIR="$T/ws" NATADV_DEMO_OUT="$T/rel" bash "$ROOT/scripts/demo.sh" > "$T/out" 2>&1
check "the demo runs to the end" 0 "$?"
check_match "it verifies" "'$T/rel' verifies" "$(cat "$T/out")"
check "one folder per class, each with an image" "5 5" \
	"$(find "$T/rel/example" -mindepth 1 -type d | wc -l) $(find "$T/rel/example" -name '*.jpg' | wc -l)"
check "and the tar" 0 "$("$NATADV" verify "$T/rel/example.tar" > /dev/null 2>&1; echo $?)"
check_match "it writes the report and prints its path" "^$T/ws/report\.html\$" "$(grep -x "$T/ws/report.html" "$T/out")"
check_match "the report is the example set's" '<title>natadv report: example</title>' "$(head -c 600 "$T/ws/report.html" 2>&1)"
check_match "and the release has one beside it" '<title>natadv report: example</title>' "$(head -c 600 "$T/rel/report.html" 2>&1)"
check_match "the audit of an image names its seed line" "seed line +seeds.tsv:[0-9]" "$(cat "$T/out")"
check "the filter model gets its own release all wrong" 0 \
	"$("$NATADV" -w "$T/ws" eval --model demo --json "$T/rel" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["accuracy"])')"
check_match "the self-check says so" '"self_check":\{"filter_model":true,"checked":3,"right":0,"passed":true\}' \
	"$("$NATADV" -w "$T/ws" eval --model demo --json "$T/rel" 2>/dev/null)"

# Move one image into the folder of the class the model predicts (and say so
# in the manifest): the filter model now gets it right, and the check fails.
python3 - "$T/rel" <<'PY'
import json, os, sys
rel = sys.argv[1]
lines = [json.loads(l) for l in open(os.path.join(rel, "manifest.jsonl"))]
for d in lines:
    if d["converted"] is None:
        folder = d["path"].split("/")[0]
        new = "%s/%s/%s" % (folder, d["pred_wnid"], d["path"].split("/")[2])
        os.rename(os.path.join(rel, d["path"]), os.path.join(rel, new))
        d["path"] = new
        break
with open(os.path.join(rel, "manifest.jsonl"), "w") as f:
    for d in lines:
        f.write(json.dumps(d) + "\n")
PY
"$NATADV" -w "$T/ws" eval --model demo "$T/rel" > "$T/eval.out" 2> "$T/eval.err"
check "a failed self-check is an error" 1 "$?"
check_match "it says which image" "self-check failed: .* gets 1 of 3 right \(first: 'example/n[0-9]+/[0-9a-f]{32}\.jpg'\)" "$(cat "$T/eval.err")"
finish
