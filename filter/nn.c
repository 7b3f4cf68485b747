/* nn.c — convolution (nn_gemm on the activation itself for 1x1 stride 1,
 * else im2col into nn_gemm's packed layout first), max-pool, average pool
 * and fully connected layers on [C, N, H, W] activations. Batch-folded
 * columns keep the late, small-image GEMMs wide. */
#include "filter/nn.h"

#include <immintrin.h>
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

/* im2col chunks: whole output rows (of any image), about COL_WEIGHTS
 * times the weights in floats, since each chunk streams all of them again
 * (9 MB for layer4's 3x3), but at least COL_MIN floats; small chunks (the
 * stem's columns are 7 MB an image) stay in L2 between im2col and the
 * GEMM. */
#define COL_WEIGHTS 8
#define COL_MIN ((size_t)1 << 17)
#define MR NN_GEMM_MR

/* Rows of a group's im2col matrix: cin / groups * k * k. */
static int conv_rows(const nn_conv *c)
{
	return c->cin / c->groups * c->k * c->k;
}

/* Floats of packed im2col columns for rows output rows of wo pixels. */
static size_t col_floats_for(const nn_conv *c, size_t rows, int wo)
{
	return (size_t)c->groups *
	       nn_gemm_packed_floats(conv_rows(c), rows * wo);
}

/* Output rows per im2col chunk (of n * ho in all), within col_floats
 * floats; at least 1. */
static size_t conv_chunk(const nn_conv *c, int n, int ho, int wo,
                         size_t col_floats)
{
	const size_t k = (size_t)c->groups * conv_rows(c);
	size_t target = COL_WEIGHTS * (size_t)c->cout * conv_rows(c), rows, fit;

	if (target < COL_MIN)
		target = COL_MIN;
	rows = target / k / (size_t)wo;
	/* the most that fits: whole slivers of MR columns per group */
	fit = col_floats / k / MR * MR / (size_t)wo;
	if (rows > fit)
		rows = fit;
	if (rows > (size_t)n * ho)
		rows = (size_t)n * ho;
	return rows < 1 ? 1 : rows;
}

size_t nn_conv_col_floats(const nn_conv *c, int n, int h, int w,
                          size_t budget)
{
	int ho = nn_out_size(h, c->k, c->stride, c->pad);
	int wo = nn_out_size(w, c->k, c->stride, c->pad);

	if (conv_direct(c))
		return 0;
	return col_floats_for(c, conv_chunk(c, n, ho, wo, budget), wo);
}

int nn_conv_pack(nn_conv *c, nn_isa isa)
{
	return nn_pack(&c->pk, c->w, c->groups, c->cout / c->groups,
	               conv_rows(c), isa);
}

struct im2col_job {
	const nn_conv *c;
	const float *src;
	int n, h, w, ho, wo;
	size_t r0, nr; /* output rows r0 .. r0+nr-1 of all n * ho */
	float *col;
};

typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));

/* Two-vector shuffle: GCC's builtin, or clang's. */
#ifdef __clang__
#define SHUFFLE2(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define SHUFFLE2(a, b, ...) __builtin_shuffle(a, b, (v16i){__VA_ARGS__})
#endif

/* o[i] = x[2 * i] for i < n: 32 floats in, the even 16 out (one permute
 * on AVX-512) while more follow; the last 16 from the 32 floats that end
 * at x[2n - 2], the odd ones. Whole-vector loads only: a narrower load
 * followed by a vector read of the same bytes stalls store forwarding. */
