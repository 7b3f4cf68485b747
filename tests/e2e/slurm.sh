#!/usr/bin/env bash
# slurm.sh — natadv slurm on a real one-node Slurm cluster (tests/slurm/
# cluster.sh: munged, slurmctld and slurmd in a temporary folder): seeds over
# four loopback hosts (127.0.0.1–4, the fourth one slow), crawled, scored,
# selected, accepted and exported on one machine, and again in a workspace
# whose path holds a space and a quote through `slurm crawl --parts 4 --wait`
# (one array task cancelled with scancel midway: the crawl ends with exit 3,
# `slurm status` reports the part cancelled and exits 3, `slurm resubmit
# --wait` completes it) and `slurm score --parts 4 --wait`: the same tar
# SHA-256 and the same stats --json. A part whose database is broken fails
# (status exits 3), an abandoned part is never resubmitted nor merged, a
# task that hits its time limit reads timeout (squeue and exit file agree).
# Merging every part again changes nothing; --dry-run submits nothing; the
# daemons are stopped on exit.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/slurm/lib.sh"
scaleout_init

slurm_start

# ---- four hosts; the fourth answers after 1 s ----
start_server
start_hosts
{
	printf 'url\twnid\tsource\tquery\tpage_url\tlicense\tauthor\n'
	n=0
	for h in "$H1" "$H2" "$H3"; do
		n=$((n + 1))
		seed_rows "$h" "$n"
	done
	for i in 11 12 13 14; do
		printf '%s/gen/%d.jpg\t%s\tseeds\tcat\t\tcc0\tsomeone\n' "$H1" "$i" "$MISSILE"
	done
	for f in rocket.jpg coffee_q90.jpg chelsea_q90.jpg hubble_deep_field.jpg chelsea.png; do
		printf '%s/slow/1000/%s\t%s\tseeds\tslow\t\tcc0\t\n' "$H4" "$f" "$CLIFF"
	done
	printf '%s/img/missing-4.jpg\t%s\tseeds\t\t\t\t\n' "$H4" "$CLIFF"
} > "$T/seeds.tsv"

# ---- the single-machine pipeline ----
A=$T/single
single_machine "$A" --partial

# ---- --dry-run: scripts written and printed, nothing submitted ----
D=$T/dry
"$NATADV" -w "$D" -q init
"$NATADV" -w "$D" -q crawl --seeds "$T/seeds.tsv" --no-fetch
out=$("$NATADV" -w "$D" -q slurm crawl --parts 3 --allow-private --max-running 2 --partition test \
	--time 10:00 --mem 100M --sbatch-arg=--exclusive --dry-run)
check "dry run" 0 "$?"
check_match "prints the array script" "#SBATCH --array=\"0-2%2\"" "$out"
check_match "with the options" "#SBATCH --partition=\"test\".*#SBATCH --time=\"10:00\"" "$(printf '%s' "$out" | tr '\n' ' ')"
check_match "and the merge script" "merge.sbatch <==.*merge \"\\\$parts\"" "$(printf '%s' "$out" | tr '\n' ' ')"
check "nothing submitted" "" "$(squeue -h -o %i)"
check "both scripts are written, and are shell" "0 0" \
	"$(sh -n "$D"/slurm/crawl-*/array.sbatch; echo -n "$? "; sh -n "$D"/slurm/crawl-*/merge.sbatch; echo $?)"
"$NATADV" -w "$D" slurm status > "$T/st" 2>&1
check "status of an unsubmitted run: exit 3" 3 "$?"
check "every part pending, not submitted" 3 "$(grep -c 'pending .*not submitted' "$T/st")"

# ---- usage errors ----
"$NATADV" -w "$D" slurm crawl --allow-private 2> "$T/err"
check "slurm crawl without --parts: exit 2" 2 "$?"
"$NATADV" -w "$D" slurm score --parts 2 --by host --model demo 2> "$T/err"
check "slurm score --by: exit 2" 2 "$?"
"$NATADV" -w "$D" slurm crawl --parts 2 --sbatch-arg constraint 2> "$T/err"
check "an --sbatch-arg that is no option: exit 2" 2 "$?"
"$NATADV" -w "$D" slurm crawl --parts 2 --model demo 2> "$T/err"
check "a score option for crawl: exit 2" 2 "$?"
"$NATADV" -w "$D" slurm frobnicate 2> "$T/err"
check "an unknown subcommand: exit 2" 2 "$?"
"$NATADV" -w "$D" slurm status --id ../x 2> "$T/err"
check_match "an unknown submission: exit 1, said so" "1 .*no slurm submission '../x'" "$? $(cat "$T/err")"

