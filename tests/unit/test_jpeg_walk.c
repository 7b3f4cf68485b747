/* test_jpeg_walk.c — image/jpeg_walk.c against libjpeg-turbo's 1/8-scale
 * pass (img_jpeg_validate_lib): for every input the walk either hands over
 * or gives libjpeg's verdict with the same dHash and dimensions. Inputs: the
 * fixtures and fuzz seeds, variants encoded here (sampling, gray, restart
 * intervals, progressive, optimised tables, arithmetic), and each of them
 * truncated at many offsets, with and without an end-of-image marker after
 * the cut, with flipped bits, changed bytes, stray markers and wrong restart
 * markers in the entropy-coded data. NATADV_JPEG_WALK_PHOTOS=DIR adds every
 * *.jpg in DIR (and NATADV_JPEG_WALK_DAMAGE=N mutations per photo). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "common/buf.h"
#include "common/err.h"
#include "image/jpeg_walk.h"
#include "tests/t.h"
#include "tests/unit/fixture.h"

static img_ctx *ctx;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Counters over the whole run, printed at the end. */
static long n_inputs, n_accepted, n_lib_ok, n_disagree;

/* The differential check. Returns 1 when the walk accepted, 0 when it
 * handed over, -1 on a disagreement (already reported as a failed check). */
static int check_one(const uint8_t *p, size_t n, const char *what)
{
	img_info info;
	img_jpeg_walk_out o;
	char err[256];
	n_inputs++;
	if (img_probe(p, n, &info, err, sizeof err) || info.format != IMG_FORMAT_JPEG) {
		img_jpeg_walk(ctx, p, n, &o);  /* must not crash either */
		return 0;
	}
	int rw = img_jpeg_walk(ctx, p, n, &o);
	uint64_t h = 0;
	int rc = img_jpeg_validate_lib(ctx, p, n, &info, &h, err, sizeof err);
	n_lib_ok += rc == 0;
	if (rw != 0)
		return 0;
	n_accepted++;
	if (rc != 0 || h != o.dhash || o.width != info.width || o.height != info.height) {
		fprintf(stderr, "%s (%zu bytes): walk accepts %ux%u %016llx, libjpeg-turbo %d '%s' %ux%u %016llx\n",
		        what, n, o.width, o.height, (unsigned long long)o.dhash, rc, rc ? err : "",
		        info.width, info.height, (unsigned long long)h);
		n_disagree++;
		T_CHECK(!"walk and libjpeg-turbo disagree");
		return -1;
	}
	return 1;
}

/* First byte after the first SOS header, or 0. */
static size_t entropy_start(const uint8_t *p, size_t n)
{
	size_t i = 2;
	while (i + 4 <= n && p[i] == 0xff) {
		int m = p[i + 1];
		size_t seg = (size_t)p[i + 2] << 8 | p[i + 3];
		if (m == 0xda)
			return i + 2 + seg < n ? i + 2 + seg : 0;
		i += 2 + seg;
	}
	return 0;
}

/* Damages a copy of p in many ways and checks each. Returns how many of the
 * damaged copies the walk accepted. */
static long damage(const uint8_t *p, size_t n, const char *name, int rounds)
{
	size_t es = entropy_start(p, n);
	long acc = 0;
	char what[512];
	uint8_t *q = malloc(n + 16);
	if (!q || es == 0 || es >= n) {
		free(q);
		return 0;
	}
	/* truncated: bare (libjpeg hits the end of data, the walk must hand
	 * over) and closed by an EOI (libjpeg hits a marker mid-scan, or the
	 * cut falls between scans of a progressive file and both accept) */
	for (int i = 0; i < rounds; i++) {
		size_t cut = i == 0 ? n - 1 : i == 1 ? n - 2 : 2 + (size_t)(next_rand() % (n - 2));
		memcpy(q, p, cut);
		snprintf(what, sizeof what, "%s cut at %zu", name, cut);
		int r = check_one(q, cut, what);
		T_CHECK(r != 1 || (cut >= 2 && q[cut - 2] == 0xff && q[cut - 1] == 0xd9));
		q[cut] = 0xff;
		q[cut + 1] = 0xd9;
		snprintf(what, sizeof what, "%s cut at %zu + eoi", name, cut);
		acc += check_one(q, cut + 2, what) == 1;
	}
	/* flipped bits, changed bytes, stray markers in the entropy data */
	for (int i = 0; i < rounds; i++) {
		memcpy(q, p, n);
		size_t at = es + (size_t)(next_rand() % (n - es));
		int kind = (int)(next_rand() % 6);
		switch (kind) {
		case 0: q[at] ^= (uint8_t)(1u << (next_rand() % 8)); break;
		case 1: q[at] = (uint8_t)next_rand(); break;
		case 2:
			for (int k = 0; k < 3; k++)
				q[es + (size_t)(next_rand() % (n - es))] ^= (uint8_t)(1u << (next_rand() % 8));
			break;
		case 3: q[at] = 0xff; break;
		case 4:
			if (at + 1 < n) {
				q[at] = 0xff;
				q[at + 1] = (uint8_t)(0xd0 + next_rand() % 8);
			}
			break;
		default:
			/* the next restart marker gets the wrong number */
			for (size_t k = at; k + 1 < n; k++)
				if (q[k] == 0xff && q[k + 1] >= 0xd0 && q[k + 1] <= 0xd7) {
					q[k + 1] = (uint8_t)(0xd0 + ((q[k + 1] - 0xd0 + 1 + next_rand() % 7) & 7));
					break;
				}
			break;
		}
		snprintf(what, sizeof what, "%s damage %d at %zu", name, kind, at);
		acc += check_one(q, n, what) == 1;
	}
	free(q);
	return acc;
}