static inline __attribute__((always_inline)) void copy_stride2(
	float *o, const float *x, int n)
{
	v16f a, b, r;
	int i = 0;

	if (n < 17) {
		for (; i < n; i++)
			o[i] = x[2 * i];
		return;
	}
	for (; i + 16 < n; i += 16) {
		/* x[2i .. 2i+31]: before x[2n - 2] */
		memcpy(&a, x + 2 * i, sizeof a);
		memcpy(&b, x + 2 * i + 16, sizeof b);
		r = SHUFFLE2(a, b, 0, 2, 4, 6, 8, 10, 12, 14,
		             16, 18, 20, 22, 24, 26, 28, 30);
		memcpy(o + i, &r, sizeof r);
	}
	/* o[n-16 .. n-1] = odd floats of x[2n-33 .. 2n-2] (n >= 17) */
	memcpy(&a, x + 2 * n - 33, sizeof a);
	memcpy(&b, x + 2 * n - 17, sizeof b);
	r = SHUFFLE2(a, b, 1, 3, 5, 7, 9, 11, 13, 15,
	             17, 19, 21, 23, 25, 27, 29, 31);
	memcpy(o + n - 16, &r, sizeof r);
}

/* zeros from o on, 16 at a time: whole-vector stores */
static inline __attribute__((always_inline)) void zero16(float *o, int n)
{
	const v16f z = {0};

	for (int i = 0; i < n; i += 16)
		memcpy(o + i, &z, sizeof z);
}

/* The k rows of col for input channel ci = cy / k, kernel row
 * ky = cy % k (see im2col). Row by row of the output, the columns are
 * built in stage after the ones not yet written, and every whole sliver
 * of MR columns is copied out. Stage is mostly written and read in whole
 * vectors: a vector load of bytes just stored in pieces stalls (store
 * forwarding), and a variable-size memcpy becomes a call or a slow-
 * starting rep movs. stride2: copies x[0], x[2] ... into o (n of them)
 * for stride 2. */
static inline __attribute__((always_inline)) void im2col_body(
	const struct im2col_job *j, int cy,
	void (*stride2)(float *o, const float *x, int n))
{
	const nn_conv *c = j->c;
	const size_t plane = (size_t)j->h * j->w;
	const int k = c->k, s = c->stride, pad = c->pad, w = j->w, wo = j->wo;
	const int ci = cy / k, ky = cy % k;
	const int rows = conv_rows(c), cig = c->cin / c->groups, g = ci / cig;
	const size_t cols = j->nr * wo;
	float *gcol = j->col + (size_t)g * nn_gemm_packed_floats(rows, cols);
	/* up to MR - 1 columns held over, then a row (wo <= 8192: see
	 * resnet_prepare), then room for a vector's overshoot */
	float stage[MR + 8192 + 16];

	for (int kx = 0; kx < k; kx++) {
		/* this row of the group's matrix, in sliver 0 */
		const int r = ((ci - g * cig) * k + ky) * k + kx;
		float *out = gcol + (size_t)r * MR;
		int held = 0; /* columns in stage, not yet written */
		/* output columns ox whose input column lies inside the image */
		int lo = pad - kx > 0 ? (pad - kx + s - 1) / s : 0;
		int hi = w - 1 + pad - kx >= 0 ? (w - 1 + pad - kx) / s + 1 : 0;

		if (hi > wo)
			hi = wo;
		if (lo > hi)
			lo = hi;
		for (size_t row = j->r0; row < j->r0 + j->nr; row++) {
			const int i = (int)(row / j->ho), oy = (int)(row % j->ho);
			const float *img = j->src + ((size_t)ci * j->n + i) * plane;
			const int iy = oy * s - pad + ky;
			const int inside = iy >= 0 && iy < j->h;
			/* input row; column of output column ox: ox * s + x0 */
			const float *in = inside ? img + (size_t)iy * w : img;
			const int x0 = kx - pad;
			float *line = stage + held;
			int q;

			if (!inside) {
				zero16(line, wo);
			} else {
				/* zeros around, then the columns inside over them */
				const float *first = in + lo * s + x0;

				zero16(line, lo);
				if (hi == lo)
					;
				else if (s == 1)
					memcpy(line + lo, first,
					       (size_t)(hi - lo) * sizeof *line);
				else if (s == 2)
					stride2(line + lo, first, hi - lo);
				else
					for (int ox = lo; ox < hi; ox++)
						line[ox] = first[(ox - lo) * s];
				zero16(line + hi, wo - hi);
			}
			/* whole slivers out; the rest to the front */
			held += wo;
			for (q = 0; q + MR <= held; q += MR) {
				memcpy(out, stage + q, MR * sizeof *out);
				out += (size_t)rows * MR;
			}
			held -= q;
			if (q)
				memcpy(stage, stage + q, MR * sizeof *stage);
		}
		/* the last sliver's columns; the rest of it is padding */
		if (held)
			memcpy(out, stage, MR * sizeof *out);
	}
}

