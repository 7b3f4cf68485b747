/* jpeg_walk.c — a fast accept path for JPEG validation: walks every
 * entropy-coded segment of the common JPEGs (8-bit Huffman, baseline,
 * extended or progressive, gray or YCbCr), decoding every Huffman symbol, but
 * keeps only the DC values of the first component: at 1/8 scale libjpeg-turbo
 * turns each of its blocks into one pixel, and that picture is all the dHash
 * is made of. It never stores an AC coefficient; a progressive file costs one
 * 64-bit "which coefficients are nonzero" mask per block, which is what AC
 * refinement scans need to know how many correction bits follow.
 *
 * The contract with jpeg.c (img_jpeg_validate_lib, libjpeg-turbo 2.1):
 *  1. When the walk accepts, libjpeg-turbo accepts too and its 1/8-scale
 *     grayscale output, hence the dHash, is the same: only the markers,
 *     parameters and bitstream layouts below, checked as libjpeg-turbo does.
 *  2. It never rejects. Anything unusual and anything libjpeg-turbo could
 *     warn about (premature end of a segment, a bad Huffman code, bytes
 *     before a marker, a wrong restart marker, an odd progression) hands the
 *     file back, so verdicts and messages on damaged files stay libjpeg's.
 *  3. Memory: tables and state of fixed size; a baseline single-scan file
 *     needs one row of blocks, a multi-scan one 2 bytes per block of the
 *     first component (+8 per block of every component if progressive),
 *     against libjpeg-turbo's 128 per block for the same file. */
#include <stdlib.h>
#if defined(__x86_64__) && defined(__GNUC__) && !defined(NATADV_NO_PDEP)
#include <cpuid.h>
#endif
#include <string.h>

#include "image/jpeg_walk.h"

/* Huffman codes up to this long, with their extra bits when those fit too,
 * resolve in one table lookup; longer ones take the canonical slow path. */
#define FAST_BITS 12
/* libjpeg-turbo stops at 500 scans; real encoders write about ten. */
#define MAX_SCANS 100
/* Multi-scan files make libjpeg-turbo buffer every coefficient, and past
 * IMG_JPEG_MAX_MEMORY it fails: leave anything near that to it. */
#define MAX_COEF_BYTES ((uint64_t)200 << 20)
#define MAX_DIMENSION 65500 /* libjpeg's JPEG_MAX_DIMENSION */

enum { KIND_DC = 1, KIND_AC_SEQ, KIND_AC_PROG };

/* A lookup entry: bits 0-5 how many bits to drop; E_FULL when that count
 * includes the extra bits; bits 8-15 the symbol; bits 16-31 the value of the
 * extra bits (DC difference, AC coefficient or EOB run length; int16) or, in
 * sequential AC tables, how far the zigzag index advances (64 at EOB).
 * 0 means no code of up to FAST_BITS bits starts here. */
#define E_LEN(e) ((int)((e) & 63u))
#define E_FULL 64u
#define E_SYM(e) ((int)(((e) >> 8) & 255u))
#define E_VAL(e) ((int)(int16_t)(uint16_t)((e) >> 16))
#define E_ADV(e) ((int)((e) >> 16))
/* Sequential AC tables, whose values are never needed, resolve up to
 * MAX_PAIRED whole symbols per lookup. P_LEN (bits 0-4) bits to drop for all
 * of them, P_ADV (5-11) how far the zigzag index advances, P_ADVB (12-18)
 * the advance of all but the last. When P_LEN is 0, P_LEN1 (5-9) is the
 * code length (0: longer than FAST_BITS) and P_SYM (10-17) the symbol,
 * whose extra bits follow. */
#define MAX_PAIRED 4
#define P_LEN(e) ((int)((e) & 31u))
#define P_ADV(e) ((int)(((e) >> 5) & 127u))
#define P_ADVB(e) ((int)(((e) >> 12) & 127u))
#define P_LEN1(e) ((int)(((e) >> 5) & 31u))
#define P_SYM(e) ((int)(((e) >> 10) & 255u))

typedef struct jw_table {  /* a DHT table as defined */
	uint8_t bits[17];
	uint8_t val[256];
	int defined;
} jw_table;

/* A table ready for decoding. It stays in the context after the file and
 * is reused when a later file defines the same table (many encoders write
 * the same few): filling 4096 entries per table is not free next to walking
 * a small photo. */
typedef struct jw_huff {
	int kind;              /* 0: none built */
	jw_table src;          /* the definition it was built from */
	int32_t maxcode[18];   /* largest code of each length, -1 if none */
	int32_t valoff[18];    /* symbol index of a code of that length, minus the code */
	const uint8_t *val;
	uint32_t fast[1u << FAST_BITS];
} jw_huff;

typedef struct jw_comp {
	int id, h, v, tq;
	int td, ta;            /* Huffman tables of the current scan */
	uint32_t wib, hib;     /* size in blocks */
	int scans;             /* sequential: scans that held it */
	int8_t coef_bits[64];  /* progressive: Al of the last scan of each coefficient, -1 none */
	uint64_t *nz;          /* progressive: per block, bit k = zigzag coefficient k is nonzero */
} jw_comp;

enum { STOP_NONE = 0, STOP_MARKER, STOP_EOF, STOP_FILL };

typedef struct jw_br {  /* bit reader over one entropy-coded segment */
	uint64_t buf;  /* next bits, MSB first; below cnt only zeros or the true next bits */
	int cnt;       /* valid bits in buf; negative once more were read than the segment has */
	int stop;      /* why p stopped: at a marker, at the end of data, at 0xff 0xff */
	const uint8_t *p, *end;
} jw_br;

typedef struct jw_blk {  /* one block of an MCU */
	int ci;          /* frame component */
	int sc;          /* its index in the scan (DC predictor) */
	uint32_t dx, dy; /* offset in the component's MCU, in blocks */
	const jw_huff *dc, *ac;
} jw_blk;

typedef struct jw_scan {
	int n, ci[4];
	int Ss, Se, Ah, Al;
	uint32_t mcux, mcuy;
	int nblk;
	jw_blk blk[10];  /* libjpeg's D_MAX_BLOCKS_IN_MCU */
} jw_scan;

