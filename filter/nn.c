/* nn.c — convolution (im2col + sgemm, or sgemm alone for 1x1 stride 1),
 * max-pool, average pool and fully connected layers on [C, N, H, W]
 * activations. Batch-folded columns keep the late, small-image GEMMs wide. */
#include "filter/nn.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

int nn_out_size(int n, int k, int stride, int pad)
{
	return (n + 2 * pad - k) / stride + 1;
}

static int conv_direct(const nn_conv *c)
{
	return c->k == 1 && c->stride == 1 && c->pad == 0;
}

/* im2col columns beyond about this many floats (4 MB) fall out of the
 * caches between im2col and sgemm: smaller chunks measured faster. */
#define COL_TARGET ((size_t)1 << 20)
#define COL_MIN 512 /* columns */

int nn_conv_chunk(const nn_conv *c, int ho, int wo, size_t col_floats)
{
	size_t per = (size_t)c->cin * c->k * c->k * ho * wo;
	size_t chunk = per ? COL_TARGET / per : 1;

	/* but wide enough that packing the weights is amortised */
	if (ho > 0 && wo > 0 && chunk * ho * wo < COL_MIN)
		chunk = (COL_MIN + (size_t)ho * wo - 1) / ((size_t)ho * wo);
	if (per && chunk > col_floats / per)
		chunk = col_floats / per;

	if (chunk < 1)
		chunk = 1;
	return chunk > 1 << 20 ? 1 << 20 : (int)chunk;
}

size_t nn_conv_col_floats(const nn_conv *c, int n, int h, int w,
                          size_t budget)
{
	int ho = nn_out_size(h, c->k, c->stride, c->pad);
	int wo = nn_out_size(w, c->k, c->stride, c->pad);
	size_t per = (size_t)c->cin * c->k * c->k * ho * wo;
	int chunk;

	if (conv_direct(c))
		return 0;
	chunk = nn_conv_chunk(c, ho, wo, budget);
	if (chunk > n)
		chunk = n;
	return per * (size_t)chunk;
}

struct im2col_job {
	const nn_conv *c;
	const float *src;
	int n, h, w, ho, wo, n0, nc;
	float *col;
};

typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));

/* The even floats of a:b. clang and GCC 12+ have __builtin_shufflevector
 * (GCC generates the same code for it as for __builtin_shuffle, one
 * vpermt2ps); older GCC only __builtin_shuffle. */
#if defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define EVEN16(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, \
	14, 16, 18, 20, 22, 24, 26, 28, 30)
#endif
#endif
#ifndef EVEN16
#define EVEN16(a, b) __builtin_shuffle(a, b, (v16i){0, 2, 4, 6, 8, 10, 12, \
	14, 16, 18, 20, 22, 24, 26, 28, 30})
#endif

/* o[i] = x[2 * i] for i < n: 31 floats in, the even 16 out (one permute
 * on AVX-512); a last block overlapping the one before it takes the rest. */
static inline __attribute__((always_inline)) void copy_stride2(
	float *o, const float *x, int n)
{
	int i = 0;

	if (n < 16) {
		for (; i < n; i++)
			o[i] = x[2 * i];
		return;
	}
	for (;; i += 16) {
		v16f a, b = {0}, r;

		if (i + 16 > n)
			i = n - 16;
		/* x[2i .. 2i+30]: never past x[2n-2] */
		memcpy(&a, x + 2 * i, sizeof a);
		memcpy(&b, x + 2 * i + 16, 15 * sizeof(float));
		r = EVEN16(a, b);
		memcpy(o + i, &r, sizeof r);
		if (i + 16 >= n)
			return;
	}
}

/* The k rows of col for input channel ci = cy / k, kernel row
 * ky = cy % k (see im2col). */
