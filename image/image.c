/* image.c — the module's entry points: context lifetime, limit checks that
 * run before any decoding, dispatch to the JPEG/PNG decoders, and the dHash
 * perceptual fingerprint. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "image/img_internal.h"

const char *img_format_name(img_format f)
{
	switch (f) {
	case IMG_FORMAT_JPEG: return "jpeg";
	case IMG_FORMAT_PNG: return "png";
	case IMG_FORMAT_UNKNOWN: break;
	}
	return "unknown";
}

int img_hamming(uint64_t a, uint64_t b)
{
	return __builtin_popcountll(a ^ b);
}

img_ctx *img_ctx_new(void)
{
	return calloc(1, sizeof(img_ctx));
}

void img_ctx_free(img_ctx *c)
{
	if (!c)
		return;
	free(c->row.p);
	free(c->raw.p);
	free(c->rgb.p);
	free(c->rsz.p);
	free(c->tmp.p);
	free(c->coef.p);
	free(c->acc.p);
	free(c->jw.p);
	free(c->jwbuf.p);
	free(c);
}

int img_scratch_grow(img_scratch *s, size_t n)
{
	if (n <= s->cap)
		return 0;
	/* Free first: the old contents are never needed, and realloc would copy
	 * them and briefly hold both blocks. */
	free(s->p);
	s->cap = 0;
	s->p = malloc(n);
	if (!s->p)
		return NATADV_ENOMEM;
	s->cap = n;
	return 0;
}

/* Probes and applies the limits; nothing has been allocated when this fails,
 * which is what makes a 100000x100000 header harmless. */
static int check(const void *data, size_t len, const img_limits *lim, img_info *info,
                 char *err, size_t errlen)
{
	static const img_limits defaults = {IMG_DEFAULT_MIN_SIDE, IMG_DEFAULT_MAX_PIXELS};
	int rc = img_probe(data, len, info, err, errlen);
	if (rc)
		return rc;
	if (!lim)
		lim = &defaults;
	if (info->width < lim->min_side || info->height < lim->min_side) {
		natadv_errf(err, errlen, "image too small: %ux%u (minimum side %u)", info->width,
		         info->height, lim->min_side);
		return NATADV_EFORMAT;
	}
	uint64_t px = (uint64_t)info->width * info->height;
	if (px > lim->max_pixels) {
		natadv_errf(err, errlen, "image too large: %ux%u is %.1f megapixels (maximum %.1f)",
		         info->width, info->height, (double)px / 1e6, (double)lim->max_pixels / 1e6);
		return NATADV_ETOOBIG;
	}
	return 0;
}

int img_validate(img_ctx *c, const void *data, size_t len, const img_limits *lim,
                 img_info *info, uint64_t *dhash, char *err, size_t errlen)
{
	img_info tmp;
	uint64_t h = 0;
	if (!info)
		info = &tmp;
	if (!c) {
		natadv_errf(err, errlen, "no image context");
		return NATADV_EINVAL;
	}
	int rc = check(data, len, lim, info, err, errlen);
	if (rc)
		return rc;
	if (info->format == IMG_FORMAT_JPEG)
		rc = img_jpeg_validate(c, data, len, info, &h, err, errlen);
	else
		rc = img_png_validate(c, data, len, info, &h, err, errlen);
	if (!rc && dhash)
		*dhash = h;
	return rc;
}

static int decode(img_ctx *c, const void *data, size_t len, const img_limits *lim,
                  uint32_t min_shorter, img_rgb *out, char *err, size_t errlen)
{
	img_info info;
	out->px = NULL;
	out->width = out->height = 0;
	if (!c) {
		natadv_errf(err, errlen, "no image context");
		return NATADV_EINVAL;
	}
	int rc = check(data, len, lim, &info, err, errlen);
	if (rc)
		return rc;
	if (info.format == IMG_FORMAT_JPEG)
		return img_jpeg_decode_rgb(c, data, len, min_shorter, out, err, errlen);
	return img_png_decode_rgb(c, data, len, out, err, errlen);
}

int img_decode_rgb(img_ctx *c, const void *data, size_t len, const img_limits *lim,
                   img_rgb *out, char *err, size_t errlen)
{
	return decode(c, data, len, lim, 0, out, err, errlen);
}

int img_decode_rgb_scaled(img_ctx *c, const void *data, size_t len, const img_limits *lim,
                          uint32_t min_shorter, img_rgb *out, char *err, size_t errlen)
{
	return decode(c, data, len, lim, min_shorter ? min_shorter : 1, out, err, errlen);
}

/* Bin edges are ceil(b * n / k): every bin is non-empty when n >= k, and
 * sum/cnt per bin is an exact area average with no resampling filter. */
void img_dhash_init(img_dhash_acc *a, uint32_t w, uint32_t h)
{
	memset(a, 0, sizeof *a);
	a->w = w;
	a->h = h;
	a->nbx = w >= 9 ? 9 : w;
	a->nby = h >= 8 ? 8 : h;
	for (uint32_t b = 0; b <= a->nbx; b++)
		a->xstart[b] = w >= 9 ? (uint32_t)(((uint64_t)b * w + 8) / 9) : b;
}

static uint32_t ybin(const img_dhash_acc *a, uint32_t y)
{
	return a->h >= 8 ? (uint32_t)((uint64_t)y * 8 / a->h) : y;
}

void img_dhash_add(img_dhash_acc *a, uint32_t y, uint32_t x0, uint32_t dx, uint32_t n,
                   const uint8_t *px, int nch)
{
	if (y >= a->h)
		return;
	uint32_t by = ybin(a, y);
	uint32_t b = 0;
	if (nch == 1 && dx == 1 && x0 < a->w) {
		/* contiguous gray pixels (the JPEG paths): sum each bin's run */
		uint32_t end = n < a->w - x0 ? x0 + n : a->w;
		for (uint32_t x = x0; x < end; b++) {
			uint32_t stop = b + 1 < a->nbx && a->xstart[b + 1] < end ? a->xstart[b + 1] : end;
			if (stop <= x)
				continue;
			uint64_t sum = 0;
			for (uint32_t i = x; i < stop; i++)
				sum += px[i - x0];
			a->sum[by][b] += sum;
			a->cnt[by][b] += stop - x;
			x = stop;
		}
		return;
	}
	for (uint32_t i = 0; i < n; i++, px += nch) {
		uint32_t x = x0 + i * dx;
		if (x >= a->w)
			break;
		while (b + 1 < a->nbx && x >= a->xstart[b + 1])
			b++;
		uint32_t g = nch >= 3 ? img_luma(px[0], px[1], px[2]) : px[0];
		a->sum[by][b] += g;
		a->cnt[by][b]++;
	}
}

uint64_t img_dhash_finish(const img_dhash_acc *a)
{
	double v[8][9];
	for (uint32_t cy = 0; cy < 8; cy++) {
		uint32_t by = a->h >= 8 ? cy : (uint32_t)((uint64_t)cy * a->h / 8);
		for (uint32_t cx = 0; cx < 9; cx++) {
			uint32_t bx = a->w >= 9 ? cx : (uint32_t)((uint64_t)cx * a->w / 9);
			uint64_t n = a->cnt[by][bx];
			v[cy][cx] = n ? (double)a->sum[by][bx] / (double)n : 0.0;
		}
	}
	uint64_t h = 0;
	for (int y = 0; y < 8; y++)
		for (int x = 0; x < 8; x++)
			if (v[y][x] > v[y][x + 1])
				h |= 1ULL << (y * 8 + x);
	return h;
}
