#!/usr/bin/env bash
# score.sh — natadv's ResNet-50 against onnxruntime-node 1.30 and PyTorch
# (Debian) on the same weights: forward pass alone at batch 1, 8 and 32 on 2
# threads, with OpenBLAS's environment as it is and with OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset; then end to end, `natadv score` over a few hundred
# ~12 MP photos against torchvision's PIL preprocessing + onnxruntime.
# Checks first that all three give the same logits on a few fixture photos.
# Prints images/s, peak RSS and natadv's ratios. Not part of `make test`.
# Usage: bash bench/score.sh          (QUICK=1 for fewer runs and photos;
#        RUNS=N PHOTOS=N E2E_RUNS=N override; CACHE=DIR keeps the weights,
#        onnxruntime-node and photos between runs, default /tmp/natadv-bench-cache)
set -eu
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
if [ "${QUICK:-0}" = 1 ]; then
	RUNS=${RUNS:-2} PHOTOS=${PHOTOS:-48} E2E_RUNS=${E2E_RUNS:-1}
else
	RUNS=${RUNS:-5} PHOTOS=${PHOTOS:-300} E2E_RUNS=${E2E_RUNS:-2}
fi
BATCHES="1 8 32"
bench_workdir score # PY, CACHE, W (removed on exit), SRV (stopped on exit), log

# --- tools, weights, onnxruntime-node, photos (made once into $CACHE) --------
scripts/install-deps.sh bench
make -s MODE=rel natadv build/rel/testsrv
bench_forward_build "$W/forward_bench"
mkdir -p "$CACHE"
WT=$CACHE/weights
if [ ! -f "$WT/resnet50.onnx" ]; then
	log "making ResNet-50 weights (torchvision, seed 0) and its ONNX export ..."
	rm -rf "$WT.tmp" && mkdir -p "$WT.tmp"
	$PY bench/score_peers.py weights "$WT.tmp" >&2 2> "$W/export.log" || { cat "$W/export.log" >&2; exit 1; }
	rm -rf "$WT" && mv "$WT.tmp" "$WT"
fi
ORT=$CACHE/ort
bench_ort_install "$ORT"
ORT_VERSION=$(sed -n 's/^ *"version": "\(.*\)",$/\1/p' "$ORT/node_modules/onnxruntime-node/package.json")
PH=$CACHE/photos-$PHOTOS
if [ ! -d "$PH" ]; then
	log "making $PHOTOS photos of ~12 MP ..."
	rm -rf "$PH.tmp"
	$PY bench/score_peers.py photos "$PH.tmp" "$PHOTOS" >&2
	mv "$PH.tmp" "$PH"
fi

# --- forward pass -------------------------------------------------------------
# Each bench prints "median best peak_rss_kb"; results go to R[tool/env/batch].
declare -A R
ENVS="as-is unset"
in_env() { # ENV COMMAND...
	local e=$1
	shift
	if [ "$e" = unset ]; then env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$@"; else "$@"; fi
}
bench_one() { # TOOL ENV BATCH
	local out
	case $1 in
	natadv) out=$(in_env "$2" "$W/forward_bench" "$WT/resnet50.safetensors" "$3" "$RUNS" 2 2>> "$W/kernel.$2") ;;
	onnxruntime) out=$(in_env "$2" env NODE_PATH="$ORT/node_modules" node bench/ort_bench.js "$WT/resnet50.onnx" "$3" "$RUNS") ;;
	pytorch) out=$(in_env "$2" env OPENBLAS_VERBOSE=2 $PY bench/score_peers.py torch "$WT/resnet50.safetensors" "$3" "$RUNS" \
		2>> "$W/torch.$2") ;;
	esac
	R[$1/$2/$3]=$out
	log "  $1 ($2) batch $3: $out"
}
echo "score benchmark: ResNet-50 (torchvision names, seed 0), 224x224, 2 threads, $(nproc) cores,"
echo "runs of >= 32 images after warm-up, $RUNS runs (best run counts, median in brackets)"
echo "environment as-is: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-(unset)}"
# Same weights, same answers: the logits of all three on four fixture photos.
mkdir "$W/check"
n=$($PY bench/score_peers.py reference "$WT/resnet50.safetensors" "$W/check")
"$W/forward_bench" "$WT/resnet50.safetensors" --logits "$W/check/input.f32" "$n" "$W/check/natadv.f32"
NODE_PATH="$ORT/node_modules" node bench/ort_bench.js "$WT/resnet50.onnx" --logits "$W/check/input.f32" "$n" \
	"$W/check/onnxruntime.f32"