typedef struct jw {
	const uint8_t *d;
	size_t len, pos;
	const char *why;
	/* tables */
	jw_table tab[2][4];  /* [0] DC, [1] AC */
	int qdef[4];
	int q0tab[4];        /* DC quantiser of each table */
	unsigned restart_interval;
	/* frame */
	int sof, progressive, nc, maxh, maxv;
	uint32_t width, height;
	jw_comp comp[3];
	int saw_jfif, saw_adobe, adobe_transform;
	/* scans */
	int scans, multi, q0;
	int16_t *dc0;        /* multi-scan: DC coefficient of each block of component 0 */
	uint8_t *row;        /* single-scan: the pixels of one MCU row; multi-scan: one row */
	uint32_t row_w;
	img_dhash_acc acc;
	/* kept across files from here on */
	jw_huff dc[4], ac[4];
	uint8_t sel8[256][8];  /* sel8[v][r]: the bit of v with r set bits below */
	int pdep;              /* pdep_is_fast() */
} jw;

#define FAIL(j, msg) ((j)->why = (msg), -1)
/* The bit reader must stay in registers: every function that takes its
 * address is inlined, and the slow refill takes and returns it by value. */
#define HOT static inline __attribute__((always_inline))

static uint32_t be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t div_up(uint32_t a, uint32_t b)
{
	return (uint32_t)(((uint64_t)a + b - 1) / b);
}

/* ---- Huffman tables ---- */

static int extend(uint32_t x, int s)
{
	return x < (1u << (s - 1)) ? (int)x - (1 << s) + 1 : (int)x;
}

/* Turns a sequential AC table of single symbols into the layout above: the
 * following whole symbols join the first while their code and extra bits
 * are inside the lookup too and no end of block came first. */
static void pair_symbols(jw_huff *h)
{
	enum { N = 1u << FAST_BITS };
	uint32_t one[N];
	memcpy(one, h->fast, sizeof one);
	for (uint32_t i = 0; i < N; i++) {
		uint32_t e1 = one[i];
		if (!(e1 & E_FULL)) {
			h->fast[i] = e1 ? (uint32_t)E_LEN(e1) << 5 | (uint32_t)E_SYM(e1) << 10 : 0;
			continue;
		}
		uint32_t len = 0, adv = 0, advb = 0;
		for (int n = 0; n < MAX_PAIRED && adv < 64 && len < FAST_BITS; n++) {
			uint32_t e = one[(i << len) & (N - 1)];
			if (!(e & E_FULL) || (uint32_t)E_LEN(e) > FAST_BITS - len)
				break;
			advb = adv;
			len += (uint32_t)E_LEN(e);
			adv += (uint32_t)E_ADV(e);
		}
		h->fast[i] = len | adv << 5 | advb << 12;
	}
}

/* Builds h from t with libjpeg's checks (Annex C code assignment; no code
 * may be all ones; DC symbols 0..15). 0 or -1 when libjpeg would fail. */
static int huff_build(jw_huff *h, const jw_table *t, int kind)
{
	uint8_t size[257];
	uint32_t code_of[257];
	int n = 0;
	for (int l = 1; l <= 16; l++) {
		if (n + t->bits[l] > 256)
			return -1;
		for (int i = 0; i < t->bits[l]; i++)
			size[n++] = (uint8_t)l;
	}
	size[n] = 0;
	uint32_t code = 0;
	int si = size[0], p = 0;
	while (size[p]) {
		while (size[p] == si)
			code_of[p++] = code++;
		if (code >= (1u << si))
			return -1;
		code <<= 1;
		si++;
	}
	if (kind == KIND_DC)
		for (int i = 0; i < n; i++)
			if (t->val[i] > 15)
				return -1;
	p = 0;
	for (int l = 1; l <= 16; l++) {
		if (t->bits[l]) {
			h->valoff[l] = p - (int32_t)code_of[p];
			p += t->bits[l];
			h->maxcode[l] = (int32_t)code_of[p - 1];
		} else {
			h->maxcode[l] = -1;
		}
	}
	h->src = *t;
	h->val = h->src.val;
	memset(h->fast, 0, sizeof h->fast);
	for (p = 0; p < n; p++) {
		int l = size[p];
		if (l > FAST_BITS)
			break;
		int sym = t->val[p], s = sym & 15, r = sym >> 4;
		int extra = kind == KIND_DC ? sym : s ? s : kind == KIND_AC_PROG && r != 15 ? r : 0;
		int adv = s ? r + 1 : r == 15 ? 16 : 64;
		uint32_t base = code_of[p] << (FAST_BITS - l), span = 1u << (FAST_BITS - l);
		for (uint32_t i = 0; i < span; i++) {
			uint32_t e = (uint32_t)l | (uint32_t)sym << 8;
			if (kind == KIND_AC_SEQ)
				e |= (uint32_t)adv << 16;
			if (l + extra <= FAST_BITS) {
				uint32_t x = extra ? (i >> (FAST_BITS - l - extra)) & ((1u << extra) - 1) : 0;
				int val = 0;
				if (kind == KIND_DC)
					val = s ? extend(x, s) : 0;
				else if (kind == KIND_AC_PROG)
					val = s ? extend(x, s) : r == 15 ? 0 : (1 << r) + (int)x;
				e = (uint32_t)(l + extra) | E_FULL | (uint32_t)sym << 8 |
				    (kind == KIND_AC_SEQ ? (uint32_t)adv << 16 : (uint32_t)(uint16_t)val << 16);
			}
			h->fast[base + i] = e;
		}
	}
	if (kind == KIND_AC_SEQ)
		pair_symbols(h);
	h->kind = kind;
	return 0;
}

static const jw_huff *huff_get(jw *j, int ac, int slot, int kind)
{
	if (slot > 3 || !j->tab[ac][slot].defined) {
		j->why = "scan uses an undefined huffman table";
		return NULL;
	}
	jw_huff *h = ac ? &j->ac[slot] : &j->dc[slot];
	const jw_table *t = &j->tab[ac][slot];
	if (h->kind == kind && memcmp(h->src.bits, t->bits, sizeof t->bits) == 0 &&
	    memcmp(h->src.val, t->val, sizeof t->val) == 0)
		return h;
	if (huff_build(h, t, kind)) {
		h->kind = 0;
		j->why = "bad huffman table";
		return NULL;
	}
	return h;
}

