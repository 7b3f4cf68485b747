/* eval.c — accuracy, RMS calibration error and AURRA the way ImageNet-A's
 * evaluation code computes them, reading a release folder, and classifying
 * it with the logits restricted to the release's classes (the columns of the
 * 1000 logits that eval.py keeps with indices_in_1k). */
#include "filter/eval.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/text.h"
#include "filter/filter.h"
#include "packager/packager.h"

/* ---- metrics ---- */

double eval_accuracy(const int *correct, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += correct[i] != 0;
	return n ? (double)k / (double)n : 0.0;
}

/* Ascending by confidence, ties by index: a stable argsort. */
static int cmp_conf(const void *a, const void *b, void *ctx)
{
	const double *c = ctx;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	if (c[x] != c[y])
		return c[x] < c[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

static size_t *argsort(const double *confidence, size_t n)
{
	size_t *idx = malloc(sizeof *idx * (n ? n : 1));
	if (!idx)
		return NULL;
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof *idx, cmp_conf, (void *)confidence);
	return idx;
}

int eval_calib_rms(const double *confidence, const int *correct, size_t n, size_t beta, double *out)
{
	*out = NAN;
	if (beta == 0 || n < beta)
		return NATADV_EINVAL;
	size_t *idx = argsort(confidence, n);
	if (!idx)
		return NATADV_ENOMEM;
	size_t nbins = n / beta;
	double cerr = 0;
	/* Bins [i*beta, (i+1)*beta) with the last one running to n; the original's
	 * loop stops before the last bin, and so does this one. */
	for (size_t b = 0; b + 1 < nbins; b++) {
		size_t lo = b * beta, hi = (b + 1) * beta;
		double conf = 0, acc = 0;
		for (size_t i = lo; i < hi; i++) {
			conf += confidence[idx[i]];
			acc += correct[idx[i]] != 0;
		}
		double diff = fabs(conf / (double)(hi - lo) - acc / (double)(hi - lo));
		cerr += (double)(hi - lo) / (double)n * diff * diff;
	}
	free(idx);
	*out = sqrt(cerr);
	return 0;
}

int eval_aurra(const double *confidence, const int *correct, size_t n, double *out)
{
	*out = NAN;
	if (n == 0)
		return 0;
	size_t *idx = argsort(confidence, n);
	if (!idx)
		return NATADV_ENOMEM;
	double hits = 0, sum = 0;
	for (size_t k = 0; k < n; k++) {
		hits += correct[idx[n - 1 - k]] != 0;
		sum += hits / (double)(k + 1);
	}
	free(idx);
	*out = sum / (double)n;
	return 0;
}

/* ---- reading a release ---- */

static int is_dir(const char *dir, const char *name)
{
	char path[8192];
	struct stat sb;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names of dir's entries (without . and ..); free with free_names. */
static int list_dir(const char *dir, char ***out, size_t *n, char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d) {
		natadv_errf(err, errlen, "cannot open '%s': %s", dir, strerror(errno));
		return errno == ENOENT ? NATADV_ENOTFOUND : NATADV_EIO;
	}
	char **v = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (len == cap) {
			cap = cap ? 2 * cap : 64;
			char **grown = realloc(v, sizeof *v * cap);
			if (!grown) {
				rc = NATADV_ENOMEM;
				break;
			}
			v = grown;
		}
		if (!(v[len] = strdup(e->d_name))) {
			rc = NATADV_ENOMEM;
			break;
		}
		len++;
	}
	closedir(d);
	if (rc) {
		for (size_t i = 0; i < len; i++)
			free(v[i]);
		free(v);
		natadv_errf(err, errlen, "out of memory");
		return rc;
	}
	if (len)
		qsort(v, len, sizeof *v, cmp_str);
	*out = v;
	*n = len;
	return 0;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int add_class(eval_release *r, const char *wnid, int64_t index_1k, const char *name)
{
	eval_class *grown = realloc(r->classes, sizeof *grown * (size_t)(r->nclasses + 1));
	if (!grown)
		return NATADV_ENOMEM;
	r->classes = grown;
	eval_class *c = &r->classes[r->nclasses++];
	snprintf(c->wnid, sizeof c->wnid, "%s", wnid);
	c->index_1k = index_1k;
	snprintf(c->name, sizeof c->name, "%s", name ? name : "");
	return 0;
}

/* DIR/classes.tsv (pkg_classes_read), whose labels must be 0, 1, ... in
 * order: label i is the i-th class. */
static int read_classes_tsv(const char *path, eval_release *r, char *err, size_t errlen)
{
	pkg_class_row *rows;
	int n;
	int rc = pkg_classes_read(path, &rows, &n, NULL, err, errlen);
	for (int i = 0; !rc && i < n; i++) {
		if (rows[i].label != i) {
			natadv_errf(err, errlen, "cannot read '%s' line %ld: label %lld, expected %d", path, rows[i].line,
			            (long long)rows[i].label, i);
			rc = NATADV_EFORMAT;
		} else if ((rc = add_class(r, rows[i].wnid, rows[i].index_1k, rows[i].name)) != 0) {
			natadv_errf(err, errlen, "out of memory");
		}
	}
	free(rows);
	return rc;
}

static int class_of(const eval_release *r, const char *wnid)
{
	for (int i = 0; i < r->nclasses; i++)
		if (!strcmp(r->classes[i].wnid, wnid))
			return i;
	return -1;
}

/* Counts dir's subfolders that are classes of r (any wnid when r has none). */
static int count_class_dirs(const char *dir, const eval_release *r, char **names, size_t n)
{
	int k = 0;
	for (size_t i = 0; i < n; i++)
		if (text_is_wnid(names[i]) && (r->nclasses == 0 || class_of(r, names[i]) >= 0) && is_dir(dir, names[i]))
			k++;
	return k;
}

/* Finds the folder holding the class subfolders: dir itself or one child. */
static int find_folder(const char *dir, eval_release *r, char *err, size_t errlen)
{
	char **names;
	size_t n;
	int rc = list_dir(dir, &names, &n, err, errlen);
	if (rc)
		return rc;
	int found = 0;
	if (count_class_dirs(dir, r, names, n) > 0) {
		snprintf(r->folder, sizeof r->folder, "%s", dir);
		found = 1;
	}
	for (size_t i = 0; !found && i < n; i++) {
		char sub[8192];
		snprintf(sub, sizeof sub, "%s/%s", dir, names[i]);
		if (text_is_wnid(names[i]) || !is_dir(dir, names[i]))
			continue;
		char **inner;
		size_t m;
		if (list_dir(sub, &inner, &m, err, errlen) != 0)
			continue;
		if (count_class_dirs(sub, r, inner, m) > 0) {
			if (found++) {
				natadv_errf(err, errlen, "'%s' has more than one folder of class folders", dir);
				rc = NATADV_EFORMAT;
			} else {
				snprintf(r->folder, sizeof r->folder, "%s", sub);
			}
		}
		free_names(inner, m);
	}
	free_names(names, n);
	if (!rc && !found) {
		natadv_errf(err, errlen, "no class folders (named by wnid) in '%s' or its subfolders", dir);
		rc = NATADV_ENOTFOUND;
	}
	return rc;
}

static int has_image_ext(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png"));
}

static int add_image(eval_release *r, const char *path, int label, size_t *cap)
{
	if (r->nimages == *cap) {
		size_t c = *cap ? 2 * *cap : 1024;
		char **p = realloc(r->paths, sizeof *p * c);
		if (!p)
			return NATADV_ENOMEM;
		r->paths = p;
		int *l = realloc(r->labels, sizeof *l * c);
		if (!l)
			return NATADV_ENOMEM;
		r->labels = l;
		*cap = c;
	}
	if (!(r->paths[r->nimages] = strdup(path)))
		return NATADV_ENOMEM;
	r->labels[r->nimages++] = label;
	return 0;
}

/* Lists the images of every class folder, by label then file name, and
 * refuses class folders the class list does not know. */
static int list_images(eval_release *r, char *err, size_t errlen)
{
	char **names;
	size_t n, cap = 0;
	int rc = list_dir(r->folder, &names, &n, err, errlen);
	for (size_t i = 0; !rc && i < n; i++)
		if (is_dir(r->folder, names[i]) && class_of(r, names[i]) < 0) {
			natadv_errf(err, errlen, "folder '%s/%s' is not a class of the release", r->folder, names[i]);
			rc = NATADV_EFORMAT;
		}
	free_names(names, n);
	for (int c = 0; !rc && c < r->nclasses; c++) {
		char dir[8192];
		snprintf(dir, sizeof dir, "%s/%s", r->folder, r->classes[c].wnid);
		if (!is_dir(r->folder, r->classes[c].wnid))
			continue; /* an empty class (a partial release) */
		if ((rc = list_dir(dir, &names, &n, err, errlen)) != 0)
			break;
		for (size_t i = 0; !rc && i < n; i++) {
			char path[8448];
			snprintf(path, sizeof path, "%s/%s", dir, names[i]);
			if (!has_image_ext(names[i]) || is_dir(dir, names[i])) {
				r->skipped++;
				continue;
			}
			if ((rc = add_image(r, path, c, &cap)) != 0)
				natadv_errf(err, errlen, "out of memory");
		}
		free_names(names, n);
	}
	return rc;
}

/* Classes from the sorted wnid subfolders of r->folder, 1K indices from s. */
static int classes_from_folders(store *s, eval_release *r, char *err, size_t errlen)
{
	store_member *k1 = NULL;
	int nk1 = 0;
	char **names;
	size_t n;
	int rc = list_dir(r->folder, &names, &n, err, errlen);
	if (rc)
		return rc;
	if ((rc = store_set_members(s, "imagenet-1k", &k1, &nk1)) != 0)
		natadv_errf(err, errlen, "%s", store_errmsg(s));
	for (size_t i = 0; !rc && i < n; i++) {
		if (!is_dir(r->folder, names[i]))
			continue;
		const store_member *m = NULL;
		for (int k = 0; k < nk1 && !m; k++)
			if (!strcmp(k1[k].wnid, names[i]))
				m = &k1[k];
		if (!m) {
			natadv_errf(err, errlen, "folder '%s/%s' is not an ImageNet-1K class", r->folder, names[i]);
			rc = NATADV_EFORMAT;
		} else if ((rc = add_class(r, m->wnid, m->index_1k, m->name)) != 0) {
			natadv_errf(err, errlen, "out of memory");
		}
	}
	free(k1);
	free_names(names, n);
	return rc;
}

int eval_release_open(store *s, const char *dir, eval_release *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	char tsv[8192];
	struct stat sb;
	snprintf(tsv, sizeof tsv, "%s/classes.tsv", dir);
	int rc = 0;
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		natadv_errf(err, errlen, "'%s' is not a folder", dir);
		return NATADV_ENOTFOUND;
	}
	if (stat(tsv, &sb) == 0) {
		r->from_tsv = 1;
		rc = read_classes_tsv(tsv, r, err, errlen);
		if (!rc)
			rc = find_folder(dir, r, err, errlen);
	} else {
		rc = find_folder(dir, r, err, errlen);
		if (!rc)
			rc = classes_from_folders(s, r, err, errlen);
	}
	if (!rc)
		rc = list_images(r, err, errlen);
	if (rc)
		eval_release_free(r);
	return rc;
}

