/* test_safetensors.c — the safetensors reader on good files of each dtype,
 * from memory and from a mapped temp file, and on every kind of broken
 * header: each must fail with a message saying what is wrong. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "filter/safetensors.h"
#include "tests/t.h"
#include "tests/unit/st_build.h"

static char err[512];

/* Opens the n tensors as a file from memory; frees nothing of the file. */
static int open_built(stb_tensor *t, size_t n, const char *extra,
                      size_t trailing, st_file **f, unsigned char **mem)
{
	size_t size = 0;

	err[0] = 0;
	*mem = stb_build(t, n, extra, trailing, &size);
	if (!*mem)
		return -1;
	return st_open_mem(f, *mem, size, err, sizeof err);
}

/* Expects opening t to fail with code rc and a message containing want. */
static void expect_bad(stb_tensor *t, size_t n, const char *extra,
                       size_t trailing, int rc, const char *want, int line)
{
	st_file *f = (st_file *)1;
	unsigned char *mem;
	int got = open_built(t, n, extra, trailing, &f, &mem);

	if (got != rc || f || !strstr(err, want)) {
		fprintf(stderr, "line %d: rc %d (want %d), message '%s' (want '%s')\n",
		        line, got, rc, err, want);
		t_failed_checks++;
	}
	st_free(f);
	free(mem);
}
#define EXPECT_BAD(t, n, extra, trailing, rc, want) \
	expect_bad(t, n, extra, trailing, rc, want, __LINE__)

static void test_good_f32(void)
{
	float a[6] = {1, -2, 3.5f, 0, 1e-30f, -7};
	float b = 42;
	stb_tensor t[2] = {
		{.name = "a", .dtype = "F32", .ndim = 2, .shape = {2, 3}, .data = a,
		 .nbytes = sizeof a},
		{.name = "b", .dtype = "F32", .ndim = 0, .data = &b, .nbytes = 4},
	};
	unsigned char *mem;
	st_file *f;
	const st_tensor *x;
	float out[6];

	T_EQ_INT(open_built(t, 2, "\"__metadata__\":{\"format\":\"pt\"}", 0, &f,
	                    &mem), 0);
	T_EQ_STR(err, "");
	T_EQ_INT(st_count(f), 2);
	x = st_find(f, "a");
	T_CHECK(x && x->ndim == 2 && x->shape[0] == 2 && x->shape[1] == 3);
	T_CHECK(x && x->nelem == 6 && x->dtype == ST_F32);
	T_EQ_INT(st_read_f32(x, out, err, sizeof err), 0);
	T_CHECK(!memcmp(out, a, sizeof a));
	x = st_find(f, "b");
	T_CHECK(x && x->ndim == 0 && x->nelem == 1);
	T_EQ_INT(st_read_f32(x, out, err, sizeof err), 0);
	T_CHECK(out[0] == 42);
	T_CHECK(st_find(f, "c") == NULL);
	T_CHECK(st_find(f, "__metadata__") == NULL);
	T_EQ_STR(st_metadata(f, "format"), "pt");
	T_CHECK(st_metadata(f, "nope") == NULL);
	T_EQ_STR(st_get(f, 0)->name, "a");
	T_CHECK(st_get(f, 2) == NULL);
	st_free(f);
	free(mem);
}

