/* test_densenet.c — the DenseNet against PyTorch's answers (tests/golden,
 * made by scripts/golden_densenet.py): two tiny torchvision DenseNets, one
 * with current tensor names (torchvision's and timm's tv_in1k files') in
 * F16, one with torchvision's legacy names in BF16, whose growth rate,
 * bottleneck, initial features and block configuration the loader must
 * find. Pass: per image max |logit diff| <= 1e-3 * max |logit| and the same
 * top-5 order. Also: every kind of wrong weights file is a clear error.
 * `test_densenet --check MODEL IO` compares one model file with PyTorch
 * (scripts/golden_densenet.py --check, the check-pytorch run) by the
 * agreement rules of the issue; `test_densenet --bench MODEL N THREADS`
 * times a forward pass at batch N. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "filter/densenet.h"
#include "filter/plan.h"
#include "filter/safetensors.h"
#include "tests/t.h"
#include "tests/unit/golden.h"
#include "tests/unit/st_build.h"

static char err[512];

struct want {
	densenet_layout layout;
	int growth, bn_size, init, blocks, layers[4], out[4], classes;
};

/* No batch norm makes a pass of its own over a block's buffer: each dense
 * layer's conv1 applies norm1 and its ReLU as it packs the buffer, the
 * transitions' pools their norm, the global pool norm5. */
static void check_fused(densenet *m)
{
	const densenet_info *di = densenet_get_info(m);
	const plan *p = densenet_plan(m);
	int passes = 0, fused = 0, layers = 0;

	for (int b = 0; b < di->blocks; b++)
		layers += di->layers[b];
	for (int i = 0; i < p->nops; i++) {
		passes += p->ops[i].kind == OP_BNRELU;
		fused += p->ops[i].kind != OP_BNRELU && p->ops[i].scale;
		/* conv1 reads the block's buffer itself */
		if (p->ops[i].kind == OP_CONV && p->ops[i].scale)
			T_CHECK(p->ops[i].src == BUF_X0 || p->ops[i].src == BUF_X1);
	}
	T_EQ_INT(passes, 0);
	T_EQ_INT(fused, layers + di->blocks);
}

static void run_tiny(const char *file, const char *logits_name,
                     const struct want *wt)
{
	st_file *io = NULL;
	densenet *m = NULL;
	const densenet_info *di;
	const st_tensor *in;
	float *x = NULL, *want = NULL, *got = NULL, *one = NULL, *again = NULL;
	int n, h, w, classes;

	T_EQ_INT(st_open(&io, golden_path("tiny_densenet_io.safetensors"), err,
	                 sizeof err), 0);
	T_EQ_INT(densenet_load_file(&m, golden_path(file), err, sizeof err), 0);
	if (!io || !m) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	di = densenet_get_info(m);
	T_EQ_STR(di->arch, "densenet");
	T_EQ_INT(di->layout, wt->layout);
	T_EQ_INT(di->growth, wt->growth);
	T_EQ_INT(di->bn_size, wt->bn_size);
	T_EQ_INT(di->init, wt->init);
	T_EQ_INT(di->blocks, wt->blocks);
	T_EQ_INT(di->classes, wt->classes);
	for (int b = 0; b < 4; b++) {
		T_EQ_INT(di->layers[b], wt->layers[b]);
		T_EQ_INT(di->out[b], wt->out[b]);
	}
	classes = di->classes;
	check_fused(m);
	in = st_find(io, "input"); /* [n, 3, 57, 71] */
	n = (int)in->shape[0], h = (int)in->shape[2], w = (int)in->shape[3];
	x = golden_tensor(io, "input", NULL);
	want = golden_tensor(io, logits_name, NULL);
	got = calloc((size_t)n * classes, sizeof *got);
	again = calloc((size_t)n * classes, sizeof *again);
	one = calloc((size_t)classes, sizeof *one);
	T_EQ_INT(densenet_forward(m, x, n, got), NATADV_EINVAL); /* unprepared */
	T_EQ_INT(densenet_prepare(m, n, h, w), 0);
	T_EQ_INT(densenet_forward(m, x, n + 1, got), NATADV_EINVAL);
	T_CHECK(strstr(densenet_errmsg(m), "prepared for at most 3") != NULL);
	T_EQ_INT(densenet_forward(m, x, n, got), 0);
	golden_compare(file, got, want, n, classes);
	/* one image at a time gives the same answers as the batch: the block
	 * buffers' channel slices depend on the batch size */
	for (int i = 0; i < n; i++) {
		T_EQ_INT(densenet_forward(m, x + (size_t)i * 3 * h * w, 1, one), 0);
		for (int j = 0; j < classes; j++)
			T_CHECK(fabsf(one[j] - got[(size_t)i * classes + j]) <= 1e-5f);
	}
	for (int t = 1; t <= 3; t++) {
		T_EQ_INT(densenet_set_threads(m, t), 0);
		T_EQ_INT(densenet_forward(m, x, n, again), 0);
		for (int i = 0; i < n * classes; i++)
			T_CHECK(fabsf(again[i] - got[i]) <= 1e-5f);
	}
	/* a new arena for another size still runs, and back */
	T_EQ_INT(densenet_prepare(m, 2, 224, 160), 0);
	T_CHECK(densenet_arena_bytes(m) > 0);
	T_EQ_INT(densenet_prepare(m, 1, h, w), 0);
	T_EQ_INT(densenet_forward(m, x, 1, one), 0);
	T_CHECK(fabsf(one[0] - got[0]) <= 1e-5f);
	/* too small for the network's four halvings of the pixels */
	T_EQ_INT(densenet_prepare(m, 1, 8, 8), NATADV_EINVAL);
	T_CHECK(strstr(densenet_errmsg(m), "too small") != NULL);
out:
	free(x), free(want), free(got), free(one), free(again);
	densenet_free(m);
	st_free(io);
}

