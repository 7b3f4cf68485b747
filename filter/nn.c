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

int nn_conv_chunk(const nn_conv *c, int ho, int wo, size_t col_floats)
{
	size_t per = (size_t)c->cin * c->k * c->k * ho * wo;
	size_t chunk = per ? col_floats / per : 1;

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

/* The k*k rows of col for input channel ci (see im2col). */
static void im2col_channel(void *arg, int ci)
{
	const struct im2col_job *j = arg;
	const nn_conv *c = j->c;
	const size_t plane = (size_t)j->h * j->w;
	const size_t ocols = (size_t)j->nc * j->ho * j->wo;
	const int k = c->k, s = c->stride, pad = c->pad, w = j->w, wo = j->wo;

	for (int ky = 0; ky < k; ky++)
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
				line = img + (size_t)iy * w;
				memset(o, 0, (size_t)lo * sizeof *o);
				if (s == 1 && hi > lo) {
					memcpy(o + lo, line + lo - pad + kx,
					       (size_t)(hi - lo) * sizeof *o);
				} else {
					for (int ox = lo; ox < hi; ox++)
						o[ox] = line[ox * s - pad + kx];
				}
				memset(o + hi, 0, (size_t)(wo - hi) * sizeof *o);
			}
		}
	}
}

/* col [cin*k*k, nc*ho*wo] = the k x k patches of images n0 .. n0+nc-1 of
 * src [cin, n, h, w]; row (ci, ky, kx) matches the weight layout. */
static void im2col(const nn_conv *c, const float *src, int n, int h, int w,
                   int ho, int wo, int n0, int nc, float *col, nn_pool *pool)
{
	struct im2col_job j = {c, src, n, h, w, ho, wo, n0, nc, col};
	size_t floats = (size_t)c->cin * c->k * c->k * nc * ho * wo;

	nn_pool_for(nn_pool_worth(pool, floats), c->cin, im2col_channel, &j);
}

/* Four floats at a time, written with GCC/clang vector extensions so the
 * ReLU is a compare-and-mask: a scalar `v > 0 ? v : 0` compiles to a
 * branch that mispredicts on half the activations and was 20x slower. */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

struct epi_job {
	float *y;
	int rows, per; /* per: rows handed to a thread at a time */
	size_t cols, ld;
	const float *b;
	int relu;
};

/* Rows [i * per, (i + 1) * per) of the epilogue. */
static void epi_rows(void *arg, int i)
{
	const struct epi_job *j = arg;
	const v4f zero = {0, 0, 0, 0};
	int end = (i + 1) * j->per < j->rows ? (i + 1) * j->per : j->rows;

	for (int r = i * j->per; r < end; r++) {
		float *p = j->y + (size_t)r * j->ld;
		const v4f bias = {j->b[r], j->b[r], j->b[r], j->b[r]};
		size_t c = 0;

		for (; c + 4 <= j->cols; c += 4) {
			v4f v;

			memcpy(&v, p + c, sizeof v);
			v += bias;
			if (j->relu)
				v = (v4f)((v4i)v & (v4i)(v > zero));
			memcpy(p + c, &v, sizeof v);
		}
		for (; c < j->cols; c++) {
			float v = p[c] + j->b[r];

			p[c] = j->relu && !(v > 0.0f) ? 0.0f : v;
		}
	}
}

/* rows x cols block at y (row stride ld): y += b[row], then ReLU. */
static void epilogue(float *y, int rows, size_t cols, size_t ld,
                     const float *b, int relu, nn_pool *pool)
{
	/* hand out at least ~16K floats at a time */
	int per = cols >= 16384 ? 1 : (int)(16384 / (cols ? cols : 1));
	struct epi_job j = {y, rows, per, cols, ld, b, relu};

	nn_pool_for(nn_pool_worth(pool, (size_t)rows * cols),
	            (rows + per - 1) / per, epi_rows, &j);
}

void nn_conv_forward(const nn_conv *c, const float *src, int n, int h, int w,
                     float *dst, float *col, size_t col_floats, int relu,
                     int accumulate, nn_pool *pool)
{
	const int ho = nn_out_size(h, c->k, c->stride, c->pad);
	const int wo = nn_out_size(w, c->k, c->stride, c->pad);
	const int cin_g = c->cin / c->groups, cout_g = c->cout / c->groups;
	const int kg = cin_g * c->k * c->k;       /* GEMM depth per group */
	const size_t ldc = (size_t)n * ho * wo;  /* a row of dst */
	const float beta = accumulate ? 1.0f : 0.0f;

	if (conv_direct(c)) {
		/* the activation already is the [cin, n*h*w] matrix */
		for (int g = 0; g < c->groups; g++)
			/* [cout_g, n*hw] = [cout_g, cin_g] x [cin_g, n*hw] */
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
			            cout_g, (int)ldc, cin_g, 1.0f,
			            c->w + (size_t)g * cout_g * cin_g, cin_g,
			            src + (size_t)g * cin_g * ldc, (int)ldc, beta,
			            dst + (size_t)g * cout_g * ldc, (int)ldc);
		epilogue(dst, c->cout, ldc, ldc, c->b, relu, pool);
		return;
	}
	const int chunk = nn_conv_chunk(c, ho, wo, col_floats);
	for (int n0 = 0; n0 < n; n0 += chunk) {
		const int nc = n - n0 < chunk ? n - n0 : chunk;
		const size_t cols = (size_t)nc * ho * wo;
		float *y = dst + (size_t)n0 * ho * wo;

		/* [cin*k*k, cols] */
		im2col(c, src, n, h, w, ho, wo, n0, nc, col, pool);
		for (int g = 0; g < c->groups; g++)
			/* [cout_g, cols] = [cout_g, kg] x [kg, cols] */
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
			            cout_g, (int)cols, kg, 1.0f,
			            c->w + (size_t)g * cout_g * kg, kg,
			            col + (size_t)g * kg * cols, (int)cols, beta,
			            y + (size_t)g * cout_g * ldc, (int)ldc);
		epilogue(y, c->cout, cols, ldc, c->b, relu, pool);
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

static void maxpool_plane(void *arg, int p)
{
	const struct pool_job *j = arg;
	const int h = j->h, w = j->w;
	const int ho = nn_out_size(h, 3, 2, 1), wo = nn_out_size(w, 3, 2, 1);
	const float *x = j->src + (size_t)p * h * w;
	float *y = j->dst + (size_t)p * ho * wo;

	for (int oy = 0; oy < ho; oy++)
	for (int ox = 0; ox < wo; ox++) {
		float m = -INFINITY;

		for (int iy = 2 * oy - 1; iy <= 2 * oy + 1; iy++) {
			if (iy < 0 || iy >= h)
				continue;
			for (int ix = 2 * ox - 1; ix <= 2 * ox + 1; ix++)
				if (ix >= 0 && ix < w && x[(size_t)iy * w + ix] > m)
					m = x[(size_t)iy * w + ix];
		}
		y[(size_t)oy * wo + ox] = m;
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