# ---- a part that fails (its database broken), a part abandoned ----
E=$T/broken
ne() { "$NATADV" -w "$E" "$@"; }
ne -q init
{ printf 'url\twnid\tsource\tquery\tpage_url\tlicense\tauthor\n'; seed_rows "$H1" 21; } > "$T/seeds-e.tsv"
ne -q crawl --seeds "$T/seeds-e.tsv" --no-fetch
ne -q slurm crawl --parts 3 --by url --allow-private --retries 0 --dry-run > /dev/null
EID=$(ls "$E/slurm")
EP=$E/parts/$EID
printf 'no database: a node broke it\n' > "$EP/part-0001/natadv.db"
ne -q split abandon "$EP/part-0002"
rm -rf "$EP/part-0002" # as README says: its folder is of no more use
ne slurm resubmit --wait --poll 0.3 > /dev/null 2> "$T/e.err"
check "resubmit --wait with a failed part: exit 3" 3 "$?"
check "submits the parts not abandoned" "0,1" \
	"$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["arrays"][0]["tasks"])' "$E/slurm/$EID/submission.json")"
check "a merge of those parts only" 'exec "$natadv" -w "$workspace" merge "$parts/part-0000" "$parts/part-0001"' \
	"$(tail -n 1 "$E/slurm/$EID/merge.sbatch")"
ne slurm status > "$T/st" 2>&1
check "slurm status with a failed part: exit 3" 3 "$?"
check_match "the part done" "^part-0000 +done " "$(grep '^part-0000' "$T/st")"
check_match "the broken part failed, and why" "^part-0001 +failed +[0-9]+_1 +cannot open workspace .*part-0001.: file is not a database" "$(grep '^part-0001' "$T/st")"
check_match "the abandoned part" "^part-0002 +abandoned +- +given up with split abandon" "$(grep '^part-0002' "$T/st")"
check_match "its task exited non-zero" "^exit [1-9][0-9]* job [0-9]+_1$" "$(cat "$E/slurm/$EID/logs/part-0001.exit")"
check "slurm status --json" "failed abandoned 1 1 1" "$(ne slurm status --json | python3 -c 'import json, sys
d = json.load(sys.stdin)
c = d["counts"]
print(d["parts"][1]["state"], d["parts"][2]["state"], c["done"], c["failed"], c["abandoned"])')"
ne -q split abandon "$EP/part-0001"
ne slurm status > "$T/st" 2>&1
check "every part done or abandoned: exit 0" 0 "$?"
ne slurm resubmit > /dev/null 2> "$T/err"
check "nothing left to resubmit: exit 0" 0 "$?"
check_match "and says so" "nothing to resubmit in '$EID': 1 done, 2 abandoned" "$(cat "$T/err")"

# ---- the same through Slurm, in a workspace whose path has a space and a quote ----
W="$T/ws dir'q"
nw() { "$NATADV" -w "$W" "$@"; }
nw -q init
nw -q crawl --seeds "$T/seeds.tsv" --no-fetch
nw -q model add "$DEMO" --name demo
nw slurm crawl --parts 4 --allow-private --retries 0 --per-host 1 --cpus-per-task 1 \
	--sbatch-arg="--comment=it's \"quoted\"" --wait --poll 0.3 > "$T/submit.out" 2> "$T/submit.err" &
CPID=$!
for _ in $(seq 1 300); do [ -s "$T/submit.out" ] && break; sleep 0.1; done
read -r ID ARRAY MERGE < "$T/submit.out"
check_match "slurm crawl prints the submission and its jobs" '^crawl-[0-9]+ [0-9]+ [0-9]+$' "$ID $ARRAY $MERGE"
PARTS="$W/parts/$ID"
SLOW=
for k in 0 1 2 3; do
	[ "$(sql_in "$PARTS/part-000$k" "SELECT count(*) FROM urls WHERE url LIKE 'http://127.0.0.4:%'")" -gt 0 ] && SLOW=$k
