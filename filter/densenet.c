/* densenet.c — load a torchvision DenseNet-BC from safetensors and run it.
 * Loading infers growth rate, bottleneck width, initial features and block
 * configuration from the tensors, checks every tensor (none missing, none
 * extra, every dimension and dtype), folds the batch norms that directly
 * follow a convolution (norm0, norm2) into it and keeps the others (norm1,
 * the transitions' norm, norm5), which a ReLU separates from the next
 * convolution, as per-channel scale and shift. The network is then a flat
 * list of ops over the buffers of one arena:
 *   1. a dense block's feature map is one buffer [C_out, N, H, W]; the
 *      block's input is its first channels and each dense layer's conv2
 *      writes its growth channels into the next slice, so the layer reads
 *      the concatenation of everything before it as a prefix, uncopied;
 *   2. two block buffers alternate, since a transition reads one and
 *      writes the next block's first channels;
 *   3. a transition runs BN-ReLU, then the 2x2 average pool, then its 1x1
 *      convolution: pooling first is exact (both are linear per pixel) and
 *      the convolution runs on a quarter of the pixels. */
#include "filter/densenet.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "filter/nn.h"

#define BN_EPS 1e-5          /* torchvision's BatchNorm2d default */
#define MAX_CHANNELS 65536
#define MAX_LAYERS 256       /* dense layers per block */
#define WINO_M 4
#define COL_BUDGET ((size_t)8 << 20) /* im2col/Winograd scratch floats */

/* Activation buffers of the arena, by role. */
enum { BUF_IN, BUF_STEM, BUF_B0, BUF_B1, BUF_T1, BUF_T2, BUF_POOL, NBUF };

enum op_kind { OP_CONV, OP_BNRELU, OP_MAXPOOL, OP_AVGPOOL2, OP_GAP, OP_FC };

struct op {
	enum op_kind kind;
	char name[64];        /* tensor prefix, e.g. "features.conv0" */
	int src, dst;         /* arena buffers */
	int cin;              /* channels read: the first cin of src */
	int cout;             /* channels written */
	int doff;             /* first channel of dst written */
	nn_conv conv;         /* OP_CONV; OP_FC keeps classifier.* here */
	nn_wino wino;         /* 3x3 stride 1 convs */
	int relu;             /* ReLU in the conv's epilogue */
	float *scale, *shift; /* OP_BNRELU: [cin] */
	int h, w;             /* input per image, set by densenet_prepare */
};

struct densenet {
	densenet_info info;
	struct op *ops;
	int nops, cap;
	float *arena;
	size_t arena_floats;
	float *buf[NBUF];
	float *col;
	size_t col_floats;
	int max_batch, h, w;
	nn_isa isa;
	nn_pool *pool;
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
	nn_isa isa;
	unsigned char *used; /* per tensor of f */
	char *err;
	size_t errlen;
	size_t params;
	densenet_layout layout;
};

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
		            "tensor '%s': dtype %s, expected F32, F16 or BF16",
		            name, st_dtype_name(t->dtype));
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
	for (size_t i = 0; !rc && i < t->nelem; i++) {
		if (!isfinite(v[i])) {
			natadv_errf(L->err, L->errlen,
			            "tensor '%s': non-finite value at index %zu",
			            name, i);
			rc = NATADV_EFORMAT;
		}
	}
	if (rc) {
		free(v);
		return rc;
	}
	L->used[t->index] = 1;
	L->params += t->nelem;
	*out = v;
	return 0;
}

/* Loads batch norm bn over c channels as y = x * scale + shift; the
 * optional num_batches_tracked counter must be an I64 scalar. */
