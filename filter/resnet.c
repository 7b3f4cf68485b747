/* resnet.c — load a torchvision ResNet from safetensors and run it.
 * Loading infers the architecture from the names and shapes, checks every
 * tensor (none missing, none extra, every dimension) and folds batch norm
 * into the convolutions; the network is then a flat list of layers. */
#include "filter/resnet.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "filter/nn.h"

#define BN_EPS 1e-5          /* torchvision's BatchNorm2d default */
#define MAX_CHANNELS 65536   /* far above any ResNet; keeps int math safe */
#define WINO_M 4 /* F(4x4, 3x3): faster than F(2x2) at every stage here */
#define COL_BUDGET ((size_t)8 << 20) /* im2col/Winograd scratch floats */
/* The first stages ("early" ops) run one image at a time, so that their
 * large activations stay in the caches between layers (at batch 8 a
 * stage-1 tensor is 25 MB), and each thread of the pool takes whole
 * images through them on its own buffers: no waiting for each other
 * between layers. From stage LATE_STAGE on ("late" ops) images are few
 * pixels, and the threads share each layer of the whole batch, which
 * makes the GEMMs wide. */
#define LATE_STAGE 2
#define MAX_THREADS 64 /* nn_pool's limit */

/* Activation buffers of the arena; the plan names them by role. Each role
 * has one buffer for the whole batch (late ops) and one per thread for
 * an image (early ops). */
enum { BUF_IN, BUF_X0, BUF_X1, BUF_T1, BUF_T2, BUF_POOL, NBUF };

/* Buffers ops run on: activations by role and im2col/Winograd scratch. */
struct bufs {
	float *buf[NBUF];
	float *col;
	size_t col_floats;
};

enum op_kind { OP_CONV, OP_MAXPOOL, OP_AVGPOOL, OP_FC };

struct op {
	enum op_kind kind;
	char name[40];     /* torchvision prefix, e.g. "layer2.0.conv2" */
	int src, dst;      /* arena buffers */
	nn_conv conv;      /* OP_CONV; OP_FC keeps fc.weight/fc.bias here */
	nn_wino wino;      /* 3x3 stride 1 convs: Winograd weights (wino.u.p) */
	int relu;          /* ReLU in the epilogue */
	int accumulate;    /* dst holds the residual, added in the epilogue */
	int c, h, w;       /* input per image, set by resnet_prepare */
	/* seconds, summed while profiling, by thread (early ops run on each
	 * thread on its own; late ones count in slot 0) */
	double wall[MAX_THREADS], cpu[MAX_THREADS];
};

struct resnet {
	resnet_info info;
	struct op *ops;
	int nops;
	int split;          /* ops[split] is the first of stage LATE_STAGE */
	float *arena;
	size_t arena_floats;
	struct bufs late;   /* the whole batch's */
	struct bufs *early; /* an image's, for each of early_threads */
	int early_threads;
	int max_batch, h, w;
	nn_isa isa;         /* the GEMM kernels, chosen at load */
	nn_pool *pool;      /* threads for the loops around the sgemms */
	int profile;        /* resnet_profile */
	char err[256];
};

static void fmt_shape(char *out, size_t outlen, int ndim, const int64_t *s)
{
	size_t used;

	snprintf(out, outlen, "[");
	for (int i = 0; i < ndim; i++) {
		used = strlen(out);
		snprintf(out + used, outlen - used, "%s%lld", i ? "," : "",
		         (long long)s[i]);
	}
	used = strlen(out);
	snprintf(out + used, outlen - used, "]");
}

/* ---- loading ---- */

struct loader {
	const st_file *f;
	nn_isa isa;          /* GEMM kernels to pack the weights for */
	unsigned char *used; /* per tensor of f */
	char *err;
	size_t errlen;
	size_t params;
};

/* Dimension i of the tensor called name, or -1 if absent. */
static int64_t dim_of(const st_file *f, const char *name, int i)
{
	const st_tensor *t = st_find(f, name);

	return t && i < t->ndim ? t->shape[i] : -1;
}

/* Reads tensor name, which must have exactly the given shape, as floats
 * into a new array at *out (the caller frees it). */
