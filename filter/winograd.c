/* winograd.c — 3x3 stride-1 convolutions as Winograd F(2x2, 3x3) (Lavin &
 * Gray 2015): each 2x2 output tile costs 16 multiplies per channel pair
 * instead of 36, done as 16 sgemms [cout, cin] x [cin, tiles]. The
 * transforms below are only additions, so accuracy stays at im2col's level. */
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter/nn.h"

int nn_wino_init(nn_wino *wg, const nn_conv *c)
{
	const size_t plane = (size_t)c->cout * c->cin;

	memset(wg, 0, sizeof *wg);
	if (c->k != 3 || c->stride != 1 || c->pad != 1 || c->groups != 1)
		return -1;
	wg->cin = c->cin, wg->cout = c->cout, wg->b = c->b;
	wg->u = malloc(16 * plane * sizeof *wg->u);
	if (!wg->u)
		return -1;
	/* U = G g G^T with G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1] */
	for (int o = 0; o < c->cout; o++)
	for (int i = 0; i < c->cin; i++) {
		const float *g = c->w + ((size_t)o * c->cin + i) * 9;
		double t[4][3], u[4][4];

		for (int j = 0; j < 3; j++) {
			t[0][j] = g[j];
			t[1][j] = 0.5 * (g[j] + g[3 + j] + g[6 + j]);
			t[2][j] = 0.5 * (g[j] - g[3 + j] + g[6 + j]);
			t[3][j] = g[6 + j];
		}
		for (int r = 0; r < 4; r++) {
			u[r][0] = t[r][0];
			u[r][1] = 0.5 * (t[r][0] + t[r][1] + t[r][2]);
			u[r][2] = 0.5 * (t[r][0] - t[r][1] + t[r][2]);
			u[r][3] = t[r][2];
		}
		for (int xi = 0; xi < 16; xi++)
			wg->u[xi * plane + (size_t)o * c->cin + i] =
				(float)u[xi / 4][xi % 4];
	}
	return 0;
}

void nn_wino_release(nn_wino *wg)
{
	if (!wg)
		return;
	free(wg->u);
	wg->u = NULL;
}

/* The 16 planes of a transformed tensor are rows x tc floats each; with
 * rows * tc a multiple of 1024 they would sit a multiple of 4 KB apart and
 * the 16 streams of a transform would fight over the same cache sets, so
 * each plane is padded by one cache line. */
#define PLANE_PAD 16

static size_t plane_stride(int rows, size_t tc)
{
	return (size_t)rows * tc + PLANE_PAD;
}

static size_t tiles_per_image(int h, int w)
{
	return (size_t)((h + 1) / 2) * ((w + 1) / 2);
}

static size_t per_image(const nn_wino *wg, int h, int w)
{
	return 16 * (size_t)(wg->cin + wg->cout) * tiles_per_image(h, w);
}

size_t nn_wino_scratch_floats(const nn_wino *wg, int n, int h, int w,
                              size_t budget)
{
	size_t per = per_image(wg, h, w), chunk = budget / per;

	if (chunk < 1)
		chunk = 1;
	if (chunk > (size_t)n)
		chunk = (size_t)n;
	return per * chunk + 32 * PLANE_PAD;
}

/* One chunk of images through a transform: src/dst, shapes, flags. */
struct wino_job {
	const nn_wino *wg;
	const float *in;
	float *out;
	int n, h, w, n0, nc, relu, accumulate;
};

/* v [16, cin, tc] = B^T d B for every 4x4 input patch d of channel c of
 * images n0 .. n0+nc-1, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. */
static void input_transform(void *arg, int c)
{
	const struct wino_job *j = arg;
	const int h = j->h, w = j->w, th = (h + 1) / 2, tw = (w + 1) / 2;
	const size_t tc = (size_t)j->nc * th * tw;
	const size_t xs = plane_stride(j->wg->cin, tc);

	for (int i = 0; i < j->nc; i++) {
		const float *x = j->in + ((size_t)c * j->n + j->n0 + i) * h * w;
		float *out = j->out + (size_t)c * tc + (size_t)i * th * tw;

		for (int ty = 0; ty < th; ty++)
		for (int tx = 0; tx < tw; tx++) {
			float d[4][4], t[4][4];
			const int y0 = 2 * ty - 1, x0 = 2 * tx - 1;
			size_t at = (size_t)ty * tw + tx;

			if (y0 >= 0 && x0 >= 0 && y0 + 3 < h && x0 + 3 < w) {
				for (int r = 0; r < 4; r++)
					memcpy(d[r], x + (size_t)(y0 + r) * w + x0,
					       sizeof d[r]);
			} else {
				for (int r = 0; r < 4; r++)
				for (int q = 0; q < 4; q++) {
					int yy = y0 + r, xx = x0 + q;

					d[r][q] = yy >= 0 && yy < h && xx >= 0 &&
					          xx < w ? x[(size_t)yy * w + xx] : 0;
				}
			}
			for (int q = 0; q < 4; q++) {
				t[0][q] = d[0][q] - d[2][q];
				t[1][q] = d[1][q] + d[2][q];
				t[2][q] = d[2][q] - d[1][q];
				t[3][q] = d[1][q] - d[3][q];
			}
			for (int r = 0; r < 4; r++) {
				float *o = out + (size_t)r * 4 * xs + at;

				o[0] = t[r][0] - t[r][2];
				o[xs] = t[r][1] + t[r][2];
				o[2 * xs] = t[r][2] - t[r][1];
				o[3 * xs] = t[r][1] - t[r][3];
			}
		}
	}
}

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

