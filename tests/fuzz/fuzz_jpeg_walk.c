/* fuzz_jpeg_walk.c — libFuzzer differential target for image/jpeg_walk.c:
 * on any input the walk either hands over to libjpeg-turbo or accepts, and
 * when it accepts, libjpeg-turbo's 1/8-scale pass (img_jpeg_validate_lib)
 * must accept too with the same dHash and dimensions. A disagreement aborts.
 * The walk also runs on bodies img_probe refuses, which must not crash it. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "image/jpeg_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One context for the whole run, as a crawler worker keeps one: this
	 * also fuzzes reusing its tables and buffers across files. */
	static img_ctx *c;
	if (!c)
		c = img_ctx_new();
	if (!c)
		return 0;
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
	if (img_jpeg_walk(c, data, size, &o) != 0)
		return 0;
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
