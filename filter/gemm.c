/* gemm.c — the convolutions' matrix products on natadv's own micro-kernels:
 * y [m, cols] = W [m, k] x [k, cols] + bias (+ y's old contents) (ReLU), per
 * group. W (the weights) is packed once, at load time, into slivers of NR
 * rows stored k-major ([k][NR]), so that a sliver is one stream of
 * broadcasts. x (the activations) is read where it lies, MR columns of a
 * row at a time (1x1 convolutions: the activation is x), or from slivers
 * of MR columns ([k][MR]) that im2col and the Winograd transform write
 * directly. A micro-kernel keeps an NR x MR tile of y in registers for a
 * whole run over k (AVX-512: 8 rows x 3 vectors = 24 accumulators, a
 * broadcast weight times a vector of 16 columns per FMA) and applies bias,
 * residual and ReLU as it stores the tile: the GEMM is the epilogue too.
 * Kernels for AVX-512, AVX2+FMA and plain C share the layouts;
 * nn_packed.isa picks one. */
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "filter/nn.h"

#define NR NN_GEMM_NR /* rows (output channels) per tile */
#define MR NN_GEMM_MR /* columns (pixels) per tile */
#define KC_MAX 512    /* k per pass: a W sliver of 16 KB stays in L1 */
#define XB_FLOATS ((size_t)1 << 17) /* x of a block over one pass: 512 KB */
#define MC_MAX (16 * MR) /* columns per block */
#define TASKS_PER_THREAD 4 /* at least, for balance */
/* W is streamed once per tile when few columns share it (Winograd's
 * planes of layer4, at batch 8): fetched this many floats ahead. */
#define PF_W 1024

/* Tile flags: first and last pass over k, ReLU, residual. */
enum { F_FIRST = 1, F_LAST = 2, F_RELU = 4, F_ACC = 8 };

/* One micro-tile: y [rows, cols] of an NR x MR tile (rows ldy apart) from
 * kc steps of x (MR columns per step, steps xs floats apart) and packed W
 * [kc][NR]. The first pass (F_FIRST) adds bias b to the products (and,
 * with F_ACC, y's old contents); a later pass adds them to y. */
struct tile {
	const float *x, *w, *b;
	float *y;
	size_t xs, ldy;
	int kc, rows, cols, flags;
};

nn_isa nn_isa_best(void)
{
	if (__builtin_cpu_supports("avx512f"))
		return NN_AVX512;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return NN_AVX2;
	return NN_GENERIC;
}

/* ---- memory ---- */

#define HUGE_PAGE ((size_t)2 << 20)

void *nn_alloc(size_t bytes)
{
	void *p;

	if (bytes < 2 * HUGE_PAGE)
		return aligned_alloc(64, (bytes + 63) / 64 * 64);
	/* whole 2 MB pages: a TLB entry covers 512 times as much (the
	 * weights are streamed, the activations walked in strides), and
	 * first touch faults once per 2 MB */
	bytes = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
	p = aligned_alloc(HUGE_PAGE, bytes);
#ifdef MADV_HUGEPAGE
	if (p)
		madvise(p, bytes, MADV_HUGEPAGE); /* advice: failure is fine */
#endif
	return p;
}

/* ---- packing ---- */

int nn_pack_alloc(nn_packed *pw, int groups, int m, int k, nn_isa isa)
{
	const int slivers = (m + NR - 1) / NR;
	size_t bytes;

	memset(pw, 0, sizeof *pw);
	if (groups < 1 || m < 1 || k < 1)
		return -1;
	bytes = (size_t)groups * slivers * k * NR * sizeof *pw->p;
	pw->p = nn_alloc(bytes);
	if (!pw->p)
		return -1;
	/* the padding rows stay zero */
	memset(pw->p, 0, bytes);
	pw->groups = groups, pw->m = m, pw->k = k, pw->isa = isa;
	return 0;
}

