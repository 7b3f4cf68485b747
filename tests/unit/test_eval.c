/* test_eval.c — ImageNet-O's out-of-distribution measures (eval_ood_measures)
 * against values worked out by hand and against scikit-learn 1.2.1's
 * roc_auc_score / average_precision_score and calibration_tools'
 * fpr_and_fdr_at_recall (written down here, so make test needs no Python).
 * `test_eval --measures [LEVEL]` reads "LABEL SCORE" lines (1 = OOD) and
 * prints "auroc aupr fpr" for scripts/check_ood_metrics.py, which compares
 * with Debian's python3-sklearn live (make check-pytorch). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "filter/eval.h"
#include "tests/t.h"

#define CLOSE(a, b) (fabs((a) - (b)) <= 1e-12)

static eval_ood_result measures(const double *pos, size_t np, const double *neg, size_t nn)
{
	eval_ood_result r;
	T_EQ_INT(eval_ood_measures(pos, np, neg, nn, EVAL_OOD_RECALL, &r), 0);
	return r;
}

/* Sorted, highest first: 0.9 P | 0.8 P P N | 0.5 N | 0.3 P | 0.1 N. AUROC by
 * counting pairs: (3 + 2 * 2.5 + 1) / 12; AP: (1 * 1 + 2 * 3/4 + 1 * 4/6) / 4;
 * FPR: the first threshold with recall 1 (0.3) has 2 of the 3 negatives. */
static void test_by_hand(void)
{
	const double pos[] = {0.8, 0.3, 0.9, 0.8}, neg[] = {0.1, 0.8, 0.5};
	eval_ood_result r = measures(pos, 4, neg, 3);
	T_CHECK(CLOSE(r.auroc, 0.75));
	T_CHECK(CLOSE(r.aupr, 19.0 / 24.0));
	T_CHECK(CLOSE(r.fpr, 2.0 / 3.0));
	/* the order of the examples changes nothing */
	const double pos2[] = {0.9, 0.8, 0.8, 0.3}, neg2[] = {0.5, 0.8, 0.1};
	eval_ood_result r2 = measures(pos2, 4, neg2, 3);
	T_CHECK(r2.auroc == r.auroc && r2.aupr == r.aupr && r2.fpr == r.fpr);
}

/* Recall 0.9 is nearer 0.95 than recall 1 in doubles (0.04999999999999993
 * against 0.050000000000000044), and of the three thresholds at recall 0.9
 * (scores 2, 1.5 and 1.2) the walk from full recall meets 1.2 first: 3 of
 * the 5 negatives lie at or above it. Choosing recall 1 would give 4/5,
 * the last of the equals 1/5. */
static void test_fpr_nearest_recall(void)
{
	const double pos[] = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, neg[] = {5.5, 1.5, 1.2, 1, 0.5};
	eval_ood_result r = measures(pos, 10, neg, 5);
	T_CHECK(CLOSE(r.fpr, 0.6));
	/* pairs: 5 x 5 above every negative, 4 above 4 of them, one tie at 1 */
	T_CHECK(CLOSE(r.auroc, (25.0 + 4 * 4 + 1 * 1.5) / 50.0));
	/* recall exactly 0.5 at scores 6 (no negative yet) and 5.5 (one): the
	 * walk from full recall meets 5.5 first */
	eval_ood_result h;
	T_EQ_INT(eval_ood_measures(pos, 10, neg, 5, 0.5, &h), 0);
	T_CHECK(CLOSE(h.fpr, 0.2));
}

static void test_ties_and_extremes(void)
{
	const double all[] = {0.5, 0.5, 0.5};
	eval_ood_result r = measures(all, 2, all, 3);
	T_CHECK(CLOSE(r.auroc, 0.5));
	T_CHECK(CLOSE(r.aupr, 0.4));
	T_CHECK(CLOSE(r.fpr, 1.0));
	const double hi[] = {3, 2}, lo[] = {1, 0, -1};
	r = measures(hi, 2, lo, 3);
	T_CHECK(r.auroc == 1 && r.aupr == 1 && r.fpr == 0);
	r = measures(lo, 3, hi, 2);
	T_CHECK(r.auroc == 0 && r.fpr == 1);
	/* the positives come 3rd, 4th and 5th: (1/3 + 2/4 + 3/5) / 3 */
	T_CHECK(CLOSE(r.aupr, 43.0 / 90.0));
}

