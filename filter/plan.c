/* plan.c — the machinery every network of filter/ runs on: checked weight
 * loading with batch norm folded, the arena sized once per input shape,
 * and the forward loop over a flat list of ops (see plan.h). */
#include "filter/plan.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"

#define BN_EPS 1e-5          /* torchvision's BatchNorm2d default */
#define MAX_CHANNELS 65536   /* far above any network; keeps int math safe */
#define WINO_M 4 /* F(4x4, 3x3): faster than F(2x2) at every ResNet stage */
#define COL_BUDGET ((size_t)8 << 20) /* im2col/Winograd scratch floats */

void plan_fmt_shape(char *out, size_t outlen, int ndim, const int64_t *s)
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

int plan_loader_init(plan_loader *L, const st_file *f, char *err,
                     size_t errlen)
{
	*L = (plan_loader){.f = f, .err = err, .errlen = errlen,
	                   .isa = nn_isa_best()};
	L->used = calloc(st_count(f) + 1, 1);
	return L->used ? 0 : NATADV_ENOMEM;
}

void plan_loader_release(plan_loader *L)
{
	free(L->used);
	L->used = NULL;
}

int64_t plan_dim(const st_file *f, const char *name, int i)
{
	const st_tensor *t = st_find(f, name);

	return t && i < t->ndim ? t->shape[i] : -1;
}

/* Tensor name of f into *out after checking its dtype and shape. */
static int find_checked(plan_loader *L, const char *name, int ndim,
                        const int64_t *shape, const st_tensor **out)
{
	const st_tensor *t = st_find(L->f, name);
	char got[160], want[160];

	*out = t;
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
		plan_fmt_shape(got, sizeof got, t->ndim, t->shape);
		plan_fmt_shape(want, sizeof want, ndim, shape);
		natadv_errf(L->err, L->errlen, "tensor '%s': shape %s, expected %s",
		       name, got, want);
		return NATADV_EFORMAT;
	}
	return 0;
}

/* Elements first .. first + count - 1 of t as floats into out, checked
 * finite; the file's pages they came from are let go. */
static int read_part(plan_loader *L, const st_tensor *t, size_t first,
                     size_t count, float *out)
{
	int rc = st_read_f32_range(t, first, count, out, L->err, L->errlen);

	if (rc)
		return rc;
	st_evict(L->f, t, first, count);
	for (size_t i = 0; i < count; i++) {
		if (!isfinite(out[i])) {
			natadv_errf(L->err, L->errlen,
			       "tensor '%s': non-finite value at index %zu",
			       t->name, first + i);
			return NATADV_EFORMAT;
		}
	}
	return 0;
}

int plan_get(plan_loader *L, const char *name, int ndim, const int64_t *shape,
             float **out)
{
	const st_tensor *t;
	float *v;
	int rc;

	*out = NULL;
	rc = find_checked(L, name, ndim, shape, &t);
	if (rc)
		return rc;
	v = malloc((t->nelem ? t->nelem : 1) * sizeof *v);
	if (!v)
		return NATADV_ENOMEM;
	rc = read_part(L, t, 0, t->nelem, v);
	if (rc) {
		free(v);
		return rc;
	}
	L->used[t->index] = 1;
	L->params += t->nelem;
	*out = v;
	return 0;
}

/* Reads batch norm bn's four vectors into p and marks its counter used. */
static int load_bn(plan_loader *L, const char *bn, int cout, float *p[4])
{
	static const char *const bnp[4] = {"weight", "bias", "running_mean",
	                                   "running_var"};
	const int64_t bshape[1] = {cout};
	const st_tensor *t;
	char name[96];
	int rc;

	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "%s.%s", bn, bnp[i]);
		rc = plan_get(L, name, 1, bshape, &p[i]);
		if (rc)
			return rc;
	}
	/* Checkpoints carry this int64 counter; inference has no use for it. */
	snprintf(name, sizeof name, "%s.num_batches_tracked", bn);
	t = st_find(L->f, name);
	if (t) {
		if (t->dtype != ST_I64 || t->nelem != 1 || t->ndim > 1) {
			natadv_errf(L->err, L->errlen,
			       "tensor '%s': expected an I64 scalar", name);
			return NATADV_EFORMAT;
		}
		L->used[t->index] = 1;
	}
	return 0;
}

