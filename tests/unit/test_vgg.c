/* test_vgg.c — the VGG against PyTorch's answers (tests/golden, made by
 * scripts/golden_vgg.py): a narrow vgg11-shaped network in torchvision's
 * names (F16) and the same with batch norm in timm's names (BF16), run
 * through net_load on 96x128 inputs, whose 3x4 features the adaptive pool
 * spreads to 7x7. Pass: per image max |logit diff| <= 1e-3 * max |logit|
 * and the same top-5 order. Also: every kind of wrong weights file is a
 * clear error naming the tensor, mixed layouts included.
 * `test_vgg --logits MODEL IO OUT` writes MODEL's logits on IO's "input" as
 * raw float32 to OUT (scripts/golden_vgg.py --check, make check-pytorch). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "filter/net.h"
#include "filter/plan.h"
#include "filter/safetensors.h"
#include "filter/vgg.h"
#include "tests/t.h"
#include "tests/unit/golden.h"
#include "tests/unit/st_build.h"

static char err[512];

/* What vgg_load reads from the file: layout, batch norm and the shape. */
static void check_info(const char *file, vgg_layout layout, int bn)
{
	static const int convs[VGG_STAGES] = {1, 1, 2, 2, 2};
	static const int width[VGG_STAGES] = {4, 8, 16, 16, 16};
	st_file *f = NULL;
	vgg *v = NULL;

	T_EQ_INT(st_open(&f, golden_path(file), err, sizeof err), 0);
	T_EQ_INT(vgg_load(&v, f, err, sizeof err), 0);
	if (v) {
		const vgg_info *vi = vgg_get_info(v);

		T_EQ_INT(vi->layout, layout);
		T_EQ_INT(vi->bn, bn);
		T_CHECK(!memcmp(vi->convs, convs, sizeof convs));
		T_CHECK(!memcmp(vi->width, width, sizeof width));
		T_EQ_INT(vi->hidden, 32);
		T_EQ_INT(vi->classes, 10);
		T_EQ_STR(vi->arch, "vgg");
	}
	vgg_free(v);
	st_free(f);
}

/* The golden logits at batch 2, one image at a time and on 1, 2, 3
 * threads. */
static void run_tiny(const char *file, const char *logits_name)
{
	st_file *io = NULL;
	net *m = NULL;
	float *x = NULL, *want = NULL, *got = NULL, *one = NULL;
	const int n = 2, h = 96, w = 128, classes = 10;

	T_EQ_INT(st_open(&io, golden_path("tiny_vgg_io.safetensors"), err,
	                 sizeof err), 0);
	T_EQ_INT(net_load_file(&m, golden_path(file), err, sizeof err), 0);
	if (!io || !m)
		goto out;
	T_EQ_STR(net_get_info(m)->family, "vgg");
	T_EQ_STR(net_get_info(m)->arch, "vgg");
	T_EQ_INT(net_get_info(m)->classes, classes);
	x = golden_tensor(io, "input", NULL);
	want = golden_tensor(io, logits_name, NULL);
	got = calloc((size_t)n * classes, sizeof *got);
	one = calloc(classes, sizeof *one);
	T_CHECK(x && want && got && one);
	if (!x || !want || !got || !one)
		goto out;
	T_EQ_INT(net_prepare(m, n, h, w), 0);
	T_EQ_INT(net_forward(m, x, n, got), 0);
	golden_compare(file, got, want, n, classes);
	for (int i = 0; i < n; i++) {
		T_EQ_INT(net_forward(m, x + (size_t)i * 3 * h * w, 1, one), 0);
		golden_compare(file, one, want + (size_t)i * classes, 1, classes);
	}
	for (int t = 1; t <= 3; t++) {
		T_EQ_INT(net_set_threads(m, t), 0);
		T_EQ_INT(net_forward(m, x, n, got), 0);
		golden_compare(file, got, want, n, classes);
	}
	/* 224 px: 7x7 features, the pool is the identity; 16 px: none left */
	T_EQ_INT(net_prepare(m, 1, 224, 224), 0);
	T_EQ_INT(net_prepare(m, 1, 16, 16), NATADV_EINVAL);
	T_CHECK(strstr(net_errmsg(m), "too small") != NULL);
out:
	free(x);
	free(want);
	free(got);
	free(one);
	net_free(m);
	st_free(io);
}