void eval_release_free(eval_release *r)
{
	for (size_t i = 0; i < r->nimages; i++)
		free(r->paths[i]);
	free(r->paths);
	free(r->labels);
	free(r->classes);
	memset(r, 0, sizeof *r);
}

/* ---- classifying a release ---- */

/* What eval_run gathers from filter_classify_files. */
struct scoring {
	const eval_release *r;
	eval_result *out;
	int *by_image;
	void (*on_fail)(void *ctx, const char *path, const char *why);
	void *ctx;
	int *subset;          /* 1K index of each class of the release */
	double *conf;         /* per image classified: the subset argmax's probability */
	int *correct;         /* and whether it is the label */
};

static void score_one(void *ctx, size_t i, const float *logits, int classes)
{
	struct scoring *sc = ctx;
	filter_pred p;
	filter_predict(logits, classes, sc->subset, sc->r->nclasses, &p);
	sc->conf[sc->out->n] = p.subset_p;
	sc->correct[sc->out->n] = p.subset_pos == sc->r->labels[i];
	if (sc->by_image)
		sc->by_image[i] = sc->correct[sc->out->n];
	sc->out->n++;
}

static void fail_one(void *ctx, size_t i, const char *why)
{
	struct scoring *sc = ctx;
	sc->out->failed++;
	if (sc->on_fail)
		sc->on_fail(sc->ctx, sc->r->paths[i], why);
}

