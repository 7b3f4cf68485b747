# lib.sh — shared helpers of the end-to-end tests: a loopback test server,
# a fresh workspace, SQL queries and checks that count passes and failures.
# Each test script sources this, runs checks, and ends with `finish`.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NATADV=${NATADV:-$ROOT/build/rel/natadv}
TESTSRV=${TESTSRV:-$ROOT/build/rel/testsrv}
FIX=$ROOT/tests/fixtures
T=$(mktemp -d /tmp/natadv-e2e.XXXXXX)
PASS=0
FAIL=0
SRV_PID=

cleanup() {
	[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

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

# nat ARGS...: runs natadv on the test workspace.
nat() { "$NATADV" -w "$T/ws" "$@"; }

# sql QUERY: prints the query's result from the test workspace.
sql() { sqlite3 -batch -noheader "$T/ws/natadv.db" "$1"; }

# check DESCRIPTION EXPECTED ACTUAL
check() {
	if [ "$2" = "$3" ]; then
		PASS=$((PASS + 1))
	else
		FAIL=$((FAIL + 1))
		echo "FAIL $(basename "$0"): $1: expected '$2', got '$3'" >&2
	fi
}

# check_match DESCRIPTION PATTERN ACTUAL (grep -E pattern)
check_match() {
	if printf '%s' "$3" | grep -Eq -- "$2"; then
		PASS=$((PASS + 1))
	else
		FAIL=$((FAIL + 1))
		echo "FAIL $(basename "$0"): $1: '$3' does not match /$2/" >&2
	fi
}

# check_blobs: every image row has a complete blob whose SHA-256 matches,
# and no temporary file is left.
check_blobs() {
	local bad=0 n=0 hash sha path
	while IFS='|' read -r hash sha; do
		n=$((n + 1))
		path="$T/ws/objects/${hash:0:2}/${hash:2}"
		if [ ! -f "$path" ] || [ "$(sha256sum < "$path" | cut -d' ' -f1)" != "$sha" ]; then
			bad=$((bad + 1))
		fi
	done < <(sql "SELECT hash, sha256 FROM images")
	check "blobs missing or wrong (of $n)" 0 "$bad"
	check "temporary files left" 0 "$(find "$T/ws/objects/tmp" -type f | wc -l)"
	check "integrity_check" ok "$(sql 'PRAGMA integrity_check')"
	check "foreign keys" "" "$(sql 'PRAGMA foreign_key_check')"
}

finish() {
	echo "$(basename "$0"): $PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}