void nn_pack_rows(nn_packed *pw, const float *w, int r0, int nr)
{
	const int slivers = (pw->m + NR - 1) / NR, k = pw->k;

	/* p [g][sliver][k][NR] = w [g * m + sliver * NR + r][k]: row r0 + i
	 * of all is row i of w; a sliver's [k][NR] stays in L2 while its
	 * rows are written */
	for (int i = 0; i < nr; i++) {
		const int row = r0 + i, g = row / pw->m, in = row % pw->m;
		const float *src = w + (size_t)i * k;
		float *dst = pw->p + ((size_t)g * slivers + in / NR) * k * NR +
		             in % NR;

		for (int kk = 0; kk < k; kk++)
			dst[(size_t)kk * NR] = src[kk];
	}
}

int nn_pack(nn_packed *pw, const float *w, int groups, int m, int k,
            nn_isa isa)
{
	if (nn_pack_alloc(pw, groups, m, k, isa))
		return -1;
	nn_pack_rows(pw, w, 0, groups * m);
	return 0;
}

void nn_packed_release(nn_packed *pw)
{
	if (!pw)
		return;
	free(pw->p);
	pw->p = NULL;
}

size_t nn_packed_floats(const nn_packed *pw)
{
	if (!pw->p || pw->groups < 1 || pw->m < 1 || pw->k < 1)
		return 0;
	return (size_t)pw->groups * ((pw->m + NR - 1) / NR) * NR * pw->k;
}

size_t nn_gemm_packed_floats(int k, size_t cols)
{
	return (cols + MR - 1) / MR * MR * (size_t)k;
}

/* ---- micro-kernels ---- */

/* Plain C on a whole NR x MR tile (the caller stages partial tiles). */
static void tile_generic(const struct tile *t)
{
	const int load_y = !(t->flags & F_FIRST) || t->flags & F_ACC;
	float c[NR][MR];

	for (int r = 0; r < NR; r++)
		for (int j = 0; j < MR; j++)
			c[r][j] = t->flags & F_FIRST ? t->b[r] : 0.0f;
	for (int k = 0; k < t->kc; k++) {
		const float *x = t->x + (size_t)k * t->xs;
		const float *w = t->w + (size_t)k * NR;

		for (int r = 0; r < NR; r++)
			for (int j = 0; j < MR; j++)
				c[r][j] += w[r] * x[j];
	}
	for (int r = 0; r < NR; r++)
		for (int j = 0; j < MR; j++) {
			float *y = t->y + (size_t)r * t->ldy + j;
			float v = c[r][j] + (load_y ? *y : 0.0f);

			if (t->flags & F_LAST && t->flags & F_RELU && !(v > 0.0f))
				v = 0.0f;
			*y = v;
		}
}

/* AVX2: the tile as four 4-row x 24-column quarters of 12 accumulators
 * (16 ymm registers in all); whole tiles only, like tile_generic. */
__attribute__((target("avx2,fma")))
static void tile_avx2(const struct tile *t)
{
	const int load_y = !(t->flags & F_FIRST) || t->flags & F_ACC;

	for (int r0 = 0; r0 < NR; r0 += 4)
	for (int j0 = 0; j0 < MR; j0 += 24) {
		float *y = t->y + (size_t)r0 * t->ldy + j0;
		const float *x = t->x + j0, *w = t->w + r0;
		__m256 c[4][3];

		/* every loop over the tile unrolled: c stays in registers */
#pragma GCC unroll 4
		for (int r = 0; r < 4; r++)
#pragma GCC unroll 3
			for (int v = 0; v < 3; v++)
				c[r][v] = t->flags & F_FIRST
				                  ? _mm256_set1_ps(t->b[r0 + r])
				                  : _mm256_setzero_ps();
		for (int k = 0; k < t->kc; k++, x += t->xs, w += NR) {
			const __m256 a0 = _mm256_loadu_ps(x);
			const __m256 a1 = _mm256_loadu_ps(x + 8);
			const __m256 a2 = _mm256_loadu_ps(x + 16);

#pragma GCC unroll 4
			for (int r = 0; r < 4; r++) {
				const __m256 b = _mm256_broadcast_ss(w + r);

				c[r][0] = _mm256_fmadd_ps(a0, b, c[r][0]);
				c[r][1] = _mm256_fmadd_ps(a1, b, c[r][1]);
				c[r][2] = _mm256_fmadd_ps(a2, b, c[r][2]);
			}
		}
#pragma GCC unroll 4
		for (int r = 0; r < 4; r++)
#pragma GCC unroll 3
			for (int v = 0; v < 3; v++) {
				float *p = y + (size_t)r * t->ldy + 8 * v;
				__m256 a = c[r][v];

				if (load_y)
					a = _mm256_add_ps(a, _mm256_loadu_ps(p));
				if (t->flags & F_LAST && t->flags & F_RELU)
					a = _mm256_max_ps(a, _mm256_setzero_ps());
				_mm256_storeu_ps(p, a);
			}
	}
}

