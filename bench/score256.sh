#!/usr/bin/env bash
# score256.sh — `natadv score` end to end on photos already at 256 px (short
# side 256, 4:3 JPEG q92, so Resize(256) changes nothing and CenterCrop(224)
# is a crop), less start-up, against onnxruntime-node's forward pass alone
# (batch 8, 2 threads) over the same number of images, for ResNet-50,
# DenseNet-121 and VGG-16 on the same seeded torchvision weights
# (bench/score_peers.py: safetensors for natadv, its ONNX export for
# onnxruntime). Not part of `make test`.
#
# Start-up: the wall time of `natadv score` when exactly one image is left
# unscored (process start, workspace, the weights' SHA-256, the mapped
# packed-weights cache, threads, that one image, exit). A run over all N
# images takes T_N; natadv's rate is (N - 1) / (T_N - T_1), each round
# measuring both. The packed-weights cache is built by an untimed first run.
# Each round also times natadv's forward pass alone (bench/forward_bench.c,
# batch 8) so what score loses to decoding and SQLite shows. OPENBLAS_CORETYPE
# and OPENBLAS_L2_SIZE are unset for every command of this bench.
# Usage: bash bench/score256.sh [MODEL...]   (default: resnet50 densenet121
#        vgg16; ROUNDS=N (3); IMAGES_resnet50=N etc. override the photos per
#        model (1280, 512, 160: ~20 s of natadv's work each on an idle machine); FORWARD=0 skips
#        the forward-alone figure; CACHE=DIR as for bench/score.sh)
set -eu
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
MODELS=${*:-resnet50 densenet121 vgg16}
ROUNDS=${ROUNDS:-3} FORWARD=${FORWARD:-1}
bench_workdir score256 # PY, CACHE, W (removed on exit), SRV (stopped on exit), log
images_for() { # MODEL
	local v=IMAGES_$1 d
	case $1 in resnet50) d=1280 ;; densenet121) d=512 ;; vgg16) d=160 ;; *) d=256 ;; esac
	echo "${!v:-$d}"
}

echo "environment as-is: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-(unset)}; both unset below"
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
scripts/install-deps.sh bench
make -s MODE=rel natadv build/rel/testsrv
bench_forward_build "$W/forward_bench"
ORT=$CACHE/ort
bench_ort_install "$ORT"
WT=$CACHE/weights
mkdir -p "$WT"
MAX=0
for m in $MODELS; do
	n=$(images_for "$m")
	[ "$n" -ge 2 ] || { log "score256.sh: $m needs at least 2 images"; exit 1; }
	[ "$n" -le "$MAX" ] || MAX=$n
	if [ ! -f "$WT/$m.onnx" ] || [ ! -f "$WT/$m.safetensors" ]; then
		log "making $m weights (torchvision, seed 0) and its ONNX export ..."
		mkdir -p "$W/wt"
		$PY bench/score_peers.py weights "$W/wt" "$m" >&2
		mv "$W/wt/$m.safetensors" "$W/wt/$m.onnx" "$WT/"
	fi
done
PH=$CACHE/photos256-$MAX
if [ ! -d "$PH" ]; then
	log "making $MAX photos with a short side of 256 px ..."
	rm -rf "$PH.tmp"
	$PY bench/score_peers.py photos "$PH.tmp" "$MAX" 256 >&2
	mv "$PH.tmp" "$PH"
fi
build/rel/testsrv --port-file "$W/port" --root "$PH" --log "$W/srv.log" &
SRV=$!
for _ in $(seq 1 100); do [ -s "$W/port" ] && break; sleep 0.05; done
PORT=$(cat "$W/port")
echo "score256 benchmark: $(nproc) cores, batch 8, 2 threads, $ROUNDS rounds; load before: $(uptime | sed 's/.*load/load/')"

