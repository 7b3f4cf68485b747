#!/usr/bin/env bash
# kill_resume.sh — SIGKILL a crawl of 1,500 byte-distinct images at several
# moments, run it again until done, and check that nothing is lost, stored
# twice or half written. Then SIGTERM must stop cleanly with a message.
. "$(dirname "$0")/lib.sh"
start_server
nat -q init
N=1500
{
	printf 'url\twnid\n'
	for i in $(seq 1 $N); do printf '%s/gen/%d.jpg\tn02123045\n' "$BASE" "$i"; done
} > "$T/seeds.tsv"
nat -q crawl --seeds "$T/seeds.tsv" --no-fetch
check "all urls queued" "$N" "$(sql "SELECT count(*) FROM urls WHERE state = 'pending'")"

OPTS=(--allow-private --concurrency 16 --per-host 16 --retry-base 0.1)
kills=0
for delay in 0.3 0.7 1.1 0.2 0.9; do
	"$NATADV" -w "$T/ws" -q crawl "${OPTS[@]}" 2>/dev/null &
	pid=$!
	sleep "$delay"
	if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
	wait "$pid" 2>/dev/null
	# after each kill the database is consistent
	check "integrity after kill at ${delay}s" ok "$(sql 'PRAGMA integrity_check')"
done
check_match "at least one kill landed mid-crawl" "^[1-9]" "$kills"
done_before=$(sql "SELECT count(*) FROM urls WHERE state = 'fetched'")
check_match "some work was done before the final run" "^[1-9]" "$done_before"

nat crawl "${OPTS[@]}" 2> "$T/err"
check "final run finishes" 0 "$?"
check "every url fetched" "$N|$N" "$(sql "SELECT count(*) || '|' || sum(state = 'fetched') FROM urls")"
check "no image stored twice" "$N" "$(sql 'SELECT count(*) FROM images')"
check "one blob per image" "$N" "$(find "$T/ws/objects" -path '*/tmp' -prune -o -type f -print | wc -l)"
check "no url fetched as two images" 0 "$(sql 'SELECT count(*) FROM (SELECT image_hash FROM urls GROUP BY image_hash HAVING count(*) > 1)')"
check_blobs

# SIGTERM: a clean stop with a message and a non-zero exit, then continue
{
	printf 'url\twnid\n'
	for i in $(seq 1 300); do printf '%s/slow/100/rocket.jpg?i=%d\tn04266014\n' "$BASE" "$i"; done
} > "$T/more.tsv"
nat -q crawl --seeds "$T/more.tsv" --no-fetch
"$NATADV" -w "$T/ws" crawl "${OPTS[@]}" 2> "$T/term.err" &
pid=$!
sleep 1
kill -TERM "$pid"
wait "$pid"
check "SIGTERM exits non-zero" 1 "$?"
check_match "SIGTERM message" "interrupted: [0-9,]+ urls still pending" "$(cat "$T/term.err")"
check_blobs
nat -q crawl "${OPTS[@]}"
check "the run after SIGTERM finishes" "0|$((N + 300))" "$?|$(sql "SELECT count(*) FROM urls WHERE state = 'fetched'")"
finish
