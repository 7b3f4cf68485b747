/* densenet.h — torchvision's DenseNet-BC (densenet121/161/169/201) loaded
 * from safetensors with torchvision's tensor names (the same as timm's
 * `<arch>.tv_in1k` files) or torchvision's legacy ones (`norm.1`, `conv.1`
 * inside the dense layers), run on filter/'s shared kernels. Each dense
 * block's concatenation is one buffer of the arena: every layer writes its
 * new channels straight into its slice. filter/net.h runs it like any
 * other network; this header is for tests and benchmarks. */
#ifndef NATADV_DENSENET_H
#define NATADV_DENSENET_H

#include <stddef.h>

#include "filter/safetensors.h"

#define DENSENET_MAX_BLOCKS 8

/* The tensor names a file uses. */
typedef enum densenet_layout {
	DENSENET_CURRENT = 1, /* denselayerJ.norm1 (torchvision, timm) */
	DENSENET_LEGACY = 2,  /* denselayerJ.norm.1 (torchvision's old .pth) */
} densenet_layout;

/* What densenet_load found in the file. */
typedef struct densenet_info {
	char arch[32];        /* "densenet121", ... or "densenet" */
	densenet_layout layout;
	int growth;           /* channels each dense layer adds */
	int bn_size;          /* bottleneck width = bn_size * growth */
	int init;             /* channels out of conv0 */
	int blocks;           /* dense blocks (4 for torchvision's) */
	int layers[DENSENET_MAX_BLOCKS]; /* dense layers per block */
	int out[DENSENET_MAX_BLOCKS];    /* channels out of each block */
	int classes;          /* rows of classifier.weight */
	size_t params;        /* float parameters read (before folding) */
} densenet_info;

typedef struct densenet densenet;

/* Builds a model from the tensors of f, checking every name, shape and
 * dtype; f may be freed afterwards. *out is freed with densenet_free. On
 * error returns a natadv_err code with a message naming the tensor. */
int densenet_load(densenet **out, const st_file *f, char *err, size_t errlen);
/* st_open + densenet_load + st_free. */
int densenet_load_file(densenet **out, const char *path, char *err,
                       size_t errlen);
/* Frees the model and its arena; accepts NULL. */
void densenet_free(densenet *m);
/* The architecture found at load; owned by m. */
const densenet_info *densenet_get_info(const densenet *m);
/* Allocates (once) the activation arena for batches of up to max_batch
 * images of 3 x h x w; replaces an earlier arena. Returns 0 or an error
 * code with a message in densenet_errmsg. */
int densenet_prepare(densenet *m, int max_batch, int h, int w);
/* Runs n <= max_batch images, in [n, 3, h, w] as prepared, writing
 * logits [n, classes]. Allocates nothing. Returns 0 or NATADV_EINVAL.
 * One call at a time per model. */
int densenet_forward(densenet *m, const float *in, int n, float *logits);
/* Detail message of the last failing call on m; owned by m. */
const char *densenet_errmsg(const densenet *m);
/* Bytes held by the arena of the last densenet_prepare. */
size_t densenet_arena_bytes(const densenet *m);
/* Runs m on n threads of its own pool (the logits do not depend on n).
 * Returns 0 or an error code. */
int densenet_set_threads(densenet *m, int n);
/* The GEMM kernels m runs: "avx512", "avx2" or "generic". */
const char *densenet_kernels(const densenet *m);

struct plan;
/* Internal to filter/ (net.c): the plan m runs on, owned by m. */
struct plan *densenet_plan(densenet *m);

#endif