static void test_good_f16_bf16(void)
{
	/* 1, -2, 65504 (max), 2^-24 (smallest subnormal), -0, inf, 0.5 */
	uint16_t h[7] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x3800};
	float hw[7] = {1, -2, 65504, 0x1p-24f, -0.0f, INFINITY, 0.5f};
	/* bfloat16: 1, -3, 1/3 rounded, 1e38-ish */
	uint16_t bf[4] = {0x3f80, 0xc040, 0x3eab, 0x7e96};
	stb_tensor t[2] = {
		{.name = "h", .dtype = "F16", .ndim = 1, .shape = {7}, .data = h,
		 .nbytes = sizeof h},
		{.name = "bf", .dtype = "BF16", .ndim = 2, .shape = {2, 2},
		 .data = bf, .nbytes = sizeof bf},
	};
	unsigned char *mem;
	st_file *f;
	float out[7];

	T_EQ_INT(open_built(t, 2, NULL, 0, &f, &mem), 0);
	T_EQ_INT(st_read_f32(st_find(f, "h"), out, err, sizeof err), 0);
	for (int i = 0; i < 7; i++)
		T_CHECK(out[i] == hw[i] && signbit(out[i]) == signbit(hw[i]));
	T_EQ_INT(st_read_f32(st_find(f, "bf"), out, err, sizeof err), 0);
	for (int i = 0; i < 4; i++) {
		uint32_t bits = (uint32_t)bf[i] << 16;
		float want;

		memcpy(&want, &bits, 4);
		T_CHECK(out[i] == want);
	}
	T_CHECK(out[1] == -3.0f);
	/* a range of elements only, in row-major order */
	memset(out, 0, sizeof out);
	T_EQ_INT(st_read_f32_range(st_find(f, "h"), 2, 3, out, err, sizeof err),
	         0);
	T_CHECK(out[0] == hw[2] && out[1] == hw[3] && out[2] == hw[4] &&
	        out[3] == 0.0f);
	T_EQ_INT(st_read_f32_range(st_find(f, "bf"), 1, 1, out, err, sizeof err),
	         0);
	T_CHECK(out[0] == -3.0f);
	T_EQ_INT(st_read_f32_range(st_find(f, "h"), 5, 3, out, err, sizeof err),
	         NATADV_EINVAL);
	T_CHECK(strstr(err, "tensor 'h'") != NULL);
	st_free(f);
	free(mem);
}

/* st_evict drops a mapped file's pages, which read back the same, and
 * leaves the caller's memory of st_open_mem alone. */
static void test_evict(void)
{
	enum { N = 5000 }; /* several pages */
	char path[] = "/tmp/natadv-st-XXXXXX";
	float *a = malloc(N * sizeof *a), *out = malloc(N * sizeof *out);
	stb_tensor t[1] = {{.name = "w", .dtype = "F32", .ndim = 2,
	                    .shape = {50, 100}, .data = a,
	                    .nbytes = N * sizeof *a}};
	unsigned char *mem, *built;
	size_t size;
	int fd = mkstemp(path);
	st_file *f;

	for (int i = 0; i < N; i++)
		a[i] = (float)i * 0.5f;
	built = stb_build(t, 1, NULL, 0, &size);
	T_CHECK(fd >= 0 && built);
	if (fd < 0 || !built)
		return;
	T_CHECK(write(fd, built, size) == (ssize_t)size);
	close(fd);
	T_EQ_INT(st_open(&f, path, err, sizeof err), 0);
	st_evict(f, st_find(f, "w"), 0, N);
	st_evict(f, st_find(f, "w"), 100, 3000);
	st_evict(f, st_find(f, "w"), 4000, 5000); /* out of the tensor */
	T_EQ_INT(st_read_f32(st_find(f, "w"), out, err, sizeof err), 0);
	T_CHECK(!memcmp(out, a, N * sizeof *a));
	st_free(f);
	unlink(path);
	free(built);

	T_EQ_INT(open_built(t, 1, NULL, 0, &f, &mem), 0);
	st_evict(f, st_find(f, "w"), 0, N);
	T_EQ_INT(st_read_f32(st_find(f, "w"), out, err, sizeof err), 0);
	T_CHECK(!memcmp(out, a, N * sizeof *a));
	st_free(f);
	free(mem), free(a), free(out);
}