/* copy_stride2 for AVX-512: masked loads, whole vector stores (o has
 * room for 15 floats more; AMD's masked stores are slow). */
__attribute__((target("avx512f"))) static inline void copy_stride2_512(
	float *o, const float *x, int n)
{
	const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16,
	                                       18, 20, 22, 24, 26, 28, 30);

	/* short rows (layer3's and layer4's) measured faster in scalar */
	if (n < 16) {
		for (int i = 0; i < n; i++)
			o[i] = x[2 * i];
		return;
	}
	for (int i = 0; i < n; i += 16) {
		const int m = n - i < 16 ? n - i : 16; /* outputs */
		const int f = 2 * m - 1;               /* floats read */
		const __mmask16 lo = (__mmask16)(f >= 16 ? 0xffff : (1u << f) - 1);
		const __mmask16 hi = (__mmask16)(f > 16 ? (1u << (f - 16)) - 1 : 0);
		const __m512 a = _mm512_maskz_loadu_ps(lo, x + 2 * i);
		const __m512 b = _mm512_maskz_loadu_ps(hi, x + 2 * i + 16);

		_mm512_storeu_ps(o + i, _mm512_permutex2var_ps(a, even, b));
	}
}

static void copy_stride2_plain(float *o, const float *x, int n)
{
	copy_stride2(o, x, n);
}

__attribute__((target("avx512f")))
static void im2col_rows_avx512(void *arg, int cy)
{
	im2col_body(arg, cy, copy_stride2_512);
}

static void im2col_rows(void *arg, int cy)
{
	im2col_body(arg, cy, copy_stride2_plain);
}

/* col [groups][cin/groups*k*k, nr*wo] in nn_gemm's packed layout = the
 * k x k patches of output rows r0 .. r0+nr-1 (of n * ho) from src [cin, n,
 * h, w]; row (ci, ky, kx) of a group matches the weight layout. */
static void im2col(const nn_conv *c, const float *src, int n, int h, int w,
                   int ho, int wo, size_t r0, size_t nr, float *col,
                   nn_pool *pool)
{
	struct im2col_job j = {c, src, n, h, w, ho, wo, r0, nr, col};
	size_t floats = (size_t)c->cin * c->k * c->k * nr * wo;

	/* by kernel row: the stem has only 3 input channels */
	nn_pool_for(nn_pool_worth(pool, floats), c->cin * c->k,
	            c->pk.isa == NN_AVX512 ? im2col_rows_avx512 : im2col_rows,
	            &j);
}

