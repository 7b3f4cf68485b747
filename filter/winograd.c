/* winograd.c — 3x3 stride-1 convolutions as Winograd F(m x m, 3x3) (Lavin &
 * Gray 2015), m = 2 or 4: each m x m output tile costs (m+2)^2 multiplies per
 * channel pair instead of 9 m^2 (16 vs 36 for m = 2, 36 vs 144 for m = 4),
 * done as one nn_gemm of (m+2)^2 groups [cout, cin] x [cin, tiles]: the
 * input transform writes the tiles straight into nn_gemm's packed layout.
 * The transforms work on TB tiles at once, one vector lane per tile, and
 * are compiled for AVX-512, AVX2 and plain x86-64, used with the GEMM
 * kernels of the same instruction set. */
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter/nn.h"

#define TB 16 /* tiles per transform step: one AVX-512 vector of floats */
#define MR NN_GEMM_MR
_Static_assert(MR % TB == 0, "a transform step's tiles lie in one sliver");
typedef float vf __attribute__((vector_size(TB * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(TB * sizeof(int32_t))));

#define INLINE static inline __attribute__((always_inline))

/* ---- weights ---- */

/* G for m = 2 and m = 4 (rows: the a = m + 2 transformed taps). */
static const double G2[4][3] = {
	{1, 0, 0}, {.5, .5, .5}, {.5, -.5, .5}, {0, 0, 1}};
static const double G4[6][3] = {
	{1.0 / 4, 0, 0},
	{-1.0 / 6, -1.0 / 6, -1.0 / 6},
	{-1.0 / 6, 1.0 / 6, -1.0 / 6},
	{1.0 / 24, 1.0 / 12, 1.0 / 6},
	{1.0 / 24, -1.0 / 12, 1.0 / 6},
	{0, 0, 1}};

int nn_wino_init(nn_wino *wg, const nn_conv *c, int m, nn_isa isa)
{
	const size_t plane = (size_t)c->cout * c->cin;
	const int a = m + 2;
	const double(*G)[3] = m == 2 ? G2 : G4;
	float *u;
	int rc;

	memset(wg, 0, sizeof *wg);
	if (c->k != 3 || c->stride != 1 || c->pad != 1 || c->groups != 1 ||
	    (m != 2 && m != 4))
		return -1;
	wg->cin = c->cin, wg->cout = c->cout, wg->m = m, wg->b = c->b;
	u = malloc((size_t)a * a * plane * sizeof *u);
	if (!u)
		return -1;
	/* U = G g G^T, in double so the weights carry no extra rounding:
	 * u [a^2, cout, cin] */
	for (int o = 0; o < c->cout; o++)
	for (int i = 0; i < c->cin; i++) {
		const float *g = c->w + ((size_t)o * c->cin + i) * 9;
		double t[6][3];

		for (int r = 0; r < a; r++)
			for (int q = 0; q < 3; q++)
				t[r][q] = G[r][0] * g[q] + G[r][1] * g[3 + q] +
				          G[r][2] * g[6 + q];
		for (int r = 0; r < a; r++)
		for (int q = 0; q < a; q++) {
			double v = t[r][0] * G[q][0] + t[r][1] * G[q][1] +
			           t[r][2] * G[q][2];

			u[(size_t)(r * a + q) * plane + (size_t)o * c->cin + i] =
				(float)v;
		}
	}
	rc = nn_pack(&wg->u, u, a * a, c->cout, c->cin, isa);
	free(u);
	return rc;
}

void nn_wino_release(nn_wino *wg)
{
	if (!wg)
		return;
	nn_packed_release(&wg->u);
}

/* ---- sizes ---- */

/* The a^2 planes of a transformed tensor are rows x tc floats each; with
 * rows * tc a multiple of 1024 they would sit a multiple of 4 KB apart and
 * the streams of a transform would fight over the same cache sets, so each
 * plane is padded by one cache line. */
#define PLANE_PAD 16

static size_t plane_stride(int rows, size_t tc)
{
	return (size_t)rows * tc + PLANE_PAD;
}

static size_t tiles_per_image(int m, int h, int w)
{
	return (size_t)((h + m - 1) / m) * ((w + m - 1) / m);
}

static size_t per_image(const nn_wino *wg, int h, int w)
{
	const size_t a = (size_t)wg->m + 2;

	return a * a * (size_t)(wg->cin + wg->cout) *
	       tiles_per_image(wg->m, h, w);
}

/* Floats between the a^2 planes of V [a^2][cin, tc] (packed for nn_gemm;
 * M [a^2][cout, tc] is row-major, plane_stride apart). */
static size_t v_stride(const nn_wino *wg, size_t tc)
{
	return (nn_gemm_packed_floats(wg->cin, tc) + 15) / 16 * 16 + PLANE_PAD;
}

/* Scratch floats for tc tiles: V and M. */
static size_t scratch_for(const nn_wino *wg, size_t tc)
{
	const size_t a = (size_t)wg->m + 2;

	return a * a * (v_stride(wg, tc) + plane_stride(wg->cout, tc));
}

/* Images per chunk: enough for a transformed tensor of about WINO_TARGET
 * floats (less traffic beyond the caches), but at least WINO_TILES tiles
 * (the sgemms repack the weights for every chunk), within budget. */
#define WINO_TARGET ((size_t)1 << 20)
#define WINO_TILES 128

static size_t chunk_images(const nn_wino *wg, int n, int h, int w,
                           size_t budget)
{
	const size_t per = per_image(wg, h, w);
	const size_t tpi = tiles_per_image(wg->m, h, w);
	size_t chunk = WINO_TARGET / per;

	if (chunk * tpi < WINO_TILES)
		chunk = (WINO_TILES + tpi - 1) / tpi;
	if (chunk > budget / per)
		chunk = budget / per;
	if (chunk > (size_t)n)
		chunk = (size_t)n;
	/* per_image leaves out the planes' padding */
	while (chunk > 1 && scratch_for(wg, chunk * tpi) > budget)
		chunk--;
	return chunk < 1 ? 1 : chunk;
}

size_t nn_wino_scratch_floats(const nn_wino *wg, int n, int h, int w,
                              size_t budget)
{
	return scratch_for(wg, tiles_per_image(wg->m, h, w) *
	                           chunk_images(wg, n, h, w, budget));
}

/* ---- transforms ---- */

/* One chunk of images through a transform: src/dst, shapes, flags. */
struct wino_job {
	const nn_wino *wg;
	const float *in;
	float *out;
	int n, h, w, n0, nc, relu, accumulate;
};

/* Where the tiles of one channel plane lie: tile t of the chunk is image
 * t / tpi, tile row (t % tpi) / tw, tile column t % tw. */
struct tile_pos {
	int i, ty, tx;
};

INLINE void tile_next(struct tile_pos *p, int th, int tw)
{
	if (++p->tx < tw)
		return;
	p->tx = 0;
	if (++p->ty < th)
		return;
	p->ty = 0;
	p->i++;
}

INLINE struct tile_pos tile_at(size_t t, int th, int tw)
{
	const size_t tpi = (size_t)th * tw;
	struct tile_pos p = {(int)(t / tpi), (int)(t % tpi / tw),
	                     (int)(t % tw)};

	return p;
}

/* 1-D transforms over a vectors spaced s apart; o may not alias d. */
INLINE void bt2(vf *o, const vf *d, int s) /* B^T, m = 2 */
{
	o[0] = d[0] - d[2 * s];
	o[s] = d[s] + d[2 * s];
	o[2 * s] = d[2 * s] - d[s];
	o[3 * s] = d[s] - d[3 * s];
}

INLINE void bt4(vf *o, const vf *d, int s) /* B^T, m = 4 */
{
	const vf d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s];
	const vf d4 = d[4 * s], d5 = d[5 * s];
	const vf p = d4 - 4.0f * d2, q = d3 - 4.0f * d1;
	const vf r = d4 - d2, t = 2.0f * (d3 - d1);

	o[0] = 4.0f * d0 - 5.0f * d2 + d4;
	o[s] = p + q;
	o[2 * s] = p - q;
	o[3 * s] = r + t;
	o[4 * s] = r - t;
	o[5 * s] = 4.0f * d1 - 5.0f * d3 + d5;
}