score_once() { # WS MODEL OUT: one timed score, appends "seconds rss_kb" to OUT
	if ! /usr/bin/time -f %M -o "$W/rss" ./natadv -w "$1" score --model "$2" --batch 8 --threads 2 2> "$W/score.log"; then
		log "score256.sh: natadv score failed:"
		cat "$W/score.log" >&2
		exit 1
	fi
}
bench_model() { # MODEL
	local m=$1 n ws one t0 t1 t_one t_all scored f
	n=$(images_for "$m")
	ws=$W/ws-$m
	{
		printf 'url\twnid\n'
		for f in "$PH"/*.jpg; do printf 'http://127.0.0.1:%s/img/%s\tn01498041\n' "$PORT" "${f##*/}"; done | head -n "$n"
	} > "$W/seeds-$m.tsv"
	./natadv -q -w "$ws" init
	./natadv -q -w "$ws" crawl --seeds "$W/seeds-$m.tsv" --allow-private --per-host 16
	[ "$(sqlite3 "$ws/natadv.db" "SELECT count(*) FROM images")" = "$n" ] || { log "score256.sh: crawl of $m's photos failed"; exit 1; }
	./natadv -q -w "$ws" model add "$WT/$m.safetensors" --name "$m"
	./natadv -v -w "$ws" score --model "$m" --batch 8 --threads 2 2>&1 | grep "^model" # builds the packed cache
	one=$(sqlite3 "$ws/natadv.db" "SELECT min(hash) FROM images")
	for r in $(seq 1 "$ROUNDS"); do
		sqlite3 "$ws/natadv.db" "DELETE FROM score_tags WHERE image_hash = '$one'; DELETE FROM scores WHERE image_hash = '$one'"
		t0=$(date +%s.%N)
		score_once "$ws" "$m"
		t1=$(date +%s.%N)
		t_one=$(echo "$t1 - $t0" | bc -l)
		rss_one=$(tail -n 1 "$W/rss")
		sqlite3 "$ws/natadv.db" "DELETE FROM score_tags; DELETE FROM scores"
		t0=$(date +%s.%N)
		score_once "$ws" "$m"
		t1=$(date +%s.%N)
		t_all=$(echo "$t1 - $t0" | bc -l)
		scored=$(sqlite3 "$ws/natadv.db" "SELECT count(*) FROM scores WHERE status = 'scored'")
		[ "$scored" = "$n" ] || { log "score256.sh: $scored of $n scored"; exit 1; }
		own=$(sed -n 's/.* in \([0-9.]*\) s, .*/\1/p' "$W/score.log")
		rate=$(echo "($n - 1) / ($t_all - $t_one)" | bc -l)
		read -r orate osec orss <<< "$(NODE_PATH="$ORT/node_modules" node bench/ort_bench.js "$WT/$m.onnx" 8 --images "$n")"
		fwd="- - 0"
		if [ "$FORWARD" = 1 ]; then fwd=$("$W/forward_bench" "$WT/$m.safetensors" 8 2 2 2> "$W/kernel"); fi
		read -r fmed _ frss <<< "$fwd"
		printf '%s %s %s %s %s %s %s %s %s %s %s\n' "$t_one" "$rss_one" "$t_all" "$(tail -n 1 "$W/rss")" "$own" \
			"$rate" "$orate" "$osec" "$orss" "$fmed" "$frss" >> "$W/res-$m"
		printf '%s round %d: start-up %.2f s (RSS %d MB), %d images %.2f s (score itself %s s, RSS %d MB): %.2f img/s; ' \
			"$m" "$r" "$t_one" $((rss_one / 1024)) "$n" "$t_all" "$own" $(($(tail -n 1 "$W/rss") / 1024)) "$rate"
		printf 'onnxruntime forward %.2f img/s (%.2f s, RSS %d MB): %.2fx; natadv forward alone %s img/s; load %s\n' \
			"$orate" "$osec" $((orss / 1024)) "$(echo "$rate / $orate" | bc -l)" "$fmed" \
			"$(cut -d' ' -f1 /proc/loadavg)"
	done
	if [ "$FORWARD" = 1 ]; then sed -n 's/^forward_bench: /  natadv kernels: /p' "$W/kernel" | head -n 1; fi
}
for m in $MODELS; do bench_model "$m"; done
kill "$SRV"
wait "$SRV" 2> /dev/null || true
SRV=

echo
echo "medians of $ROUNDS rounds; natadv score's rate is (N - 1) / (T_N - T_1), T_1 the start-up run"
printf '%-12s %6s %10s %16s %14s %18s %12s %8s %14s\n' model images "start-up s" "score img/s" "score RSS MB" \
	"onnxruntime img/s" "ort RSS MB" ratio "forward img/s"
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
for m in $MODELS; do
	f=$W/res-$m
	col() { cut -d' ' -f"$1" "$f" | median; }
	s=$(col 6) o=$(col 7)
	printf '%-12s %6d %10.2f %16.2f %14d %18.2f %12d %7.2fx %14s\n' "$m" "$(images_for "$m")" "$(col 1)" "$s" \
		$(($(col 4) / 1024)) "$o" $(($(col 9) / 1024)) "$(echo "$s / $o" | bc -l)" "$(col 10)"
	echo "  $m ratios by round: $(awk '{printf "%.2fx ", $6 / $7}' "$f")"
done
echo "load after: $(uptime | sed 's/.*load/load/')"
