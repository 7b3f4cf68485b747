#!/usr/bin/env bash
# run.sh — runs every test natadv has, as tests/suites.txt lists them: the
# unit tests and fuzz-corpus replays of the release and the ASan+UBSan
# builds, then the end-to-end scripts against the release build and, for
# those listed with asan, again against the ASan+UBSan build.
# Prints one line per suite and a final "N passed, N failed".
# Usage: tests/run.sh [PATTERN]: only the suites whose name (as printed, e.g.
# "asan e2e cli") matches the grep -E PATTERN. NATADV_REL_BUILD=cov runs the
# suites listed for rel against build/cov instead, and no asan ones (make
# coverage).
#
# A suite fails when it exits non-zero, when a sanitizer wrote a report
# (each suite gets its own log_path under build/test-logs, so reports of a
# natadv run inside a pipe are not lost), when its binary or fuzz corpus is
# missing, or when a replay ran no input. A test file that suites.txt does
# not list fails the run. Exit 77 means "cannot run here": printed as
# skipped, but a failure under CI=true or NATADV_STRICT=1 (make test sets
# it, having installed what the tests need).
set -u
cd "$(dirname "$0")/.." || exit 1
passed=0
failed=0
skipped=0
strict=0
if [ "${CI:-}" = true ] || [ "${NATADV_STRICT:-0}" = 1 ]; then
	strict=1
fi
LIST=tests/suites.txt
LOGS=build/test-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"

ONLY=${1:-}
REL=${NATADV_REL_BUILD:-rel}
modes="rel asan"
[ "$REL" = rel ] || modes=rel
dir_of() { if [ "$1" = rel ]; then echo "$REL"; else echo "$1"; fi; }
want() { [ -z "$ONLY" ] || printf '%s\n' "$1" | grep -qE -- "$ONLY"; }

fail() { # NAME MESSAGE: a suite that failed before or without running
	failed=$((failed + 1))
	echo "FAIL $1: $2"
}

# sanitizer_reports DIR: prints the head of every report in DIR; true if any.
sanitizer_reports() {
	local f found=1
	for f in "$1"/asan.* "$1"/ubsan.*; do
		[ -f "$f" ] || continue
		found=0
		echo "     sanitizer report $f:"
		head -n 30 "$f" | sed 's/^/       /'
	done
	return $found
}

# No suite takes more than a few minutes; one that hangs fails instead of
# holding up the whole run.
SUITE_TIMEOUT=${SUITE_TIMEOUT:-600}