/* The conv's own bias (zeros when it has none) into op. */
static int load_conv_bias(plan_loader *L, struct plan_op *op,
                          const plan_conv_spec *s)
{
	const int64_t bshape[1] = {s->cout};
	char name[96];

	if (s->bias) {
		snprintf(name, sizeof name, "%s.bias", s->conv);
		return plan_get(L, name, 1, bshape, &op->conv.b);
	}
	op->conv.b = calloc((size_t)s->cout, sizeof *op->conv.b);
	return op->conv.b ? 0 : NATADV_ENOMEM;
}

/* Folds batch norm p (of bn; p[0] NULL for none) into rows r0 .. r0 + nr
 * - 1 of the conv, given as w [nr, per], and into op's bias. */
static int fold_rows(plan_loader *L, struct plan_op *op, const char *bn,
                     float *const p[4], float *w, size_t r0, size_t nr,
                     size_t per)
{
	int bad;

	if (!p[0])
		return 0;
	bad = nn_fold_bn(w, op->conv.b + r0, (int)nr, per, p[0] + r0,
	                 p[1] + r0, p[2] + r0, p[3] + r0, BN_EPS);
	if (bad < 0)
		return 0;
	natadv_errf(L->err, L->errlen,
	       "tensor '%s.running_var': negative variance at index %zu", bn,
	       r0 + (size_t)bad);
	return NATADV_EFORMAT;
}

/* Unpacked weights read, folded and packed at a time (floats). */
#define PACK_PIECE ((size_t)1 << 22)

/* Weight t [cout, per] into op's packed weights a piece of rows at a time,
 * batch norm p folded in: the whole unpacked tensor (411 MB for VGG's
 * fc1) is never in memory, nor its pages of the file for long. */
static int load_packed(plan_loader *L, struct plan_op *op,
                       const plan_conv_spec *s, const st_tensor *t,
                       float *const p[4])
{
	const size_t per = (size_t)(s->cin / s->groups) * s->k * s->k;
	const size_t cout = (size_t)s->cout;
	size_t rows = PACK_PIECE / per ? PACK_PIECE / per : 1;
	float *w;
	int rc = 0;

	if (rows > cout)
		rows = cout;
	w = malloc(rows * per * sizeof *w);
	if (!w || nn_pack_alloc(&op->conv.pk, s->groups, s->cout / s->groups,
	                        (int)per, L->isa)) {
		free(w);
		return NATADV_ENOMEM;
	}
	for (size_t r0 = 0; r0 < cout && !rc; r0 += rows) {
		const size_t nr = cout - r0 < rows ? cout - r0 : rows;

		rc = read_part(L, t, r0 * per, nr * per, w);
		if (!rc)
			rc = fold_rows(L, op, s->bn, p, w, r0, nr, per);
		if (!rc)
			nn_pack_rows(&op->conv.pk, w, (int)r0, (int)nr);
	}
	free(w);
	if (!rc) {
		L->used[t->index] = 1;
		L->params += t->nelem;
	}
	return rc;
}

int plan_load_conv(plan_loader *L, struct plan_op *op, const plan_conv_spec *s)
{
	const int64_t wshape[4] = {s->cout, s->cin / s->groups, s->k, s->k},
	              lshape[2] = {s->cout, (int64_t)s->cin * s->k * s->k};
	/* 3x3 stride-1 convs run as Winograd and need only its weights */
	const int wino = s->k == 3 && s->stride == 1 && s->pad == 1 &&
	                 s->groups == 1;
	const size_t per = (size_t)(s->cin / s->groups) * s->k * s->k;
	float *p[4] = {NULL, NULL, NULL, NULL};
	const st_tensor *t;
	char name[96];
	int rc;

	op->kind = OP_CONV;
	snprintf(op->name, sizeof op->name, "%s", s->conv);
	op->conv = (nn_conv){.cin = s->cin, .cout = s->cout, .k = s->k,
	                     .stride = s->stride, .pad = s->pad,
	                     .groups = s->groups};
	snprintf(name, sizeof name, "%s.weight", s->conv);
	rc = s->linear ? find_checked(L, name, 2, lshape, &t)
	               : find_checked(L, name, 4, wshape, &t);
	if (!rc && wino)
		rc = plan_get(L, name, t->ndim, t->shape, &op->conv.w);
	if (!rc)
		rc = load_conv_bias(L, op, s);
	if (!rc && s->bn)
		rc = load_bn(L, s->bn, s->cout, p);
	if (rc)
		goto out;
	if (!wino) {
		/* the packed weights are all the forward pass reads */
		rc = load_packed(L, op, s, t, p);
		goto out;
	}
	rc = fold_rows(L, op, s->bn, p, op->conv.w, 0, (size_t)s->cout, per);
	if (!rc && nn_wino_init(&op->wino, &op->conv, WINO_M, L->isa))
		rc = NATADV_ENOMEM;
	/* the Winograd weights are all the forward pass reads */
	free(op->conv.w);
	op->conv.w = NULL;
out:
	for (int i = 0; i < 4; i++)
		free(p[i]);
	return rc;
}

