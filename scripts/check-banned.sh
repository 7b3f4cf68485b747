#!/bin/sh
# check-banned.sh — fail if C sources call a banned function (see STYLE).
hits=$(grep -n -E '\b(strcpy|strcat|sprintf|strtok|atoi|gets)\s*\(' \
	$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]') || true)
if [ -n "$hits" ]; then
	echo "banned functions used:" >&2
	echo "$hits" >&2
	exit 1
fi
