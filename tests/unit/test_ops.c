/* test_ops.c — each layer of the forward pass (filter/nn.h) against a
 * naive double-precision reference on [N, C, H, W] tensors.
 * Tolerances: conv (im2col and Winograd) and fc |got - ref| <= 1e-5 * sum |w * x| + 1e-6 (the
 * float32 dot-product error bound at these depths); BN folding 1e-5 relative
 * to the same sum; pooling exact (max) or 1e-6 relative (average). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/nn.h"
#include "tests/t.h"

static uint32_t rng = 12345;
static nn_pool *tpool; /* NULL (serial) or 3 threads: every test runs both */
static nn_isa tisa;    /* GEMM kernels under test: each the CPU has */

static float frand(void) /* uniform in [-1, 1) */
{
	rng = rng * 1664525u + 1013904223u;
	return (float)(rng >> 8) * 0x1p-23f - 1.0f;
}

static float *rand_array(size_t n)
{
	float *a = malloc((n ? n : 1) * sizeof *a);

	for (size_t i = 0; i < n; i++)
		a[i] = frand();
	return a;
}

/* Naive conv on NCHW: ref and the magnitude sum for the tolerance. */
static void ref_conv(const nn_conv *c, const float *x, int n, int h, int w,
                     double *ref, double *mag)
{
	int ho = nn_out_size(h, c->k, c->stride, c->pad);
	int wo = nn_out_size(w, c->k, c->stride, c->pad);
	int cig = c->cin / c->groups, cog = c->cout / c->groups;

	for (int i = 0; i < n; i++)
	for (int o = 0; o < c->cout; o++)
	for (int oy = 0; oy < ho; oy++)
	for (int ox = 0; ox < wo; ox++) {
		int g = o / cog;
		double s = c->b[o], m = fabs(c->b[o]);

		for (int ci = 0; ci < cig; ci++)
		for (int ky = 0; ky < c->k; ky++)
		for (int kx = 0; kx < c->k; kx++) {
			int iy = oy * c->stride - c->pad + ky;
			int ix = ox * c->stride - c->pad + kx;
			double v, wt;

			if (iy < 0 || iy >= h || ix < 0 || ix >= w)
				continue;
			v = x[(((size_t)i * c->cin + g * cig + ci) * h + iy) * w + ix];
			wt = c->w[(((size_t)o * cig + ci) * c->k + ky) * c->k + kx];
			s += v * wt;
			m += fabs(v * wt);
		}
		size_t at = (((size_t)i * c->cout + o) * ho + oy) * wo + ox;
		ref[at] = s;
		mag[at] = m;
	}
}

/* Runs one conv case through nn_conv_forward and compares; returns the max
 * abs difference seen. */
