/* eval.h — `natadv eval`: what ImageNet-A's users compute on a release.
 * The metrics follow Hendrycks et al.'s evaluation code (natural-adv-examples,
 * eval.py + calibration_tools.py) as pure functions; eval_release_open reads
 * a release folder and eval_classify classifies it with one or more models,
 * the logits restricted to the release's classes. */
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

/* The recall level of ImageNet-O's FPR (calibration_tools' recall_level). */
#define EVAL_OOD_RECALL 0.95

typedef struct eval_ood_result {
	double auroc;            /* sklearn roc_auc_score */
	double aupr;             /* sklearn average_precision_score */
	double fpr;              /* FPR at the recall nearest the level asked for */
} eval_ood_result;

/* calibration_tools.get_measures(pos, neg, recall_level) of the original:
 * the pos[0..npos) examples (out-of-distribution; ImageNet-O scores them
 * -MSP) are the positive class, neg[0..nneg) the negative one. AUROC and
 * average precision as scikit-learn's roc_auc_score and
 * average_precision_score (tied scores form one threshold), and the false
 * positive rate at the recall nearest recall_level as fpr_and_fdr_at_recall
 * (the first of equal distances, walking from full recall to the highest
 * threshold). Returns 0, NATADV_EINVAL when npos or nneg is 0 or a score is
 * NaN (sklearn refuses both; *out is then NAN), or NATADV_ENOMEM. */
int eval_ood_measures(const double *pos, size_t npos, const double *neg, size_t nneg, double recall_level,
                      eval_ood_result *out);

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
/* Reads dir as an ImageFolder of ref's classes (dir/<wnid>/ images, e.g.
 * in-distribution photos beside an out-of-distribution release): r gets
 * ref's classes, in ref's label order, and the images of whichever of
 * them have a folder. A subfolder that is not one of ref's classes is an
 * error (NATADV_EFORMAT) naming it. Free with eval_release_free. */
int eval_folder_open(const eval_release *ref, const char *dir, eval_release *r, char *err, size_t errlen);
/* Frees what eval_release_open allocated; accepts a zeroed struct. */
void eval_release_free(eval_release *r);

typedef struct eval_preds {
	int nmodels;
	size_t nimages;          /* of the release classified */
	size_t failed;           /* images that could not be read or decoded */
	int *pos;                /* [model k * nimages + image i]: the argmax over the
	                          * release's classes (a label), -1 when unreadable */
	float *msp;              /* its softmax probability over those classes (the
	                          * MSP); NAN when unreadable */
} eval_preds;

/* Classifies every image of r with each of the models m[0..nm) (each image
 * read and preprocessed once, for all of them) in batches of batch, and
 * keeps the argmax and max softmax probability over the logits of r's
 * classes only. on_fail (may be NULL) hears of each unreadable image.
 * Fills *out (free with eval_preds_free). Returns 0, NATADV_EINVAL when a
 * class has no output in a model, NATADV_EINTR when stop was set, or
 * another NATADV code; err says why. */
int eval_classify(net *const *m, int nm, const eval_release *r, int batch, const volatile sig_atomic_t *stop,
                  void (*on_fail)(void *ctx, const char *path, const char *why), void *ctx, eval_preds *out,
                  char *err, size_t errlen);
/* Frees what eval_classify allocated; accepts a zeroed struct. */
void eval_preds_free(eval_preds *p);

typedef struct eval_result {
	size_t n;                /* images evaluated */
	size_t failed;           /* images that could not be read or decoded */
	double accuracy, rms_calibration_error, aurra;  /* rms is NAN for n < 100 */
} eval_result;

/* ImageNet-A's figures for model k of p (from eval_classify over r): over
 * the images read, in file order, accuracy against r's labels, RMS
 * calibration error and AURRA of the MSP. Returns 0 or NATADV_ENOMEM. */
int eval_metrics(const eval_release *r, const eval_preds *p, int k, eval_result *out);

typedef struct eval_self_check_result {
	int manifest;            /* a manifest.jsonl was found beside the release folder */
	int filter_model;        /* the evaluated model chose images of this release */
	size_t checked;          /* its unconverted, subset-space images that were classified */
	size_t failed;           /* of which fail the check (should be 0) */
	char first_failed[512];  /* the release path of the first of those */
} eval_self_check_result;

/* The built-in self-check: when the release's manifest.jsonl (in dir, or
 * beside r's folder) names model_id (SHA-256 of the weights) as the model that
 * selected its images, judges those images by what it (model k of p, from
 * eval_classify over r) says now. ood = 0 (ImageNet-A): each must still be
 * classified wrong. ood = 1 (ImageNet-O): each must still have an MSP over
 * r's classes of at least its selection rule's min_confidence (an image
 * whose rule records none is not checked). By construction none fails,
 * unless scoring and evaluation disagree. Images converted from PNG and
 * images chosen over all 1000 classes are not checked. The manifest is read
 * with pkg_manifest_read. Returns 0 (also without a manifest),
 * NATADV_EFORMAT with err naming the first malformed line, or another
 * NATADV code with err set. */
int eval_self_check(const eval_release *r, const char *dir, const char *model_id, const eval_preds *p, int k,
                    int ood, eval_self_check_result *out, char *err, size_t errlen);

typedef struct eval_ood_figures {
	size_t n_ood, n_in;      /* images read of each side */
	eval_ood_result m;       /* with fpr at EVAL_OOD_RECALL */
} eval_ood_figures;

/* ImageNet-O's figures for model k: the OOD images of ood (positives) and
 * the in-distribution ones of in (negatives), both from eval_classify with
 * the same models, each scored -MSP; unreadable images are left out.
 * Returns 0, NATADV_EINVAL when a side has no image read, or
 * NATADV_ENOMEM. */
int eval_ood_figures_of(const eval_preds *ood, const eval_preds *in, int k, eval_ood_figures *out);

#endif