static int load_bn(struct loader *L, const char *bn, int c, float **scale,
                   float **shift)
{
	static const char *const part[4] = {"weight", "bias", "running_mean",
	                                    "running_var"};
	const int64_t shape[1] = {c};
	float *p[4] = {NULL, NULL, NULL, NULL};
	const st_tensor *t;
	char name[96];
	int rc = 0;

	*scale = *shift = NULL;
	for (int i = 0; i < 4 && !rc; i++) {
		snprintf(name, sizeof name, "%s.%s", bn, part[i]);
		rc = get(L, name, 1, shape, &p[i]);
	}
	snprintf(name, sizeof name, "%s.num_batches_tracked", bn);
	t = st_find(L->f, name);
	if (!rc && t) {
		if (t->dtype != ST_I64 || t->nelem != 1 || t->ndim > 1) {
			natadv_errf(L->err, L->errlen,
			            "tensor '%s': expected an I64 scalar", name);
			rc = NATADV_EFORMAT;
		}
		L->used[t->index] = 1;
	}
	for (int i = 0; i < c && !rc; i++) {
		double v = (double)p[3][i] + BN_EPS, s;

		if (!(v > 0)) {
			natadv_errf(L->err, L->errlen,
			            "tensor '%s.running_var': negative variance at "
			            "index %d", bn, i);
			rc = NATADV_EFORMAT;
			break;
		}
		s = p[0][i] / sqrt(v);
		p[0][i] = (float)s;                          /* scale */
		p[1][i] = (float)(p[1][i] - p[2][i] * s);    /* shift */
	}
	if (!rc) {
		*scale = p[0], *shift = p[1];
		p[0] = p[1] = NULL;
	}
	for (int i = 0; i < 4; i++)
		free(p[i]);
	return rc;
}

static struct op *add_op(densenet *m)
{
	struct op *op = &m->ops[m->nops++];

	memset(op, 0, sizeof *op);
	return op;
}

/* Adds a convolution conv (no bias in the file) with batch norm bn folded
 * in when bn is not NULL, reading src's first cin channels and writing
 * dst's channels [doff, doff + cout). */
static int add_conv(struct loader *L, densenet *m, const char *conv,
                    const char *bn, int cin, int cout, int k, int stride,
                    int src, int dst, int doff, int relu)
{
	const int64_t wshape[4] = {cout, cin, k, k};
	struct op *op = add_op(m);
	float *scale = NULL, *shift = NULL;
	const size_t per = (size_t)cin * k * k;
	char name[96];
	int rc;

	op->kind = OP_CONV;
	snprintf(op->name, sizeof op->name, "%s", conv);
	op->src = src, op->dst = dst, op->doff = doff, op->relu = relu;
	op->cin = cin, op->cout = cout;
	op->conv = (nn_conv){.cin = cin, .cout = cout, .k = k,
	                     .stride = stride, .pad = k / 2, .groups = 1};
	snprintf(name, sizeof name, "%s.weight", conv);
	rc = get(L, name, 4, wshape, &op->conv.w);
	if (rc)
		return rc;
	op->conv.b = calloc((size_t)cout, sizeof *op->conv.b);
	if (!op->conv.b)
		return NATADV_ENOMEM;
	if (bn) {
		rc = load_bn(L, bn, cout, &scale, &shift);
		if (rc)
			return rc;
		/* w' = w * scale, b' = shift */
		for (int o = 0; o < cout; o++) {
			for (size_t i = 0; i < per; i++)
				op->conv.w[o * per + i] *= scale[o];
			op->conv.b[o] = shift[o];
		}
		free(scale);
		free(shift);
	}
	if (k == 3 && stride == 1) {
		if (nn_wino_init(&op->wino, &op->conv, WINO_M, L->isa))
			return NATADV_ENOMEM;
	} else if (nn_conv_pack(&op->conv, L->isa)) {
		return NATADV_ENOMEM;
	}
	free(op->conv.w);
	op->conv.w = NULL;
	return 0;
}

/* Adds y = relu(bn(x)) over src's first c channels into dst. */
static int add_bnrelu(struct loader *L, densenet *m, const char *bn, int c,
                      int src, int dst)
{
	struct op *op = add_op(m);

	op->kind = OP_BNRELU;
	snprintf(op->name, sizeof op->name, "%s", bn);
	op->src = src, op->dst = dst, op->cin = op->cout = c;
	return load_bn(L, bn, c, &op->scale, &op->shift);
}

static void add_simple(densenet *m, enum op_kind kind, const char *name,
                       int c, int src, int dst)
{
	struct op *op = add_op(m);

	op->kind = kind;
	snprintf(op->name, sizeof op->name, "%s", name);
	op->src = src, op->dst = dst, op->cin = op->cout = c;
}

