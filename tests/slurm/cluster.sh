#!/usr/bin/env bash
# cluster.sh — a one-node Slurm cluster for tests, in a temporary folder: its
# own munge key and munged, slurmctld and slurmd on free loopback ports, no
# accounting, no cgroups, nothing from systemd. The daemons run as root.
#
#   cluster.sh start DIR [OWNER_PID]  start the cluster in DIR (made if missing);
#                                     prints SLURM_CONF=DIR/slurm.conf. With
#                                     OWNER_PID, a watchdog outside the caller's
#                                     process group stops the cluster once that
#                                     process is gone (even after a kill -9).
#   cluster.sh stop DIR               cancel every job, stop the daemons started
#                                     in DIR (by the pids they recorded there);
#                                     safe to run twice, or on a half-started DIR
#   cluster.sh run CMD [ARG...]       start a cluster in a new temporary folder,
#                                     run CMD with SLURM_CONF set, always stop it
#
# Exit status 77 (with the reason on stderr) when a Slurm or munge program is
# missing: tests/run.sh counts that as a skip, and as a failure under CI=true.
#
# Jobs start within a second of being submitted or of the jobs they wait for
# ending (SchedulerParameters=batch_sched_delay=0; Slurm's default, 3 s, makes
# each array task, each merge wait up to 3 s more). SLURM_BATCH_SCHED_DELAY=S
# sets another delay (bench/slurm.sh uses Slurm's 3 s, as on a real cluster).
#
# What works in this sandbox (gVisor, cgroup v1 without write access):
# proctrack/linuxproc, task/none and jobacct_gather/none, so no cgroup plugin
# is ever loaded; the munge socket lives in DIR and slurm.conf's
# AuthInfo=socket=... tells every daemon and client command about it.
set -u

PROGS="munged mungekey slurmctld slurmd sbatch squeue sinfo scancel scontrol"

die() { echo "cluster.sh: $*" >&2; exit 1; }

