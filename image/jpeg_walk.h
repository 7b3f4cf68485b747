/* jpeg_walk.h — the fast accept path of JPEG validation (jpeg_walk.c). Seen
 * only by image/ and its tests: img_validate is the public entry point. */
#ifndef NATADV_JPEG_WALK_H
#define NATADV_JPEG_WALK_H

#include <stddef.h>
#include <stdint.h>

#include "image/img_internal.h"

/* What img_jpeg_walk returns when libjpeg-turbo must give the verdict. */
#define IMG_JPEG_WALK_FALLBACK 1

typedef struct img_jpeg_walk_out {
	uint32_t width, height;  /* from the frame header, when it was read */
	uint64_t dhash;          /* set only when the walk accepts */
	const char *why;         /* static text: why it handed over; NULL on accept */
} img_jpeg_walk_out;

/* Walks a whole JPEG (data must start with SOI, as img_probe checked),
 * decoding every Huffman symbol of every scan but keeping only the DC values
 * of the first component. Returns 0 when it accepts: libjpeg-turbo's 1/8-scale
 * grayscale pass (img_jpeg_validate_lib) accepts the file too and computes
 * the same out->dhash. Returns IMG_JPEG_WALK_FALLBACK for anything it does not
 * handle (arithmetic coding, 12-bit, CMYK, RGB, odd sampling...) and for
 * every file libjpeg-turbo might warn about (truncated, corrupt, extraneous
 * bytes): it never rejects, so every verdict on a damaged file and its message
 * come from libjpeg-turbo. Keeps its tables and buffers in c. */
int img_jpeg_walk(img_ctx *c, const uint8_t *data, size_t len, img_jpeg_walk_out *out);
/* Makes c's walks use pdep (on = 1, even where the CPU runs it slowly) or
 * the portable code (on = 0) instead of what suits the CPU, so that tests
 * check both; 0, or -1 when out of memory or the CPU has no pdep. */
int img_jpeg_walk_use_pdep(img_ctx *c, int on);

#endif