/* The name of part ("norm1", "conv1", "norm2", "conv2") of dense layer l
 * of block b (both from 1) in layout; legacy files say "norm.1". */
static void layer_name(char *out, size_t outlen, densenet_layout layout,
                       int b, int l, const char *part)
{
	snprintf(out, outlen, "features.denseblock%d.denselayer%d.%.4s%s%s", b,
	         l, part, layout == DENSENET_LEGACY ? "." : "", part + 4);
}

/* The layout of a dense layer tensor's name (the part after
 * "denselayerN."), or 0 when it is neither. */
static densenet_layout name_layout(const char *name)
{
	const char *p = strstr(name, ".denselayer");

	if (!p)
		return 0;
	p += strlen(".denselayer");
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p != '.')
		return 0;
	p++;
	if (strncmp(p, "norm", 4) && strncmp(p, "conv", 4))
		return 0;
	p += 4;
	if ((p[0] == '1' || p[0] == '2') && p[1] == '.')
		return DENSENET_CURRENT;
	if (p[0] == '.' && (p[1] == '1' || p[1] == '2') && p[2] == '.')
		return DENSENET_LEGACY;
	return 0;
}

/* Which names the dense layers use; a file with both is refused. */
static int find_layout(struct loader *L)
{
	const char *first[3] = {NULL, NULL, NULL};

	for (size_t i = 0; i < st_count(L->f); i++) {
		const char *name = st_get(L->f, i)->name;
		densenet_layout y = name_layout(name);

		if (y && !first[y])
			first[y] = name;
	}
	if (first[DENSENET_CURRENT] && first[DENSENET_LEGACY]) {
		natadv_errf(L->err, L->errlen,
		            "tensor '%s': torchvision's legacy name in a file "
		            "that also has current names such as '%s'",
		            first[DENSENET_LEGACY], first[DENSENET_CURRENT]);
		return NATADV_EFORMAT;
	}
	L->layout = first[DENSENET_LEGACY] ? DENSENET_LEGACY : DENSENET_CURRENT;
	return 0;
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

/* Reads growth rate, bottleneck, initial features, blocks and layers. */
static int infer(struct loader *L, densenet_info *di)
{
	const st_file *f = L->f;
	char name[96];
	int64_t bw;
	int rc;

	if (!st_find(f, "features.conv0.weight") ||
	    !st_find(f, "classifier.weight")) {
		natadv_errf(L->err, L->errlen,
		            "not a torchvision DenseNet: no tensor '%s'",
		            st_find(f, "features.conv0.weight")
		                    ? "classifier.weight"
		                    : "features.conv0.weight");
		return NATADV_EFORMAT;
	}
	rc = find_layout(L);
	if (rc)
		return rc;
	di->layout = L->layout;
	di->init = (int)dim_of(f, "features.conv0.weight", 0);
	rc = check_channels(L, "features.conv0.weight",
	                    dim_of(f, "features.conv0.weight", 0));
	if (rc)
		return rc;
	for (di->blocks = 0; di->blocks < DENSENET_MAX_BLOCKS; di->blocks++) {
		int *n = &di->layers[di->blocks];

		for (*n = 0; *n < MAX_LAYERS; (*n)++) {
			layer_name(name, sizeof name, L->layout, di->blocks + 1,
			           *n + 1, "conv1.weight");
			if (!st_find(f, name))
				break;
		}
		if (!*n)
			break;
	}
	if (!di->blocks) {
		layer_name(name, sizeof name, L->layout, 1, 1, "conv1.weight");
		natadv_errf(L->err, L->errlen, "missing tensor '%s'", name);
		return NATADV_EFORMAT;
	}
	layer_name(name, sizeof name, L->layout, 1, 1, "conv2.weight");
	di->growth = (int)dim_of(f, name, 0);
	rc = check_channels(L, name, dim_of(f, name, 0));
	if (rc)
		return rc;
	layer_name(name, sizeof name, L->layout, 1, 1, "conv1.weight");
	bw = dim_of(f, name, 0);
	rc = check_channels(L, name, bw);
	if (rc)
		return rc;
	if (bw % di->growth) {
		natadv_errf(L->err, L->errlen,
		            "tensor '%s': %lld channels, not a multiple of the "
		            "growth rate %d", name, (long long)bw, di->growth);
		return NATADV_EFORMAT;
	}
	di->bn_size = (int)(bw / di->growth);
	bw = dim_of(f, "classifier.weight", 0);
	if (bw < 1 || bw > INT_MAX / 4) {
		natadv_errf(L->err, L->errlen,
		            "tensor 'classifier.weight': no plausible number of "
		            "classes");
		return NATADV_EFORMAT;
	}
	di->classes = (int)bw;
	return 0;
}

/* Names the architecture when it is one torchvision ships. */
static void name_arch(densenet_info *di)
{
	static const struct {
		const char *name;
		int growth, init, layers[4];
	} known[] = {
		{"densenet121", 32, 64, {6, 12, 24, 16}},
		{"densenet161", 48, 96, {6, 12, 36, 24}},
		{"densenet169", 32, 64, {6, 12, 32, 32}},
		{"densenet201", 32, 64, {6, 12, 48, 32}},
	};
	int c = di->init;

	snprintf(di->arch, sizeof di->arch, "densenet");
	if (di->blocks != 4 || di->bn_size != 4)
		return;
	/* torchvision's transitions halve the channels */
	for (int b = 0; b < 4; b++) {
		c += di->layers[b] * di->growth;
		if (c != di->out[b])
			return;
		c /= 2;
	}
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		if (known[i].growth == di->growth && known[i].init == di->init &&
		    !memcmp(known[i].layers, di->layers, sizeof known[i].layers)) {
			snprintf(di->arch, sizeof di->arch, "%s", known[i].name);
			return;
		}
	}
}