/* wino: 0 for nn_conv_forward, else Winograd's tile side m */
static double check_conv_as(int wino, int cin, int cout, int k, int stride,
                            int pad, int groups, int n, int h, int w,
                            int relu, int accumulate, size_t budget)
{
	nn_conv c = {.cin = cin, .cout = cout, .k = k, .stride = stride,
	             .pad = pad, .groups = groups};
	int ho = nn_out_size(h, k, stride, pad), wo = nn_out_size(w, k, stride, pad);
	size_t nx = (size_t)n * cin * h * w, ny = (size_t)n * cout * ho * wo;
	size_t ncol;
	float *x = rand_array(nx), *xt = malloc(nx * sizeof *xt);
	float *y = rand_array(ny), *y0 = malloc(ny * sizeof *y0);
	float *col = NULL;
	double *ref = malloc(ny * sizeof *ref), *mag = malloc(ny * sizeof *mag);
	double maxdiff = 0;
	int bad = 0;

	nn_wino wg = {0};

	c.w = rand_array((size_t)cout * (cin / groups) * k * k);
	c.b = rand_array((size_t)cout);
	if (wino)
		T_EQ_INT(nn_wino_init(&wg, &c, wino, tisa), 0);
	else
		T_EQ_INT(nn_conv_pack(&c, tisa), 0);
	ncol = wino ? nn_wino_scratch_floats(&wg, n, h, w, budget)
	            : nn_conv_col_floats(&c, n, h, w, budget);
	free(col);
	col = rand_array(ncol);
	memcpy(y0, y, ny * sizeof *y);
	nn_nchw_to_cnhw(x, n, cin, h * w, xt);
	ref_conv(&c, x, n, h, w, ref, mag);
	/* y is [cout, n, ho, wo]; with accumulate it starts as the residual */
	if (wino)
		nn_wino_forward(&wg, xt, n, h, w, y, col, ncol, relu, accumulate,
		                tpool);
	else
		nn_conv_forward(&c, xt, n, h, w, y, col, ncol, relu, accumulate,
		                tpool);
	for (int i = 0; i < n; i++)
	for (int o = 0; o < cout; o++)
	for (int p = 0; p < ho * wo; p++) {
		size_t at = ((size_t)i * cout + o) * ho * wo + p;
		size_t ours = ((size_t)o * n + i) * ho * wo + p;
		double want = ref[at], d;

		if (accumulate)
			want += y0[ours];
		if (relu && want < 0)
			want = 0;
		d = fabs(y[ours] - want);
		if (d > maxdiff)
			maxdiff = d;
		if (d > 1e-5 * (mag[at] + (accumulate ? fabs(y0[ours]) : 0)) + 1e-6)
			bad++;
	}
	if (bad)
		fprintf(stderr, "%s cin %d cout %d k %d s %d p %d g %d n %d %dx%d: "
		        "%d values off, max diff %g\n", wino ? "winograd" : "conv",
		        cin, cout, k, stride, pad, groups, n, h, w, bad, maxdiff);
	T_EQ_INT(bad, 0);
	free(x), free(xt), free(y), free(y0), free(col), free(ref), free(mag);
	free(c.w), free(c.b);
	nn_packed_release(&c.pk);
	nn_wino_release(&wg);
	return maxdiff;
}

static double check_conv(int cin, int cout, int k, int stride, int pad,
                         int groups, int n, int h, int w, int relu,
                         int accumulate, size_t budget)
{
	return check_conv_as(0, cin, cout, k, stride, pad, groups, n, h, w,
	                     relu, accumulate, budget);
}

static void test_winograd(void)
{
	const size_t big = (size_t)1 << 22;
	double m = 0, d;
	nn_conv c = {.cin = 4, .cout = 4, .k = 3, .stride = 2, .pad = 1,
	             .groups = 1};
	nn_wino wg;

	/* F(2x2) and F(4x4); even, odd and tiny sizes, sizes that are and are
	 * not multiples of the tile; more tiles than a transform step; residual
	 * add and ReLU; chunks of 1 */
	for (int t = 2; t <= 4; t += 2) {
		d = check_conv_as(t, 12, 20, 3, 1, 1, 1, 2, 8, 8, 1, 0, big); m = fmax(m, d);
		d = check_conv_as(t, 12, 20, 3, 1, 1, 1, 3, 7, 9, 1, 1, big); m = fmax(m, d);
		d = check_conv_as(t, 64, 64, 3, 1, 1, 1, 2, 14, 14, 1, 0, big); m = fmax(m, d);
		d = check_conv_as(t, 32, 48, 3, 1, 1, 1, 2, 28, 28, 1, 1, big); m = fmax(m, d);
		d = check_conv_as(t, 16, 8, 3, 1, 1, 1, 3, 13, 11, 1, 1, big); m = fmax(m, d);
		d = check_conv_as(t, 5, 3, 3, 1, 1, 1, 4, 1, 1, 0, 1, big); m = fmax(m, d);
		d = check_conv_as(t, 5, 3, 3, 1, 1, 1, 4, 2, 3, 0, 0, big); m = fmax(m, d);
		d = check_conv_as(t, 6, 10, 3, 1, 1, 1, 5, 8, 5, 1, 1, 1); m = fmax(m, d);
		d = check_conv_as(t, 6, 10, 3, 1, 1, 1, 5, 9, 6, 0, 1, 1); m = fmax(m, d);
		/* planes too large to stage zero-padded: edge checks per tile */
		d = check_conv_as(t, 3, 4, 3, 1, 1, 1, 2, 70, 67, 1, 1, big); m = fmax(m, d);
	}
	printf("winograd: max |diff| %.3g\n", m);
	/* only 3x3 stride 1 pad 1 ungrouped convs qualify */
	T_EQ_INT(nn_wino_init(&wg, &c, 4, tisa), -1);
	c.stride = 1, c.groups = 2;
	T_EQ_INT(nn_wino_init(&wg, &c, 4, tisa), -1);
	c.groups = 1; /* and only F(2x2) and F(4x4) */
	T_EQ_INT(nn_wino_init(&wg, &c, 3, tisa), -1);
	nn_wino_release(&wg);
}

