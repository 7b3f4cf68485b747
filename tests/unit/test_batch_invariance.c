/* test_batch_invariance.c — an image's logits are bit-identical whatever
 * batch it runs in, at whatever position, and on 1 or 2 threads: split and
 * Slurm runs group the same images differently and must still give the
 * single machine's scores (issue 12). Each tiny fixture model (ResNet,
 * ResNeXt, VGG, DenseNet) runs 7 distinct images as one batch of 7 on one
 * thread, then in batches of 1, 2, 3 and 7 (shifted, so that an image
 * takes other positions) on 1 and 2 threads; every image's logits must
 * memcmp equal. Also nn_gemm on each kernel set this CPU runs: a column's
 * result must not depend on how many columns share the product. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filter/net.h"
#include "filter/nn.h"
#include "tests/t.h"
#include "tests/unit/golden.h"

static char err[512];

/* A reproducible uniform value in [-1, 1). */
static float rnd(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return (float)(*s >> 8) / (float)(1u << 23) - 1.0f;
}

#define IMAGES 7

/* The images of [IMAGES, 3, h, w] through m in batches of size, the first
 * batch starting at image shift (the images before it run last, as one
 * more batch), into logits [IMAGES, classes]. 0 or the failing code. */
static int run_batches(net *m, const float *x, int h, int w, int size,
                       int shift, int classes, float *logits)
{
	const size_t per = (size_t)3 * h * w;
	int i = shift, rc;

	while (i < IMAGES) {
		const int n = IMAGES - i < size ? IMAGES - i : size;

		if ((rc = net_forward(m, x + i * per, n, logits + (size_t)i * classes)))
			return rc;
		i += n;
	}
	for (i = 0; i < shift; i += size) {
		const int n = shift - i < size ? shift - i : size;

		if ((rc = net_forward(m, x + i * per, n, logits + (size_t)i * classes)))
			return rc;
	}
	return 0;
}

static void check_model(const char *file, int h, int w)
{
	static const int sizes[] = {1, 2, 3, 7}, threads[] = {1, 2};
	const size_t per = (size_t)3 * h * w;
	net *m = NULL;
	float *x = NULL, *want = NULL, *got = NULL;
	uint32_t seed = 12345;
	int classes;

	T_EQ_INT(net_load_file(&m, golden_path(file), err, sizeof err), 0);
	if (!m) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	classes = net_get_info(m)->classes;
	x = malloc(IMAGES * per * sizeof *x);
	want = calloc((size_t)IMAGES * classes, sizeof *want);
	got = calloc((size_t)IMAGES * classes, sizeof *got);
	T_CHECK(x && want && got);
	if (!x || !want || !got)
		goto out;
	for (size_t i = 0; i < IMAGES * per; i++)
		x[i] = 2.0f * rnd(&seed);
	T_EQ_INT(net_prepare(m, IMAGES, h, w), 0);
	T_EQ_INT(net_set_threads(m, 1), 0);
	T_EQ_INT(net_forward(m, x, IMAGES, want), 0);
	for (int t = 0; t < 2; t++) {
		T_EQ_INT(net_set_threads(m, threads[t]), 0);
		for (int s = 0; s < 4; s++)
		for (int shift = 0; shift < 2; shift++) {
			memset(got, 0, (size_t)IMAGES * classes * sizeof *got);
			T_EQ_INT(run_batches(m, x, h, w, sizes[s], shift,
			                     classes, got), 0);
			for (int i = 0; i < IMAGES; i++) {
				const size_t o = (size_t)i * classes;
				const int same = !memcmp(got + o, want + o,
				                         classes * sizeof *got);

				if (!same)
					fprintf(stderr, "%s: image %d differs in "
					        "batches of %d (shift %d) on %d "
					        "threads\n", file, i, sizes[s],
					        shift, threads[t]);
				T_CHECK(same);
			}
		}
	}
out:
	free(x), free(want), free(got);
	net_free(m);
}

