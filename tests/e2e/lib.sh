# lib.sh — shared helpers of the end-to-end tests: a loopback test server,
# a fresh workspace, SQL queries and checks that count passes and failures.
# Each test script sources this, runs checks, and ends with `finish`.
#
# What counts as a failure, beyond a check whose values differ: a check made
# in a subshell (failures are written to a file, not only counted), a failed
# sqlite3 query in sql/sql_in (whose empty output would otherwise pass a
# check of ""), an error message of bash itself (a failed cd, a failed
# redirection, an arithmetic syntax error, an unset variable in a command
# substitution: each makes a check vanish or pass on an empty value), a
# script that made no check, and one that ends without calling finish.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NATADV=${NATADV:-$ROOT/build/rel/natadv}
TESTSRV=${TESTSRV:-$ROOT/build/rel/testsrv}
FIX=$ROOT/tests/fixtures
T=$(mktemp -d /tmp/natadv-e2e.XXXXXX)
export XDG_CACHE_HOME=$T/.cache # packed-weights caches of model files stay in the test
# python3: Debian's when there is one (the scripts need only its standard
# library). The python3 first on PATH may be a pyenv shim, which takes 0.3 s
# to start where Debian's takes 0.04 s, and the scripts start it dozens of times.
if [ -x /usr/bin/python3 ]; then
	python3() { /usr/bin/python3 "$@"; }
fi
PASS=0
FAIL=0
SRV_PID=
HOST_PIDS=              # testsrv on 127.0.0.2-4 (start_hosts)
FINISHED=
FAILS=$T/.failed        # one line per failed check, also from subshells
: > "$FAILS"
# The script's stderr also goes to $T/.stderr, where finish looks for bash's
# own error messages ("x.sh: line N: ...").
exec 3>&2 2> >(tee -a "$T/.stderr" | grep --line-buffered -v '^natadv-e2e-sync ' >&3)