/* Adds dense block b (from 0) on buffer x, whose first cin channels hold
 * its input; on return the block's output channels are in *c. */
static int add_block(struct loader *L, densenet *m, int b, int x, int *c)
{
	const densenet_info *di = &m->info;
	const int bw = di->bn_size * di->growth;
	char n1[80], c1[80], n2[80], c2[80];
	int rc;

	for (int l = 0; l < di->layers[b]; l++) {
		layer_name(n1, sizeof n1, L->layout, b + 1, l + 1, "norm1");
		layer_name(c1, sizeof c1, L->layout, b + 1, l + 1, "conv1");
		layer_name(n2, sizeof n2, L->layout, b + 1, l + 1, "norm2");
		layer_name(c2, sizeof c2, L->layout, b + 1, l + 1, "conv2");
		/* [c, N, H, W] of x -> T1 */
		rc = add_bnrelu(L, m, n1, *c, x, BUF_T1);
		/* [bw, N, H, W] = relu(norm2(conv1(T1))) */
		if (!rc)
			rc = add_conv(L, m, c1, n2, *c, bw, 1, 1, BUF_T1, BUF_T2,
			              0, 1);
		/* x[c .. c + growth) = conv2(T2): the concatenation */
		if (!rc)
			rc = add_conv(L, m, c2, NULL, bw, di->growth, 3, 1, BUF_T2,
			              x, *c, 0);
		if (rc)
			return rc;
		*c += di->growth;
	}
	return 0;
}

/* Adds transition b (from 1) from buffer x (c channels) to the first
 * channels of buffer y; *c becomes its output channels. */
static int add_transition(struct loader *L, densenet *m, int b, int x, int y,
                          int *c)
{
	char norm[48], conv[48];
	int64_t cout;
	int rc;

	snprintf(norm, sizeof norm, "features.transition%d.norm", b);
	snprintf(conv, sizeof conv, "features.transition%d.conv.weight", b);
	cout = dim_of(L->f, conv, 0);
	if (!st_find(L->f, conv)) {
		natadv_errf(L->err, L->errlen, "missing tensor '%s'", conv);
		return NATADV_EFORMAT;
	}
	rc = check_channels(L, conv, cout);
	if (rc)
		return rc;
	/* [c, N, H, W] -> T1 -> [c, N, H/2, W/2] in T2 -> y[0 .. cout) */
	rc = add_bnrelu(L, m, norm, *c, x, BUF_T1);
	if (rc)
		return rc;
	snprintf(conv, sizeof conv, "features.transition%d.avgpool", b);
	add_simple(m, OP_AVGPOOL2, conv, *c, BUF_T1, BUF_T2);
	snprintf(conv, sizeof conv, "features.transition%d.conv", b);
	rc = add_conv(L, m, conv, NULL, *c, (int)cout, 1, 1, BUF_T2, y, 0, 0);
	*c = (int)cout;
	return rc;
}

