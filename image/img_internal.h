/* img_internal.h — what the files of image/ share and nobody else sees: the
 * context's buffers, the dHash accumulator and the per-format decoders. */
#ifndef NATADV_IMG_INTERNAL_H
#define NATADV_IMG_INTERNAL_H

#include "common/err.h"
#include <stddef.h>
#include <stdint.h>

#include "image/image.h"

/* A buffer that only grows, so a context reaches its working size once and
 * then stops touching fresh pages. */
typedef struct img_scratch {
	uint8_t *p;
	size_t cap;
} img_scratch;

struct img_ctx {
	img_scratch row;    /* one decoded row (validate, non-interlaced PNG) */
	img_scratch raw;    /* a whole undecoded-layout image (interlaced PNG) */
	img_scratch rgb;    /* img_decode_rgb* output */
	img_scratch rsz;    /* img_resize_shorter output */
	img_scratch tmp;    /* img_resize_shorter horizontal pass */
	img_scratch coef;   /* resize bounds and coefficients */
	img_scratch acc;    /* resize vertical pass: one row of int32 sums */
	img_scratch jw;     /* jpeg_walk.c: its state and Huffman lookup tables */
	img_scratch jwbuf;  /* jpeg_walk.c: DC values, nonzero masks or a row */
};

/* Makes s hold at least n bytes (contents not kept); 0 or NATADV_ENOMEM. */
int img_scratch_grow(img_scratch *s, size_t n);

/* dHash: pixels are summed into at most 9x8 bins that partition the image;
 * each of the 9x8 cells then reads one bin, so images narrower than 9 or
 * lower than 8 still hash (cells repeat bins). */
typedef struct img_dhash_acc {
	uint32_t w, h, nbx, nby;
	uint32_t xstart[10];  /* bin b covers x in [xstart[b], xstart[b+1]) */
	uint64_t sum[8][9];
	uint64_t cnt[8][9];
} img_dhash_acc;

/* Starts the dHash of a w x h image (image.h, img_validate, defines it). */
void img_dhash_init(img_dhash_acc *a, uint32_t w, uint32_t h);
/* Adds n pixels of row y at x = x0, x0 + dx, ...; px has nch interleaved
 * 8-bit channels (1-2: gray first; 3-4: RGB first). */
void img_dhash_add(img_dhash_acc *a, uint32_t y, uint32_t x0, uint32_t dx, uint32_t n,
                   const uint8_t *px, int nch);
/* Returns the 64-bit dHash of the pixels added so far. */
uint64_t img_dhash_finish(const img_dhash_acc *a);

/* PIL's "L" from RGB: ITU-R 601-2 luma in 16-bit fixed point. */
static inline uint8_t img_luma(uint8_t r, uint8_t g, uint8_t b)
{
	return (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

/* Format decoders; the header was already probed and the limits checked. */
/* img_jpeg_validate: jpeg_walk.c's fast accept path, else
 * img_jpeg_validate_lib, libjpeg-turbo's 1/8-scale pass (tests call both). */
int img_jpeg_validate_lib(img_ctx *c, const uint8_t *data, size_t len, const img_info *info,
                          uint64_t *dhash, char *err, size_t errlen);
/* Walks the whole JPEG entropy-coded stream (the fast walk, else libjpeg-turbo
 * at 1/8 scale) to catch truncation and corruption, and computes its dHash;
 * 0 or NATADV_EFORMAT with err saying why. */
int img_jpeg_validate(img_ctx *c, const uint8_t *data, size_t len, const img_info *info,
                      uint64_t *dhash, char *err, size_t errlen);
/* The same for a PNG, decoded row by row. */
int img_png_validate(img_ctx *c, const uint8_t *data, size_t len, const img_info *info,
                     uint64_t *dhash, char *err, size_t errlen);
/* Decodes a JPEG to RGB into out (pixels owned by c's scratch, as
 * img_decode_rgb says), DCT-scaled down as far as the shorter side stays at
 * least min_shorter; min_shorter 0 means full size (PIL-exact). */
int img_jpeg_decode_rgb(img_ctx *c, const uint8_t *data, size_t len, uint32_t min_shorter,
                        img_rgb *out, char *err, size_t errlen);
/* Decodes a PNG to 8-bit RGB into out, at full size. */
int img_png_decode_rgb(img_ctx *c, const uint8_t *data, size_t len, img_rgb *out,
                       char *err, size_t errlen);

#endif
