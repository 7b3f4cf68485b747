/* resize.c — torchvision's eval preprocessing on a PIL image, reimplemented
 * to give the same bytes: Resize(n) is PIL's ImagingResample with the
 * bilinear (triangle) filter, CenterCrop uses Python's round(), and
 * ToTensor + Normalize are done in float32 in PyTorch's order. */
#include <math.h>
#include <string.h>

#include "common/err.h"
#include "image/img_internal.h"

/* PIL: 8 bits for the result, 2 for overshoot of filters with negative
 * lobes; the rest is fraction. */
#define PRECISION_BITS (32 - 8 - 2)

static double triangle(double x)
{
	if (x < 0.0)
		x = -x;
	return x < 1.0 ? 1.0 - x : 0.0;
}

/* One axis of PIL's precompute_coeffs + normalize_coeffs_8bpc: for each
 * output position, the first input index, the number of taps, and ksize
 * fixed-point weights. The arithmetic (double, float box edges, rounding by
 * +0.5 and truncation) follows PIL step by step, because a different but
 * "equivalent" formula changes the last bit of some pixels. */
static int axis_ksize(uint32_t in_size, uint32_t out_size)
{
	double scale = (double)(float)in_size / out_size;
	double filterscale = scale < 1.0 ? 1.0 : scale;
	return (int)ceil(1.0 * filterscale) * 2 + 1;
}

static void axis_coeffs(uint32_t in_size, uint32_t out_size, int ksize, int32_t *bounds,
                        int32_t *kk, double *tmp)
{
	float in0 = 0.0f, in1 = (float)in_size;
	double scale = (double)(in1 - in0) / out_size;
	double filterscale = scale < 1.0 ? 1.0 : scale;
	double support = 1.0 * filterscale;
	double ss = 1.0 / filterscale;
	for (uint32_t xx = 0; xx < out_size; xx++) {
		double center = in0 + (xx + 0.5) * scale;
		double ww = 0.0;
		int xmin = (int)(center - support + 0.5);
		if (xmin < 0)
			xmin = 0;
		int xmax = (int)(center + support + 0.5);
		if (xmax > (int)in_size)
			xmax = (int)in_size;
		xmax -= xmin;
		for (int x = 0; x < xmax; x++) {
			double w = triangle((x + xmin - center + 0.5) * ss);
			tmp[x] = w;
			ww += w;
		}
		int32_t *k = kk + (size_t)xx * (size_t)ksize;
		for (int x = 0; x < ksize; x++) {
			double v = x < xmax ? (ww != 0.0 ? tmp[x] / ww : tmp[x]) : 0.0;
			k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS))
			             : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
		}
		bounds[2 * xx] = xmin;
		bounds[2 * xx + 1] = xmax;
	}
}