static void test_out_size(void)
{
	T_EQ_INT(nn_out_size(224, 7, 2, 3), 112);
	T_EQ_INT(nn_out_size(112, 3, 2, 1), 56);
	T_EQ_INT(nn_out_size(57, 3, 2, 1), 29);
	T_EQ_INT(nn_out_size(7, 1, 2, 0), 4);
	T_EQ_INT(nn_out_size(1, 3, 2, 1), 1);
}

static void test_conv(void)
{
	double m = 0, d;
	const size_t big = (size_t)1 << 22;

	/* 1x1 stride 1: the direct sgemm path, with and without groups */
	d = check_conv(16, 24, 1, 1, 0, 1, 3, 5, 7, 0, 0, big); m = fmax(m, d);
	d = check_conv(16, 24, 1, 1, 0, 4, 2, 6, 6, 1, 1, big); m = fmax(m, d);
	/* 1x1 stride 2 (the downsample), odd sizes */
	d = check_conv(8, 32, 1, 2, 0, 1, 3, 7, 9, 0, 0, big); m = fmax(m, d);
	/* 3x3 stride 1 and 2, grouped, with residual add and ReLU */
	d = check_conv(12, 20, 3, 1, 1, 1, 2, 9, 8, 1, 0, big); m = fmax(m, d);
	d = check_conv(12, 20, 3, 2, 1, 1, 3, 9, 8, 1, 1, big); m = fmax(m, d);
	d = check_conv(32, 32, 3, 1, 1, 32, 2, 5, 5, 1, 0, big); m = fmax(m, d);
	d = check_conv(16, 24, 3, 2, 1, 4, 3, 11, 10, 0, 1, big); m = fmax(m, d);
	d = check_conv(64, 64, 3, 1, 1, 1, 1, 14, 14, 1, 0, big); m = fmax(m, d);
	/* big enough for the pool to split im2col and the epilogue */
	d = check_conv(32, 64, 3, 1, 1, 1, 2, 32, 32, 1, 1, big); m = fmax(m, d);
	d = check_conv(64, 128, 1, 1, 0, 1, 2, 32, 32, 1, 0, big); m = fmax(m, d);
	/* 7x7 stride 2 pad 3 (the stem), odd and tiny inputs */
	d = check_conv(3, 16, 7, 2, 3, 1, 2, 23, 17, 1, 0, big); m = fmax(m, d);
	d = check_conv(3, 8, 7, 2, 3, 1, 2, 2, 3, 1, 0, big); m = fmax(m, d);
	/* stride 2 over rows wide enough for the vector copy (16 at a time)
	 * and the scalar rest */
	d = check_conv(4, 8, 3, 2, 1, 1, 2, 70, 67, 1, 0, big); m = fmax(m, d);
	d = check_conv(4, 8, 1, 2, 0, 1, 2, 66, 71, 0, 1, big); m = fmax(m, d);
	d = check_conv(3, 8, 7, 2, 3, 1, 1, 80, 75, 1, 0, big); m = fmax(m, d);
	/* more output channels than columns: split by channels */
	d = check_conv(16, 96, 1, 1, 0, 1, 2, 4, 5, 1, 1, big); m = fmax(m, d);
	d = check_conv(24, 80, 3, 2, 1, 1, 3, 5, 5, 1, 0, big); m = fmax(m, d);
	/* im2col in chunks of one image (tiny budget) and of two */
	d = check_conv(6, 10, 3, 1, 1, 2, 5, 8, 8, 1, 1, 1); m = fmax(m, d);
	d = check_conv(6, 10, 3, 2, 1, 1, 5, 8, 8, 1, 0, 6 * 9 * 16 * 2);
	m = fmax(m, d);
	printf("conv: max |diff| %.3g\n", m);
}

