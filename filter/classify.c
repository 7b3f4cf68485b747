/* classify.c — the model over a list of image files, in batches: each file
 * read and preprocessed as torchvision does, every full batch (and the last
 * one) run through the network, the logits handed back in file order. What
 * `classify` prints and `eval` scores; `score` has its own pipelined loop
 * over the workspace's images (decoding on other threads). */
#include "filter/filter.h"

#include <stdlib.h>

#include "common/err.h"

#define TENSOR (3 * FILTER_CROP * FILTER_CROP)
#define FILE_MAX (512u << 20)

int filter_classify_files(net *m, const char *const *paths, size_t n, const filter_classify_opts *o,
                          const volatile sig_atomic_t *stop, const filter_classify_cb *cb, void *ctx,
                          char *err, size_t errlen)
{
	int batch = o->batch < 1 ? 1 : o->batch;
	int classes = net_get_info(m)->classes;
	int rc = net_prepare(m, batch, FILTER_CROP, FILTER_CROP);
	if (rc) {
		natadv_errf(err, errlen, "cannot prepare the model: %s", net_errmsg(m));
		return rc;
	}
	float *input = malloc(sizeof(float) * TENSOR * (size_t)batch);
	float *logits = malloc(sizeof(float) * (size_t)classes * (size_t)batch);
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
			if ((rc = net_forward(m, input, nb, logits)) != 0) {
				natadv_errf(err, errlen, "forward pass failed: %s", net_errmsg(m));
				goto out;
			}
			for (int k = 0; k < nb; k++)
				cb->on_result(ctx, which[k], logits + (size_t)k * classes, classes);
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