static void test_tiny_current(void)
{
	const struct want w = {DENSENET_CURRENT, 4, 4, 8, 4, {2, 3, 2, 2},
	                       {16, 20, 18, 17}, 10};

	run_tiny("tiny_densenet.safetensors", "logits.tiny_densenet", &w);
}

static void test_tiny_legacy(void)
{
	const struct want w = {DENSENET_LEGACY, 6, 2, 12, 4, {1, 2, 3, 2},
	                       {18, 21, 28, 26}, 7};

	run_tiny("tiny_densenet_legacy.safetensors",
	         "logits.tiny_densenet_legacy", &w);
}

/* ---- wrong files ---- */

/* densenet_load for golden_expect_load_error (a failed load sets the model NULL). */
static int load_densenet(const st_file *f, char *e, size_t n, int *made)
{
	densenet *m = (densenet *)1;
	int rc = densenet_load(&m, f, e, n);

	*made = m != NULL;
	if (m != (densenet *)1)
		densenet_free(m);
	return rc;
}
/* Golden file src with tensor drop removed and tensor repl replaced (by
 * name) or, if no tensor has its name, appended: the load fails with want. */
#define CUR "tiny_densenet.safetensors"
#define OLD "tiny_densenet_legacy.safetensors"
#define EXPECT_LOAD_ERROR(file, drop, repl, want) \
	golden_expect_load_error(file, drop, repl, want, __LINE__, load_densenet)

static void test_missing(void)
{
	EXPECT_LOAD_ERROR(CUR, "features.denseblock2.denselayer3.conv2.weight",
	                  NULL, "missing tensor 'features.denseblock2."
	                        "denselayer3.conv2.weight'");
	EXPECT_LOAD_ERROR(CUR, "features.transition2.conv.weight", NULL,
	                  "missing tensor 'features.transition2.conv.weight'");
	EXPECT_LOAD_ERROR(CUR, "features.transition3.norm.bias", NULL,
	                  "missing tensor 'features.transition3.norm.bias'");
	EXPECT_LOAD_ERROR(CUR, "features.norm5.running_var", NULL,
	                  "missing tensor 'features.norm5.running_var'");
	EXPECT_LOAD_ERROR(CUR, "features.norm0.running_mean", NULL,
	                  "missing tensor 'features.norm0.running_mean'");
	EXPECT_LOAD_ERROR(CUR, "classifier.bias", NULL,
	                  "missing tensor 'classifier.bias'");
	EXPECT_LOAD_ERROR(CUR, "features.conv0.weight", NULL,
	                  "not a torchvision DenseNet: no tensor "
	                  "'features.conv0.weight'");
	EXPECT_LOAD_ERROR(CUR, "classifier.weight", NULL,
	                  "not a torchvision DenseNet: no tensor "
	                  "'classifier.weight'");
	/* legacy files are read by their own names */
	EXPECT_LOAD_ERROR(OLD, "features.denseblock3.denselayer2.norm.2.bias",
	                  NULL, "missing tensor 'features.denseblock3."
	                        "denselayer2.norm.2.bias'");
}