static int get(struct loader *L, const char *name, int ndim,
               const int64_t *shape, float **out)
{
	const st_tensor *t = st_find(L->f, name);
	char got[160], want[160];
	float *v;
	int rc;

	*out = NULL;
	if (!t) {
		natadv_errf(L->err, L->errlen, "missing tensor '%s'", name);
		return NATADV_EFORMAT;
	}
	if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16 &&
	    t->dtype != ST_F64) {
		natadv_errf(L->err, L->errlen,
		       "tensor '%s': dtype %s, expected F32, F16 or BF16", name,
		       st_dtype_name(t->dtype));
		return NATADV_EFORMAT;
	}
	if (t->ndim != ndim || memcmp(t->shape, shape, ndim * sizeof *shape)) {
		fmt_shape(got, sizeof got, t->ndim, t->shape);
		fmt_shape(want, sizeof want, ndim, shape);
		natadv_errf(L->err, L->errlen, "tensor '%s': shape %s, expected %s",
		       name, got, want);
		return NATADV_EFORMAT;
	}
	v = malloc((t->nelem ? t->nelem : 1) * sizeof *v);
	if (!v)
		return NATADV_ENOMEM;
	rc = st_read_f32(t, v, L->err, L->errlen);
	if (rc) {
		free(v);
		return rc;
	}
	for (size_t i = 0; i < t->nelem; i++) {
		if (!isfinite(v[i])) {
			natadv_errf(L->err, L->errlen,
			       "tensor '%s': non-finite value at index %zu", name,
			       i);
			free(v);
			return NATADV_EFORMAT;
		}
	}
	L->used[t->index] = 1;
	L->params += t->nelem;
	*out = v;
	return 0;
}

/* Loads conv weights and the batch norm that follows, folded together. */
static int load_conv(struct loader *L, struct op *op, const char *conv,
                     const char *bn, int cin, int cout, int k, int stride,
                     int groups)
{
	char name[96];
	float *p[4] = {NULL, NULL, NULL, NULL};
	static const char *const bnp[4] = {"weight", "bias", "running_mean",
	                                   "running_var"};
	const int64_t wshape[4] = {cout, cin / groups, k, k}, bshape[1] = {cout};
	const st_tensor *t;
	int rc, bad;

	op->kind = OP_CONV;
	snprintf(op->name, sizeof op->name, "%s", conv);
	op->conv = (nn_conv){.cin = cin, .cout = cout, .k = k,
	                     .stride = stride, .pad = k / 2, .groups = groups};
	snprintf(name, sizeof name, "%s.weight", conv);
	rc = get(L, name, 4, wshape, &op->conv.w);
	if (rc)
		return rc;
	op->conv.b = calloc((size_t)cout, sizeof *op->conv.b);
	if (!op->conv.b)
		return NATADV_ENOMEM;
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "%s.%s", bn, bnp[i]);
		rc = get(L, name, 1, bshape, &p[i]);
		if (rc)
			goto out;
	}
	/* Checkpoints carry this int64 counter; inference has no use for it. */
	snprintf(name, sizeof name, "%s.num_batches_tracked", bn);
	t = st_find(L->f, name);
	if (t) {
		if (t->dtype != ST_I64 || t->nelem != 1 || t->ndim > 1) {
			natadv_errf(L->err, L->errlen,
			       "tensor '%s': expected an I64 scalar", name);
			rc = NATADV_EFORMAT;
			goto out;
		}
		L->used[t->index] = 1;
	}
	bad = nn_fold_bn(op->conv.w, op->conv.b, cout,
	                 (size_t)(cin / groups) * k * k, p[0], p[1], p[2], p[3],
	                 BN_EPS);
	if (bad >= 0) {
		natadv_errf(L->err, L->errlen,
		       "tensor '%s.running_var': negative variance at index %d",
		       bn, bad);
		rc = NATADV_EFORMAT;
		goto out;
	}
	/* 3x3 stride-1 convs run as Winograd and need only its weights */
	if (k == 3 && stride == 1 && groups == 1) {
		if (nn_wino_init(&op->wino, &op->conv, WINO_M, L->isa)) {
			rc = NATADV_ENOMEM;
			goto out;
		}
	} else if (nn_conv_pack(&op->conv, L->isa)) {
		rc = NATADV_ENOMEM;
		goto out;
	}
	/* the packed (or Winograd) weights are all the forward pass reads */
	free(op->conv.w);
	op->conv.w = NULL;