/* The classifier: global average pool of relu(norm5(x)), then linear. */
static int add_head(struct loader *L, densenet *m, int x, int c)
{
	const int64_t ws[2] = {m->info.classes, c}, bs[1] = {m->info.classes};
	struct op *op;
	int rc;

	rc = add_bnrelu(L, m, "features.norm5", c, x, BUF_T1);
	if (rc)
		return rc;
	add_simple(m, OP_GAP, "global_pool", c, BUF_T1, BUF_POOL);
	op = add_op(m);
	op->kind = OP_FC;
	snprintf(op->name, sizeof op->name, "classifier");
	op->src = BUF_POOL, op->cin = c, op->cout = m->info.classes;
	op->conv = (nn_conv){.cin = c, .cout = m->info.classes, .k = 1,
	                     .stride = 1, .groups = 1};
	rc = get(L, "classifier.weight", 2, ws, &op->conv.w);
	if (!rc)
		rc = get(L, "classifier.bias", 1, bs, &op->conv.b);
	return rc;
}

/* Fills m's ops from L's file, whose architecture m->info describes. */
static int build(struct loader *L, densenet *m)
{
	densenet_info *di = &m->info;
	int rc, c = di->init, x = BUF_B0;

	m->cap = 5 + 3 * di->blocks;
	for (int b = 0; b < di->blocks; b++)
		m->cap += 3 * di->layers[b];
	m->ops = calloc((size_t)m->cap, sizeof *m->ops);
	if (!m->ops)
		return NATADV_ENOMEM;
	/* [init, N, H/2, W/2] = relu(norm0(conv0(in))), then the max-pool
	 * into the first block's first channels */
	rc = add_conv(L, m, "features.conv0", "features.norm0", 3, di->init, 7,
	              2, BUF_IN, BUF_STEM, 0, 1);
	if (rc)
		return rc;
	add_simple(m, OP_MAXPOOL, "features.pool0", di->init, BUF_STEM, x);
	for (int b = 0; b < di->blocks; b++) {
		rc = add_block(L, m, b, x, &c);
		if (rc)
			return rc;
		di->out[b] = c;
		if (b + 1 < di->blocks) {
			int y = x == BUF_B0 ? BUF_B1 : BUF_B0;

			rc = add_transition(L, m, b + 1, x, y, &c);
			if (rc)
				return rc;
			x = y;
		}
	}
	return add_head(L, m, x, c);
}

int densenet_load(densenet **out, const st_file *f, char *err, size_t errlen)
{
	struct loader L = {.f = f, .err = err, .errlen = errlen,
	                   .isa = nn_isa_best()};
	densenet *m;
	int rc;

	*out = NULL;
	m = calloc(1, sizeof *m);
	L.used = calloc(st_count(f) + 1, 1);
	if (!m || !L.used) {
		rc = NATADV_ENOMEM;
		goto out;
	}
	rc = infer(&L, &m->info);
	if (!rc)
		rc = build(&L, m);
	if (rc)
		goto out;
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
	m->pool = nn_pool_new(openblas_get_num_threads());
	if (!m->pool) {
		rc = NATADV_ENOMEM;
		goto out;
	}
	*out = m;
	m = NULL;
out:
	free(L.used);
	densenet_free(m);
	return rc;
}

int densenet_load_file(densenet **out, const char *path, char *err,
                       size_t errlen)
{
	st_file *f;
	int rc;

	*out = NULL;
	rc = st_open(&f, path, err, errlen);
	if (rc)
		return rc;
	rc = densenet_load(out, f, err, errlen);
	st_free(f);
	return rc;
}

