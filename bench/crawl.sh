#!/usr/bin/env bash
# crawl.sh — natadv crawl against curl, wget2 and aria2c on the same 10,000
# URLs of byte-distinct real photos, served from loopback by nginx. Each tool
# runs RUNS times; prints files/s, MB/s and peak RSS, and natadv's ratios.
# natadv validates, hashes and stores every image; the others only write files.
# Usage: bench/crawl.sh [N=10000] [RUNS=3]   (PROGRESSIVE=0: baseline JPEGs only;
# aria2c, ~50x slower than the others here, runs once)
set -eu
cd "$(dirname "$0")/.."
N=${1:-10000}
RUNS=${2:-3}
W=$(mktemp -d /tmp/natadv-bench.XXXXXX)
chmod 755 "$W" # nginx workers run as nobody
PORT=18931
trap 'nginx -c "$W/nginx.conf" -s stop 2>/dev/null || true; rm -rf "$W"' EXIT

mkdir -p "$W/www/p" "$W/logs"
bench/make_photos.py "$W/www/p" "$N"
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

# run NAME DIR COMMAND... : one timed run; prints "seconds peak_kb"
run() {
	local dir=$1
	shift
	rm -rf "$dir"
	mkdir -p "$dir"
	local t0 t1
	t0=$(date +%s.%N)
	(cd "$dir" && /usr/bin/time -f "%M" -o "$W/rss" "$@" > "$W/out.log" 2>&1) || true
	t1=$(date +%s.%N)
	echo "$(echo "$t1 - $t0" | bc -l) $(tail -n 1 "$W/rss")"
	if grep -q "non-zero" "$W/rss"; then echo "  ($1: $(head -n 1 "$W/rss"); $(tail -n 2 "$W/out.log" | tr "\n" " "))" >&2; fi
}

natadv_run() {
	./natadv -q -w "$1/ws" init
	run "$1/x" "$PWD/natadv" -q -w "$1/ws" crawl --seeds "$W/seeds.tsv" --allow-private \
		--concurrency 64 --per-host 64
}

declare -A best_t best_rss
measure() { # NAME COMMAND-FUNCTION
	local name=$1 fn=$2 i res t rss
	for i in $(seq 1 "$RUNS"); do
		res=$($fn)
		t=${res% *}
		rss=${res#* }
		printf '  %-8s run %d: %6.2f s  %8.0f files/s  %7.1f MB/s  peak RSS %6.1f MB\n' "$name" "$i" "$t" \
			"$(echo "$N / $t" | bc -l)" "$(echo "$BYTES / $t / 1000000" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
		if [ -z "${best_t[$name]:-}" ] || [ "$(echo "$t < ${best_t[$name]}" | bc -l)" = 1 ]; then
			best_t[$name]=$t
		fi
		if [ -z "${best_rss[$name]:-}" ] || [ "$rss" -gt "${best_rss[$name]}" ]; then
			best_rss[$name]=$rss
		fi
	done
}
f_natadv() { rm -rf "$W/nat"; mkdir -p "$W/nat"; natadv_run "$W/nat"; }
f_curl() { run "$W/curl" curl -s -Z --parallel-max 64 --remote-name-all $(cat "$W/urls.txt"); }
f_wget2() { run "$W/wget2" wget2 -q --max-threads=64 -i "$W/urls.txt"; }
f_aria2c() { run "$W/aria2c" aria2c -q -j 64 -x 1 --auto-file-renaming=false -i "$W/urls.txt"; }

echo "crawl benchmark: $N files, $((BYTES / N / 1024)) KB average, $(nproc) cores, runs of $RUNS (best run counts)"
measure natadv f_natadv
check=$(sqlite3 "$W/nat/ws/natadv.db" "SELECT count(*) FROM images")
echo "  natadv stored $check distinct images"
measure curl f_curl
measure wget2 f_wget2
RUNS=1 measure aria2c f_aria2c
# memory with 100,000 queued urls: every file under ten query strings
for k in 0 1 2 3 4 5 6 7 8 9; do sed "s/\.jpg\t/.jpg?v=$k\t/" "$W/seeds.tsv" | tail -n +2; done |
	{ printf 'url\twnid\n'; cat; } > "$W/seeds100k.tsv"
rm -rf "$W/big"
mkdir -p "$W/big"
./natadv -q -w "$W/big/ws" init
./natadv -q -w "$W/big/ws" crawl --seeds "$W/seeds100k.tsv" --no-fetch
res=$(run "$W/big/x" "$PWD/natadv" -q -w "$W/big/ws" crawl --allow-private --concurrency 64 --per-host 64)
t=${res% *}
printf '  natadv with %d queued urls: %.1f s, %.0f urls/s, peak RSS %.1f MB\n' "$((N * 10))" "$t" \
	"$(echo "$N * 10 / $t" | bc -l)" "$(echo "${res#* } / 1024" | bc -l)"
echo
printf '%-8s %10s %8s %12s %s\n' tool files/s MB/s "peak RSS MB" "natadv ratio (files/s)"
for name in natadv curl wget2 aria2c; do
	t=${best_t[$name]}
	printf '%-8s %10.0f %8.1f %12.1f %8.2f\n' "$name" "$(echo "$N / $t" | bc -l)" \
		"$(echo "$BYTES / $t / 1000000" | bc -l)" "$(echo "${best_rss[$name]} / 1024" | bc -l)" \
		"$(echo "$t / ${best_t[natadv]}" | bc -l)"
done