out:
	for (int i = 0; i < 4; i++)
		free(p[i]);
	return rc;
}

static int check_channels(struct loader *L, const char *name, int64_t c)
{
	if (c < 1 || c > MAX_CHANNELS) {
		natadv_errf(L->err, L->errlen,
		       "tensor '%s': %s, not a plausible channel count", name,
		       c < 0 ? "missing or wrong rank" : "out of range");
		return NATADV_EFORMAT;
	}
	return 0;
}

/* Reads the stage sizes from the first block of each stage. */
static int infer(struct loader *L, resnet_info *ri)
{
	const st_file *f = L->f;
	char name[96];
	int rc;

	if (!st_find(f, "conv1.weight") || !st_find(f, "fc.weight")) {
		natadv_errf(L->err, L->errlen,
		       "not a torchvision ResNet: no tensor '%s'",
		       st_find(f, "conv1.weight") ? "fc.weight" : "conv1.weight");
		return NATADV_EFORMAT;
	}
	ri->stem = (int)dim_of(f, "conv1.weight", 0);
	rc = check_channels(L, "conv1.weight", dim_of(f, "conv1.weight", 0));
	if (rc)
		return rc;
	ri->block = st_find(f, "layer1.0.conv3.weight") ? RESNET_BOTTLENECK
	                                                : RESNET_BASIC;
	ri->groups = 1;
	for (int s = 0; s < 4; s++) {
		int64_t width, out;

		for (ri->layers[s] = 0;; ri->layers[s]++) {
			snprintf(name, sizeof name, "layer%d.%d.conv1.weight",
			         s + 1, ri->layers[s]);
			if (!st_find(f, name))
				break;
		}
		if (!ri->layers[s]) {
			natadv_errf(L->err, L->errlen, "missing tensor '%s'", name);
			return NATADV_EFORMAT;
		}
		snprintf(name, sizeof name, "layer%d.0.conv1.weight", s + 1);
		width = dim_of(f, name, 0);
		rc = check_channels(L, name, width);
		if (rc)
			return rc;
		out = width;
		if (ri->block == RESNET_BOTTLENECK) {
			snprintf(name, sizeof name, "layer%d.0.conv3.weight", s + 1);
			if (!st_find(f, name)) {
				natadv_errf(L->err, L->errlen, "missing tensor '%s'",
				       name);
				return NATADV_EFORMAT;
			}
			out = dim_of(f, name, 0);
			rc = check_channels(L, name, out);
			if (rc)
				return rc;
		}
		ri->width[s] = (int)width;
		ri->out[s] = (int)out;
	}
	if (ri->block == RESNET_BOTTLENECK) {
		int64_t per = dim_of(f, "layer1.0.conv2.weight", 1);

		if (per < 1 || ri->width[0] % per) {
			natadv_errf(L->err, L->errlen,
			       "tensor 'layer1.0.conv2.weight': input channels %lld "
			       "do not divide width %d into groups",
			       (long long)per, ri->width[0]);
			return NATADV_EFORMAT;
		}
		ri->groups = ri->width[0] / (int)per;
		for (int s = 1; s < 4; s++) {
			if (ri->width[s] % ri->groups) {
				natadv_errf(L->err, L->errlen,
				       "tensor 'layer%d.0.conv1.weight': width %d "
				       "is not a multiple of %d groups", s + 1,
				       ri->width[s], ri->groups);
				return NATADV_EFORMAT;
			}
		}
	}
	ri->classes = (int)dim_of(f, "fc.weight", 0);
	if (dim_of(f, "fc.weight", 0) < 1 ||
	    dim_of(f, "fc.weight", 0) > INT_MAX / 4) {
		natadv_errf(L->err, L->errlen,
		       "tensor 'fc.weight': no plausible number of classes");
		return NATADV_EFORMAT;
	}
	return 0;
}

