/* test_image.c — image/: header probing, validation of real and damaged
 * photos, dHash stability, limits enforced before decoding, and decoding and
 * preprocessing bit-exact with goldens from PIL (tests/golden/make_preproc.py). */
#include "common/err.h"
#include "image/image.h"
#include "tests/t.h"
#include "tests/unit/fixture.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- building PNGs by hand: CRC-32, Adler-32, stored deflate blocks ---- */

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return c ^ 0xffffffffu;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static size_t put_chunk(uint8_t *out, const char *type, const uint8_t *data, uint32_t n)
{
	put32(out, n);
	memcpy(out + 4, type, 4);
	if (n)
		memcpy(out + 8, data, n);
	put32(out + 8 + n, crc32_of(out + 4, n + 4));
	return 12 + n;
}

/* An 8-bit gray PNG of w x h pixels, pixel value pix(x, y); returns the
 * malloc'd file. Uses stored deflate blocks, so no zlib is needed. */
static blob make_gray_png(uint32_t w, uint32_t h, uint8_t (*pix)(uint32_t, uint32_t))
{
	size_t rawn = (size_t)(w + 1) * h;
	uint8_t *raw = malloc(rawn);
	for (uint32_t y = 0; y < h; y++) {
		raw[(size_t)y * (w + 1)] = 0;
		for (uint32_t x = 0; x < w; x++)
			raw[(size_t)y * (w + 1) + 1 + x] = pix(x, y);
	}
	size_t nblocks = rawn / 65535 + 1;
	size_t zn = 2 + rawn + 5 * nblocks + 4;
	uint8_t *z = malloc(zn), *q = z;
	*q++ = 0x78;
	*q++ = 0x01;
	size_t left = rawn, off = 0;
	do {
		uint16_t bn = (uint16_t)(left > 65535 ? 65535 : left);
		*q++ = left <= 65535;
		*q++ = (uint8_t)bn;
		*q++ = (uint8_t)(bn >> 8);
		*q++ = (uint8_t)~bn;
		*q++ = (uint8_t)(~bn >> 8);
		memcpy(q, raw + off, bn);
		q += bn;
		off += bn;
		left -= bn;
	} while (left);
	uint32_t a = 1, b2 = 0;
	for (size_t i = 0; i < rawn; i++) {
		a = (a + raw[i]) % 65521;
		b2 = (b2 + a) % 65521;
	}
	put32(q, b2 << 16 | a);
	q += 4;
	zn = (size_t)(q - z);
	blob out;
	out.p = malloc(8 + 25 + 12 + zn + 12);
	memcpy(out.p, "\x89PNG\r\n\x1a\n", 8);
	uint8_t ihdr[13];
	put32(ihdr, w);
	put32(ihdr + 4, h);
	ihdr[8] = 8;
	ihdr[9] = 0;
	ihdr[10] = ihdr[11] = ihdr[12] = 0;
	size_t n = 8;
	n += put_chunk(out.p + n, "IHDR", ihdr, 13);
	n += put_chunk(out.p + n, "IDAT", z, (uint32_t)zn);
	n += put_chunk(out.p + n, "IEND", NULL, 0);
	out.len = n;
	free(raw);
	free(z);
	return out;
}

/* Signature and IHDR only, for limit checks that must run before decoding. */
static blob make_png_header(uint32_t w, uint32_t h)
{
	blob b;
	b.p = malloc(64);
	memcpy(b.p, "\x89PNG\r\n\x1a\n", 8);
	uint8_t ihdr[13] = {0};
	put32(ihdr, w);
	put32(ihdr + 4, h);
	ihdr[8] = 8;
	ihdr[9] = 2;
	b.len = 8 + put_chunk(b.p + 8, "IHDR", ihdr, 13);
	/* an IDAT that would start the pixel data */
	b.len += put_chunk(b.p + b.len, "IDAT", (const uint8_t *)"\x78\x01", 2);
	return b;
}

static uint8_t pix_gradient(uint32_t x, uint32_t y)
{
	return (uint8_t)(x * 7 + y * 3);
}

static uint8_t pix_ramp(uint32_t x, uint32_t y)
{
	return (uint8_t)(x * 2 + y / 2);
}

static uint8_t pix_stripes(uint32_t x, uint32_t y)
{
	(void)y;
	return ((x / 2) & 1) ? 200 : 20;
}

/* ---- probing and validation ---- */