static void test_other_dtypes(void)
{
	int64_t n = 12345;
	unsigned char u8[3] = {1, 2, 3};
	stb_tensor t[3] = {
		{.name = "bn.num_batches_tracked", .dtype = "I64", .ndim = 0,
		 .data = &n, .nbytes = 8},
		{.name = "u", .dtype = "U8", .ndim = 1, .shape = {3}, .data = u8,
		 .nbytes = 3},
		{.name = "empty", .dtype = "F32", .ndim = 2, .shape = {0, 5},
		 .nbytes = 0},
	};
	unsigned char *mem;
	st_file *f;
	float out[4];
	const st_tensor *x;

	T_EQ_INT(open_built(t, 3, NULL, 0, &f, &mem), 0);
	x = st_find(f, "bn.num_batches_tracked");
	T_CHECK(x && x->dtype == ST_I64 && x->nelem == 1);
	T_CHECK(x && !memcmp(x->data, &n, 8));
	T_EQ_INT(st_read_f32(x, out, err, sizeof err), NATADV_EFORMAT);
	T_EQ_STR(err, "tensor 'bn.num_batches_tracked': dtype I64 is not a "
	              "float type");
	x = st_find(f, "empty");
	T_CHECK(x && x->nelem == 0 && x->nbytes == 0);
	T_EQ_INT(st_read_f32(x, out, err, sizeof err), 0);
	st_free(f);
	free(mem);

	/* no tensors at all is a valid (empty) file */
	T_EQ_INT(open_built(NULL, 0, NULL, 0, &f, &mem), 0);
	T_EQ_INT(st_count(f), 0);
	T_CHECK(st_find(f, "x") == NULL);
	st_free(f);
	free(mem);
}

static void test_mmap(void)
{
	char path[] = "/tmp/natadv-st-XXXXXX";
	float a[4] = {1, 2, 3, 4};
	stb_tensor t[1] = {{.name = "w", .dtype = "F32", .ndim = 1,
	                    .shape = {4}, .data = a, .nbytes = sizeof a}};
	size_t size;
	unsigned char *mem = stb_build(t, 1, NULL, 0, &size);
	int fd = mkstemp(path);
	st_file *f;
	float out[4];

	T_CHECK(fd >= 0 && mem);
	if (fd < 0 || !mem)
		return;
	T_CHECK(write(fd, mem, size) == (ssize_t)size);
	close(fd);
	T_EQ_INT(st_open(&f, path, err, sizeof err), 0);
	T_EQ_INT(st_read_f32(st_find(f, "w"), out, err, sizeof err), 0);
	T_CHECK(!memcmp(out, a, sizeof a));
	st_free(f);

	/* a truncated copy on disk */
	fd = open(path, O_WRONLY | O_TRUNC);
	T_CHECK(write(fd, mem, size - 3) == (ssize_t)size - 3);
	close(fd);
	T_EQ_INT(st_open(&f, path, err, sizeof err), NATADV_EFORMAT);
	T_CHECK(f == NULL && strstr(err, "tensor 'w'") &&
	        strstr(err, "truncated"));
	unlink(path);
	free(mem);

	T_EQ_INT(st_open(&f, "/nonexistent/x.safetensors", err, sizeof err),
	         NATADV_ENOTFOUND);
	T_CHECK(f == NULL && strstr(err, "cannot open '/nonexistent/"));
	T_EQ_INT(st_open(&f, "/tmp", err, sizeof err), NATADV_EIO);
	T_CHECK(strstr(err, "not a regular file") != NULL);
	st_free(NULL);
}

/* Raw bytes: an 8-byte length, the header text (sizeof, so NULs count)
 * and data zero bytes. */
#define open_raw(hlen, hdr, data, f) open_rawn(hlen, hdr, sizeof hdr - 1, data, f)
static int open_rawn(uint64_t hlen, const char *hdr, size_t n, size_t data,
                     st_file **f)
{
	size_t size = 8 + n + data;
	unsigned char *mem = calloc(size, 1);
	int rc;

	for (int i = 0; i < 8; i++)
		mem[i] = (unsigned char)(hlen >> (8 * i));
	memcpy(mem + 8, hdr, n);
	rc = st_open_mem(f, mem, size, err, sizeof err);
	st_free(*f);
	*f = NULL;
	free(mem);
	return rc;
}