/* Names the architecture when it is one torchvision ships. */
static void name_arch(resnet_info *ri)
{
	static const struct {
		const char *name;
		resnet_block block;
		int layers[4], groups, width0;
	} known[] = {
		{"resnet18", RESNET_BASIC, {2, 2, 2, 2}, 1, 64},
		{"resnet34", RESNET_BASIC, {3, 4, 6, 3}, 1, 64},
		{"resnet50", RESNET_BOTTLENECK, {3, 4, 6, 3}, 1, 64},
		{"resnet101", RESNET_BOTTLENECK, {3, 4, 23, 3}, 1, 64},
		{"resnet152", RESNET_BOTTLENECK, {3, 8, 36, 3}, 1, 64},
		{"resnext50_32x4d", RESNET_BOTTLENECK, {3, 4, 6, 3}, 32, 128},
		{"resnext101_32x8d", RESNET_BOTTLENECK, {3, 4, 23, 3}, 32, 256},
		{"resnext101_64x4d", RESNET_BOTTLENECK, {3, 4, 23, 3}, 64, 256},
		{"wide_resnet50_2", RESNET_BOTTLENECK, {3, 4, 6, 3}, 1, 128},
		{"wide_resnet101_2", RESNET_BOTTLENECK, {3, 4, 23, 3}, 1, 128},
	};
	const int expansion = ri->block == RESNET_BOTTLENECK ? 4 : 1;

	snprintf(ri->arch, sizeof ri->arch, "resnet");
	if (ri->stem != 64)
		return;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		int ok = known[i].block == ri->block &&
		         known[i].groups == ri->groups &&
		         !memcmp(known[i].layers, ri->layers, sizeof ri->layers);

		for (int s = 0; s < 4 && ok; s++)
			ok = ri->width[s] == known[i].width0 << s &&
			     ri->out[s] == (64 << s) * expansion;
		if (ok) {
			snprintf(ri->arch, sizeof ri->arch, "%s", known[i].name);
			return;
		}
	}
}

static struct op *add_op(resnet *m)
{
	struct op *op = &m->ops[m->nops++];

	memset(op, 0, sizeof *op);
	return op;
}

/* Loads one residual block into ops; *x is the buffer holding its input
 * and, on return, its output. */
static int load_block(struct loader *L, resnet *m, int s, int b, int cin,
                      int *x)
{
	const resnet_info *ri = &m->info;
	const int width = ri->width[s], cout = ri->out[s];
	const int stride = s > 0 && b == 0 ? 2 : 1;
	const int down = stride != 1 || cin != cout; /* torchvision's rule */
	int y = down ? (*x == BUF_X0 ? BUF_X1 : BUF_X0) : *x;
	char c[40], n[40];
	struct op *op;
	int rc;

#define NAME(buf, fmt) snprintf(buf, sizeof buf, "layer%d.%d." fmt, s + 1, b)
	NAME(c, "conv1");
	NAME(n, "bn1");
	op = add_op(m);
	if (ri->block == RESNET_BOTTLENECK)
		rc = load_conv(L, op, c, n, cin, width, 1, 1, 1);
	else
		rc = load_conv(L, op, c, n, cin, width, 3, stride, 1);
	if (rc)
		return rc;
	op->src = *x, op->dst = BUF_T1, op->relu = 1;
	if (ri->block == RESNET_BOTTLENECK) {
		NAME(c, "conv2");
		NAME(n, "bn2");
		op = add_op(m);
		rc = load_conv(L, op, c, n, width, width, 3, stride, ri->groups);
		if (rc)
			return rc;
		op->src = BUF_T1, op->dst = BUF_T2, op->relu = 1;
	}
	if (down) {
		NAME(c, "downsample.0");
		NAME(n, "downsample.1");
		op = add_op(m);
		rc = load_conv(L, op, c, n, cin, cout, 1, stride, 1);
		if (rc)
			return rc;
		op->src = *x, op->dst = y;
	}
	if (ri->block == RESNET_BOTTLENECK) {
		NAME(c, "conv3");
		NAME(n, "bn3");
		op = add_op(m);
		rc = load_conv(L, op, c, n, width, cout, 1, 1, 1);
		op->src = BUF_T2;
	} else {
		NAME(c, "conv2");
		NAME(n, "bn2");
		op = add_op(m);
		rc = load_conv(L, op, c, n, width, cout, 3, 1, 1);
		op->src = BUF_T1;
	}
#undef NAME
	if (rc)
		return rc;
	op->dst = y, op->relu = 1, op->accumulate = 1;
	*x = y;
	return 0;
}