static void test_fold_bn(void)
{
	const int cin = 5, cout = 7, k = 3, n = 2, h = 6, w = 5;
	nn_conv c = {.cin = cin, .cout = cout, .k = k, .stride = 1, .pad = 1,
	             .groups = 1};
	size_t nx = (size_t)n * cin * h * w, ny = (size_t)n * cout * h * w;
	float *x = rand_array(nx), *xt = malloc(nx * sizeof *xt);
	float *y = malloc(ny * sizeof *y);
	float gamma[7], beta[7], mean[7], var[7];
	size_t ncol = nn_conv_col_floats(&c, n, h, w, 1 << 20);
	float *col = malloc(ncol * sizeof *col);
	double *ref = malloc(ny * sizeof *ref), *mag = malloc(ny * sizeof *mag);
	double maxdiff = 0;

	c.w = rand_array((size_t)cout * cin * k * k);
	c.b = calloc(cout, sizeof *c.b);
	for (int o = 0; o < cout; o++) {
		gamma[o] = 1.0f + 0.5f * frand();
		beta[o] = frand();
		mean[o] = 0.3f * frand();
		var[o] = 0.5f + frand() * 0.4f;
	}
	ref_conv(&c, x, n, h, w, ref, mag); /* conv without bias, then BN */
	T_EQ_INT(nn_fold_bn(c.w, c.b, cout, (size_t)cin * k * k, gamma, beta,
	                    mean, var, 1e-5), -1);
	nn_nchw_to_cnhw(x, n, cin, h * w, xt);
	T_EQ_INT(nn_conv_pack(&c, tisa), 0);
	nn_conv_forward(&c, xt, n, h, w, y, col, ncol, 0, 0, tpool);
	for (int i = 0; i < n; i++)
	for (int o = 0; o < cout; o++)
	for (int p = 0; p < h * w; p++) {
		size_t at = ((size_t)i * cout + o) * h * w + p;
		double s = gamma[o] / sqrt((double)var[o] + 1e-5);
		double want = (ref[at] - mean[o]) * s + beta[o];
		double d = fabs(y[((size_t)o * n + i) * h * w + p] - want);

		maxdiff = fmax(maxdiff, d);
		T_CHECK(d <= 1e-5 * (mag[at] + fabs(mean[o])) * s + 1e-6);
	}
	printf("bn fold: max |diff| %.3g\n", maxdiff);
	var[3] = -1;
	T_EQ_INT(nn_fold_bn(c.w, c.b, cout, (size_t)cin * k * k, gamma, beta,
	                    mean, var, 1e-5), 3);
	free(x), free(xt), free(y), free(col), free(ref), free(mag);
	free(c.w), free(c.b);
	nn_packed_release(&c.pk);
}

/* nn_gemm alone, x row-major (with spare columns past cols) or packed:
 * groups, rows not a multiple of the tile, several passes over k. */
