/* vgg.c — load a VGG from safetensors (torchvision's or timm's names) and
 * run it on filter/plan.c. The convolutions are found by their indices in
 * features.*: torchvision's Sequential numbers conv, [bn,] relu and each
 * max-pool, so the gap between two convolutions says whether a max-pool
 * lies between them. The classifier's first two layers run as a 7x7 and a
 * 1x1 convolution on the [C, N, H, W] activations, in both layouts. */
#include "filter/vgg.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "filter/plan.h"

#define MAX_CONVS 64       /* vgg19 has 16 */
#define MAX_INDEX 256      /* highest features.N looked at */
#define FEATURE_SIDE 7     /* AdaptiveAvgPool2d((7, 7)), fc1's kernel */
/* Stages 0 and 1 run image by image on each thread (their activations are
 * the large ones, see resnet.c); the rest on the whole batch. */
#define LATE_STAGE 2

struct vgg {
	vgg_info info;
	int conv_idx[MAX_CONVS]; /* features.N of each convolution */
	int stage_of[MAX_CONVS];
	int nconv;
	plan p;
};

static int has_prefix(const st_file *f, const char *prefix, const char **name)
{
	const size_t n = strlen(prefix);

	for (size_t i = 0; i < st_count(f); i++) {
		if (!strncmp(st_get(f, i)->name, prefix, n)) {
			*name = st_get(f, i)->name;
			return 1;
		}
	}
	return 0;
}

/* torchvision's classifier.*, or timm's pre_logits.* and head.*, never
 * both. */
static int find_layout(plan_loader *L, vgg_info *vi)
{
	const char *tv = NULL, *timm = NULL;
	const int has_tv = has_prefix(L->f, "classifier.", &tv);
	const int has_timm = has_prefix(L->f, "pre_logits.", &timm) ||
	                     has_prefix(L->f, "head.", &timm);

	if (has_tv && has_timm) {
		natadv_errf(L->err, L->errlen,
		       "tensor '%s' (timm's layout) in a file with '%s' "
		       "(torchvision's layout): mixed layouts", timm, tv);
		return NATADV_EFORMAT;
	}
	if (!has_tv && !has_timm) {
		natadv_errf(L->err, L->errlen,
		       "not a VGG: no tensor 'classifier.0.weight' "
		       "(torchvision) or 'pre_logits.fc1.weight' (timm)");
		return NATADV_EFORMAT;
	}
	vi->layout = has_tv ? VGG_TORCHVISION : VGG_TIMM;
	return 0;
}

/* Finds the convolutions of features.* and groups them into stages. */
static int find_convs(plan_loader *L, vgg *m)
{
	vgg_info *vi = &m->info;
	char name[64];
	int step, s = 0;

	m->nconv = 0;
	for (int i = 0; i < MAX_INDEX; i++) {
		snprintf(name, sizeof name, "features.%d.weight", i);
		if (plan_dim(L->f, name, 3) < 0)
			continue; /* a batch norm, or nothing */
		if (m->nconv == MAX_CONVS) {
			natadv_errf(L->err, L->errlen,
			       "tensor '%s': more than %d convolutions", name,
			       MAX_CONVS);
			return NATADV_EFORMAT;
		}
		m->conv_idx[m->nconv++] = i;
	}
	if (!m->nconv || m->conv_idx[0] != 0) {
		natadv_errf(L->err, L->errlen,
		       "missing tensor 'features.0.weight'");
		return NATADV_EFORMAT;
	}
	vi->bn = st_find(L->f, "features.1.running_mean") != NULL;
	step = vi->bn ? 3 : 2; /* conv, [bn,] relu */
	for (int c = 0; c < m->nconv; c++) {
		const int gap = c ? m->conv_idx[c] - m->conv_idx[c - 1] : step;

		if (gap == step + 1)
			s++; /* a max-pool between them */
		if ((gap != step && gap != step + 1) || s >= VGG_STAGES) {
			natadv_errf(L->err, L->errlen,
			       "tensor 'features.%d.weight': no VGG has a "
			       "convolution there (after 'features.%d')",
			       m->conv_idx[c], m->conv_idx[c - 1]);
			return NATADV_EFORMAT;
		}
		m->stage_of[c] = s;
		vi->convs[s]++;
	}
	if (s != VGG_STAGES - 1) {
		natadv_errf(L->err, L->errlen,
		       "tensor 'features.%d.weight': %d max-pool stages, "
		       "expected %d", m->conv_idx[m->nconv - 1], s + 1,
		       VGG_STAGES);
		return NATADV_EFORMAT;
	}
	return 0;
}