int eval_run(net *m, const eval_release *r, int batch, const volatile sig_atomic_t *stop,
             void (*on_fail)(void *ctx, const char *path, const char *why), void *ctx,
             eval_result *out, int *by_image, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (by_image)
		for (size_t i = 0; i < r->nimages; i++)
			by_image[i] = -1;
	out->accuracy = out->rms_calibration_error = out->aurra = NAN;
	int classes = net_get_info(m)->classes;
	for (int c = 0; c < r->nclasses; c++) {
		if (r->classes[c].index_1k < 0 || r->classes[c].index_1k >= classes) {
			natadv_errf(err, errlen, "class '%s' (1K index %lld) has no output in a model of %d classes",
			            r->classes[c].wnid, (long long)r->classes[c].index_1k, classes);
			return NATADV_EINVAL;
		}
	}
	size_t nimg = r->nimages ? r->nimages : 1;
	int rc = 0;
	struct scoring sc = {r, out, by_image, on_fail, ctx, malloc(sizeof(int) * (size_t)r->nclasses),
	                     malloc(sizeof(double) * nimg), malloc(sizeof(int) * nimg)};
	if (!sc.subset || !sc.conf || !sc.correct) {
		rc = NATADV_ENOMEM;
		natadv_errf(err, errlen, "out of memory");
		goto out;
	}
	for (int c = 0; c < r->nclasses; c++)
		sc.subset[c] = (int)r->classes[c].index_1k;
	filter_classify_opts o = {.batch = batch, .fast = 0};
	filter_classify_cb cb = {score_one, fail_one, NULL};
	rc = filter_classify_files(m, (const char *const *)r->paths, r->nimages, &o, stop, &cb, &sc, err, errlen);
	if (rc)
		goto out;
	double *conf = sc.conf;
	int *correct = sc.correct;
	if (out->n) {
		out->accuracy = eval_accuracy(correct, out->n);
		if ((rc = eval_aurra(conf, correct, out->n, &out->aurra)) != 0) {
			natadv_errf(err, errlen, "out of memory");
			goto out;
		}
		rc = eval_calib_rms(conf, correct, out->n, EVAL_CALIB_BETA, &out->rms_calibration_error);
		if (rc == NATADV_EINVAL)
			rc = 0; /* fewer than 100 images: undefined, as in the original */
		else if (rc)
			natadv_errf(err, errlen, "out of memory");
	}
out:
	free(sc.correct);
	free(sc.conf);
	free(sc.subset);
	return rc;
}