$PY bench/score_peers.py compare "$W/check" natadv onnxruntime ||
	echo "WARNING: the tools disagree beyond 1e-3 or in top-5 order; the timings compare different computations"
log "forward pass ..."
for b in $BATCHES; do
	for e in $ENVS; do
		for t in natadv onnxruntime pytorch; do
			bench_one "$t" "$e" "$b"
		done
	done
done
for e in $ENVS; do
	k=$(sed -n 's/.*, kernel \([^,]*\),.*/\1/p' "$W/kernel.$e" | sort -u | paste -sd ' ')
	tk=$(sed -n 's/^Core: //p' "$W/torch.$e" | sort -u | paste -sd ' ')
	g=$(sed -n 's/.*, natadv GEMM \(.*\)$/\1/p' "$W/kernel.$e" | sort -u | paste -sd ' ')
	echo "OpenBLAS kernel, $e: natadv ${k:-?} (the fc only; its convolutions run on natadv's own ${g:-?} GEMM kernels); pytorch's OpenBLAS ${tk:-?}"
done
sed -n 's/^forward_bench: .*, 2 threads, /natadv on /p' "$W/kernel.as-is" | head -n 1
echo "natadv activation arena: $(sed -n 's/^forward_bench: [^,]*, \(batch [0-9]*\), arena \([0-9.]* MB\),.*/\1: \2/p' \
	"$W/kernel.as-is" | paste -sd ';' | sed 's/;/, /g')"
echo "onnxruntime-node $ORT_VERSION; pytorch $($PY -c 'import torch; print(torch.__version__)' 2>/dev/null)"
echo
printf '%-12s %-6s %5s %20s %12s %11s\n' tool env batch "images/s (median)" "peak RSS MB" "x ort"
for b in $BATCHES; do
	for e in $ENVS; do
		for t in natadv onnxruntime pytorch; do
			read -r med best rss <<< "${R[$t/$e/$b]}"
			read -r _ obest _ <<< "${R[onnxruntime/$e/$b]}"
			printf '%-12s %-6s %5d %10.1f (%7.1f) %12.0f %10.2fx\n' "$t" "$e" "$b" "$best" "$med" \
				"$(echo "$rss / 1024" | bc -l)" "$(echo "$best / $obest" | bc -l)"
		done
	done
done
echo
for e in $ENVS; do
	ok=met
	for b in 8 32; do
		read -r _ nb _ <<< "${R[natadv/$e/$b]}"
		read -r _ ob _ <<< "${R[onnxruntime/$e/$b]}"
		[ "$(echo "$nb >= $ob" | bc -l)" = 1 ] || ok="NOT met"
	done
	read -r _ _ rss <<< "${R[natadv/$e/32]}"
	mem=met
	[ "$rss" -le 1048576 ] || mem="NOT met"
	echo "target ($e): natadv >= 1.0x onnxruntime at batch 8 and 32: $ok; peak RSS <= 1 GB at batch 32: $mem"
done