INLINE void at2(vf *o, const vf *d, int s) /* A^T, m = 2 */
{
	o[0] = d[0] + d[s] + d[2 * s];
	o[s] = d[s] - d[2 * s] - d[3 * s];
}

INLINE void at4(vf *o, const vf *d, int s) /* A^T, m = 4 */
{
	const vf d1 = d[s], d2 = d[2 * s], d3 = d[3 * s], d4 = d[4 * s];
	const vf p = d1 + d2, q = d1 - d2, r = d3 + d4, t = d3 - d4;

	o[0] = d[0] + p + r;
	o[s] = q + 2.0f * t;
	o[2 * s] = p + 4.0f * r;
	o[3 * s] = q + 8.0f * t + d[5 * s];
}

/* Zero-padded image planes, staged on the stack so that the tiles need no
 * edge checks: one pixel of zeros up and left, zeros down and right up to
 * a whole number of tiles; every image of a chunk when they fit. */
#define STAGE 16384

INLINE void stage_plane(float *pad, const float *x, int h, int w, int ph,
                        int pw)
{
	memset(pad, 0, (size_t)pw * sizeof *pad);
	for (int y = 0; y < h; y++) {
		float *row = pad + (size_t)(y + 1) * pw;

		row[0] = 0.0f;
		memcpy(row + 1, x + (size_t)y * w, (size_t)w * sizeof *row);
		memset(row + 1 + w, 0, (size_t)(pw - 1 - w) * sizeof *row);
	}
	memset(pad + (size_t)(h + 1) * pw, 0,
	       (size_t)(ph - 1 - h) * pw * sizeof *pad);
}