cleanup() {
	local rc=$?
	[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
	for p in $HOST_PIDS; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$T"
	if [ "$rc" = 0 ] && [ -z "$FINISHED" ]; then
		echo "FAIL $(basename "$0"): the script ended without calling finish" >&3
		exit 1
	fi
}
trap cleanup EXIT

# fail DESCRIPTION: records a failed check (from a subshell too).
fail() {
	echo "FAIL $(basename "$0"): $1" >&2
	printf '%s\n' "$1" | head -n 1 >> "$FAILS"
}

# start_server [TESTSRV OPTIONS...]: starts testsrv on an ephemeral loopback
# port (with any further options, e.g. --routes FILE); sets PORT and BASE.
start_server() {
	rm -f "$T/port"
	"$TESTSRV" --port-file "$T/port" --root "$FIX" --log "$T/server.log" --gen-base "$FIX/chelsea_q90.jpg" "$@" &
	SRV_PID=$!
	for _ in $(seq 1 100); do
		[ -s "$T/port" ] && break
		sleep 0.05
	done
	PORT=$(cat "$T/port")
	BASE="http://127.0.0.1:$PORT"
}

# start_hosts: after start_server, three more testsrv on 127.0.0.2, .3 and
# .4 (stopped on exit); sets H1 (BASE) to H4, each http://127.0.0.N:PORT.
start_hosts() {
	local i
	for i in 2 3 4; do
		"$TESTSRV" --bind "127.0.0.$i" --port-file "$T/port$i" --root "$FIX" --log "$T/server$i.log" \
			--gen-base "$FIX/chelsea_q90.jpg" &
		HOST_PIDS="$HOST_PIDS $!"
	done
	for i in 2 3 4; do
		for _ in $(seq 1 100); do [ -s "$T/port$i" ] && break; sleep 0.05; done
	done
	H1=$BASE
	H2="http://127.0.0.2:$(cat "$T/port2")"
	H3="http://127.0.0.3:$(cat "$T/port3")"
	H4="http://127.0.0.4:$(cat "$T/port4")"
}

# nat ARGS...: runs natadv on the test workspace.
nat() { "$NATADV" -w "$T/ws" "$@"; }

# sql_in WORKSPACE QUERY: prints the query's result from that workspace; a
# failed query (no database, bad SQL) is a failed check.
sql_in() {
	local out rc
	out=$(sqlite3 -batch -noheader "$1/natadv.db" "$2" 2>&1)
	rc=$?
	if [ "$rc" != 0 ]; then
		fail "sql failed (exit $rc) in '$1': $2: $out"
		return "$rc"
	fi
	[ -n "$out" ] && printf '%s\n' "$out"
	return 0
}

# sql QUERY: prints the query's result from the test workspace.
sql() { sql_in "$T/ws" "$1"; }

# check DESCRIPTION EXPECTED ACTUAL
check() {
	if [ "$2" = "$3" ]; then
		PASS=$((PASS + 1))
	else
		fail "$1: expected '$2', got '$3'"
	fi
}

# check_num DESCRIPTION EXPECTED ACTUAL: ACTUAL must be an integer (not
# empty, as a failed query or command substitution leaves it) equal to
# EXPECTED.
check_num() {
	if ! [[ $3 =~ ^-?[0-9]+$ ]]; then
		fail "$1: expected the number '$2', got '$3'"
	else
		check "$1" "$2" "$3"
	fi
}

# check_match DESCRIPTION PATTERN ACTUAL (grep -E pattern)
check_match() {
	if printf '%s' "$3" | grep -Eq -- "$2"; then
		PASS=$((PASS + 1))
	else
		fail "$1: '$3' does not match /$2/"
	fi
}

# check_blobs [WORKSPACE]: every image row of the workspace (the test one by
# default) has a complete blob whose SHA-256 matches, no temporary file is
# left, and the database passes its integrity and foreign key checks.
check_blobs() {
	local ws=${1:-$T/ws}
	local bad n rows want
	local w=${ws#"$T"/}
	rows=$(sql_in "$ws" "SELECT hash, sha256 FROM images") || return
	n=$(printf '%s' "$rows" | grep -c .)
	# "SHA256  PATH" for every image, against sha256sum's lines for the files
	want=$(printf '%s\n' "$rows" | awk -F'|' -v o="$ws/objects" 'NF == 2 {
		print $2 "  " o "/" substr($1, 1, 2) "/" substr($1, 3) }' | LC_ALL=C sort)
	bad=$(LC_ALL=C comm -23 <(printf '%s\n' "$want") \
		<(printf '%s\n' "$want" | cut -c67- | xargs -r -d '\n' sha256sum 2> /dev/null | LC_ALL=C sort) | grep -c .)
	check "$w: images" 1 "$((n > 0))"
	check "$w: blobs missing or wrong (of $n)" 0 "$bad"
	if [ -d "$ws/objects/tmp" ]; then
		check "$w: temporary files left" 0 "$(find "$ws/objects/tmp" -type f | wc -l)"
	else
		fail "$w: no folder '$ws/objects/tmp'"
	fi
	check "$w: integrity_check" ok "$(sql_in "$ws" 'PRAGMA integrity_check')"
	check "$w: foreign keys" "" "$(sql_in "$ws" 'PRAGMA foreign_key_check')"
}

# shell_errors: bash's own error messages on the script's stderr so far.
shell_errors() {
	local i
	echo "natadv-e2e-sync $$" >&2
	for i in $(seq 1 100); do
		grep -qx "natadv-e2e-sync $$" "$T/.stderr" 2> /dev/null && break
		sleep 0.02
	done
	grep -E '^[^ ]*\.sh: line [0-9]+: ' "$T/.stderr" |
		grep -v -E ': line [0-9]+: +[0-9]+ (Killed|Terminated)( |$)' |
		grep -v '^natadv-e2e-sync '
}

# seeds_three A B C: writes $T/seeds.tsv, three fixtures of the test server
# for classes A, B and C (rocket, a PNG and coffee), with seed provenance.
seeds_three() {
	{
		printf 'url\twnid\tsource\tquery\tpage_url\tlicense\tauthor\n'
		printf '%s/img/rocket.jpg\t%s\tseeds\trocket\t\tcc-by-4.0\tNASA\n' "$BASE" "$1"
		printf '%s/img/chelsea.png\t%s\tseeds\tcat\t\tcc0\t\n' "$BASE" "$2"
		printf '%s/img/coffee_q90.jpg\t%s\tseeds\t\t\t\t\n' "$BASE" "$3"
	} > "$T/seeds.tsv"
}

# seeds_ood P V K NPAT: writes $T/seeds.tsv, photos of the test server
# tagged with out-of-distribution classes P (rocket, hubble), V (chelsea.png,
# chelsea_q90, coffee_q90) and K (coffee_q90 again and NPAT patterns).
seeds_ood() {
	local i
	{
		printf 'url\twnid\tsource\tquery\tpage_url\tlicense\tauthor\n'
		printf '%s/img/rocket.jpg\t%s\tseeds\tphotosphere\thttp://example.org/sun\tcc-by-4.0\tNASA\n' "$BASE" "$1"
		printf '%s/img/hubble_deep_field.jpg\t%s\tseeds\t\t\t\t\n' "$BASE" "$1"
		printf '%s/img/chelsea.png\t%s\tseeds\t\t\tcc0\t\n' "$BASE" "$2"
		printf '%s/img/chelsea_q90.jpg\t%s\tseeds\t\t\t\t\n' "$BASE" "$2"
		printf '%s/img/coffee_q90.jpg\t%s\tseeds\t\t\t\t\n' "$BASE" "$2"
		printf '%s/img/coffee_q90.jpg\t%s\tseeds\t\t\t\t\n' "$BASE" "$3"
		for i in $(seq 1 "$4"); do printf '%s/pattern/%d.png\t%s\tseeds\t\t\t\t\n' "$BASE" "$i" "$3"; done
	} > "$T/seeds.tsv"
}

# demo_accept SET WNIDS MIN_CONFIDENCE: scores the workspace's images with
# the bundled demo model, makes class set SET of WNIDS (comma-separated),
# selects over the 1000 outputs and accepts every proposal automatically.
demo_accept() {
	nat -q model add "$ROOT/examples/demo-model.safetensors" --name demo
	nat -q score --model demo
	nat -q classes add-set "$1" --from none --add "$2"
	nat -q select --model demo --set "$1" --space 1k --min-confidence "$3" > /dev/null
	nat -q review --auto-accept --set "$1" > /dev/null
}

# ---- the scale-out tests (split_merge.sh, slurm.sh) ----
# scaleout_init: one locale and one release time (both exports alike), the
# demo model (DEMO), five fixture classes by name and as CLASSES.
scaleout_init() {
	export LC_ALL=C
	export SOURCE_DATE_EPOCH=1767225600
	DEMO=$ROOT/examples/demo-model.safetensors
	TABBY=n02123045 MISSILE=n03773504 SHUTTLE=n04266014 ESPRESSO=n07920052 CLIFF=n09246464
	CLASSES="$TABBY,$MISSILE,$SHUTTLE,$ESPRESSO,$CLIFF"
}

# seed_rows HOST N: host HOST's four seed rows: rocket.jpg (the same bytes on
# every host), coffee_q90.jpg, generated image N and a missing url.
seed_rows() {
	printf '%s/img/rocket.jpg\t%s\tseeds\trocket\t%s/page\tcc-by-4.0\tNASA\n' "$1" "$SHUTTLE" "$1"
	printf '%s/img/coffee_q90.jpg\t%s\tseeds\tcoffee\t\tcc0\t\n' "$1" "$ESPRESSO"
	printf '%s/gen/%d.jpg\t%s\tseeds\tcat\t\tcc0\tsomeone\n' "$1" "$2" "$TABBY"
	printf '%s/img/missing-%d.jpg\t%s\tseeds\t\t\t\t\n' "$1" "$2" "$CLIFF"
}

# fixtures_release WS OUT [EXPORT_FLAG...]: in workspace WS (scored with the
# demo model), class set fixtures of CLASSES, selected over the 1000 outputs
# (confidence 0.1), accepted and exported with a tar to OUT; prints the tar's
# SHA-256.
fixtures_release() {
	local ws=$1 out=$2
	shift 2
	"$NATADV" -w "$ws" -q classes add-set fixtures --from none --add "$CLASSES"
	"$NATADV" -w "$ws" -q select --model demo --set fixtures --space 1k --min-confidence 0.1 > /dev/null
	"$NATADV" -w "$ws" -q review --auto-accept --set fixtures > /dev/null
	"$NATADV" -w "$ws" -q export --set fixtures --out "$out" --tar "$@" | cut -d' ' -f1
}

# single_machine WS [EXPORT_FLAG...]: the whole pipeline in one new workspace
# WS over $T/seeds.tsv: crawl (the missing urls fail), score with the demo
# model, fixtures_release to $T/rel-a; sets TAR_A and STATS_A.
single_machine() {
	local ws=$1
	shift
	"$NATADV" -w "$ws" -q init
	"$NATADV" -w "$ws" -q crawl --seeds "$T/seeds.tsv" --allow-private --retries 0
	check "single: crawl done, the missing urls failed" 3 "$?"
	"$NATADV" -w "$ws" -q model add "$DEMO" --name demo
	"$NATADV" -w "$ws" -q score --model demo --threads 2
	TAR_A=$(fixtures_release "$ws" "$T/rel-a" "$@")
	check_match "single: a tar" '^[0-9a-f]{64}$' "$TAR_A"
	STATS_A=$("$NATADV" -w "$ws" stats --json)
}

# check_merge_again WS DIR N: merging DIR (N parts, all merged before) into
# WS again finds them merged and changes nothing but the merge's own run.
check_merge_again() {
	local before
	before=$(sqlite3 "$1/natadv.db" .dump | grep -v '^INSERT INTO runs' | sha256sum)
	"$NATADV" -w "$1" merge "$2" 2> "$T/err"
	check "merging every part again" 0 "$?"
	check_match "finds them merged" "merged 0 parts, $3 merged before" "$(cat "$T/err")"
	check "and changes nothing" "$before" "$(sqlite3 "$1/natadv.db" .dump | grep -v '^INSERT INTO runs' | sha256sum)"
}

finish() {
	FINISHED=1
	local errs
	errs=$(shell_errors)
	if [ -n "$errs" ]; then
		fail "bash reported errors (each may have hidden a check):"
		printf '%s\n' "$errs" | sed 's/^/    /' >&2
	fi
	FAIL=$(wc -l < "$FAILS")
	[ $((PASS + FAIL)) -eq 0 ] && fail "no check was made" && FAIL=1
	echo "$(basename "$0"): $PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}