/* AVX-512: NR rows x nv vectors of 16 columns (nv = 1..3, a constant in
 * each copy), rows and columns clipped with masks, not staged. Every loop
 * over the tile is unrolled so that the accumulators stay in registers. */
__attribute__((target("avx512f"))) static inline
__attribute__((always_inline)) void tile512_body(const struct tile *t,
                                                 const int nv)
{
	const int tail = t->cols - 16 * (nv - 1); /* 1 .. 16 */
	const __mmask16 mlast = (__mmask16)(tail >= 16 ? 0xffff
	                                               : (1u << tail) - 1);
	const int load_y = !(t->flags & F_FIRST) || t->flags & F_ACC;
	const size_t xs = t->xs;
	const float *x = t->x, *w = t->w;
	__m512 c[NR][3];

	/* y is read and written only after the run over k: fetch it now */
	for (int r = 0; r < NR && r < t->rows; r++)
		for (int v = 0; v < nv; v++)
			_mm_prefetch((const char *)(t->y + (size_t)r * t->ldy + 16 * v),
			             _MM_HINT_T0);
#pragma GCC unroll 8
	for (int r = 0; r < NR; r++) {
		const __m512 b = t->flags & F_FIRST && r < t->rows
		                         ? _mm512_set1_ps(t->b[r])
		                         : _mm512_setzero_ps();
#pragma GCC unroll 3
		for (int v = 0; v < nv; v++)
			c[r][v] = b;
	}
	for (int k = 0; k < t->kc; k++, x += xs, w += NR) {
		/* the last vector masked: a row of x may end at cols */
		const __m512 a0 = nv == 1 ? _mm512_maskz_loadu_ps(mlast, x)
		                          : _mm512_loadu_ps(x);
		const __m512 a1 = nv == 2 ? _mm512_maskz_loadu_ps(mlast, x + 16)
		                  : nv > 2 ? _mm512_loadu_ps(x + 16) : a0;
		const __m512 a2 = nv == 3 ? _mm512_maskz_loadu_ps(mlast, x + 32)
		                          : a0;

		/* (an address, not a pointer past W's end: only a hint) */
		_mm_prefetch((const char *)((uintptr_t)w + PF_W * sizeof *w),
		             _MM_HINT_T0);
#pragma GCC unroll 8
		for (int r = 0; r < NR; r++) {
			const __m512 b = _mm512_set1_ps(w[r]);

			c[r][0] = _mm512_fmadd_ps(a0, b, c[r][0]);
			if (nv > 1)
				c[r][1] = _mm512_fmadd_ps(a1, b, c[r][1]);
			if (nv > 2)
				c[r][2] = _mm512_fmadd_ps(a2, b, c[r][2]);
		}
	}
#pragma GCC unroll 8
	for (int r = 0; r < NR; r++) {
		if (r >= t->rows)
			break;
#pragma GCC unroll 3
		for (int v = 0; v < nv; v++) {
			const __mmask16 mk = v == nv - 1 ? mlast : 0xffff;
			float *p = t->y + (size_t)r * t->ldy + 16 * v;
			__m512 a = c[r][v];

			if (load_y)
				a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(mk, p));
			if (t->flags & F_LAST && t->flags & F_RELU)
				a = _mm512_max_ps(a, _mm512_setzero_ps());
			/* masked stores are slow on AMD: only where needed */
			if (mk == 0xffff)
				_mm512_storeu_ps(p, a);
			else
				_mm512_mask_storeu_ps(p, mk, a);
		}
	}
}