static void test_resnet(void)
{
	check_model("tiny_basic.safetensors", 57, 71);
	check_model("tiny_resnext.safetensors", 57, 71);
}

static void test_vgg(void)
{
	check_model("tiny_vgg_tv.safetensors", 96, 128);
	check_model("tiny_vgg_timm_bn.safetensors", 96, 128);
}

static void test_densenet(void)
{
	check_model("tiny_densenet.safetensors", 64, 80);
	check_model("tiny_densenet_1k.safetensors", 64, 80);
}

/* y [m, cols] = W x on kernels isa, with x row-major (ldx = cols) or in
 * the packed layout; each column of the full product must equal the same
 * column computed alone (cols 1) and in products of other widths. */
static void gemm_isa(nn_isa isa, int m, int k)
{
	enum { COLS = 100 };
	static const int widths[] = {1, 3, 17, 48, 49, 97};
	nn_packed pw;
	float *w = malloc((size_t)m * k * sizeof *w), *b = malloc(m * sizeof *b);
	float *x = malloc((size_t)k * COLS * sizeof *x);
	float *xs = malloc((size_t)k * COLS * sizeof *xs);
	float *y = malloc((size_t)m * COLS * sizeof *y);
	float *ys = malloc((size_t)m * COLS * sizeof *ys);
	nn_pool *pool = nn_pool_new(2);
	uint32_t seed = 7;

	T_CHECK(w && b && x && xs && y && ys && pool);
	if (!w || !b || !x || !xs || !y || !ys || !pool)
		goto out;
	for (size_t i = 0; i < (size_t)m * k; i++)
		w[i] = rnd(&seed);
	for (int i = 0; i < m; i++)
		b[i] = rnd(&seed);
	for (size_t i = 0; i < (size_t)k * COLS; i++)
		x[i] = rnd(&seed);
	T_EQ_INT(nn_pack(&pw, w, 1, m, k, isa), 0);
	for (size_t i = 0; i < (size_t)m * COLS; i++)
		y[i] = rnd(&seed);
	memcpy(ys, y, (size_t)m * COLS * sizeof *y);
	nn_gemm(&pw, b, x, COLS, 0, y, COLS, 0, COLS, 1, 1, NULL);
	for (int wi = 0; wi < 6; wi++)
	for (int off = 0; off + widths[wi] <= COLS; off += widths[wi]) {
		const int n = widths[wi];
		float *yy = malloc((size_t)m * n * sizeof *yy);
		int same = 1;

		if (!yy)
			break;
		for (int r = 0; r < k; r++)
			memcpy(xs + (size_t)r * n, x + (size_t)r * COLS + off,
			       n * sizeof *xs);
		for (int r = 0; r < m; r++)
			memcpy(yy + (size_t)r * n, ys + (size_t)r * COLS + off,
			       n * sizeof *yy);
		nn_gemm(&pw, b, xs, n, 0, yy, n, 0, n, 1, 1,
		        wi & 1 ? pool : NULL);
		for (int r = 0; r < m; r++)
			same &= !memcmp(yy + (size_t)r * n,
			                y + (size_t)r * COLS + off, n * sizeof *yy);
		if (!same)
			fprintf(stderr, "gemm isa %d m %d k %d: columns %d..%d "
			        "differ alone\n", (int)isa, m, k, off, off + n - 1);
		T_CHECK(same);
		free(yy);
	}
	nn_packed_release(&pw);
out:
	free(w), free(b), free(x), free(xs), free(y), free(ys);
	nn_pool_free(pool);
}

static void test_gemm(void)
{
	const nn_isa best = nn_isa_best();

	for (int isa = NN_GENERIC; isa <= (int)best; isa++) {
		gemm_isa((nn_isa)isa, 13, 70);
		gemm_isa((nn_isa)isa, 16, 600); /* two passes over k */
	}
}

int main(void)
{
	T_RUN(test_gemm);
	T_RUN(test_resnet);
	T_RUN(test_vgg);
	T_RUN(test_densenet);
	return T_DONE();
}
