#!/usr/bin/env bash
# split_merge.sh — the scale-out building blocks against one machine: seeds
# over four loopback hosts (127.0.0.1–4), crawled, scored, selected,
# accepted and exported in one workspace, and again in another through
# split crawl --parts 4 → each part crawled (one killed with kill -9 midway,
# listed as unfinished by merge, then run again) → merge → split score
# --parts 4 → each part scored → merge: the same tar SHA-256 and the same
# stats --json. Merging every part again changes nothing; a part of another
# workspace is refused; audit names the part, node and job.
. "$(dirname "$0")/lib.sh"
scaleout_init

# ---- four hosts ----
start_server
start_hosts

# Host 1 holds the most urls; rocket.jpg is on every host (the same bytes
# fetched in several parts); one url per host fails.
{
	printf 'url\twnid\tsource\tquery\tpage_url\tlicense\tauthor\n'
	n=0
	for h in "$H1" "$H2" "$H3" "$H4"; do
		n=$((n + 1))
		seed_rows "$h" "$n"
	done
	for i in 11 12 13 14 15 16; do
		printf '%s/gen/%d.jpg\t%s\tseeds\tcat\t\tcc0\tsomeone\n' "$H1" "$i" "$MISSILE"
	done
	printf '%s/img/chelsea.png\t%s\tseeds\tcat\t\tcc0\t\n' "$H2" "$CLIFF"
	printf '%s/img/hubble_deep_field.jpg\t%s\tseeds\tsky\t\tcc0\t\n' "$H3" "$CLIFF"
} > "$T/seeds.tsv"
URLS=$(($(wc -l < "$T/seeds.tsv") - 1))

# ---- the single-machine pipeline ----
A=$T/single
single_machine "$A"
check "single: some images released" 1 "$(($(find "$T/rel-a/fixtures" -name '*.jpg' | wc -l) > 0))"

# ---- the same through parts ----
nat -q init
nat -q crawl --seeds "$T/seeds.tsv" --no-fetch
nat -q model add "$DEMO" --name demo
nat split crawl --parts 4 --out "$T/crawl" > "$T/parts.out" 2> "$T/err"
check "split crawl" 0 "$?"
check "split prints the parts" "$(printf '%s\n' "$T/crawl/part-0000" "$T/crawl/part-0001" "$T/crawl/part-0002" "$T/crawl/part-0003")" \
	"$(cat "$T/parts.out")"
check_match "and the largest part's share" "split crawl 1: $URLS urls of 4 hosts into 4 parts .*; the largest part holds 10 \(41\.7%\)" \
	"$(cat "$T/err")"
for k in 0 1 2 3; do
	check "part $k: one host" 1 "$(sql_in "$T/crawl/part-000$k" 'SELECT count(DISTINCT host) FROM urls')"
done
check "every url in exactly one part" "$URLS $URLS" "$(for k in 0 1 2 3; do
	sql_in "$T/crawl/part-000$k" 'SELECT url FROM urls'; done | sort | uniq | wc -l) $(for k in 0 1 2 3; do
	sql_in "$T/crawl/part-000$k" 'SELECT url FROM urls'; done | wc -l)"
check "part.json names the parent" "crawl 0 4 10 $(sql 'SELECT uuid FROM workspace')" \
	"$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["stage"], d["part"], d["parts"], d["count"], d["parent"]["uuid"])' "$T/crawl/part-0000/part.json")"
nat split crawl --parts 2 --out "$T/again" 2> "$T/err"
check "a second split takes nothing that is out" "1|0" "$?|$(ls "$T/again" 2> /dev/null | wc -l)"
check_match "and says why" "nothing to split" "$(cat "$T/err")"

nat -q crawl --allow-private
check "the parent's own crawl leaves the parts' urls to them" "0 $URLS" \
	"$(sql 'SELECT count(*) FROM fetches') $(sql "SELECT count(*) FROM urls WHERE state = 'pending'")"

# part 0 (host 1, ten urls one at a time) is killed midway
"$NATADV" -w "$T/crawl/part-0000" -q crawl --allow-private --retries 0 --per-host 1 --host-delay 0.5 &
KPID=$!
for _ in $(seq 1 200); do
	[ "$(sql_in "$T/crawl/part-0000" "SELECT count(*) FROM urls WHERE state <> 'pending'")" -ge 2 ] && break
	sleep 0.05
