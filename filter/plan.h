/* plan.h — what every network of filter/ (resnet.c, vgg.c, ...) shares:
 * a flat list of ops over named activation buffers, one arena sized by
 * plan_prepare, the forward loop (early ops image by image on each
 * thread, late ops on the whole batch), profiling, and the weight loader
 * that checks every tensor's name, shape and dtype and folds batch norm.
 * Internal to filter/: an architecture is a weight loader filling a plan. */
#ifndef NATADV_PLAN_H
#define NATADV_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "filter/nn.h"
#include "filter/safetensors.h"

#define PLAN_MAX_THREADS 64 /* nn_pool's limit */

/* Activation buffers of the arena; ops name them by role. Each role has
 * one buffer for the whole batch (late ops) and one per thread for an
 * image (early ops). */
enum { BUF_IN, BUF_X0, BUF_X1, BUF_T1, BUF_T2, BUF_POOL, PLAN_NBUF };

/* Buffers ops run on: activations by role and im2col/Winograd scratch. */
struct plan_bufs {
	float *buf[PLAN_NBUF];
	float *col;
	size_t col_floats;
};

enum plan_op_kind {
	OP_CONV,     /* conv (+ bias, + residual, ReLU) */
	OP_MAXPOOL,  /* 3x3 stride 2 padding 1 */
	OP_MAXPOOL2, /* 2x2 stride 2 */
	OP_AVGPOOL,  /* global mean: [c, n, h, w] -> [c, n] */
	OP_ADAPTIVE, /* AdaptiveAvgPool2d to pool_h x pool_w */
	OP_FC,       /* [c, n] -> logits [n, classes] */
	OP_BNRELU,   /* relu(x * scale + shift) per channel (DenseNet) */
	OP_AVGPOOL2, /* 2x2 stride 2 average */
};

struct plan_op {
	enum plan_op_kind kind;
	char name[48];     /* tensor prefix, e.g. "layer2.0.conv2" */
	int src, dst;      /* arena buffers */
	nn_conv conv;      /* OP_CONV; OP_FC keeps its weight/bias here */
	nn_wino wino;      /* 3x3 stride 1 convs: Winograd weights (wino.u.p) */
	int relu;          /* ReLU in the epilogue */
	int accumulate;    /* dst holds the residual, added in the epilogue */
	int c, h, w;       /* input per image, set by plan_prepare */
	int pool_h, pool_w; /* OP_ADAPTIVE's output size, */
	int pool_at_least;  /* or the input's where larger (timm's ConvMlp) */
	/* DenseNet's concatenation: the op writes dst's channels from doff
	 * on, after those already there (c of dst becomes doff + its own) */
	int doff;
	size_t doff_floats; /* doff * oh * ow, set by plan_prepare */
	/* OP_BNRELU: [bn_c]; else, when set, relu(x * scale + shift) per
	 * channel of the input is what the op reads: a pool, or a 1x1
	 * conv packing it so as it goes (DenseNet's pre-activation) */
	float *scale, *shift;
	int bn_c;             /* their channels, set at load */
	/* seconds, summed while profiling, by thread (early ops run on each
	 * thread on its own; late ones count in slot 0) */
	double wall[PLAN_MAX_THREADS], cpu[PLAN_MAX_THREADS];
};

/* A network ready to run; architectures embed one and fill ops/split. */
typedef struct plan {
	struct plan_op *ops;
	int nops, cap;
	int split;          /* ops[split] is the first late op */
	float *arena;
	size_t arena_floats;
	struct plan_bufs late;   /* the whole batch's */
	struct plan_bufs *early; /* an image's, for each of early_threads */
	int early_threads;
	int max_batch, h, w;
	nn_isa isa;         /* the GEMM kernels, chosen at load */
	nn_pool *pool;      /* threads for the loops around the sgemms */
	int profile;
	int borrowed;       /* weights live in a map another owns (wcache.c) */
	char err[256];
} plan;

/* Allocates room for cap ops, picks the kernels and starts the pool with
 * OpenBLAS's thread count; 0 or NATADV_ENOMEM. */
