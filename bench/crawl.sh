#!/usr/bin/env bash
# crawl.sh — natadv crawl against curl, wget2 and aria2c on the same 10,000
# URLs of byte-distinct real photos, served from loopback by nginx. Each tool
# runs RUNS times; prints files/s, MB/s and peak RSS, and natadv's ratios.
# natadv validates, hashes and stores every image; the others only write files.
# The tools take turns, round by round, so that the machine's drift (page
# cache, memory the hypervisor has not backed yet) hits all alike; best and
# median are reported, and each run's time until its data is durable.
# Leave a few minutes between two benchmarks: the first one's deleting its
# ~100,000 files at exit slows file creation in the next (see KEEP below).
# Usage: bench/crawl.sh [N=10000] [RUNS=3]   (PROGRESSIVE=0: baseline JPEGs only;
# aria2c, ~50x slower than the others here, runs once)
set -eu
cd "$(dirname "$0")/.."
# ./natadv is whichever build was made last (make test leaves the ASan one,
# about half as fast and five times the memory): this bench times the rel build
make -s MODE=rel natadv build/rel/validate_bench
N=${1:-10000}
RUNS=${2:-3}
W=$(mktemp -d /tmp/natadv-bench.XXXXXX)
chmod 755 "$W" # nginx workers run as nobody
PORT=18931
HOG=
trap 'nginx -c "$W/nginx.conf" -s stop 2>/dev/null || true; [ -z "$HOG" ] || kill "$HOG" 2>/dev/null || true; rm -rf "$W"' EXIT

mkdir -p "$W/www/p" "$W/logs"
made=$(bench/make_photos.py "$W/www/p" "$N")
echo "$made"
BASES=$(sed -n 's/.* from \([0-9]*\) base photos.*/\1/p' <<< "$made")
BYTES=$(du -sb "$W/www/p" | cut -f1)
cat > "$W/nginx.conf" <<NGX
worker_processes 2;
pid $W/nginx.pid;
error_log $W/logs/error.log;
events { worker_connections 4096; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 100000;
	types { image/jpeg jpg; }
	server {
		listen 127.0.0.1:$PORT;
		root $W/www;
		client_body_temp_path $W/tmp_body;
		proxy_temp_path $W/tmp_proxy;
		fastcgi_temp_path $W/tmp_fcgi;
		uwsgi_temp_path $W/tmp_uwsgi;
		scgi_temp_path $W/tmp_scgi;
	}
}
NGX
nginx -c "$W/nginx.conf"
BASE="http://127.0.0.1:$PORT"
ls "$W/www/p" | sed "s#^#$BASE/p/#" > "$W/urls.txt"
{ printf 'url\twnid\n'; sed 's/$/\tn01440764/' "$W/urls.txt"; } > "$W/seeds.tsv"

# Every run writes into a folder of its own, and all are kept until the end:
# deleting 10,000 files and creating 10,000 more within a minute makes ext4
# (without a journal, as here) scan past every recently deleted inode on
# each create, which cost one run 18% of its CPU time in open(). Needs
# about N files x (3 RUNS + 4) of disk; with less, each run's folder is
# deleted right after the run, and the warning says the figures suffer.
need=$((BYTES * (3 * RUNS + 4) / 1024))
KEEP=1
if [ "$(df -Pk "$W" | awk 'NR == 2 { print $4 }')" -lt "$need" ]; then
	KEEP=0
	echo "warning: under $((need / 1048576)) GB free, run folders are deleted as the runs go (slower creates)" >&2
fi

