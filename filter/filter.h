/* filter.h — the adversarial filter's scoring stage: torchvision's eval
 * preprocessing on top of image/, predictions from logits (1000-way and over
 * a class subset such as imagenet-a), and `score`, which runs a ResNet over
 * every stored image with decoding overlapped with the forward pass. */
#ifndef NATADV_FILTER_H
#define NATADV_FILTER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "filter/net.h"
#include "image/image.h"
#include "store/store.h"

#define FILTER_RESIZE 256
#define FILTER_CROP 224
#define FILTER_PREPROCESSING "torchvision-eval resize=256 (PIL bilinear, antialias) center-crop=224 " \
	"normalize mean=0.485,0.456,0.406 std=0.229,0.224,0.225"

/* Decodes data (JPEG or PNG) as PIL does and applies torchvision's
 * Resize(256) + CenterCrop(224) + ToTensor + Normalize, writing 3*224*224
 * floats (CHW) into caller-owned chw. fast = 1 decodes JPEGs with libjpeg's
 * DCT scaling first (faster, not bit-exact with PIL). Returns 0 or a
 * natadv_err code with err saying why. */
int filter_preprocess(img_ctx *c, const void *data, size_t len, int fast, float *chw,
                      char *err, size_t errlen);

typedef struct filter_pred {
	int top5[5];          /* class indices by the softmax over all logits */
	float top5_p[5];
	int subset_pos;       /* argmax position within the subset, -1 if none */
	float subset_p;       /* its probability in the softmax over the subset's logits */
} filter_pred;

/* Fills probs[classes] with the softmax of logits (caller-owned arrays). */
void filter_softmax(const float *logits, int classes, float *probs);
/* Softmax over the logits at subset[0..nsub) only, into probs[nsub]. */
void filter_softmax_subset(const float *logits, const int *subset, int nsub, float *probs);
/* Returns the position in subset[0..nsub) (nsub > 0) of the largest of those
 * logits, the first on a tie; sets *mx to it and *sum to the softmax
 * denominator over them (the sum of exp(logit - mx), in double), so that the
 * winner's probability is 1 / *sum. */
int filter_subset_argmax(const float *logits, const int *subset, int nsub, double *mx, double *sum);
/* Top-5 and the subset argmax (subset may be NULL when nsub is 0). */
void filter_predict(const float *logits, int classes, const int *subset, int nsub, filter_pred *out);

typedef struct filter_classes {
	int n1k;              /* classes of the model's output (1000) */
	char (*wnid_1k)[10];  /* wnid of each output index */
	char (*name_1k)[64];  /* its first WordNet name */
	int nsub;             /* imagenet-a: 200 */
	int *sub_1k;          /* output index of each subset class */
	char (*wnid_sub)[10];
} filter_classes;

/* Reads the imagenet-1k and subset class lists from the workspace; free with
 * filter_classes_release. */
int filter_classes_load(store *s, const char *subset, filter_classes *out);
/* Frees what filter_classes_load allocated; accepts a zeroed struct. */
void filter_classes_release(filter_classes *fc);

/* ---- the model over image files (filter/classify.c) ---- */

typedef struct filter_classify_opts {
	int batch;            /* images per forward pass */
	int fast;             /* DCT-scaled JPEG decoding (see filter_preprocess) */
} filter_classify_opts;

typedef struct filter_classify_cb {
	/* the logits[classes] of file i (valid during the call), in file order */
	void (*on_result)(void *ctx, size_t i, const float *logits, int classes);
	/* file i cannot be read or decoded, and why (may be NULL) */
	void (*on_fail)(void *ctx, size_t i, const char *why);
	/* after each batch's results (may be NULL) */
	void (*on_batch)(void *ctx);
} filter_classify_cb;

/* Runs m (prepared here for batches of o->batch) over the image files
 * paths[0..n), read and preprocessed as filter_preprocess does, and calls
 * cb's functions with ctx. Stops with NATADV_EINTR once *stop (may be NULL)
 * is set. A file that fails is reported, not an error. Returns 0 or an
 * error code with err saying why. */
int filter_classify_files(net *m, const char *const *paths, size_t n, const filter_classify_opts *o,
                          const volatile sig_atomic_t *stop, const filter_classify_cb *cb, void *ctx,
                          char *err, size_t errlen);

/* ---- weights (filter/model.c) ---- */

typedef struct filter_model_added {
	char sha256[65];      /* the model's id */
	char arch[32];        /* "resnet50", ... */
	int classes;
	int64_t bytes;
} filter_model_added;

/* Loads the weights of the workspace's model name (or id) into *m (freed
 * with net_free) and copies its id into id (may be NULL). verify = 1
 * first checks the file's SHA-256 against the recorded id (NATADV_EFORMAT
 * when it changed). NATADV_ENOTFOUND for an unknown model; err says why. */
int filter_model_load(store *s, const char *name, int verify, net **m, char id[65], char *err, size_t errlen);
/* Checks the weights file at path completely (a ResNet with torchvision's
 * tensor names and shapes) and, when want_sha256 is not NULL, its SHA-256;
 * then copies it into the workspace and records it as name with source_url
 * (may be NULL) through store_model_import. *out (may be NULL) gets what was
 * recorded. NATADV_EINVAL for a bad name (checked before anything is read),
 * NATADV_EFORMAT for a file that is not such weights or has another SHA-256,
 * NATADV_EEXIST for a name taken by other weights; err says why. */
int filter_model_import(store *s, int64_t run_id, const char *path, const char *name, const char *source_url,
                        const char *want_sha256, filter_model_added *out, char *err, size_t errlen);

typedef struct filter_score_opts {
	int batch;            /* images per forward pass (8) */
	int threads;          /* forward-pass threads (number of cores) */
	int decoders;         /* decoding threads (number of cores) */
	int fast;             /* opt-in DCT-scaled JPEG decoding */
} filter_score_opts;

typedef struct filter_progress {
	int64_t total;        /* images without a score when the run started */
	int64_t scored, unscorable;
	double elapsed;
} filter_progress;

/* Scores every stored image that has no score for the model recorded as
 * model_id, whose weights are loaded in m. Resumable: each batch commits
 * with its rows. Returns 0, NATADV_EINTR when stop was set, or an error. */
int filter_score_run(store *s, int64_t run_id, const char *model_id, net *m,
                     const filter_score_opts *o, const volatile sig_atomic_t *stop,
                     void (*progress)(void *ctx, const filter_progress *p), void *ctx,
                     filter_progress *final, char *err, size_t errlen);

#endif