static void test_bad_framing(void)
{
	unsigned char small[5] = {1, 0, 0, 0, 0};
	st_file *f;

	T_EQ_INT(st_open_mem(&f, small, sizeof small, err, sizeof err),
	         NATADV_EFORMAT);
	T_EQ_STR(err, "file of 5 bytes is too short for a safetensors header");
	T_EQ_INT(open_raw(1000, "{}", 0, &f), NATADV_EFORMAT);
	T_EQ_STR(err, "header length 1000 exceeds file size 10");
	T_EQ_INT(open_raw((uint64_t)1 << 40, "{}", 0, &f), NATADV_ETOOBIG);
	T_CHECK(strstr(err, "exceeds the 104857600 byte limit") != NULL);
	T_EQ_INT(open_raw(UINT64_MAX, "{}", 0, &f), NATADV_ETOOBIG);
	T_EQ_INT(open_raw(2, "[]", 0, &f), NATADV_EFORMAT);
	T_EQ_STR(err, "header does not start with '{'");
	T_EQ_INT(open_raw(0, "", 0, &f), NATADV_EFORMAT);
	T_EQ_INT(open_raw(9, "{\"a\": 1, ", 0, &f), NATADV_EFORMAT);
	T_CHECK(strncmp(err, "bad JSON header: ", 17) == 0);
	T_EQ_INT(open_raw(4, "{}}}", 0, &f), NATADV_EFORMAT);
	T_CHECK(strncmp(err, "bad JSON header: ", 17) == 0);
	/* padding with spaces is allowed, a NUL inside the header is not */
	T_EQ_INT(open_raw(8, "{}      ", 0, &f), 0);
	T_EQ_INT(open_raw(8, "{}\0     ", 0, &f), NATADV_EFORMAT);
	T_EQ_INT(open_raw(2, "{}", 4, &f), NATADV_EFORMAT);
	T_EQ_STR(err, "4 bytes after the last tensor's data (tensors cover 0 of 4)");
}