/* Seeded random scores rounded to one decimal (many ties): the arrays and
 * the expected values (sklearn 1.2.1 and fpr_and_fdr_at_recall) printed by
 * scripts/check_ood_metrics.py --golden. */
static void test_golden_random(void)
{
	const double pos[] = {-0.4, -0.3, -0.5, -0.6, -0.5, -0.6, -0.4, -0.1, -0.5, -0.6,
	                      -0.3, -0.3, -0.4, -0.6, -0.4, -0.2, -0.7, -0.5, -0.9, -0.7};
	const double neg[] = {-1.2, -0.8, -1.1, -0.7, -0.7, -0.8, -1.4, -0.9, -0.8, -0.7, -1.1, -0.9, -1,
	                      -1,   -0.5, -1,   -0.8, -0.5, -0.9, -0.8, -0.7, -0.7, -1.1, -0.7, -0.4};
	eval_ood_result r = measures(pos, 20, neg, 25);
	T_CHECK(CLOSE(r.auroc, 0.90099999999999991));
	T_CHECK(CLOSE(r.aupr, 0.85738416988416999));
	T_CHECK(CLOSE(r.fpr, 0.56000000000000005));
}

static void test_refused(void)
{
	const double a[] = {1, 2}, b[] = {NAN};
	eval_ood_result r;
	T_EQ_INT(eval_ood_measures(a, 0, a, 2, EVAL_OOD_RECALL, &r), NATADV_EINVAL);
	T_CHECK(isnan(r.auroc) && isnan(r.aupr) && isnan(r.fpr));
	T_EQ_INT(eval_ood_measures(a, 2, a, 0, EVAL_OOD_RECALL, &r), NATADV_EINVAL);
	T_EQ_INT(eval_ood_measures(a, 2, b, 1, EVAL_OOD_RECALL, &r), NATADV_EINVAL);
	T_EQ_INT(eval_ood_measures(b, 1, a, 2, EVAL_OOD_RECALL, &r), NATADV_EINVAL);
}

/* --measures [LEVEL]: "LABEL SCORE" lines on stdin, "auroc aupr fpr" out. */
static int run_measures(const char *level_arg)
{
	double level = level_arg ? strtod(level_arg, NULL) : EVAL_OOD_RECALL;
	size_t np = 0, nn = 0, cap = 1024;
	double *pos = malloc(sizeof *pos * cap), *neg = malloc(sizeof *neg * cap);
	int label, rc = 1;
	double s;
	while (pos && neg && scanf("%d %lf", &label, &s) == 2) {
		if (np == cap || nn == cap) {
			cap *= 2;
			double *p2 = realloc(pos, sizeof *pos * cap);
			if (p2)
				pos = p2;
			double *n2 = realloc(neg, sizeof *neg * cap);
			if (n2)
				neg = n2;
			if (!p2 || !n2)
				goto out;
		}
		if (label)
			pos[np++] = s;
		else
			neg[nn++] = s;
	}
	eval_ood_result r;
	if (pos && neg && eval_ood_measures(pos, np, neg, nn, level, &r) == 0) {
		printf("%.17g %.17g %.17g\n", r.auroc, r.aupr, r.fpr);
		rc = 0;
	}
out:
	free(pos);
	free(neg);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "--measures"))
		return run_measures(argc > 2 ? argv[2] : NULL);
	T_RUN(test_by_hand);
	T_RUN(test_fpr_nearest_recall);
	T_RUN(test_ties_and_extremes);
	T_RUN(test_golden_random);
	T_RUN(test_refused);
	return T_DONE();
}