done
check_match "one part holds the slow host" '^[0-3]$' "$SLOW"
check "sbatch read the quoted option" "it's \"quoted\"" "$(squeue -h -t all -j "$ARRAY" -o %k | head -n 1)"
check "the merge waits for the array" "afterany:${ARRAY}_*(unfulfilled)" "$(squeue -h -j "$MERGE" -o %E)"
# cancelled mid-crawl: once the slow part has stored an image, not all five
fetched() { sqlite3 -batch -noheader -cmd '.timeout 5000' "$PARTS/part-000$SLOW/natadv.db" "SELECT count(*) FROM urls WHERE state = 'fetched'" 2> /dev/null; }
for _ in $(seq 1 600); do [ "$(fetched)" -ge 1 ] 2> /dev/null && break; sleep 0.05; done
check "the slow part's task runs" RUNNING "$(job_state "${ARRAY}_$SLOW")"
scancel "${ARRAY}_$SLOW"
job_wait "${ARRAY}_$SLOW" 30 > /dev/null
GOT=$(fetched)
check_match "cancelled midway: some of the slow host's images stored, not all" '^[1-4]$' "$GOT"
wait "$CPID"
check "slurm crawl --wait with a cancelled part: exit 3" 3 "$?"
check_match "says how it ended (the merge left the cancelled part out: exit 3, FAILED)" \
	"merge job $MERGE ended \(FAILED\): 3 of 4 parts done, 0 failed, 1 cancelled" "$(cat "$T/submit.err")"
check_match "the hint to watch is shell" "natadv -w '.*/ws dir'\\\\''q' slurm status" "$(cat "$T/submit.err")"
nw slurm status > "$T/st" 2>&1
check "slurm status: exit 3" 3 "$?"
check_match "reports the cancelled part" "^part-000$SLOW +cancelled +${ARRAY}_$SLOW" "$(grep "part-000$SLOW" "$T/st")"
check "and the others done" 3 "$(grep -c '^part-000[0-3]  done ' "$T/st")"
check "slurm status --json" "cancelled 1 3" "$(nw slurm status --json | python3 -c 'import json, sys
d = json.load(sys.stdin)
print(d["parts"][int(sys.argv[1])]["state"], d["counts"]["cancelled"], d["counts"]["done"])' "$SLOW")"
check "the cancelled part is not merged" 1 "$(($(sql_in "$W" "SELECT count(*) FROM split_urls") > 0))"
check "its task's exit file" "cancelled job ${ARRAY}_$SLOW" "$(cat "$W/slurm/$ID/logs/part-000$SLOW.exit")"

nw slurm resubmit --wait --poll 0.3 > "$T/re.out" 2> "$T/re.err"
check "slurm resubmit --wait" 0 "$?"
read -r ID2 ARRAY2 MERGE2 < "$T/re.out"
check "resubmits the same submission" "$ID" "$ID2"
check "only the cancelled part" "$SLOW" "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["arrays"][1]["tasks"])' "$W/slurm/$ID/submission.json")"
check "recorded: two arrays, two merges" "$ARRAY $ARRAY2 | $MERGE $MERGE2" "$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(a["job"] for a in d["arrays"]), "|", " ".join(d["merges"]))' "$W/slurm/$ID/submission.json")"
nw slurm status > "$T/st" 2>&1
check "slurm status after resubmit: exit 0" 0 "$?"
check "every part done" 4 "$(grep -c '^part-000[0-3]  done ' "$T/st")"
check "nothing out, nothing pending" "0 0" "$(sql_in "$W" 'SELECT count(*) FROM split_urls') $(sql_in "$W" "SELECT count(*) FROM urls WHERE state = 'pending'")"
nw slurm resubmit > /dev/null 2> "$T/err"
check "resubmit with every part done: nothing to do" "0" "$?"
check_match "and says so" "nothing to resubmit" "$(cat "$T/err")"

