/* forward_bench.c — natadv's forward pass alone, for bench/score.sh: loads a
 * ResNet from safetensors, prepares one batch size, and after warm-up times
 * runs of at least 32 images of random input. Prints the OpenBLAS kernel on
 * stderr and "images_per_s median best maxrss_kb" on stdout. With --logits
 * it runs N images of raw float32 [N, 3, 224, 224] from IN and writes their
 * logits [N, classes] as raw float32 to OUT (the agreement check). The
 * convolutions and the fc run on natadv's own GEMM kernels (named on
 * stderr); the OpenBLAS kernel printed there runs none of the forward pass.
 * With NATADV_PROFILE=1 in the environment it then runs RUNS more batches
 * with per-op timers on and prints, on stderr, each op's wall-clock and CPU
 * milliseconds per image, its multiply-adds per CPU second and the totals
 * by kind of op (development only). Ops of the early stages run whole
 * images on each thread at once: their wall-clock is summed over threads.
 * Usage: forward_bench MODEL.safetensors BATCH RUNS [THREADS=2]
 *        forward_bench MODEL.safetensors --logits IN N OUT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cblas.h>

#include "filter/net.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The per-op report of NATADV_PROFILE=1: ms per image, by op and by kind. */
static void profile_report(net *m, const float *in, int batch, int runs, float *logits)
{
	static const char *const kinds[] = {"1x1", "im2col", "winograd", "pool", "fc", "bn-relu"};
	enum { NKINDS = sizeof kinds / sizeof kinds[0] };
	double kw[NKINDS] = {0}, kc[NKINDS] = {0}, tw = 0, tc = 0;
	const double per = 1e3 / ((double)runs * batch);
	net_profile(m, 1);
	for (int r = 0; r < runs; r++)
		net_forward(m, in, batch, logits);
	fprintf(stderr, "%-24s %-9s %9s %9s %7s\n", "op", "kind", "wall ms", "cpu ms", "GMAC/s");
	for (int i = 0; i < net_profile_ops(m); i++) {
		const char *kind;
		double w, c, macs;
		const char *name = net_profile_get(m, i, &kind, &macs, &w, &c);
		/* multiply-adds per CPU second (as direct convolutions) */
		fprintf(stderr, "%-24s %-9s %9.3f %9.3f %7.1f\n", name, kind, w * per, c * per,
		        c > 0 ? macs / (c * per * 1e-3) / 1e9 : 0.0);
		for (int k = 0; k < NKINDS; k++)
			if (!strcmp(kind, kinds[k]))
				kw[k] += w * per, kc[k] += c * per;
		tw += w * per, tc += c * per;
	}
	for (int k = 0; k < NKINDS; k++)
		fprintf(stderr, "%-24s %-9s %9.3f %9.3f\n", "total", kinds[k], kw[k], kc[k]);
	fprintf(stderr, "%-24s %-9s %9.3f %9.3f  (per image; %.1f images/s)\n", "total", "all", tw, tc, 1e3 / tw);
	net_profile(m, 0);
}