int resnet_load(resnet **out, const st_file *f, char *err, size_t errlen)
{
	struct loader L = {.f = f, .err = err, .errlen = errlen,
	                   .isa = nn_isa_best()};
	resnet *m;
	struct op *op;
	int rc, nops, x = BUF_X0, cin;

	*out = NULL;
	m = calloc(1, sizeof *m);
	L.used = calloc(st_count(f) + 1, 1);
	if (!m || !L.used) {
		rc = NATADV_ENOMEM;
		goto out;
	}
	rc = infer(&L, &m->info);
	if (rc)
		goto out;
	/* stem + max-pool, at most 4 convs per block, avgpool, fc */
	nops = 4;
	for (int s = 0; s < 4; s++)
		nops += 4 * m->info.layers[s];
	m->ops = calloc((size_t)nops, sizeof *m->ops);
	if (!m->ops) {
		rc = NATADV_ENOMEM;
		goto out;
	}

	op = add_op(m);
	rc = load_conv(&L, op, "conv1", "bn1", 3, m->info.stem, 7, 2, 1);
	if (rc)
		goto out;
	op->src = BUF_IN, op->dst = BUF_X1, op->relu = 1;
	op = add_op(m);
	op->kind = OP_MAXPOOL;
	snprintf(op->name, sizeof op->name, "maxpool");
	op->src = BUF_X1, op->dst = BUF_X0;
	cin = m->info.stem;
	for (int s = 0; s < 4; s++) {
		if (s == LATE_STAGE)
			m->split = m->nops;
		for (int b = 0; b < m->info.layers[s]; b++) {
			rc = load_block(&L, m, s, b, cin, &x);
			if (rc)
				goto out;
			cin = m->info.out[s];
		}
	}
	op = add_op(m);
	op->kind = OP_AVGPOOL;
	snprintf(op->name, sizeof op->name, "avgpool");
	op->src = x, op->dst = BUF_POOL;

	op = add_op(m);
	op->kind = OP_FC;
	snprintf(op->name, sizeof op->name, "fc");
	op->src = BUF_POOL;
	op->conv = (nn_conv){.cin = cin, .cout = m->info.classes, .k = 1,
	                     .stride = 1, .groups = 1};
	{
		const int64_t ws[2] = {m->info.classes, cin},
		              bs[1] = {m->info.classes};

		rc = get(&L, "fc.weight", 2, ws, &op->conv.w);
		if (!rc)
			rc = get(&L, "fc.bias", 1, bs, &op->conv.b);
		if (rc)
			goto out;
	}
	for (size_t i = 0; i < st_count(f); i++) {
		if (!L.used[i]) {
			natadv_errf(err, errlen, "unexpected tensor '%s'",
			       st_get(f, i)->name);
			rc = NATADV_EFORMAT;
			goto out;
		}
	}
	m->info.params = L.params;
	m->isa = L.isa;
	name_arch(&m->info);
	/* as many threads as OpenBLAS would use: the number of cores */
	m->pool = nn_pool_new(openblas_get_num_threads());
	if (!m->pool) {
		rc = NATADV_ENOMEM;
		goto out;
	}
	*out = m;
	m = NULL;
out:
	free(L.used);
	resnet_free(m);
	return rc;
}

int resnet_load_file(resnet **out, const char *path, char *err, size_t errlen)
{
	st_file *f;
	int rc;

	*out = NULL;
	rc = st_open(&f, path, err, errlen);
	if (rc)
		return rc;
	rc = resnet_load(out, f, err, errlen);
	st_free(f);
	return rc;
}

void resnet_free(resnet *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->nops; i++) {
		free(m->ops[i].conv.w);
		free(m->ops[i].conv.b);
		nn_packed_release(&m->ops[i].conv.pk);
		nn_wino_release(&m->ops[i].wino);
	}
	free(m->ops);
	free(m->arena);
	free(m->early);
	nn_pool_free(m->pool);
	free(m);
}

const resnet_info *resnet_get_info(const resnet *m)
{
	return &m->info;
}