/* d[r * 6 + q][k] = pad[base[k] + r * pw + q] for q < 6 (F(4x4)'s 6 x 6
 * patches of TB = 16 tiles): per patch row, the 16 tiles' 8 floats from
 * there (2 past the patch: pad has room) in 8 vectors, tiles k and k + 8
 * in one, then an 8 x 8 transpose in each half. Lane by lane through
 * memory instead stalls store forwarding; AVX-512 gathers measured
 * slower. */
__attribute__((target("avx512f"))) static inline void patches512(
	vf *d, const float *pad, const int32_t *base, int pw)
{
	for (int r = 0; r < 6; r++) {
		__m512 z[8], t[8], u[8];

		/* every loop unrolled: the arrays stay in registers */
#pragma GCC unroll 8
		for (int k = 0; k < 8; k++) {
			const float *lo = pad + base[k] + r * pw;
			const float *hi = pad + base[k + 8] + r * pw;

			z[k] = _mm512_castpd_ps(_mm512_insertf64x4(
				_mm512_castpd256_pd512(_mm256_loadu_pd((const double *)lo)),
				_mm256_loadu_pd((const double *)hi), 1));
		}
		/* rows z[k] = tile k's q 0..7 (both halves): transpose */
#pragma GCC unroll 4
		for (int k = 0; k < 8; k += 2) {
			t[k] = _mm512_unpacklo_ps(z[k], z[k + 1]);
			t[k + 1] = _mm512_unpackhi_ps(z[k], z[k + 1]);
		}
#pragma GCC unroll 2
		for (int k = 0; k < 8; k += 4) {
			u[k] = _mm512_shuffle_ps(t[k], t[k + 2], 0x44);
			u[k + 1] = _mm512_shuffle_ps(t[k], t[k + 2], 0xee);
			u[k + 2] = _mm512_shuffle_ps(t[k + 1], t[k + 3], 0x44);
			u[k + 3] = _mm512_shuffle_ps(t[k + 1], t[k + 3], 0xee);
		}
		/* u[k] holds q = k % 4 of tiles 4 * (k / 4) .. + 3 per 128 bits:
		 * q < 4 from u[q] and u[q + 4]'s lanes 0 and 2 (tiles 0-7 of each
		 * half), q = 4, 5 from their lanes 1 and 3 */
#pragma GCC unroll 6
		for (int q = 0; q < 6; q++) {
			const __m512 a = u[q % 4], b = u[q % 4 + 4];
			const __m512 x = q < 4 ? _mm512_shuffle_f32x4(a, b, 0x88)
			                       : _mm512_shuffle_f32x4(a, b, 0xdd);

			d[r * 6 + q] = (vf)_mm512_shuffle_f32x4(x, x, 0xd8);
		}
	}
}

/* v [a^2, cin, tc] = B^T d B for every a x a input patch d (tiles m apart,
 * starting one pixel up and left of the image) of channel c of images
 * n0 .. n0+nc-1, TB tiles at a time; avx512: patches512 may be used. */