suite() { # NAME COMMAND...
	local name=$1
	shift
	local dir=$LOGS/${name// /_}
	mkdir -p "$dir"
	local log=$dir/output
	local t0=$SECONDS
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$PWD/$dir/asan \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$PWD/$dir/ubsan \
		timeout -k 10 "$SUITE_TIMEOUT" "$@" > "$log" 2>&1 < /dev/null
	local rc=$?
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then # timeout's own statuses
		echo "suite stopped after $SUITE_TIMEOUT s (SUITE_TIMEOUT): it hung or ran far too long" >> "$log"
		rc=1
	fi
	local reports
	reports=$(sanitizer_reports "$dir")
	if [ -n "$reports" ]; then
		failed=$((failed + 1))
		echo "FAIL $name ($((SECONDS - t0)) s): a sanitizer report (exit status $rc)"
		printf '%s\n' "$reports"
		tail -n 20 "$log" | sed 's/^/     /'
	elif [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok   $name ($((SECONDS - t0)) s)"
	elif [ "$rc" -eq 77 ] && [ "$strict" = 0 ]; then # the test cannot run here; it says why
		skipped=$((skipped + 1))
		echo "SKIP $name: $(tail -n 1 "$log")"
	elif [ "$rc" -eq 77 ]; then
		failed=$((failed + 1))
		echo "FAIL $name: skipped, which is a failure here (CI=true or NATADV_STRICT=1): $(tail -n 1 "$log")"
	else
		failed=$((failed + 1))
		echo "FAIL $name ($((SECONDS - t0)) s)"
		tail -n 40 "$log" | sed 's/^/     /'
	fi
	LAST_LOG=$log
}

# The list, and every test file in the tree on it.
if [ ! -f "$LIST" ]; then
	echo "FAIL: no $LIST"
	exit 1
fi
entries=$(grep -v -E '^[[:space:]]*(#|$)' "$LIST")
listed() { printf '%s\n' "$entries" | grep -q -E "^$1 $2( |$)"; }
for f in tests/unit/test_*.c; do
	n=$(basename "$f" .c)
	listed unit "$n" || fail "unit $n" "$f is not in $LIST: add it to tests/suites.txt"
done
for f in tests/fuzz/fuzz_*.c; do
	n=$(basename "$f" .c)
	n=${n#fuzz_}
	listed fuzz "$n" || fail "fuzz $n" "$f is not in $LIST: add it to tests/suites.txt"
done
for f in tests/e2e/*.sh; do
	n=$(basename "$f" .sh)
	[ "$n" = lib ] && continue
	listed e2e "$n" || fail "e2e $n" "$f is not in $LIST: add it to tests/suites.txt"
done

run_unit() { # BUILD NAME
	local bin=build/$1/tests/$2
	want "$1 unit $2" || return 0
	if [ ! -f "tests/unit/$2.c" ]; then
		fail "$1 unit $2" "listed in $LIST but tests/unit/$2.c does not exist"
	elif [ ! -x "$bin" ]; then
		fail "$1 unit $2" "no $bin (make MODE=$1 tools)"
	else
		suite "$1 unit $2" "$bin"
	fi
}

run_fuzz() { # BUILD NAME
	local bin=build/$1/fuzz/replay_$2 corpus=tests/fuzz/corpus/$2
	want "$1 fuzz corpus $2" || return 0
	if [ ! -f "tests/fuzz/fuzz_$2.c" ]; then
		fail "$1 fuzz corpus $2" "listed in $LIST but tests/fuzz/fuzz_$2.c does not exist"
	elif [ ! -x "$bin" ]; then
		fail "$1 fuzz corpus $2" "no $bin (make MODE=$1 tools)"
	elif [ -z "$(ls -A "$corpus" 2> /dev/null)" ]; then
		fail "$1 fuzz corpus $2" "no input in $corpus"
	else
		local before=$passed
		suite "$1 fuzz corpus $2" "$bin" "$corpus"
		local want got
		want=$(find "$corpus" -mindepth 1 -maxdepth 1 ! -name '.*' | wc -l)
		got=$(sed -n 's/^\([0-9]*\) inputs replayed$/\1/p' "$LAST_LOG")
		# only a replay that passed is checked (and taken back) here
		if [ "$passed" != "$before" ] && [ "${got:-0}" != "$want" ]; then
			passed=$((passed - 1))
			fail "$1 fuzz corpus $2" "replayed '${got:-none}' of $want inputs"
		fi
	fi
}

run_e2e() { # BUILD NAME
	local build=${1%+testsrv} script=tests/e2e/$2.sh
	local srv=build/$REL/testsrv
	[ "$build" != "$1" ] && srv=build/$build/testsrv
	local prefix=
	[ "$build" = rel ] || prefix="$build "
	want "${prefix}e2e $2" || return 0
	if [ ! -f "$script" ]; then
		fail "${prefix}e2e $2" "listed in $LIST but $script does not exist"
	elif [ ! -x "build/$build/natadv" ] || [ ! -x "$srv" ]; then
		fail "${prefix}e2e $2" "no build/$build/natadv or $srv (make MODE=$build tools)"
	else
		suite "${prefix}e2e $2" env NATADV="$PWD/build/$build/natadv" TESTSRV="$PWD/$srv" bash "$script"
	fi
}

# builds KIND PATTERN: "NAME BUILD" lines of one kind whose build matches;
# "? LINE" for a line that would run nothing: an unknown kind, no build, a
# build of no known name, or asan+testsrv on a suite that starts no server.
builds() {
	printf '%s\n' "$entries" | awk -v k="$1" -v p="$2" '
		$1 == k { for (i = 3; i <= NF; i++) if ($i ~ p) print $2, $i }
		$1 != "unit" && $1 != "fuzz" && $1 != "e2e" { print "?", $0; next }
		NF < 3 { print "?", $0; next }
		{ for (i = 3; i <= NF; i++)
			if ($i !~ /^(rel|asan|asan\+testsrv)$/ || ($i == "asan+testsrv" && $1 != "e2e")) { print "?", $0; next } }'
}
bad=$(builds none x | grep '^? ' | sort -u)
[ -n "$bad" ] && fail "$LIST" "lines that would run nothing (kind, or builds rel, asan, asan+testsrv): ${bad//\? /}"
for mode in $modes; do
	while read -r n b; do run_unit "$(dir_of "$b")" "$n"; done < <(builds unit "^$mode\$")
	while read -r n b; do run_fuzz "$(dir_of "$b")" "$n"; done < <(builds fuzz "^$mode\$")
done
while read -r n b; do run_e2e "$(dir_of "$b")" "$n"; done < <(builds e2e '^rel$')
[ "$REL" = rel ] && while read -r n b; do run_e2e "$b" "$n"; done < <(builds e2e '^asan')

[ $((passed + failed + skipped)) -eq 0 ] && fail "tests/run.sh${ONLY:+ $ONLY}" "no suite ran"
summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
