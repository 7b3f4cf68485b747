#!/usr/bin/env bash
# The one-node Slurm cluster of the tests (tests/slurm/cluster.sh): it starts
# in a temporary folder, runs a small batch job and a job array to the end,
# and its daemons are gone once it is stopped, or once the process that
# started it is killed outright (its watchdog stops the cluster then).
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/slurm/lib.sh"

slurm_start
check "the node is idle" idle "$(sinfo -h -n localhost -o %T)"
check "slurm.conf is the test cluster's" "$T/cluster/slurm.conf" "$SLURM_CONF"

printf '#!/bin/sh\necho "job $SLURM_JOB_ID task ${SLURM_ARRAY_TASK_ID:-none} on $(hostname)" > "$1"\n' > "$T/job.sh"
id=$(sbatch --parsable -o /dev/null "$T/job.sh" "$T/out file.txt")
check_match "sbatch gives a job id" '^[0-9]+$' "$id"
check "the job completes" COMPLETED "$(job_wait "$id" 60)"
check_match "the job wrote its file" "^job $id task none on " "$(cat "$T/out file.txt" 2>&1)"

printf '#!/bin/sh\necho "$SLURM_ARRAY_TASK_ID" > "$1/$SLURM_ARRAY_TASK_ID"\n[ "$SLURM_ARRAY_TASK_ID" != 2 ]\n' > "$T/array.sh"
mkdir -p "$T/arr"
aid=$(sbatch --parsable -o /dev/null --array=0-3%2 "$T/array.sh" "$T/arr")
mid=$(sbatch --parsable -o /dev/null --dependency="afterany:$aid" "$T/job.sh" "$T/after.txt")
check "the job after the array completes" COMPLETED "$(job_wait "$mid" 60)"
check "every array task ran" "0 1 2 3" "$(ls "$T/arr" | sort -n | tr '\n' ' ' | sed 's/ $//')"
check "a task that exits 1 is FAILED" FAILED "$(job_state "${aid}_2")"
check "the other tasks COMPLETED" "COMPLETED COMPLETED COMPLETED" \
	"$(for i in 0 1 3; do job_state "${aid}_$i"; done | tr '\n' ' ' | sed 's/ $//')"

# stop: every daemon recorded in the folder is gone
pids=$(cat "$T/cluster/munge/munged.pid" "$T/cluster/slurmctld.pid" "$T/cluster/slurmd.pid")
check_num "three daemons ran" 3 "$(printf '%s\n' "$pids" | grep -c '^[0-9][0-9]*$')"
slurm_stop
alive=0
for p in $pids; do kill -0 "$p" 2> /dev/null && alive=$((alive + 1)); done
check_num "daemons alive after stop" 0 "$alive"
check "a second stop is harmless" 0 "$("$CLUSTER" stop "$T/cluster"; echo $?)"

# a cluster whose owner is killed with SIGKILL is stopped by its watchdog
sleep 600 &
owner=$!
"$CLUSTER" start "$T/cluster2" "$owner" > /dev/null
pids=$(cat "$T/cluster2/munge/munged.pid" "$T/cluster2/slurmctld.pid" "$T/cluster2/slurmd.pid")
check_num "the second cluster's three daemons run" 3 "$(for p in $pids; do kill -0 "$p" 2> /dev/null && echo "$p"; done | grep -c .)"
kill -KILL "$owner"
wait "$owner" 2> /dev/null
for _ in $(seq 1 300); do
	alive=0
	for p in $pids; do kill -0 "$p" 2> /dev/null && alive=$((alive + 1)); done
	[ "$alive" = 0 ] && break
	sleep 0.1
done
check_num "daemons alive 30 s after the owner was killed" 0 "$alive"
"$CLUSTER" stop "$T/cluster2"
finish
