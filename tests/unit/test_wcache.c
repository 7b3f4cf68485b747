/* test_wcache.c — the packed-weights cache (filter/wcache.c) on the tiny
 * ResNet, DenseNet and VGG of tests/golden: the first load writes the
 * cache, the second maps it ("hit"), and the logits are bit for bit those
 * of a load without cache; a truncated cache, a flipped payload byte, a
 * flipped header byte, another format version, another kernel set and a
 * cache of other weights are each detected and rebuilt with the same
 * logits; a folder where nothing can be written only means no cache.
 * net_weights_to_memory moves a mapped cache's weights into memory: the
 * same logits from the same model before and after, and none of them
 * read from the file any more (zeroed in place, the logits stay). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/sha256.h"
#include "filter/net.h"
#include "tests/t.h"
#include "tests/unit/golden.h"

#define N 2
#define H 96
#define W 128
#define OFF_VERSION 8
#define OFF_ISA 12
#define OFF_ARCH 120
#define OFF_HSUM 168 /* the header's own xxh3 covers bytes [0, 168) */

static char err[512];
static char dir[64];

/* m's logits on a fixed input into a new array (NULL on failure). */
static float *logits_of(net *m)
{
	static float in[N * 3 * H * W];
	float *out;
	uint32_t s = 12345;

	for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
		s = s * 1664525u + 1013904223u;
		in[i] = (float)(s >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
	}
	out = calloc((size_t)N * net_get_info(m)->classes, sizeof *out);
	if (!out || net_prepare(m, N, H, W) || net_forward(m, in, N, out)) {
		free(out);
		return NULL;
	}
	return out;
}

/* Loads path through cache; checks the status starts with want and the
 * logits equal ref exactly. */
static void load_expect(const char *path, const char *sha, const char *cache,
                        const float *ref, const char *want)
{
	net *m = NULL;
	float *got;

	T_EQ_INT(net_load_cached(&m, path, sha, cache, err, sizeof err), 0);
	if (!m)
		return;
	if (strncmp(net_cache_status(m), want, strlen(want)) != 0)
		fprintf(stderr, "cache status '%s', expected '%s'\n",
		        net_cache_status(m), want);
	T_CHECK(strncmp(net_cache_status(m), want, strlen(want)) == 0);
	got = logits_of(m);
	T_CHECK(got != NULL);
	if (got)
		T_CHECK(memcmp(got, ref, (size_t)N * net_get_info(m)->classes *
		                             sizeof *got) == 0);
	free(got);
	net_free(m);
}

/* The cache file's bytes into a new buffer, *len its size. */
static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (b = malloc((size_t)n)) &&
	    fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	*len = b ? (size_t)n : 0;
	fclose(f);
	return b;
}

static void spit(const char *path, const unsigned char *b, size_t len)
{
	FILE *f = fopen(path, "wb");

	T_CHECK(f != NULL);
	if (!f)
		return;
	T_CHECK(fwrite(b, 1, len, f) == len);
	fclose(f);
}

enum damage { TRUNCATE, FLIP_PAYLOAD, FLIP_HEADER, VERSION, KERNELS };

/* Damages the cache at path as d says; a changed field gets a header
 * checksum that fits, so only the field's own check can catch it. */
static void damage(const char *path, enum damage d)
{
	size_t len;
	unsigned char *b = slurp(path, &len);
	uint32_t v;
	uint64_t hs;

	T_CHECK(b != NULL && len > 4096);
	if (!b)
		return;
	switch (d) {
	case TRUNCATE: len -= 1000; break;
	case FLIP_PAYLOAD: b[len / 2] ^= 0x10; break;
	case FLIP_HEADER: b[OFF_ARCH] ^= 0x01; break;
	case VERSION:
	case KERNELS:
		memcpy(&v, b + (d == VERSION ? OFF_VERSION : OFF_ISA), 4);
		v = d == VERSION ? v + 1 : (v + 1) % 3;
		memcpy(b + (d == VERSION ? OFF_VERSION : OFF_ISA), &v, 4);
		hs = XXH3_64bits(b, OFF_HSUM);
		memcpy(b + OFF_HSUM, &hs, 8);
		break;
	}
	spit(path, b, len);
	free(b);
}

/* A hit moved into memory by net_weights_to_memory gives ref before and
 * after, and no longer reads the cache file: zeroing it in place (what a
 * mapped cache would see) leaves the logits as they were. The file is
 * restored afterwards. */
