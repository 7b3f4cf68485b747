#!/usr/bin/env bash
# runs.sh — every invocation is recorded in runs, and a command that cannot
# record itself does not run: a command line longer than 1 MiB is recorded
# cut, saying so; `classify --model NAME` (which opens the workspace itself)
# fails when its run cannot be recorded.
. "$(dirname "$0")/lib.sh"
DEMO=$ROOT/examples/demo-model.safetensors

nat -q init
nat -q model add "$DEMO" --name demo
check "model add" 0 "$?"

# ---- a command line longer than 1 MiB (ten arguments of 120 KiB) ----
long=$(head -c 122880 /dev/zero | tr '\0' x)
nat stats "$long" "$long" "$long" "$long" "$long" "$long" "$long" "$long" "$long" "$long" 2> /dev/null
check "the command ran (a usage error)" 2 "$?"
check "recorded, cut, and saying so" "1|1" \
	"$(sql "SELECT length(args) <= 1048576 + 64, args LIKE '%[cut: the command line is longer than 1 MiB]' FROM runs WHERE command = 'stats'")"
check "a short line is recorded whole" "1" "$(sql "SELECT count(*) FROM runs WHERE command = 'model' AND args LIKE '% model add % --name demo'")"

# ---- classify --model NAME records its run, or does not run ----
nat -q classify --model demo "$FIX/rocket.jpg" > /dev/null
check "classify by name" 0 "$?"
check "its run" 1 "$(sql "SELECT count(*) FROM runs WHERE command = 'classify'")"
sql "CREATE TRIGGER no_runs BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'runs are read-only here'); END"
out=$(nat classify --model demo "$FIX/rocket.jpg" 2> "$T/err")
check "classify fails when its run cannot be recorded" 1 "$?"
check "and prints nothing" "" "$out"
check_match "saying why" "runs are read-only here" "$(cat "$T/err")"
finish