/* ---- the self-check: the filter model on its own release ---- */

/* Whether a manifest line's selection_rule ("<rule> <params JSON>") chose
 * in the subset space (the default when the params do not say). */
static int rule_is_subset(const char *rule)
{
	const char *sp = rule ? strchr(rule, ' ') : NULL;
	if (!sp)
		return 1;
	json_t *params = json_loads(sp + 1, 0, NULL);
	const char *space = json_string_value(json_object_get(params, "space"));
	int subset = !space || strcmp(space, "subset") == 0;
	json_decref(params);
	return subset;
}

/* The last two components of a path with the slash before them
 * ("/<wnid>/<file>"), or the whole path when it has fewer. */
static const char *class_file_tail(const char *path)
{
	const char *last = strrchr(path, '/');
	if (!last)
		return path;
	const char *prev = last;
	while (prev > path && prev[-1] != '/')
		prev--;
	return prev > path ? prev - 1 : path;
}

typedef struct tail_ref {
	const char *tail;
	size_t image;
} tail_ref;

static int tail_cmp(const void *a, const void *b)
{
	return strcmp(((const tail_ref *)a)->tail, ((const tail_ref *)b)->tail);
}

/* The release's manifest.jsonl: in dir, or beside r's folder (dir may be
 * the release's inner folder). 0 with *m NULL when there is none. */
static int read_manifest(const eval_release *r, const char *dir, pkg_manifest **m, char *path, size_t cap,
                         char *err, size_t errlen)
{
	*m = NULL;
	struct stat sb;
	snprintf(path, cap, "%s/manifest.jsonl", dir);
	if (stat(path, &sb) != 0)
		snprintf(path, cap, "%s/../manifest.jsonl", r->folder);
	if (stat(path, &sb) != 0)
		return 0;
	return pkg_manifest_read(path, m, err, errlen);
}

int eval_self_check(const eval_release *r, const char *dir, const char *model_id, const int *by_image,
                    eval_self_check_result *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	char path[8192];
	pkg_manifest *m = NULL;
	int rc = read_manifest(r, dir, &m, path, sizeof path, err, errlen);
	if (rc || !m)
		return rc;
	out->manifest = 1;
	/* the release's images by "/<wnid>/<file>", for a binary search per line */
	tail_ref *tails = malloc((r->nimages ? r->nimages : 1) * sizeof *tails);
	if (!tails) {
		pkg_manifest_free(m);
		natadv_errf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	for (size_t i = 0; i < r->nimages; i++)
		tails[i] = (tail_ref){class_file_tail(r->paths[i]), i};
	qsort(tails, r->nimages, sizeof *tails, tail_cmp);
	for (int i = 0; i < m->n; i++) {
		const pkg_manifest_item *it = &m->items[i];
		if (it->error) {
			natadv_errf(err, errlen, "cannot read '%s' line %ld: %s", path, it->line, it->error);
			rc = NATADV_EFORMAT;
			break;
		}
		if (!it->model_id || !it->path || !model_id || strcmp(it->model_id, model_id) != 0)
			continue;
		out->filter_model = 1;
		/* A converted image (PNG to JPEG) is not the pixels the model
		 * judged, and a 1k-space choice can be right over the subset. */
		tail_ref key = {class_file_tail(it->path), 0};
		const tail_ref *hit = NULL;
		if (!it->converted && rule_is_subset(it->selection_rule) && key.tail != it->path)
			hit = bsearch(&key, tails, r->nimages, sizeof *tails, tail_cmp);
		if (hit && by_image[hit->image] >= 0) {
			out->checked++;
			if (by_image[hit->image] && out->right++ == 0)
				snprintf(out->first_right, sizeof out->first_right, "%s", it->path);
		}
	}
	free(tails);
	pkg_manifest_free(m);
	return rc;
}