static const struct {
	const char *file;
	img_format fmt;
	uint32_t w, h;
	int comps, prog;
} fixtures[] = {
	/* all valid; the invalid cat_pal8_stray.png is in test_damaged_png */
	{"chelsea.png", IMG_FORMAT_PNG, 451, 300, 3, 0},
	{"coffee.png", IMG_FORMAT_PNG, 600, 400, 3, 0},
	{"rocket.jpg", IMG_FORMAT_JPEG, 640, 427, 3, 0},
	{"hubble_deep_field.jpg", IMG_FORMAT_JPEG, 1000, 872, 3, 0},
	{"green_palette.png", IMG_FORMAT_PNG, 320, 240, 3, 0},
	{"chelsea_q90.jpg", IMG_FORMAT_JPEG, 451, 300, 3, 0},
	{"chelsea_prog.jpg", IMG_FORMAT_JPEG, 451, 300, 3, 1},
	{"chelsea_gray.jpg", IMG_FORMAT_JPEG, 451, 300, 1, 0},
	{"chelsea_cmyk.jpg", IMG_FORMAT_JPEG, 451, 300, 4, 0},
	{"chelsea_ycck.jpg", IMG_FORMAT_JPEG, 451, 300, 4, 0},
	{"coffee_q90.jpg", IMG_FORMAT_JPEG, 600, 400, 3, 0},
	{"coffee_prog444.jpg", IMG_FORMAT_JPEG, 600, 400, 3, 1},
	{"cat_gray8.png", IMG_FORMAT_PNG, 160, 120, 1, 0},
	{"cat_gray4.png", IMG_FORMAT_PNG, 160, 120, 1, 0},
	{"cat_gray1_adam7.png", IMG_FORMAT_PNG, 160, 120, 1, 1},
	{"cat_gray16.png", IMG_FORMAT_PNG, 160, 120, 1, 0},
	{"cat_rgb16.png", IMG_FORMAT_PNG, 160, 120, 3, 0},
	{"cat_rgb8_adam7.png", IMG_FORMAT_PNG, 160, 120, 3, 1},
	{"cat_rgba8.png", IMG_FORMAT_PNG, 160, 120, 4, 0},
	{"cat_la16_adam7.png", IMG_FORMAT_PNG, 160, 120, 2, 1},
	{"cat_pal8.png", IMG_FORMAT_PNG, 160, 120, 3, 0},
	{"cat_pal4_adam7.png", IMG_FORMAT_PNG, 160, 120, 3, 1},
};
#define NFIX (sizeof fixtures / sizeof fixtures[0])

static void test_probe_fixtures(void)
{
	for (size_t i = 0; i < NFIX; i++) {
		char path[256], err[256] = "";
		img_info info;
		snprintf(path, sizeof path, FIX "%s", fixtures[i].file);
		blob b = load(path);
		T_CHECK(b.len > 0);
		int rc = img_probe(b.p, b.len, &info, err, sizeof err);
		if (rc)
			fprintf(stderr, "%s: %s\n", fixtures[i].file, err);
		T_EQ_INT(rc, 0);
		T_EQ_INT(info.format, fixtures[i].fmt);
		T_EQ_INT(info.width, fixtures[i].w);
		T_EQ_INT(info.height, fixtures[i].h);
		T_EQ_INT(info.components, fixtures[i].comps);
		T_EQ_INT(info.progressive, fixtures[i].prog);
		free(b.p);
	}
	T_EQ_STR(img_format_name(IMG_FORMAT_JPEG), "jpeg");
	T_EQ_STR(img_format_name(IMG_FORMAT_PNG), "png");
	T_EQ_STR(img_format_name(IMG_FORMAT_UNKNOWN), "unknown");
}

static uint64_t validate_file(img_ctx *c, const char *file)
{
	char path[256], err[256] = "";
	img_info info;
	uint64_t h = 0;
	snprintf(path, sizeof path, FIX "%s", file);
	blob b = load(path);
	int rc = img_validate(c, b.p, b.len, NULL, &info, &h, err, sizeof err);
	if (rc)
		fprintf(stderr, "validate %s: %d %s\n", file, rc, err);
	T_EQ_INT(rc, 0);
	free(b.p);
	return h;
}

static void test_validate_fixtures(void)
{
	img_ctx *c = img_ctx_new();
	img_ctx *c2 = img_ctx_new();
	T_CHECK(c && c2);
	for (size_t i = 0; i < NFIX; i++) {
		uint64_t a = validate_file(c, fixtures[i].file);
		uint64_t b = validate_file(c2, fixtures[i].file);
		uint64_t again = validate_file(c, fixtures[i].file);
		T_CHECK(a == b && a == again);
		T_CHECK(a != 0 && a != ~0ULL);
	}
	img_ctx_free(c);
	img_ctx_free(c2);
	img_ctx_free(NULL);
}