/* A code of length from or more, by the canonical order (T.81 F.16): for
 * codes longer than FAST_BITS, or from 1 when a lookup does not fit. Returns
 * the symbol and its length, or -1 for a bad code. */
static int slow_sym(const jw_huff *h, uint64_t bits, int from, int *len)
{
	for (int l = from; l <= 16; l++) {
		int32_t code = (int32_t)(bits >> (64 - l));
		if (code <= h->maxcode[l]) {
			int32_t i = code + h->valoff[l];
			if (i < 0 || i > 255)
				return -1;
			*len = l;
			return h->val[i];
		}
	}
	return -1;
}

/* ---- bit reader ---- */

static inline uint64_t load_be64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static __attribute__((noinline)) jw_br br_fill_slow(jw_br b)
{
	while (!b.stop && b.cnt <= 56) {
		if (b.p >= b.end) {
			b.stop = STOP_EOF;
			break;
		}
		unsigned c = *b.p;
		if (c == 0xff) {
			if (b.end - b.p < 2) {
				b.stop = STOP_EOF;
				break;
			}
			if (b.p[1] != 0) {
				b.stop = b.p[1] == 0xff ? STOP_FILL : STOP_MARKER;
				break;
			}
			b.p += 2;
		} else {
			b.p++;
		}
		b.buf |= (uint64_t)c << (56 - b.cnt);
		b.cnt += 8;
	}
	return b;
}

/* Tops buf up to at least 56 bits unless the segment ends first. The fast
 * case loads 8 bytes with no 0xff among them at once (stuffed bytes and
 * markers are rare); bytes loaded beyond the count stay as true next bits. */
HOT void br_fill(jw_br *b)
{
	if (b->end - b->p >= 8) {
		uint64_t v = load_be64(b->p), x = ~v;
		if (!((x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull)) {
			b->buf |= v >> b->cnt;
			b->p += (63 - b->cnt) >> 3;
			b->cnt |= 56;
			return;
		}
	}
	*b = br_fill_slow(*b);
}

HOT void br_drop(jw_br *b, int n)
{
	b->buf <<= n;
	b->cnt -= n;
}

HOT uint32_t br_get(jw_br *b, int n)  /* 1 <= n <= 16 */
{
	if (b->cnt < 16)
		br_fill(b);
	uint32_t x = (uint32_t)(b->buf >> (64 - n));
	br_drop(b, n);
	return x;
}

HOT void br_skip(jw_br *b, int n)
{
	while (n > 0) {
		if (b->cnt < 32)
			br_fill(b);
		int k = n < 32 ? n : 32;
		br_drop(b, k);
		n -= k;
	}
}

/* Decodes one symbol; *val gets the value of its extra bits as the table's
 * kind defines it (not for KIND_AC_SEQ). Returns the symbol or -1. */
HOT int dec_val(jw_br *b, const jw_huff *h, int *val)
{
	if (b->cnt < 16)
		br_fill(b);
	uint32_t e = h->fast[b->buf >> (64 - FAST_BITS)];
	if (e & E_FULL) {
		br_drop(b, E_LEN(e));
		*val = E_VAL(e);
		return E_SYM(e);
	}
	int sym, l;
	if (e) {
		sym = E_SYM(e);
		l = E_LEN(e);
	} else {
		sym = slow_sym(h, b->buf, FAST_BITS + 1, &l);
		if (sym < 0)
			return -1;
	}
	br_drop(b, l);
	int s = h->kind == KIND_DC ? sym : sym & 15, r = sym >> 4;
	if (s)
		*val = extend(br_get(b, s), s);
	else if (h->kind == KIND_AC_PROG && r != 15)
		*val = (1 << r) + (r ? (int)br_get(b, r) : 0);
	else
		*val = 0;
	return sym;
}

/* The AC coefficients of one block of a sequential scan, values skipped. */
HOT int skip_ac_seq(jw_br *b, const jw_huff *h)
{
	for (int k = 1; k < 64;) {
		if (b->cnt < FAST_BITS)
			br_fill(b);
		uint32_t e = h->fast[b->buf >> (64 - FAST_BITS)];
		int sym, l;
		if (P_LEN(e)) {
			/* all symbols, unless one before the last ends the block */
			if (k + P_ADVB(e) < 64) {
				br_drop(b, P_LEN(e));
				k += P_ADV(e);
				continue;
			}
			sym = slow_sym(h, b->buf, 1, &l);
		} else if (P_LEN1(e)) {
			sym = P_SYM(e);
			l = P_LEN1(e);
		} else {
			if (b->cnt < 16)
				br_fill(b);
			sym = slow_sym(h, b->buf, FAST_BITS + 1, &l);
		}
		if (sym < 0)
			return -1;
		br_drop(b, l);
		int s = sym & 15, r = sym >> 4;
		if (s) {
			if (b->cnt < 16)
				br_fill(b);
			br_drop(b, s);
			k += r + 1;
		} else {
			k += r == 15 ? 16 : 64;
		}
	}
	return 0;
}

/* Bits set in x. The builtin is a library call without -mpopcnt, which the
 * portable build does not assume. */
static inline int popcount64(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (int)((x * 0x0101010101010101ull) >> 56);
}

/* Position of the set bit of x that has r set bits below it, or 64 when x
 * has no more than r bits set; *count gets the bits set in x. Branch-free:
 * byte counts by SWAR, the byte by a bytewise compare, the bit from sel8. */
static inline int select64(const uint8_t (*sel8)[8], uint64_t x, int r, int *count)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t c = x - ((x >> 1) & 0x5555555555555555ull);
	c = (c & 0x3333333333333333ull) + ((c >> 2) & 0x3333333333333333ull);
	c = ((c + (c >> 4)) & 0x0f0f0f0f0f0f0f0full) * ones;  /* byte i: bits in bytes 0..i */
	*count = (int)(c >> 56);
	uint64_t le = (((uint64_t)r * ones | highs) - c) & highs;  /* bytes with count <= r */
	int byte = (int)(((le >> 7) * ones) >> 56);
	if (byte == 8)
		return 64;
	int below = (int)(((c << 8) >> (8 * byte)) & 255u);
	return 8 * byte + sel8[(x >> (8 * byte)) & 255u][r - below];
}