void densenet_free(densenet *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->nops; i++) {
		free(m->ops[i].conv.w);
		free(m->ops[i].conv.b);
		free(m->ops[i].scale);
		free(m->ops[i].shift);
		nn_packed_release(&m->ops[i].conv.pk);
		nn_wino_release(&m->ops[i].wino);
	}
	free(m->ops);
	free(m->arena);
	nn_pool_free(m->pool);
	free(m);
}

const densenet_info *densenet_get_info(const densenet *m)
{
	return &m->info;
}

const char *densenet_errmsg(const densenet *m)
{
	return m->err;
}

size_t densenet_arena_bytes(const densenet *m)
{
	return m->arena_floats * sizeof(float);
}

int densenet_set_threads(densenet *m, int n)
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
	return 0;
}

const char *densenet_kernels(const densenet *m)
{
	return m->isa == NN_AVX512 ? "avx512" : m->isa == NN_AVX2 ? "avx2"
	                                                        : "generic";
}

/* ---- running ---- */

/* Output size of op for input h x w. */
static void op_out(const struct op *op, int h, int w, int *oh, int *ow)
{
	switch (op->kind) {
	case OP_CONV:
		*oh = nn_out_size(h, op->conv.k, op->conv.stride, op->conv.pad);
		*ow = nn_out_size(w, op->conv.k, op->conv.stride, op->conv.pad);
		break;
	case OP_MAXPOOL:
		*oh = nn_out_size(h, 3, 2, 1);
		*ow = nn_out_size(w, 3, 2, 1);
		break;
	case OP_AVGPOOL2:
		*oh = h / 2, *ow = w / 2;
		break;
	case OP_GAP:
	case OP_FC:
		*oh = *ow = 1;
		break;
	default:
		*oh = h, *ow = w;
	}
}

/* Walks the ops once for batches of n images of h x w: sets each op's
 * input size and the floats each buffer and the scratch need. */
static int plan_sizes(densenet *m, int n, int h, int w, size_t need[NBUF],
                      size_t *col)
{
	int hh[NBUF] = {0}, ww[NBUF] = {0};

	hh[BUF_IN] = h, ww[BUF_IN] = w;
	need[BUF_IN] = (size_t)3 * n * h * w;
	for (int i = 0; i < m->nops; i++) {
		struct op *op = &m->ops[i];
		int oh, ow;
		size_t floats;

		op->h = hh[op->src], op->w = ww[op->src];
		op_out(op, op->h, op->w, &oh, &ow);
		if (oh < 1 || ow < 1) {
			natadv_errf(m->err, sizeof m->err,
			            "input %dx%d is too small for '%s'", h, w,
			            op->name);
			return NATADV_EINVAL;
		}
		if ((size_t)n * op->h * op->w > INT_MAX / 64) {
			natadv_errf(m->err, sizeof m->err,
			            "batch %d of %dx%d images is too large", n, h, w);
			return NATADV_ETOOBIG;
		}
		if (op->kind == OP_FC)
			continue;
		if (op->kind == OP_CONV) {
			floats = op->wino.u.p
			        ? nn_wino_scratch_floats(&op->wino, n, op->h, op->w,
			                                 COL_BUDGET)
			        : nn_conv_col_floats(&op->conv, n, op->h, op->w,
			                             COL_BUDGET);
			if (floats > *col)
				*col = floats;
		}
		hh[op->dst] = oh, ww[op->dst] = ow;
		floats = (size_t)(op->doff + op->cout) * n * oh * ow;
		if (floats > need[op->dst])
			need[op->dst] = floats;
	}
	return 0;
}

#define UP16(x) (((x) + 15) / 16 * 16)