static void test_dhash_distances(void)
{
	img_ctx *c = img_ctx_new();
	uint64_t ch = validate_file(c, "chelsea.png");
	uint64_t ch90 = validate_file(c, "chelsea_q90.jpg");
	uint64_t chp = validate_file(c, "chelsea_prog.jpg");
	uint64_t chg = validate_file(c, "chelsea_gray.jpg");
	uint64_t chk = validate_file(c, "chelsea_cmyk.jpg");
	uint64_t chy = validate_file(c, "chelsea_ycck.jpg");
	uint64_t co = validate_file(c, "coffee.png");
	uint64_t co90 = validate_file(c, "coffee_q90.jpg");
	uint64_t cop = validate_file(c, "coffee_prog444.jpg");
	uint64_t ro = validate_file(c, "rocket.jpg");
	uint64_t hu = validate_file(c, "hubble_deep_field.jpg");
	fprintf(stderr, "dhash hamming: chelsea png/q90 %d png/prog %d png/gray %d png/cmyk %d; "
	        "coffee png/q90 %d png/prog %d; chelsea/coffee %d chelsea/rocket %d "
	        "coffee/rocket %d rocket/hubble %d\n",
	        img_hamming(ch, ch90), img_hamming(ch, chp), img_hamming(ch, chg),
	        img_hamming(ch, chk), img_hamming(co, co90), img_hamming(co, cop),
	        img_hamming(ch, co), img_hamming(ch, ro), img_hamming(co, ro),
	        img_hamming(ro, hu));
	/* same photo through JPEG q90/q85, progressive, gray, CMYK: near */
	T_CHECK(img_hamming(ch, ch90) <= 6);
	T_CHECK(img_hamming(ch, chp) <= 6);
	T_CHECK(img_hamming(ch, chg) <= 8);
	T_CHECK(img_hamming(ch, chk) <= 8);
	T_CHECK(img_hamming(ch, chy) <= 8);
	T_CHECK(img_hamming(co, co90) <= 6);
	T_CHECK(img_hamming(co, cop) <= 6);
	/* different photos: far */
	T_CHECK(img_hamming(ch, co) >= 20);
	T_CHECK(img_hamming(ch, ro) >= 20);
	T_CHECK(img_hamming(co, ro) >= 20);
	T_CHECK(img_hamming(ro, hu) >= 20);
	T_EQ_INT(img_hamming(0, ~0ULL), 64);
	T_EQ_INT(img_hamming(5, 6), 2);
	img_ctx_free(c);
}

static void expect_fail(const void *p, size_t n, const img_limits *lim, int want_rc,
                        const char *want_prefix)
{
	img_ctx *c = img_ctx_new();
	char err[256] = "";
	uint64_t h = 12345;
	int rc = img_validate(c, p, n, lim, NULL, &h, err, sizeof err);
	if (rc != want_rc || strncmp(err, want_prefix, strlen(want_prefix)) != 0)
		fprintf(stderr, "expected %d '%s...', got %d '%s'\n", want_rc, want_prefix, rc, err);
	T_EQ_INT(rc, want_rc);
	T_CHECK(strncmp(err, want_prefix, strlen(want_prefix)) == 0);
	T_CHECK(h == 12345);  /* untouched on failure */
	img_ctx_free(c);
}

static void test_not_images(void)
{
	const char *html = "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head></html>";
	const char *html2 = "\n\n  <HTML><body>moved</body></HTML>";
	expect_fail(html, strlen(html), NULL, NATADV_EFORMAT, "not an image: looks like html");
	expect_fail(html2, strlen(html2), NULL, NATADV_EFORMAT, "not an image: looks like html");
	expect_fail("{\"error\": 1}", 12, NULL, NATADV_EFORMAT, "not an image: looks like json");
	expect_fail("GIF89a\1\0\1\0", 10, NULL, NATADV_EFORMAT, "unsupported image format: gif");
	expect_fail("\0\1\2\3\4\5\6\7\10", 9, NULL, NATADV_EFORMAT, "not an image: unknown signature");
	const char *svg = "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>";
	expect_fail(svg, strlen(svg), NULL, NATADV_EFORMAT, "unsupported image format: svg");
	expect_fail("RIFF\0\0\0\0WEBPVP8 ", 16, NULL, NATADV_EFORMAT, "unsupported image format: webp");
	expect_fail("", 0, NULL, NATADV_EFORMAT, "empty body");
	expect_fail(NULL, 0, NULL, NATADV_EFORMAT, "empty body");
	expect_fail("\xff\xd8\xff\xe0\0\x10JFIF", 10, NULL, NATADV_EFORMAT, "truncated header");
	expect_fail("\x89PNG\r\n", 6, NULL, NATADV_EFORMAT, "truncated header");
	expect_fail("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0", 18, NULL, NATADV_EFORMAT,
	            "truncated header");
	char err[64];
	T_EQ_INT(img_probe("<html>", 6, NULL, err, sizeof err), NATADV_EFORMAT);
	T_EQ_INT(img_probe("<html>", 6, NULL, NULL, 0), NATADV_EFORMAT);
}