done
kill -9 "$KPID"
wait "$KPID" 2> /dev/null
for k in 1 2 3; do
	SLURM_JOB_ID=4242 SLURM_ARRAY_JOB_ID=4240 SLURM_ARRAY_TASK_ID=$k \
		"$NATADV" -w "$T/crawl/part-000$k" -q crawl --allow-private --retries 0
	check "part $k crawled (its missing url failed)" 3 "$?"
done
LEFT=$(sql_in "$T/crawl/part-0000" "SELECT count(*) FROM urls WHERE state = 'pending'")
check "the killed part has urls left" 1 "$((LEFT > 0))"
nat merge "$T/crawl" 2> "$T/err"
check "merge with an unfinished part: exit 3" 3 "$?"
check_match "it is listed, with how to finish it" "part-0000' \(crawl/part-0000\): not finished, not merged: $LEFT urls pending left; run it again: natadv -w '.*part-0000' crawl" "$(cat "$T/err")"
check_match "the others are merged" "merged 3 parts, 0 merged before, 1 not finished, 0 refused" "$(cat "$T/err")"
check "its urls stay out" "$(sql_in "$T/crawl/part-0000" 'SELECT count(*) FROM urls')" "$(sql 'SELECT count(*) FROM split_urls')"
"$NATADV" -w "$T/crawl/part-0000" -q crawl --allow-private --retries 0
check "the killed part, run again, completes" "3|0" "$?|$(sql_in "$T/crawl/part-0000" "SELECT count(*) FROM urls WHERE state = 'pending'")"
nat merge "$T/crawl" 2> "$T/err"
check "merge again" 0 "$?"
check_match "merges the rest, leaves the merged alone" "merged 1 parts, 3 merged before, 0 not finished, 0 refused" "$(cat "$T/err")"
check "nothing out, nothing pending" "0 0" "$(sql 'SELECT count(*) FROM split_urls') $(sql "SELECT count(*) FROM urls WHERE state = 'pending'")"
ROCKET=$(sql "SELECT image_hash FROM urls WHERE url = '$H2/img/rocket.jpg'")
check "rocket.jpg, fetched in four parts, is stored once with four fetches" "1 4" \
	"$(sql "SELECT count(*) FROM images WHERE hash = '$ROCKET'") $(sql "SELECT count(*) FROM fetches WHERE image_hash = '$ROCKET'")"
BLOB="$T/ws/objects/${ROCKET:0:2}/${ROCKET:2}"
check "blobs are linked, not copied" 1 "$(($(stat -c %h "$BLOB") > 1))"

# every part merged again: nothing changes (but the merge's own run row)
check_merge_again "$T/ws" "$T/crawl" 4

# a part of another workspace is refused
"$NATADV" -w "$T/other" -q init
"$NATADV" -w "$T/other" merge "$T/crawl/part-0001" 2> "$T/err"
check "another workspace's part: exit 1" 1 "$?"
check_match "with a clear message" "cannot merge '.*part-0001': it is a part of another workspace \('.*/ws', [0-9a-f]{32}\), not of this one" "$(cat "$T/err")"

# ---- score through parts ----
nat -q split score --model demo --parts 4 --out "$T/score" > /dev/null
check "split score" 0 "$?"
check "every image in one score part" "$(sql 'SELECT count(*) FROM images')" \
	"$(for k in 0 1 2 3; do sql_in "$T/score/part-000$k" 'SELECT hash FROM images'; done | sort -u | wc -l)"
nat merge "$T/score" 2> "$T/err"
check "an unscored part is not merged" 3 "$?"
for k in 0 1 2 3; do
	# other batches (the parts' images grouped otherwise) and another
	# thread count: the forward pass gives each image the same bits
	"$NATADV" -w "$T/score/part-000$k" -q score --model demo --batch 3 --threads 1
	check "score part $k" 0 "$?"
done
nat -q merge "$T/score"
check "merge the scores" 0 "$?"
check "every image scored" "$(sql 'SELECT count(*) FROM images')" "$(sql 'SELECT count(*) FROM scores')"
# the raw logits, byte for byte: batches of 3 on one thread in the parts,
# of 8 on two threads on the single machine
LOGITS="SELECT image_hash || ' ' || hex(logits) FROM scores ORDER BY image_hash"
check "every image's logits bit-identical to one machine's" \
	"$(sql_in "$A" "$LOGITS" | sha256sum)" "$(sql "$LOGITS" | sha256sum)"