static uint8_t clip8(int32_t v)
{
	v >>= PRECISION_BITS;
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Rows [y0, y0 + rows) of in, resampled horizontally into out (w_out wide). */
static void pass_horizontal(const uint8_t *in, uint32_t w_in, uint32_t y0, uint32_t rows,
                            uint8_t *out, uint32_t w_out, int ksize, const int32_t *bounds,
                            const int32_t *kk)
{
	for (uint32_t y = 0; y < rows; y++) {
		const uint8_t *src = in + (size_t)(y0 + y) * w_in * 3;
		uint8_t *dst = out + (size_t)y * w_out * 3;
		for (uint32_t xx = 0; xx < w_out; xx++) {
			int32_t xmin = bounds[2 * xx], n = bounds[2 * xx + 1];
			const int32_t *k = kk + (size_t)xx * (size_t)ksize;
			const uint8_t *s = src + (size_t)xmin * 3;
			int32_t r = 1 << (PRECISION_BITS - 1), g = r, b = r;
			for (int32_t x = 0; x < n; x++, s += 3) {
				r += s[0] * k[x];
				g += s[1] * k[x];
				b += s[2] * k[x];
			}
			dst[3 * xx] = clip8(r);
			dst[3 * xx + 1] = clip8(g);
			dst[3 * xx + 2] = clip8(b);
		}
	}
}

/* Sums whole rows at a time instead of PIL's column walk: the sums are
 * integers, so the order of additions cannot change the result, and
 * sequential rows are far kinder to the cache than a column stride. */
static void pass_vertical(const uint8_t *in, uint32_t w, uint8_t *out, uint32_t h_out,
                          int ksize, const int32_t *bounds, const int32_t *kk, int32_t *acc)
{
	size_t stride = (size_t)w * 3;
	for (uint32_t yy = 0; yy < h_out; yy++) {
		int32_t ymin = bounds[2 * yy], n = bounds[2 * yy + 1];
		const int32_t *k = kk + (size_t)yy * (size_t)ksize;
		uint8_t *dst = out + stride * yy;
		for (size_t i = 0; i < stride; i++)
			acc[i] = 1 << (PRECISION_BITS - 1);
		for (int32_t y = 0; y < n; y++) {
			const uint8_t *s = in + (size_t)(ymin + y) * stride;
			int32_t ky = k[y];
			for (size_t i = 0; i < stride; i++)
				acc[i] += s[i] * ky;
		}
		for (size_t i = 0; i < stride; i++)
			dst[i] = clip8(acc[i]);
	}
}

int img_resize_shorter(img_ctx *c, const img_rgb *in, uint32_t shorter, img_rgb *out)
{
	out->px = NULL;
	out->width = out->height = 0;
	if (!c || !in || !in->px || in->width == 0 || in->height == 0 || shorter == 0)
		return NATADV_EINVAL;
	if (in->px == c->rsz.p || in->px == c->tmp.p)
		return NATADV_EINVAL;  /* would be overwritten or freed while read */
	uint32_t w = in->width, h = in->height;
	/* torchvision _compute_resized_output_size: int(size * long / short),
	 * a true division of two exact integers, then truncation. */
	uint32_t sh = w <= h ? w : h, lo = w <= h ? h : w;
	double q = (double)((uint64_t)shorter * lo) / (double)sh;
	if (q > 4e9)
		return NATADV_EINVAL;
	uint32_t nlong = (uint32_t)q;
	uint32_t ow = w <= h ? shorter : nlong, oh = w <= h ? nlong : shorter;
	if (ow == 0 || oh == 0)
		return NATADV_EINVAL;
	size_t out_bytes = (size_t)ow * oh * 3;
	if (img_scratch_grow(&c->rsz, out_bytes))
		return NATADV_ENOMEM;
	out->px = c->rsz.p;
	out->width = ow;
	out->height = oh;
	if (ow == w && oh == h) {
		memcpy(c->rsz.p, in->px, out_bytes);
		return 0;
	}
	int need_h = ow != w, need_v = oh != h;
	int kh = axis_ksize(w, ow), kv = axis_ksize(h, oh);
	int kmax = kh > kv ? kh : kv;
	size_t nint = (size_t)2 * ow + (size_t)ow * kh + (size_t)2 * oh + (size_t)oh * kv;
	if (img_scratch_grow(&c->coef, nint * sizeof(int32_t) + (size_t)kmax * sizeof(double))) {
		out->px = NULL;
		return NATADV_ENOMEM;
	}
	double *tmpd = (double *)(void *)c->coef.p;
	int32_t *bh = (int32_t *)(void *)(c->coef.p + (size_t)kmax * sizeof(double));
	int32_t *kkh = bh + 2 * (size_t)ow;
	int32_t *bv = kkh + (size_t)ow * kh;
	int32_t *kkv = bv + 2 * (size_t)oh;
	axis_coeffs(h, oh, kv, bv, kkv, tmpd);
	/* Like PIL, the horizontal pass only covers the rows the vertical
	 * pass reads. */
	uint32_t yfirst = (uint32_t)bv[0];
	uint32_t ylast = (uint32_t)(bv[2 * (oh - 1)] + bv[2 * (oh - 1) + 1]);
	const uint8_t *src = in->px;
	uint32_t src_w = w;
	if (need_h) {
		axis_coeffs(w, ow, kh, bh, kkh, tmpd);
		uint32_t rows = need_v ? ylast - yfirst : h;
		uint32_t y0 = need_v ? yfirst : 0;
		uint8_t *dst = need_v ? NULL : c->rsz.p;
		if (need_v) {
			if (img_scratch_grow(&c->tmp, (size_t)ow * rows * 3)) {
				out->px = NULL;
				return NATADV_ENOMEM;
			}
			dst = c->tmp.p;
			for (uint32_t i = 0; i < oh; i++)
				bv[2 * i] -= (int32_t)yfirst;
		}
		pass_horizontal(in->px, w, y0, rows, dst, ow, kh, bh, kkh);
		src = c->tmp.p;
		src_w = ow;
	}
	if (need_v) {
		if (img_scratch_grow(&c->acc, (size_t)src_w * 3 * sizeof(int32_t))) {
			out->px = NULL;
			return NATADV_ENOMEM;
		}
		pass_vertical(src, src_w, c->rsz.p, oh, kv, bv, kkv, (int32_t *)(void *)c->acc.p);
	}
	return 0;
}

/* torchvision center_crop: pads with zeros when the image is smaller
 * (left/top get the floor half), otherwise offsets by Python's round(),
 * which rounds halves to even. */
static int32_t crop_offset(uint32_t size, uint32_t crop)
{
	if (crop > size)
		return -(int32_t)((crop - size) / 2);
	uint32_t d = size - crop, k = d / 2;
	if (d % 2 == 0)
		return (int32_t)k;
	return (int32_t)(k % 2 == 0 ? k : k + 1);
}

void img_center_crop_rgb(const img_rgb *in, uint32_t crop, uint8_t *rgb_out)
{
	int32_t ox = crop_offset(in->width, crop), oy = crop_offset(in->height, crop);
	for (uint32_t y = 0; y < crop; y++) {
		int64_t sy = (int64_t)y + oy;
		for (uint32_t x = 0; x < crop; x++) {
			int64_t sx = (int64_t)x + ox;
			uint8_t *d = rgb_out + ((size_t)y * crop + x) * 3;
			if (sy < 0 || sy >= in->height || sx < 0 || sx >= in->width) {
				d[0] = d[1] = d[2] = 0;
				continue;
			}
			const uint8_t *s = in->px + ((size_t)sy * in->width + (size_t)sx) * 3;
			d[0] = s[0];
			d[1] = s[1];
			d[2] = s[2];
		}
	}
}

void img_center_crop_normalize(const img_rgb *in, uint32_t crop, const float mean[3],
                               const float std[3], float *chw_out)
{
	int32_t ox = crop_offset(in->width, crop), oy = crop_offset(in->height, crop);
	size_t plane = (size_t)crop * crop;
	/* float32 throughout, as ToTensor's div(255) then Normalize's
	 * sub_(mean).div_(std): each of the 256 values once, then looked up */
	float lut[3][256];
	for (int ch = 0; ch < 3; ch++)
		for (int p = 0; p < 256; p++)
			lut[ch][p] = ((float)p / 255.0f - mean[ch]) / std[ch];
	for (int ch = 0; ch < 3; ch++) {
		float *d = chw_out + plane * (size_t)ch;
		const float *l = lut[ch];
		for (uint32_t y = 0; y < crop; y++) {
			int64_t sy = (int64_t)y + oy;
			float *row = d + (size_t)y * crop;
			if (sy < 0 || sy >= in->height) {
				for (uint32_t x = 0; x < crop; x++)
					row[x] = l[0]; /* padding is a zero pixel */
				continue;
			}
			const uint8_t *src = in->px + (size_t)sy * in->width * 3 + (size_t)ch;
			for (uint32_t x = 0; x < crop; x++) {
				int64_t sx = (int64_t)x + ox;
				row[x] = l[sx >= 0 && sx < in->width ? src[(size_t)sx * 3] : 0];
			}
		}
	}
}