# run DIR COMMAND... : one timed run in DIR, after a sync so that no run pays
# for an earlier one's writeback; prints "seconds peak_kb seconds_to_durable
# cpu_seconds ok" (seconds_to_durable: until a sync after the command
# returns, for tools that only leave files in the page cache; natadv has
# synced its blobs before it ends; ok: 0 when the command failed or died).
run() {
	local dir=$1
	shift
	mkdir -p "$dir"
	sync
	local t0 t1 t2
	t0=$(date +%s.%N)
	(cd "$dir" && /usr/bin/time -f "%U %S %M" -o "$W/rss" "$@" > "$W/out.log" 2>&1) || true
	t1=$(date +%s.%N)
	sync
	t2=$(date +%s.%N)
	local u sy m ok=1
	read -r u sy m < <(tail -n 1 "$W/rss")
	# /usr/bin/time puts "Command exited with non-zero status N" or
	# "Command terminated by signal N" before its line
	if grep -q "^Command " "$W/rss"; then
		ok=0
		echo "  ($1: $(head -n 1 "$W/rss"); $(tail -n 2 "$W/out.log" | tr "\n" " "))" >&2
	fi
	echo "$(echo "$t1 - $t0" | bc -l) $m $(echo "$t2 - $t0" | bc -l) $(echo "$u + $sy" | bc -l) $ok"
}

f_natadv() {
	mkdir -p "$1"
	./natadv -q -w "$1/ws" init
	run "$1/x" "$PWD/natadv" -q -w "$1/ws" crawl --seeds "$W/seeds.tsv" --allow-private \
		--concurrency 64 --per-host 64
}
f_curl() { run "$1" curl -s -Z --parallel-max 64 --remote-name-all $(cat "$W/urls.txt"); }
f_wget2() { run "$1" wget2 -q --max-threads=64 -i "$W/urls.txt"; }
f_aria2c() { run "$1" aria2c -q -j 64 -x 1 --auto-file-renaming=false -i "$W/urls.txt"; }

declare -A times durable rss_max
# measure NAME ROUND: one run of NAME, printed and recorded
measure() {
	local name=$1 i=$2 res t rss d cpu ok
	res=$("f_$name" "$W/runs/$name$i")
	if [ "$KEEP" = 0 ]; then rm -rf "$W/runs/$name$i"; fi
	read -r t rss d cpu ok <<< "$res"
	if [ "$ok" != 1 ]; then
		printf '  round %d %-7s failed, left out\n' "$i" "$name"
		return 0
	fi
	printf '  round %d %-7s %6.2f s  %6.0f files/s  %6.1f MB/s  peak RSS %6.1f MB  CPU %5.2f ms/file  (durable after %.2f s: %.0f files/s)\n' \
		"$i" "$name" "$t" "$(echo "$N / $t" | bc -l)" "$(echo "$BYTES / $t / 1000000" | bc -l)" \
		"$(echo "$rss / 1024" | bc -l)" "$(echo "$cpu * 1000 / $N" | bc -l)" "$d" "$(echo "$N / $d" | bc -l)"
	times[$name]="${times[$name]:-} $t"
	durable[$name]="${durable[$name]:-} $d"
	if [ -z "${rss_max[$name]:-}" ] || [ "$rss" -gt "${rss_max[$name]}" ]; then rss_max[$name]=$rss; fi
}
# best / median of a list of seconds
best() { tr ' ' '\n' <<< "$1" | grep . | sort -g | head -n 1; }
median() { tr ' ' '\n' <<< "$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "crawl benchmark: $N files, $((BYTES / N / 1024)) KB average, $(nproc) cores, $RUNS rounds of natadv, curl, wget2 (aria2c once)"
# Steady state first (bench/hold_memory.py says why): free memory held but
# 2.5 GB, then two untimed curl runs so that what is left is recycled cache.
if [ "$(df -P -t tmpfs "$W" 2> /dev/null | wc -l)" -gt 1 ]; then
	echo "warning: $W is on tmpfs; no memory is held, figures will vary more" >&2
	: > "$W/hold.log"
else
	bench/hold_memory.py 2500 > "$W/hold.log" &
	HOG=$!
fi
while [ -n "$HOG" ] && ! grep -q holding "$W/hold.log" 2>/dev/null; do
	kill -0 "$HOG" 2>/dev/null || { echo "warning: hold_memory.py failed; figures will vary more" >&2; HOG=; break; }
	sleep 1
done
[ -n "$HOG" ] && echo "  $(cat "$W/hold.log") of memory; warming up with two untimed curl runs"
for i in 1 2; do f_curl "$W/runs/warmup$i" > /dev/null; done
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 "$RUNS"); do
	for name in natadv curl wget2; do measure "$name" "$i"; done