# ---- the rest on the merged workspace: the same release, the same stats ----
TAR_B=$(fixtures_release "$T/ws" "$T/rel-b")
check "the same tar sha-256 as one machine" "$TAR_A" "$TAR_B"
check "the same stats --json" "$STATS_A" "$(nat stats --json)"

# ---- audit names where each step ran ----
out=$(nat audit "$ROCKET")
check_match "audit: the part, node and job of a fetch" "ran on +$(hostname), part crawl/part-000[123], slurm job 4242 \(array 4240 task [123]\)" "$out"
check_match "audit: the part of the score and its gemm kernels" \
	"ran on +$(hostname), part score/part-000[0-3], $(sql_in "$A" "SELECT gemm_kernels FROM runs WHERE command = 'score'") gemm kernels" "$out"
check_blobs "$T/ws"

# ---- abandoning parts: their work back in the parent's own queue ----
B=$T/ab
nb() { "$NATADV" -w "$B" "$@"; }
nb -q init
nb -q crawl --seeds "$T/seeds.tsv" --no-fetch
nb -q model add "$DEMO" --name demo
nb -q split crawl --parts 2 --out "$T/ab-parts" > /dev/null
N0=$(sql_in "$T/ab-parts/part-0000" 'SELECT count(*) FROM urls')
N1=$(sql_in "$T/ab-parts/part-0001" 'SELECT count(*) FROM urls')
nb split abandon "$T/ab-parts/part-0000" 2> "$T/err"
check "split abandon" 0 "$?"
check_match "says how many urls came back" "part-0000': abandoned: $N0 urls back in the queue" "$(cat "$T/err")"
check "only the other part's urls are still out" "$N1" "$(sql_in "$B" 'SELECT count(*) FROM split_urls')"
nb split abandon "$T/ab-parts" 2> "$T/err"
check "abandoning it again (and the other, by their folder): exit 0" 0 "$?"
check_match "the first was abandoned before" "part-0000': not out \(abandoned before\), nothing to do" "$(cat "$T/err")"
check_match "the second now" "abandoned 1 parts, 1 abandoned before, 0 refused" "$(cat "$T/err")"
check "nothing out" 0 "$(sql_in "$B" 'SELECT count(*) FROM split_urls')"
nb -q split crawl --parts 1 --out "$T/ab-again" > /dev/null
check "a new split takes every url again" "$URLS" "$(sql_in "$T/ab-again/part-0000" 'SELECT count(*) FROM urls')"
"$NATADV" -w "$T/ab-parts/part-0000" -q crawl --allow-private --retries 0
nb merge "$T/ab-parts/part-0000" 2> "$T/err"
check_match "an abandoned part, run anyway, is refused by merge" "1 .*part-0000' \(workspace [0-9a-f]{32}\) is not a part of this workspace" "$? $(cat "$T/err")"
"$NATADV" -w "$T/ab-again/part-0000" -q crawl --allow-private --retries 0
nb -q merge "$T/ab-again"
nb split abandon "$T/ab-again/part-0000" 2> "$T/err"
check_match "a merged part is refused" "1 .*cannot abandon '.*ab-again/part-0000': it was merged already" "$? $(cat "$T/err")"
"$NATADV" -w "$T/other" split abandon "$T/crawl/part-0001" 2> "$T/err"
check_match "so is another workspace's part" "1 .*cannot abandon '.*part-0001': it is a part of another workspace" "$? $(cat "$T/err")"
nb -q split score --model demo --parts 2 --out "$T/ab-score" > /dev/null
nb split abandon "$T/ab-score" 2> "$T/err"
check "abandon score parts" 0 "$?"
check_match "their images back" "abandoned 2 parts, 0 abandoned before" "$(cat "$T/err")"
check "nothing out" 0 "$(sql_in "$B" 'SELECT count(*) FROM split_images')"
nb -q score --model demo
check "the parent's own score takes them" "0 $(sql_in "$B" 'SELECT count(*) FROM images')" \
	"$? $(sql_in "$B" 'SELECT count(*) FROM scores')"
nb split abandon --parts 2 "$T/ab-score" 2> /dev/null
check "split abandon takes no options: exit 2" 2 "$?"
finish
