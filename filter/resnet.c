/* resnet.c — load a torchvision ResNet from safetensors and run it.
 * Loading infers the architecture from the names and shapes, checks every
 * tensor (none missing, none extra, every dimension) and folds batch norm
 * into the convolutions; the network is then a flat list of layers, run by
 * filter/plan.c. */
#include "filter/resnet.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "filter/plan.h"

/* The first stages ("early" ops) run one image at a time, so that their
 * large activations stay in the caches between layers (at batch 8 a
 * stage-1 tensor is 25 MB), and each thread of the pool takes whole
 * images through them on its own buffers: no waiting for each other
 * between layers. From stage LATE_STAGE on ("late" ops) images are few
 * pixels, and the threads share each layer of the whole batch, which
 * makes the GEMMs wide. */
#define LATE_STAGE 2

struct resnet {
	resnet_info info;
	plan p;
};

/* Loads conv weights and the batch norm that follows, folded together. */
static int load_conv(plan_loader *L, struct plan_op *op, const char *conv,
                     const char *bn, int cin, int cout, int k, int stride,
                     int groups)
{
	const plan_conv_spec s = {.conv = conv, .bn = bn, .cin = cin,
	                          .cout = cout, .k = k, .stride = stride,
	                          .pad = k / 2, .groups = groups};

	return plan_load_conv(L, op, &s);
}

/* Reads the stage sizes from the first block of each stage. */
static int infer(plan_loader *L, resnet_info *ri)
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
	ri->stem = (int)plan_dim(f, "conv1.weight", 0);
	rc = plan_check_channels(L, "conv1.weight", plan_dim(f, "conv1.weight", 0));
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
		width = plan_dim(f, name, 0);
		rc = plan_check_channels(L, name, width);
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
			out = plan_dim(f, name, 0);
			rc = plan_check_channels(L, name, out);
			if (rc)
				return rc;
		}
		ri->width[s] = (int)width;
		ri->out[s] = (int)out;
	}
	if (ri->block == RESNET_BOTTLENECK) {
		int64_t per = plan_dim(f, "layer1.0.conv2.weight", 1);

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
	ri->classes = (int)plan_dim(f, "fc.weight", 0);
	if (plan_dim(f, "fc.weight", 0) < 1 ||
	    plan_dim(f, "fc.weight", 0) > INT_MAX / 4) {
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

/* Loads one residual block into ops; *x is the buffer holding its input
 * and, on return, its output. */
static int load_block(plan_loader *L, resnet *m, int s, int b, int cin,
                      int *x)
{
	const resnet_info *ri = &m->info;
	const int width = ri->width[s], cout = ri->out[s];
	const int stride = s > 0 && b == 0 ? 2 : 1;
	const int down = stride != 1 || cin != cout; /* torchvision's rule */
	int y = down ? (*x == BUF_X0 ? BUF_X1 : BUF_X0) : *x;
	char c[40], n[40];
	struct plan_op *op;
	int rc;

#define NAME(buf, fmt) snprintf(buf, sizeof buf, "layer%d.%d." fmt, s + 1, b)
	NAME(c, "conv1");
	NAME(n, "bn1");
	op = plan_add_op(&m->p);
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
		op = plan_add_op(&m->p);
		rc = load_conv(L, op, c, n, width, width, 3, stride, ri->groups);
		if (rc)
			return rc;
		op->src = BUF_T1, op->dst = BUF_T2, op->relu = 1;
	}
	if (down) {
		NAME(c, "downsample.0");
		NAME(n, "downsample.1");
		op = plan_add_op(&m->p);
		rc = load_conv(L, op, c, n, cin, cout, 1, stride, 1);
		if (rc)
			return rc;
		op->src = *x, op->dst = y;
	}
	if (ri->block == RESNET_BOTTLENECK) {
		NAME(c, "conv3");
		NAME(n, "bn3");
		op = plan_add_op(&m->p);
		rc = load_conv(L, op, c, n, width, cout, 1, 1, 1);
		op->src = BUF_T2;
	} else {
		NAME(c, "conv2");
		NAME(n, "bn2");
		op = plan_add_op(&m->p);
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

/* The head: global average pool and fc, after the last stage in x. */
static int load_head(plan_loader *L, resnet *m, int x, int cin)
{
	struct plan_op *op = plan_add_op(&m->p);
	int rc;

	op->kind = OP_AVGPOOL;
	snprintf(op->name, sizeof op->name, "avgpool");
	op->src = x, op->dst = BUF_POOL;

	op = plan_add_op(&m->p);
	rc = plan_load_fc(L, op, "fc", cin, m->info.classes);
	op->src = BUF_POOL;
	return rc;
}

int resnet_load(resnet **out, const st_file *f, char *err, size_t errlen)
{
	plan_loader L;
	resnet *m;
	struct plan_op *op;
	int rc, nops, x = BUF_X0, cin;

	*out = NULL;
	m = calloc(1, sizeof *m);
	rc = plan_loader_init(&L, f, err, errlen);
	if (!m || rc) {
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
	rc = plan_init(&m->p, nops);
	if (rc)
		goto out;

	op = plan_add_op(&m->p);
	rc = load_conv(&L, op, "conv1", "bn1", 3, m->info.stem, 7, 2, 1);
	if (rc)
		goto out;
	op->src = BUF_IN, op->dst = BUF_X1, op->relu = 1;
	op = plan_add_op(&m->p);
	op->kind = OP_MAXPOOL;
	snprintf(op->name, sizeof op->name, "maxpool");
	op->src = BUF_X1, op->dst = BUF_X0;
	cin = m->info.stem;
	for (int s = 0; s < 4; s++) {
		if (s == LATE_STAGE)
			m->p.split = m->p.nops;
		for (int b = 0; b < m->info.layers[s]; b++) {
			rc = load_block(&L, m, s, b, cin, &x);
			if (rc)
				goto out;
			cin = m->info.out[s];
		}
	}
	if ((rc = load_head(&L, m, x, cin)) != 0 ||
	    (rc = plan_check_unused(&L)) != 0)
		goto out;
	m->info.params = L.params;
	m->p.isa = L.isa;
	name_arch(&m->info);
	*out = m;
	m = NULL;
out:
	plan_loader_release(&L);
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
	plan_release(&m->p);
	free(m);
}

const resnet_info *resnet_get_info(const resnet *m)
{
	return &m->info;
}

const char *resnet_errmsg(const resnet *m)
{
	return m->p.err;
}

size_t resnet_arena_bytes(const resnet *m)
{
	return m->p.arena_floats * sizeof(float);
}

int resnet_set_threads(resnet *m, int n)
{
	return plan_set_threads(&m->p, n);
}

const char *resnet_kernels(const resnet *m)
{
	return plan_kernels(&m->p);
}

void resnet_profile(resnet *m, int on)
{
	plan_profile(&m->p, on);
}

int resnet_profile_ops(const resnet *m)
{
	return m->p.nops;
}

const char *resnet_profile_get(const resnet *m, int i, const char **kind,
                               double *macs, double *wall, double *cpu)
{
	return plan_profile_get(&m->p, i, kind, macs, wall, cpu);
}

int resnet_prepare(resnet *m, int max_batch, int h, int w)
{
	return plan_prepare(&m->p, max_batch, h, w);
}

int resnet_forward(resnet *m, const float *in, int n, float *logits)
{
	return plan_forward(&m->p, in, n, logits);
}

struct plan *resnet_plan(resnet *m)
{
	return &m->p;
}