static inline __attribute__((always_inline)) void im2col_body(
	const struct im2col_job *j, int cy)
{
	const nn_conv *c = j->c;
	const size_t plane = (size_t)j->h * j->w;
	const size_t ocols = (size_t)j->nc * j->ho * j->wo;
	const int k = c->k, s = c->stride, pad = c->pad, w = j->w, wo = j->wo;
	const int ci = cy / k, ky = cy % k;

	for (int kx = 0; kx < k; kx++) {
		float *row = j->col + ((size_t)(ci * k + ky) * k + kx) * ocols;
		/* output columns ox whose input column lies inside the image */
		int lo = pad - kx > 0 ? (pad - kx + s - 1) / s : 0;
		int hi = w - 1 + pad - kx >= 0 ? (w - 1 + pad - kx) / s + 1 : 0;

		if (hi > wo)
			hi = wo;
		if (lo > hi)
			lo = hi;
		for (int i = 0; i < j->nc; i++) {
			const float *img = j->src +
			                   ((size_t)ci * j->n + j->n0 + i) * plane;

			for (int oy = 0; oy < j->ho; oy++) {
				float *o = row + ((size_t)i * j->ho + oy) * wo;
				int iy = oy * s - pad + ky;
				const float *line;

				if (iy < 0 || iy >= j->h) {
					memset(o, 0, (size_t)wo * sizeof *o);
					continue;
				}
				for (int ox = 0; ox < lo; ox++)
					o[ox] = 0.0f;
				for (int ox = hi; ox < wo; ox++)
					o[ox] = 0.0f;
				if (hi == lo)
					continue;
				/* input column of output column lo */
				line = img + (size_t)iy * w + lo * s - pad + kx;
				if (s == 1)
					memcpy(o + lo, line,
					       (size_t)(hi - lo) * sizeof *o);
				else if (s == 2)
					copy_stride2(o + lo, line, hi - lo);
				else
					for (int ox = lo; ox < hi; ox++)
						o[ox] = line[(ox - lo) * s];
			}
		}
	}
}

__attribute__((target("avx512f")))
static void im2col_rows_avx512(void *arg, int cy) { im2col_body(arg, cy); }
static void im2col_rows(void *arg, int cy) { im2col_body(arg, cy); }

/* col [cin*k*k, nc*ho*wo] = the k x k patches of images n0 .. n0+nc-1 of
 * src [cin, n, h, w]; row (ci, ky, kx) matches the weight layout. */
static void im2col(const nn_conv *c, const float *src, int n, int h, int w,
                   int ho, int wo, int n0, int nc, float *col, nn_pool *pool)
{
	struct im2col_job j = {c, src, n, h, w, ho, wo, n0, nc, col};
	size_t floats = (size_t)c->cin * c->k * c->k * nc * ho * wo;

	/* by kernel row: the stem has only 3 input channels */
	nn_pool_for(nn_pool_worth(pool, floats), c->cin * c->k,
	            __builtin_cpu_supports("avx512f") ? im2col_rows_avx512
	                                              : im2col_rows, &j);
}

/* Sixteen floats at a time, written with GCC/clang vector extensions so
 * the ReLU is a compare-and-mask: a scalar `v > 0 ? v : 0` compiles to a
 * branch that mispredicts on half the activations and was 20x slower. */
static inline __attribute__((always_inline)) void epilogue_body(
	float *y, int rows, size_t cols, size_t ld, const float *b, int relu)
{
	const v16f zero = {0};

	for (int r = 0; r < rows; r++) {
		float *p = y + (size_t)r * ld;
		const v16f bias = zero + b[r];
		size_t c = 0;

		for (; c + 16 <= cols; c += 16) {
			v16f v;

			memcpy(&v, p + c, sizeof v);
			v += bias;
			if (relu)
				v = (v16f)((v16i)v & (v16i)(v > zero));
			memcpy(p + c, &v, sizeof v);
		}
		for (; c < cols; c++) {
			float v = p[c] + b[r];

			p[c] = relu && !(v > 0.0f) ? 0.0f : v;
		}
	}
}

__attribute__((target("avx512f")))
static void epilogue_avx512(float *y, int rows, size_t cols, size_t ld,
                            const float *b, int relu)
{
	epilogue_body(y, rows, cols, ld, b, relu);
}

/* rows x cols block at y (row stride ld): y += b[row], then ReLU. */
static void epilogue(float *y, int rows, size_t cols, size_t ld,
                     const float *b, int relu)
{
	if (__builtin_cpu_supports("avx512f"))
		epilogue_avx512(y, rows, cols, ld, b, relu);
	else
		epilogue_body(y, rows, cols, ld, b, relu);
}

/* Column blocks of conv_gemm: about BLK_FLOATS floats of output (the
 * epilogue finds them in cache), at least BLK_MIN columns (each block
 * packs the weights again). */