static void test_damaged_jpeg(void)
{
	const char *files[] = {"chelsea_q90.jpg", "chelsea_prog.jpg", "rocket.jpg",
	                       "coffee_prog444.jpg", "chelsea_cmyk.jpg"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char path[256];
		snprintf(path, sizeof path, FIX "%s", files[i]);
		blob b = load(path);
		/* cut in half */
		expect_fail(b.p, b.len / 2, NULL, NATADV_EFORMAT, "corrupt jpeg: ");
		/* all but the final EOI marker */
		expect_fail(b.p, b.len - 2, NULL, NATADV_EFORMAT, "corrupt jpeg: ");
		/* garbage over the middle of the entropy-coded data */
		uint8_t *d = malloc(b.len);
		memcpy(d, b.p, b.len);
		uint32_t s = 0x9e3779b9u;
		for (size_t k = b.len / 2; k < b.len / 2 + 64; k++) {
			s = s * 1664525u + 1013904223u;
			d[k] = (uint8_t)(s >> 24);
		}
		expect_fail(d, b.len, NULL, NATADV_EFORMAT, "corrupt jpeg: ");
		free(d);
		free(b.p);
	}
}

static void test_damaged_png(void)
{
	blob b = load(FIX "chelsea.png");
	expect_fail(b.p, b.len / 2, NULL, NATADV_EFORMAT, "corrupt png: ");
	/* everything but IEND */
	expect_fail(b.p, b.len - 12, NULL, NATADV_EFORMAT, "corrupt png: ");
	/* a flipped bit in the pixel data: the IDAT CRC catches it */
	uint8_t *d = malloc(b.len);
	memcpy(d, b.p, b.len);
	d[b.len / 2] ^= 0x10;
	expect_fail(d, b.len, NULL, NATADV_EFORMAT, "corrupt png: ");
	/* a bad IHDR CRC is caught by the probe */
	memcpy(d, b.p, b.len);
	d[20] ^= 1;
	expect_fail(d, b.len, NULL, NATADV_EFORMAT, "corrupt png: ihdr crc mismatch");
	free(d);
	free(b.p);
	b = load(FIX "cat_rgb8_adam7.png");
	expect_fail(b.p, b.len * 3 / 4, NULL, NATADV_EFORMAT, "corrupt png: ");
	free(b.p);
	/* palette indices past PLTE: PIL versions disagree on their colour */
	b = load(FIX "cat_pal8_stray.png");
	expect_fail(b.p, b.len, NULL, NATADV_EFORMAT,
	            "corrupt png: palette index 250 out of range (200 entries)");
	free(b.p);
}

static void test_limits(void)
{
	/* 10^10 pixels in the header: refused from the header alone. Under ASan
	 * an attempt to allocate 30 GB would abort, and decoding would take
	 * far longer than the bound checked here. */
	blob b = make_png_header(100000, 100000);
	double t0 = now();
	char err[256] = "";
	img_ctx *c = img_ctx_new();
	T_EQ_INT(img_validate(c, b.p, b.len, NULL, NULL, NULL, err, sizeof err), NATADV_ETOOBIG);
	T_CHECK(strncmp(err, "image too large: 100000x100000", 30) == 0);
	img_rgb out;
	T_EQ_INT(img_decode_rgb(c, b.p, b.len, NULL, &out, err, sizeof err), NATADV_ETOOBIG);
	T_CHECK(now() - t0 < 0.5);
	free(b.p);

	/* 40x30: too small, whatever the data */
	b = make_png_header(40, 30);
	expect_fail(b.p, b.len, NULL, NATADV_EFORMAT, "image too small: 40x30 (minimum side 64)");
	free(b.p);

	/* a real photo over a caller's pixel limit */
	b = load(FIX "chelsea_q90.jpg");
	img_limits lim = {64, 100000};
	expect_fail(b.p, b.len, &lim, NATADV_ETOOBIG, "image too large: 451x300");
	lim.min_side = 301;
	lim.max_pixels = IMG_DEFAULT_MAX_PIXELS;
	expect_fail(b.p, b.len, &lim, NATADV_EFORMAT, "image too small: 451x300 (minimum side 301)");
	free(b.p);

	/* a wide header under the limit with no pixel data fails fast, having
	 * allocated only a row */
	b = make_png_header(100000, 100);
	t0 = now();
	T_EQ_INT(img_validate(c, b.p, b.len, NULL, NULL, NULL, err, sizeof err), NATADV_EFORMAT);
	T_CHECK(now() - t0 < 0.5);
	free(b.p);
	img_ctx_free(c);
}