int plan_load_fc(plan_loader *L, struct plan_op *op, const char *prefix,
                 int features, int classes)
{
	/* weight [classes, features], bias [classes]: a linear "conv" */
	const plan_conv_spec s = {.conv = prefix, .cin = features,
	                          .cout = classes, .k = 1, .stride = 1,
	                          .groups = 1, .bias = 1, .linear = 1};
	int rc = plan_load_conv(L, op, &s);

	op->kind = OP_FC;
	return rc;
}

int plan_load_bnrelu(plan_loader *L, struct plan_op *op, const char *bn,
                     int c)
{
	op->kind = OP_BNRELU;
	snprintf(op->name, sizeof op->name, "%s", bn);
	return plan_load_bn_scale(L, op, bn, c);
}

int plan_load_bn_scale(plan_loader *L, struct plan_op *op, const char *bn,
                       int c)
{
	float *p[4] = {NULL, NULL, NULL, NULL};
	int rc, bad;

	op->bn_c = c;
	rc = load_bn(L, bn, c, p);
	if (rc)
		goto out;
	/* the fold of a 1x1 conv of weight 1, bias 0: scale and shift */
	op->scale = malloc((size_t)c * sizeof *op->scale);
	op->shift = calloc((size_t)c, sizeof *op->shift);
	if (!op->scale || !op->shift) {
		rc = NATADV_ENOMEM;
		goto out;
	}
	for (int i = 0; i < c; i++)
		op->scale[i] = 1.0f;
	bad = nn_fold_bn(op->scale, op->shift, c, 1, p[0], p[1], p[2], p[3],
	                 BN_EPS);
	if (bad >= 0) {
		natadv_errf(L->err, L->errlen,
		       "tensor '%s.running_var': negative variance at index %d",
		       bn, bad);
		rc = NATADV_EFORMAT;
	}
out:
	for (int i = 0; i < 4; i++)
		free(p[i]);
	return rc;
}

int plan_check_channels(plan_loader *L, const char *name, int64_t c)
{
	if (!st_find(L->f, name)) {
		natadv_errf(L->err, L->errlen, "missing tensor '%s'", name);
		return NATADV_EFORMAT;
	}
	if (c < 1 || c > MAX_CHANNELS) {
		natadv_errf(L->err, L->errlen,
		       "tensor '%s': %s, not a plausible channel count", name,
		       c < 0 ? "missing or wrong rank" : "out of range");
		return NATADV_EFORMAT;
	}
	return 0;
}

int plan_check_unused(plan_loader *L)
{
	for (size_t i = 0; i < st_count(L->f); i++) {
		if (!L->used[i]) {
			natadv_errf(L->err, L->errlen, "unexpected tensor '%s'",
			       st_get(L->f, i)->name);
			return NATADV_EFORMAT;
		}
	}
	return 0;
}

/* ---- the plan ---- */

int plan_init(plan *p, int cap)
{
	p->ops = calloc((size_t)cap, sizeof *p->ops);
	p->cap = cap;
	p->isa = nn_isa_best();
	/* as many threads as OpenBLAS would use: the number of cores */
	p->pool = nn_pool_new(openblas_get_num_threads());
	return p->ops && p->pool ? 0 : NATADV_ENOMEM;
}

struct plan_op *plan_add_op(plan *p)
{
	struct plan_op *op = &p->ops[p->nops++];

	memset(op, 0, sizeof *op);
	return op;
}

