/* test_resnet.c — the ResNet against PyTorch's answers (tests/golden, made by
 * scripts/golden_resnet.py): two tiny torchvision ResNets read from F16/BF16
 * files, and a full ResNet-50 whose conv weights both sides derive from one
 * rule. Pass: per image max |logit diff| <= 1e-3 * max |logit| and the same
 * top-5 order. Also: every kind of wrong weights file is a clear error.
 * `test_resnet --bench N [THREADS]` times the ResNet-50 at batch N instead;
 * `test_resnet --check MODEL IO` compares one model file with PyTorch's
 * logits (used by `scripts/golden_resnet.py --check`, the check-pytorch run);
 * under ASan the whole run takes a few seconds (natadv's own GEMM kernels,
 * instrumented), so nothing is skipped there. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "filter/resnet.h"
#include "filter/safetensors.h"
#include "tests/t.h"
#include "tests/unit/golden.h"
#include "tests/unit/st_build.h"

static char err[512];

static void run_tiny(const char *name, const char *logits_name,
                     resnet_block block, int groups)
{
	st_file *io = NULL;
	resnet *m = NULL;
	const st_tensor *in;
	float *x = NULL, *want = NULL, *got = NULL, *one = NULL;
	int n, h, w, classes;

	T_EQ_INT(st_open(&io, golden_path("tiny_io.safetensors"), err,
	                 sizeof err), 0);
	T_EQ_INT(resnet_load_file(&m, golden_path(name), err, sizeof err), 0);
	if (!io || !m) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	T_EQ_INT(resnet_get_info(m)->block, block);
	T_EQ_INT(resnet_get_info(m)->groups, groups);
	T_EQ_STR(resnet_get_info(m)->arch, "resnet");
	classes = resnet_get_info(m)->classes;
	in = st_find(io, "input"); /* [n, 3, 57, 71] */
	n = (int)in->shape[0], h = (int)in->shape[2], w = (int)in->shape[3];
	x = golden_tensor(io, "input", NULL);
	want = golden_tensor(io, logits_name, NULL);
	got = calloc((size_t)n * classes, sizeof *got);
	one = calloc((size_t)classes, sizeof *one);
	T_EQ_INT(resnet_forward(m, x, n, got), NATADV_EINVAL); /* unprepared */
	T_EQ_INT(resnet_prepare(m, n, h, w), 0);
	T_EQ_INT(resnet_forward(m, x, n + 1, got), NATADV_EINVAL);
	T_CHECK(strstr(resnet_errmsg(m), "prepared for at most 3") != NULL);
	T_EQ_INT(resnet_forward(m, x, n, got), 0);
	golden_compare(name, got, want, n, classes);
	/* one image at a time gives the same answers as the batch */
	for (int i = 0; i < n; i++) {
		T_EQ_INT(resnet_forward(m, x + (size_t)i * 3 * h * w, 1, one), 0);
		for (int j = 0; j < classes; j++)
			T_CHECK(fabsf(one[j] - got[(size_t)i * classes + j]) <= 1e-5f);
	}
	/* other thread counts (each thread takes whole images through the
	 * early stages) give the same answers, also after resnet_prepare */
	{
		float *again = calloc((size_t)n * classes, sizeof *again);
		const int counts[3] = {3, 1, 2};

		for (int c = 0; c < 3; c++) {
			T_EQ_INT(resnet_set_threads(m, counts[c]), 0);
			T_EQ_INT(resnet_forward(m, x, n, again), 0);
			for (int i = 0; i < n * classes; i++)
				T_CHECK(fabsf(again[i] - got[i]) <= 1e-5f);
		}
		free(again);
	}
	/* a new arena for another size still runs, and back */
	T_EQ_INT(resnet_prepare(m, 2, 224, 160), 0);
	T_EQ_INT(resnet_prepare(m, 1, h, w), 0);
	T_EQ_INT(resnet_forward(m, x, 1, one), 0);
	T_CHECK(fabsf(one[0] - got[0]) <= 1e-5f);
out:
	free(x), free(want), free(got), free(one);
	resnet_free(m);
	st_free(io);
}

static void test_tiny_basic(void)
{
	run_tiny("tiny_basic.safetensors", "logits.tiny_basic", RESNET_BASIC, 1);
}