int densenet_prepare(densenet *m, int max_batch, int h, int w)
{
	size_t need[NBUF] = {0}, col = 0, total;
	int rc;

	if (max_batch < 1 || max_batch > 4096 || h < 1 || w < 1 || h > 8192 ||
	    w > 8192) {
		natadv_errf(m->err, sizeof m->err,
		            "bad batch %d or input size %dx%d", max_batch, h, w);
		return NATADV_EINVAL;
	}
	free(m->arena);
	m->arena = NULL;
	m->arena_floats = 0;
	m->max_batch = 0;
	rc = plan_sizes(m, max_batch, h, w, need, &col);
	if (rc)
		return rc;
	total = UP16(col);
	for (int b = 0; b < NBUF; b++)
		total += UP16(need[b]);
	m->arena = nn_alloc(total * sizeof(float));
	if (!m->arena) {
		natadv_errf(m->err, sizeof m->err, "cannot allocate %zu MB arena",
		            total * sizeof(float) >> 20);
		return NATADV_ENOMEM;
	}
	/* touched once here, never again allocated */
	memset(m->arena, 0, total * sizeof(float));
	total = 0;
	for (int b = 0; b < NBUF; b++) {
		m->buf[b] = m->arena + total;
		total += UP16(need[b]);
	}
	m->col = m->arena + total;
	m->col_floats = col;
	m->arena_floats = total + UP16(col);
	m->max_batch = max_batch, m->h = h, m->w = w;
	return 0;
}

#undef UP16

/* Runs op on n images of the arena. */
static void run_op(densenet *m, const struct op *op, int n, float *logits)
{
	const float *x = m->buf[op->src];
	const size_t hw = (size_t)op->h * op->w;
	int oh, ow;
	float *y;

	op_out(op, op->h, op->w, &oh, &ow);
	/* channel doff of [C, n, oh, ow] */
	y = m->buf[op->dst] + (size_t)op->doff * n * oh * ow;
	switch (op->kind) {
	case OP_CONV:
		/* y [cout, n, oh, ow] = conv(x [cin, n, h, w]) */
		if (op->wino.u.p)
			nn_wino_forward(&op->wino, x, n, op->h, op->w, y, m->col,
			                m->col_floats, op->relu, 0, m->pool);
		else
			nn_conv_forward(&op->conv, x, n, op->h, op->w, y, m->col,
			                m->col_floats, op->relu, 0, m->pool);
		break;
	case OP_BNRELU:
		/* y [c, n, h, w] = relu(x * scale + shift) */
		nn_scale_shift_relu(x, op->cin, (size_t)n * hw, op->scale,
		                    op->shift, y, m->pool);
		break;
	case OP_MAXPOOL:
		/* [c, n, h/2, w/2] = maxpool3s2([c, n, h, w]) */
		nn_maxpool_3s2(x, op->cin * n, op->h, op->w, y, m->pool);
		break;
	case OP_AVGPOOL2:
		/* [c, n, h/2, w/2] = avgpool2s2([c, n, h, w]) */
		nn_avgpool_2s2(x, op->cin * n, op->h, op->w, y, m->pool);
		break;
	case OP_GAP:
		/* [c, n] = mean([c, n, h, w]) */
		nn_avgpool(x, op->cin, n, (int)hw, y);
		break;
	case OP_FC:
		/* [n, classes] = [c, n]^T x classifier.weight^T + bias */
		nn_fc(op->conv.w, op->conv.b, op->conv.cout, op->conv.cin, x, n,
		      logits);
		break;
	}
}

int densenet_forward(densenet *m, const float *in, int n, float *logits)
{
	int blas_threads;

	if (!m->arena || n < 1 || n > m->max_batch) {
		natadv_errf(m->err, sizeof m->err,
		            "batch of %d images, prepared for at most %d", n,
		            m->max_batch);
		return NATADV_EINVAL;
	}
	/* m's pool runs the convolutions; OpenBLAS only the classifier */
	blas_threads = openblas_get_num_threads();
	if (nn_pool_threads(m->pool) > 1 && blas_threads != 1)
		openblas_set_num_threads(1);
	/* [n, 3, h, w] -> [3, n, h, w] */
	nn_nchw_to_cnhw(in, n, 3, m->h * m->w, m->buf[BUF_IN]);
	for (int i = 0; i < m->nops; i++)
		run_op(m, &m->ops[i], n, logits);
	if (nn_pool_threads(m->pool) > 1 && blas_threads != 1)
		openblas_set_num_threads(blas_threads);
	return 0;
}