/* Loads conv "c" with batch norm "bn" from tensors w [cout, cin, 1, 1]
 * and bn's four vectors p into op; 0 or the loader's error (in err). */
static int load_big_conv(int cout, int cin, const float *w,
                         float *const p[4], struct plan_op *op, char *msg,
                         size_t msglen)
{
	stb_tensor t[5] = {
		{.name = "c.weight", .dtype = "F32", .ndim = 4,
		 .shape = {cout, cin, 1, 1}, .data = w,
		 .nbytes = (size_t)cout * cin * sizeof *w},
		{.name = "bn.weight", .dtype = "F32", .ndim = 1, .shape = {cout},
		 .data = p[0], .nbytes = (size_t)cout * sizeof *w},
		{.name = "bn.bias", .dtype = "F32", .ndim = 1, .shape = {cout},
		 .data = p[1], .nbytes = (size_t)cout * sizeof *w},
		{.name = "bn.running_mean", .dtype = "F32", .ndim = 1,
		 .shape = {cout}, .data = p[2], .nbytes = (size_t)cout * sizeof *w},
		{.name = "bn.running_var", .dtype = "F32", .ndim = 1,
		 .shape = {cout}, .data = p[3], .nbytes = (size_t)cout * sizeof *w},
	};
	const plan_conv_spec s = {.conv = "c", .bn = "bn", .cin = cin,
	                          .cout = cout, .k = 1, .stride = 1,
	                          .groups = 1};
	size_t size;
	unsigned char *mem = stb_build(t, 5, NULL, 0, &size);
	st_file *f = NULL;
	plan_loader L;
	int rc = mem ? st_open_mem(&f, mem, size, msg, msglen) : NATADV_ENOMEM;

	if (!rc)
		rc = plan_loader_init(&L, f, msg, msglen);
	if (!rc) {
		rc = plan_load_conv(&L, op, &s);
		plan_loader_release(&L);
	}
	st_free(f);
	free(mem);
	return rc;
}

/* A conv too large for one piece of plan.c's loading (4M floats read,
 * folded and packed at a time): its packed weights and bias are those of
 * the whole tensor folded and packed at once, and a negative variance in
 * the second piece is named by its own index. */
static void test_loaded_in_pieces(void)
{
	enum { COUT = 1100, CIN = 4000 }; /* 1048 rows a piece */
	float *w = malloc((size_t)COUT * CIN * sizeof *w);
	float *wf = malloc((size_t)COUT * CIN * sizeof *w), *p[4], b[COUT] = {0};
	struct plan_op op;
	nn_packed ref;
	char e[256];

	for (int i = 0; i < 4; i++) {
		p[i] = malloc(COUT * sizeof *p[i]);
		for (int o = 0; o < COUT; o++)
			p[i][o] = 0.5f + (float)((o * 7 + i * 3) % 11) / 8;
	}
	for (size_t i = 0; i < (size_t)COUT * CIN; i++)
		w[i] = (float)((int)(i % 1013) - 506) / 512;
	memcpy(wf, w, (size_t)COUT * CIN * sizeof *w);
	T_EQ_INT(nn_fold_bn(wf, b, COUT, CIN, p[0], p[1], p[2], p[3], 1e-5), -1);
	memset(&op, 0, sizeof op);
	T_EQ_INT(load_big_conv(COUT, CIN, w, p, &op, e, sizeof e), 0);
	T_EQ_INT(nn_pack(&ref, wf, 1, COUT, CIN, op.conv.pk.isa), 0);
	T_EQ_INT(nn_packed_floats(&op.conv.pk), nn_packed_floats(&ref));
	T_CHECK(op.conv.pk.p && !memcmp(op.conv.pk.p, ref.p,
	                                nn_packed_floats(&ref) * sizeof *ref.p));
	T_CHECK(op.conv.b && !memcmp(op.conv.b, b, sizeof b));
	T_CHECK(op.conv.w == NULL); /* no unpacked copy kept */
	nn_packed_release(&op.conv.pk), nn_packed_release(&ref);
	free(op.conv.b);
	p[3][1050] = -1.0f;
	memset(&op, 0, sizeof op);
	T_EQ_INT(load_big_conv(COUT, CIN, w, p, &op, e, sizeof e),
	         NATADV_EFORMAT);
	T_EQ_STR(e, "tensor 'bn.running_var': negative variance at index 1050");
	nn_packed_release(&op.conv.pk);
	free(op.conv.b);
	for (int i = 0; i < 4; i++)
		free(p[i]);
	free(w), free(wf);
}