# ---- a task that hits its time limit (runs on while score does, below) ----
# Its one url answers after 10 minutes; once natadv runs, the task's end is
# moved to now (scontrol update EndTime, as an admin can), and Slurm's next
# look at time limits (within 30 s) ends it: TERM, reason TimeLimit.
F=$T/late
"$NATADV" -w "$F" -q init
printf 'url\twnid\tsource\n%s/slow/600000/rocket.jpg\t%s\tseeds\n' "$H1" "$SHUTTLE" > "$T/seeds-f.tsv"
"$NATADV" -w "$F" -q crawl --seeds "$T/seeds-f.tsv" --no-fetch
read -r FID FARRAY _ <<< "$("$NATADV" -w "$F" -q slurm crawl --parts 1 --allow-private --retries 0 --timeout 900 --low-speed-time 900 --time 10)"
frun() { sqlite3 -batch -noheader -cmd '.timeout 5000' "$F/parts/$FID/part-0000/natadv.db" "SELECT count(*) FROM runs WHERE command = 'crawl'" 2> /dev/null; }
for _ in $(seq 1 300); do [ "$(frun)" -ge 1 ] 2> /dev/null && break; sleep 0.1; done
check "the late part's task runs" RUNNING "$(job_state "${FARRAY}_0")"
scontrol update JobId="${FARRAY}_0" EndTime=now

# ---- score ----
nw -q slurm score --model demo --parts 4 --batch 3 --cpus-per-task 1 --wait --poll 0.3 > "$T/score.out"
check "slurm score --wait" 0 "$?"
read -r SID _ < "$T/score.out"
check_match "each part scores with --cpus-per-task threads" "\"\\\$natadv\" -w \"\\\$parts/\\\$name\" score --model demo --threads 1 --batch 3" \
	"$(cat "$W/slurm/$SID/array.sbatch")"
check "every image scored" "$(sql_in "$W" 'SELECT count(*) FROM images')" "$(sql_in "$W" 'SELECT count(*) FROM scores')"
# the raw logits, byte for byte: batches of 3 on one thread in the parts,
# of 8 on two threads on the single machine
LOGITS="SELECT image_hash || ' ' || hex(logits) FROM scores ORDER BY image_hash"
check "every image's logits bit-identical to one machine's" \
	"$(sql_in "$A" "$LOGITS" | sha256sum)" "$(sql_in "$W" "$LOGITS" | sha256sum)"
K=$(sql_in "$A" "SELECT gemm_kernels FROM runs WHERE command = 'score'")
check_match "a score run records its GEMM kernels" '^(avx512|avx2|generic)$' "$K"
check "every part's score run too, merged with its kernels" "4 $K" \
	"$(sql_in "$W" "SELECT count(*), group_concat(DISTINCT gemm_kernels) FROM runs WHERE command = 'score' AND part LIKE '$SID/%'" | tr '|' ' ')"

# ---- the rest on the merged workspace: the same release, the same stats ----
TAR_B=$(fixtures_release "$W" "$T/rel-b" --partial)
check "the same tar sha-256 as one machine" "$TAR_A" "$TAR_B"
check "the same stats --json" "$STATS_A" "$(nw stats --json)"
ROCKET=$(sql_in "$W" "SELECT image_hash FROM urls WHERE url = '$H2/img/rocket.jpg'")
check_match "audit names the slurm job of a fetch" "slurm job [0-9]+ \(array [0-9]+ task [0-3]\)" "$(nw audit "$ROCKET")"

# ---- every part merged again: nothing changes (but the merge's own run row) ----
check_merge_again "$W" "$W/parts" 8
check_blobs "$W"

# ---- the late part: timeout, from squeue and from its exit file alike ----
check "the late task timed out" TIMEOUT "$(job_wait "${FARRAY}_0" 60)"
"$NATADV" -w "$F" slurm status > "$T/st" 2>&1
check "slurm status with a timed-out part: exit 3" 3 "$?"
check_match "reports it as timeout, by squeue" "^part-0000 +timeout +${FARRAY}_0 +squeue: TIMEOUT" "$(grep '^part-0000' "$T/st")"
check "its task's exit file says timeout too" "timeout job ${FARRAY}_0" "$(cat "$F/slurm/$FID/logs/part-0000.exit")"
check "a part to resubmit" "1 0" "$("$NATADV" -w "$F" slurm status --json | python3 -c 'import json, sys
d = json.load(sys.stdin)
print(d["counts"]["timeout"], d["counts"]["failed"])')"

# ---- the daemons stop ----
pids=$(cat "$SLURM_DIR/munge/munged.pid" "$SLURM_DIR/slurmctld.pid" "$SLURM_DIR/slurmd.pid")
slurm_stop
alive=0
for p in $pids; do kill -0 "$p" 2> /dev/null && alive=$((alive + 1)); done
check_num "daemons alive after stop" 0 "$alive"
finish