static void test_shapes(void)
{
	static float z[64 * 64 * 9];
	stb_tensor t;

	/* layer 2 of block 1 reads 8 + 4 channels */
	t = (stb_tensor){.name = "features.denseblock1.denselayer2.conv1.weight",
	                 .dtype = "F32", .ndim = 4, .shape = {16, 8, 1, 1},
	                 .data = z, .nbytes = 16 * 8 * 4};
	EXPECT_LOAD_ERROR(CUR, NULL, &t, "tensor 'features.denseblock1."
	                  "denselayer2.conv1.weight': shape [16,8,1,1], expected "
	                  "[16,12,1,1]");
	t = (stb_tensor){.name = "features.denseblock3.denselayer1.conv2.weight",
	                 .dtype = "F32", .ndim = 4, .shape = {4, 16, 1, 1},
	                 .data = z, .nbytes = 4 * 16 * 4};
	EXPECT_LOAD_ERROR(CUR, NULL, &t, "tensor 'features.denseblock3."
	                  "denselayer1.conv2.weight': shape [4,16,1,1], expected "
	                  "[4,16,3,3]");
	t = (stb_tensor){.name = "features.denseblock2.denselayer1.norm1.weight",
	                 .dtype = "F32", .ndim = 1, .shape = {9}, .data = z,
	                 .nbytes = 9 * 4};
	EXPECT_LOAD_ERROR(CUR, NULL, &t, "tensor 'features.denseblock2."
	                  "denselayer1.norm1.weight': shape [9], expected [8]");
	t = (stb_tensor){.name = "classifier.weight", .dtype = "F32", .ndim = 2,
	                 .shape = {10, 16}, .data = z, .nbytes = 10 * 16 * 4};
	EXPECT_LOAD_ERROR(CUR, NULL, &t, "tensor 'classifier.weight': shape "
	                  "[10,16], expected [10,17]");
	t = (stb_tensor){.name = "features.norm5.running_var", .dtype = "I64",
	                 .ndim = 1, .shape = {17}, .data = z, .nbytes = 17 * 8};
	EXPECT_LOAD_ERROR(CUR, NULL, &t, "tensor 'features.norm5.running_var': "
	                  "dtype I64, expected F32, F16 or BF16");
	/* a third dense layer in block 1 that has only its conv1 */
	t = (stb_tensor){.name = "features.denseblock1.denselayer3.conv1.weight",
	                 .dtype = "F32", .ndim = 4, .shape = {16, 16, 1, 1},
	                 .data = z, .nbytes = 16 * 16 * 4};
	EXPECT_LOAD_ERROR(CUR, NULL, &t, "missing tensor 'features.denseblock1."
	                  "denselayer3.norm1.weight'");
	t = (stb_tensor){.name = "features.denseblock1.denselayer1.conv1.bias",
	                 .dtype = "F32", .ndim = 1, .shape = {16}, .data = z,
	                 .nbytes = 16 * 4};
	EXPECT_LOAD_ERROR(CUR, NULL, &t, "unexpected tensor 'features."
	                  "denseblock1.denselayer1.conv1.bias'");
}

static void test_values_and_layouts(void)
{
	float bad[16];
	stb_tensor t;

	for (int i = 0; i < 16; i++)
		bad[i] = 1;
	bad[3] = -2;
	/* kept as scale and shift (norm1) or folded into conv1 (norm2) */
	t = (stb_tensor){.name = "features.denseblock1.denselayer1.norm1."
	                         "running_var", .dtype = "F32", .ndim = 1,
	                 .shape = {8}, .data = bad, .nbytes = 8 * 4};
	EXPECT_LOAD_ERROR(CUR, NULL, &t, "tensor 'features.denseblock1."
	                  "denselayer1.norm1.running_var': negative variance at "
	                  "index 3");
	t.name = "features.denseblock1.denselayer1.norm2.running_var";
	t.shape[0] = 16, t.nbytes = 16 * 4;
	EXPECT_LOAD_ERROR(CUR, NULL, &t, "tensor 'features.denseblock1."
	                  "denselayer1.norm2.running_var': negative variance at "
	                  "index 3");
	bad[3] = NAN;
	EXPECT_LOAD_ERROR(CUR, NULL, &t, "tensor 'features.denseblock1."
	                  "denselayer1.norm2.running_var': non-finite value at "
	                  "index 3");
	/* one dense layer's norm1 under its legacy name among current ones,
	 * and the other way round */
	t = (stb_tensor){.name = "features.denseblock3.denselayer2.norm.1.weight",
	                 .dtype = "F32", .ndim = 1, .shape = {14}, .data = bad,
	                 .nbytes = 14 * 4};
	EXPECT_LOAD_ERROR(CUR, "features.denseblock3.denselayer2.norm1.weight",
	                  &t, "tensor 'features.denseblock3.denselayer2.norm.1."
	                  "weight': torchvision's legacy name in a file that also "
	                  "has current names such as 'features.denseblock1."
	                  "denselayer1.norm1.weight'");
	t = (stb_tensor){.name = "features.denseblock2.denselayer2.conv2.weight",
	                 .dtype = "F32", .ndim = 4, .shape = {6, 12, 3, 3},
	                 .data = NULL, .nbytes = 6 * 12 * 9 * 4};
	EXPECT_LOAD_ERROR(OLD, "features.denseblock2.denselayer2.conv.2.weight",
	                  &t, "tensor 'features.denseblock1.denselayer1.norm.1."
	                  "weight': torchvision's legacy name in a file that also "
	                  "has current names such as 'features.denseblock2."
	                  "denselayer2.conv2.weight'");
}

