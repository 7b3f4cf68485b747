#!/usr/bin/env bash
# make-jpeg-walk-corpus.sh — regenerates the seed corpus of fuzz_jpeg_walk
# (tests/fuzz/corpus/jpeg_walk/) from two fixture photos at 1/4 size, with
# libjpeg-turbo's cjpeg/jpegtran (Debian libjpeg-turbo-progs): every layout
# the walk handles (sampling, restart intervals, progressive with successive
# approximation, multi-scan sequential) and a few it hands over (arithmetic,
# RGB, odd sampling). Usage: tests/fuzz/make-jpeg-walk-corpus.sh
set -eu
cd "$(dirname "$0")/../.."
out=tests/fuzz/corpus/jpeg_walk
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
djpeg -scale 1/4 tests/fixtures/chelsea_q90.jpg > "$tmp/c.ppm"
djpeg -scale 1/4 tests/fixtures/coffee_q90.jpg > "$tmp/f.ppm"
djpeg -scale 1/4 -grayscale tests/fixtures/coffee_q90.jpg > "$tmp/g.pgm"

# Progression scripts: successive approximation on DC and AC, odd bands.
cat > "$tmp/sa.txt" <<'S'
0,1,2: 0-0, 0, 2;
0: 1-5, 0, 2;
2: 1-63, 0, 1;
1: 1-63, 0, 1;
0: 6-63, 0, 2;
0: 1-63, 2, 1;
0,1,2: 0-0, 2, 1;
0,1,2: 0-0, 1, 0;
2: 1-63, 1, 0;
1: 1-63, 1, 0;
0: 1-63, 1, 0;
S
cat > "$tmp/dcsep.txt" <<'S'
0: 0-0, 0, 0;
1: 0-0, 0, 0;
2: 0-0, 0, 0;
0: 1-1, 0, 0;
0: 2-63, 0, 3;
0: 2-63, 3, 2;
0: 2-63, 2, 1;
0: 2-63, 1, 0;
1: 1-63, 0, 0;
2: 1-63, 0, 0;
S
cat > "$tmp/seqsep.txt" <<'S'
0: 0-63, 0, 0;
1 2: 0-63, 0, 0;
S
cat > "$tmp/seq3.txt" <<'S'
2: 0-63, 0, 0;
0: 0-63, 0, 0;
1: 0-63, 0, 0;
S

e() { # NAME INPUT CJPEG-ARGS...
	local name=$1 in=$2
	shift 2
	cjpeg "$@" "$in" > "$out/$name.jpg"
}
e base420_q75 "$tmp/c.ppm" -quality 75
e base444_q90 "$tmp/c.ppm" -quality 90 -sample 1x1
e base422 "$tmp/f.ppm" -sample 2x1
e base440 "$tmp/f.ppm" -sample 1x2
e base411 "$tmp/f.ppm" -sample 4x1
e base42_mcu10 "$tmp/c.ppm" -sample 4x2
e base31 "$tmp/c.ppm" -sample 3x1
e gray "$tmp/g.pgm" -quality 80
e gray_restart "$tmp/g.pgm" -restart 3B
e restart_rows "$tmp/c.ppm" -restart 1
e restart_mcu "$tmp/f.ppm" -restart 5B -sample 2x1
e optimized_q100 "$tmp/f.ppm" -optimize -quality 100
e q5 "$tmp/c.ppm" -quality 5
e prog "$tmp/c.ppm" -progressive
e prog444 "$tmp/f.ppm" -progressive -sample 1x1
e prog_restart "$tmp/f.ppm" -progressive -restart 2B
e prog_gray "$tmp/g.pgm" -progressive
e prog_sa "$tmp/c.ppm" -scans "$tmp/sa.txt"
e prog_sa_restart "$tmp/f.ppm" -scans "$tmp/sa.txt" -restart 7B -sample 2x1
e prog_dcsep "$tmp/f.ppm" -scans "$tmp/dcsep.txt"
e seq_two_scans "$tmp/c.ppm" -scans "$tmp/seqsep.txt"
e seq_three_scans "$tmp/f.ppm" -scans "$tmp/seq3.txt" -restart 4B
e arith "$tmp/c.ppm" -arithmetic
e rgb "$tmp/f.ppm" -rgb
e q100_444_float "$tmp/c.ppm" -quality 100 -sample 1x1 -dct float
# A YCbCr file with no JFIF marker (ids 1,2,3 still say YCbCr).
python3 - "$out/base420_q75.jpg" "$out/nojfif.jpg" <<'P'
import sys
d = open(sys.argv[1], 'rb').read()
n = int.from_bytes(d[4:6], 'big')
assert d[2:4] == b'\xff\xe0'
open(sys.argv[2], 'wb').write(d[:2] + d[4 + n:])
P
ls -l "$out" | awk 'NR > 1 { n++; s += $5 } END { print n " seeds, " s " bytes" }'