static void check_to_memory(const char *path, const char *sha,
                            const char *cache, const float *ref)
{
	size_t len = 0, nl;
	unsigned char *orig = slurp(cache, &len), *zeros;
	net *m = NULL;
	float *a, *b;
	int fd;

	T_CHECK(orig != NULL);
	T_EQ_INT(net_load_cached(&m, path, sha, cache, err, sizeof err), 0);
	if (!m || !orig) {
		free(orig);
		net_free(m);
		return;
	}
	T_EQ_STR(net_cache_status(m), "hit");
	nl = (size_t)N * net_get_info(m)->classes * sizeof(float);
	a = logits_of(m);
	T_EQ_INT(net_weights_to_memory(m, err, sizeof err), 0);
	T_EQ_STR(net_cache_status(m), "hit, in memory");
	zeros = calloc(1, len);
	fd = open(cache, O_WRONLY);
	T_CHECK(zeros && fd >= 0 && pwrite(fd, zeros, len, 0) == (ssize_t)len);
	if (fd >= 0)
		close(fd);
	b = logits_of(m);
	T_CHECK(a && b && memcmp(a, ref, nl) == 0 && memcmp(b, ref, nl) == 0);
	/* a second call has nothing left to move */
	T_EQ_INT(net_weights_to_memory(m, err, sizeof err), 0);
	T_EQ_STR(net_cache_status(m), "hit, in memory");
	free(b);
	b = logits_of(m);
	T_CHECK(b && memcmp(b, ref, nl) == 0);
	net_free(m);
	spit(cache, orig, len);
	free(a), free(b), free(zeros), free(orig);
}

static void check_model(const char *file)
{
	char path[512], sha[65], other[65], cache[256], bad[256];
	struct stat sb;
	net *m = NULL;
	float *ref;

	snprintf(path, sizeof path, "%s", golden_path(file));
	T_EQ_INT(sha256_file(path, sha, NULL, err, sizeof err), 0);
	T_EQ_INT(net_load_file(&m, path, err, sizeof err), 0);
	if (!m)
		return;
	T_EQ_STR(net_cache_status(m), "off");
	ref = logits_of(m);
	/* not from a cache: nothing to move */
	T_EQ_INT(net_weights_to_memory(m, err, sizeof err), 0);
	T_EQ_STR(net_cache_status(m), "off");
	net_free(m);
	T_CHECK(ref != NULL);
	if (!ref)
		return;
	net_cache_path(cache, sizeof cache, dir, sha);
	unlink(cache);
	load_expect(path, sha, cache, ref, "written");
	T_CHECK(stat(cache, &sb) == 0 && sb.st_size > 256);
	load_expect(path, sha, cache, ref, "hit");
	check_to_memory(path, sha, cache, ref);
	load_expect(path, sha, cache, ref, "hit");

	damage(cache, TRUNCATE);
	load_expect(path, sha, cache, ref, "rebuilt: truncated");
	load_expect(path, sha, cache, ref, "hit");
	damage(cache, FLIP_PAYLOAD);
	load_expect(path, sha, cache, ref, "rebuilt: bad checksum");
	damage(cache, FLIP_HEADER);
	load_expect(path, sha, cache, ref, "rebuilt: bad header checksum");
	damage(cache, VERSION);
	load_expect(path, sha, cache, ref, "rebuilt: format version");
	damage(cache, KERNELS);
	load_expect(path, sha, cache, ref, "rebuilt: kernels");
	/* the same file named for other weights */
	snprintf(other, sizeof other, "%s", sha);
	other[0] = other[0] == '0' ? '1' : '0';
	load_expect(path, other, cache, ref, "rebuilt: cache of other weights");
	load_expect(path, sha, cache, ref, "rebuilt: cache of other weights");
	load_expect(path, sha, cache, ref, "hit");

	/* nowhere to write: the load works, without a cache */
	snprintf(bad, sizeof bad, "%s/no-such-folder/x.packed", dir);
	load_expect(path, sha, bad, ref, "none: cannot create");
	if (geteuid() != 0) {
		/* a read-only folder: its cache still hits, none is written */
		T_EQ_INT(chmod(dir, 0555), 0);
		load_expect(path, sha, cache, ref, "hit");
		unlink(cache);
		snprintf(bad, sizeof bad, "%s/x.packed", dir);
		load_expect(path, sha, bad, ref, "none: cannot create");
		T_EQ_INT(chmod(dir, 0755), 0);
	}
	unlink(cache);
	free(ref);
}

static void test_resnet(void) { check_model("tiny_basic.safetensors"); }
static void test_densenet(void) { check_model("tiny_densenet.safetensors"); }
static void test_vgg(void) { check_model("tiny_vgg_tv.safetensors"); }

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/test_wcache.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	T_RUN(test_resnet);
	T_RUN(test_densenet);
	T_RUN(test_vgg);
	rmdir(dir);
	return T_DONE();
}