/* ---- the 1/8-scale picture ---- */

/* libjpeg's 1x1 IDCT: dequantise, divide by 8 rounding, and its post-IDCT
 * range-limit table, which clamps -512..511 and wraps beyond. */
static inline uint8_t dc_pixel(int coef, int q)
{
	int v = (coef * q + 4) >> 3;
	unsigned i = (unsigned)v & 1023u;
	return (uint8_t)(i < 128 ? i + 128 : i < 512 ? 255 : i < 896 ? 0 : i - 896);
}

/* At a restart interval's end or a scan's end the segment must be used up to
 * its last byte (fewer than 8 bits left) and a marker must follow. */
HOT int segment_end(jw *j, jw_br *b)
{
	if (b->cnt < 0)
		return FAIL(j, "premature end of data segment");
	br_fill(b);
	if (b->stop != STOP_MARKER)
		return FAIL(j, b->stop == STOP_EOF ? "premature end of data" : "fill bytes in data");
	if (b->cnt >= 8)
		return FAIL(j, "extraneous bytes before marker");
	return 0;
}

HOT int restart(jw *j, jw_br *b, int *next_rst)
{
	if (segment_end(j, b))
		return -1;
	if (b->p[1] != 0xd0 + *next_rst)
		return FAIL(j, "wrong restart marker");
	b->p += 2;
	b->buf = 0;
	b->cnt = 0;
	b->stop = STOP_NONE;
	*next_rst = (*next_rst + 1) & 7;
	return 0;
}

/* ---- scans ---- */

/* MCU layout of a scan; -1 when an MCU would hold more than the 10 blocks
 * libjpeg allows (D_MAX_BLOCKS_IN_MCU), checked before s->blk is written. */
static int scan_geometry(jw *j, jw_scan *s)
{
	s->nblk = 0;
	if (s->n == 1) {
		jw_comp *c = &j->comp[s->ci[0]];
		s->mcux = c->wib;
		s->mcuy = c->hib;
		s->blk[0] = (jw_blk){s->ci[0], 0, 0, 0, NULL, NULL};
		s->nblk = 1;
		return 0;
	}
	s->mcux = div_up(j->width, 8u * (uint32_t)j->maxh);
	s->mcuy = div_up(j->height, 8u * (uint32_t)j->maxv);
	int total = 0;
	for (int i = 0; i < s->n; i++)
		total += j->comp[s->ci[i]].h * j->comp[s->ci[i]].v;
	if (total > 10)
		return -1;
	for (int i = 0; i < s->n; i++) {
		jw_comp *c = &j->comp[s->ci[i]];
		for (int y = 0; y < c->v; y++)
			for (int x = 0; x < c->h; x++)
				s->blk[s->nblk++] = (jw_blk){s->ci[i], i, (uint32_t)x, (uint32_t)y, NULL, NULL};
	}
	return 0;
}

/* Block (x, y) of component ci for block bi of MCU (mx, my). */
static inline void blk_pos(const jw *j, const jw_scan *s, const jw_blk *bk, uint32_t mx,
                           uint32_t my, uint32_t *x, uint32_t *y)
{
	if (s->n == 1) {
		*x = mx;
		*y = my;
	} else {
		*x = mx * (uint32_t)j->comp[bk->ci].h + bk->dx;
		*y = my * (uint32_t)j->comp[bk->ci].v + bk->dy;
	}
}

/* Sequential scan (baseline or extended). Single-scan files go straight to
 * the dHash one MCU row at a time; multi-scan ones keep component 0's DCs. */
static int scan_seq(jw *j, jw_scan *s)
{
	jw_br b = {0, 0, STOP_NONE, j->d + j->pos, j->d + j->len};
	unsigned ri = j->restart_interval, togo = ri;
	int next_rst = 0, pred0 = 0, q0 = j->q0;
	uint32_t wib0 = j->comp[0].wib, hib0 = j->comp[0].hib;
	int rows = s->n == 1 ? 1 : j->comp[0].v;
	for (uint32_t my = 0; my < s->mcuy; my++) {
		for (uint32_t mx = 0; mx < s->mcux; mx++) {
			if (ri) {
				if (togo == 0) {
					if (restart(j, &b, &next_rst))
						return -1;
					pred0 = 0;
					togo = ri;
				}
				togo--;
			}
			for (int bi = 0; bi < s->nblk; bi++) {
				const jw_blk *bk = &s->blk[bi];
				int v;
				if (dec_val(&b, bk->dc, &v) < 0)
					return FAIL(j, "bad huffman code");
				if (bk->ci == 0) {
					/* libjpeg-turbo keeps the predictor in an int and lets
					 * it wrap; only its low 16 bits reach the block */
					pred0 = (int)((unsigned)pred0 + (unsigned)v);
					uint32_t x, y;
					blk_pos(j, s, bk, mx, my, &x, &y);
					if (!j->multi)
						j->row[(y - my * (uint32_t)rows) * j->row_w + x] =
						        dc_pixel((int16_t)pred0, q0);
					else if (x < wib0 && y < hib0)
						j->dc0[(size_t)y * wib0 + x] = (int16_t)pred0;
				}
				if (skip_ac_seq(&b, bk->ac))
					return FAIL(j, "bad huffman code");
			}
		}
		if (b.cnt < 0)
			return FAIL(j, "premature end of data segment");
		if (!j->multi)
			for (int r = 0; r < rows; r++)
				img_dhash_add(&j->acc, my * (uint32_t)rows + (uint32_t)r, 0, 1, wib0,
				              j->row + (size_t)r * j->row_w, 1);
	}
	if (segment_end(j, &b))
		return -1;
	j->pos = (size_t)(b.p - j->d);
	return 0;
}

/* One block of an AC first scan (T.81 G.1.2.2): only which coefficients end
 * up nonzero is kept. Out-of-band runs land where libjpeg puts them: zigzag
 * index k, or 63 past the end (its natural-order table's extra entries). */