static void test_tiny_resnext(void)
{
	run_tiny("tiny_resnext.safetensors", "logits.tiny_resnext",
	         RESNET_BOTTLENECK, 4);
}

/* ---- the ResNet-50 golden ---- */

/* The weight rule of scripts/golden_resnet.py's golden_weight(). */
static void golden_weight(const char *name, size_t n, int fan_in, float *out)
{
	uint32_t key = 0x811c9dc5u;
	const float s = (float)sqrt(3.0 / fan_in);

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		key = (key ^ *p) * 0x01000193u;
	for (size_t i = 0; i < n; i++) {
		uint32_t x = (uint32_t)i * 0x9e3779b1u + key;
		float v;

		x ^= x >> 16;
		x *= 0x7feb352du;
		x ^= x >> 15;
		x *= 0x846ca68bu;
		x ^= x >> 16;
		v = (float)((int32_t)(x >> 8) * 2 - (1 << 24)) * 0x1p-24f;
		out[i] = v * s;
	}
}

struct r50 {
	st_file *gold;          /* batch norm, fc.bias, input, logits */
	unsigned char *file;    /* the whole safetensors, built in memory */
	size_t size;
	char names[64][48];
};

static void add_rule(stb_tensor *t, size_t *n, char *name, int64_t a,
                     int64_t b, int64_t c, int64_t d)
{
	t[*n] = (stb_tensor){.name = name, .dtype = "F32", .ndim = d ? 4 : 2,
	                     .shape = {a, b, c, d}};
	t[*n].nbytes = (size_t)a * b * (d ? c * d : 1) * 4;
	(*n)++;
}