static void test_other_files(void)
{
	densenet *m = NULL;
	st_file *f = NULL;

	/* a ResNet is not a DenseNet */
	T_EQ_INT(st_open(&f, golden_path("tiny_basic.safetensors"), err,
	                 sizeof err), 0);
	T_EQ_INT(densenet_load(&m, f, err, sizeof err), NATADV_EFORMAT);
	T_EQ_STR(err, "not a torchvision DenseNet: no tensor "
	              "'features.conv0.weight'");
	T_CHECK(m == NULL);
	st_free(f);
	T_EQ_INT(densenet_load_file(&m, "/nonexistent.safetensors", err,
	                            sizeof err), NATADV_ENOTFOUND);
	densenet_free(NULL);
}

/* ---- against full-size PyTorch models ---- */

static void softmax(const float *x, int n, double *p)
{
	double mx = x[0], sum = 0;

	for (int j = 1; j < n; j++)
		mx = fmax(mx, x[j]);
	for (int j = 0; j < n; j++)
		sum += p[j] = exp(x[j] - mx);
	for (int j = 0; j < n; j++)
		p[j] /= sum;
}

/* Largest of x over the classes in sub[0..nsub). */
static int subset_argmax(const float *x, const float *sub, int nsub)
{
	int best = (int)sub[0];

	for (int i = 1; i < nsub; i++)
		if (x[(int)sub[i]] > x[best])
			best = (int)sub[i];
	return best;
}

/* The agreement rules for one image: the same top-5 set, the same argmax
 * over the subset, no clear top-1 flip (a different top-1 only where
 * PyTorch's two probabilities are within 2%) and the reference's top-5
 * probabilities within 2% relative. Returns 1 when they hold. */
static int agree(const float *g, const float *w, int classes,
                 const float *sub, int nsub, double *worst)
{
	double *pg = malloc(classes * sizeof *pg), *pw = malloc(classes * sizeof *pw);
	int tg[5], tw[5], ok = 1;

	softmax(g, classes, pg);
	softmax(w, classes, pw);
	golden_top5(g, classes, tg);
	golden_top5(w, classes, tw);
	for (int a = 0; a < 5; a++) {
		int found = 0;

		for (int b = 0; b < 5; b++)
			found |= tg[a] == tw[b];
		ok &= found;
		*worst = fmax(*worst, fabs(pg[tw[a]] - pw[tw[a]]) / pw[tw[a]]);
		ok &= fabs(pg[tw[a]] - pw[tw[a]]) <= 0.02 * pw[tw[a]];
	}
	if (nsub)
		ok &= subset_argmax(g, sub, nsub) == subset_argmax(w, sub, nsub);
	if (tg[0] != tw[0])
		ok &= pw[tw[0]] - pw[tg[0]] <= 0.02 * pw[tw[0]];
	free(pg), free(pw);
	return ok;
}

/* test_densenet --check MODEL IO: MODEL's logits on IO's "input" against
 * IO's "logits", with IO's "subset" (ImageNet-A's 1K indices). */