HOT int ac_first_block(jw_br *b, const jw_huff *h, const jw_scan *s, unsigned *eobrun,
                          uint64_t *nzp)
{
	if (*eobrun) {
		(*eobrun)--;
		return 0;
	}
	uint64_t nz = *nzp;
	for (int k = s->Ss; k <= s->Se; k++) {
		int val, sym = dec_val(b, h, &val);
		if (sym < 0)
			return -1;
		int r = sym >> 4;
		if (sym & 15) {
			k += r;
			uint64_t bit = 1ull << (k < 63 ? k : 63);
			/* stored as (JCOEF)(val << Al): may wrap to 0 */
			if ((uint16_t)((uint32_t)val << s->Al))
				nz |= bit;
			else
				nz &= ~bit;
		} else if (r == 15) {
			k += 15;
		} else {
			*eobrun = (unsigned)val - 1;
			break;
		}
	}
	*nzp = nz;
	return 0;
}

/* pdep and popcnt for the refinement scans, where the next coefficient to
 * visit is "the (r+1)-th zero from here": by inline assembly, used only when
 * the CPU has them and its pdep is fast (pdep_is_fast), so that the portable
 * build needs no -mbmi2. */
/* NATADV_NO_PDEP: build as where there is none (to check that build). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(NATADV_NO_PDEP)
#define HAVE_PDEP_ASM 1
static inline uint64_t asm_pdep(uint64_t src, uint64_t mask)
{
	uint64_t r;
	__asm__("pdep %2, %1, %0" : "=r"(r) : "r"(src), "r"(mask));
	return r;
}

static inline int asm_popcnt(uint64_t x)
{
	uint64_t r;
	__asm__("popcnt %1, %0" : "=r"(r) : "r"(x) : "cc");
	return (int)r;
}
#else
#define HAVE_PDEP_ASM 0
#endif

/* Whether this CPU has pdep and popcnt at all. */
static int pdep_is_there(void)
{
#if HAVE_PDEP_ASM
	return __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
#else
	return 0;
#endif
}

/* Whether this CPU runs pdep in a few cycles: Intel's since Haswell and
 * AMD's since Zen 3 (family 0x19); AMD's earlier ones microcode it. */
