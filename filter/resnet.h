/* resnet.h — torchvision's ResNet family (resnet18..152, resnext, wide_resnet)
 * loaded from safetensors with torchvision's tensor names, batch norm folded
 * into the convolutions, and run on natadv's own GEMM kernels (filter/gemm.c)
 * with Winograd F(4x4, 3x3) for the stride-1 3x3 convolutions. */
#ifndef NATADV_RESNET_H
#define NATADV_RESNET_H

#include <stddef.h>

#include "filter/safetensors.h"

typedef enum resnet_block {
	RESNET_BASIC = 1,      /* two 3x3 convs (resnet18/34) */
	RESNET_BOTTLENECK = 2, /* 1x1, 3x3 (strided, grouped), 1x1 */
} resnet_block;

/* What resnet_load found in the file. */
typedef struct resnet_info {
	char arch[32];     /* "resnet50", "resnext50_32x4d", ... or "resnet" */
	resnet_block block;
	int layers[4];     /* blocks per stage */
	int groups;        /* of the 3x3 convs; 1 for basic blocks */
	int stem;          /* channels out of conv1 */
	int width[4];      /* channels inside a stage's blocks */
	int out[4];        /* channels out of each stage */
	int classes;       /* rows of fc.weight */
	size_t params;     /* float parameters read (before folding) */
} resnet_info;

typedef struct resnet resnet;

/* Builds a model from the tensors of f, checking every name and shape;
 * f may be freed afterwards. *out is freed with resnet_free. On error
 * returns a natadv_err code with a message naming the tensor in err. */
int resnet_load(resnet **out, const st_file *f, char *err, size_t errlen);
/* st_open + resnet_load + st_free. */
int resnet_load_file(resnet **out, const char *path, char *err, size_t errlen);
/* Frees the model and its arena; accepts NULL. */
void resnet_free(resnet *m);
/* The architecture found at load; owned by m. */
const resnet_info *resnet_get_info(const resnet *m);
/* Allocates (once) the activation arena for batches of up to max_batch
 * images of 3 x h x w; replaces an earlier arena. Returns 0 or an error
 * code with a message in resnet_errmsg. */
int resnet_prepare(resnet *m, int max_batch, int h, int w);
/* Runs n <= max_batch images, in [n, 3, h, w] as prepared, writing
 * logits [n, classes]. Allocates nothing. Returns 0 or NATADV_EINVAL.
 * One call at a time per model (the arena and threads are m's). */
int resnet_forward(resnet *m, const float *in, int n, float *logits);
/* Detail message of the last failing call on m; owned by m. */
const char *resnet_errmsg(const resnet *m);
/* Bytes held by the arena of the last resnet_prepare. */
size_t resnet_arena_bytes(const resnet *m);
/* Runs m on n threads of its own pool (the logits do not depend on n); a
 * prepared arena is made again for the new count. A new model starts with
 * OpenBLAS's current count. Returns 0 or an error code. */
int resnet_set_threads(resnet *m, int n);
/* The convolutions' GEMM kernels m runs (chosen for the CPU at load):
 * "avx512", "avx2" or "generic" (the fc too). */
const char *resnet_kernels(const resnet *m);
/* Benchmarks only: with on, resnet_forward adds each op's wall-clock and
 * process CPU seconds to per-op counters (cleared here, kept in m). */
void resnet_profile(resnet *m, int on);
/* Ops in m's plan; op i's name and summed seconds (0 <= i < count). */
int resnet_profile_ops(const resnet *m);
/* Name of op i, its kind ("1x1", "im2col", "winograd", "pool", "fc") in
 * *kind, its multiply-adds per image (as a direct convolution; 0 for
 * pooling) in *macs and its wall and CPU seconds since resnet_profile(m,
 * 1). */
const char *resnet_profile_get(const resnet *m, int i, const char **kind,
                               double *macs, double *wall, double *cpu);

struct plan;
/* Internal to filter/ (net.c): the plan m runs on, owned by m. */
struct plan *resnet_plan(resnet *m);

#endif