static void test_tiny_tv(void)
{
	check_info("tiny_vgg_tv.safetensors", VGG_TORCHVISION, 0);
	run_tiny("tiny_vgg_tv.safetensors", "logits.tiny_vgg_tv");
}

static void test_tiny_timm_bn(void)
{
	check_info("tiny_vgg_timm_bn.safetensors", VGG_TIMM, 1);
	run_tiny("tiny_vgg_timm_bn.safetensors", "logits.tiny_vgg_timm_bn");
}

/* ---- wrong files ---- */

/* net_load for golden_expect_load_error: no model on failure. */
static int load_net(const st_file *f, char *e, size_t n, int *made)
{
	net *m = NULL;
	int rc = net_load(&m, f, e, n);

	*made = m != NULL;
	net_free(m);
	return rc;
}
/* Golden file with tensor drop removed and tensor repl (by name) replaced
 * or, if no tensor has its name, appended: net_load fails with want. */
#define TV "tiny_vgg_tv.safetensors"
#define TIMM "tiny_vgg_timm_bn.safetensors"
#define EXPECT(file, drop, repl, want) \
	golden_expect_load_error(file, drop, repl, want, __LINE__, load_net)

static float z[32 * 16 * 49 + 64];

static void test_missing_and_shapes(void)
{
	stb_tensor t;

	EXPECT(TV, "classifier.3.bias", NULL, "missing tensor 'classifier.3.bias'");
	EXPECT(TV, "classifier.6.weight", NULL,
	       "tensor 'classifier.6.weight': no plausible number of classes");
	EXPECT(TV, "features.8.bias", NULL, "missing tensor 'features.8.bias'");
	EXPECT(TV, "features.0.weight", NULL,
	       "not a torchvision ResNet: no tensor 'conv1.weight'");
	EXPECT(TIMM, "features.5.running_var", NULL,
	       "missing tensor 'features.5.running_var'");
	EXPECT(TIMM, "head.fc.bias", NULL, "missing tensor 'head.fc.bias'");
	EXPECT(TIMM, "pre_logits.fc2.weight", NULL,
	       "missing tensor 'pre_logits.fc2.weight'");

	t = (stb_tensor){.name = "classifier.0.weight", .dtype = "F32",
	                 .ndim = 2, .shape = {32, 785}, .data = z,
	                 .nbytes = 32 * 785 * 4};
	EXPECT(TV, NULL, &t, "tensor 'classifier.0.weight': shape [32,785], "
	                     "expected [32,784]");
	/* timm's fc1 is a convolution; torchvision's 2-D form is refused */
	t = (stb_tensor){.name = "pre_logits.fc1.weight", .dtype = "F32",
	                 .ndim = 2, .shape = {32, 784}, .data = z,
	                 .nbytes = 32 * 784 * 4};
	EXPECT(TIMM, NULL, &t, "tensor 'pre_logits.fc1.weight': shape [32,784], "
	                       "expected [32,16,7,7]");
	t = (stb_tensor){.name = "pre_logits.fc2.weight", .dtype = "F32",
	                 .ndim = 2, .shape = {32, 32}, .data = z,
	                 .nbytes = 32 * 32 * 4};
	EXPECT(TIMM, NULL, &t, "tensor 'pre_logits.fc2.weight': shape [32,32], "
	                       "expected [32,32,1,1]");
	/* a convolution whose input is not the previous one's output */
	t = (stb_tensor){.name = "features.3.weight", .dtype = "F32",
	                 .ndim = 4, .shape = {8, 5, 3, 3}, .data = z,
	                 .nbytes = 8 * 5 * 9 * 4};
	EXPECT(TV, NULL, &t, "tensor 'features.3.weight': shape [8,5,3,3], "
	                     "expected [8,4,3,3]");
	t = (stb_tensor){.name = "features.1.running_mean", .dtype = "I64",
	                 .ndim = 1, .shape = {4}, .data = z, .nbytes = 32};
	EXPECT(TIMM, NULL, &t, "tensor 'features.1.running_mean': dtype I64, "
	                       "expected F32, F16 or BF16");
	t = (stb_tensor){.name = "head.fc.weight", .dtype = "F32", .ndim = 2,
	                 .shape = {10, 16}, .data = z, .nbytes = 10 * 16 * 4};
	EXPECT(TIMM, NULL, &t, "tensor 'head.fc.weight': shape [10,16], "
	                       "expected [10,32]");
}