/* Output channel o's tiles = A^T m A (+ bias, + old dst, ReLU) from
 * m [16, cout, tc], A^T = [1 1 1 0; 0 1 -1 -1]; clipped at odd edges. */
static void output_transform(void *arg, int o)
{
	const struct wino_job *j = arg;
	const int h = j->h, w = j->w, th = (h + 1) / 2, tw = (w + 1) / 2;
	const int relu = j->relu, accumulate = j->accumulate;
	const size_t tc = (size_t)j->nc * th * tw;
	const size_t xs = plane_stride(j->wg->cout, tc);
	const v4f zero = {0, 0, 0, 0};
	const float bo = j->wg->b[o];
	const v4f bias = {bo, bo, bo, bo};

	for (int i = 0; i < j->nc; i++) {
		const float *in = j->in + (size_t)o * tc + (size_t)i * th * tw;
		float *y = j->out + ((size_t)o * j->n + j->n0 + i) * h * w;

		for (int ty = 0; ty < th; ty++)
		for (int tx = 0; tx < tw; tx++) {
			const float *p = in + (size_t)ty * tw + tx;
			float s[2][4], *y0;
			v4f r;

			for (int q = 0; q < 4; q++) {
				float a = p[q * xs], b = p[(4 + q) * xs];
				float c = p[(8 + q) * xs], d = p[(12 + q) * xs];

				s[0][q] = a + b + c;
				s[1][q] = b - c - d;
			}
			r = (v4f){s[0][0] + s[0][1] + s[0][2],
			          s[0][1] - s[0][2] - s[0][3],
			          s[1][0] + s[1][1] + s[1][2],
			          s[1][1] - s[1][2] - s[1][3]} + bias;
			y0 = y + (size_t)2 * ty * w + 2 * tx;
			if (2 * ty + 1 < h && 2 * tx + 1 < w) {
				if (accumulate)
					r += (v4f){y0[0], y0[1], y0[w], y0[w + 1]};
				if (relu) /* compare-and-mask: no branch */
					r = (v4f)((v4i)r & (v4i)(r > zero));
				y0[0] = r[0], y0[1] = r[1];
				y0[w] = r[2], y0[w + 1] = r[3];
				continue;
			}
			for (int k = 0; k < 2; k++)
			for (int q = 0; q < 2; q++) {
				float v = r[2 * k + q];

				if (2 * ty + k >= h || 2 * tx + q >= w)
					continue;
				if (accumulate)
					v += y0[(size_t)k * w + q];
				if (relu && !(v > 0.0f))
					v = 0.0f;
				y0[(size_t)k * w + q] = v;
			}
		}
	}
}

void nn_wino_forward(const nn_wino *wg, const float *src, int n, int h, int w,
                     float *dst, float *scratch, size_t scratch_floats,
                     int relu, int accumulate, nn_pool *pool)
{
	const size_t per = per_image(wg, h, w), tpi = tiles_per_image(h, w);
	int chunk = (int)((scratch_floats - 32 * PLANE_PAD) / per);

	if (chunk < 1)
		chunk = 1;
	for (int n0 = 0; n0 < n; n0 += chunk) {
		const int nc = n - n0 < chunk ? n - n0 : chunk;
		const size_t tc = (size_t)nc * tpi;
		const size_t vs = plane_stride(wg->cin, tc);
		const size_t ms = plane_stride(wg->cout, tc);
		float *v = scratch;           /* [16, cin, tc], planes vs apart */
		float *m = scratch + 16 * vs; /* [16, cout, tc], planes ms apart */

		struct wino_job in = {wg, src, v, n, h, w, n0, nc, 0, 0};
		struct wino_job out = {wg, m, dst, n, h, w, n0, nc, relu,
		                       accumulate};

		nn_pool *tp = nn_pool_worth(pool, 16 * (vs + ms));

		nn_pool_for(tp, wg->cin, input_transform, &in);
		for (int xi = 0; xi < 16; xi++)
			/* [cout, tc] = [cout, cin] x [cin, tc] */
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
			            wg->cout, (int)tc, wg->cin, 1.0f,
			            wg->u + (size_t)xi * wg->cout * wg->cin, wg->cin,
			            v + xi * vs, (int)tc, 0.0f, m + xi * ms, (int)tc);
		nn_pool_for(tp, wg->cout, output_transform, &out);
	}
}