static void check_gemm(int groups, int m, int k, size_t cols, int packed,
                       int bias, int relu, int accumulate)
{
	const size_t ldx = cols + 5, ldy = cols + 3;
	const size_t xgs = packed ? nn_gemm_packed_floats(k, cols) + 16
	                          : (size_t)k * ldx;
	const size_t ygs = (size_t)m * ldy + 7;
	float *w = rand_array((size_t)groups * m * k);
	float *b = rand_array((size_t)groups * m);
	float *x = rand_array((size_t)groups * xgs);
	float *y = rand_array((size_t)groups * ygs);
	float *y0 = malloc((size_t)groups * ygs * sizeof *y0);
	nn_packed pw;
	int bad = 0;

	memcpy(y0, y, (size_t)groups * ygs * sizeof *y);
	T_EQ_INT(nn_pack(&pw, w, groups, m, k, tisa), 0);
	nn_gemm(&pw, bias ? b : NULL, x, packed ? 0 : ldx, xgs, y, ldy, ygs,
	        cols, relu, accumulate, tpool);
	for (int g = 0; g < groups; g++)
	for (int r = 0; r < m; r++) {
		const float *yr = y + g * ygs + r * ldy;
		const float *y0r = y0 + g * ygs + r * ldy;

		for (size_t j = 0; j < cols; j++) {
			double s = bias ? b[g * m + r] : 0, mag = fabs(s);

			for (int q = 0; q < k; q++) {
				/* packed: sliver j / MR, step q, lane j % MR */
				const float xv = packed
					? x[g * xgs + (j / NN_GEMM_MR * k + q) *
					              NN_GEMM_MR + j % NN_GEMM_MR]
					: x[g * xgs + q * ldx + j];
				const double p = (double)w[((size_t)g * m + r) * k + q] * xv;

				s += p;
				mag += fabs(p);
			}
			if (accumulate)
				s += y0r[j], mag += fabs(y0r[j]);
			if (relu && s < 0)
				s = 0;
			bad += fabs(yr[j] - s) > 1e-5 * mag + 1e-6;
		}
		/* nothing past cols, nor between groups, is touched */
		for (size_t j = cols; j < ldy; j++)
			bad += yr[j] != y0r[j];
	}
	if (bad)
		fprintf(stderr, "gemm isa %d groups %d m %d k %d cols %zu packed %d "
		        "bias %d relu %d acc %d: %d bad\n", (int)tisa, groups, m, k,
		        cols, packed, bias, relu, accumulate, bad);
	T_EQ_INT(bad, 0);
	nn_packed_release(&pw);
	free(w), free(b), free(x), free(y), free(y0);
}

/* nn_gemm_bnrelu against nn_scale_shift_relu then nn_gemm: the same
 * floats, bit for bit, and nothing past cols touched. */
static void check_gemm_bnrelu(int m, int k, size_t cols, int relu)
{
	const size_t ldx = cols + 5, ldy = cols + 3;
	const int threads = nn_pool_threads(tpool);
	float *w = rand_array((size_t)m * k), *b = rand_array(m);
	float *x = rand_array((size_t)k * ldx), *xt = rand_array((size_t)k * ldx);
	float *sc = rand_array(k), *sh = rand_array(k);
	float *y = rand_array((size_t)m * ldy);
	float *want = malloc((size_t)m * ldy * sizeof *want);
	float *scratch = rand_array(nn_gemm_bnrelu_scratch_floats(threads));
	nn_packed pw;
	int bad = 0;

	memcpy(want, y, (size_t)m * ldy * sizeof *y);
	nn_scale_shift_relu(x, k, ldx, sc, sh, xt, NULL);
	T_EQ_INT(nn_pack(&pw, w, 1, m, k, tisa), 0);
	nn_gemm(&pw, b, xt, ldx, 0, want, ldy, 0, cols, relu, 0, tpool);
	nn_gemm_bnrelu(&pw, b, x, ldx, sc, sh, scratch, y, ldy, cols, relu,
	               tpool);
	for (size_t i = 0; i < (size_t)m * ldy; i++)
		bad += memcmp(&y[i], &want[i], sizeof *y) != 0;
	if (bad)
		fprintf(stderr, "gemm_bnrelu isa %d m %d k %d cols %zu: %d bad\n",
		        (int)tisa, m, k, cols, bad);
	T_EQ_INT(bad, 0);
	nn_packed_release(&pw);
	free(w), free(b), free(x), free(xt), free(sc), free(sh), free(y);
	free(want), free(scratch);
}

