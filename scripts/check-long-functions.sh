#!/bin/sh
# check-long-functions.sh — fail if a function of the library or CLI sources
# (every *.c and *.h outside tests/, bench/ and build/) is longer than
# MAX lines (120), from its first line to its closing brace, as
# universal-ctags (Debian's universal-ctags) sees it.
# Usage: scripts/check-long-functions.sh [MAX]
cd "$(dirname "$0")/.." || exit 1
max=${1:-120}
if ! ctags --version 2> /dev/null | grep -q 'Universal Ctags'; then
	echo "check-long-functions: needs universal-ctags (apt-get install universal-ctags)" >&2
	exit 1
fi
files=$(find . \( -path ./build -o -path ./tests -o -path ./bench -o -path ./.git \) -prune -o \
	-type f \( -name '*.c' -o -name '*.h' \) -print | sed 's|^\./||' | LC_ALL=C sort)
[ -n "$files" ] || { echo "check-long-functions: no source found" >&2; exit 1; }
# FILE:FUNCTION LINES, for every function longer than max
# shellcheck disable=SC2086
long=$(ctags -x --_xformat='%{input}	%{name}	%{line}	%{end}' --kinds-C=f --fields=+ne \
	--language-force=C $files | awk -F'\t' -v max="$max" '
	$4 == "" { print "check-long-functions: no end line for " $1 ":" $2 > "/dev/stderr"; bad = 1 }
	$4 - $3 + 1 > max { print $1 ":" $2, $4 - $3 + 1 }
	END { exit bad }') || exit 1
[ -z "$long" ] && exit 0
printf '%s\n' "$long" | while read -r fn n; do
	echo "$fn has $n lines, more than $max: split it along its concerns" >&2
done
exit 1
