/* densenet.c — load a torchvision DenseNet-BC from safetensors and run it.
 * Loading infers growth rate, bottleneck width, initial features and block
 * configuration from the tensors, checks every tensor (none missing, none
 * extra, every dimension and dtype), folds the batch norms that directly
 * follow a convolution (norm0, norm2) into it and keeps the others (norm1,
 * the transitions' norm, norm5), which a ReLU separates from the next
 * convolution, as per-channel scale and shift applied by the op that reads
 * them: norm1 by conv1 as it packs its input block by block (no pass of
 * its own over the concatenation), the transitions' by their average pool,
 * norm5 by the global pool. The network is then a flat list of ops over
 * the buffers of one arena:
 *   1. a dense block's feature map is one buffer [C_out, N, H, W]; the
 *      block's input is its first channels and each dense layer's conv2
 *      writes its growth channels into the next slice, so the layer reads
 *      the concatenation of everything before it as a prefix, uncopied;
 *   2. two block buffers alternate, since a transition reads one and
 *      writes the next block's first channels;
 *   3. a transition runs BN-ReLU and the 2x2 average pool in one pass,
 *      then its 1x1 convolution: pooling first is exact (both are linear
 *      per pixel) and the convolution runs on a quarter of the pixels. */
#include "filter/densenet.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "filter/plan.h"

#define MAX_LAYERS 256 /* dense layers per block */

/* Buffers (plan.h's roles): the stem's output in T1, the dense blocks in
 * X0 and X1 by turns, bottlenecks and pooled transitions in T2. */
struct densenet {
	densenet_info info;
	plan p;
};

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
static int find_layout(plan_loader *L, densenet_layout *layout)
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
	*layout = first[DENSENET_LEGACY] ? DENSENET_LEGACY : DENSENET_CURRENT;
	return 0;
}

/* Reads growth rate, bottleneck, initial features, blocks and layers. */
static int infer(plan_loader *L, densenet_info *di)
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
	rc = find_layout(L, &di->layout);
	if (rc)
		return rc;
	di->init = (int)plan_dim(f, "features.conv0.weight", 0);
	rc = plan_check_channels(L, "features.conv0.weight",
	                    plan_dim(f, "features.conv0.weight", 0));
	if (rc)
		return rc;
	for (di->blocks = 0; di->blocks < DENSENET_MAX_BLOCKS; di->blocks++) {
		int *n = &di->layers[di->blocks];

		for (*n = 0; *n < MAX_LAYERS; (*n)++) {
			layer_name(name, sizeof name, di->layout, di->blocks + 1,
			           *n + 1, "conv1.weight");
			if (!st_find(f, name))
				break;
		}
		if (!*n)
			break;
	}
	if (!di->blocks) {
		layer_name(name, sizeof name, di->layout, 1, 1, "conv1.weight");
		natadv_errf(L->err, L->errlen, "missing tensor '%s'", name);
		return NATADV_EFORMAT;
	}
	layer_name(name, sizeof name, di->layout, 1, 1, "conv2.weight");
	di->growth = (int)plan_dim(f, name, 0);
	rc = plan_check_channels(L, name, plan_dim(f, name, 0));
	if (rc)
		return rc;
	layer_name(name, sizeof name, di->layout, 1, 1, "conv1.weight");
	bw = plan_dim(f, name, 0);
	rc = plan_check_channels(L, name, bw);
	if (rc)
		return rc;
	if (bw % di->growth) {
		natadv_errf(L->err, L->errlen,
		            "tensor '%s': %lld channels, not a multiple of the "
		            "growth rate %d", name, (long long)bw, di->growth);
		return NATADV_EFORMAT;
	}
	di->bn_size = (int)(bw / di->growth);
	bw = plan_dim(f, "classifier.weight", 0);
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

/* Adds a bias-free convolution of file tensor conv, with batch norm bn
 * folded in when not NULL, reading src (through batch norm pre and a ReLU
 * when pre is not NULL) and writing dst's channels from doff on. */