const char *resnet_errmsg(const resnet *m)
{
	return m->err;
}

size_t resnet_arena_bytes(const resnet *m)
{
	return m->arena_floats * sizeof(float);
}

int resnet_set_threads(resnet *m, int n)
{
	nn_pool *p;

	if (n < 1)
		n = 1;
	openblas_set_num_threads(n);
	if (nn_pool_threads(m->pool) == n)
		return 0;
	p = nn_pool_new(n);
	if (!p) {
		natadv_errf(m->err, sizeof m->err, "cannot start %d threads", n);
		return NATADV_ENOMEM;
	}
	nn_pool_free(m->pool);
	m->pool = p;
	/* early buffers for each thread: a new arena */
	if (m->arena && nn_pool_threads(p) != m->early_threads)
		return resnet_prepare(m, m->max_batch, m->h, m->w);
	return 0;
}

const char *resnet_kernels(const resnet *m)
{
	return m->isa == NN_AVX512 ? "avx512" : m->isa == NN_AVX2 ? "avx2"
	                                                        : "generic";
}

/* ---- profiling ---- */

void resnet_profile(resnet *m, int on)
{
	m->profile = on;
	for (int i = 0; i < m->nops; i++) {
		memset(m->ops[i].wall, 0, sizeof m->ops[i].wall);
		memset(m->ops[i].cpu, 0, sizeof m->ops[i].cpu);
	}
}

int resnet_profile_ops(const resnet *m)
{
	return m->nops;
}

const char *resnet_profile_get(const resnet *m, int i, const char **kind,
                               double *macs, double *wall, double *cpu)
{
	const struct op *op = &m->ops[i];
	const nn_conv *c = &op->conv;

	*macs = 0;
	if (op->kind == OP_FC)
		*macs = (double)c->cin * c->cout;
	if (op->kind == OP_CONV)
		*macs = (double)c->cout * (c->cin / c->groups) * c->k * c->k *
		        nn_out_size(op->h, c->k, c->stride, c->pad) *
		        nn_out_size(op->w, c->k, c->stride, c->pad);

	if (op->kind != OP_CONV)
		*kind = op->kind == OP_FC ? "fc" : "pool";
	else if (op->wino.u.p)
		*kind = "winograd";
	else if (op->conv.k == 1 && op->conv.stride == 1)
		*kind = "1x1";
	else
		*kind = "im2col";
	*wall = *cpu = 0;
	for (int t = 0; t < MAX_THREADS; t++)
		*wall += op->wall[t], *cpu += op->cpu[t];
	return op->name;
}

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- running ---- */

/* Walks the plan once for input h x w and batches of max_batch: sets every
 * op's input shape and the floats each buffer needs per image (early ops)
 * or per batch (late ops), with the im2col/Winograd scratch of each. */
static int plan_sizes(resnet *m, int max_batch, int h, int w, size_t early[NBUF], size_t late[NBUF],
                      size_t *ecol, size_t *lcol)
{
	int c[NBUF] = {0}, hh[NBUF] = {0}, ww[NBUF] = {0};

	c[BUF_IN] = 3, hh[BUF_IN] = h, ww[BUF_IN] = w;
	early[BUF_IN] = (size_t)3 * h * w;
	for (int i = 0; i < m->nops; i++) {
		struct op *op = &m->ops[i];
		const int is_early = i < m->split;
		const int images = is_early ? 1 : max_batch;
		size_t *need = is_early ? early : late;
		size_t *col = is_early ? ecol : lcol;
		int oc, oh, ow;

		op->c = c[op->src], op->h = hh[op->src], op->w = ww[op->src];
		/* the early ops' output, gathered into the whole batch's */
		if (i == m->split)
			late[op->src] = (size_t)op->c * op->h * op->w * max_batch;
		switch (op->kind) {
		case OP_CONV:
			oc = op->conv.cout;
			oh = nn_out_size(op->h, op->conv.k, op->conv.stride,
			                 op->conv.pad);
			ow = nn_out_size(op->w, op->conv.k, op->conv.stride,
			                 op->conv.pad);
			{
				size_t cf = op->wino.u.p
				        ? nn_wino_scratch_floats(&op->wino, images,
				                                 op->h, op->w, COL_BUDGET)
				        : nn_conv_col_floats(&op->conv, images,
				                             op->h, op->w, COL_BUDGET);
				if (cf > *col)
					*col = cf;
			}
			break;
		case OP_MAXPOOL:
			oc = op->c;
			oh = nn_out_size(op->h, 3, 2, 1);
			ow = nn_out_size(op->w, 3, 2, 1);
			break;
		case OP_AVGPOOL:
			oc = op->c, oh = 1, ow = 1;
			break;
		default:
			continue;
		}
		/* every GEMM dimension must fit an int */
		if ((size_t)max_batch * op->h * op->w > INT_MAX / 64) {
			natadv_errf(m->err, sizeof m->err,
			       "batch %d of %dx%d images is too large", max_batch,
			       h, w);
			return NATADV_ETOOBIG;
		}
		c[op->dst] = oc, hh[op->dst] = oh, ww[op->dst] = ow;
		if ((size_t)oc * oh * ow * images > need[op->dst])
			need[op->dst] = (size_t)oc * oh * ow * images;
	}
	return 0;
}