void plan_release(plan *p)
{
	for (int i = 0; i < p->nops && !p->borrowed; i++) {
		free(p->ops[i].conv.w);
		free(p->ops[i].conv.b);
		free(p->ops[i].scale);
		free(p->ops[i].shift);
		nn_packed_release(&p->ops[i].conv.pk);
		nn_wino_release(&p->ops[i].wino);
	}
	free(p->ops);
	free(p->arena);
	free(p->early);
	nn_pool_free(p->pool);
	p->ops = NULL, p->arena = NULL, p->early = NULL, p->pool = NULL;
	p->nops = 0;
}

int plan_set_threads(plan *p, int n)
{
	nn_pool *np;

	if (n < 1)
		n = 1;
	openblas_set_num_threads(n);
	if (nn_pool_threads(p->pool) == n)
		return 0;
	np = nn_pool_new(n);
	if (!np) {
		natadv_errf(p->err, sizeof p->err, "cannot start %d threads", n);
		return NATADV_ENOMEM;
	}
	nn_pool_free(p->pool);
	p->pool = np;
	/* early buffers for each thread: a new arena */
	if (p->arena && nn_pool_threads(np) != p->early_threads)
		return plan_prepare(p, p->max_batch, p->h, p->w);
	return 0;
}

const char *plan_kernels(const plan *p)
{
	return p->isa == NN_AVX512 ? "avx512" : p->isa == NN_AVX2 ? "avx2"
	                                                        : "generic";
}

/* ---- profiling ---- */

void plan_profile(plan *p, int on)
{
	p->profile = on;
	for (int i = 0; i < p->nops; i++) {
		memset(p->ops[i].wall, 0, sizeof p->ops[i].wall);
		memset(p->ops[i].cpu, 0, sizeof p->ops[i].cpu);
	}
}