static int add_conv(plan_loader *L, densenet *m, const char *conv,
                    const char *bn, const char *pre, int cin, int cout,
                    int k, int stride, int src, int dst, int doff, int relu)
{
	const plan_conv_spec s = {.conv = conv, .bn = bn, .cin = cin,
	                          .cout = cout, .k = k, .stride = stride,
	                          .pad = k / 2, .groups = 1};
	struct plan_op *op = plan_add_op(&m->p);
	int rc = pre ? plan_load_bn_scale(L, op, pre, cin) : 0;

	op->src = src, op->dst = dst, op->doff = doff, op->relu = relu;
	return rc ? rc : plan_load_conv(L, op, &s);
}

/* Adds a pool op reading src, with batch norm bn (c channels) and a ReLU
 * applied to what it reads when bn is not NULL. */
static int add_simple(plan_loader *L, densenet *m, enum plan_op_kind kind,
                      const char *name, int src, int dst, const char *bn,
                      int c)
{
	struct plan_op *op = plan_add_op(&m->p);

	op->kind = kind;
	snprintf(op->name, sizeof op->name, "%s", name);
	op->src = src, op->dst = dst;
	return bn ? plan_load_bn_scale(L, op, bn, c) : 0;
}

/* Adds dense block b (from 0) on buffer x, whose first *c channels hold
 * its input; on return *c is the block's output channels. */
static int add_block(plan_loader *L, densenet *m, int b, int x, int *c)
{
	const densenet_info *di = &m->info;
	const int bw = di->bn_size * di->growth;
	char n1[80], c1[80], n2[80], c2[80];
	int rc;

	for (int l = 0; l < di->layers[b]; l++) {
		layer_name(n1, sizeof n1, di->layout, b + 1, l + 1, "norm1");
		layer_name(c1, sizeof c1, di->layout, b + 1, l + 1, "conv1");
		layer_name(n2, sizeof n2, di->layout, b + 1, l + 1, "norm2");
		layer_name(c2, sizeof c2, di->layout, b + 1, l + 1, "conv2");
		/* T2 [bw, N, H, W] = relu(norm2(conv1(relu(norm1(x [c, N,
		 * H, W]))))): conv1 applies norm1 and its ReLU to each block
		 * of x as it packs it */
		rc = add_conv(L, m, c1, n2, n1, *c, bw, 1, 1, x, BUF_T2, 0, 1);
		/* x [c .. c + growth, N, H, W] = conv2(T2): the concatenation */
		if (!rc)
			rc = add_conv(L, m, c2, NULL, NULL, bw, di->growth, 3,
			              1, BUF_T2, x, *c, 0);
		if (rc)
			return rc;
		*c += di->growth;
	}
	return 0;
}

/* Adds transition b (from 1) from buffer x (*c channels) to the first
 * channels of buffer y; *c becomes its output channels. */
static int add_transition(plan_loader *L, densenet *m, int b, int x, int y,
                          int *c)
{
	char norm[48], conv[48];
	int64_t cout;
	int rc;

	snprintf(norm, sizeof norm, "features.transition%d.norm", b);
	snprintf(conv, sizeof conv, "features.transition%d.conv.weight", b);
	if (!st_find(L->f, conv)) {
		natadv_errf(L->err, L->errlen, "missing tensor '%s'", conv);
		return NATADV_EFORMAT;
	}
	cout = plan_dim(L->f, conv, 0);
	rc = plan_check_channels(L, conv, cout);
	/* T2 [c, N, H/2, W/2] = avgpool(relu(norm(x))); pooling before the
	 * 1x1 conv is exact and does its multiply-adds on a quarter of the
	 * pixels */
	snprintf(conv, sizeof conv, "features.transition%d.pool", b);
	if (!rc)
		rc = add_simple(L, m, OP_AVGPOOL2, conv, x, BUF_T2, norm, *c);
	if (rc)
		return rc;
	/* y [cout, N, H/2, W/2] = conv(T2) */
	snprintf(conv, sizeof conv, "features.transition%d.conv", b);
	rc = add_conv(L, m, conv, NULL, NULL, *c, (int)cout, 1, 1, BUF_T2, y,
	              0, 0);
	*c = (int)cout;
	return rc;
}

