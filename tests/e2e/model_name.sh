#!/usr/bin/env bash
# model_name.sh — a model's name is [A-Za-z0-9._-]+ (not "." or ".."):
# `model add` and `model fetch` refuse any other name as a usage error
# before anything is read, downloaded or recorded; a good name works.
. "$(dirname "$0")/lib.sh"
DEMO=$ROOT/examples/demo-model.safetensors

nat -q init
for bad in '../../x' 'a/b' '.' '..' 'two words' '' "$(printf 'x%.0s' $(seq 1 129))" 'tab	x' 'é'; do
	nat -q model add "$DEMO" --name "$bad" 2> "$T/err"
	check "model add --name '$bad' is a usage error" 2 "$?"
	check_match "and says why ('$bad')" "bad --name .*letters, digits, '\.', '_' or '-'" "$(cat "$T/err")"
done
nat -q model fetch '../../x' --url http://127.0.0.1:9/m --sha256 "$(printf '0%.0s' $(seq 1 64))" 2> "$T/err"
check "model fetch of a bad name is a usage error" 2 "$?"
check_match "before any download" "bad model name '\.\./\.\./x'" "$(cat "$T/err")"
nat -q model fetch resnet50 --name 'a/b' 2> "$T/err"
check "model fetch --name with a bad name is a usage error" 2 "$?"
check "nothing recorded" 0 "$(sql 'SELECT count(*) FROM models')"
check "nothing copied" 0 "$(find "$T/ws" -name '*.safetensors' | wc -l)"
check "nothing written outside the workspace" "" "$(ls "$T" | grep -v '^ws$\|^err$')"
nat -q model add "$DEMO" --name 'demo-1.0_b'
check "a name of letters, digits, '.', '_' and '-' is fine" 0 "$?"
check "and recorded" "demo-1.0_b" "$(sql 'SELECT name FROM models')"
finish
