/* eval.h — `natadv eval`: what ImageNet-A's users compute on a release.
 * The metrics follow Hendrycks et al.'s evaluation code (natural-adv-examples,
 * eval.py + calibration_tools.py) as pure functions; eval_release_open reads
 * a release folder and eval_run classifies it with the logits restricted to
 * the release's classes. */
#ifndef NATADV_EVAL_H
#define NATADV_EVAL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "filter/net.h"
#include "store/store.h"

/* Examples per calibration bin in the original code (calib_err's beta). */
#define EVAL_CALIB_BETA 100

/* Fraction of correct[0..n) that is non-zero; 0 when n is 0. */
double eval_accuracy(const int *correct, size_t n);

/* RMS calibration error as calib_err(confidence, correct, p='2', beta) of the
 * original: sort by confidence (ascending; ties by index), cut into n / beta
 * bins of beta consecutive examples with the last bin extended to the end,
 * sum (bin size / n) * (mean confidence - accuracy)^2 over the bins, square
 * root. Like the original it leaves the last bin out of the sum (its loop runs
 * over range(len(bins) - 1)), so 100 <= n < 200 gives exactly 0. For n < beta
 * the original fails (an empty bin list); here that is NATADV_EINVAL and
 * *out is NAN. Returns 0, NATADV_EINVAL or NATADV_ENOMEM. */
int eval_calib_rms(const double *confidence, const int *correct, size_t n, size_t beta, double *out);

/* AURRA as aurra(confidence, correct) of the original: order by confidence,
 * highest first, accuracy of each prefix (response rate), mean over all n.
 * Exact ties put the later index first (a reversed stable argsort; numpy's
 * default sort promises no order among ties). NAN when n is 0. Returns 0 or
 * NATADV_ENOMEM. */
int eval_aurra(const double *confidence, const int *correct, size_t n, double *out);

typedef struct eval_class {
	char wnid[16];
	int64_t index_1k;        /* the model output this class is read from */
	char name[64];
} eval_class;

typedef struct eval_release {
	char folder[4096];       /* the folder holding one subfolder per class */
	eval_class *classes;     /* in label order */
	int nclasses;
	int from_tsv;            /* 1: classes.tsv; 0: the sorted subfolder names */
	char **paths;            /* every image, by label then file name */
	int *labels;
	size_t nimages;
	size_t skipped;          /* files that are not .jpg, .jpeg or .png */
} eval_release;

/* Reads a release: DIR/classes.tsv ("label wnid index_1k name", one row per
 * class in label order) and DIR/FOLDER/<wnid>/ images, or DIR itself being
 * FOLDER (classes are then its sorted wnid subfolders, 1K indices from s).
 * Fills *r (free with eval_release_free). Returns 0 or a NATADV code with
 * err saying why. */
int eval_release_open(store *s, const char *dir, eval_release *r, char *err, size_t errlen);
/* Frees what eval_release_open allocated; accepts a zeroed struct. */
void eval_release_free(eval_release *r);

typedef struct eval_result {
	size_t n;                /* images evaluated */
	size_t failed;           /* images that could not be read or decoded */
	double accuracy, rms_calibration_error, aurra;  /* rms is NAN for n < 100 */
} eval_result;

/* Classifies every image of r with m in batches of batch, takes the argmax
 * and max softmax probability over the logits of r's classes only, and
 * computes the metrics. on_fail (may be NULL) hears of each unreadable image.
 * by_image (may be NULL; r->nimages ints, owned by the caller) gets 1 for an
 * image classified right, 0 wrong, -1 unreadable. Returns 0, NATADV_EINTR
 * when stop was set, or a NATADV code with err set. */
int eval_run(net *m, const eval_release *r, int batch, const volatile sig_atomic_t *stop,
             void (*on_fail)(void *ctx, const char *path, const char *why), void *ctx,
             eval_result *out, int *by_image, char *err, size_t errlen);

typedef struct eval_self_check_result {
	int manifest;            /* a manifest.jsonl was found beside the release folder */
	int filter_model;        /* the evaluated model chose images of this release */
	size_t checked;          /* its unconverted, subset-space images that were classified */
	size_t right;            /* of which it now classifies right (should be 0) */
	char first_right[512];   /* the release path of the first of those */
} eval_self_check_result;

/* The built-in self-check: when the release's manifest.jsonl (in dir, or
 * beside r's folder) names model_id (SHA-256 of the weights) as the model that
 * selected its images, counts how many of those images by_image (from
 * eval_run) says it now gets right — by construction none, unless scoring and
 * evaluation disagree. Images converted from PNG and images chosen over all
 * 1000 classes are not checked. The manifest is read with pkg_manifest_read.
 * Returns 0 (also without a manifest), NATADV_EFORMAT with err naming the
 * first malformed line, or another NATADV code with err set. */
int eval_self_check(const eval_release *r, const char *dir, const char *model_id, const int *by_image,
                    eval_self_check_result *out, char *err, size_t errlen);

#endif