__attribute__((target("avx512f")))
static void tile_avx512(const struct tile *t)
{
	if (t->cols > 32)
		tile512_body(t, 3);
	else if (t->cols > 16)
		tile512_body(t, 2);
	else
		tile512_body(t, 1);
}

/* A partial tile for the kernels that take whole ones: staged through a
 * local copy of y's tile and of x's columns, zero padded, over the whole
 * run over k at once, so that each element of y gets exactly the sums a
 * whole tile gives it: a column's result must not depend on how many
 * columns share its tile (the batch an image runs in). */
static void tile_staged(void (*kern)(const struct tile *), const struct tile *t)
{
	float ybuf[NR * MR], xbuf[KC_MAX * MR], bias[NR] = {0};
	struct tile s = *t;

	memset(ybuf, 0, sizeof ybuf);
	for (int r = 0; r < t->rows; r++) {
		memcpy(ybuf + r * MR, t->y + (size_t)r * t->ldy,
		       (size_t)t->cols * sizeof *ybuf);
		bias[r] = t->b[r];
	}
	for (int k = 0; k < t->kc; k++) {
		memcpy(xbuf + k * MR, t->x + (size_t)k * t->xs,
		       (size_t)t->cols * sizeof *xbuf);
		memset(xbuf + k * MR + t->cols, 0,
		       (size_t)(MR - t->cols) * sizeof *xbuf);
	}
	s.x = xbuf, s.xs = MR, s.y = ybuf, s.ldy = MR, s.b = bias;
	kern(&s);
	for (int r = 0; r < t->rows; r++)
		memcpy(t->y + (size_t)r * t->ldy, ybuf + r * MR,
		       (size_t)t->cols * sizeof *ybuf);
}

static void run_tile(nn_isa isa, const struct tile *t)
{
	void (*kern)(const struct tile *) = isa == NN_AVX2 ? tile_avx2
	                                                   : tile_generic;

	if (isa == NN_AVX512)
		tile_avx512(t);
	else if (t->rows == NR && t->cols == MR)
		kern(t);
	else
		tile_staged(kern, t);
}

/* ---- blocking and threads ---- */

struct gemm_job {
	const nn_packed *pw;
	const float *b, *x;
	float *y;
	size_t ldx, xgs, ldy, ygs, cols;
	int flags;          /* F_RELU, F_ACC */
	int kc, nkb;        /* k per pass, passes */
	size_t mc;          /* columns per block */
	int npx, nm;        /* column blocks, row ranges */
	int slivers, per_m; /* W slivers per group, slivers per row range */
	/* nn_gemm_bnrelu: x's rows read as relu(x * xscale + xshift), packed
	 * per block into xbuf + thread * XB_FLOATS */
	const float *xscale, *xshift;
	float *xbuf;
};

/* x's rows k0 .. k0 + kn - 1, columns c0 .. c0 + cn - 1 (row-major, ldx)
 * as relu(x * xscale + xshift) per row into buf in the packed layout:
 * slivers of MR columns, each [kn][MR], the last one zero padded. */
static void pack_bnrelu(const struct gemm_job *j, int k0, int kn, size_t c0,
                        size_t cn, float *buf)
{
	for (size_t s = 0; s * MR < cn; s++) {
		const size_t n = cn - s * MR < MR ? cn - s * MR : MR;

		for (int k = 0; k < kn; k++) {
			const float *x = j->x + (size_t)(k0 + k) * j->ldx + c0 +
			                 s * MR;
			const float a = j->xscale[k0 + k], b = j->xshift[k0 + k];
			float *o = buf + (s * kn + k) * MR;

			/* as nn_scale_shift_relu computes it */
			for (size_t i = 0; i < n; i++) {
				const float v = x[i] * a + b;

				o[i] = v > 0.0f ? v : 0.0f;
			}
			for (size_t i = n; i < MR; i++)
				o[i] = 0.0f;
		}
	}
}