/* ---- encoding variants with libjpeg ---- */

typedef struct enc_opts {
	const char *name;
	int quality, gray, h0, v0, progressive, restart_mcus, restart_rows, optimize, arith;
	int expect_walk;  /* the walk is expected to accept the undamaged file */
} enc_opts;

static blob encode(const img_rgb *in, const enc_opts *o)
{
	struct jpeg_compress_struct ci;
	struct jpeg_error_mgr jerr;
	unsigned char *mem = NULL;
	unsigned long memlen = 0;
	blob b = {NULL, 0};
	ci.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&ci);
	jpeg_mem_dest(&ci, &mem, &memlen);
	ci.image_width = in->width;
	ci.image_height = in->height;
	ci.input_components = 3;
	ci.in_color_space = JCS_RGB;
	jpeg_set_defaults(&ci);
	jpeg_set_quality(&ci, o->quality, TRUE);
	if (o->gray)
		jpeg_set_colorspace(&ci, JCS_GRAYSCALE);
	if (o->h0) {
		ci.comp_info[0].h_samp_factor = o->h0;
		ci.comp_info[0].v_samp_factor = o->v0;
	}
	if (o->progressive)
		jpeg_simple_progression(&ci);
	ci.restart_interval = (unsigned)o->restart_mcus;
	ci.restart_in_rows = o->restart_rows;
	ci.optimize_coding = o->optimize ? TRUE : FALSE;
	ci.arith_code = o->arith ? TRUE : FALSE;
	jpeg_start_compress(&ci, TRUE);
	while (ci.next_scanline < ci.image_height) {
		JSAMPROW row = in->px + (size_t)ci.next_scanline * 3 * in->width;
		jpeg_write_scanlines(&ci, &row, 1);
	}
	jpeg_finish_compress(&ci);
	jpeg_destroy_compress(&ci);
	b.p = mem;
	b.len = memlen;
	return b;
}

static const enc_opts variants[] = {
	{"420 q75", 75, 0, 2, 2, 0, 0, 0, 0, 0, 1},
	{"444 q95", 95, 0, 1, 1, 0, 0, 0, 0, 0, 1},
	{"422", 85, 0, 2, 1, 0, 0, 0, 0, 0, 1},
	{"440 optimised", 85, 0, 1, 2, 0, 0, 0, 1, 0, 1},
	{"411", 80, 0, 4, 1, 0, 0, 0, 0, 0, 1},
	{"4x2", 80, 0, 4, 2, 0, 0, 0, 0, 0, 1},
	{"gray", 85, 1, 0, 0, 0, 0, 0, 0, 0, 1},
	{"restart 1 mcu", 85, 0, 2, 2, 0, 1, 0, 0, 0, 1},
	{"restart 7 mcus", 85, 0, 2, 1, 0, 7, 0, 0, 0, 1},
	{"restart rows", 85, 0, 2, 2, 0, 0, 1, 0, 0, 1},
	{"gray restart", 85, 1, 0, 0, 0, 3, 0, 0, 0, 1},
	{"progressive", 85, 0, 2, 2, 1, 0, 0, 0, 0, 1},
	{"progressive 444 q98", 98, 0, 1, 1, 1, 0, 0, 0, 0, 1},
	{"progressive restart", 85, 0, 2, 2, 1, 5, 0, 0, 0, 1},
	{"progressive gray", 85, 1, 0, 0, 1, 0, 0, 0, 0, 1},
	{"progressive gray restart", 60, 1, 0, 0, 1, 0, 1, 0, 0, 1},
	{"q100", 100, 0, 2, 2, 0, 0, 0, 1, 0, 1},
	{"arithmetic", 85, 0, 2, 2, 0, 0, 0, 0, 1, 0},
	{"arithmetic progressive", 85, 0, 2, 2, 1, 0, 0, 0, 1, 0},
};

static img_rgb pics[2];