INLINE void input_body(const struct wino_job *j, int c, const int m,
                       const int avx512)
{
	const int a = m + 2, h = j->h, w = j->w;
	const int th = (h + m - 1) / m, tw = (w + m - 1) / m;
	const size_t tc = (size_t)j->nc * th * tw;
	const size_t xs = v_stride(j->wg, tc);
	const float *x0 = j->in + ((size_t)c * j->n + j->n0) * h * w;
	/* channel c of sliver 0 in nn_gemm's packed layout */
	float *out = j->out + (size_t)c * MR;
	const int ph = th * m + 2, pw = tw * m + 2;
	const size_t pplane = (size_t)ph * pw;
	const int staged = pplane * j->nc + 2 <= STAGE;
	float pad[STAGE];
	int32_t base[TB];
	vf d[36], t[36], v[36];

	memset(d, 0, sizeof d);
	if (staged) {
		for (int i = 0; i < j->nc; i++)
			stage_plane(pad + i * pplane, x0 + (size_t)i * h * w, h, w,
			            ph, pw);
		/* read (past the last patch row), never used */
		pad[j->nc * pplane] = pad[j->nc * pplane + 1] = 0.0f;
	}
	for (size_t t0 = 0; t0 < tc; t0 += TB) {
		const int nt = tc - t0 < TB ? (int)(tc - t0) : TB;
		struct tile_pos p = tile_at(t0, th, tw);

		/* d[r * a + q][k] = pixel (r, q) of tile t0 + k */
		if (staged) {
			for (int k = 0; k < TB; k++, tile_next(&p, th, tw))
				base[k] = k < nt ? (int32_t)(p.i * pplane +
				                             (size_t)m * p.ty * pw +
				                             m * p.tx)
				                 : base[0];
			if (avx512 && m == 4)
				patches512(d, pad, base, pw);
			else
				for (int k = 0; k < nt; k++)
					for (int r = 0; r < a; r++)
					for (int q = 0; q < a; q++)
						d[r * a + q][k] =
							pad[base[k] + r * pw + q];
		}
		for (int k = 0; k < nt && !staged; k++, tile_next(&p, th, tw)) {
			const float *x = x0 + (size_t)p.i * h * w;
			const int y0 = m * p.ty - 1, xx0 = m * p.tx - 1;

			if (y0 >= 0 && xx0 >= 0 && y0 + a <= h && xx0 + a <= w) {
				for (int r = 0; r < a; r++)
				for (int q = 0; q < a; q++)
					d[r * a + q][k] =
						x[(size_t)(y0 + r) * w + xx0 + q];
				continue;
			}
			/* on the edge: zeros outside, found row by row */
			const int qlo = xx0 < 0 ? -xx0 : 0;
			const int qhi = w - xx0 < a ? w - xx0 : a;

			for (int r = 0; r < a; r++) {
				const int yy = y0 + r;
				int q = 0;

				if (yy >= 0 && yy < h)
					for (q = qlo; q < qhi; q++)
						d[r * a + q][k] =
							x[(size_t)yy * w + xx0 + q];
				for (int z = 0; z < a; z++)
					if (z < qlo || z >= q)
						d[r * a + z][k] = 0.0f;
			}
		}
		/* columns, then rows */
		for (int q = 0; q < a; q++) {
			if (m == 2)
				bt2(t + q, d + q, a);
			else
				bt4(t + q, d + q, a);
		}
		for (int r = 0; r < a; r++) {
			if (m == 2)
				bt2(v + r * a, t + r * a, 1);
			else
				bt4(v + r * a, t + r * a, 1);
		}
		/* a constant size when whole: one vector store; tiles t0 ..
		 * t0 + TB - 1 lie in one sliver (TB divides MR) */
		float *o = out + t0 / MR * MR * (size_t)j->wg->cin + t0 % MR;

		for (int e = 0; e < a * a; e++) {
			if (nt == TB)
				memcpy(o + e * xs, &v[e], sizeof v[e]);
			else
				memcpy(o + e * xs, &v[e], nt * sizeof(float));
		}
	}
}

/* F(4x4)'s outputs y [16][k] (e = r * 4 + q, lane k = tile t0 + k, bias
 * in, ReLU too unless acc) into dst, plus the residual already there and
 * ReLU when acc: per output row r, a 4 x 4 transpose in each 128-bit lane
 * makes each tile's row 4 adjacent floats, stored 16 bytes at a time
 * (through s, whole vectors, so store forwarding works). */