static int parse(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

/* The agreement check: one forward pass over the images in file in. */
static int run_logits(const char *model, const char *in_path, int n, const char *out_path)
{
	char err[1024];
	net *m = NULL;
	float *in = NULL, *logits = NULL;
	FILE *f = NULL;
	int status = 1;
	size_t n_in = (size_t)n * 3 * 224 * 224, n_out;
	if (net_load_file(&m, model, err, sizeof err) != 0) {
		fprintf(stderr, "forward_bench: cannot load '%s': %s\n", model, err);
		goto out;
	}
	n_out = (size_t)n * (size_t)net_get_info(m)->classes;
	in = malloc(n_in * sizeof *in);
	logits = malloc(n_out * sizeof *logits);
	if (!in || !logits) {
		fprintf(stderr, "forward_bench: out of memory\n");
		goto out;
	}
	f = fopen(in_path, "rb");
	if (!f || fread(in, sizeof *in, n_in, f) != n_in) {
		fprintf(stderr, "forward_bench: cannot read %zu floats from '%s'\n", n_in, in_path);
		goto out;
	}
	fclose(f);
	f = NULL;
	if (net_prepare(m, n, 224, 224) != 0 || net_forward(m, in, n, logits) != 0) {
		fprintf(stderr, "forward_bench: %s\n", net_errmsg(m));
		goto out;
	}
	f = fopen(out_path, "wb");
	if (!f || fwrite(logits, sizeof *logits, n_out, f) != n_out || fclose(f) != 0) {
		f = NULL;
		fprintf(stderr, "forward_bench: cannot write '%s'\n", out_path);
		goto out;
	}
	f = NULL;
	status = 0;
out:
	if (f)
		fclose(f);
	free(logits);
	free(in);
	net_free(m);
	return status;
}

int main(int argc, char **argv)
{
	int batch, runs, threads = 2;
	if (argc == 6 && strcmp(argv[2], "--logits") == 0 && parse(argv[4], 1, 256, &batch) == 0)
		return run_logits(argv[1], argv[3], batch, argv[5]);
	if (argc < 4 || argc > 5 || parse(argv[2], 1, 256, &batch) || parse(argv[3], 1, 1000, &runs) ||
	    (argc == 5 && parse(argv[4], 1, 256, &threads))) {
		fprintf(stderr, "usage: forward_bench MODEL.safetensors BATCH RUNS [THREADS]\n"
		                "       forward_bench MODEL.safetensors --logits IN N OUT\n");
		return 2;
	}
	char err[1024];
	net *m = NULL;
	float *in = NULL, *logits = NULL;
	double *rates = NULL;
	int status = 1;
	if (net_load_file(&m, argv[1], err, sizeof err) != 0) {
		fprintf(stderr, "forward_bench: cannot load '%s': %s\n", argv[1], err);
		goto out;
	}
	if (net_set_threads(m, threads) != 0 || net_prepare(m, batch, 224, 224) != 0) {
		fprintf(stderr, "forward_bench: %s\n", net_errmsg(m));
		goto out;
	}
	fprintf(stderr, "forward_bench: %s, batch %d, arena %.1f MB, kernel %s, %d threads, %s, natadv GEMM %s\n",
	        net_get_info(m)->arch, batch, (double)net_arena_bytes(m) / 1e6, openblas_get_corename(),
	        openblas_get_num_threads(), openblas_get_config(), net_kernels(m));
	size_t n_in = (size_t)batch * 3 * 224 * 224;
	in = malloc(n_in * sizeof *in);
	logits = malloc((size_t)batch * (size_t)net_get_info(m)->classes * sizeof *logits);
	rates = malloc((size_t)runs * sizeof *rates);
	if (!in || !logits || !rates) {
		fprintf(stderr, "forward_bench: out of memory\n");
		goto out;
	}
	unsigned x = 12345;
	for (size_t i = 0; i < n_in; i++) { /* uniform in [-2, 2), like the peers' inputs */
		x = x * 1664525u + 1013904223u;
		in[i] = (float)(x >> 8) * (4.0f / 16777216.0f) - 2.0f;
	}
	int per_run = batch >= 32 ? 1 : 32 / batch;
	int warm = batch < 8 ? 2 : 1;
	for (int i = 0; i < warm; i++) {
		if (net_forward(m, in, batch, logits) != 0) {
			fprintf(stderr, "forward_bench: %s\n", net_errmsg(m));
			goto out;
		}
	}
	for (int r = 0; r < runs; r++) {
		double t0 = now();
		for (int i = 0; i < per_run; i++)
			net_forward(m, in, batch, logits);
		rates[r] = (double)per_run * batch / (now() - t0);
	}
	qsort(rates, (size_t)runs, sizeof *rates, cmp_double);
	double median = runs % 2 ? rates[runs / 2] : (rates[runs / 2 - 1] + rates[runs / 2]) / 2;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("%.2f %.2f %ld\n", median, rates[runs - 1], ru.ru_maxrss);
	fflush(stdout);
	const char *prof = getenv("NATADV_PROFILE");
	if (prof && strcmp(prof, "0") != 0)
		profile_report(m, in, batch, runs * per_run, logits);
	status = 0;
out:
	free(rates);
	free(logits);
	free(in);
	net_free(m);
	return status;
}