const char *plan_profile_get(const plan *p, int i, const char **kind,
                             double *macs, double *wall, double *cpu)
{
	const struct plan_op *op = &p->ops[i];
	const nn_conv *c = &op->conv;

	*macs = 0;
	if (op->kind == OP_FC)
		*macs = (double)c->cin * c->cout;
	if (op->kind == OP_CONV)
		*macs = (double)c->cout * (c->cin / c->groups) * c->k * c->k *
		        nn_out_size(op->h, c->k, c->stride, c->pad) *
		        nn_out_size(op->w, c->k, c->stride, c->pad);

	if (op->kind != OP_CONV)
		*kind = op->kind == OP_FC ? "fc" : op->kind == OP_BNRELU
		                                   ? "bn-relu" : "pool";
	else if (op->wino.u.p)
		*kind = "winograd";
	else if (op->conv.k == 1 && op->conv.stride == 1)
		*kind = "1x1";
	else
		*kind = "im2col";
	*wall = *cpu = 0;
	for (int t = 0; t < PLAN_MAX_THREADS; t++)
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

/* Output size of an OP_ADAPTIVE on its input size. */
static void adaptive_size(const struct plan_op *op, int *oh, int *ow)
{
	*oh = op->pool_h, *ow = op->pool_w;
	if (op->pool_at_least && op->h > *oh)
		*oh = op->h;
	if (op->pool_at_least && op->w > *ow)
		*ow = op->w;
}

/* Output shape of op on its input shape (op->c, h, w); 0, or -1 for an
 * op that writes no buffer (the fc). Adds the op's scratch to *col. */
static int op_out(const struct plan_op *op, int images, int threads,
                  int *oc, int *oh, int *ow, size_t *col)
{
	size_t cf;

	switch (op->kind) {
	case OP_CONV:
		*oc = op->conv.cout;
		*oh = nn_out_size(op->h, op->conv.k, op->conv.stride, op->conv.pad);
		*ow = nn_out_size(op->w, op->conv.k, op->conv.stride, op->conv.pad);
		cf = op->scale ? nn_gemm_bnrelu_scratch_floats(threads)
		     : op->wino.u.p
		     ? nn_wino_scratch_floats(&op->wino, images, op->h, op->w,
		                              COL_BUDGET)
		     : nn_conv_col_floats(&op->conv, images, op->h, op->w,
		                          COL_BUDGET);
		if (cf > *col)
			*col = cf;
		return 0;
	case OP_MAXPOOL:
		*oc = op->c;
		*oh = nn_out_size(op->h, 3, 2, 1);
		*ow = nn_out_size(op->w, 3, 2, 1);
		return 0;
	case OP_MAXPOOL2:
		*oc = op->c, *oh = op->h / 2, *ow = op->w / 2;
		return 0;
	case OP_AVGPOOL:
		*oc = op->c, *oh = 1, *ow = 1;
		return 0;
	case OP_BNRELU:
		*oc = op->c, *oh = op->h, *ow = op->w;
		return 0;
	case OP_AVGPOOL2:
		*oc = op->c, *oh = op->h / 2, *ow = op->w / 2;
		return 0;
	case OP_ADAPTIVE:
		*oc = op->c;
		adaptive_size(op, oh, ow);
		return 0;
	case OP_FC:
		cf = nn_fc_scratch_floats(op->conv.cout, images);
		if (cf > *col)
			*col = cf;
		return -1;
	default:
		return -1;
	}
}

/* Whether op's batch norm before it (scale, shift) fits it: as many
 * channels as its input, and a pool or a 1x1 stride-1 ungrouped conv. */
static int bn_fits(const struct plan_op *op)
{
	const nn_conv *c = &op->conv;

	if (!op->scale || op->kind == OP_BNRELU)
		return 1;
	if (op->bn_c != op->c)
		return 0;
	if (op->kind == OP_AVGPOOL || op->kind == OP_AVGPOOL2)
		return 1;
	return op->kind == OP_CONV && c->k == 1 && c->stride == 1 &&
	       c->pad == 0 && c->groups == 1 && !op->wino.u.p &&
	       !op->accumulate && c->cin == op->c;
}

/* Walks the plan once for input h x w and batches of max_batch: sets every
 * op's input shape and the floats each buffer needs per image (early ops)
 * or per batch (late ops), with the im2col/Winograd scratch of each. */
static int plan_sizes(plan *p, int max_batch, int h, int w,
                      size_t early[PLAN_NBUF], size_t late[PLAN_NBUF],
                      size_t *ecol, size_t *lcol)
{
	const int threads = nn_pool_threads(p->pool);
	int c[PLAN_NBUF] = {0}, hh[PLAN_NBUF] = {0}, ww[PLAN_NBUF] = {0};

	c[BUF_IN] = 3, hh[BUF_IN] = h, ww[BUF_IN] = w;
	early[BUF_IN] = (size_t)3 * h * w;
	for (int i = 0; i < p->nops; i++) {
		struct plan_op *op = &p->ops[i];
		const int is_early = i < p->split;
		const int images = is_early ? 1 : max_batch;
		size_t *need = is_early ? early : late;
		int oc, oh, ow;

		op->c = c[op->src], op->h = hh[op->src], op->w = ww[op->src];
		/* the early ops' output, gathered into the whole batch's */
		if (i == p->split)
			late[op->src] = (size_t)op->c * op->h * op->w * max_batch;
		if (!bn_fits(op)) {
			natadv_errf(p->err, sizeof p->err,
			       "op '%s': its batch norm has %d channels, not its "
			       "input's %d", op->name, op->bn_c, op->c);
			return NATADV_EINVAL;
		}
		if (op_out(op, images, threads, &oc, &oh, &ow,
		           is_early ? ecol : lcol))
			continue;
		if (oh < 1 || ow < 1) {
			natadv_errf(p->err, sizeof p->err,
			       "input %dx%d is too small: '%s' has no output",
			       h, w, op->name);
			return NATADV_EINVAL;
		}
		/* every GEMM dimension must fit an int */
		if ((size_t)max_batch * op->h * op->w > INT_MAX / 64) {
			natadv_errf(p->err, sizeof p->err,
			       "batch %d of %dx%d images is too large", max_batch,
			       h, w);
			return NATADV_ETOOBIG;
		}
		oc += op->doff;
		op->doff_floats = (size_t)op->doff * oh * ow;
		c[op->dst] = oc, hh[op->dst] = oh, ww[op->dst] = ow;
		if ((size_t)oc * oh * ow * images > need[op->dst])
			need[op->dst] = (size_t)oc * oh * ow * images;
	}
	return 0;
}

#define UP16(x) (((x) + 15) / 16 * 16)

/* One allocation for everything, touched once here, never again: the late
 * buffers, then each thread's early ones. */
static int alloc_arena(plan *p, int threads, const size_t early[PLAN_NBUF],
                       const size_t late[PLAN_NBUF], size_t ecol, size_t lcol)
{
	size_t per_thread = UP16(ecol), total = UP16(lcol);

	for (int b = 0; b < PLAN_NBUF; b++) {
		per_thread += UP16(early[b]);
		total += UP16(late[b]);
	}
	total += per_thread * threads;
	p->early = calloc((size_t)threads, sizeof *p->early);
	p->arena = nn_alloc(total * sizeof(float));
	if (!p->arena || !p->early) {
		natadv_errf(p->err, sizeof p->err, "cannot allocate %zu MB arena",
		       total * sizeof(float) >> 20);
		free(p->early);
		p->early = NULL;
		return NATADV_ENOMEM;
	}
	memset(p->arena, 0, total * sizeof(float));
	total = 0;
	for (int b = 0; b < PLAN_NBUF; b++) {
		p->late.buf[b] = p->arena + total;
		total += UP16(late[b]);
	}
	p->late.col = p->arena + total;
	p->late.col_floats = lcol;
	total += UP16(lcol);
	for (int t = 0; t < threads; t++) {
		struct plan_bufs *e = &p->early[t];

		for (int b = 0; b < PLAN_NBUF; b++) {
			e->buf[b] = p->arena + total;
			total += UP16(early[b]);
		}
		e->col = p->arena + total;
		e->col_floats = ecol;
		total += UP16(ecol);
	}
	p->arena_floats = total;
	p->early_threads = threads;
	return 0;
}

#undef UP16

int plan_prepare(plan *p, int max_batch, int h, int w)
{
	/* per image (early) or per batch (late): floats of each buffer */
	size_t early[PLAN_NBUF] = {0}, late[PLAN_NBUF] = {0}, ecol = 0, lcol = 0;
	int rc;

	if (max_batch < 1 || max_batch > 4096 || h < 1 || w < 1 || h > 8192 ||
	    w > 8192) {
		natadv_errf(p->err, sizeof p->err,
		       "bad batch %d or input size %dx%d", max_batch, h, w);
		return NATADV_EINVAL;
	}
	free(p->arena);
	free(p->early);
	p->arena = NULL;
	p->early = NULL;
	p->arena_floats = 0;
	p->max_batch = 0;
	if ((rc = plan_sizes(p, max_batch, h, w, early, late, &ecol, &lcol)) != 0 ||
	    (rc = alloc_arena(p, nn_pool_threads(p->pool), early, late, ecol,
	                      lcol)) != 0)
		return rc;
	p->max_batch = max_batch, p->h = h, p->w = w;
	return 0;
}

/* Runs op on n images in buffers b, on pool (or the calling thread, the
 * pool's thread th, when pool is NULL). */
static void run_op(plan *p, struct plan_op *op, int n,
                   const struct plan_bufs *b, nn_pool *pool, int th,
                   float *logits)
{
	const float *x = b->buf[op->src];
	/* [c, n, oh, ow] from channel doff on */
	float *y = b->buf[op->dst] + op->doff_floats * n;
	const clockid_t cpu = pool ? CLOCK_PROCESS_CPUTIME_ID
	                           : CLOCK_THREAD_CPUTIME_ID;
	double w0 = 0, c0 = 0;

	if (p->profile) {
		w0 = clock_s(CLOCK_MONOTONIC);
		c0 = clock_s(cpu);
	}
	switch (op->kind) {
	case OP_CONV:
		/* [cout, n, oh, ow] (+)= conv([cin, n, h, w]) */
		if (op->scale)
			/* [cout, n*hw] = W x relu(bn([cin, n*hw])) */
			nn_gemm_bnrelu(&op->conv.pk, op->conv.b, x,
			               (size_t)n * op->h * op->w, op->scale,
			               op->shift, b->col, y,
			               (size_t)n * op->h * op->w,
			               (size_t)n * op->h * op->w, op->relu, pool);
		else if (op->wino.u.p)
			nn_wino_forward(&op->wino, x, n, op->h, op->w,
			                y, b->col, b->col_floats,
			                op->relu, op->accumulate, pool);
		else
			nn_conv_forward(&op->conv, x, n, op->h, op->w,
			                y, b->col, b->col_floats,
			                op->relu, op->accumulate, pool);
		break;
	case OP_MAXPOOL:
		/* [c, n, h/2, w/2] = maxpool3s2([c, n, h, w]) */
		nn_maxpool_3s2(x, op->c * n, op->h, op->w, y, pool);
		break;
	case OP_MAXPOOL2:
		/* [c, n, h/2, w/2] = maxpool2s2([c, n, h, w]) */
		nn_maxpool_2s2(x, op->c * n, op->h, op->w, y, pool);
		break;
	case OP_AVGPOOL:
		/* [c, n] = mean([c, n, h, w]) */
		nn_avgpool_bnrelu(x, op->c, n, op->h * op->w, op->scale,
		                  op->shift, y);
		break;
	case OP_BNRELU:
		/* [c, n, h, w] = relu([c, n, h, w] * scale + shift) */
		nn_scale_shift_relu(x, op->c, (size_t)n * op->h * op->w,
		                    op->scale, op->shift, y, pool);
		break;
	case OP_AVGPOOL2:
		/* [c, n, h/2, w/2] = avgpool2s2([c, n, h, w]) */
		nn_avgpool_2s2_bnrelu(x, op->c, n, op->h, op->w, op->scale,
		                      op->shift, y, pool);
		break;
	case OP_ADAPTIVE: {
		int oh, ow;

		adaptive_size(op, &oh, &ow);
		/* [c, n, oh, ow] = adaptive_avgpool([c, n, h, w]) */
		nn_adaptive_avgpool(x, op->c * n, op->h, op->w, y,
		                    oh, ow);
		break;
	}
	case OP_FC:
		/* [n, classes] = [c, n]^T x weight^T + bias */
		nn_fc(&op->conv.pk, op->conv.b, x, n, b->col, logits, pool);
		break;
	}
	if (p->profile) {
		op->wall[th] += clock_s(CLOCK_MONOTONIC) - w0;
		op->cpu[th] += clock_s(cpu) - c0;
	}
}

/* Image i of in [n, 3, h, w] through the early ops on buffers th, then
 * into the late buffer: [c, hw] -> [c, i, hw] of [c, n, hw]. */
struct early_job {
	plan *p;
	const float *in;
	int n;
	nn_pool *pool; /* NULL: each thread runs images on its own */
};

static void early_image(void *arg, int i, int th)
{
	const struct early_job *j = arg;
	plan *p = j->p;
	const struct plan_bufs *b = &p->early[th];
	const struct plan_op *late = &p->ops[p->split];
	const size_t hw = (size_t)late->h * late->w;

	/* [1, 3, h, w] is [3, 1, h, w] */
	memcpy(b->buf[BUF_IN], j->in + (size_t)i * 3 * p->h * p->w,
	       (size_t)3 * p->h * p->w * sizeof(float));
	for (int k = 0; k < p->split; k++)
		run_op(p, &p->ops[k], 1, b, j->pool, th, NULL);
	for (int ch = 0; ch < late->c; ch++)
		memcpy(p->late.buf[late->src] + ((size_t)ch * j->n + i) * hw,
		       b->buf[late->src] + (size_t)ch * hw, hw * sizeof(float));
}

int plan_forward(plan *p, const float *in, int n, float *logits)
{
	if (!p->arena || n < 1 || n > p->max_batch) {
		natadv_errf(p->err, sizeof p->err,
		       "batch of %d images, prepared for at most %d", n,
		       p->max_batch);
		return NATADV_EINVAL;
	}
	/* Every op runs on natadv's own kernels and p's pool (OpenBLAS runs
	 * none), each output summed in one order whatever n and the threads.
	 * The early ops: whole images per thread while every thread has one;
	 * the rest of the images one at a time with all threads. */
	const int threads = nn_pool_threads(p->pool);
	const int alone = n / threads * threads;
	struct early_job ej = {p, in, n, NULL};

	nn_pool_for_t(p->pool, alone, early_image, &ej);
	ej.pool = p->pool;
	for (int i = alone; i < n; i++)
		early_image(&ej, i, 0);
	/* the late ops on [c, n, hw] */
	for (int i = p->split; i < p->nops; i++)
		run_op(p, &p->ops[i], n, &p->late, p->pool, 0, logits);
	return 0;
}