/* The classifier: global average pool of relu(norm5(x)), then linear. */
static int add_head(plan_loader *L, densenet *m, int x, int c)
{
	struct plan_op *op;
	int rc;

	/* POOL [c, N] = mean(relu(norm5(x))) */
	rc = add_simple(L, m, OP_AVGPOOL, "global_pool", x, BUF_POOL,
	                "features.norm5", c);
	if (rc)
		return rc;
	/* [N, classes] = POOL^T classifier.weight^T + classifier.bias */
	op = plan_add_op(&m->p);
	rc = plan_load_fc(L, op, "classifier", c, m->info.classes);
	op->src = BUF_POOL;
	return rc;
}

/* Fills m's plan from L's file, whose architecture m->info describes. The
 * first two blocks run image by image on each thread (their maps are
 * large), the rest on the whole batch (see plan.h). */
static int build(plan_loader *L, densenet *m)
{
	densenet_info *di = &m->info;
	int rc, cap = 5 + 2 * di->blocks, c = di->init, x = BUF_X0;

	for (int b = 0; b < di->blocks; b++)
		cap += 2 * di->layers[b];
	rc = plan_init(&m->p, cap);
	if (rc)
		return rc;
	/* T1 [init, N, H/2, W/2] = relu(norm0(conv0(in))); max-pool into
	 * the first block's first channels */
	rc = add_conv(L, m, "features.conv0", "features.norm0", NULL, 3,
	              di->init, 7, 2, BUF_IN, BUF_T1, 0, 1);
	if (rc)
		return rc;
	add_simple(L, m, OP_MAXPOOL, "features.pool0", BUF_T1, x, NULL, 0);
	for (int b = 0; b < di->blocks; b++) {
		if (b == 2)
			m->p.split = m->p.nops;
		rc = add_block(L, m, b, x, &c);
		if (rc)
			return rc;
		di->out[b] = c;
		if (b + 1 < di->blocks) {
			int y = x == BUF_X0 ? BUF_X1 : BUF_X0;

			rc = add_transition(L, m, b + 1, x, y, &c);
			if (rc)
				return rc;
			x = y;
		}
	}
	if (di->blocks <= 2)
		m->p.split = m->p.nops;
	return add_head(L, m, x, c);
}

int densenet_load(densenet **out, const st_file *f, char *err, size_t errlen)
{
	plan_loader L;
	densenet *m;
	int rc;

	*out = NULL;
	m = calloc(1, sizeof *m);
	rc = plan_loader_init(&L, f, err, errlen);
	if (!m || rc) {
		free(m);
		plan_loader_release(&L);
		return NATADV_ENOMEM;
	}
	rc = infer(&L, &m->info);
	if (!rc)
		rc = build(&L, m);
	if (!rc)
		rc = plan_check_unused(&L);
	if (!rc) {
		m->info.params = L.params;
		name_arch(&m->info);
		*out = m;
		m = NULL;
	}
	plan_loader_release(&L);
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
	plan_release(&m->p);
	free(m);
}

const densenet_info *densenet_get_info(const densenet *m)
{
	return &m->info;
}

int densenet_prepare(densenet *m, int max_batch, int h, int w)
{
	return plan_prepare(&m->p, max_batch, h, w);
}

int densenet_forward(densenet *m, const float *in, int n, float *logits)
{
	return plan_forward(&m->p, in, n, logits);
}

const char *densenet_errmsg(const densenet *m)
{
	return m->p.err;
}

size_t densenet_arena_bytes(const densenet *m)
{
	return m->p.arena_floats * sizeof(float);
}

int densenet_set_threads(densenet *m, int n)
{
	return plan_set_threads(&m->p, n);
}

const char *densenet_kernels(const densenet *m)
{
	return plan_kernels(&m->p);
}

struct plan *densenet_plan(densenet *m)
{
	return &m->p;
}