/* pack_bnrelu on AVX-512, a row of x at a time: the same values (a
 * product, then a sum, then the maximum with 0). */
__attribute__((target("avx512f")))
static void pack_bnrelu_avx512(const struct gemm_job *j, int k0, int kn,
                               size_t c0, size_t cn, float *buf)
{
	const size_t padded = (cn + MR - 1) / MR * MR;
	const __m512 zero = _mm512_setzero_ps();

	for (int k = 0; k < kn; k++) {
		const float *x = j->x + (size_t)(k0 + k) * j->ldx + c0;
		const __m512 a = _mm512_set1_ps(j->xscale[k0 + k]);
		const __m512 b = _mm512_set1_ps(j->xshift[k0 + k]);
		float *o = buf + (size_t)k * MR;

		for (size_t c = 0; c < padded; c += 16) {
			const size_t left = c < cn ? cn - c : 0;
			const __mmask16 m = (__mmask16)(left >= 16 ? 0xffff
			                                : (1u << left) - 1);
			__m512 v = _mm512_maskz_loadu_ps(m, x + c);

			v = _mm512_max_ps(_mm512_add_ps(_mm512_mul_ps(v, a), b),
			                  zero);
			_mm512_storeu_ps(o + c / MR * (size_t)kn * MR + c % MR,
			                 _mm512_maskz_mov_ps(m, v));
		}
	}
}

/* Task t: group, column block, row range; all passes over k, each pass
 * over every W sliver of the range, each sliver over the block's columns
 * (x's block stays in L2, the W sliver in L1). */
static void gemm_task_t(void *arg, int t, int th)
{
	static const float zeros[NR];
	const struct gemm_job *j = arg;
	const nn_packed *pw = j->pw;
	const int g = t / (j->npx * j->nm), rest = t % (j->npx * j->nm);
	const int pb = rest / j->nm, mr = rest % j->nm;
	const size_t c0 = (size_t)pb * j->mc;
	const size_t cn = j->cols - c0 < j->mc ? j->cols - c0 : j->mc;
	const int s0 = mr * j->per_m;
	const int s1 = s0 + j->per_m < j->slivers ? s0 + j->per_m : j->slivers;
	const size_t nsl = (cn + MR - 1) / MR;
	const float *xg = j->x + g * j->xgs;

	for (int kb = 0; kb < j->nkb; kb++) {
		const int k0 = kb * j->kc;
		const int kn = pw->k - k0 < j->kc ? pw->k - k0 : j->kc;
		float *xb = j->xbuf ? j->xbuf + (size_t)th * XB_FLOATS : NULL;
		struct tile tl = {.kc = kn, .ldy = j->ldy,
		                  .xs = j->ldx && !xb ? j->ldx : MR,
		                  .flags = j->flags |
		                           (kb == 0 ? F_FIRST : 0) |
		                           (kb == j->nkb - 1 ? F_LAST : 0)};

		if (xb && pw->isa == NN_AVX512)
			pack_bnrelu_avx512(j, k0, kn, c0, cn, xb);
		else if (xb)
			pack_bnrelu(j, k0, kn, c0, cn, xb);
		for (int s = s0; s < s1; s++) {
			const int row = s * NR;

			tl.w = pw->p + (((size_t)g * j->slivers + s) * pw->k + k0) * NR;
			tl.b = j->b ? j->b + (size_t)g * pw->m + row : zeros;
			tl.rows = pw->m - row < NR ? pw->m - row : NR;
			for (size_t i = 0; i < nsl; i++) {
				const size_t c = c0 + i * MR; /* a multiple of MR */

				/* row-major: column c of row k0; packed: sliver
				 * c / MR, step k0 */
				tl.x = xb ? xb + i * (size_t)kn * MR
				     : j->ldx ? xg + (size_t)k0 * j->ldx + c
				              : xg + (c * pw->k + (size_t)k0 * MR);
				tl.y = j->y + g * j->ygs + (size_t)row * j->ldy + c;
				tl.cols = cn - i * MR < MR ? (int)(cn - i * MR) : MR;
				run_tile(pw->isa, &tl);
			}
		}
	}
}

