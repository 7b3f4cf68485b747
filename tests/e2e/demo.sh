#!/usr/bin/env bash
# demo.sh — the README's first command (make demo = scripts/demo.sh) runs the
# whole pipeline on the built-in example and ends with a verified release.
. "$(dirname "$0")/lib.sh"
NATADV_DEMO_DIR="$T/ws" NATADV_DEMO_OUT="$T/rel" bash "$ROOT/scripts/demo.sh" > "$T/out" 2>&1
check "the demo runs to the end" 0 "$?"
check_match "it verifies" "'$T/rel' verifies" "$(cat "$T/out")"
check "one folder per class, each with an image" "4 4" \
	"$(find "$T/rel/example" -mindepth 1 -type d | wc -l) $(find "$T/rel/example" -name '*.jpg' | wc -l)"
check "and the tar" 0 "$("$NATADV" verify "$T/rel/example.tar" > /dev/null 2>&1; echo $?)"
check_match "the audit of an image names its seed line" "seed line +seeds.tsv:[0-9]" "$(cat "$T/out")"
check "the filter model gets its own release all wrong" 0 \
	"$("$NATADV" -w "$T/ws" eval --model demo --json "$T/rel" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["accuracy"])')"
finish