/* Loads convolution c (and its batch norm) as an op from *x into the
 * other buffer, leaving its output buffer in *x. */
static int load_feature(plan_loader *L, vgg *m, int c, int cin, int *x)
{
	char conv[32], bn[32], name[64];
	struct plan_op *op = plan_add_op(&m->p);
	int64_t cout;
	plan_conv_spec s;
	int rc;

	snprintf(conv, sizeof conv, "features.%d", m->conv_idx[c]);
	snprintf(bn, sizeof bn, "features.%d", m->conv_idx[c] + 1);
	snprintf(name, sizeof name, "%s.weight", conv);
	cout = plan_dim(L->f, name, 0);
	rc = plan_check_channels(L, name, cout);
	if (rc)
		return rc;
	s = (plan_conv_spec){.conv = conv, .bn = m->info.bn ? bn : NULL,
	                     .cin = cin, .cout = (int)cout, .k = 3,
	                     .stride = 1, .pad = 1, .groups = 1, .bias = 1};
	rc = plan_load_conv(L, op, &s);
	if (rc)
		return rc;
	op->src = *x, op->dst = *x == BUF_X0 ? BUF_X1 : BUF_X0, op->relu = 1;
	*x = op->dst;
	m->info.width[m->stage_of[c]] = (int)cout;
	return 0;
}

/* The max-pool that ends stage s, after convolution c. */
static void add_pool(vgg *m, int c, int *x)
{
	struct plan_op *op = plan_add_op(&m->p);

	op->kind = OP_MAXPOOL2;
	snprintf(op->name, sizeof op->name, "features.%d",
	         m->conv_idx[c] + (m->info.bn ? 3 : 2));
	op->src = *x, op->dst = *x == BUF_X0 ? BUF_X1 : BUF_X0;
	*x = op->dst;
}

/* The classifier: names of its three layers in the file's layout. */
static void head_names(const vgg_info *vi, const char *names[3])
{
	static const char *const tv[3] = {"classifier.0", "classifier.3",
	                                  "classifier.6"};
	static const char *const timm[3] = {"pre_logits.fc1", "pre_logits.fc2",
	                                    "head.fc"};

	for (int i = 0; i < 3; i++)
		names[i] = vi->layout == VGG_TORCHVISION ? tv[i] : timm[i];
}

/* Linear(C*7*7, hidden), ReLU, Linear(hidden, hidden), ReLU, Linear(hidden,
 * classes), after the features in x with cin channels (dropout is the
 * identity here). */
static int load_head(plan_loader *L, vgg *m, int cin, int x)
{
	vgg_info *vi = &m->info;
	const char *names[3];
	char name[64];
	int64_t hidden, classes;
	plan_conv_spec s;
	struct plan_op *op;
	int rc;

	head_names(vi, names);
	snprintf(name, sizeof name, "%s.weight", names[0]);
	hidden = plan_dim(L->f, name, 0);
	if ((rc = plan_check_channels(L, name, hidden)) != 0)
		return rc;
	vi->hidden = (int)hidden;
	snprintf(name, sizeof name, "%s.weight", names[2]);
	classes = plan_dim(L->f, name, 0);
	if (classes < 1 || classes > INT_MAX / 4) {
		natadv_errf(L->err, L->errlen,
		       "tensor '%s': no plausible number of classes", name);
		return NATADV_EFORMAT;
	}
	vi->classes = (int)classes;
	const int linear = vi->layout == VGG_TORCHVISION;

	/* [cin, n, 7, 7] = AdaptiveAvgPool2d((7, 7)): torchvision's always,
	 * timm's ConvMlp only up to 7x7 */
	op = plan_add_op(&m->p);
	op->kind = OP_ADAPTIVE;
	snprintf(op->name, sizeof op->name, linear ? "avgpool" : "pre_logits");
	op->src = x, op->dst = x == BUF_X0 ? BUF_X1 : BUF_X0;
	op->pool_h = op->pool_w = FEATURE_SIDE, op->pool_at_least = !linear;
	x = op->dst;
	/* [hidden, n, 1, 1] = relu(fc1 as a 7x7 conv of [cin, n, 7, 7]); timm
	 * runs it over larger inputs as a convolution */
	op = plan_add_op(&m->p);
	s = (plan_conv_spec){.conv = names[0], .cin = cin, .cout = vi->hidden,
	                     .k = FEATURE_SIDE, .stride = 1, .groups = 1,
	                     .bias = 1, .linear = linear};
	if ((rc = plan_load_conv(L, op, &s)) != 0)
		return rc;
	op->src = x, op->dst = BUF_T1, op->relu = 1;
	/* [hidden, n, 1, 1] = relu(fc2 as a 1x1 conv) */
	op = plan_add_op(&m->p);
	s = (plan_conv_spec){.conv = names[1], .cin = vi->hidden,
	                     .cout = vi->hidden, .k = 1, .stride = 1,
	                     .groups = 1, .bias = 1, .linear = linear};
	if ((rc = plan_load_conv(L, op, &s)) != 0)
		return rc;
	op->src = BUF_T1, op->dst = BUF_T2, op->relu = 1;
	x = BUF_T2;
	if (!linear) {
		/* timm's head: global average pool, [hidden, n] */
		op = plan_add_op(&m->p);
		op->kind = OP_AVGPOOL;
		snprintf(op->name, sizeof op->name, "head.global_pool");
		op->src = x, op->dst = x = BUF_POOL;
	}
	/* logits [n, classes] = [hidden, n]^T fc3^T + b */
	op = plan_add_op(&m->p);
	rc = plan_load_fc(L, op, names[2], vi->hidden, vi->classes);
	op->src = x;
	return rc;
}

