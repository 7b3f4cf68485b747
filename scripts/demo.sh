#!/usr/bin/env bash
# demo.sh — the main job on the built-in example, end to end: serve the
# bundled photos from a loopback test server, crawl examples/seeds.tsv into a
# workspace, score every image with the bundled small model, make a class set
# of the example's classes, select what the model gets confidently wrong,
# accept the proposals automatically, export a release (with its tar), verify
# it, write the report page, and say where the release is and how many
# images each class holds.
# Workspace: demo-workspace/ (NATADV_DEMO_DIR), release: demo-release/ (NATADV_DEMO_OUT).
set -eu
cd "$(dirname "$0")/.."
ws=${NATADV_DEMO_DIR:-demo-workspace}
out=${NATADV_DEMO_OUT:-demo-release}
tmp=$(mktemp -d)
trap 'kill $srv 2>/dev/null || true; rm -rf "$tmp"' EXIT
build/rel/testsrv --port-file "$tmp/port" --root tests/fixtures --log "$tmp/server.log" &
srv=$!
for _ in $(seq 1 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
base="http://127.0.0.1:$(cat "$tmp/port")"
sed "s#{BASE}#$base#g" examples/seeds.tsv > "$tmp/seeds.tsv"
rm -rf "$ws"

step() { # prints the command as a user would type it, then runs it
	echo
	echo "\$ natadv -w $ws $*" | sed "s#$tmp/seeds.tsv#examples/seeds.tsv#"
	./natadv -w "$ws" "$@"
}

./natadv -w "$ws" init
status=0
step crawl --seeds "$tmp/seeds.tsv" --allow-private --retry-base 0.2 || status=$?
echo "(exit status $status: 3 means done, with some urls failed or opted out, as this example intends)"
step stats
echo
echo "what happened to every url:"
sqlite3 -header -column "$ws/natadv.db" \
	"SELECT substr(url, length('$base') + 1) AS url, state, attempts, coalesce(last_error, '') AS reason FROM urls ORDER BY id"
step model add examples/demo-model.safetensors --name demo
step score --model demo
classes=$(cut -f2 examples/seeds.tsv | tail -n +2 | sort -u | paste -sd, -)
step classes add-set example --from none --add "$classes"
step select --model demo --set example --max-true-prob 0.25
step review --auto-accept --set example --reviewer demo
step export --set example --out "$out" --tar --force
echo
echo "\$ natadv verify $out"
./natadv verify "$out"
echo
echo "the release is in $out/:"
(cd "$out" && ls -1)
echo
echo "images per class:"
tail -n +2 "$out/classes.tsv" | while IFS=$'\t' read -r label wnid _ name _; do
	printf '  %s  %s  %-14s %s\n' "$label" "$wnid" "$name" "$(find "$out/example/$wnid" -type f | wc -l)"
done
step report --set example
echo "(the report: where the candidates went, why urls failed, confidences, confusions; also $out/report.html)"
first=$(find "$out/example" -name '*.jpg' | sort | head -n 1)
echo
echo "where one of them came from (natadv -w $ws audit ${first#"$out"/}):"
./natadv -w "$ws" audit "${first#"$out"/}" | head -n 40
