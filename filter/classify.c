/* classify.c — the model over a list of image files, in batches: each file
 * read and preprocessed as torchvision does, every full batch (and the last
 * one) run through the network (or several, one decode feeding them all),
 * the logits handed back in file order. What `classify` prints and `eval`
 * scores; `score` has its own pipelined loop
 * over the workspace's images (decoding on other threads). */
#include "filter/filter.h"

#include <stdlib.h>

#include "common/err.h"

#define TENSOR (3 * FILTER_CROP * FILTER_CROP)
#define FILE_MAX (512u << 20)

/* Runs the nb preprocessed images of input through every model and hands
 * each model's logits back. */
static int run_batch(net *const *m, int nm, const float *input, int nb, float *logits, const size_t *which,
                     const filter_classify_cb *cb, void *ctx, char *err, size_t errlen)
{
	for (int k = 0; k < nm; k++) {
		int classes = net_get_info(m[k])->classes;
		int rc = net_forward(m[k], input, nb, logits);
		if (rc) {
			natadv_errf(err, errlen, "forward pass failed: %s", net_errmsg(m[k]));
			return rc;
		}
		for (int b = 0; b < nb; b++) {
			const float *l = logits + (size_t)b * classes;
			if (cb->on_model_result)
				cb->on_model_result(ctx, k, which[b], l, classes);
			else
				cb->on_result(ctx, which[b], l, classes);
		}
	}
	return 0;
}

int filter_classify_models(net *const *m, int nm, const char *const *paths, size_t n,
                           const filter_classify_opts *o, const volatile sig_atomic_t *stop,
                           const filter_classify_cb *cb, void *ctx, char *err, size_t errlen)
{
	int batch = o->batch < 1 ? 1 : o->batch;
	int classes = 0, rc = 0;
	/* no arena (nor its page faults) for images there are not */
	if (n > 0 && (size_t)batch > n)
		batch = (int)n;
	for (int k = 0; k < nm; k++) {
		if ((rc = net_prepare(m[k], batch, FILTER_CROP, FILTER_CROP)) != 0) {
			natadv_errf(err, errlen, "cannot prepare the model: %s", net_errmsg(m[k]));
			return rc;
		}
		if (net_get_info(m[k])->classes > classes)
			classes = net_get_info(m[k])->classes;
	}
	float *input = malloc(sizeof(float) * TENSOR * (size_t)batch);
	float *logits = malloc(sizeof(float) * (size_t)(classes ? classes : 1) * (size_t)batch);
	size_t *which = malloc(sizeof(size_t) * (size_t)batch);
	img_ctx *ic = img_ctx_new();
	buf data;
	buf_init(&data, FILE_MAX);
	if (!input || !logits || !which || !ic) {
		rc = NATADV_ENOMEM;
		natadv_errf(err, errlen, "out of memory");
		goto out;
	}
	int nb = 0;
	char why[512];
	for (size_t i = 0; i <= n; i++) {
		if (i < n) {
			if (buf_read_file(&data, paths[i], why, sizeof why) != 0 ||
			    filter_preprocess(ic, data.data, data.len, o->fast, input + (size_t)nb * TENSOR, why, sizeof why)) {
				if (cb->on_fail)
					cb->on_fail(ctx, i, why);
				continue;
			}
			which[nb++] = i;
		}
		if (nb == batch || (i == n && nb > 0)) {
			if ((rc = run_batch(m, nm, input, nb, logits, which, cb, ctx, err, errlen)) != 0)
				goto out;
			if (cb->on_batch)
				cb->on_batch(ctx);
			nb = 0;
		}
		if (stop && *stop) {
			rc = NATADV_EINTR;
			natadv_errf(err, errlen, "interrupted");
			goto out;
		}
	}
out:
	buf_release(&data);
	img_ctx_free(ic);
	free(which);
	free(logits);
	free(input);
	return rc;
}

int filter_classify_files(net *m, const char *const *paths, size_t n, const filter_classify_opts *o,
                          const volatile sig_atomic_t *stop, const filter_classify_cb *cb, void *ctx,
                          char *err, size_t errlen)
{
	return filter_classify_models(&m, 1, paths, n, o, stop, cb, ctx, err, errlen);
}