__attribute__((target("avx512f"))) static inline void outputs512(
	const vf *y, float *y0, const struct wino_job *j, struct tile_pos p,
	int nt, int acc, int relu)
{
	const int h = j->h, w = j->w, th = (h + 3) / 4, tw = (w + 3) / 4;
	float s[4][4][16]; /* [r][tile % 4][16]: tile k's row r at k / 4 * 4 */

#pragma GCC unroll 4
	for (int r = 0; r < 4; r++) {
		const __m512 q0 = (__m512)y[4 * r], q1 = (__m512)y[4 * r + 1];
		const __m512 q2 = (__m512)y[4 * r + 2], q3 = (__m512)y[4 * r + 3];
		const __m512 a = _mm512_unpacklo_ps(q0, q1);
		const __m512 b = _mm512_unpacklo_ps(q2, q3);
		const __m512 c = _mm512_unpackhi_ps(q0, q1);
		const __m512 d = _mm512_unpackhi_ps(q2, q3);

		_mm512_storeu_ps(s[r][0], _mm512_shuffle_ps(a, b, 0x44));
		_mm512_storeu_ps(s[r][1], _mm512_shuffle_ps(a, b, 0xee));
		_mm512_storeu_ps(s[r][2], _mm512_shuffle_ps(c, d, 0x44));
		_mm512_storeu_ps(s[r][3], _mm512_shuffle_ps(c, d, 0xee));
	}
	for (int k = 0; k < nt; k++, tile_next(&p, th, tw)) {
		float *yt = y0 + (size_t)p.i * h * w + (size_t)4 * p.ty * w +
		            4 * p.tx;
		const int rows = h - 4 * p.ty < 4 ? h - 4 * p.ty : 4;
		const int cols = w - 4 * p.tx < 4 ? w - 4 * p.tx : 4;

		for (int r = 0; r < rows; r++) {
			const float *v = &s[r][k % 4][k / 4 * 4];
			float *o = yt + (size_t)r * w;

			if (cols == 4) {
				__m128 x = _mm_loadu_ps(v);

				if (acc) {
					x = _mm_add_ps(x, _mm_loadu_ps(o));
					if (relu)
						x = _mm_max_ps(x, _mm_setzero_ps());
				}
				_mm_storeu_ps(o, x);
				continue;
			}
			for (int q = 0; q < cols; q++) {
				float x = v[q];

				if (acc) {
					x += o[q];
					if (relu)
						x = x > 0.0f ? x : 0.0f;
				}
				o[q] = x;
			}
		}
	}
}

/* Output channel o's tiles = A^T M A + bias (+ old dst, ReLU) from
 * M [a^2, cout, tc]; tiles clipped at the image's right and bottom edges;
 * avx512: outputs512 may be used. */
INLINE void output_body(const struct wino_job *j, int o, const int m,
                        const int avx512)
{
	const int a = m + 2, h = j->h, w = j->w;
	const int th = (h + m - 1) / m, tw = (w + m - 1) / m;
	const size_t tc = (size_t)j->nc * th * tw;
	const size_t xs = plane_stride(j->wg->cout, tc);
	const float *in = j->in + (size_t)o * tc;
	float *y0 = j->out + ((size_t)o * j->n + j->n0) * h * w;
	const float bo = j->wg->b[o];
	vf mv[36], s[24], y[16];

	memset(mv, 0, sizeof mv);
	for (size_t t0 = 0; t0 < tc; t0 += TB) {
		const int nt = tc - t0 < TB ? (int)(tc - t0) : TB;
		struct tile_pos p = tile_at(t0, th, tw);

		for (int e = 0; e < a * a; e++) {
			if (nt == TB)
				memcpy(&mv[e], in + e * xs + t0, sizeof mv[e]);
			else
				memcpy(&mv[e], in + e * xs + t0, nt * sizeof(float));
		}
		/* columns: s [m, a], then rows: y [m, m] */
		for (int q = 0; q < a; q++) {
			if (m == 2)
				at2(s + q, mv + q, a);
			else
				at4(s + q, mv + q, a);
		}
		for (int r = 0; r < m; r++) {
			if (m == 2)
				at2(y + r * m, s + r * a, 1);
			else
				at4(y + r * m, s + r * a, 1);
		}
		for (int e = 0; e < m * m; e++)
			y[e] += bo;
		if (avx512 && m == 4) {
			if (j->relu && !j->accumulate) {
				const vf zero = {0};

				for (int e = 0; e < 16; e++)
					y[e] = (vf)((vi)y[e] & (vi)(y[e] > zero));
			}
			outputs512(y, y0, j, p, nt, j->accumulate, j->relu);
			continue;
		}
		/* the residual already in dst, lane by lane */
		if (j->accumulate) {
			struct tile_pos pp = p;

			for (int k = 0; k < nt; k++, tile_next(&pp, th, tw)) {
				const float *yt = y0 + (size_t)pp.i * h * w +
				                  (size_t)m * pp.ty * w + m * pp.tx;
				const int rows = h - m * pp.ty < m ? h - m * pp.ty : m;
				const int cols = w - m * pp.tx < m ? w - m * pp.tx : m;

				for (int r = 0; r < rows; r++)
				for (int q = 0; q < cols; q++)
					y[r * m + q][k] += yt[(size_t)r * w + q];
			}
		}
		if (j->relu) { /* compare-and-mask: no branch */
			const vf zero = {0};

			for (int e = 0; e < m * m; e++)
				y[e] = (vf)((vi)y[e] & (vi)(y[e] > zero));
		}
		for (int k = 0; k < nt; k++, tile_next(&p, th, tw)) {
			float *yt = y0 + (size_t)p.i * h * w +
			            (size_t)m * p.ty * w + m * p.tx;
			const int rows = h - m * p.ty < m ? h - m * p.ty : m;
			const int cols = w - m * p.tx < m ? w - m * p.tx : m;

			if (rows == m && cols == m) { /* whole: unrolled */
				for (int r = 0; r < m; r++)
				for (int q = 0; q < m; q++)
					yt[(size_t)r * w + q] = y[r * m + q][k];
				continue;
			}
			for (int r = 0; r < rows; r++)
			for (int q = 0; q < cols; q++)
				yt[(size_t)r * w + q] = y[r * m + q][k];
		}
	}
}

