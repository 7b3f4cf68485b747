#!/usr/bin/env bash
# demo.sh — the main job on the built-in example: serve the bundled photos
# from a loopback test server, crawl examples/seeds.tsv into a workspace
# (demo-workspace/ unless NATADV_DEMO_DIR says otherwise), print what happened.
set -eu
cd "$(dirname "$0")/.."
ws=${NATADV_DEMO_DIR:-demo-workspace}
tmp=$(mktemp -d)
trap 'kill $srv 2>/dev/null || true; rm -rf "$tmp"' EXIT
build/rel/testsrv --port-file "$tmp/port" --root tests/fixtures --log "$tmp/server.log" &
srv=$!
for _ in $(seq 1 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
base="http://127.0.0.1:$(cat "$tmp/port")"
sed "s#{BASE}#$base#g" examples/seeds.tsv > "$tmp/seeds.tsv"
rm -rf "$ws"
./natadv -w "$ws" init
echo "\$ natadv -w $ws crawl --seeds examples/seeds.tsv --allow-private --retry-base 0.2"
status=0
./natadv -w "$ws" crawl --seeds "$tmp/seeds.tsv" --allow-private --retry-base 0.2 || status=$?
echo "(exit status $status: 3 means done, with some urls failed or opted out, as this example intends)"
echo "\$ natadv -w $ws stats"
./natadv -w "$ws" stats
echo "\$ natadv -w $ws dups"
./natadv -w "$ws" dups
echo
echo "what happened to every url:"
sqlite3 -header -column "$ws/natadv.db" \
	"SELECT substr(url, length('$base') + 1) AS url, state, attempts, coalesce(last_error, '') AS reason FROM urls ORDER BY id"