static void test_gemm_bnrelu(void)
{
	check_gemm_bnrelu(8, 16, 48, 0);
	check_gemm_bnrelu(13, 7, 5, 1);
	/* several passes over k, many column blocks and row ranges */
	check_gemm_bnrelu(64, 1100, 200, 1);
	check_gemm_bnrelu(128, 600, 1000, 1);
	check_gemm_bnrelu(40, 96, 3136, 0);
}

/* nn_pack_rows in pieces, in any order, is nn_pack. */
static void test_pack_rows(void)
{
	const int groups = 3, m = 13, k = 9;
	float *w = rand_array((size_t)groups * m * k);
	nn_packed a, b;

	T_EQ_INT(nn_pack(&a, w, groups, m, k, tisa), 0);
	T_EQ_INT(nn_pack_alloc(&b, groups, m, k, tisa), 0);
	for (int r0 = 35; r0 >= 0; r0 -= 5)
		nn_pack_rows(&b, w + (size_t)r0 * k, r0,
		             groups * m - r0 < 5 ? groups * m - r0 : 5);
	T_EQ_INT(nn_packed_floats(&a), nn_packed_floats(&b));
	T_CHECK(!memcmp(a.p, b.p, nn_packed_floats(&a) * sizeof *a.p));
	nn_packed_release(&a), nn_packed_release(&b);
	free(w);
}

static void test_gemm(void)
{
	for (int packed = 0; packed <= 1; packed++) {
		check_gemm(1, 8, 16, 48, packed, 1, 0, 0);
		check_gemm(1, 13, 7, 5, packed, 1, 1, 0);
		check_gemm(2, 21, 33, 100, packed, 0, 1, 1);
		check_gemm(3, 4, 9, 17, packed, 1, 0, 1);
		/* several passes over k, many column blocks and row ranges */
		check_gemm(1, 64, 1100, 200, packed, 1, 1, 1);
		check_gemm(1, 40, 600, 1000, packed, 1, 0, 0);
		check_gemm(36, 16, 24, 31, packed, 0, 0, 0);
	}
	T_EQ_INT(nn_pack(&(nn_packed){0}, NULL, 1, 0, 4, tisa), -1);
}

static void test_maxpool(void)
{
	const int sizes[][2] = {{8, 8}, {7, 9}, {1, 1}, {2, 5}, {112, 112}};

	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		int h = sizes[s][0], w = sizes[s][1], planes = 17;
		int ho = nn_out_size(h, 3, 2, 1), wo = nn_out_size(w, 3, 2, 1);
		float *x = rand_array((size_t)planes * h * w);
		float *y = malloc((size_t)planes * ho * wo * sizeof *y);
		int bad = 0;

		nn_maxpool_3s2(x, planes, h, w, y, tpool);
		for (int p = 0; p < planes; p++)
		for (int oy = 0; oy < ho; oy++)
		for (int ox = 0; ox < wo; ox++) {
			float m = -INFINITY;

			for (int ky = 0; ky < 3; ky++)
			for (int kx = 0; kx < 3; kx++) {
				int iy = 2 * oy - 1 + ky, ix = 2 * ox - 1 + kx;

				if (iy >= 0 && iy < h && ix >= 0 && ix < w)
					m = fmaxf(m, x[((size_t)p * h + iy) * w + ix]);
			}
			bad += y[((size_t)p * ho + oy) * wo + ox] != m;
		}
		T_EQ_INT(bad, 0);
		free(x), free(y);
	}
}

/* VGG's pools: 2x2 stride 2 (odd edges dropped), and torch's adaptive
 * average pool to 7x7 from smaller, equal and larger inputs. */