/* Names the architecture when it is one torchvision ships. */
static void name_arch(vgg_info *vi)
{
	static const struct {
		const char *name;
		int convs[VGG_STAGES];
	} known[] = {
		{"vgg11", {1, 1, 2, 2, 2}},
		{"vgg13", {2, 2, 2, 2, 2}},
		{"vgg16", {2, 2, 3, 3, 3}},
		{"vgg19", {2, 2, 4, 4, 4}},
	};
	static const int width[VGG_STAGES] = {64, 128, 256, 512, 512};

	snprintf(vi->arch, sizeof vi->arch, "vgg");
	if (memcmp(vi->width, width, sizeof width) || vi->hidden != 4096)
		return;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (!memcmp(vi->convs, known[i].convs, sizeof vi->convs))
			snprintf(vi->arch, sizeof vi->arch, "%s%s", known[i].name,
			         vi->bn ? "_bn" : "");
}

/* The features: every convolution, a max-pool after each stage. */
static int load_features(plan_loader *L, vgg *m, int *x, int *cin)
{
	int rc;

	*x = BUF_IN, *cin = 3;
	for (int c = 0; c < m->nconv; c++) {
		if (m->stage_of[c] == LATE_STAGE && !m->p.split)
			m->p.split = m->p.nops;
		rc = load_feature(L, m, c, *cin, x);
		if (rc)
			return rc;
		*cin = m->info.width[m->stage_of[c]];
		if (c + 1 == m->nconv || m->stage_of[c + 1] != m->stage_of[c])
			add_pool(m, c, x);
	}
	return 0;
}

int vgg_load(vgg **out, const st_file *f, char *err, size_t errlen)
{
	plan_loader L;
	vgg *m;
	int rc, x, cin;

	*out = NULL;
	m = calloc(1, sizeof *m);
	rc = plan_loader_init(&L, f, err, errlen);
	if (!m || rc) {
		rc = NATADV_ENOMEM;
		goto out;
	}
	if ((rc = find_layout(&L, &m->info)) != 0 ||
	    (rc = find_convs(&L, m)) != 0 ||
	    (rc = plan_init(&m->p, m->nconv + VGG_STAGES + 5)) != 0 ||
	    (rc = load_features(&L, m, &x, &cin)) != 0 ||
	    (rc = load_head(&L, m, cin, x)) != 0 ||
	    (rc = plan_check_unused(&L)) != 0)
		goto out;
	m->info.params = L.params;
	name_arch(&m->info);
	*out = m;
	m = NULL;
out:
	plan_loader_release(&L);
	vgg_free(m);
	return rc;
}

void vgg_free(vgg *m)
{
	if (!m)
		return;
	plan_release(&m->p);
	free(m);
}

const vgg_info *vgg_get_info(const vgg *m)
{
	return &m->info;
}

struct plan *vgg_plan(vgg *m)
{
	return &m->p;
}