int plan_init(plan *p, int cap);
/* Frees p's ops, weights, arena and pool; p may be zeroed or released. */
void plan_release(plan *p);
/* The next op, zeroed (plan_init's cap must leave room). */
struct plan_op *plan_add_op(plan *p);
/* Allocates the arena for batches of max_batch images of 3 x h x w,
 * replacing an earlier one; 0 or an error code with a message in p->err. */
int plan_prepare(plan *p, int max_batch, int h, int w);
/* Runs n images [n, 3, h, w] into logits [n, classes]; 0 or NATADV_EINVAL
 * (n out of range, or not prepared). Allocates nothing. */
int plan_forward(plan *p, const float *in, int n, float *logits);
/* n threads for p's loops (and OpenBLAS); re-prepares when needed. */
int plan_set_threads(plan *p, int n);
/* "avx512", "avx2" or "generic". */
const char *plan_kernels(const plan *p);
/* Per-op timing on or off (clears the counters), as resnet_profile. */
void plan_profile(plan *p, int on);
/* Op i's name (owned by p), kind, multiply-adds and seconds, as
 * resnet_profile_get. */
const char *plan_profile_get(const plan *p, int i, const char **kind,
                             double *macs, double *wall, double *cpu);

/* ---- loading ---- */

/* Reads weights out of f, marking what it used. */
typedef struct plan_loader {
	const st_file *f;
	nn_isa isa;          /* GEMM kernels to pack the weights for */
	unsigned char *used; /* per tensor of f */
	char *err;
	size_t errlen;
	size_t params;       /* floats read */
} plan_loader;

/* A convolution to load: weight "<conv>.weight" [cout, cin/groups, k, k]
 * (or [cout, cin*k*k] when linear: a fully connected layer run as a
 * convolution), "<conv>.bias" [cout] when bias, and batch norm "<bn>.*"
 * folded in when bn is not NULL. */
typedef struct plan_conv_spec {
	const char *conv, *bn;
	int cin, cout, k, stride, pad, groups;
	int bias, linear;
} plan_conv_spec;

/* Starts L on f (its used marks allocated); 0 or NATADV_ENOMEM. */
int plan_loader_init(plan_loader *L, const st_file *f, char *err,
                     size_t errlen);
/* Frees L's marks. */
void plan_loader_release(plan_loader *L);
/* Dimension i of tensor name, or -1 if absent or of lower rank. */
int64_t plan_dim(const st_file *f, const char *name, int i);
/* Reads tensor name, which must have exactly the shape, as floats into a
 * new array *out (the caller frees it); checks dtype and finiteness. */
int plan_get(plan_loader *L, const char *name, int ndim, const int64_t *shape,
             float **out);
/* Fills op as an OP_CONV from s: loads, folds, packs (Winograd for 3x3
 * stride 1 ungrouped). */
int plan_load_conv(plan_loader *L, struct plan_op *op,
                   const plan_conv_spec *s);
/* Loads the OP_FC op of prefix.weight [classes, features] and prefix.bias
 * [classes] into op (kind, name, conv) and packs it for nn_fc; 0 or an
 * error code with a message in L->err. The caller sets op->src. */
int plan_load_fc(plan_loader *L, struct plan_op *op, const char *prefix,
                 int features, int classes);
/* Fills op as an OP_BNRELU over c channels from batch norm bn (a norm
 * a ReLU separates from the next conv, so it cannot be folded). */
int plan_load_bnrelu(plan_loader *L, struct plan_op *op, const char *bn,
                     int c);
/* Loads batch norm bn over c channels into op's scale and shift (bn_c =
 * c), to apply with a ReLU to the input of op: an OP_BNRELU, or fused
 * into a pool or a 1x1 conv (see plan_op); 0 or an error code. */
int plan_load_bn_scale(plan_loader *L, struct plan_op *op, const char *bn,
                       int c);
/* Fails naming name when c is no plausible channel count. */
int plan_check_channels(plan_loader *L, const char *name, int64_t c);
/* Fails naming the first tensor of f that no load used. */
int plan_check_unused(plan_loader *L);
/* "[a,b,c]" of a shape into out. */
void plan_fmt_shape(char *out, size_t outlen, int ndim, const int64_t *s);

#endif