static void test_layouts_and_layers(void)
{
	stb_tensor t;

	/* timm's head in a torchvision file, and the other way round */
	t = (stb_tensor){.name = "head.fc.weight", .dtype = "F32", .ndim = 2,
	                 .shape = {10, 32}, .data = z, .nbytes = 10 * 32 * 4};
	EXPECT(TV, NULL, &t, "tensor 'head.fc.weight' (timm's layout) in a file "
	                     "with 'classifier.0.weight' (torchvision's layout): "
	                     "mixed layouts");
	t = (stb_tensor){.name = "classifier.6.bias", .dtype = "F32", .ndim = 1,
	                 .shape = {10}, .data = z, .nbytes = 10 * 4};
	EXPECT(TIMM, NULL, &t, "tensor 'pre_logits.fc1.weight' (timm's layout) "
	                       "in a file with 'classifier.6.bias' "
	                       "(torchvision's layout): "
	                       "mixed layouts");
	EXPECT(TV, "classifier.0.weight", NULL,
	       "missing tensor 'classifier.0.weight'");
	{
		st_file *f = NULL;
		stb_tensor only = {.name = "features.0.weight", .dtype = "F32",
		                   .ndim = 4, .shape = {4, 3, 3, 3}, .data = z,
		                   .nbytes = 4 * 27 * 4};
		size_t size;
		unsigned char *mem = stb_build(&only, 1, NULL, 0, &size);
		net *m = NULL;

		T_EQ_INT(st_open_mem(&f, mem, size, err, sizeof err), 0);
		T_EQ_INT(net_load(&m, f, err, sizeof err), NATADV_EFORMAT);
		T_EQ_STR(err, "not a VGG: no tensor 'classifier.0.weight' "
		              "(torchvision) or 'pre_logits.fc1.weight' (timm)");
		st_free(f);
		free(mem);
	}
	/* a convolution where VGG has a ReLU, and a sixth stage */
	t = (stb_tensor){.name = "features.4.weight", .dtype = "F32",
	                 .ndim = 4, .shape = {8, 8, 3, 3}, .data = z,
	                 .nbytes = 8 * 8 * 9 * 4};
	EXPECT(TV, NULL, &t, "tensor 'features.4.weight': no VGG has a "
	                     "convolution there (after 'features.3')");
	t = (stb_tensor){.name = "features.21.weight", .dtype = "F32",
	                 .ndim = 4, .shape = {16, 16, 3, 3}, .data = z,
	                 .nbytes = 16 * 16 * 9 * 4};
	EXPECT(TV, NULL, &t, "tensor 'features.21.weight': no VGG has a "
	                     "convolution there (after 'features.18')");
	/* a stray tensor, and a batch norm in a file without them */
	t = (stb_tensor){.name = "features.2.bias", .dtype = "F32", .ndim = 1,
	                 .shape = {4}, .data = z, .nbytes = 16};
	EXPECT(TV, NULL, &t, "unexpected tensor 'features.2.bias'");
	t = (stb_tensor){.name = "features.4.running_mean", .dtype = "F32",
	                 .ndim = 1, .shape = {8}, .data = z, .nbytes = 32};
	EXPECT(TV, NULL, &t, "unexpected tensor 'features.4.running_mean'");
}