#define UP16(x) (((x) + 15) / 16 * 16)

/* One allocation for everything, touched once here, never again: the late
 * buffers, then each thread's early ones. */
static int alloc_arena(resnet *m, int threads, const size_t early[NBUF], const size_t late[NBUF],
                       size_t ecol, size_t lcol)
{
	size_t per_thread = UP16(ecol), total = UP16(lcol);

	for (int b = 0; b < NBUF; b++) {
		per_thread += UP16(early[b]);
		total += UP16(late[b]);
	}
	total += per_thread * threads;
	m->early = calloc((size_t)threads, sizeof *m->early);
	m->arena = nn_alloc(total * sizeof(float));
	if (!m->arena || !m->early) {
		natadv_errf(m->err, sizeof m->err, "cannot allocate %zu MB arena",
		       total * sizeof(float) >> 20);
		free(m->early);
		m->early = NULL;
		return NATADV_ENOMEM;
	}
	memset(m->arena, 0, total * sizeof(float));
	total = 0;
	for (int b = 0; b < NBUF; b++) {
		m->late.buf[b] = m->arena + total;
		total += UP16(late[b]);
	}
	m->late.col = m->arena + total;
	m->late.col_floats = lcol;
	total += UP16(lcol);
	for (int t = 0; t < threads; t++) {
		struct bufs *e = &m->early[t];

		for (int b = 0; b < NBUF; b++) {
			e->buf[b] = m->arena + total;
			total += UP16(early[b]);
		}
		e->col = m->arena + total;
		e->col_floats = ecol;
		total += UP16(ecol);
	}
	m->arena_floats = total;
	m->early_threads = threads;
	return 0;
}

#undef UP16

int resnet_prepare(resnet *m, int max_batch, int h, int w)
{
	/* per image (early) or per batch (late): floats of each buffer */
	size_t early[NBUF] = {0}, late[NBUF] = {0}, ecol = 0, lcol = 0;
	int rc;

	if (max_batch < 1 || max_batch > 4096 || h < 1 || w < 1 || h > 8192 ||
	    w > 8192) {
		natadv_errf(m->err, sizeof m->err,
		       "bad batch %d or input size %dx%d", max_batch, h, w);
		return NATADV_EINVAL;
	}
	free(m->arena);
	free(m->early);
	m->arena = NULL;
	m->early = NULL;
	m->arena_floats = 0;
	m->max_batch = 0;
	if ((rc = plan_sizes(m, max_batch, h, w, early, late, &ecol, &lcol)) != 0 ||
	    (rc = alloc_arena(m, nn_pool_threads(m->pool), early, late, ecol, lcol)) != 0)
		return rc;
	m->max_batch = max_batch, m->h = h, m->w = w;
	return 0;
}

/* Runs op on n images in buffers b, on pool (or the calling thread, the
 * pool's thread th, when pool is NULL). */