need_progs() {
	local p
	for p in $PROGS; do
		if ! command -v "$p" > /dev/null 2>&1; then
			echo "cluster.sh: cannot run a Slurm cluster here: no '$p' (install slurm-wlm and munge: scripts/install-deps.sh test)" >&2
			exit 77
		fi
	done
	[ "$(id -u)" = 0 ] || { echo "cluster.sh: cannot run a Slurm cluster here: the daemons need root (uid $(id -u))" >&2; exit 77; }
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on now (the kernel
# picks it; start retries with new ports should another process take it).
free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# node_line: slurmd -C's view of this machine (CPUs, sockets, cores, threads),
# with RealMemory lowered a little so the node never looks smaller than its
# configuration (which would drain it).
node_line() {
	local c mem
	c=$(slurmd -C 2> /dev/null | head -n 1) || return 1
	mem=$(printf '%s\n' "$c" | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
	[ -n "$mem" ] || return 1
	printf '%s\n' "$c" | sed -e 's/^NodeName=[^ ]*/NodeName=localhost NodeAddr=127.0.0.1/' \
		-e "s/RealMemory=[0-9]*/RealMemory=$((mem * 9 / 10))/"
}

write_conf() { # DIR CTLD_PORT SLURMD_PORT
	local d=$1 node
	case ${SLURM_BATCH_SCHED_DELAY:-0} in
	'' | *[!0-9]*) die "SLURM_BATCH_SCHED_DELAY wants whole seconds, not '$SLURM_BATCH_SCHED_DELAY'" ;;
	esac
	node=$(node_line) || die "cannot read this node's configuration (slurmd -C)"
	cat > "$d/slurm.conf" << EOF
# one-node test cluster written by tests/slurm/cluster.sh
ClusterName=natadvtest
SlurmctldHost=localhost
SlurmctldPort=$2
SlurmdPort=$3
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.socket
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=${SLURM_BATCH_SCHED_DELAY:-0}
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
MinJobAge=600
KillWait=5
$node State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds.
wait_for() {
	local n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" > /dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

node_idle() { [ "$(sinfo -h -n localhost -o %T 2> /dev/null)" = idle ]; }
pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2> /dev/null; }

start_once() { # DIR: one attempt; non-zero if the daemons did not come up
	local d=$1
	write_conf "$d" "$(free_port)" "$(free_port)"
	export SLURM_CONF=$d/slurm.conf
	# --force: the test's temporary folders are private (0700), which munged
	# refuses for a socket other users should reach; only root uses this one
	munged --force --socket="$d/munge/munge.socket" --key-file="$d/munge/munge.key" \
		--pid-file="$d/munge/munged.pid" --log-file="$d/log/munged.log" \
		--seed-file="$d/munge/munged.seed" || return 1
	wait_for 10 test -S "$d/munge/munge.socket" || return 1
	slurmctld -i > "$d/log/slurmctld.out" 2>&1 < /dev/null || return 1
	wait_for 10 pid_alive "$d/slurmctld.pid" || return 1
	wait_for 15 scontrol ping || return 1
	slurmd -N localhost > "$d/log/slurmd.out" 2>&1 < /dev/null || return 1
	wait_for 10 pid_alive "$d/slurmd.pid" || return 1
	wait_for 30 node_idle
}

cmd_start() { # DIR [OWNER_PID]
	local d=$1 owner=${2:-} try
	need_progs
	mkdir -p "$d" || die "cannot make '$d'"
	d=$(cd "$d" && pwd) || die "cannot enter '$d'"
	for try in 1 2 3; do
		rm -rf "$d/munge" "$d/state" "$d/spool" "$d/log"
		# munged wants its socket folder searchable by all, its key private
		mkdir -p "$d/munge" "$d/state" "$d/spool" "$d/log" || die "cannot make folders in '$d'"
		chmod 755 "$d" "$d/munge"
		mungekey -c -f -k "$d/munge/munge.key" 2> "$d/log/mungekey.out" || die "mungekey failed: $(cat "$d/log/mungekey.out")"
		chmod 600 "$d/munge/munge.key"
		if start_once "$d"; then
			if [ -n "$owner" ]; then
				# the watchdog leaves the caller's process group and session
				setsid "$0" watch "$d" "$owner" > /dev/null 2>&1 < /dev/null &
				echo $! > "$d/watchdog.pid"
			fi
			echo "SLURM_CONF=$d/slurm.conf"
			return 0
		fi
		echo "cluster.sh: attempt $try failed; logs:" >&2
		tail -n 5 "$d"/log/*.log "$d"/log/*.out >&2 2> /dev/null
		cmd_stop "$d"
	done
	die "the cluster in '$d' did not start"
}

# none_alive PID...: true when none of the processes is left.
none_alive() {
	local p
	for p in "$@"; do kill -0 "$p" 2> /dev/null && return 1; done
	return 0
}

# stop_pidfiles FILE...: TERM the pids recorded in the FILEs, all at once
# (each daemon takes a second or two to go), KILL those left after 10 s.
stop_pidfiles() {
	local f pid pids=
	for f in "$@"; do
		[ -s "$f" ] || continue
		pid=$(cat "$f") # read once: a daemon removes its file as it goes
		kill "$pid" 2> /dev/null && pids="$pids $pid"
	done
	# shellcheck disable=SC2086 # one word a pid
	if [ -n "$pids" ] && ! wait_for 10 none_alive $pids; then
		kill -KILL $pids 2> /dev/null
		wait_for 5 none_alive $pids
	fi
	rm -f "$@"
}

# step_pids DIR: the slurmstepd processes of this cluster's jobs (they run
# in a folder of DIR: slurmd's, which is that of its log file).
step_pids() {
	local p
	for p in $(pgrep -f '^slurmstepd'); do
		case "$(readlink "/proc/$p/cwd" 2> /dev/null)" in
		"$1"/*) echo "$p" ;;
		esac
	done
}

cmd_stop() { # DIR
	local d=$1 pid
	[ -d "$d" ] || return 0
	d=$(cd "$d" && pwd) || return 0
	export SLURM_CONF=$d/slurm.conf
	if pid_alive "$d/slurmctld.pid" && [ -f "$SLURM_CONF" ]; then
		scancel --full -u root > /dev/null 2>&1
		# let the steps report their end before the controller goes
		wait_for 15 test -z "$(squeue -h -t PD,R,CG,S,CF -o %i 2> /dev/null)"
	fi
	stop_pidfiles "$d/slurmd.pid" "$d/slurmctld.pid" "$d/munge/munged.pid"
	for pid in $(step_pids "$d"); do
		kill -KILL "$pid" 2> /dev/null
	done
	if [ -s "$d/watchdog.pid" ] && [ "$(cat "$d/watchdog.pid")" != "${WATCHDOG_SELF:-}" ]; then
		kill "$(cat "$d/watchdog.pid")" 2> /dev/null
	fi
	rm -f "$d/watchdog.pid"
	return 0
}

cmd_watch() { # DIR OWNER_PID: stop DIR's cluster once OWNER_PID is gone
	while kill -0 "$2" 2> /dev/null; do
		[ -s "$1/slurmctld.pid" ] || exit 0
		sleep 1
	done
	WATCHDOG_SELF=$$ cmd_stop "$1"
}

RUN_DIR=
cmd_run() { # CMD...
	need_progs
	RUN_DIR=$(mktemp -d /tmp/natadv-slurm.XXXXXX) || die "mktemp failed"
	trap 'cmd_stop "$RUN_DIR"; rm -rf "$RUN_DIR"' EXIT
	trap 'exit 130' INT TERM
	cmd_start "$RUN_DIR" $$ > /dev/null || exit 1
	export SLURM_CONF=$RUN_DIR/slurm.conf
	"$@"
}

case "${1:-}" in
start) [ $# -ge 2 ] || die "usage: cluster.sh start DIR [OWNER_PID]"; cmd_start "$2" "${3:-}" ;;
stop) [ $# -eq 2 ] || die "usage: cluster.sh stop DIR"; cmd_stop "$2" ;;
watch) [ $# -eq 3 ] || die "usage: cluster.sh watch DIR OWNER_PID"; cmd_watch "$2" "$3" ;;
run) [ $# -ge 2 ] || die "usage: cluster.sh run CMD [ARG...]"; shift; cmd_run "$@" ;;
*) die "usage: cluster.sh start DIR [OWNER_PID] | stop DIR | run CMD [ARG...]" ;;
esac