static void test_bad_entries(void)
{
	float a[4] = {0};
	stb_tensor one = {.name = "w", .dtype = "F32", .ndim = 1, .shape = {4},
	                  .data = a, .nbytes = 16};
	stb_tensor t[2];

	t[0] = one, t[0].dtype = "F99";
	EXPECT_BAD(t, 1, NULL, 0, NATADV_EFORMAT, "tensor 'w': unknown dtype 'F99'");
	/* wrong dtype size: F64 needs 32 bytes for 4 elements */
	t[0] = one, t[0].dtype = "F64";
	EXPECT_BAD(t, 1, NULL, 0, NATADV_EFORMAT,
	           "tensor 'w': data_offsets [0,16] hold 16 bytes, dtype F64 "
	           "shape [4] needs 32");
	t[0] = one, t[0].shape[0] = 3;
	EXPECT_BAD(t, 1, NULL, 0, NATADV_EFORMAT, "shape [3] needs 12");
	t[0] = one, t[0].shape[0] = -4;
	EXPECT_BAD(t, 1, NULL, 0, NATADV_EFORMAT,
	           "tensor 'w': shape[0] is not a non-negative integer");
	t[0] = one, t[0].ndim = 3;
	t[0].shape[0] = t[0].shape[1] = t[0].shape[2] = (int64_t)1 << 40;
	EXPECT_BAD(t, 1, NULL, 0, NATADV_EFORMAT, "tensor 'w': shape too large");
	t[0] = one, t[0].ndim = 9;
	EXPECT_BAD(t, 1, NULL, 0, NATADV_EFORMAT, "9 dimensions, at most 8");
	/* lying offsets */
	t[0] = one, t[0].lie = 1, t[0].begin = 16, t[0].end = 0;
	EXPECT_BAD(t, 1, NULL, 0, NATADV_EFORMAT, "data_offsets [16,0] hold 0");
	t[0] = one, t[0].lie = 1, t[0].begin = 4, t[0].end = 20;
	EXPECT_BAD(t, 1, NULL, 0, NATADV_EFORMAT,
	           "tensor 'w': data_offsets [4,20] leave a hole at byte 0");
	t[0] = one, t[0].lie = 1, t[0].begin = -1, t[0].end = 15;
	EXPECT_BAD(t, 1, NULL, 0, NATADV_EFORMAT,
	           "data_offsets is not two non-negative integers");
	t[0] = one, t[0].lie = 1, t[0].begin = 0x7fffffffffffffffLL - 16;
	t[0].end = 0x7fffffffffffffffLL;
	EXPECT_BAD(t, 1, NULL, 0, NATADV_EFORMAT, "leave a hole");
	/* truncated: the data buffer is shorter than the header says */
	t[0] = one, t[0].nbytes = 8;
	EXPECT_BAD(t, 1, NULL, 0, NATADV_EFORMAT, "hold 8 bytes");
	t[0] = one, t[0].lie = 1, t[0].begin = 0, t[0].end = 16;
	t[1] = one, t[1].name = "v", t[1].lie = 1, t[1].begin = 16;
	t[1].end = 32, t[1].nbytes = 0;
	EXPECT_BAD(t, 2, NULL, 0, NATADV_EFORMAT,
	           "tensor 'v': data_offsets [16,32] run past the 16 byte data "
	           "buffer (truncated file?)");
	/* overlapping ranges */
	t[0] = one;
	t[1] = one, t[1].name = "v", t[1].lie = 1, t[1].begin = 8, t[1].end = 24;
	EXPECT_BAD(t, 2, NULL, 8, NATADV_EFORMAT,
	           "tensor 'v': data_offsets [8,24] overlap another tensor");
	t[1] = one, t[1].name = "v", t[1].lie = 1, t[1].begin = 0, t[1].end = 16;
	EXPECT_BAD(t, 2, NULL, 0, NATADV_EFORMAT, "overlap another tensor");
	/* trailing garbage after the last tensor */
	t[0] = one;
	EXPECT_BAD(t, 1, NULL, 3, NATADV_EFORMAT,
	           "3 bytes after the last tensor's data (tensors cover 16 of 19)");
	/* duplicate names: JSON with two equal keys */
	t[0] = one, t[1] = one;
	t[1].lie = 1, t[1].begin = 16, t[1].end = 32;
	EXPECT_BAD(t, 2, NULL, 0, NATADV_EFORMAT, "duplicate object key");
	/* structure */
	EXPECT_BAD(NULL, 0, "\"x\":[1]", 0, NATADV_EFORMAT,
	           "tensor 'x': header entry is not an object");
	EXPECT_BAD(NULL, 0, "\"x\":{\"dtype\":\"F32\",\"shape\":[],"
	                    "\"data_offsets\":[0,4],\"extra\":1}", 4,
	           NATADV_EFORMAT, "tensor 'x': unexpected key 'extra'");
	EXPECT_BAD(NULL, 0, "\"x\":{\"dtype\":\"F32\",\"shape\":[],"
	                    "\"data_offsets\":[0,4,8]}", 4,
	           NATADV_EFORMAT, "data_offsets is not two non-negative");
	EXPECT_BAD(NULL, 0, "\"x\":{\"dtype\":\"F32\",\"shape\":[1.5],"
	                    "\"data_offsets\":[0,4]}", 4,
	           NATADV_EFORMAT, "shape[0] is not a non-negative integer");
	EXPECT_BAD(NULL, 0, "\"x\":{\"dtype\":7,\"shape\":[],"
	                    "\"data_offsets\":[0,4]}", 4,
	           NATADV_EFORMAT, "needs string dtype");
	EXPECT_BAD(NULL, 0, "\"x\":{\"shape\":[],\"data_offsets\":[0,4]}", 4,
	           NATADV_EFORMAT, "needs string dtype");
	EXPECT_BAD(NULL, 0, "\"__metadata__\":{\"a\":1}", 0, NATADV_EFORMAT,
	           "__metadata__ key 'a': value is not a string");
	EXPECT_BAD(NULL, 0, "\"__metadata__\":[]", 0, NATADV_EFORMAT,
	           "__metadata__ is not an object");
	EXPECT_BAD(NULL, 0, "\"x\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],"
	                    "\"data_offsets\":[0,4]}", 4, NATADV_EFORMAT,
	           "bad JSON header");
}

int main(void)
{
	T_RUN(test_good_f32);
	T_RUN(test_good_f16_bf16);
	T_RUN(test_other_dtypes);
	T_RUN(test_mmap);
	T_RUN(test_evict);
	T_RUN(test_bad_framing);
	T_RUN(test_bad_entries);
	return T_DONE();
}
