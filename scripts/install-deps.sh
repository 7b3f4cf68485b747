#!/bin/sh
# install-deps.sh — make sure the Debian packages natadv builds and tests with
# are installed. As root, installs what is missing with apt-get; otherwise
# prints the exact apt-get line and fails.
# Usage: scripts/install-deps.sh [build|test|bench|fuzz|coverage]
set -eu
build="build-essential pkg-config libcurl4-openssl-dev libsqlite3-dev libjpeg62-turbo-dev libpng-dev libopenblas-dev libxxhash-dev libjansson-dev libssl-dev libmicrohttpd-dev libarchive-dev"
build="$build wordnet-base"  # WordNet 3.0 data.noun, read at run time by classes ood / add-set --ood
test="sqlite3 libjpeg-turbo-progs curl chromium nodejs npm universal-ctags slurm-wlm munge"
fuzz="clang libclang-rt-14-dev"
coverage="lcov"
bench="nginx-light wget2 aria2 curl time bc python3-pil python3-skimage python3-torch python3-torchvision nodejs"
case "${1:-build}" in
build) want="$build" ;;
test) want="$build $test" ;;
bench) want="$build $test $bench" ;;
fuzz) want="$build $fuzz" ;;
coverage) want="$build $test $coverage" ;;
*) echo "usage: $0 [build|test|bench|fuzz|coverage]" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
	s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$s" in
	*"install ok installed"*) ;;
	*)
		# Node.js from another repository (NodeSource's nodejs includes npm) will do.
		case "$p" in nodejs | npm) command -v "$p" > /dev/null && continue ;; esac
		missing="$missing $p"
		;;
	esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >&2
else
	echo "missing Debian packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
