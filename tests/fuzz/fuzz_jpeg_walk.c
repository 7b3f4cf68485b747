/* fuzz_jpeg_walk.c — libFuzzer differential target for image/jpeg_walk.c:
 * on any input the walk either hands over to libjpeg-turbo or accepts, and
 * when it accepts, libjpeg-turbo's 1/8-scale pass (img_jpeg_validate_lib)
 * must accept too with the same dHash and dimensions. A disagreement aborts.
 * The walk with pdep (where the CPU has it) must agree with its portable code.
 * The walk also runs on bodies img_probe refuses, which must not crash it.
 * Half the mutations touch only the entropy-coded data of a JPEG (flipped
 * bits, changed bytes, a cut closed by EOI), which keeps the headers valid so
 * that both paths get deep into the scans. While `make fuzz-jpeg_walk` cannot
 * link filter/ with clang, build by hand:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -D_GNU_SOURCE \
 *     $(pkg-config --cflags libjpeg libpng) -o build/fuzz/jpeg_walk \
 *     tests/fuzz/fuzz_jpeg_walk.c image/[a-z]*.c common/err.c common/buf.c \
 *     $(pkg-config --libs libjpeg libpng) -lm
 *   build/fuzz/jpeg_walk -max_total_time=600 WORKDIR tests/fuzz/corpus/jpeg_walk */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "image/jpeg_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
/* libFuzzer's own mutator; absent (and never called) in the replay build. */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size) __attribute__((weak));

/* First byte after the first SOS header, or 0. */
static size_t entropy_start(const uint8_t *p, size_t n)
{
	size_t i = 2;
	if (n < 4 || p[0] != 0xff || p[1] != 0xd8)
		return 0;
	while (i + 4 <= n && p[i] == 0xff) {
		size_t seg = (size_t)p[i + 2] << 8 | p[i + 3];
		if (p[i + 1] == 0xda)
			return i + 2 + seg < n ? i + 2 + seg : 0;
		i += 2 + seg;
	}
	return 0;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	size_t es = entropy_start(data, size);
	uint64_t r = (uint64_t)seed * 0x9e3779b97f4a7c15ull + 1;
	if (es == 0 || es >= size || (r >> 60) < 8)
		return LLVMFuzzerMutate ? LLVMFuzzerMutate(data, size, max_size) : size;
	size_t at = es + (size_t)((r >> 8) % (size - es));
	switch ((r >> 40) % 4) {
	case 0: data[at] ^= (uint8_t)(1u << ((r >> 20) % 8)); break;
	case 1: data[at] = (uint8_t)(r >> 24); break;
	case 2:
		if (at + 2 <= max_size) {  /* cut, closed by an end of image */
			data[at] = 0xff;
			data[at + 1] = 0xd9;
			return at + 2;
		}
		break;
	default:
		for (int k = 0; k < 4; k++)
			data[es + (size_t)((r >> (8 * k)) % (size - es))] ^= (uint8_t)(1u << k);
		break;
	}
	return size;
}

/* How much of the run was a real comparison, printed at exit. */
static unsigned long n_runs, n_jpeg, n_walked;

static void report(void)
{
	fprintf(stderr, "fuzz_jpeg_walk: %lu inputs, %lu probed as jpeg, walk accepted %lu (libjpeg-turbo agreed on all)\n",
	        n_runs, n_jpeg, n_walked);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One context for the whole run, as a crawler worker keeps one: this
	 * also fuzzes reusing its tables and buffers across files. */
	static img_ctx *c, *cp;  /* c uses pdep where there is one, cp never */
	if (!c) {
		c = img_ctx_new();
		cp = img_ctx_new();
		if (!c || !cp || img_jpeg_walk_use_pdep(cp, 0))
			abort();
		img_jpeg_walk_use_pdep(c, 1);  /* stays as the CPU suits without pdep */
		atexit(report);
	}
	n_runs++;
	img_info info;
	img_jpeg_walk_out o;
	char err[256];
	if (img_probe(data, size, &info, err, sizeof err) || info.format != IMG_FORMAT_JPEG) {
		img_jpeg_walk(c, data, size, &o);
		return 0;
	}
	/* Small pictures keep each run fast (img_validate's pixel limit plays
	 * this part in production, before either path runs). */
	if ((uint64_t)info.width * info.height > 4000000u)
		return 0;
	n_jpeg++;
	img_jpeg_walk_out op;
	int rw = img_jpeg_walk(c, data, size, &o), rp = img_jpeg_walk(cp, data, size, &op);
	if (rw != rp || (rw == 0 && op.dhash != o.dhash)) {
		fprintf(stderr, "jpeg_walk: with pdep %d %016llx, portable %d %016llx\n", rw,
		        (unsigned long long)o.dhash, rp, (unsigned long long)op.dhash);
		abort();
	}
	if (rw != 0)
		return 0;
	n_walked++;
	uint64_t h = 0;
	int rc = img_jpeg_validate_lib(c, data, size, &info, &h, err, sizeof err);
	if (rc != 0 || h != o.dhash || o.width != info.width || o.height != info.height) {
		fprintf(stderr, "jpeg_walk accepted %ux%u dhash %016llx; libjpeg-turbo: rc %d (%s) %ux%u dhash %016llx\n",
		        o.width, o.height, (unsigned long long)o.dhash, rc, rc ? err : "ok", info.width,
		        info.height, (unsigned long long)h);
		abort();
	}
	return 0;
}
