# shellcheck shell=bash
# lib.sh — what the forward-pass benchmarks share; sourced, not run.

# bench_forward_build OUT: builds bench/forward_bench.c against the rel library into OUT
bench_forward_build() {
	make -s MODE=rel build/rel/libnatadv.a
	local PKG_CFLAGS PKG_LIBS
	eval "$(sed -n 's/^\(PKG_CFLAGS\|PKG_LIBS\) := \(.*\)$/\1="\2"/p' build/config.mk)"
	# shellcheck disable=SC2086
	cc -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -O2 -I. $PKG_CFLAGS -o "$1" \
		bench/forward_bench.c build/rel/libnatadv.a $PKG_LIBS -lpthread -lm
}

# bench_ort_install DIR: installs onnxruntime-node 1.30 into DIR once (npm's registry)
bench_ort_install() {
	[ ! -f "$1/node_modules/onnxruntime-node/package.json" ] || return 0
	command -v npm > /dev/null || { echo "bench: npm is missing (Debian: apt-get install npm)" >&2; return 1; }
	echo "installing onnxruntime-node 1.30 into $1 ..." >&2
	mkdir -p "$1"
	[ -f "$1/package.json" ] || echo '{"name":"natadv-ort-bench","private":true}' > "$1/package.json"
	(cd "$1" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --silent onnxruntime-node@1.30 >&2)
}

# bench_workdir NAME: what a bench that serves photos starts with: PY (Debian's
# python3, with python3-torch, python3-torchvision, python3-pil), CACHE (weights,
# onnxruntime-node and photos kept between runs, default
# /tmp/natadv-bench-cache), W (a new folder /tmp/natadv-NAME.XXXXXX) and log
# MESSAGE (to stderr). On exit the test server whose pid is in SRV (if any) is
# stopped and W removed.
bench_workdir() {
	PY=/usr/bin/python3
	CACHE=${CACHE:-/tmp/natadv-bench-cache}
	W=$(mktemp -d "/tmp/natadv-$1.XXXXXX")
	SRV=
	trap bench_cleanup EXIT
}
bench_cleanup() {
	if [ -n "$SRV" ]; then kill "$SRV" 2> /dev/null || true; fi
	rm -rf "$W"
}
log() { echo "$*" >&2; }