/* Rewrites the frame header's size in place (the entropy data then runs
 * out long before the rows do). */
static void patch_sof(blob *b, uint16_t w, uint16_t h)
{
	for (size_t i = 2; i + 9 < b->len; i++) {
		if (b->p[i] == 0xff && (b->p[i + 1] == 0xc0 || b->p[i + 1] == 0xc2)) {
			b->p[i + 5] = (uint8_t)(h >> 8);
			b->p[i + 6] = (uint8_t)h;
			b->p[i + 7] = (uint8_t)(w >> 8);
			b->p[i + 8] = (uint8_t)w;
			return;
		}
	}
}

/* A progressive JPEG keeps all coefficients in memory: 96 MP of 4:2:0 is
 * about 290 MB, over IMG_JPEG_MAX_MEMORY, so it is refused up front; the
 * same size baseline needs only a few rows. */
static void test_jpeg_memory_cap(void)
{
	img_ctx *c = img_ctx_new();
	char err[256] = "";
	blob b = load(FIX "chelsea_prog.jpg");
	patch_sof(&b, 12000, 8000);
	double t0 = now();
	T_EQ_INT(img_validate(c, b.p, b.len, NULL, NULL, NULL, err, sizeof err), NATADV_ETOOBIG);
	T_EQ_STR(err, "image too large: jpeg decoding needs more than 256 mb");
	img_rgb out;
	T_EQ_INT(img_decode_rgb(c, b.p, b.len, NULL, &out, err, sizeof err), NATADV_ETOOBIG);
	T_CHECK(now() - t0 < 0.5);
	free(b.p);
	b = load(FIX "chelsea_q90.jpg");
	patch_sof(&b, 12000, 8000);
	T_EQ_INT(img_validate(c, b.p, b.len, NULL, NULL, NULL, err, sizeof err), NATADV_EFORMAT);
	T_CHECK(strncmp(err, "corrupt jpeg: ", 14) == 0);
	free(b.p);
	img_ctx_free(c);
}

static void test_tiny_images(void)
{
	img_limits lim = {1, IMG_DEFAULT_MAX_PIXELS};
	img_ctx *c = img_ctx_new();
	char err[256] = "";
	uint64_t h1 = 0, h2 = 0, h3 = 0, again = 0;
	/* sizes below the 9x8 hash grid still hash, deterministically: the
	 * same hash again, from the same context and from a fresh one */
	blob b = make_gray_png(3, 2, pix_gradient);
	T_EQ_INT(img_validate(c, b.p, b.len, &lim, NULL, &h1, err, sizeof err), 0);
	h2 = ~h1;
	T_EQ_INT(img_validate(c, b.p, b.len, &lim, NULL, &h2, err, sizeof err), 0);
	T_EQ_INT(h2, h1);
	img_ctx *c2 = img_ctx_new();
	T_CHECK(c2 != NULL);
	again = ~h1;
	if (c2)
		T_EQ_INT(img_validate(c2, b.p, b.len, &lim, NULL, &again, err, sizeof err), 0);
	T_EQ_INT(again, h1);
	img_ctx_free(c2);
	free(b.p);
	b = make_gray_png(1, 1, pix_gradient);
	T_EQ_INT(img_validate(c, b.p, b.len, &lim, NULL, &h2, err, sizeof err), 0);
	T_EQ_INT(h2, 0);
	free(b.p);
	/* vertical stripes at the hash's own resolution */
	b = make_gray_png(18, 8, pix_stripes);
	T_EQ_INT(img_validate(c, b.p, b.len, &lim, NULL, &h3, err, sizeof err), 0);
	T_EQ_INT(h3, 0xaaaaaaaaaaaaaaaaULL);
	free(b.p);
	/* a gradient brightening to the right has no bit set */
	b = make_gray_png(90, 80, pix_ramp);
	T_EQ_INT(img_validate(c, b.p, b.len, &lim, NULL, &h1, err, sizeof err), 0);
	T_EQ_INT(h1, 0);
	free(b.p);
	/* a large stored-deflate PNG (several deflate blocks) */
	b = make_gray_png(700, 300, pix_gradient);
	T_EQ_INT(img_validate(c, b.p, b.len, NULL, NULL, &h1, err, sizeof err), 0);
	free(b.p);
	img_ctx_free(c);
}

