# shellcheck shell=bash
# lib.sh — Slurm helpers of the end-to-end tests, sourced after tests/e2e/lib.sh:
# a one-node cluster (tests/slurm/cluster.sh) that is stopped whatever way the
# script ends, and waiting for jobs.
CLUSTER=$ROOT/tests/slurm/cluster.sh
SLURM_DIR=
SLURM_KILL=      # more pids to stop on exit (e.g. more test servers)

# slurm_start: starts a cluster in $T/cluster and exports SLURM_CONF. Exits 77
# (cannot run here, with the reason) when Slurm or munge is missing. The
# cluster is stopped on exit, before lib.sh's cleanup removes $T; should the
# script be killed outright, the cluster's watchdog stops it.
slurm_start() {
	local out rc
	SLURM_DIR=$T/cluster
	trap 'slurm_exit_rc=$?; slurm_stop; slurm_kill_more; (exit $slurm_exit_rc); cleanup' EXIT
	out=$("$CLUSTER" start "$SLURM_DIR" $$)
	rc=$?
	if [ "$rc" = 77 ]; then
		FINISHED=1
		exit 77
	fi
	[ "$rc" = 0 ] || { fail "the slurm cluster did not start (exit $rc)"; finish; exit 1; }
	export "${out?}"
}

# slurm_stop: stops the cluster started by slurm_start (if any).
slurm_stop() {
	[ -n "$SLURM_DIR" ] && "$CLUSTER" stop "$SLURM_DIR"
	return 0
}

slurm_kill_more() {
	local p
	for p in $SLURM_KILL; do kill "$p" 2> /dev/null && wait "$p" 2> /dev/null; done
	return 0
}

# job_state JOBID: the state squeue reports for a job (or an array task,
# JOBID_TASK), e.g. PENDING, RUNNING, COMPLETED, CANCELLED, FAILED.
job_state() { squeue -h -t all -j "$1" -o %T 2> /dev/null | head -n 1; }

# job_wait JOBID [SECONDS]: waits until the job is no longer pending, running
# or completing; prints its final state.
job_wait() {
	local n=$((${2:-120} * 5)) s
	while [ "$n" -gt 0 ]; do
		s=$(job_state "$1")
		case "$s" in
		PENDING | RUNNING | COMPLETING | CONFIGURING | SUSPENDED | "") ;;
		*) echo "$s"; return 0 ;;
		esac
		sleep 0.2
		n=$((n - 1))
	done
	echo "still ${s:-unknown}"
}