# --- end to end ---------------------------------------------------------------
log "end to end: serving $PHOTOS photos from loopback and crawling them into a workspace ..."
WS=$W/ws
build/rel/testsrv --port-file "$W/port" --root "$PH" --log "$W/srv.log" &
SRV=$!
for _ in $(seq 1 100); do [ -s "$W/port" ] && break; sleep 0.05; done
PORT=$(cat "$W/port")
{
	printf 'url\twnid\n'
	for f in "$PH"/*.jpg; do printf 'http://127.0.0.1:%s/img/%s\tn01498041\n' "$PORT" "${f##*/}"; done
} > "$W/seeds.tsv"
./natadv -q -w "$WS" init
./natadv -q -w "$WS" crawl --seeds "$W/seeds.tsv" --allow-private --per-host 16 --max-bytes 50MB
kill "$SRV"
wait "$SRV" 2> /dev/null || true
SRV=
stored=$(sqlite3 "$WS/natadv.db" "SELECT count(*) FROM images")
[ "$stored" = "$PHOTOS" ] || { log "score.sh: crawled $stored images, expected $PHOTOS"; exit 1; }
./natadv -q -w "$WS" model add "$WT/resnet50.safetensors" --name resnet50
MB=$(du -sb "$PH" | cut -f1)
MP=$($PY -c "import glob,sys
from PIL import Image
s=[Image.open(p).size for p in glob.glob(sys.argv[1]+'/*.jpg')]
print('%.1f' % (sum(w*h for w,h in s)/len(s)/1e6))" "$PH")

declare -A E
for e in $ENVS; do
	for r in $(seq 1 "$E2E_RUNS"); do
		sqlite3 "$WS/natadv.db" "DELETE FROM score_tags; DELETE FROM scores;"
		t0=$(date +%s.%N)
		rc=0
		in_env "$e" /usr/bin/time -f %M -o "$W/rss" ./natadv -w "$WS" score --model resnet50 --batch 8 --threads 2 \
			2> "$W/score.log" || rc=$?
		t1=$(date +%s.%N)
		n=$(sqlite3 "$WS/natadv.db" "SELECT count(*) FROM scores WHERE status = 'scored'")
		if [ "$rc" != 0 ] || [ "$n" != "$PHOTOS" ]; then
			log "score.sh: natadv score exited $rc with $n of $PHOTOS scored:"
			cat "$W/score.log" >&2
			exit 1
		fi
		t=$(echo "$t1 - $t0" | bc -l)
		log "  natadv score ($e) run $r: $t s, peak RSS $(tail -n 1 "$W/rss") KB; $(grep 'scored' "$W/score.log" | sed 's/^natadv: //')"
		if [ -z "${E[$e]:-}" ] || [ "$(echo "$t < ${E[$e]% *}" | bc -l)" = 1 ]; then E[$e]="$t $(tail -n 1 "$W/rss")"; fi
	done
done
log "  torchvision PIL preprocessing, one thread ..."
pbest=
for r in $(seq 1 "$E2E_RUNS"); do
	read -r pn pt <<< "$($PY bench/score_peers.py preprocess "$PH")"
	log "  preprocessing run $r: $pn photos in $pt s"
	if [ -z "$pbest" ] || [ "$(echo "$pt < $pbest" | bc -l)" = 1 ]; then pbest=$pt; fi
done

echo
echo "end to end: $PHOTOS photos, $MP MP and $((MB / PHOTOS / 1000)) KB on average (JPEG q92), batch 8, 2 threads"
echo "natadv: \`natadv score\` (decode + preprocess + forward + store), whole command;"
echo "peers: torchvision PIL preprocessing on one thread + onnxruntime batch 8 forward time (best run of each, added)"
printf '%-32s %-6s %9s %10s %12s %8s\n' pipeline env seconds photos/s "peak RSS MB" ratio
for e in $ENVS; do
	read -r nt nrss <<< "${E[$e]}"
	read -r _ ob _ <<< "${R[onnxruntime/$e/8]}"
	ot=$(echo "$PHOTOS / $ob" | bc -l)
	pt=$(echo "$pbest + $ot" | bc -l)
	printf '%-32s %-6s %9.1f %10.1f %12.0f %7.2fx\n' "natadv score" "$e" "$nt" "$(echo "$PHOTOS / $nt" | bc -l)" \
		"$(echo "$nrss / 1024" | bc -l)" "$(echo "$pt / $nt" | bc -l)"
	printf '%-32s %-6s %9.1f %10.1f %12s\n' "  PIL preprocessing (1 thread)" "" "$pbest" "$(echo "$PHOTOS / $pbest" | bc -l)" ""
	printf '%-32s %-6s %9.1f %10.1f %12s\n' "  + onnxruntime forward (b 8)" "$e" "$ot" "$ob" ""
	printf '%-32s %-6s %9.1f %10.1f %12s\n' "  = PIL + onnxruntime" "$e" "$pt" "$(echo "$PHOTOS / $pt" | bc -l)" ""
	v=met
	[ "$(echo "$pt >= $nt" | bc -l)" = 1 ] || v="NOT met"
	echo "target ($e): natadv score >= 1.0x PIL + onnxruntime: $v"
done
