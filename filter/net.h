/* net.h — any image classifier natadv runs (the ResNet family, DenseNet, VGG),
 * behind one type: net_load recognises the architecture from the tensor
 * names of a safetensors file and builds it with its own checked loader;
 * every call after that is the same whatever the architecture. */
#ifndef NATADV_NET_H
#define NATADV_NET_H

#include <stddef.h>

#include "filter/safetensors.h"

/* What net_load found in the file. */
typedef struct net_info {
	char arch[32];      /* "resnet50", "vgg16_bn", ... or the family */
	const char *family; /* "resnet", "densenet", "vgg" */
	int classes;        /* logits per image */
	size_t params;      /* float parameters read (before folding) */
} net_info;

typedef struct net net;

/* Builds the model the tensors of f describe, checking every name, shape
 * and dtype; f may be freed afterwards. *out is freed with net_free. On
 * error returns a natadv_err code with a message naming the tensor. */
int net_load(net **out, const st_file *f, char *err, size_t errlen);
/* st_open + net_load + st_free. */
int net_load_file(net **out, const char *path, char *err, size_t errlen);
/* net_load_file through the packed-weights cache at cache_path (NULL: no
 * cache) for weights whose SHA-256 is sha (64 hex, the caller's word):
 * a whole, intact cache of those weights, this format and this CPU's
 * kernels is mapped read-only and used as it is; otherwise the weights are
 * loaded and packed and the cache (re)written atomically. A cache that
 * cannot be read or written only costs time, never an error. */
int net_load_cached(net **out, const char *path, const char *sha,
                    const char *cache_path, char *err, size_t errlen);
/* For long runs: a model mapped from its cache gets a copy of the packed
 * weights in anonymous memory on 2 MB transparent huge pages, and the
 * file is unmapped (the forward pass reads every weight once per batch;
 * over 4 KB file pages it ran 7-12% slower). The same bytes, so the same
 * logits; costs a copy (~0.9 s for ResNet-50's 192 MB on a loaded 2-core
 * VM: every page is first touched), so short runs keep the map. No-op (0) for a model not read from a cache or already
 * copied; on error (a message in err) the model runs on as it was. The
 * cache status gains ", in memory". One call at a time, not during
 * net_forward. */
int net_weights_to_memory(net *m, char *err, size_t errlen);
/* What the load did with the cache: "hit", "written", "rebuilt: CAUSE",
 * "none: CAUSE" or "off"; owned by m. */
const char *net_cache_status(const net *m);
/* The cache file of weights sha in directory dir into out: the one
 * naming rule of caches, for workspaces and files alike. */
void net_cache_path(char *out, size_t outlen, const char *dir,
                    const char *sha);
/* Frees the model; accepts NULL. */
void net_free(net *m);
/* The architecture found at load; owned by m. */
const net_info *net_get_info(const net *m);
/* Allocates (once) the activation arena for batches of up to max_batch
 * images of 3 x h x w; 0 or an error code with a message in net_errmsg. */
int net_prepare(net *m, int max_batch, int h, int w);
/* Runs n <= max_batch images [n, 3, h, w] as prepared into logits [n,
 * classes]; allocates nothing. 0 or NATADV_EINVAL. One call at a time. */
int net_forward(net *m, const float *in, int n, float *logits);
/* Detail message of the last failing call on m; owned by m. */
const char *net_errmsg(const net *m);
/* Bytes held by the arena of the last net_prepare. */
size_t net_arena_bytes(const net *m);
/* Runs m on n threads (see resnet_set_threads); 0 or an error code. */
int net_set_threads(net *m, int n);
/* The GEMM kernels m runs: "avx512", "avx2" or "generic". */
const char *net_kernels(const net *m);
/* Benchmarks only: per-op timing on or off (clears the counters). */
void net_profile(net *m, int on);
/* Ops in m's plan. */
int net_profile_ops(const net *m);
/* Op i's name (owned by m), kind, multiply-adds per image and seconds, as
 * resnet_profile_get. */
const char *net_profile_get(const net *m, int i, const char **kind,
                            double *macs, double *wall, double *cpu);

#endif