#define BLK_FLOATS (1 << 19)
#define BLK_MIN 1024

/* One conv's sgemms and epilogue, split into blocks that the pool's
 * threads take in turn: a single-threaded sgemm, then the epilogue on the
 * same block while it is still in cache. Blocks are column ranges, or
 * output-channel ranges when the weights outweigh the columns (late
 * layers at small batches), so that no thread packs more than its share
 * of the larger operand. */
struct gemm_job {
	const nn_conv *c;
	const float *x;    /* [groups * kg, cols] with rows ldx apart */
	size_t ldx;
	float *y;          /* [cout, cols] with rows ldy apart */
	size_t ldy, cols, step;
	int by_rows, relu;
	float beta;
};

static void gemm_block(void *arg, int p)
{
	const struct gemm_job *j = arg;
	const nn_conv *c = j->c;
	const int cin_g = c->cin / c->groups, cout_g = c->cout / c->groups;
	const int kg = cin_g * c->k * c->k;
	const size_t n = j->by_rows ? (size_t)c->cout : j->cols;
	const size_t lo = (size_t)p * j->step;
	const size_t hi = lo + j->step < n ? lo + j->step : n;

	if (lo >= hi)
		return;
	if (j->by_rows) {
		/* one group: [hi-lo, cols] = [hi-lo, kg] x [kg, cols] */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
		            (int)(hi - lo), (int)j->cols, kg, 1.0f,
		            c->w + lo * kg, kg, j->x, (int)j->ldx, j->beta,
		            j->y + lo * j->ldy, (int)j->ldy);
		epilogue(j->y + lo * j->ldy, (int)(hi - lo), j->cols, j->ldy,
		         c->b + lo, j->relu);
		return;
	}
	for (int g = 0; g < c->groups; g++)
		/* [cout_g, hi-lo] = [cout_g, kg] x [kg, hi-lo] */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout_g,
		            (int)(hi - lo), kg, 1.0f,
		            c->w + (size_t)g * cout_g * kg, kg,
		            j->x + (size_t)g * kg * j->ldx + lo, (int)j->ldx,
		            j->beta, j->y + (size_t)g * cout_g * j->ldy + lo,
		            (int)j->ldy);
	epilogue(j->y + lo, c->cout, hi - lo, j->ldy, c->b, j->relu);
}

static void conv_gemm(const nn_conv *c, const float *x, size_t ldx,
                      float *y, size_t ldy, size_t cols, int relu,
                      int accumulate, nn_pool *pool)
{
	const size_t threads = (size_t)nn_pool_threads(pool);
	size_t blk = (size_t)BLK_FLOATS / (size_t)c->cout, parts, n = cols;
	struct gemm_job j = {c, x, ldx, y, ldy, cols, 0, 0, relu,
	                     accumulate ? 1.0f : 0.0f};

	if (c->groups == 1 && (size_t)c->cout > cols) {
		/* by output channels: one block per thread */
		j.by_rows = 1;
		n = (size_t)c->cout;
		blk = n;
	} else if (blk < BLK_MIN) {
		blk = BLK_MIN;
	}
	/* a multiple of threads in number, 16 rows or columns at least */
	parts = (n + blk - 1) / blk;
	parts = (parts + threads - 1) / threads * threads;
	j.step = (n / parts + 15) / 16 * 16;
	if (j.step < 16)
		j.step = 16;
	parts = (n + j.step - 1) / j.step;
	nn_pool_for(pool, (int)parts, gemm_block, &j);
}