/* Builds resnet50's safetensors: rule weights + the golden file's others. */
static int build_r50(struct r50 *r)
{
	static const int layers[4] = {3, 4, 6, 3};
	stb_tensor *t;
	size_t n = 0, nn = 0, cnt;
	int cin = 64;

	if (st_open(&r->gold, golden_path("resnet50_golden.safetensors"), err,
	            sizeof err))
		return -1;
	cnt = st_count(r->gold);
	t = calloc(cnt + 64, sizeof *t);
	for (size_t i = 0; i < cnt; i++) {
		const st_tensor *g = st_get(r->gold, i);

		if (!strncmp(g->name, "golden.", 7))
			continue;
		t[n] = (stb_tensor){.name = g->name,
		                    .dtype = st_dtype_name(g->dtype),
		                    .ndim = g->ndim, .data = g->data,
		                    .nbytes = g->nbytes};
		memcpy(t[n].shape, g->shape, sizeof g->shape);
		n++;
	}
	snprintf(r->names[nn], 48, "conv1.weight");
	add_rule(t, &n, r->names[nn++], 64, 3, 7, 7);
	for (int s = 0; s < 4; s++) {
		int64_t width = 64 << s, out = 256 << s;

		for (int b = 0; b < layers[s]; b++) {
			snprintf(r->names[nn], 48, "layer%d.%d.conv1.weight", s + 1, b);
			add_rule(t, &n, r->names[nn++], width, cin, 1, 1);
			snprintf(r->names[nn], 48, "layer%d.%d.conv2.weight", s + 1, b);
			add_rule(t, &n, r->names[nn++], width, width, 3, 3);
			snprintf(r->names[nn], 48, "layer%d.%d.conv3.weight", s + 1, b);
			add_rule(t, &n, r->names[nn++], out, width, 1, 1);
			if (b == 0) {
				snprintf(r->names[nn], 48,
				         "layer%d.%d.downsample.0.weight", s + 1, b);
				add_rule(t, &n, r->names[nn++], out, cin, 1, 1);
			}
			cin = (int)out;
		}
	}
	snprintf(r->names[nn], 48, "fc.weight");
	add_rule(t, &n, r->names[nn++], 1000, 2048, 0, 0);
	r->file = stb_build(t, n, NULL, 0, &r->size);
	for (size_t i = 0; i < n && r->file; i++) {
		if (t[i].data)
			continue;
		/* fan_in: everything but the output dimension */
		size_t elems = t[i].nbytes / 4;
		int fan_in = (int)(elems / (size_t)t[i].shape[0]);

		golden_weight(t[i].name, elems, fan_in,
		              (float *)(void *)(r->file + t[i].offset));
	}
	free(t);
	return r->file ? 0 : -1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_resnet50(void)
{
	struct r50 r = {0};
	st_file *f = NULL;
	resnet *m = NULL;
	float *x = NULL, *want = NULL, got[2 * 1000];
	double t0;

	T_EQ_INT(build_r50(&r), 0);
	if (!r.file) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	T_EQ_INT(st_open_mem(&f, r.file, r.size, err, sizeof err), 0);
	T_EQ_INT(resnet_load(&m, f, err, sizeof err), 0);
	if (!m) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	T_EQ_STR(resnet_get_info(m)->arch, "resnet50");
	T_EQ_INT(resnet_get_info(m)->classes, 1000);
	/* 25,557,032 trainable + 53,120 running statistics */
	T_EQ_INT(resnet_get_info(m)->params, 25610152);
	x = golden_tensor(r.gold, "golden.input", NULL);   /* [2, 3, 224, 224] */
	want = golden_tensor(r.gold, "golden.logits", NULL); /* [2, 1000] */
	T_EQ_INT(resnet_prepare(m, 2, 224, 224), 0);
	t0 = now();
	T_EQ_INT(resnet_forward(m, x, 2, got), 0);
	printf("resnet50 batch 2: %.3f s\n", now() - t0);
	golden_compare("resnet50", got, want, 2, 1000);
	/* at full size (Winograd on 56x56 maps, k over 512 in passes): each
	 * image alone, on 2 and on 1 threads, and in a batch of 5, gives the
	 * batch's very bits */
	{
		const size_t per = (size_t)3 * 224 * 224;
		float one[1000], *x5 = malloc(5 * per * sizeof *x5);
		float *l5 = malloc(5 * 1000 * sizeof *l5);

		T_CHECK(x5 && l5);
		for (int i = 0; x5 && l5 && i < 5; i++)
			memcpy(x5 + i * per, x + (i % 2) * per, per * sizeof *x5);
		T_EQ_INT(resnet_prepare(m, 5, 224, 224), 0);
		if (x5 && l5) {
			T_EQ_INT(resnet_forward(m, x5, 5, l5), 0);
			for (int i = 0; i < 5; i++)
				T_CHECK(!memcmp(l5 + i * 1000, got + (i % 2) * 1000,
				                1000 * sizeof *l5));
		}
		free(x5), free(l5);
		T_EQ_INT(resnet_set_threads(m, 2), 0);
		T_EQ_INT(resnet_forward(m, x + 3 * 224 * 224, 1, one), 0);
		T_CHECK(!memcmp(one, got + 1000, sizeof one));
		T_EQ_INT(resnet_set_threads(m, 1), 0);
		T_EQ_INT(resnet_forward(m, x, 1, one), 0);
		T_CHECK(!memcmp(one, got, sizeof one));
	}
out:
	free(x), free(want);
	resnet_free(m);
	st_free(f);
	st_free(r.gold);
	free(r.file);
}

/* ---- wrong files ---- */

/* resnet_load for golden_expect_load_error (a failed load sets the model NULL). */
static int load_resnet(const st_file *f, char *e, size_t n, int *made)
{
	resnet *m = (resnet *)1;
	int rc = resnet_load(&m, f, e, n);

	*made = m != NULL;
	if (m != (resnet *)1)
		resnet_free(m);
	return rc;
}
/* tiny_basic with tensor drop removed, tensor repl (by name) replaced or,
 * if no tensor has its name, appended: the load fails with want. */
#define EXPECT_LOAD_ERROR(drop, repl, want) \
	golden_expect_load_error("tiny_basic.safetensors", drop, repl, want, __LINE__, load_resnet)

static void test_bad_files(void)
{
	float z[16 * 8 * 9] = {0}, bad[64];
	int64_t one = 1;
	stb_tensor t;

	EXPECT_LOAD_ERROR("layer2.0.downsample.0.weight", NULL,
	                  "missing tensor 'layer2.0.downsample.0.weight'");
	EXPECT_LOAD_ERROR("fc.bias", NULL, "missing tensor 'fc.bias'");
	EXPECT_LOAD_ERROR("layer3.0.bn2.running_mean", NULL,
	                  "missing tensor 'layer3.0.bn2.running_mean'");
	EXPECT_LOAD_ERROR("conv1.weight", NULL,
	                  "not a torchvision ResNet: no tensor 'conv1.weight'");
	EXPECT_LOAD_ERROR("layer4.0.conv1.weight", NULL,
	                  "missing tensor 'layer4.0.conv1.weight'");

	t = (stb_tensor){.name = "layer5.0.conv1.weight", .dtype = "F32",
	                 .ndim = 1, .shape = {1}, .data = z, .nbytes = 4};
	EXPECT_LOAD_ERROR(NULL, &t, "unexpected tensor 'layer5.0.conv1.weight'");
	t.name = "layer1.0.downsample.0.bias";
	EXPECT_LOAD_ERROR(NULL, &t, "unexpected tensor 'layer1.0.downsample.0.bias'");
	/* a third block in layer2 that has only its first conv */
	t = (stb_tensor){.name = "layer2.2.conv1.weight", .dtype = "F32",
	                 .ndim = 4, .shape = {16, 8, 3, 3}, .data = z,
	                 .nbytes = 16 * 8 * 9 * 4};
	EXPECT_LOAD_ERROR(NULL, &t, "tensor 'layer2.2.conv1.weight': shape "
	                            "[16,8,3,3], expected [16,16,3,3]");
	t = (stb_tensor){.name = "layer2.0.downsample.0.weight", .dtype = "F32",
	                 .ndim = 4, .shape = {16, 8, 3, 3}, .data = z,
	                 .nbytes = 16 * 8 * 9 * 4};
	EXPECT_LOAD_ERROR(NULL, &t, "tensor 'layer2.0.downsample.0.weight': "
	                            "shape [16,8,3,3], expected [16,8,1,1]");
	t = (stb_tensor){.name = "fc.weight", .dtype = "F32", .ndim = 2,
	                 .shape = {10, 32}, .data = z, .nbytes = 10 * 32 * 4};
	EXPECT_LOAD_ERROR(NULL, &t, "tensor 'fc.weight': shape [10,32], "
	                            "expected [10,64]");
	t = (stb_tensor){.name = "layer1.0.bn1.running_var", .dtype = "I64",
	                 .ndim = 1, .shape = {8}, .data = z, .nbytes = 64};
	EXPECT_LOAD_ERROR(NULL, &t, "tensor 'layer1.0.bn1.running_var': dtype "
	                            "I64, expected F32, F16 or BF16");
	t = (stb_tensor){.name = "bn1.num_batches_tracked", .dtype = "F32",
	                 .ndim = 0, .data = &one, .nbytes = 4};
	EXPECT_LOAD_ERROR(NULL, &t, "tensor 'bn1.num_batches_tracked': expected "
	                            "an I64 scalar");
	for (int i = 0; i < 64; i++)
		bad[i] = 1;
	bad[5] = -1;
	t = (stb_tensor){.name = "bn1.running_var", .dtype = "F32", .ndim = 1,
	                 .shape = {64}, .data = bad, .nbytes = sizeof bad};
	EXPECT_LOAD_ERROR(NULL, &t, "tensor 'bn1.running_var': negative variance "
	                            "at index 5");
	bad[5] = NAN;
	EXPECT_LOAD_ERROR(NULL, &t, "tensor 'bn1.running_var': non-finite value "
	                            "at index 5");

	/* something else entirely */
	{
		stb_tensor only = {.name = "embeddings.weight", .dtype = "F32",
		                   .ndim = 2, .shape = {4, 4}, .data = z,
		                   .nbytes = 64};
		size_t size;
		unsigned char *mem = stb_build(&only, 1, NULL, 0, &size);
		st_file *f = NULL;
		resnet *m = NULL;

		T_EQ_INT(st_open_mem(&f, mem, size, err, sizeof err), 0);
		T_EQ_INT(resnet_load(&m, f, err, sizeof err), NATADV_EFORMAT);
		T_EQ_STR(err, "not a torchvision ResNet: no tensor 'conv1.weight'");
		T_CHECK(m == NULL);
		st_free(f);
		free(mem);
	}
	T_EQ_INT(resnet_load_file(&(resnet *){NULL}, "/nonexistent.safetensors",
	                          err, sizeof err), NATADV_ENOTFOUND);
	resnet_free(NULL);
}

/* test_resnet --bench N [THREADS]: ResNet-50 images/s at batch N. */
static int bench(int batch, int threads)
{
	struct r50 r = {0};
	st_file *f = NULL;
	resnet *m = NULL;
	float *x, *logits;
	double t0, t, c0;
	int runs = 0;

	if (build_r50(&r) || st_open_mem(&f, r.file, r.size, err, sizeof err) ||
	    resnet_load(&m, f, err, sizeof err) ||
	    (threads > 0 && resnet_set_threads(m, threads)) ||
	    resnet_prepare(m, batch, 224, 224)) {
		fprintf(stderr, "bench: %s\n", m ? resnet_errmsg(m) : err);
		return 1;
	}
	x = calloc((size_t)batch * 3 * 224 * 224, sizeof *x);
	logits = calloc((size_t)batch * 1000, sizeof *logits);
	for (size_t i = 0; i < (size_t)batch * 3 * 224 * 224; i++)
		x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
	resnet_forward(m, x, batch, logits); /* warm-up */
	t0 = now();
	c0 = cpu_now();
	do {
		resnet_forward(m, x, batch, logits);
		runs++;
		t = now() - t0;
	} while (t < 5.0);
	/* CPU time per image is the steadier figure on a shared machine */
	printf("resnet50 batch %d: %.1f images/s, %.0f ms CPU per image (%d "
	       "runs, arena %zu MB)\n", batch, runs * batch / t,
	       (cpu_now() - c0) * 1e3 / (runs * batch), runs,
	       resnet_arena_bytes(m) >> 20);
	free(x), free(logits);
	resnet_free(m);
	st_free(f);
	st_free(r.gold);
	free(r.file);
	return 0;
}

/* test_resnet --check MODEL IO: MODEL's logits on IO's "input" against
 * IO's "logits" (what scripts/golden_resnet.py --check writes). */
static int check(const char *model, const char *iofile)
{
	st_file *io = NULL;
	resnet *m = NULL;
	const st_tensor *in, *want;
	float *x = NULL, *y = NULL, *ref = NULL;
	int n, rc = 1;

	if (st_open(&io, iofile, err, sizeof err) ||
	    resnet_load_file(&m, model, err, sizeof err)) {
		fprintf(stderr, "check: %s\n", err);
		goto out;
	}
	in = st_find(io, "input");   /* [n, 3, h, w] */
	want = st_find(io, "logits"); /* [n, classes] */
	if (!in || !want || in->ndim != 4 || want->ndim != 2 ||
	    want->shape[0] != in->shape[0] ||
	    want->shape[1] != resnet_get_info(m)->classes) {
		fprintf(stderr, "check: '%s' needs input [n,3,h,w] and logits "
		        "[n,classes]\n", iofile);
		goto out;
	}
	n = (int)in->shape[0];
	x = golden_tensor(io, "input", NULL);
	ref = golden_tensor(io, "logits", NULL);
	y = calloc(want->nelem, sizeof *y);
	if (resnet_prepare(m, n, (int)in->shape[2], (int)in->shape[3]) ||
	    resnet_forward(m, x, n, y)) {
		fprintf(stderr, "check: %s\n", resnet_errmsg(m));
		goto out;
	}
	printf("%s: %s\n", model, resnet_get_info(m)->arch);
	golden_compare(resnet_get_info(m)->arch, y, ref, n,
	        resnet_get_info(m)->classes);
	rc = t_failed_checks ? 1 : 0;
out:
	free(x), free(y), free(ref);
	resnet_free(m);
	st_free(io);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--check"))
		return check(argv[2], argv[3]);
	if (argc >= 3 && !strcmp(argv[1], "--bench"))
		return bench((int)strtol(argv[2], NULL, 10),
		             argc > 3 ? (int)strtol(argv[3], NULL, 10) : 0);
	T_RUN(test_tiny_basic);
	T_RUN(test_tiny_resnext);
	T_RUN(test_bad_files);
	T_RUN(test_resnet50);
	return T_DONE();
}