void nn_conv_forward(const nn_conv *c, const float *src, int n, int h, int w,
                     float *dst, float *col, size_t col_floats, int relu,
                     int accumulate, nn_pool *pool)
{
	const int ho = nn_out_size(h, c->k, c->stride, c->pad);
	const int wo = nn_out_size(w, c->k, c->stride, c->pad);
	const size_t ldc = (size_t)n * ho * wo;  /* a row of dst */
	const nn_packed *pk = &c->pk;

	if (conv_direct(c)) {
		/* the activation already is the [cin, n*h*w] matrix:
		 * [cout, n*hw] = [cout, cin] x [cin, n*hw] per group */
		nn_gemm(pk, c->b, src, ldc, (size_t)pk->k * ldc, dst, ldc,
		        (size_t)pk->m * ldc, ldc, relu, accumulate, pool);
		return;
	}
	const size_t chunk = conv_chunk(c, n, ho, wo, col_floats);
	for (size_t r0 = 0; r0 < (size_t)n * ho; r0 += chunk) {
		const size_t nr = (size_t)n * ho - r0 < chunk ? (size_t)n * ho - r0
		                                              : chunk;
		const size_t cols = nr * wo;

		/* [cin*k*k, cols], packed */
		im2col(c, src, n, h, w, ho, wo, r0, nr, col, pool);
		/* [cout, cols] = [cout, cin*k*k] x [cin*k*k, cols] per group */
		nn_gemm(pk, c->b, col, 0, nn_gemm_packed_floats(pk->k, cols),
		        dst + r0 * wo, ldc, (size_t)pk->m * ldc, cols, relu,
		        accumulate, pool);
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

/* *a = max(*a, b), lane by lane (pointers: a vector passed by value
 * changes the ABI with the instruction set). */
static inline __attribute__((always_inline)) void vmax2(v16f *a, const v16f *b)
{
	const v16i m = (v16i)(*a > *b);

	*a = (v16f)((m & (v16i)*a) | (~m & (v16i)*b));
}

/* A window row or column that falls outside the image is replaced by the
 * centre one: max is idempotent, so no branches are needed. Each output
 * row: the column maxima of its 3 input rows into t (t[1 + x] for column
 * x, an edge column repeated at each end), then the maxima of t's windows
 * 3 wide at stride 2, 16 at a time from even and odd lanes. */
#define POOL_W 4096 /* widest input: resnet_prepare's 8192 after the stem */

static inline __attribute__((always_inline)) void maxpool_body(
	const struct pool_job *j, int p)
{
	const int h = j->h, w = j->w;
	const int ho = nn_out_size(h, 3, 2, 1), wo = nn_out_size(w, 3, 2, 1);
	const float *x = j->src + (size_t)p * h * w;
	float *y = j->dst + (size_t)p * ho * wo;
	float t[POOL_W + 48];
	int ox;

	memset(t + w + 2, 0, 34 * sizeof *t); /* read, never used */
	for (int oy = 0; oy < ho; oy++) {
		const float *r1 = x + (size_t)2 * oy * w;
		const float *r0 = oy > 0 ? r1 - w : r1;
		const float *r2 = 2 * oy + 1 < h ? r1 + w : r1;
		float *yr = y + (size_t)oy * wo;
		int c = 0;

		for (; c + 16 <= w; c += 16) {
			v16f a, b, d;

			memcpy(&a, r0 + c, sizeof a);
			memcpy(&b, r1 + c, sizeof b);
			memcpy(&d, r2 + c, sizeof d);
			vmax2(&a, &b);
			vmax2(&a, &d);
			memcpy(t + 1 + c, &a, sizeof a);
		}
		for (; c < w; c++)
			t[1 + c] = max2(max2(r0[c], r1[c]), r2[c]);
		t[0] = t[1];
		t[w + 1] = t[w];
		/* output ox: max of t[2ox], t[2ox + 1], t[2ox + 2] */
		for (ox = 0; ox + 16 <= wo; ox += 16) {
			const float *q = t + 2 * ox;
			v16f a, b, a2, b2, e, o, e2;

			memcpy(&a, q, sizeof a);
			memcpy(&b, q + 16, sizeof b);
			memcpy(&a2, q + 2, sizeof a2);
			memcpy(&b2, q + 18, sizeof b2);
			e = SHUFFLE2(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22,
			             24, 26, 28, 30);
			o = SHUFFLE2(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23,
			             25, 27, 29, 31);
			e2 = SHUFFLE2(a2, b2, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20,
			              22, 24, 26, 28, 30);
			vmax2(&e, &o);
			vmax2(&e, &e2);
			memcpy(yr + ox, &e, sizeof e);
		}
		for (; ox < wo; ox++)
			yr[ox] = max2(max2(t[2 * ox], t[2 * ox + 1]), t[2 * ox + 2]);
	}
}

__attribute__((target("avx512f")))
static void maxpool_plane_avx512(void *arg, int p) { maxpool_body(arg, p); }
static void maxpool_plane(void *arg, int p) { maxpool_body(arg, p); }

void nn_maxpool_3s2(const float *src, int planes, int h, int w, float *dst,
                    nn_pool *pool)
{
	struct pool_job j = {src, dst, h, w};

	nn_pool_for(nn_pool_worth(pool, (size_t)planes * h * w), planes,
	            nn_isa_best() == NN_AVX512 ? maxpool_plane_avx512
	                                       : maxpool_plane, &j);
}

/* One plane of nn_maxpool_2s2: an odd last row or column is dropped, as
 * torch's floor mode does. */
static void maxpool2_plane(void *arg, int p)
{
	const struct pool_job *j = arg;
	const int w = j->w, ho = j->h / 2, wo = w / 2;
	const float *x = j->src + (size_t)p * j->h * w;
	float *y = j->dst + (size_t)p * ho * wo;

	for (int oy = 0; oy < ho; oy++) {
		const float *r0 = x + (size_t)2 * oy * w, *r1 = r0 + w;
		float *yr = y + (size_t)oy * wo;

		for (int ox = 0; ox < wo; ox++)
			yr[ox] = max2(max2(r0[2 * ox], r0[2 * ox + 1]),
			              max2(r1[2 * ox], r1[2 * ox + 1]));
	}
}

void nn_maxpool_2s2(const float *src, int planes, int h, int w, float *dst,
                    nn_pool *pool)
{
	struct pool_job j = {src, dst, h, w};

	nn_pool_for(nn_pool_worth(pool, (size_t)planes * h * w), planes,
	            maxpool2_plane, &j);
}

void nn_adaptive_avgpool(const float *src, int planes, int h, int w,
                         float *dst, int oh, int ow)
{
	for (size_t p = 0; p < (size_t)planes; p++) {
		const float *x = src + p * h * w;
		float *y = dst + p * oh * ow;

		for (int oy = 0; oy < oh; oy++) {
			/* torch's bins: [floor(i h / oh), ceil((i + 1) h / oh)) */
			const int y0 = oy * h / oh, y1 = ((oy + 1) * h + oh - 1) / oh;

			for (int ox = 0; ox < ow; ox++) {
				const int x0 = ox * w / ow;
				const int x1 = ((ox + 1) * w + ow - 1) / ow;
				float sum = 0;

				for (int yy = y0; yy < y1; yy++)
					for (int xx = x0; xx < x1; xx++)
						sum += x[(size_t)yy * w + xx];
				y[oy * ow + ox] = sum / (float)((y1 - y0) * (x1 - x0));
			}
		}
	}
}

void nn_avgpool(const float *src, int c, int n, int hw, float *dst)
{
	nn_avgpool_bnrelu(src, c, n, hw, NULL, NULL, dst);
}

/* max(0, v * a + b), as nn_scale_shift_relu computes it. */
static inline float bnrelu1(float v, float a, float b)
{
	const float t = v * a + b;

	return t > 0.0f ? t : 0.0f;
}

void nn_avgpool_bnrelu(const float *src, int c, int n, int hw,
                       const float *scale, const float *shift, float *dst)
{
	for (size_t p = 0; p < (size_t)c * n; p++) {
		const float *x = src + p * hw;
		double sum = 0.0;

		if (scale) {
			const float a = scale[p / n], b = shift[p / n];

			for (int i = 0; i < hw; i++)
				sum += bnrelu1(x[i], a, b);
		} else {
			for (int i = 0; i < hw; i++)
				sum += x[i];
		}
		dst[p] = (float)(sum / hw);
	}
}

size_t nn_fc_scratch_floats(int classes, int n)
{
	return (size_t)classes * n;
}

void nn_fc(const nn_packed *pw, const float *b, const float *x, int n,
           float *scratch, float *logits, nn_pool *pool)
{
	const int classes = pw->m;

	/* scratch [classes, n] = W [classes, features] x [features, n] + b,
	 * on nn_gemm's kernels: each logit's sum runs over the features in
	 * one fixed order, whatever n (OpenBLAS's sgemm picks its kernels,
	 * or sgemv, by shape, so an image's logits changed with its batch) */
	nn_gemm(pw, b, x, (size_t)n, 0, scratch, (size_t)n, 0, (size_t)n, 0, 0,
	        nn_pool_worth(pool, (size_t)classes * pw->k));
	for (int i = 0; i < n; i++)
		for (int j = 0; j < classes; j++)
			logits[(size_t)i * classes + j] =
				scratch[(size_t)j * n + i];
}

void nn_nchw_to_cnhw(const float *src, int n, int c, int hw, float *dst)
{
	for (int i = 0; i < n; i++)
		for (int ch = 0; ch < c; ch++)
			memcpy(dst + ((size_t)ch * n + i) * hw,
			       src + ((size_t)i * c + ch) * hw,
			       (size_t)hw * sizeof *dst);
}

struct ssr_job {
	const float *src, *scale, *shift;
	float *dst;
	size_t per;
};

static void ssr_channel(void *arg, int ch)
{
	const struct ssr_job *j = arg;
	const float *x = j->src + (size_t)ch * j->per;
	float *y = j->dst + (size_t)ch * j->per;
	const float a = j->scale[ch], b = j->shift[ch];

	for (size_t i = 0; i < j->per; i++) {
		float v = x[i] * a + b;

		y[i] = v > 0.0f ? v : 0.0f;
	}
}

void nn_scale_shift_relu(const float *src, int c, size_t per,
                         const float *scale, const float *shift, float *dst,
                         nn_pool *pool)
{
	struct ssr_job j = {src, scale, shift, dst, per};

	nn_pool_for(nn_pool_worth(pool, (size_t)c * per), c, ssr_channel, &j);
}

struct avg2_job {
	const float *src;
	float *dst;
	int h, w;
	const float *scale, *shift; /* NULL, or per channel of n planes */
	int n;
};

/* One output row of avg2_plane: relu(x * a + b) first when bn. */
static inline __attribute__((always_inline)) void avg2_row(
	const float *r0, const float *r1, float *y, int wo, int bn, float a,
	float b)
{
	for (int ox = 0; ox < wo; ox++) {
		float v0 = r0[2 * ox], v1 = r0[2 * ox + 1], v2 = r1[2 * ox],
		      v3 = r1[2 * ox + 1];

		if (bn) {
			v0 = bnrelu1(v0, a, b), v1 = bnrelu1(v1, a, b);
			v2 = bnrelu1(v2, a, b), v3 = bnrelu1(v3, a, b);
		}
		y[ox] = (v0 + v1 + v2 + v3) * 0.25f;
	}
}

static void avg2_plane(void *arg, int p)
{
	const struct avg2_job *j = arg;
	const int ho = j->h / 2, wo = j->w / 2;
	const float *x = j->src + (size_t)p * j->h * j->w;
	float *y = j->dst + (size_t)p * ho * wo;
	const float a = j->scale ? j->scale[p / j->n] : 1.0f;
	const float b = j->scale ? j->shift[p / j->n] : 0.0f;

	for (int oy = 0; oy < ho; oy++) {
		const float *r0 = x + (size_t)2 * oy * j->w, *r1 = r0 + j->w;

		if (j->scale)
			avg2_row(r0, r1, y + (size_t)oy * wo, wo, 1, a, b);
		else
			avg2_row(r0, r1, y + (size_t)oy * wo, wo, 0, a, b);
	}
}

void nn_avgpool_2s2(const float *src, int planes, int h, int w, float *dst,
                    nn_pool *pool)
{
	nn_avgpool_2s2_bnrelu(src, planes, 1, h, w, NULL, NULL, dst, pool);
}

void nn_avgpool_2s2_bnrelu(const float *src, int c, int n, int h, int w,
                           const float *scale, const float *shift,
                           float *dst, nn_pool *pool)
{
	struct avg2_job j = {src, dst, h, w, scale, shift, n};

	nn_pool_for(nn_pool_worth(pool, (size_t)c * n * h * w), c * n,
	            avg2_plane, &j);
}