void nn_conv_forward(const nn_conv *c, const float *src, int n, int h, int w,
                     float *dst, float *col, size_t col_floats, int relu,
                     int accumulate, nn_pool *pool)
{
	const int ho = nn_out_size(h, c->k, c->stride, c->pad);
	const int wo = nn_out_size(w, c->k, c->stride, c->pad);
	const size_t ldc = (size_t)n * ho * wo;  /* a row of dst */

	if (conv_direct(c)) {
		/* the activation already is the [cin, n*h*w] matrix:
		 * [cout, n*hw] = [cout, cin] x [cin, n*hw] per group */
		conv_gemm(c, src, ldc, dst, ldc, ldc, relu, accumulate, pool);
		return;
	}
	const int chunk = nn_conv_chunk(c, ho, wo, col_floats);
	for (int n0 = 0; n0 < n; n0 += chunk) {
		const int nc = n - n0 < chunk ? n - n0 : chunk;
		const size_t cols = (size_t)nc * ho * wo;

		/* [cin*k*k, cols] */
		im2col(c, src, n, h, w, ho, wo, n0, nc, col, pool);
		/* [cout, cols] = [cout, cin*k*k] x [cin*k*k, cols] per group */
		conv_gemm(c, col, cols, dst + (size_t)n0 * ho * wo, ldc, cols,
		          relu, accumulate, pool);
	}
}

int nn_fold_bn(float *w, float *b, int cout, size_t per_out,
               const float *gamma, const float *beta, const float *mean,
               const float *var, double eps)
{
	for (int o = 0; o < cout; o++) {
		double d = (double)var[o] + eps, scale;

		if (!(d > 0.0))
			return o;
		scale = gamma[o] / sqrt(d);
		for (size_t i = 0; i < per_out; i++)
			w[(size_t)o * per_out + i] =
				(float)(w[(size_t)o * per_out + i] * scale);
		b[o] = (float)(((double)b[o] - mean[o]) * scale + beta[o]);
	}
	return -1;
}

struct pool_job {
	const float *src;
	float *dst;
	int h, w;
};

static inline float max2(float a, float b)
{
	return a > b ? a : b; /* maxss, no branch */
}

static void maxpool_plane(void *arg, int p)
{
	const struct pool_job *j = arg;
	const int h = j->h, w = j->w;
	const int ho = nn_out_size(h, 3, 2, 1), wo = nn_out_size(w, 3, 2, 1);
	const float *x = j->src + (size_t)p * h * w;
	float *y = j->dst + (size_t)p * ho * wo;

	/* A window row or column that falls outside the image is replaced by
	 * the centre one: max is idempotent, so no branches are needed. */
	for (int oy = 0; oy < ho; oy++) {
		const float *r1 = x + (size_t)2 * oy * w;
		const float *r0 = oy > 0 ? r1 - w : r1;
		const float *r2 = 2 * oy + 1 < h ? r1 + w : r1;

		for (int ox = 0; ox < wo; ox++) {
			const int c1 = 2 * ox, c0 = ox > 0 ? c1 - 1 : c1;
			const int c2 = c1 + 1 < w ? c1 + 1 : c1;
			float m0 = max2(max2(r0[c0], r1[c0]), r2[c0]);
			float m1 = max2(max2(r0[c1], r1[c1]), r2[c1]);
			float m2 = max2(max2(r0[c2], r1[c2]), r2[c2]);

			y[(size_t)oy * wo + ox] = max2(max2(m0, m1), m2);
		}
	}
}

void nn_maxpool_3s2(const float *src, int planes, int h, int w, float *dst,
                    nn_pool *pool)
{
	struct pool_job j = {src, dst, h, w};

	nn_pool_for(nn_pool_worth(pool, (size_t)planes * h * w), planes,
	            maxpool_plane, &j);
}

void nn_avgpool(const float *src, int c, int n, int hw, float *dst)
{
	for (size_t p = 0; p < (size_t)c * n; p++) {
		const float *x = src + p * hw;
		double sum = 0.0;

		for (int i = 0; i < hw; i++)
			sum += x[i];
		dst[p] = (float)(sum / hw);
	}
}

void nn_fc(const float *w, const float *b, int classes, int features,
           const float *x, int n, float *logits)
{
	/* [n, classes] = [features, n]^T x [classes, features]^T */
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasTrans, n, classes, features,
	            1.0f, x, n, w, features, 0.0f, logits, classes);
	for (int i = 0; i < n; i++)
		for (int j = 0; j < classes; j++)
			logits[(size_t)i * classes + j] += b[j];
}

void nn_nchw_to_cnhw(const float *src, int n, int c, int hw, float *dst)
{
	for (int i = 0; i < n; i++)
		for (int ch = 0; ch < c; ch++)
			memcpy(dst + ((size_t)ch * n + i) * hw,
			       src + ((size_t)i * c + ch) * hw,
			       (size_t)hw * sizeof *dst);
}