static void gemm_task(void *arg, int t)
{
	gemm_task_t(arg, t, 0);
}

/* Blocks j's product for threads; returns its number of tasks. */
static int gemm_blocks(struct gemm_job *j, int threads)
{
	const nn_packed *pw = j->pw;
	size_t mc, want;
	int tasks;

	j->nkb = (pw->k + KC_MAX - 1) / KC_MAX;
	j->kc = (pw->k + j->nkb - 1) / j->nkb;
	j->slivers = (pw->m + NR - 1) / NR;
	j->nm = 1;
	/* columns per block: what fits in L2, in blocks of equal size */
	mc = XB_FLOATS / (size_t)j->kc / MR * MR;
	if (mc > MC_MAX)
		mc = MC_MAX;
	if (mc < MR)
		mc = MR;
	j->npx = (int)((j->cols + mc - 1) / mc);
	j->mc = ((j->cols + j->npx - 1) / j->npx + MR - 1) / MR * MR;
	j->npx = (int)((j->cols + j->mc - 1) / j->mc);
	/* few tasks for the threads: split the rows too (4 slivers at least
	 * each), then the columns */
	tasks = j->npx * pw->groups;
	if (threads > 1 && tasks < TASKS_PER_THREAD * threads) {
		int nm = (TASKS_PER_THREAD * threads + tasks - 1) / tasks;

		if (nm > j->slivers / 4)
			nm = j->slivers / 4;
		/* nn_gemm_bnrelu: each row range would pack its block of x
		 * again; narrower blocks instead */
		if (j->xbuf)
			nm = 1;
		j->nm = nm < 1 ? 1 : nm;
		j->per_m = (j->slivers + j->nm - 1) / j->nm;
		j->nm = (j->slivers + j->per_m - 1) / j->per_m;
		tasks *= j->nm;
		if (tasks < TASKS_PER_THREAD * threads) {
			/* blocks narrower in proportion */
			want = j->mc * tasks / ((size_t)TASKS_PER_THREAD * threads);
			want = want / MR * MR;
			j->mc = want < MR ? MR : want;
			j->npx = (int)((j->cols + j->mc - 1) / j->mc);
		}
	}
	j->per_m = (j->slivers + j->nm - 1) / j->nm;
	j->nm = (j->slivers + j->per_m - 1) / j->per_m;
	return pw->groups * j->npx * j->nm;
}

void nn_gemm(const nn_packed *pw, const float *b, const float *x, size_t ldx,
             size_t xgs, float *y, size_t ldy, size_t ygs, size_t cols,
             int relu, int accumulate, nn_pool *pool)
{
	struct gemm_job j = {.pw = pw, .b = b, .x = x, .y = y, .ldx = ldx,
	                     .xgs = xgs, .ldy = ldy, .ygs = ygs, .cols = cols,
	                     .flags = (relu ? F_RELU : 0) |
	                              (accumulate ? F_ACC : 0)};

	if (!cols)
		return;
	nn_pool_for(pool, gemm_blocks(&j, nn_pool_threads(pool)), gemm_task,
	            &j);
}

size_t nn_gemm_bnrelu_scratch_floats(int threads)
{
	return (size_t)(threads < 1 ? 1 : threads) * XB_FLOATS;
}

void nn_gemm_bnrelu(const nn_packed *pw, const float *b, const float *x,
                    size_t ldx, const float *scale, const float *shift,
                    float *scratch, float *y, size_t ldy, size_t cols,
                    int relu, nn_pool *pool)
{
	struct gemm_job j = {.pw = pw, .b = b, .x = x, .y = y, .ldx = ldx,
	                     .ldy = ldy, .cols = cols,
	                     .flags = relu ? F_RELU : 0, .xscale = scale,
	                     .xshift = shift, .xbuf = scratch};

	if (!cols)
		return;
	nn_pool_for_t(pool, gemm_blocks(&j, nn_pool_threads(pool)),
	              gemm_task_t, &j);
}
