#!/usr/bin/env bash
# cli.sh — the command-line contract: workspaces, usage errors, class
# lists, seed formats, the private-address refusal, stats, dups and runs.
. "$(dirname "$0")/lib.sh"

out=$("$NATADV" -w "$T/none" stats 2>&1)
check "missing workspace exits 1" 1 "$?"
check "missing workspace message" "natadv: no natadv workspace at '$T/none' (run 'natadv init')" "$out"
out=$(NATADV_WORKSPACE="$T/none" "$NATADV" classes 2>&1 >/dev/null)
check "NATADV_WORKSPACE is honoured" "1|natadv: no natadv workspace at '$T/none' (run 'natadv init')" "$?|$out"
"$NATADV" frobnicate 2>/dev/null
check "unknown command is a usage error" 2 "$?"
out=$(nat -q init 2>&1)
check "init is quiet with -q" "0|" "$?|$out"
check "and creates the database" 1 "$(ls "$T/ws" | grep -c '^natadv.db$')"
out=$(cd "$T" && NATADV_WORKSPACE="$T/ws" "$NATADV" classes 2>&1 | wc -l)
check "NATADV_WORKSPACE names the workspace to use" "1000" "$out"
nat -q init
check "init twice is fine" 0 "$?"
check "schema version: every migration applied" "$(ls "$ROOT"/schema/*.sql | wc -l)" "$(sql "PRAGMA user_version")"
check "journal mode" wal "$(sql 'PRAGMA journal_mode')"
nat crawl --concurrency 0 2>/dev/null
check "bad option value is a usage error" 2 "$?"
nat crawl --bogus 2>/dev/null
check "unknown option is a usage error" 2 "$?"
nat crawl --seeds "$T/missing.tsv" 2> "$T/err"
check "missing seed file fails" 1 "$?"
check_match "missing seed file message" "cannot (open|read) '$T/missing.tsv'" "$(cat "$T/err")"
printf 'address\tclass\nhttp://x/a.jpg\tn01440764\n' > "$T/bad-header.tsv"
nat crawl --seeds "$T/bad-header.tsv" 2> "$T/err"
check "seed file without url/wnid columns fails" 1 "$?"

check "1000 classes" 1000 "$(nat classes | wc -l)"
check "first class" "$(printf '0\tn01440764\ttench')" "$(nat classes | head -1)"
check "200 imagenet-a classes" 200 "$(nat classes --set imagenet-a | wc -l)"
check "imagenet-a last class" "$(printf '199\tn12267677\tacorn')" "$(nat classes --set imagenet-a | tail -1)"
nat classes --set nope 2> "$T/err"
check "unknown set fails" 1 "$?"
check_match "unknown set message" "no class set 'nope'" "$(cat "$T/err")"

# every invocation is a run
check_match "runs recorded" "^classes\|0$" "$(sql "SELECT command || '|' || status FROM runs WHERE command = 'classes' ORDER BY id LIMIT 1")"

# CSV and JSON Lines seeds, duplicates within and across files
start_server
printf 'wnid,url,license\nn02123045,%s/img/chelsea.png,"CC BY, 4.0"\nn02123045,%s/img/chelsea.png,\n' "$BASE" "$BASE" > "$T/s.csv"
printf '{"url":"%s/img/coffee_q90.jpg","wnid":"n03063599","author":"x"}\n{"url":5,"wnid":"n03063599"}\n' "$BASE" > "$T/s.jsonl"
nat crawl --seeds "$T/s.csv" --no-fetch 2> "$T/err"
check "csv loads" 0 "$?"
check_match "csv summary" "3 rows|2 rows, 1 new urls" "$(cat "$T/err")"
check "csv quoted license" "CC BY, 4.0" "$(sql "SELECT license FROM url_tags")"
nat crawl --seeds "$T/s.jsonl" --no-fetch 2> "$T/err"
check "jsonl with a bad row exits 3" 3 "$?"
check_match "jsonl bad row reported" "line 2" "$(cat "$T/err")"

# without --allow-private, loopback is refused at connect time
nat -q crawl
check "refused crawl is partial" 3 "$?"
check_match "private address refused" "refused: .*private or loopback" "$(sql "SELECT last_error FROM urls LIMIT 1")"
check "nothing was requested" 0 "$(curl -s "$BASE/hits?path=/img/chelsea.png")"
nat -q crawl --retry-failed --allow-private
check "with --allow-private it works" 0 "$?"
check "two images" 2 "$(sql 'SELECT count(*) FROM images')"

# near-duplicates: the same photo as PNG and JPEG
printf 'url\twnid\n%s/img/chelsea_q90.jpg\tn02123045\n%s/img/rocket.jpg\tn04266014\n' "$BASE" "$BASE" > "$T/d.tsv"
nat -q crawl --seeds "$T/d.tsv" --allow-private
dups=$(nat dups 2>/dev/null)
check "one near-duplicate group of two" 2 "$(printf '%s\n' "$dups" | grep -c '^1	')"
check "rocket is not in it" 0 "$(printf '%s\n' "$dups" | grep -c "$(sql "SELECT image_hash FROM urls WHERE url LIKE '%rocket.jpg'")")"
nat dups --max-distance 99 2>/dev/null
check "max distance bound" 2 "$?"

# a large seed list streams in
python3 -c "
import sys
print('url\twnid')
for i in range(100000):
    print('http://h%d.example/img/%d.jpg\tn01440764' % (i % 5000, i))
" > "$T/big.tsv"
nat -q crawl --seeds "$T/big.tsv" --no-fetch
check "100,000 seed rows queued" 100000 "$(sql "SELECT count(*) FROM urls WHERE url LIKE 'http://h%'")"
finish