static void load_pics(void)
{
	const char *src[2] = {FIX "coffee_q90.jpg", FIX "chelsea_q90.jpg"};
	for (int i = 0; i < 2; i++) {
		blob b = load(src[i]);
		img_ctx *c = img_ctx_new();
		img_rgb r;
		char err[256];
		T_CHECK(b.p && c);
		if (!b.p || !c || img_decode_rgb_scaled(c, b.p, b.len, NULL, 150, &r, err, sizeof err)) {
			T_CHECK(!"cannot decode fixture");
		} else {
			pics[i] = r;
			pics[i].px = malloc((size_t)r.width * r.height * 3);
			if (pics[i].px)
				memcpy(pics[i].px, r.px, (size_t)r.width * r.height * 3);
		}
		img_ctx_free(c);
		free(b.p);
	}
}

static void test_fixtures(void)
{
	const char *walked[] = {"chelsea_q90.jpg", "chelsea_gray.jpg", "chelsea_prog.jpg",
	                        "coffee_prog444.jpg", "coffee_q90.jpg", "hubble_deep_field.jpg",
	                        "rocket.jpg"};
	const char *handed[] = {"chelsea_cmyk.jpg", "chelsea_ycck.jpg"};
	char path[512];
	for (size_t i = 0; i < sizeof walked / sizeof *walked; i++) {
		snprintf(path, sizeof path, FIX "%s", walked[i]);
		blob b = load(path);
		T_CHECK(b.p != NULL);
		T_EQ_INT(check_one(b.p, b.len, path), 1);
		free(b.p);
	}
	for (size_t i = 0; i < sizeof handed / sizeof *handed; i++) {
		snprintf(path, sizeof path, FIX "%s", handed[i]);
		blob b = load(path);
		T_CHECK(b.p != NULL);
		T_EQ_INT(check_one(b.p, b.len, path), 0);
		free(b.p);
	}
}

/* Every fuzz seed: the walk accepts all but the three it must hand over. */
static void test_fuzz_seeds(void)
{
	const char *dir = "tests/fuzz/corpus/jpeg_walk";
	DIR *d = opendir(dir);
	struct dirent *e;
	int seen = 0;
	T_CHECK(d != NULL);
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[512];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		blob b = load(path);
		int handed = strcmp(e->d_name, "arith.jpg") == 0 || strcmp(e->d_name, "rgb.jpg") == 0 ||
		             strcmp(e->d_name, "q5.jpg") == 0;
		int r = check_one(b.p, b.len, path);
		if (strstr(e->d_name, ".jpg"))
			T_EQ_INT(r, handed ? 0 : 1);
		free(b.p);
		seen++;
	}
	if (d)
		closedir(d);
	T_CHECK(seen >= 20);
}

static void test_variants(void)
{
	for (int pi = 0; pi < 2; pi++) {
		if (!pics[pi].px)
			continue;
		for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
			char name[128];
			snprintf(name, sizeof name, "pic %d %s", pi, variants[v].name);
			blob b = encode(&pics[pi], &variants[v]);
			T_CHECK(b.p != NULL);
			int r = check_one(b.p, b.len, name);
			if (r != variants[v].expect_walk)
				fprintf(stderr, "%s: walk %s\n", name, r == 1 ? "accepted" : "handed over");
			T_EQ_INT(r, variants[v].expect_walk);
			free(b.p);
		}
	}
}

static void test_damaged_variants(void)
{
	long acc = 0;
	for (int pi = 0; pi < 2; pi++) {
		if (!pics[pi].px)
			continue;
		for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
			char name[128];
			snprintf(name, sizeof name, "pic %d %s", pi, variants[v].name);
			blob b = encode(&pics[pi], &variants[v]);
			acc += damage(b.p, b.len, name, 60);
			free(b.p);
		}
	}
	/* progressive files cut between scans and closed by an EOI are valid
	 * to libjpeg too, and some damage only touches padding bits */
	T_CHECK(acc > 0);
}

static void test_damaged_fixtures(void)
{
	const char *names[] = {"chelsea_q90.jpg", "chelsea_prog.jpg", "coffee_prog444.jpg",
	                       "chelsea_gray.jpg", "rocket.jpg"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char path[512];
		snprintf(path, sizeof path, FIX "%s", names[i]);
		blob b = load(path);
		T_CHECK(b.p != NULL);
		long before = n_inputs;
		damage(b.p, b.len, path, 40);
		/* 40 cuts (bare and closed) and 40 changes at least */
		if (n_inputs - before < 3 * 40)
			fprintf(stderr, "%s: %ld damaged copies tried\n", path, n_inputs - before);
		T_CHECK(n_inputs - before >= 3 * 40);
		free(b.p);
	}
}

/* A 12000x12000 progressive header: libjpeg-turbo would need 288 MB of
 * coefficients and fails; the walk hands over before allocating. A baseline
 * one of that size needs only a row of blocks. */