/* The same bodies compiled for each tile size and three instruction sets;
 * nn_wino_forward picks by CPU. */
#define WINO_KERNELS(isa, target, avx512)                                    \
	target static void input_##isa(void *arg, int c)                     \
	{                                                                    \
		const struct wino_job *j = arg;                              \
		if (j->wg->m == 4)                                           \
			input_body(j, c, 4, avx512);                         \
		else                                                         \
			input_body(j, c, 2, avx512);                         \
	}                                                                    \
	target static void output_##isa(void *arg, int o)                    \
	{                                                                    \
		const struct wino_job *j = arg;                              \
		if (j->wg->m == 4)                                           \
			output_body(j, o, 4, avx512);                        \
		else                                                         \
			output_body(j, o, 2, avx512);                        \
	}
WINO_KERNELS(avx512, __attribute__((target("avx512f"))), 1)
WINO_KERNELS(avx2, __attribute__((target("avx2,fma"))), 0)
WINO_KERNELS(generic, , 0)

void nn_wino_forward(const nn_wino *wg, const float *src, int n, int h, int w,
                     float *dst, float *scratch, size_t scratch_floats,
                     int relu, int accumulate, nn_pool *pool)
{
	const int a = wg->m + 2;
	const size_t tpi = tiles_per_image(wg->m, h, w);
	const int chunk = (int)chunk_images(wg, n, h, w, scratch_floats);
	void (*input)(void *, int) = input_generic;
	void (*output)(void *, int) = output_generic;

	/* the transforms for the instruction set of the GEMM kernels */
	if (wg->u.isa == NN_AVX512)
		input = input_avx512, output = output_avx512;
	else if (wg->u.isa == NN_AVX2)
		input = input_avx2, output = output_avx2;
	for (int n0 = 0; n0 < n; n0 += chunk) {
		const int nc = n - n0 < chunk ? n - n0 : chunk;
		const size_t tc = (size_t)nc * tpi;
		const size_t vs = v_stride(wg, tc);
		const size_t ms = plane_stride(wg->cout, tc);
		float *v = scratch;              /* [a^2][cin, tc] packed */
		float *m = scratch + a * a * vs; /* [a^2][cout, tc], ms apart */

		struct wino_job in = {wg, src, v, n, h, w, n0, nc, 0, 0};
		struct wino_job out = {wg, m, dst, n, h, w, n0, nc, relu,
		                       accumulate};
		nn_pool *tp = nn_pool_worth(pool, a * a * (vs + ms));

		/* by input channel, then the a^2 products [cout, cin] x
		 * [cin, tc], then by output channel */
		nn_pool_for(tp, wg->cin, input, &in);
		nn_gemm(&wg->u, NULL, v, 0, vs, m, tc, ms, tc, 0, 0, pool);
		nn_pool_for(tp, wg->cout, output, &out);
	}
}
