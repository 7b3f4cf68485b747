#!/usr/bin/env bash
# slurm.sh — the overhead of natadv slurm on this one node: the same work
# (crawl N generated images over four loopback hosts, then score them with
# the bundled demo model) as one process each, and as `slurm crawl --parts 4
# --wait` + `slurm score --parts 4 --wait` on the one-node test cluster
# (tests/slurm/cluster.sh). Prints the wall seconds of each and the ratio.
# Not part of `make test`. Usage: bash bench/slurm.sh   (N=400 by default)
set -u
cd "$(dirname "$0")/.." || exit 1
N=${N:-400}
make -s MODE=rel natadv build/rel/testsrv || exit 1
NATADV=$PWD/build/rel/natadv
W=$(mktemp -d /tmp/natadv-bench-slurm.XXXXXX)
SRVS=
cleanup() {
	for p in $SRVS; do kill "$p" 2> /dev/null; done
	tests/slurm/cluster.sh stop "$W/cluster"
	rm -rf "$W"
}
trap cleanup EXIT
# Slurm's own scheduling delay (3 s), as on a real cluster, not the tests' 0
SLURM_BATCH_SCHED_DELAY=3 tests/slurm/cluster.sh start "$W/cluster" $$ > "$W/env" || exit 1
export SLURM_CONF=$W/cluster/slurm.conf
for i in 1 2 3 4; do
	build/rel/testsrv --bind "127.0.0.$i" --port-file "$W/port$i" --root tests/fixtures --log /dev/null \
		--gen-base tests/fixtures/chelsea_q90.jpg &
	SRVS="$SRVS $!"
done
for i in 1 2 3 4; do
	for _ in $(seq 1 100); do [ -s "$W/port$i" ] && break; sleep 0.05; done
done
{
	printf 'url\twnid\n'
	for k in $(seq 1 "$N"); do
		h=$((k % 4 + 1))
		printf 'http://127.0.0.%d:%s/gen/%d.jpg\tn02123045\n' "$h" "$(cat "$W/port$h")" "$k"
	done
} > "$W/seeds.tsv"

setup() { # WS
	"$NATADV" -w "$1" -q init
	"$NATADV" -w "$1" -q crawl --seeds "$W/seeds.tsv" --no-fetch
	"$NATADV" -w "$1" -q model add examples/demo-model.safetensors --name demo
}
now() { date +%s.%N; }

setup "$W/one"
t0=$(now)
"$NATADV" -w "$W/one" -q crawl --allow-private
t1=$(now)
"$NATADV" -w "$W/one" -q score --model demo
t2=$(now)

setup "$W/four"
t3=$(now)
"$NATADV" -w "$W/four" -q slurm crawl --parts 4 --allow-private --cpus-per-task 1 --wait --poll 0.2 > /dev/null
t4=$(now)
"$NATADV" -w "$W/four" -q slurm score --model demo --parts 4 --cpus-per-task 1 --wait --poll 0.2 > /dev/null
t5=$(now)

same=$([ "$("$NATADV" -w "$W/one" stats --json)" = "$("$NATADV" -w "$W/four" stats --json)" ] && echo yes || echo NO)
awk -v n="$N" -v c1="$(echo "$t1 - $t0" | bc)" -v s1="$(echo "$t2 - $t1" | bc)" \
	-v c4="$(echo "$t4 - $t3" | bc)" -v s4="$(echo "$t5 - $t4" | bc)" -v same="$same" 'BEGIN {
	printf "slurm overhead, %d images, 4 parts on this %s-core node (same stats: %s)\n", n, "'"$(nproc)"'", same
	printf "  crawl: one process %6.1f s   slurm 4 parts %6.1f s   x%.2f (+%.1f s)\n", c1, c4, c4 / c1, c4 - c1
	printf "  score: one process %6.1f s   slurm 4 parts %6.1f s   x%.2f (+%.1f s)\n", s1, s4, s4 / s1, s4 - s1
}'