static void test_vgg_pools(void)
{
	const int sizes[][2] = {{8, 8}, {7, 9}, {1, 1}, {3, 4}, {7, 7},
	                        {10, 15}, {224, 224}};

	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		const int h = sizes[s][0], w = sizes[s][1], planes = 5;
		float *x = rand_array((size_t)planes * h * w);
		float *y = malloc((size_t)planes * 49 * sizeof *y);
		float *m = malloc((size_t)planes * (h / 2 + 1) * (w / 2 + 1) *
		                  sizeof *m);
		int bad = 0;
		double worst = 0;

		nn_maxpool_2s2(x, planes, h, w, m, tpool);
		for (int p = 0; p < planes; p++)
		for (int oy = 0; oy < h / 2; oy++)
		for (int ox = 0; ox < w / 2; ox++) {
			const float *q = x + ((size_t)p * h + 2 * oy) * w + 2 * ox;

			bad += m[((size_t)p * (h / 2) + oy) * (w / 2) + ox] !=
			       fmaxf(fmaxf(q[0], q[1]), fmaxf(q[w], q[w + 1]));
		}
		T_EQ_INT(bad, 0);
		nn_adaptive_avgpool(x, planes, h, w, y, 7, 7);
		for (int p = 0; p < planes; p++)
		for (int oy = 0; oy < 7; oy++)
		for (int ox = 0; ox < 7; ox++) {
			/* bins from floor(i * n / 7) to ceil((i + 1) * n / 7) */
			int y0 = (int)floor(oy * (double)h / 7);
			int y1 = (int)ceil((oy + 1) * (double)h / 7);
			int x0 = (int)floor(ox * (double)w / 7);
			int x1 = (int)ceil((ox + 1) * (double)w / 7);
			double sum = 0;

			for (int iy = y0; iy < y1; iy++)
				for (int ix = x0; ix < x1; ix++)
					sum += x[((size_t)p * h + iy) * w + ix];
			sum /= (double)(y1 - y0) * (x1 - x0);
			worst = fmax(worst, fabs(sum - y[(p * 7 + oy) * 7 + ox]));
		}
		T_CHECK(worst < 1e-5);
		free(x), free(y), free(m);
	}
}

static void test_avgpool_fc(void)
{
	const int c = 37, n = 3, hw = 49, classes = 11;
	float *x = rand_array((size_t)c * n * hw), pool[37 * 3];
	float *w = rand_array((size_t)classes * c), *b = rand_array(classes);
	float logits[3 * 11];
	double maxdiff = 0;

	nn_avgpool(x, c, n, hw, pool); /* [c, n] */
	for (int p = 0; p < c * n; p++) {
		double s = 0;

		for (int i = 0; i < hw; i++)
			s += x[(size_t)p * hw + i];
		T_CHECK(fabs(pool[p] - s / hw) <= 1e-6 * (1 + fabs(s / hw)));
	}
	nn_packed pw;
	float scratch[3 * 11];

	T_EQ_INT(nn_fc_scratch_floats(classes, n), 3 * 11);
	T_EQ_INT(nn_pack(&pw, w, 1, classes, c, nn_isa_best()), 0);
	nn_fc(&pw, b, pool, n, scratch, logits, NULL);
	nn_packed_release(&pw);
	for (int i = 0; i < n; i++)
	for (int j = 0; j < classes; j++) {
		double s = b[j], m = fabs(b[j]), d;

		for (int f = 0; f < c; f++) {
			s += (double)w[j * c + f] * pool[f * n + i];
			m += fabs((double)w[j * c + f] * pool[f * n + i]);
		}
		d = fabs(logits[i * classes + j] - s);
		maxdiff = fmax(maxdiff, d);
		T_CHECK(d <= 1e-5 * m + 1e-6);
	}
	printf("fc: max |diff| %.3g\n", maxdiff);
	free(x), free(w), free(b);
}