typedef struct thread_job {
	uint64_t hashes[NFIX];
	int failures;
} thread_job;

static void *thread_main(void *arg)
{
	thread_job *j = arg;
	img_ctx *c = img_ctx_new();
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < NFIX; i++) {
			char path[256], err[256];
			uint64_t h = 0;
			snprintf(path, sizeof path, FIX "%s", fixtures[i].file);
			blob b = load(path);
			if (img_validate(c, b.p, b.len, NULL, NULL, &h, err, sizeof err) != 0 ||
			    (round > 0 && h != j->hashes[i]))
				j->failures++;
			j->hashes[i] = h;
			free(b.p);
		}
	}
	img_ctx_free(c);
	return NULL;
}

static void test_threads(void)
{
	thread_job jobs[2];
	pthread_t th[2];
	memset(jobs, 0, sizeof jobs);
	for (int i = 0; i < 2; i++)
		T_EQ_INT(pthread_create(&th[i], NULL, thread_main, &jobs[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	T_EQ_INT(jobs[0].failures + jobs[1].failures, 0);
	T_CHECK(memcmp(jobs[0].hashes, jobs[1].hashes, sizeof jobs[0].hashes) == 0);
}

/* ---- decoding and preprocessing: PIL / torchvision parity ---- */

static void sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < mdlen && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = '\0';
}

static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};

/* Each line of tests/golden/preproc.tsv (made by make_preproc.py with PIL)
 * holds SHA-256s of PIL's convert("RGB"), Resize(256), CenterCrop(224) and
 * the normalised float32 tensor; all four must match bit for bit. */
static void test_pil_parity(void)
{
	FILE *f = fopen("tests/golden/preproc.tsv", "r");
	T_CHECK(f != NULL);
	if (!f)
		return;
	img_ctx *c = img_ctx_new();
	uint8_t *crop = malloc(224 * 224 * 3);
	float *chw = malloc(sizeof(float) * 3 * 224 * 224);
	char line[1024];
	int rows = 0, ok_rgb = 0, ok_rsz = 0, ok_crop = 0, ok_norm = 0;
	while (fgets(line, sizeof line, f)) {
		char name[128], srgb[65], srsz[65], scrop[65], snorm[65], got[65], path[256];
		unsigned w, h, rw, rh;
		if (line[0] == '#')
			continue;
		if (sscanf(line, "%127s %u %u %64s %u %u %64s %64s %64s", name, &w, &h, srgb, &rw, &rh,
		           srsz, scrop, snorm) != 9) {
			T_CHECK(!"bad golden line");
			continue;
		}
		rows++;
		snprintf(path, sizeof path, FIX "%s", name);
		blob b = load(path);
		img_rgb rgb, rs;
		char err[256] = "";
		int rc = img_decode_rgb(c, b.p, b.len, NULL, &rgb, err, sizeof err);
		if (rc)
			fprintf(stderr, "decode %s: %s\n", name, err);
		T_EQ_INT(rc, 0);
		free(b.p);
		if (rc)
			continue;
		T_EQ_INT(rgb.width, w);
		T_EQ_INT(rgb.height, h);
		sha256_hex(rgb.px, (size_t)rgb.width * rgb.height * 3, got);
		int e1 = strcmp(got, srgb) == 0;
		T_EQ_INT(img_resize_shorter(c, &rgb, 256, &rs), 0);
		T_EQ_INT(rs.width, rw);
		T_EQ_INT(rs.height, rh);
		sha256_hex(rs.px, (size_t)rs.width * rs.height * 3, got);
		int e2 = strcmp(got, srsz) == 0;
		img_center_crop_rgb(&rs, 224, crop);
		sha256_hex(crop, 224 * 224 * 3, got);
		int e3 = strcmp(got, scrop) == 0;
		img_center_crop_normalize(&rs, 224, imagenet_mean, imagenet_std, chw);
		sha256_hex(chw, sizeof(float) * 3 * 224 * 224, got);
		int e4 = strcmp(got, snorm) == 0;
		if (!(e1 && e2 && e3 && e4))
			fprintf(stderr, "%s: PIL parity rgb %s resize %s crop %s normalized %s\n", name,
			        e1 ? "ok" : "DIFFERS", e2 ? "ok" : "DIFFERS", e3 ? "ok" : "DIFFERS",
			        e4 ? "ok" : "DIFFERS");
		ok_rgb += e1;
		ok_rsz += e2;
		ok_crop += e3;
		ok_norm += e4;
	}
	fclose(f);
	printf("PIL parity over %d fixtures: decode %d, resize %d, crop %d, normalized %d bit-exact\n",
	       rows, ok_rgb, ok_rsz, ok_crop, ok_norm);
	T_CHECK(rows >= 20);
	T_EQ_INT(ok_rgb, rows);
	T_EQ_INT(ok_rsz, rows);
	T_EQ_INT(ok_crop, rows);
	T_EQ_INT(ok_norm, rows);
	free(crop);
	free(chw);
	img_ctx_free(c);
}

/* The stated tolerance, measured on PIL's own crops (saved as PNG): within
 * 1/255 for >= 99% of values and never more than 2/255. */
static void test_crop_tolerance(void)
{
	const char *names[] = {"chelsea_q90", "coffee", "rocket"};
	const char *exts[] = {".jpg", ".png", ".jpg"};
	img_ctx *c = img_ctx_new(), *cg = img_ctx_new();
	uint8_t *crop = malloc(224 * 224 * 3);
	for (int i = 0; i < 3; i++) {
		char path[256], err[256];
		img_rgb rgb, rs, gold;
		snprintf(path, sizeof path, FIX "%s%s", names[i], exts[i]);
		blob b = load(path);
		T_EQ_INT(img_decode_rgb(c, b.p, b.len, NULL, &rgb, err, sizeof err), 0);
		T_EQ_INT(img_resize_shorter(c, &rgb, 256, &rs), 0);
		img_center_crop_rgb(&rs, 224, crop);
		free(b.p);
		snprintf(path, sizeof path, "tests/golden/crops/%s.png", names[i]);
		b = load(path);
		T_EQ_INT(img_decode_rgb(cg, b.p, b.len, NULL, &gold, err, sizeof err), 0);
		T_EQ_INT(gold.width, 224);
		int maxd = 0;
		size_t within1 = 0, n = 224 * 224 * 3;
		for (size_t k = 0; k < n; k++) {
			int d = abs((int)crop[k] - (int)gold.px[k]);
			maxd = d > maxd ? d : maxd;
			within1 += d <= 1;
		}
		printf("crop %s: max |diff| %d/255, %.4f%% within 1/255\n", names[i], maxd,
		       100.0 * (double)within1 / (double)n);
		T_CHECK(maxd <= 2);
		T_CHECK(within1 * 100 >= n * 99);
		free(b.p);
	}
	free(crop);
	img_ctx_free(c);
	img_ctx_free(cg);
}

/* Python's round() rounds halves to even; a smaller image is zero-padded
 * with the extra column/row on the right/bottom. */
static void test_center_crop_geometry(void)
{
	uint8_t px[6 * 5 * 3];
	for (int i = 0; i < 6 * 5 * 3; i += 3) {
		px[i] = (uint8_t)(i / 3);
		px[i + 1] = 100;
		px[i + 2] = 200;
	}
	img_rgb in = {px, 6, 5};
	uint8_t out[4 * 4 * 3];
	/* width 6 -> 2 spare, offset 1; height 5 -> 1 spare, round(0.5) = 0 */
	img_center_crop_rgb(&in, 4, out);
	T_EQ_INT(out[0], 0 * 6 + 1);
	/* 7x7 crop of 6x5: pad left 0 (floor of 1/2), top 1 */
	uint8_t big[7 * 7 * 3];
	img_center_crop_rgb(&in, 7, big);
	T_EQ_INT(big[0], 0);
	T_EQ_INT(big[(1 * 7 + 0) * 3], 0);
	T_EQ_INT(big[(1 * 7 + 0) * 3 + 1], 100);
	T_EQ_INT(big[(1 * 7 + 6) * 3 + 1], 0);
	/* height 7 for crop 4: 3 spare, round(1.5) = 2 */
	uint8_t tall[4 * 7 * 3];
	memset(tall, 0, sizeof tall);
	for (int y = 0; y < 7; y++)
		tall[(y * 4) * 3] = (uint8_t)y;
	img_rgb tin = {tall, 4, 7};
	img_center_crop_rgb(&tin, 4, out);
	T_EQ_INT(out[0], 2);
	float chw[3 * 4 * 4];
	img_center_crop_normalize(&tin, 4, imagenet_mean, imagenet_std, chw);
	T_CHECK(chw[0] == ((float)2 / 255.0f - 0.485f) / 0.229f);
}

/* Every byte value, in the crop and in its zero padding, against
 * ToTensor + Normalize written out per pixel: an image 20 wide (cropped) and
 * 5 high (padded) for a crop of 8. */
static void test_crop_normalize_reference(void)
{
	enum { W = 20, H = 5, C = 8 };
	uint8_t px[W * H * 3];
	for (int i = 0; i < W * H * 3; i++)
		px[i] = (uint8_t)(i * 37 + 11); /* 300 samples: every value 0..255 */
	img_rgb in = {px, W, H};
	float chw[3 * C * C];
	img_center_crop_normalize(&in, C, imagenet_mean, imagenet_std, chw);
	int ox = (W - C) / 2, oy = -(C - H) / 2, same = 0;
	for (int ch = 0; ch < 3; ch++)
		for (int y = 0; y < C; y++)
			for (int x = 0; x < C; x++) {
				int sy = y + oy, sx = x + ox;
				uint8_t p = sy >= 0 && sy < H ? px[(sy * W + sx) * 3 + ch] : 0;
				float want = ((float)p / 255.0f - imagenet_mean[ch]) / imagenet_std[ch];
				same += chw[(ch * C + y) * C + x] == want;
			}
	T_EQ_INT(same, 3 * C * C);
}

static void test_resize_sizes(void)
{
	img_ctx *c = img_ctx_new();
	uint8_t *px = calloc((size_t)1000 * 300, 3);
	img_rgb in = {px, 1000, 3}, out;
	/* int(256 * 1000 / 3) = 85333 */
	T_EQ_INT(img_resize_shorter(c, &in, 256, &out), 0);
	T_EQ_INT(out.width, 85333);
	T_EQ_INT(out.height, 256);
	in.width = 3;
	in.height = 1000;
	T_EQ_INT(img_resize_shorter(c, &in, 256, &out), 0);
	T_EQ_INT(out.width, 256);
	T_EQ_INT(out.height, 85333);
	/* already the right size: a copy */
	in.width = 256;
	in.height = 300;
	T_EQ_INT(img_resize_shorter(c, &in, 256, &out), 0);
	T_EQ_INT(out.width, 256);
	T_EQ_INT(out.height, 300);
	T_CHECK(out.px != px);
	T_EQ_INT(img_resize_shorter(c, &in, 0, &out), NATADV_EINVAL);
	img_rgb prev = out;
	T_EQ_INT(img_resize_shorter(c, &prev, 224, &out), NATADV_EINVAL);
	free(px);
	img_ctx_free(c);
}

static void test_decode_scaled(void)
{
	img_ctx *c = img_ctx_new();
	img_rgb out;
	char err[256];
	blob b = load(FIX "coffee_q90.jpg");
	/* 600x400: 2/8 gives 150x100, the smallest with shorter side >= 100 */
	T_EQ_INT(img_decode_rgb_scaled(c, b.p, b.len, NULL, 100, &out, err, sizeof err), 0);
	T_EQ_INT(out.width, 150);
	T_EQ_INT(out.height, 100);
	/* never below the target: 256 needs 6/8 = 450x300 */
	T_EQ_INT(img_decode_rgb_scaled(c, b.p, b.len, NULL, 256, &out, err, sizeof err), 0);
	T_EQ_INT(out.width, 450);
	T_EQ_INT(out.height, 300);
	/* larger than the image: full size */
	T_EQ_INT(img_decode_rgb_scaled(c, b.p, b.len, NULL, 1000, &out, err, sizeof err), 0);
	T_EQ_INT(out.width, 600);
	free(b.p);
	b = load(FIX "coffee.png");
	T_EQ_INT(img_decode_rgb_scaled(c, b.p, b.len, NULL, 100, &out, err, sizeof err), 0);
	T_EQ_INT(out.width, 600);
	free(b.p);
	/* decode refuses what validate refuses */
	b = load(FIX "chelsea.png");
	T_EQ_INT(img_decode_rgb(c, b.p, b.len / 2, NULL, &out, err, sizeof err), NATADV_EFORMAT);
	T_CHECK(out.px == NULL);
	free(b.p);
	img_ctx_free(c);
}

int main(void)
{
	T_RUN(test_probe_fixtures);
	T_RUN(test_validate_fixtures);
	T_RUN(test_dhash_distances);
	T_RUN(test_not_images);
	T_RUN(test_damaged_jpeg);
	T_RUN(test_damaged_png);
	T_RUN(test_limits);
	T_RUN(test_jpeg_memory_cap);
	T_RUN(test_tiny_images);
	T_RUN(test_threads);
	T_RUN(test_pil_parity);
	T_RUN(test_crop_tolerance);
	T_RUN(test_center_crop_geometry);
	T_RUN(test_crop_normalize_reference);
	T_RUN(test_resize_sizes);
	T_RUN(test_decode_scaled);
	return T_DONE();
}
