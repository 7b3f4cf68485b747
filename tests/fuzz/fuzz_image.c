/* fuzz_image.c — libFuzzer target for image/: every body a crawler may
 * receive goes through the probe, validation and full decode, which must
 * fail cleanly (no crash, leak or oversized allocation) on any input. */
#include <stddef.h>
#include <stdint.h>

#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Small limits keep each run fast; they bound allocations the same way
	 * the defaults do in production. One context for the whole run, as a
	 * crawler worker keeps one: this also fuzzes buffer reuse. */
	static img_ctx *c;
	img_limits lim = {1, 1000000};
	img_info info;
	uint64_t h;
	img_rgb rgb, small;
	char err[256];
	if (!c)
		c = img_ctx_new();
	if (!c)
		return 0;
	img_probe(data, size, &info, err, sizeof err);
	if (img_validate(c, data, size, &lim, &info, &h, err, sizeof err) == 0)
		(void)img_hamming(h, 0);
	if (img_decode_rgb(c, data, size, &lim, &rgb, err, sizeof err) == 0 &&
	    img_resize_shorter(c, &rgb, 32, &small) == 0) {
		float chw[3 * 24 * 24];
		const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
		img_center_crop_normalize(&small, 24, mean, sd, chw);
	}
	img_decode_rgb_scaled(c, data, size, &lim, 16, &rgb, err, sizeof err);
	return 0;
}
