#!/bin/sh
# coverage.sh — the share of the library and CLI sources that make test's
# suites run: builds build/cov (gcc --coverage), runs tests/run.sh against
# it (the suites listed for the release build), and writes an HTML report
# with lcov/genhtml (Debian's lcov) to build/coverage/index.html. Tests,
# bench/ and generated files are left out. The last line printed is
# "lines: NN.N% branches: NN.N%". Run by `make coverage`; not part of make test.
set -u
cd "$(dirname "$0")/.." || exit 1
COV=build/cov
OUT=build/coverage
find "$COV" -name '*.gcda' -delete 2> /dev/null
NATADV_REL_BUILD=cov NATADV_STRICT=1 tests/run.sh
status=$?
rm -rf "$OUT"
mkdir -p "$OUT"
rc="--rc lcov_branch_coverage=1"
# shellcheck disable=SC2086
lcov -q $rc --capture --directory "$COV" --base-directory . --output-file "$OUT/all.info" 2> "$OUT/lcov.log" &&
	lcov -q $rc --extract "$OUT/all.info" "$PWD/common/*" "$PWD/store/*" "$PWD/image/*" "$PWD/crawler/*" \
		"$PWD/filter/*" "$PWD/packager/*" "$PWD/review/*" "$PWD/rebuild/*" "$PWD/cli/*" \
		--output-file "$OUT/natadv.info" 2>> "$OUT/lcov.log" &&
	genhtml -q $rc --title natadv --output-directory "$OUT" "$OUT/natadv.info" > "$OUT/genhtml.log" 2>&1 || {
	echo "coverage: lcov or genhtml failed (see $OUT/lcov.log, $OUT/genhtml.log)" >&2
	exit 1
}
# per module, then the total
lcov $rc --summary "$OUT/natadv.info" 2> /dev/null > /dev/null
python3 - "$OUT/natadv.info" << 'PY'
import collections, os, sys
mods = collections.defaultdict(lambda: [0, 0, 0, 0])  # lines hit, lines, branches hit, branches
f = None
for l in open(sys.argv[1]):
    l = l.strip()
    if l.startswith("SF:"):
        f = os.path.relpath(l[3:]).split("/")[0]
    elif l.startswith(("LH:", "LF:", "BRH:", "BRF:")):
        k, v = l.split(":")
        mods[f][("LH", "LF", "BRH", "BRF").index(k)] += int(v)
pct = lambda a, b: 100.0 * a / b if b else 0.0
tot = [sum(m[i] for m in mods.values()) for i in range(4)]
for name in sorted(mods):
    m = mods[name]
    print("%-10s lines %5.1f%% (%d of %d)  branches %5.1f%% (%d of %d)" % (name, pct(m[0], m[1]), m[0], m[1], pct(m[2], m[3]), m[2], m[3]))
print("report: build/coverage/index.html")
if tot[1] == 0:
    sys.exit("coverage: no line of the sources was recorded")
print("lines: %.1f%% branches: %.1f%%" % (pct(tot[0], tot[1]), pct(tot[2], tot[3])))
PY
py=$?
[ "$py" = 0 ] || exit 1
[ "$status" = 0 ] || echo "coverage: some suites failed (above); the figures count what ran" >&2
exit "$status"