/* DenseNet's pre-activation and transition pooling against naive loops. */
static void test_bnrelu_avgpool2(void)
{
	const int c = 13, h = 7, w = 9, ho = 3, wo = 4;
	const size_t per = (size_t)2 * h * w; /* two images */
	float *x = rand_array((size_t)c * per), *sc = rand_array(c);
	float *sh = rand_array(c), *y = malloc((size_t)c * per * sizeof *y);
	float *p = malloc((size_t)c * 2 * ho * wo * sizeof *p);
	int bad = 0;

	nn_scale_shift_relu(x, c, per, sc, sh, y, tpool);
	for (int ch = 0; ch < c; ch++)
		for (size_t i = 0; i < per; i++)
			bad += y[ch * per + i] !=
			       fmaxf(0.0f, x[ch * per + i] * sc[ch] + sh[ch]);
	T_EQ_INT(bad, 0);
	/* odd sizes: the last row and column are dropped, as PyTorch does */
	nn_avgpool_2s2(x, c * 2, h, w, p, tpool);
	for (int q = 0; q < c * 2; q++)
	for (int oy = 0; oy < ho; oy++)
	for (int ox = 0; ox < wo; ox++) {
		const float *r = x + ((size_t)q * h + 2 * oy) * w + 2 * ox;
		float want = (r[0] + r[1] + r[w] + r[w + 1]) * 0.25f;

		bad += fabsf(p[((size_t)q * ho + oy) * wo + ox] - want) > 1e-6f;
	}
	T_EQ_INT(bad, 0);
	/* the fused ones: the pools of nn_scale_shift_relu's output, bit for
	 * bit (c channels of 2 planes) */
	float *q = malloc((size_t)c * 2 * ho * wo * sizeof *q), g[13 * 2],
	      want[13 * 2];

	nn_scale_shift_relu(x, c, per, sc, sh, y, tpool);
	nn_avgpool_2s2(y, c * 2, h, w, p, tpool);
	nn_avgpool_2s2_bnrelu(x, c, 2, h, w, sc, sh, q, tpool);
	T_CHECK(!memcmp(p, q, (size_t)c * 2 * ho * wo * sizeof *q));
	nn_avgpool(y, c, 2, h * w, want);
	nn_avgpool_bnrelu(x, c, 2, h * w, sc, sh, g);
	T_CHECK(!memcmp(want, g, sizeof g));
	free(q);
	free(x), free(sc), free(sh), free(y), free(p);
}

static void count_call(void *arg, int i)
{
	((int *)arg)[i]++;
}

static void test_pool(void)
{
	int calls[1000] = {0}, bad = 0;

	T_EQ_INT(nn_pool_threads(tpool), tpool ? 3 : 1);
	for (int round = 0; round < 50; round++)
		nn_pool_for(tpool, 1000, count_call, calls);
	for (int i = 0; i < 1000; i++)
		bad += calls[i] != 50;
	T_EQ_INT(bad, 0);
	nn_pool_for(tpool, 0, count_call, calls);
	nn_pool_for(tpool, 1, count_call, calls);
	T_EQ_INT(calls[0], 51);
}

int main(void)
{
	T_RUN(test_out_size);
	for (int threads = 1; threads <= 3; threads += 2) {
		tpool = threads > 1 ? nn_pool_new(threads) : NULL;
		printf("with %d thread%s:\n", threads, threads > 1 ? "s" : "");
		T_RUN(test_pool);
		for (tisa = NN_GENERIC; tisa <= nn_isa_best(); tisa++) {
			printf("GEMM kernels %d:\n", (int)tisa);
			T_RUN(test_gemm);
			T_RUN(test_gemm_bnrelu);
			T_RUN(test_pack_rows);
			T_RUN(test_conv);
			T_RUN(test_winograd);
			T_RUN(test_fold_bn);
		}
		T_RUN(test_maxpool);
		T_RUN(test_bnrelu_avgpool2);
		T_RUN(test_vgg_pools);
		nn_pool_free(tpool);
	}
	nn_pool_free(NULL);
	T_RUN(test_avgpool_fc);
	return T_DONE();
}