static int check(const char *model, const char *iofile)
{
	st_file *io = NULL;
	densenet *m = NULL;
	const st_tensor *in, *want, *subt;
	float *x = NULL, *y = NULL, *ref = NULL, *sub = NULL;
	int n, classes, nsub = 0, bad = 0, rc = 1;
	double worst = 0, maxd = 0, maxw = 0;

	if (st_open(&io, iofile, err, sizeof err) ||
	    densenet_load_file(&m, model, err, sizeof err)) {
		fprintf(stderr, "check: %s\n", err);
		goto out;
	}
	in = st_find(io, "input");    /* [n, 3, h, w] */
	want = st_find(io, "logits"); /* [n, classes] */
	subt = st_find(io, "subset"); /* [200] */
	classes = densenet_get_info(m)->classes;
	if (!in || !want || in->ndim != 4 || want->ndim != 2 ||
	    want->shape[0] != in->shape[0] || want->shape[1] != classes) {
		fprintf(stderr, "check: '%s' needs input [n,3,h,w] and logits "
		        "[n,classes]\n", iofile);
		goto out;
	}
	n = (int)in->shape[0];
	x = golden_tensor(io, "input", NULL);
	ref = golden_tensor(io, "logits", NULL);
	if (subt) {
		sub = golden_tensor(io, "subset", NULL);
		nsub = (int)subt->nelem;
		for (int i = 0; i < nsub; i++)
			if (sub[i] < 0 || sub[i] >= classes)
				nsub = 0;
	}
	y = calloc(want->nelem, sizeof *y);
	if (densenet_prepare(m, n, (int)in->shape[2], (int)in->shape[3]) ||
	    densenet_forward(m, x, n, y)) {
		fprintf(stderr, "check: %s\n", densenet_errmsg(m));
		goto out;
	}
	for (int i = 0; i < n; i++) {
		const float *g = y + (size_t)i * classes, *w = ref + (size_t)i * classes;

		for (int j = 0; j < classes; j++) {
			maxd = fmax(maxd, fabs((double)g[j] - w[j]));
			maxw = fmax(maxw, fabs(w[j]));
		}
		bad += !agree(g, w, classes, sub, nsub, &worst);
	}
	printf("%s (%s, %s names): %d of %d images agree, top-5 probabilities "
	       "within %.2g relative, max |logit diff| %.3g of max |logit| %.3g\n",
	       model, densenet_get_info(m)->arch,
	       densenet_get_info(m)->layout == DENSENET_LEGACY ? "legacy"
	                                                       : "current",
	       n - bad, n, worst, maxd, maxw);
	rc = bad ? 1 : 0;
out:
	free(x), free(y), free(ref), free(sub);
	densenet_free(m);
	st_free(io);
	return rc;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* test_densenet --bench MODEL N THREADS: images/s at batch N, 224x224. */
static int bench(const char *model, int batch, int threads)
{
	densenet *m = NULL;
	float *x, *logits;
	double t0, t;
	int runs = 0;

	if (densenet_load_file(&m, model, err, sizeof err) ||
	    (threads > 0 && densenet_set_threads(m, threads)) ||
	    densenet_prepare(m, batch, 224, 224)) {
		fprintf(stderr, "bench: %s\n", m ? densenet_errmsg(m) : err);
		densenet_free(m);
		return 1;
	}
	x = calloc((size_t)batch * 3 * 224 * 224, sizeof *x);
	logits = calloc((size_t)batch * densenet_get_info(m)->classes,
	                sizeof *logits);
	for (size_t i = 0; i < (size_t)batch * 3 * 224 * 224; i++)
		x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
	densenet_forward(m, x, batch, logits); /* warm-up */
	t0 = now();
	do {
		densenet_forward(m, x, batch, logits);
		runs++;
		t = now() - t0;
	} while (t < 5.0);
	printf("%s batch %d, %d threads, %s kernels: %.1f images/s, %.1f ms "
	       "per batch (%d runs, arena %zu MB)\n",
	       densenet_get_info(m)->arch, batch, threads,
	       densenet_kernels(m), runs * batch / t, t * 1e3 / runs, runs,
	       densenet_arena_bytes(m) >> 20);
	free(x), free(logits);
	densenet_free(m);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--check"))
		return check(argv[2], argv[3]);
	if (argc == 5 && !strcmp(argv[1], "--bench"))
		return bench(argv[2], (int)strtol(argv[3], NULL, 10),
		             (int)strtol(argv[4], NULL, 10));
	T_RUN(test_tiny_current);
	T_RUN(test_tiny_legacy);
	T_RUN(test_missing);
	T_RUN(test_shapes);
	T_RUN(test_values_and_layouts);
	T_RUN(test_other_files);
	return T_DONE();
}