static int pdep_is_fast(void)
{
#if HAVE_PDEP_ASM
	if (!pdep_is_there())
		return 0;
	if (__builtin_cpu_is("intel"))
		return 1;
	unsigned a, b, c, d;
	if (!__builtin_cpu_is("amd") || !__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	unsigned family = (a >> 8) & 15u;
	if (family == 15)
		family += (a >> 20) & 255u;
	return family >= 0x19;
#else
	return 0;
#endif
}

/* One block of an AC refinement scan (T.81 G.1.2.3). A correction bit
 * follows for every already-nonzero coefficient passed over, and never
 * changes which coefficients are nonzero, so only their count matters.
 * fast (a constant where inlined): pdep finds the next zero to stop at. */
HOT int ac_refine_block(jw *j, jw_br *b, const jw_huff *h, const jw_scan *s, unsigned *eobrun,
                        uint64_t *nzp, int fast)
{
	(void)fast;  /* unused where there is no pdep */
	uint64_t nz = *nzp;
	const int Se = s->Se;
	uint64_t band = Se == 63 ? ~0ull : (1ull << (Se + 1)) - 1;  /* bits 0..Se */
	int k = s->Ss;
	if (*eobrun == 0) {
		while (k <= Se) {
			/* topped up past dec_val's need, so that the correction bits
			 * below usually fit without another refill */
			if (b->cnt < 32)
				br_fill(b);
			int val, sym = dec_val(b, h, &val);
			if (sym < 0)
				return FAIL(j, "bad huffman code");
			int r = sym >> 4, sz = sym & 15;
			if (sz == 0 && r != 15) {
				*eobrun = (unsigned)val;
				break;
			}
			if (sz > 1)
				return FAIL(j, "refinement coefficient of size other than 1");
			/* pass r zero coefficients (16 for ZRL); stop at the next zero,
			 * isolated in stop (0 when the band has no such zero) */
			uint64_t above = ~0ull << k, zeros = ~nz & band & above, stop;
			int passed;
#if HAVE_PDEP_ASM
			if (fast) {
				stop = asm_pdep(1ull << r, zeros);
				passed = asm_popcnt(nz & band & above & (stop ? stop - 1 : ~0ull));
			} else
#endif
			{
				int t, nzeros = 0;
				if (r <= 2) {
					/* the common short runs: drop r low bits without branches */
					uint64_t z1 = zeros & (zeros - 1), z2 = z1 & (z1 - 1);
					uint64_t zr = r == 0 ? zeros : r == 1 ? z1 : z2;
					t = zr ? __builtin_ctzll(zr) : 64;
					if (t == 64)
						nzeros = popcount64(zeros);
				} else {
					t = select64(j->sel8, zeros, r, &nzeros);
				}
				stop = t < 64 ? 1ull << t : 0;
				/* every position passed is nonzero but the r zeros */
				passed = t < 64 ? t - k - r : Se + 1 - k - nzeros;
			}
			if (passed > b->cnt)
				br_skip(b, passed);
			else
				br_drop(b, passed);
			if (!stop) {
				k = Se + 1;
				if (sz)
					nz |= 1ull << (k < 63 ? k : 63);
				break;
			}
			if (sz)
				nz |= stop;
			k = __builtin_ctzll(stop) + 1;
		}
	}
	if (*eobrun > 0) {
		if (k <= Se)
			br_skip(b, popcount64(nz & (~0ull << k) & band));
		(*eobrun)--;
	}
	*nzp = nz;
	return 0;
}

HOT int scan_prog_t(jw *j, jw_scan *s, int fast)
{
	jw_br b = {0, 0, STOP_NONE, j->d + j->pos, j->d + j->len};
	unsigned ri = j->restart_interval, togo = ri, eobrun = 0;
	int next_rst = 0, pred[4] = {0, 0, 0, 0};
	uint32_t wib0 = j->comp[0].wib, hib0 = j->comp[0].hib;
	int dc = s->Ss == 0;
	for (uint32_t my = 0; my < s->mcuy; my++) {
		for (uint32_t mx = 0; mx < s->mcux; mx++) {
			if (ri) {
				if (togo == 0) {
					if (restart(j, &b, &next_rst))
						return -1;
					memset(pred, 0, sizeof pred);
					eobrun = 0;
					togo = ri;
				}
				togo--;
			}
			if (!dc) {
				jw_comp *c = &j->comp[s->ci[0]];
				uint64_t *nz = &c->nz[(size_t)my * c->wib + mx];
				if (s->Ah == 0) {
					if (ac_first_block(&b, s->blk[0].ac, s, &eobrun, nz))
						return FAIL(j, "bad huffman code");
				} else if (ac_refine_block(j, &b, s->blk[0].ac, s, &eobrun, nz, fast)) {
					return -1;
				}
				continue;
			}
			for (int bi = 0; bi < s->nblk; bi++) {
				const jw_blk *bk = &s->blk[bi];
				uint32_t x, y;
				blk_pos(j, s, bk, mx, my, &x, &y);
				int real0 = bk->ci == 0 && x < wib0 && y < hib0;
				if (s->Ah == 0) {
					int v;
					if (dec_val(&b, bk->dc, &v) < 0)
						return FAIL(j, "bad huffman code");
					/* jdphuff.c fails on an overflowing predictor */
					if (__builtin_add_overflow(pred[bk->sc], v, &pred[bk->sc]))
						return FAIL(j, "dc predictor overflow");
					if (real0)
						j->dc0[(size_t)y * wib0 + x] =
						        (int16_t)(uint16_t)((uint32_t)pred[bk->sc] << s->Al);
				} else {
					if (b.cnt < 1)
						br_fill(&b);
					int bit = (int)(b.buf >> 63);
					br_drop(&b, 1);
					if (real0 && bit)
						j->dc0[(size_t)y * wib0 + x] |= (int16_t)(1 << s->Al);
				}
			}
		}
		if (b.cnt < 0)
			return FAIL(j, "premature end of data segment");
	}
	if (segment_end(j, &b))
		return -1;
	j->pos = (size_t)(b.p - j->d);
	return 0;
}

/* Two copies of the progressive scan loop, one with pdep. */
static int scan_prog(jw *j, jw_scan *s)
{
	return j->pdep ? scan_prog_t(j, s, 1) : scan_prog_t(j, s, 0);
}

/* ---- markers ---- */

static int get_sof(jw *j, int m, const uint8_t *p, uint32_t n)
{
	if (j->sof)
		return FAIL(j, "second frame header");
	if (m != 0xc0 && m != 0xc1 && m != 0xc2)
		return FAIL(j, "not a huffman baseline, extended or progressive frame");
	if (n < 6 || p[0] != 8)
		return FAIL(j, "not 8-bit");
	j->height = be16(p + 1);
	j->width = be16(p + 3);
	j->nc = p[5];
	if (j->nc != 1 && j->nc != 3)
		return FAIL(j, "not 1 or 3 components");
	if (n != 6 + 3 * (uint32_t)j->nc)
		return FAIL(j, "bad frame header length");
	if (!j->width || !j->height || j->width > MAX_DIMENSION || j->height > MAX_DIMENSION)
		return FAIL(j, "bad dimensions");
	j->sof = 1;
	j->progressive = m == 0xc2;
	j->maxh = j->maxv = 1;
	for (int i = 0; i < j->nc; i++) {
		jw_comp *c = &j->comp[i];
		const uint8_t *q = p + 6 + 3 * i;
		c->id = q[0];
		c->h = q[1] >> 4;
		c->v = q[1] & 15;
		c->tq = q[2];
		if (c->h < 1 || c->h > 4 || c->v < 1 || c->v > 4)
			return FAIL(j, "bad sampling factors");
		for (int k = 0; k < i; k++)
			if (j->comp[k].id == c->id)
				return FAIL(j, "duplicate component id");
		j->maxh = c->h > j->maxh ? c->h : j->maxh;
		j->maxv = c->v > j->maxv ? c->v : j->maxv;
	}
	/* With component 0 at full sampling libjpeg-turbo scales its blocks to
	 * one pixel each (jdmaster.c); otherwise it would use a larger IDCT. */
	if (j->comp[0].h != j->maxh || j->comp[0].v != j->maxv)
		return FAIL(j, "first component subsampled");
	for (int i = 0; i < j->nc; i++) {
		jw_comp *c = &j->comp[i];
		c->wib = div_up(j->width * (uint32_t)c->h, 8u * (uint32_t)j->maxh);
		c->hib = div_up(j->height * (uint32_t)c->v, 8u * (uint32_t)j->maxv);
		c->scans = 0;
		memset(c->coef_bits, -1, sizeof c->coef_bits);
		c->nz = NULL;
	}
	/* jpeg.c decodes at 1/8 only when that leaves at least 9x8 pixels */
	if (j->comp[0].wib < 9 || j->comp[0].hib < 8)
		return FAIL(j, "too small for a 1/8-scale decode");
	return 0;
}

static int get_dht(jw *j, const uint8_t *p, uint32_t n)
{
	while (n > 16) {
		int index = p[0], count = 0;
		for (int i = 1; i <= 16; i++)
			count += p[i];
		n -= 17;
		if (count > 256 || (uint32_t)count > n)
			return FAIL(j, "bad huffman table");
		int ac = (index & 0x10) != 0;
		int slot = ac ? index - 0x10 : index;
		if (slot < 0 || slot > 3)
			return FAIL(j, "bad huffman table index");
		jw_table *t = &j->tab[ac][slot];
		t->bits[0] = 0;
		memcpy(t->bits + 1, p + 1, 16);
		memcpy(t->val, p + 17, (size_t)count);
		memset(t->val + count, 0, (size_t)(256 - count));
		t->defined = 1;
		p += 17 + count;
		n -= (uint32_t)count;
	}
	if (n != 0)
		return FAIL(j, "bad huffman table length");
	return 0;
}

static int get_dqt(jw *j, const uint8_t *p, uint32_t n)
{
	/* libjpeg latches a component's table at its first scan; keeping to
	 * files that define all tables before that keeps the walk simple */
	if (j->scans)
		return FAIL(j, "quantisation table after a scan");
	while (n > 0) {
		int pq = p[0] >> 4, tq = p[0] & 15;
		if (pq != 0)
			return FAIL(j, "16-bit quantisation table");
		if (tq > 3 || n < 65)
			return FAIL(j, "bad quantisation table");
		j->qdef[tq] = 1;
		j->q0tab[tq] = p[1];
		p += 65;
		n -= 65;
	}
	return 0;
}

/* First SOS: what libjpeg decides once the headers are read. */
static int first_scan(jw *j, img_ctx *ctx, const jw_scan *s)
{
	if (j->nc == 3) {
		/* jdapimin.c: JFIF means YCbCr; else Adobe's transform; else ids */
		if (!j->saw_jfif && j->saw_adobe && j->adobe_transform == 0)
			return FAIL(j, "rgb (adobe transform 0)");
		if (!j->saw_jfif && !j->saw_adobe && j->comp[0].id == 'R' && j->comp[1].id == 'G' &&
		    j->comp[2].id == 'B')
			return FAIL(j, "rgb (component ids)");
	}
	j->multi = j->progressive || s->n < j->nc;
	uint32_t wib0 = j->comp[0].wib, hib0 = j->comp[0].hib;
	size_t need;
	if (j->multi) {
		uint64_t coef = 0;
		for (int i = 0; i < j->nc; i++) {
			jw_comp *c = &j->comp[i];
			coef += (uint64_t)div_up(c->wib, (uint32_t)c->h) * (uint32_t)c->h *
			        div_up(c->hib, (uint32_t)c->v) * (uint32_t)c->v * 128u;
		}
		if (coef > MAX_COEF_BYTES)
			return FAIL(j, "near libjpeg's memory limit");
		size_t blocks = 0;
		if (j->progressive)
			for (int i = 0; i < j->nc; i++)
				blocks += (size_t)j->comp[i].wib * j->comp[i].hib;
		need = blocks * 8 + (size_t)wib0 * hib0 * 2 + wib0;
		j->row_w = wib0;
	} else {
		j->row_w = s->n == 1 ? wib0 : s->mcux * (uint32_t)j->comp[0].h;
		need = (size_t)j->row_w * (size_t)(s->n == 1 ? 1 : j->comp[0].v);
	}
	if (img_scratch_grow(&ctx->jwbuf, need))
		return FAIL(j, "out of memory");
	uint8_t *m = ctx->jwbuf.p;
	if (j->multi) {
		if (j->progressive) {
			for (int i = 0; i < j->nc; i++) {
				size_t nb = (size_t)j->comp[i].wib * j->comp[i].hib;
				j->comp[i].nz = (uint64_t *)(void *)m;
				memset(m, 0, nb * 8);
				m += nb * 8;
			}
		}
		j->dc0 = (int16_t *)(void *)m;
		memset(m, 0, (size_t)wib0 * hib0 * 2);
		m += (size_t)wib0 * hib0 * 2;
	}
	j->row = m;
	img_dhash_init(&j->acc, wib0, hib0);
	return 0;
}

static int get_sos(jw *j, img_ctx *ctx, const uint8_t *p, uint32_t n)
{
	jw_scan s;
	if (!j->sof)
		return FAIL(j, "scan before frame header");
	if (n < 1)
		return FAIL(j, "bad scan header length");
	s.n = p[0];
	if (s.n < 1 || s.n > j->nc || n != 4 + 2 * (uint32_t)s.n)
		return FAIL(j, "bad scan header");
	for (int i = 0; i < s.n; i++) {
		int id = p[1 + 2 * i], ci = -1;
		for (int k = 0; k < j->nc; k++)
			if (j->comp[k].id == id)
				ci = k;
		/* libjpeg-turbo 2.1 may not find components listed out of order */
		if (ci < 0 || (i > 0 && ci <= s.ci[i - 1]))
			return FAIL(j, "bad scan components");
		s.ci[i] = ci;
		j->comp[ci].td = p[2 + 2 * i] >> 4;
		j->comp[ci].ta = p[2 + 2 * i] & 15;
	}
	p += 1 + 2 * s.n;
	s.Ss = p[0];
	s.Se = p[1];
	s.Ah = p[2] >> 4;
	s.Al = p[2] & 15;
	if (++j->scans > MAX_SCANS)
		return FAIL(j, "too many scans");
	if (j->scans > 1 && !j->multi)
		return FAIL(j, "second scan in a single-scan file");
	if (scan_geometry(j, &s))
		return FAIL(j, "too many blocks in an mcu");
	for (int i = 0; i < s.n; i++) {
		jw_comp *c = &j->comp[s.ci[i]];
		if (c->tq > 3 || !j->qdef[c->tq])
			return FAIL(j, "undefined quantisation table");
	}
	if (j->scans == 1 && first_scan(j, ctx, &s))
		return -1;
	if (s.ci[0] == 0 && j->q0 < 0)
		j->q0 = j->q0tab[j->comp[0].tq];
	if (!j->progressive) {
		if (s.Ss != 0 || s.Se != 63 || s.Ah != 0 || s.Al != 0)
			return FAIL(j, "bad sequential scan parameters");
		for (int bi = 0; bi < s.nblk; bi++) {
			jw_comp *c = &j->comp[s.blk[bi].ci];
			s.blk[bi].dc = huff_get(j, 0, c->td, KIND_DC);
			s.blk[bi].ac = huff_get(j, 1, c->ta, KIND_AC_SEQ);
			if (!s.blk[bi].dc || !s.blk[bi].ac)
				return -1;
		}
		for (int i = 0; i < s.n; i++)
			if (j->comp[s.ci[i]].scans++)
				return FAIL(j, "component in two sequential scans");
		return scan_seq(j, &s);
	}
	/* jdphuff.c's checks: errors and progression warnings alike */
	int dc = s.Ss == 0;
	if (dc ? s.Se != 0 : (s.Ss > s.Se || s.Se > 63 || s.n != 1))
		return FAIL(j, "bad progression parameters");
	if ((s.Ah != 0 && s.Al != s.Ah - 1) || s.Al > 13)
		return FAIL(j, "bad progression parameters");
	for (int i = 0; i < s.n; i++) {
		int8_t *cb = j->comp[s.ci[i]].coef_bits;
		if (!dc && cb[0] < 0)
			return FAIL(j, "ac scan before dc scan");
		for (int k = s.Ss; k <= s.Se; k++) {
			if (s.Ah != (cb[k] < 0 ? 0 : cb[k]))
				return FAIL(j, "inconsistent progression");
			cb[k] = (int8_t)s.Al;
		}
	}
	for (int bi = 0; bi < s.nblk; bi++) {
		jw_comp *c = &j->comp[s.blk[bi].ci];
		if (dc && s.Ah == 0) {
			s.blk[bi].dc = huff_get(j, 0, c->td, KIND_DC);
			if (!s.blk[bi].dc)
				return -1;
		} else if (!dc) {
			s.blk[bi].ac = huff_get(j, 1, c->ta, KIND_AC_PROG);
			if (!s.blk[bi].ac)
				return -1;
		}
	}
	return scan_prog(j, &s);
}

static int finish(jw *j, img_jpeg_walk_out *out)
{
	if (!j->scans)
		return FAIL(j, "no scan");
	for (int i = 0; i < j->nc; i++)
		if (j->progressive ? j->comp[i].coef_bits[0] < 0 : !j->comp[i].scans)
			return FAIL(j, "a component has no scan");
	if (j->multi) {
		uint32_t w = j->comp[0].wib, h = j->comp[0].hib;
		for (uint32_t y = 0; y < h; y++) {
			const int16_t *dc = j->dc0 + (size_t)y * w;
			for (uint32_t x = 0; x < w; x++)
				j->row[x] = dc_pixel(dc[x], j->q0);
			img_dhash_add(&j->acc, y, 0, 1, w, j->row, 1);
		}
	}
	out->dhash = img_dhash_finish(&j->acc);
	return 0;
}

/* The marker loop of jdmarker.c, restricted to what the walk handles. */
static int walk(jw *j, img_ctx *ctx, img_jpeg_walk_out *out)
{
	const uint8_t *d = j->d;
	size_t len = j->len;
	if (len < 2 || d[0] != 0xff || d[1] != 0xd8)
		return FAIL(j, "no start of image");
	j->pos = 2;
	for (;;) {
		size_t i = j->pos;
		if (i >= len || d[i] != 0xff)
			return FAIL(j, i >= len ? "no end of image" : "bytes before marker");
		while (i < len && d[i] == 0xff)
			i++;
		if (i >= len)
			return FAIL(j, "no end of image");
		int m = d[i++];
		if (m == 0xd9) {
			if (finish(j, out))
				return -1;
			return 0;
		}
		int known = (m >= 0xc0 && m <= 0xc2) || m == 0xc4 || m == 0xda || m == 0xdb ||
		            m == 0xdd || (m >= 0xe0 && m <= 0xef) || m == 0xfe;
		if (!known)
			return FAIL(j, (m >= 0xc0 && m <= 0xcf) ? "unsupported frame type" : "unusual marker");
		if (len - i < 2)
			return FAIL(j, "truncated marker segment");
		uint32_t seg = be16(d + i);
		if (seg < 2 || seg > len - i)
			return FAIL(j, "bad or truncated marker segment");
		const uint8_t *p = d + i + 2;
		uint32_t n = seg - 2;
		j->pos = i + seg;
		int rc = 0;
		switch (m) {
		case 0xc0:
		case 0xc1:
		case 0xc2:
			if (out->width == 0 && !j->sof && n >= 5) {
				out->height = be16(p + 1);
				out->width = be16(p + 3);
			}
			rc = get_sof(j, m, p, n);
			break;
		case 0xc4:
			rc = get_dht(j, p, n);
			break;
		case 0xdb:
			rc = get_dqt(j, p, n);
			break;
		case 0xdd:
			if (n != 2)
				return FAIL(j, "bad restart interval length");
			j->restart_interval = be16(p);
			break;
		case 0xda:
			rc = get_sos(j, ctx, p, n);
			break;
		case 0xe0:
			if (!j->scans && n >= 14 && memcmp(p, "JFIF", 5) == 0)
				j->saw_jfif = 1;
			break;
		case 0xee:
			if (!j->scans && n >= 12 && memcmp(p, "Adobe", 5) == 0) {
				j->saw_adobe = 1;
				j->adobe_transform = p[11];
			}
			break;
		default:
			break;  /* other APPn, COM */
		}
		if (rc)
			return -1;
	}
}

/* c's walk state, set up on first use; NULL when out of memory. */
static jw *jw_state(img_ctx *c)
{
	int fresh = c->jw.cap < sizeof(jw);
	if (img_scratch_grow(&c->jw, sizeof(jw)))
		return NULL;
	jw *j = (jw *)(void *)c->jw.p;
	if (fresh) {
		memset(j, 0, sizeof *j);
		j->pdep = pdep_is_fast();
		for (int v = 0; v < 256; v++)
			for (int b = 0, r = 0; b < 8; b++)
				if (v >> b & 1)
					j->sel8[v][r++] = (uint8_t)b;
	}
	return j;
}

int img_jpeg_walk_use_pdep(img_ctx *c, int on)
{
	jw *j = jw_state(c);
	if (!j || (on && !pdep_is_there()))
		return -1;
	j->pdep = on;
	return 0;
}

int img_jpeg_walk(img_ctx *c, const uint8_t *data, size_t len, img_jpeg_walk_out *out)
{
	memset(out, 0, sizeof *out);
	jw *j = jw_state(c);
	if (!j) {
		out->why = "out of memory";
		return IMG_JPEG_WALK_FALLBACK;
	}
	/* everything but the decoding tables, kept from earlier files */
	memset(j, 0, offsetof(jw, dc));
	j->d = data;
	j->len = len;
	j->q0 = -1;
	if (walk(j, c, out)) {
		out->why = j->why;
		return IMG_JPEG_WALK_FALLBACK;
	}
	return 0;
}