done
measure aria2c 1
[ "$KEEP" = 1 ] && echo "  natadv stored $(sqlite3 "$W/runs/natadv$RUNS/ws/natadv.db" "SELECT count(*) FROM images") distinct images in its last run"
# memory with 100,000 queued urls: every file under ten query strings
for k in 0 1 2 3 4 5 6 7 8 9; do sed "s/\.jpg\t/.jpg?v=$k\t/" "$W/seeds.tsv" | tail -n +2; done |
	{ printf 'url\twnid\n'; cat; } > "$W/seeds100k.tsv"
mkdir -p "$W/big"
./natadv -q -w "$W/big/ws" init
./natadv -q -w "$W/big/ws" crawl --seeds "$W/seeds100k.tsv" --no-fetch
res=$(run "$W/big/x" "$PWD/natadv" -q -w "$W/big/ws" crawl --allow-private --concurrency 64 --per-host 64)
read -r t rss d cpu ok <<< "$res"
[ "$ok" = 1 ] || echo "  (the run with 100,000 queued urls failed)"
printf '  natadv with %d queued urls: %.1f s, %.0f urls/s, peak RSS %.1f MB\n' "$((N * 10))" "$t" \
	"$(echo "$N * 10 / $t" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
# What validation alone costs per core: the entropy walk (with libjpeg-turbo
# for what it hands over) over one copy of each base photo, CPU time.
mkdir -p "$W/bases"
for f in $(ls "$W/www/p" | head -n "${BASES:-252}"); do ln -s "$W/www/p/$f" "$W/bases/$f"; done
echo "  validation alone, per core, one copy of each base photo (bench/validate_bench.c):"
build/rel/validate_bench -r 5 "$W/bases" | sed 's/^/    /'
echo
echo "files/s over the rounds (best and median); natadv's ratio to each; durable: until a sync after the tool ends"
printf '%-8s %8s %8s %8s %12s %10s %10s %16s\n' tool best median MB/s "peak RSS MB" "ratio best" "ratio med" "durable median"
if [ -z "${times[natadv]:-}" ]; then
	echo "natadv failed every run" >&2
	exit 1
fi
nb=$(best "${times[natadv]}")
nm=$(median "${times[natadv]}")
for name in natadv curl wget2 aria2c; do
	if [ -z "${times[$name]:-}" ]; then
		printf '%-8s %8s (every run failed)\n' "$name" -
		continue
	fi
	b=$(best "${times[$name]}")
	m=$(median "${times[$name]}")
	dm=$(median "${durable[$name]}")
	printf '%-8s %8.0f %8.0f %8.1f %12.1f %10.2f %10.2f %16.0f\n' "$name" "$(echo "$N / $b" | bc -l)" \
		"$(echo "$N / $m" | bc -l)" "$(echo "$BYTES / $b / 1000000" | bc -l)" \
		"$(echo "${rss_max[$name]} / 1024" | bc -l)" "$(echo "$b / $nb" | bc -l)" "$(echo "$m / $nm" | bc -l)" \
		"$(echo "$N / $dm" | bc -l)"
done
if [ -n "${durable[curl]:-}" ]; then
	dcm=$(median "${durable[curl]}")
	printf 'natadv against curl + sync (both durable, medians): %.2f\n' "$(echo "$dcm / $nm" | bc -l)"
fi
if [ -n "$HOG" ] && ! kill -0 "$HOG" 2>/dev/null; then
	echo "warning: hold_memory.py died during the rounds; not all of them ran in the steady state" >&2
fi