static void run_op(resnet *m, struct op *op, int n, const struct bufs *b,
                   nn_pool *pool, int th, float *logits)
{
	const float *x = b->buf[op->src];
	const clockid_t cpu = pool ? CLOCK_PROCESS_CPUTIME_ID
	                           : CLOCK_THREAD_CPUTIME_ID;
	double w0 = 0, c0 = 0;

	if (m->profile) {
		w0 = clock_s(CLOCK_MONOTONIC);
		c0 = clock_s(cpu);
	}
	switch (op->kind) {
	case OP_CONV:
		/* [cout, n, oh, ow] (+)= conv([cin, n, h, w]) */
		if (op->wino.u.p)
			nn_wino_forward(&op->wino, x, n, op->h, op->w,
			                b->buf[op->dst], b->col, b->col_floats,
			                op->relu, op->accumulate, pool);
		else
			nn_conv_forward(&op->conv, x, n, op->h, op->w,
			                b->buf[op->dst], b->col, b->col_floats,
			                op->relu, op->accumulate, pool);
		break;
	case OP_MAXPOOL:
		/* [c, n, h/2, w/2] = maxpool([c, n, h, w]) */
		nn_maxpool_3s2(x, op->c * n, op->h, op->w, b->buf[op->dst], pool);
		break;
	case OP_AVGPOOL:
		/* [c, n] = mean([c, n, h, w]) */
		nn_avgpool(x, op->c, n, op->h * op->w, b->buf[op->dst]);
		break;
	case OP_FC:
		/* [n, classes] = [c, n]^T x fc.weight^T + fc.bias */
		nn_fc(op->conv.w, op->conv.b, op->conv.cout, op->conv.cin, x, n,
		      logits);
		break;
	}
	if (m->profile) {
		op->wall[th] += clock_s(CLOCK_MONOTONIC) - w0;
		op->cpu[th] += clock_s(cpu) - c0;
	}
}

/* Image i of in [n, 3, h, w] through the early ops on buffers th, then
 * into the late buffer: [c, hw] -> [c, i, hw] of [c, n, hw]. */
struct early_job {
	resnet *m;
	const float *in;
	int n;
	nn_pool *pool; /* NULL: each thread runs images on its own */
};

static void early_image(void *arg, int i, int th)
{
	const struct early_job *j = arg;
	resnet *m = j->m;
	const struct bufs *b = &m->early[th];
	const struct op *late = &m->ops[m->split];
	const size_t hw = (size_t)late->h * late->w;

	/* [1, 3, h, w] is [3, 1, h, w] */
	memcpy(b->buf[BUF_IN], j->in + (size_t)i * 3 * m->h * m->w,
	       (size_t)3 * m->h * m->w * sizeof(float));
	for (int k = 0; k < m->split; k++)
		run_op(m, &m->ops[k], 1, b, j->pool, th, NULL);
	for (int ch = 0; ch < late->c; ch++)
		memcpy(m->late.buf[late->src] + ((size_t)ch * j->n + i) * hw,
		       b->buf[late->src] + (size_t)ch * hw, hw * sizeof(float));
}

int resnet_forward(resnet *m, const float *in, int n, float *logits)
{
	if (!m->arena || n < 1 || n > m->max_batch) {
		natadv_errf(m->err, sizeof m->err,
		       "batch of %d images, prepared for at most %d", n,
		       m->max_batch);
		return NATADV_EINVAL;
	}
	/* m's pool runs the convolutions; OpenBLAS does only the fc, whose
	 * own threads would only spin beside the pool's. */
	const int blas_threads = openblas_get_num_threads();

	if (nn_pool_threads(m->pool) > 1 && blas_threads != 1)
		openblas_set_num_threads(1);
	/* The early ops: whole images per thread while every thread has one;
	 * the rest of the images one at a time with all threads. */
	const int threads = nn_pool_threads(m->pool);
	const int alone = n / threads * threads;
	struct early_job ej = {m, in, n, NULL};

	nn_pool_for_t(m->pool, alone, early_image, &ej);
	ej.pool = m->pool;
	for (int i = alone; i < n; i++)
		early_image(&ej, i, 0);
	/* the late ops on [c, n, hw] */
	for (int i = m->split; i < m->nops; i++)
		run_op(m, &m->ops[i], n, &m->late, m->pool, 0, logits);
	if (nn_pool_threads(m->pool) > 1 && blas_threads != 1)
		openblas_set_num_threads(blas_threads);
	return 0;
}