static void test_big_headers(void)
{
	uint8_t hdr[] = {0xff, 0xd8, 0xff, 0xdb, 0x00, 0x43, 0x00, 16, 11, 10, 16, 24, 40, 51, 61,
	                 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22,
	                 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104,
	                 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103,
	                 99, 0xff, 0xc2, 0x00, 0x0b, 8, 0x2e, 0xe0, 0x2e, 0xe0, 1, 1, 0x11, 0,
	                 0xff, 0xc4, 0x00, 0x14, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	                 0xff, 0xda, 0x00, 0x08, 1, 1, 0x00, 0, 0, 0, 0x00, 0x00, 0xff, 0xd9};
	img_ctx *c = img_ctx_new();
	img_jpeg_walk_out o;
	T_CHECK(c != NULL);
	if (!c)
		return;
	T_EQ_INT(img_jpeg_walk(c, hdr, sizeof hdr, &o), IMG_JPEG_WALK_FALLBACK);
	T_EQ_STR(o.why, "near libjpeg's memory limit");
	T_EQ_INT(o.width, 12000);
	T_EQ_INT(c->jwbuf.cap, 0);
	hdr[71 + 1] = 0xc0;  /* now baseline: one row of blocks */
	T_EQ_INT(img_jpeg_walk(c, hdr, sizeof hdr, &o), IMG_JPEG_WALK_FALLBACK);
	T_CHECK(c->jwbuf.cap <= 4096);
	img_ctx_free(c);
}

/* The fast refill reads 8 bytes at a time: bodies that end right after the
 * data must not be read past (ASan checks the exact-size copies here). */
static void test_exact_sizes(void)
{
	blob b = load(FIX "chelsea_q90.jpg");
	T_CHECK(b.p != NULL);
	if (!b.p)
		return;
	for (size_t cut = b.len; cut + 40 > b.len && cut > 2; cut--) {
		uint8_t *q = malloc(cut);
		if (!q)
			break;
		memcpy(q, b.p, cut);
		check_one(q, cut, "exact size");
		free(q);
	}
	free(b.p);
}

/* Only with NATADV_JPEG_WALK_PHOTOS=DIR (main leaves it out otherwise): the
 * walk accepts every photo there. */
static void test_photos(void)
{
	const char *dir = getenv("NATADV_JPEG_WALK_PHOTOS");
	const char *dmg = getenv("NATADV_JPEG_WALK_DAMAGE");
	int rounds = dmg ? (int)strtol(dmg, NULL, 10) : 20;
	T_CHECK(dir != NULL);
	if (!dir)
		return;
	DIR *d = opendir(dir);
	T_CHECK(d != NULL);
	struct dirent *e;
	long files = 0, walked = 0, acc = 0;
	while (d && (e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".jpg") != 0)
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		blob b = load(path);
		T_CHECK(b.p != NULL);
		files++;
		walked += check_one(b.p, b.len, path) == 1;
		acc += damage(b.p, b.len, path, rounds);
		free(b.p);
	}
	if (d)
		closedir(d);
	printf("photos: %ld files, walk accepts %ld; %ld damaged copies accepted\n", files, walked, acc);
	T_CHECK(files > 0);
	T_EQ_INT(walked, files);
}

/* Everything twice: with pdep in the refinement scans (where the CPU has
 * it, fast or not) and with the portable code. */
int main(void)
{
	load_pics();
	for (int pdep = 1; pdep >= 0; pdep--) {
		ctx = img_ctx_new();
		if (!ctx)
			return 1;
		if (img_jpeg_walk_use_pdep(ctx, pdep)) {
			printf("-- no pdep on this CPU: that pass is left out\n");
			img_ctx_free(ctx);
			continue;
		}
		n_inputs = n_accepted = n_lib_ok = n_disagree = 0;
		rng = 0x9e3779b97f4a7c15ull;
		printf("-- %s\n", pdep ? "with pdep" : "portable code");
		T_RUN(test_fixtures);
		T_RUN(test_fuzz_seeds);
		T_RUN(test_variants);
		T_RUN(test_damaged_variants);
		T_RUN(test_damaged_fixtures);
		T_RUN(test_big_headers);
		T_RUN(test_exact_sizes);
		if (getenv("NATADV_JPEG_WALK_PHOTOS"))
			T_RUN(test_photos);
		else
			printf("photos: NATADV_JPEG_WALK_PHOTOS not set, that case is left out\n");
		printf("differential: %ld inputs, libjpeg-turbo accepts %ld, walk accepts %ld, disagreements %ld\n",
		       n_inputs, n_lib_ok, n_accepted, n_disagree);
		img_ctx_free(ctx);
	}
	free(pics[0].px);
	free(pics[1].px);
	return T_DONE();
}
