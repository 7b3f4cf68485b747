/* golden.h — what the networks' unit tests share: the path of a file under
 * tests/golden, reading a float tensor of a safetensors file, the top-5
 * indices of a row of logits, the golden criterion and the checks of
 * malformed weights. Header-only, for the test programs. */
#ifndef NATADV_TESTS_GOLDEN_H
#define NATADV_TESTS_GOLDEN_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "filter/safetensors.h"
#include "tests/t.h"
#include "tests/unit/st_build.h"

/* The path of file under tests/golden, from the repository root or else
 * from this header's folder; in a static buffer, valid until the next call. */
static inline const char *golden_path(const char *file)
{
	static char golden[512];
	char cand[512];

	snprintf(cand, sizeof cand, "tests/golden/%s", file);
	if (access(cand, R_OK)) {
		const char *slash = strrchr(__FILE__, '/');
		int len = slash ? (int)(slash - __FILE__) : 0;

		snprintf(cand, sizeof cand, "%.*s/../golden/%s", len, __FILE__, file);
	}
	snprintf(golden, sizeof golden, "%s", cand);
	return golden;
}

/* The tensor name of f as floats, malloc'ed (the caller frees), with its
 * element count in *n when n is not NULL; NULL when missing or unreadable. */
static inline float *golden_tensor(const st_file *f, const char *name, size_t *n)
{
	const st_tensor *t = st_find(f, name);
	char err[256];
	float *v;

	if (!t)
		return NULL;
	v = malloc(t->nelem * sizeof *v);
	if (v && st_read_f32(t, v, err, sizeof err)) {
		free(v);
		return NULL;
	}
	if (n)
		*n = t->nelem;
	return v;
}

/* The indices of the 5 largest of x[0..classes) into out, largest first
 * (the first index wins a tie). */
static inline void golden_top5(const float *x, int classes, int *out)
{
	for (int k = 0; k < 5; k++) {
		int best = -1;

		for (int j = 0; j < classes; j++) {
			int taken = 0;

			for (int q = 0; q < k; q++)
				taken |= out[q] == j;
			if (!taken && (best < 0 || x[j] > x[best]))
				best = j;
		}
		out[k] = best;
	}
}

/* The golden criterion, image by image, over n rows of classes logits:
 * max |got - want| within 1e-3 of max |want| and the same top-5 in the same
 * order (a T_CHECK each; a line per image on stdout, tagged tag). Returns
 * the worst ratio of the two maxima. */
static inline double golden_compare(const char *tag, const float *got, const float *want, int n, int classes)
{
	double worst = 0;

	for (int i = 0; i < n; i++) {
		const float *g = got + (size_t)i * classes, *w = want + (size_t)i * classes;
		double maxd = 0, maxw = 0;
		int tg[5], tw[5];

		for (int j = 0; j < classes; j++) {
			maxd = fmax(maxd, fabs((double)g[j] - w[j]));
			maxw = fmax(maxw, fabs(w[j]));
		}
		golden_top5(g, classes, tg);
		golden_top5(w, classes, tw);
		printf("%s[%d]: max |diff| %.3g, max |logit| %.3g (ratio %.2g), "
		       "top-5 %d %d %d %d %d\n", tag, i, maxd, maxw, maxd / maxw,
		       tg[0], tg[1], tg[2], tg[3], tg[4]);
		T_CHECK(maxd <= 1e-3 * maxw);
		T_CHECK(!memcmp(tg, tw, sizeof tg));
		worst = fmax(worst, maxd / maxw);
	}
	return worst;
}

/* The safetensors file under tests/golden named file, rebuilt in memory
 * without the tensor drop and with repl in place of the tensor of its name
 * (appended when there is none); either may be NULL. Returns the bytes,
 * malloc'ed (the caller frees), with their count in *size, or NULL when the
 * file cannot be read (message in err). */
static inline unsigned char *golden_edited(const char *file, const char *drop, const stb_tensor *repl,
                                           size_t *size, char *err, size_t errlen)
{
	st_file *src = NULL;
	size_t n = 0, cnt;
	int replaced = 0;

	if (st_open(&src, golden_path(file), err, errlen))
		return NULL;
	cnt = st_count(src);
	stb_tensor *t = calloc(cnt + 1, sizeof *t);
	for (size_t i = 0; t && i < cnt; i++) {
		const st_tensor *g = st_get(src, i);

		if (drop && !strcmp(g->name, drop))
			continue;
		if (repl && !strcmp(g->name, repl->name)) {
			t[n++] = *repl;
			replaced = 1;
			continue;
		}
		t[n] = (stb_tensor){.name = g->name, .dtype = st_dtype_name(g->dtype),
		                    .ndim = g->ndim, .data = g->data,
		                    .nbytes = g->nbytes};
		memcpy(t[n].shape, g->shape, sizeof g->shape);
		n++;
	}
	if (t && repl && !replaced)
		t[n++] = *repl;
	unsigned char *mem = t ? stb_build(t, n, NULL, 0, size) : NULL;
	free(t);
	st_free(src);
	return mem;
}

/* Loads the golden file named file rebuilt by golden_edited (drop, repl)
 * with load, which must fail with NATADV_EFORMAT, return no model and say
 * exactly want; else a failed check naming line. load(f, err, errlen,
 * &made) sets made when its loader returned a model (and frees it). */
static inline void golden_expect_load_error(const char *file, const char *drop, const stb_tensor *repl,
                                            const char *want, int line,
                                            int (*load)(const st_file *f, char *err, size_t errlen, int *made))
{
	char err[512] = "";
	st_file *f = NULL;
	size_t size = 0;
	int made = 0, rc;
	unsigned char *mem = golden_edited(file, drop, repl, &size, err, sizeof err);

	if (!mem) {
		T_CHECK(0);
		return;
	}
	T_EQ_INT(st_open_mem(&f, mem, size, err, sizeof err), 0);
	err[0] = 0;
	rc = f ? load(f, err, sizeof err, &made) : -1;
	if (rc != NATADV_EFORMAT || made || strcmp(err, want)) {
		fprintf(stderr, "line %d: rc %d, error '%s', expected '%s'\n", line, rc, err, want);
		t_failed_checks++;
	}
	st_free(f);
	free(mem);
}

#endif
