#!/usr/bin/env bash
# run.sh — runs every test natadv has: the unit tests and fuzz-corpus replays
# of the release and the ASan+UBSan builds, and the end-to-end scripts
# against the release build (and the crawl faults again under ASan).
# Prints one line per suite and a final "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
skipped=0
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

suite() { # NAME COMMAND...
	local name=$1
	shift
	local log
	log=$(mktemp)
	local t0=$SECONDS
	"$@" > "$log" 2>&1
	local rc=$?
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok   $name ($((SECONDS - t0)) s)"
	elif [ "$rc" -eq 77 ]; then # the test cannot run here; it says why
		skipped=$((skipped + 1))
		echo "SKIP $name: $(tail -n 1 "$log")"
	else
		failed=$((failed + 1))
		echo "FAIL $name ($((SECONDS - t0)) s)"
		tail -n 40 "$log" | sed 's/^/     /'
	fi
	rm -f "$log"
}

for mode in rel asan; do
	for t in build/$mode/tests/test_*; do
		[ -x "$t" ] && suite "$mode unit $(basename "$t")" "$t"
	done
	for r in build/$mode/fuzz/replay_*; do
		[ -x "$r" ] || continue
		name=${r##*/replay_}
		suite "$mode fuzz corpus $name" "$r" "tests/fuzz/corpus/$name"
	done
done
for e in tests/e2e/*.sh; do
	[ "$(basename "$e")" = lib.sh ] && continue
	suite "e2e $(basename "$e" .sh)" bash "$e"
done
suite "asan e2e crawl_faults" env NATADV=build/asan/natadv bash tests/e2e/crawl_faults.sh
suite "asan e2e cli" env NATADV=build/asan/natadv bash tests/e2e/cli.sh
suite "asan e2e audit" env NATADV=build/asan/natadv bash tests/e2e/audit.sh
suite "asan e2e rebuild" env NATADV=build/asan/natadv bash tests/e2e/rebuild.sh
suite "asan e2e select" env NATADV=build/asan/natadv bash tests/e2e/select.sh
suite "asan e2e review_api" env NATADV=build/asan/natadv bash tests/e2e/review_api.sh
suite "asan e2e export" env NATADV=build/asan/natadv bash tests/e2e/export.sh
suite "asan e2e pipeline" env NATADV=build/asan/natadv bash tests/e2e/pipeline.sh
suite "asan e2e discover" env NATADV=build/asan/natadv TESTSRV=build/asan/testsrv bash tests/e2e/discover.sh

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
