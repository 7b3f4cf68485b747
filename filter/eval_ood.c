/* eval_ood.c — the out-of-distribution measures ImageNet-O is scored with
 * (calibration_tools.get_measures of natural-adv-examples): scikit-learn's
 * roc_auc_score and average_precision_score, and the false positive rate at
 * the recall nearest a level (95%) as fpr_and_fdr_at_recall computes it.
 * The OOD examples are the positive class; a higher score means "more OOD".
 *
 * All three read one curve: the examples sorted by score, highest first, cut
 * at each distinct score (a group of tied scores is one threshold, so the
 * order among ties never matters), with the running counts of positives
 * (tps) and negatives (fps) at each cut, as sklearn's _binary_clf_curve. */
#include "filter/eval.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/err.h"

typedef struct ood_example {
	double score;
	int pos;
} ood_example;

/* Highest score first. */
static int cmp_desc(const void *a, const void *b)
{
	double x = ((const ood_example *)a)->score, y = ((const ood_example *)b)->score;
	return x > y ? -1 : x < y;
}

/* The cumulative counts at each distinct score: tps[k], fps[k] for k < *m. */
static void ood_curve(const ood_example *e, size_t n, uint64_t *tps, uint64_t *fps, size_t *m)
{
	uint64_t tp = 0;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		tp += e[i].pos != 0;
		if (i + 1 == n || e[i + 1].score != e[i].score) {
			tps[k] = tp;
			fps[k] = (uint64_t)(i + 1) - tp;
			k++;
		}
	}
	*m = k;
}

/* roc_auc_score: the trapezoidal area under (fps/N, tps/P) from (0, 0),
 * summed in whole numbers (twice the area in units of 1/(P*N)) so that the
 * only rounding is the final division; the points sklearn drops as collinear
 * (drop_intermediate) add no area. */
static double ood_auroc(const uint64_t *tps, const uint64_t *fps, size_t m)
{
	uint64_t twice = 0, tp0 = 0, fp0 = 0;
	for (size_t k = 0; k < m; k++) {
		twice += (fps[k] - fp0) * (tps[k] + tp0);
		tp0 = tps[k];
		fp0 = fps[k];
	}
	return (double)twice / (2.0 * (double)tps[m - 1] * (double)fps[m - 1]);
}

/* average_precision_score: sum over thresholds of the recall gained times
 * the precision there, tps / (tps + fps). */
static double ood_average_precision(const uint64_t *tps, const uint64_t *fps, size_t m)
{
	double sum = 0;
	uint64_t tp0 = 0;
	for (size_t k = 0; k < m; k++) {
		if (tps[k] != tp0)
			sum += (double)(tps[k] - tp0) * ((double)tps[k] / (double)(tps[k] + fps[k]));
		tp0 = tps[k];
	}
	return sum / (double)tps[m - 1];
}

/* fpr_and_fdr_at_recall: keep the thresholds up to the first reaching full
 * recall, walk them from that one back to the highest score, and take the
 * first whose recall (tps / P, in double as numpy divides) is nearest the
 * level (np.argmin: the first of equal distances); the FPR is its fps / N.
 * The original appends a point of recall 1 and fps 0 after these; it is
 * never chosen, the first point of the walk having recall exactly 1 and so
 * the same distance. */
static double ood_fpr_at_recall(const uint64_t *tps, const uint64_t *fps, size_t m, double level)
{
	uint64_t p = tps[m - 1];
	size_t last = 0;
	while (tps[last] < p)
		last++;
	size_t best = last;
	double best_d = fabs((double)tps[last] / (double)p - level);
	for (size_t k = last; k-- > 0;) {
		double d = fabs((double)tps[k] / (double)p - level);
		if (d < best_d) {
			best_d = d;
			best = k;
		}
	}
	uint64_t negatives = fps[m - 1];
	return (double)fps[best] / (double)negatives;
}

int eval_ood_measures(const double *pos, size_t npos, const double *neg, size_t nneg, double recall_level,
                      eval_ood_result *out)
{
	out->auroc = out->aupr = out->fpr = NAN;
	if (npos == 0 || nneg == 0)
		return NATADV_EINVAL;
	size_t n = npos + nneg;
	for (size_t i = 0; i < npos; i++)
		if (isnan(pos[i]))
			return NATADV_EINVAL;
	for (size_t i = 0; i < nneg; i++)
		if (isnan(neg[i]))
			return NATADV_EINVAL;
	ood_example *e = malloc(sizeof *e * n);
	uint64_t *tps = malloc(sizeof *tps * n);
	uint64_t *fps = malloc(sizeof *fps * n);
	int rc = 0;
	if (!e || !tps || !fps) {
		rc = NATADV_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < npos; i++)
		e[i] = (ood_example){pos[i], 1};
	for (size_t i = 0; i < nneg; i++)
		e[npos + i] = (ood_example){neg[i], 0};
	qsort(e, n, sizeof *e, cmp_desc);
	size_t m;
	ood_curve(e, n, tps, fps, &m);
	out->auroc = ood_auroc(tps, fps, m);
	out->aupr = ood_average_precision(tps, fps, m);
	out->fpr = ood_fpr_at_recall(tps, fps, m, recall_level);
out:
	free(fps);
	free(tps);
	free(e);
	return rc;
}

/* -MSP of model k's images read, into out; returns how many. */
static size_t neg_msp(const eval_preds *p, int k, double *out)
{
	size_t n = 0;
	const float *msp = p->msp + (size_t)k * p->nimages;
	const int *pos = p->pos + (size_t)k * p->nimages;
	for (size_t i = 0; i < p->nimages; i++)
		if (pos[i] >= 0)
			out[n++] = -(double)msp[i];
	return n;
}

int eval_ood_figures_of(const eval_preds *ood, const eval_preds *in, int k, eval_ood_figures *out)
{
	out->n_ood = out->n_in = 0;
	out->m.auroc = out->m.aupr = out->m.fpr = NAN;
	double *pos = malloc(sizeof *pos * (ood->nimages ? ood->nimages : 1));
	double *neg = malloc(sizeof *neg * (in->nimages ? in->nimages : 1));
	int rc = NATADV_ENOMEM;
	if (pos && neg) {
		out->n_ood = neg_msp(ood, k, pos);
		out->n_in = neg_msp(in, k, neg);
		rc = eval_ood_measures(pos, out->n_ood, neg, out->n_in, EVAL_OOD_RECALL, &out->m);
	}
	free(pos);
	free(neg);
	return rc;
}