/* net_load picks the family by the tensor names: a ResNet file still loads
 * as a ResNet, with the same answers through net_* as through resnet_*. */
static void test_net_family(void)
{
	net *m = NULL;

	T_EQ_INT(net_load_file(&m, golden_path("tiny_basic.safetensors"), err,
	                       sizeof err), 0);
	if (m) {
		T_EQ_STR(net_get_info(m)->family, "resnet");
		T_EQ_STR(net_get_info(m)->arch, "resnet");
		T_EQ_INT(net_get_info(m)->classes, 10);
		T_CHECK(net_get_info(m)->params > 0);
		T_CHECK(strlen(net_kernels(m)) > 0);
		T_EQ_INT(net_prepare(m, 1, 57, 71), 0);
		T_CHECK(net_arena_bytes(m) > 0);
		T_CHECK(net_profile_ops(m) > 0);
	}
	net_free(m);
	net_free(NULL);
	T_EQ_INT(net_load_file(&m, "/nonexistent.safetensors", err, sizeof err),
	         NATADV_ENOTFOUND);
}

/* test_vgg --logits MODEL IO OUT: MODEL's logits on IO's "input". */
static int logits(const char *model, const char *iopath, const char *out)
{
	st_file *io = NULL;
	net *m = NULL;
	float *x = NULL, *y = NULL;
	const st_tensor *in;
	FILE *f = NULL;
	int n, rc = 1;

	if (st_open(&io, iopath, err, sizeof err) ||
	    net_load_file(&m, model, err, sizeof err)) {
		fprintf(stderr, "logits: %s\n", err);
		goto out;
	}
	in = st_find(io, "input");
	if (!in || in->ndim != 4 || in->shape[1] != 3) {
		fprintf(stderr, "logits: no input [n, 3, h, w] in '%s'\n", iopath);
		goto out;
	}
	n = (int)in->shape[0];
	x = golden_tensor(io, "input", NULL);
	y = calloc((size_t)n * net_get_info(m)->classes, sizeof *y);
	if (!x || !y ||
	    net_prepare(m, n, (int)in->shape[2], (int)in->shape[3]) ||
	    net_forward(m, x, n, y)) {
		fprintf(stderr, "logits: %s\n", net_errmsg(m));
		goto out;
	}
	printf("%s: %s, %zu parameters\n", model, net_get_info(m)->arch,
	       net_get_info(m)->params);
	f = fopen(out, "wb");
	if (f && fwrite(y, sizeof *y, (size_t)n * net_get_info(m)->classes, f) ==
	             (size_t)n * net_get_info(m)->classes)
		rc = 0;
out:
	if (f && fclose(f))
		rc = 1;
	free(x);
	free(y);
	net_free(m);
	st_free(io);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "--logits"))
		return logits(argv[2], argv[3], argv[4]);
	T_RUN(test_tiny_tv);
	T_RUN(test_tiny_timm_bn);
	T_RUN(test_missing_and_shapes);
	T_RUN(test_layouts_and_layers);
	T_RUN(test_net_family);
	T_RUN(test_loaded_in_pieces);
	return T_DONE();
}
