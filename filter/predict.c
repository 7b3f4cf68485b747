/* predict.c — torchvision's eval preprocessing on top of image/, softmax,
 * top-5 and the argmax over a class subset (how ImageNet-A is evaluated:
 * the 200 columns of the 1000 logits, compared by their own softmax). */
#include "filter/filter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static const float MEAN[3] = {0.485f, 0.456f, 0.406f};
static const float STD[3] = {0.229f, 0.224f, 0.225f};

int filter_preprocess(img_ctx *c, const void *data, size_t len, int fast, float *chw,
                      char *err, size_t errlen)
{
	img_limits lim = {1, 100000000};
	img_rgb full, small;
	int rc = fast ? img_decode_rgb_scaled(c, data, len, &lim, FILTER_RESIZE, &full, err, errlen)
	              : img_decode_rgb(c, data, len, &lim, &full, err, errlen);
	if (rc)
		return rc;
	rc = img_resize_shorter(c, &full, FILTER_RESIZE, &small);
	if (rc) {
		snprintf(err, errlen, "cannot resize: %s", natadv_strerror(rc));
		return rc;
	}
	img_center_crop_normalize(&small, FILTER_CROP, MEAN, STD, chw);
	return 0;
}

void filter_softmax(const float *logits, int classes, float *probs)
{
	float mx = logits[0];
	for (int i = 1; i < classes; i++)
		if (logits[i] > mx)
			mx = logits[i];
	double sum = 0;
	for (int i = 0; i < classes; i++) {
		probs[i] = expf(logits[i] - mx);
		sum += probs[i];
	}
	for (int i = 0; i < classes; i++)
		probs[i] = (float)(probs[i] / sum);
}

void filter_softmax_subset(const float *logits, const int *subset, int nsub, float *probs)
{
	if (nsub <= 0)
		return;
	float mx = logits[subset[0]];
	for (int k = 1; k < nsub; k++)
		if (logits[subset[k]] > mx)
			mx = logits[subset[k]];
	double sum = 0;
	for (int k = 0; k < nsub; k++) {
		probs[k] = expf(logits[subset[k]] - mx);
		sum += probs[k];
	}
	for (int k = 0; k < nsub; k++)
		probs[k] = (float)(probs[k] / sum);
}

int filter_subset_argmax(const float *logits, const int *subset, int nsub, double *mx, double *sum)
{
	int best = 0;
	for (int k = 1; k < nsub; k++)
		if (logits[subset[k]] > logits[subset[best]])
			best = k;
	double m = logits[subset[best]], s = 0;
	for (int k = 0; k < nsub; k++)
		s += exp((double)logits[subset[k]] - m);
	*mx = m;
	*sum = s;
	return best;
}

void filter_predict(const float *logits, int classes, const int *subset, int nsub, filter_pred *out)
{
	/* top-5 of the logits is top-5 of the softmax; probabilities from a stable softmax */
	float mx = logits[0];
	for (int i = 1; i < classes; i++)
		if (logits[i] > mx)
			mx = logits[i];
	double sum = 0;
	for (int i = 0; i < classes; i++)
		sum += exp((double)logits[i] - mx);
	for (int k = 0; k < 5; k++) {
		out->top5[k] = -1;
		out->top5_p[k] = 0;
	}
	for (int i = 0; i < classes; i++) {
		for (int k = 0; k < 5; k++) {
			if (out->top5[k] < 0 || logits[i] > logits[out->top5[k]]) {
				memmove(&out->top5[k + 1], &out->top5[k], sizeof(int) * (size_t)(4 - k));
				out->top5[k] = i;
				break;
			}
		}
	}
	for (int k = 0; k < 5 && out->top5[k] >= 0; k++)
		out->top5_p[k] = (float)(exp((double)logits[out->top5[k]] - mx) / sum);
	out->subset_pos = -1;
	out->subset_p = 0;
	if (nsub > 0) {
		double smx, ssum;
		out->subset_pos = filter_subset_argmax(logits, subset, nsub, &smx, &ssum);
		out->subset_p = (float)(1.0 / ssum);
	}
}

struct load_ctx {
	filter_classes *fc;
	int subset;
	int oom;
};

static int add_class(void *ctx, const store_class *k)
{
	struct load_ctx *x = ctx;
	filter_classes *fc = x->fc;
	if (!x->subset) {
		if (k->index < 0 || k->index >= fc->n1k)
			return 0;
		snprintf(fc->wnid_1k[k->index], sizeof fc->wnid_1k[0], "%s", k->wnid);
		const char *comma = strchr(k->names, ',');
		int n = comma ? (int)(comma - k->names) : (int)strlen(k->names);
		snprintf(fc->name_1k[k->index], sizeof fc->name_1k[0], "%.*s", n, k->names);
		return 0;
	}
	int *p = realloc(fc->sub_1k, sizeof(int) * (size_t)(fc->nsub + 1));
	if (!p) {
		x->oom = 1;
		return 1;
	}
	fc->sub_1k = p;
	char(*w)[10] = realloc(fc->wnid_sub, sizeof(*w) * (size_t)(fc->nsub + 1));
	if (!w) {
		x->oom = 1;
		return 1;
	}
	fc->wnid_sub = w;
	int idx = -1;
	for (int i = 0; i < fc->n1k; i++)
		if (strcmp(fc->wnid_1k[i], k->wnid) == 0)
			idx = i;
	fc->sub_1k[fc->nsub] = idx;
	snprintf(fc->wnid_sub[fc->nsub], sizeof fc->wnid_sub[0], "%s", k->wnid);
	fc->nsub++;
	return 0;
}

int filter_classes_load(store *s, const char *subset, filter_classes *fc)
{
	memset(fc, 0, sizeof *fc);
	fc->n1k = 1000;
	fc->wnid_1k = calloc(1000, sizeof *fc->wnid_1k);
	fc->name_1k = calloc(1000, sizeof *fc->name_1k);
	if (!fc->wnid_1k || !fc->name_1k) {
		filter_classes_release(fc);
		return NATADV_ENOMEM;
	}
	struct load_ctx x = {fc, 0, 0};
	int rc = store_classes_each(s, "imagenet-1k", add_class, &x);
	if (!rc && subset) {
		x.subset = 1;
		rc = store_classes_each(s, subset, add_class, &x);
	}
	if (x.oom)
		rc = NATADV_ENOMEM;
	for (int k = 0; !rc && k < fc->nsub; k++)
		if (fc->sub_1k[k] < 0)
			rc = NATADV_EINVAL; /* a subset class outside the 1000 outputs */
	if (rc)
		filter_classes_release(fc);
	return rc;
}

void filter_classes_release(filter_classes *fc)
{
	free(fc->wnid_1k);
	free(fc->name_1k);
	free(fc->sub_1k);
	free(fc->wnid_sub);
	memset(fc, 0, sizeof *fc);
}
