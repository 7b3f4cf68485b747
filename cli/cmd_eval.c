/* cmd_eval.c — `natadv eval --model M[,M2...] [--json] RELEASE_DIR`: top-1
 * accuracy, RMS calibration error and AURRA of each model on a release, with
 * the logits restricted to the release's classes, as ImageNet-A's eval.py
 * does; with --ood --in-dist DIR, ImageNet-O's AUROC, AUPR and FPR95 of the
 * release's photos against in-distribution ones (eval_many_models.py). Each
 * image is decoded once for all the models. */
#include "cli/cli.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "common/err.h"
#include "filter/eval.h"

#define MAX_MODELS 16

static void help(void)
{
	printf("usage: natadv eval --model M[,M2...] [--json] [--batch N] [--threads N] RELEASE_DIR\n"
	       "       natadv eval --model M[,M2...] --ood RELEASE_DIR --in-dist DIR [--json] ...\n\n"
	       "Classifies every image of a release (RELEASE_DIR/classes.tsv and\n"
	       "RELEASE_DIR/<folder>/<wnid>/*.jpg, or the <folder> itself, whose sorted wnid\n"
	       "subfolders are then the classes) with each model (names of the workspace or\n"
	       "safetensors files, at most %d, comma-separated; each image is decoded once\n"
	       "for all of them) and reports, with the logits restricted to the release's\n"
	       "classes as ImageNet-A's evaluation code does, one row per model:\n"
	       "  accuracy               top-1 accuracy\n"
	       "  rms_calibration_error  RMS calibration error with bins of 100 examples by\n"
	       "                         confidence (max softmax probability), computed as the\n"
	       "                         original calib_err does, which leaves the last bin out\n"
	       "                         (so 0 for 100-199 images) and fails below 100 images:\n"
	       "                         then null\n"
	       "  aurra                  area under the response rate accuracy curve\n"
	       "--json prints one line per model (JSON Lines):\n"
	       "  {\"model\":..,\"n\":..,\"accuracy\":..,\"rms_calibration_error\":..,\"aurra\":..}\n"
	       "--ood: the release holds out-of-distribution photos (ImageNet-O) and DIR\n"
	       "(--in-dist, ImageFolder-style DIR/<wnid>/*) in-distribution ones of the\n"
	       "release's classes. Each photo is scored by its max softmax probability (MSP)\n"
	       "over all the release's classes; OOD photos are the positive class with score\n"
	       "-MSP, as eval_many_models.py and calibration_tools.get_measures do:\n"
	       "  auroc   area under the ROC curve (sklearn roc_auc_score)\n"
	       "  aupr    average precision, OOD positive (sklearn average_precision_score)\n"
	       "  fpr95   share of in-distribution photos flagged at the recall nearest 95%%\n"
	       "--json: {\"model\":..,\"n_ood\":..,\"n_in\":..,\"auroc\":..,\"aupr\":..,\"fpr95\":..}\n"
	       "Self-check: when the release's manifest.jsonl names a model (by the SHA-256\n"
	       "of its weights) as the one that selected the images, every such image (not\n"
	       "converted from PNG, chosen over the set's classes) must still be classified\n"
	       "wrong (with --ood: still have an MSP of at least the selection's\n"
	       "--min-confidence); the report says so (\"self_check\" in --json) and the exit\n"
	       "status is 1 if not, since scoring and evaluation then disagree. Exit status\n"
	       "3 when some images could not be read (they are left out of the figures).\n",
	       MAX_MODELS);
}

static void on_fail(void *ctx, const char *path, const char *why)
{
	(void)ctx;
	cli_error("cannot evaluate '%s': %s", path, why);
}

/* A figure for --json: null when undefined; a whole number without a
 * fraction (as "%.6g" writes it), else a real of 6 significant digits. */
static json_t *metric_json(double v)
{
	if (isnan(v))
		return json_null();
	if (v == floor(v) && fabs(v) < 1e6)
		return json_integer((json_int_t)v);
	return json_real(v);
}

/* A figure for the table: a percentage with two decimals, or n/a. */
static const char *pct(double v, char out[32])
{
	if (isnan(v))
		snprintf(out, 32, "n/a");
	else
		snprintf(out, 32, "%.2f%%", 100 * v);
	return out;
}

/* What one evaluation holds: the models, the release and its predictions. */
struct job {
	int json, nm, width;
	const char *names[MAX_MODELS];
	char ids[MAX_MODELS][65];
	struct net *m[MAX_MODELS];
	const char *dir, *in_dir;
	eval_release rel, in;
	eval_preds p, pin;
	int self_failed;
};

/* The --model list: one file (whose name may hold a comma) or a comma list
 * of distinct names or files. list is a writable copy the names point into. */
static int split_models(struct job *j, char *list)
{
	struct stat sb;
	if (stat(list, &sb) == 0 && S_ISREG(sb.st_mode)) {
		j->names[0] = list;
		j->nm = 1;
	} else if ((j->nm = cli_split_list(list, j->names, MAX_MODELS)) < 0) {
		return cli_usage("eval", "--model takes at most %d models", MAX_MODELS);
	}
	if (j->nm == 0)
		return cli_usage("eval", "--model NAME|FILE is required");
	j->width = 5;
	for (int k = 0; k < j->nm; k++) {
		for (int q = 0; q < k; q++)
			if (!strcmp(j->names[q], j->names[k]))
				return cli_usage("eval", "model '%s' is given twice", j->names[k]);
		if ((int)strlen(j->names[k]) > j->width)
			j->width = (int)strlen(j->names[k]);
	}
	return EXIT_OK;
}

/* Runs the self-check of model k; prints what it found (text) or adds it
 * to o. EXIT_OK, or EXIT_FAIL when it could not run. */
static int self_check(struct job *j, int k, int ood, json_t *o)
{
	char err[1024];
	eval_self_check_result sc;
	if (eval_self_check(&j->rel, j->dir, j->ids[k], &j->p, k, ood, &sc, err, sizeof err) != 0) {
		cli_error("self-check: %s", err);
		return EXIT_FAIL;
	}
	if (!sc.filter_model)
		return EXIT_OK;
	int failed = sc.failed > 0;
	if (o)
		json_object_set_new(o, "self_check",
		                    json_pack("{s:b, s:I, s:I, s:b}", "filter_model", 1, "checked", (json_int_t)sc.checked,
		                              ood ? "below_threshold" : "right", (json_int_t)sc.failed, "passed", !failed));
	else if (ood)
		printf("self-check %s: %s: %zu of its %zu images at or above the selection's threshold\n", j->names[k],
		       failed ? "FAILED" : "passed", sc.checked - sc.failed, sc.checked);
	else
		printf("self-check %s: %s: %zu of its %zu images wrong, as selected\n", j->names[k],
		       failed ? "FAILED" : "passed", sc.checked - sc.failed, sc.checked);
	if (failed && ood)
		cli_error("self-check failed: model '%s' selected the release's images with an MSP at or above the "
		          "threshold, but now %zu of %zu are below it (first: '%s'); scoring and evaluation disagree",
		          j->names[k], sc.failed, sc.checked, sc.first_failed);
	else if (failed)
		cli_error("self-check failed: model '%s' selected the release's images as mistakes, but now gets %zu of "
		          "%zu right (first: '%s'); scoring and evaluation disagree",
		          j->names[k], sc.failed, sc.checked, sc.first_failed);
	j->self_failed |= failed;
	return EXIT_OK;
}

/* Prints one model's line (JSON) or table row, then its self-check. */
static int report_model(struct job *j, int k, int ood)
{
	json_t *o = NULL;
	char a[32], b[32], d[32];
	if (j->json && !(o = json_pack("{s:s}", "model", j->names[k]))) {
		cli_error("out of memory");
		return EXIT_FAIL;
	}
	if (ood) {
		eval_ood_figures f;
		int rc = eval_ood_figures_of(&j->p, &j->pin, k, &f);
		if (rc) {
			json_decref(o);
			cli_error("model '%s': %s", j->names[k],
			          rc == NATADV_EINVAL ? "no OOD or no in-distribution image could be read" : "out of memory");
			return EXIT_FAIL;
		}
		if (o) {
			json_object_set_new(o, "n_ood", json_integer((json_int_t)f.n_ood));
			json_object_set_new(o, "n_in", json_integer((json_int_t)f.n_in));
			json_object_set_new(o, "auroc", metric_json(f.m.auroc));
			json_object_set_new(o, "aupr", metric_json(f.m.aupr));
			json_object_set_new(o, "fpr95", metric_json(f.m.fpr));
		} else {
			printf("%-*s %7zu %7zu %8s %8s %8s\n", j->width, j->names[k], f.n_ood, f.n_in, pct(f.m.auroc, a),
			       pct(f.m.aupr, b), pct(f.m.fpr, d));
		}
	} else {
		eval_result r;
		if (eval_metrics(&j->rel, &j->p, k, &r) != 0) {
			json_decref(o);
			cli_error("out of memory");
			return EXIT_FAIL;
		}
		if (o) {
			json_object_set_new(o, "n", json_integer((json_int_t)r.n));
			json_object_set_new(o, "accuracy", metric_json(r.accuracy));
			json_object_set_new(o, "rms_calibration_error", metric_json(r.rms_calibration_error));
			json_object_set_new(o, "aurra", metric_json(r.aurra));
		} else {
			printf("%-*s %7zu %9s %22s %8s\n", j->width, j->names[k], r.n, pct(r.accuracy, a),
			       pct(r.rms_calibration_error, b), pct(r.aurra, d));
		}
	}
	/* in text, the self-check lines come after the table */
	int rc = o ? self_check(j, k, ood, o) : EXIT_OK;
	if (o && cli_json_put(o, JSON_REAL_PRECISION(6))) {
		cli_error("cannot print the report: out of memory");
		return EXIT_FAIL;
	}
	return rc;
}

/* Every model's figures, then (text) the self-checks under the table. */
static int report(struct job *j, int ood)
{
	if (!j->json) {
		printf("release %s: %d classes (%s), %zu images\n", j->rel.folder, j->rel.nclasses,
		       j->rel.from_tsv ? "classes.tsv" : "sorted class folders", j->rel.nimages);
		if (ood)
			printf("in-distribution %s: %zu images\n\n%-*s %7s %7s %8s %8s %8s\n", j->in.folder, j->in.nimages,
			       j->width, "model", "n_ood", "n_in", "auroc", "aupr", "fpr95");
		else
			printf("\n%-*s %7s %9s %22s %8s\n", j->width, "model", "n", "accuracy", "rms_calibration_error",
			       "aurra");
	}
	for (int k = 0; k < j->nm; k++)
		if (report_model(j, k, ood) != EXIT_OK)
			return EXIT_FAIL;
	for (int k = 0; !j->json && k < j->nm; k++)
		if (self_check(j, k, ood, NULL) != EXIT_OK)
			return EXIT_FAIL;
	return j->self_failed ? EXIT_FAIL : EXIT_OK;
}

/* Reads the release (and the in-distribution folder) and classifies them. */
static int classify(struct job *j, store *st, int batch)
{
	char err[1024];
	if (eval_release_open(st, j->dir, &j->rel, err, sizeof err) != 0) {
		cli_error("cannot read release '%s': %s", j->dir, err);
		return EXIT_FAIL;
	}
	if (j->rel.nimages == 0) {
		cli_error("no images in '%s'", j->rel.folder);
		return EXIT_FAIL;
	}
	if (j->in_dir && !j->rel.from_tsv) {
		cli_error("release '%s' has no classes.tsv: --ood takes the MSP over all of a release's classes, which "
		          "only its classes.tsv lists (give the release folder, not its class folder)", j->dir);
		return EXIT_FAIL;
	}
	if (j->in_dir) {
		if (eval_folder_open(&j->rel, j->in_dir, &j->in, err, sizeof err) != 0) {
			cli_error("cannot read in-distribution folder '%s': %s", j->in_dir, err);
			return EXIT_FAIL;
		}
		if (j->in.nimages == 0) {
			cli_error("no images in '%s' (in-distribution photos go in '%s/<wnid>/')", j->in_dir, j->in_dir);
			return EXIT_FAIL;
		}
	}
	if (eval_classify(j->m, j->nm, &j->rel, batch, &cli_stop, on_fail, NULL, &j->p, err, sizeof err) != 0 ||
	    (j->in_dir &&
	     eval_classify(j->m, j->nm, &j->in, batch, &cli_stop, on_fail, NULL, &j->pin, err, sizeof err) != 0)) {
		cli_error("eval stopped: %s", err);
		return EXIT_FAIL;
	}
	if (j->p.failed == j->rel.nimages) {
		cli_error("no image of '%s' could be read", j->rel.folder);
		return EXIT_FAIL;
	}
	if (j->in_dir && j->pin.failed == j->in.nimages) {
		cli_error("no image of '%s' could be read", j->in.folder);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* Parses the options into j, mf and *ood; EXIT_OK, or the status to exit with. */
static int parse(struct job *j, struct cli_model_flags *mf, int *ood, int argc, char **argv)
{
	enum { O_JSON = 256, O_OOD, O_IN_DIST };
	static const struct option opts[] = {
		CLI_MODEL_OPTIONS,
		{"json", no_argument, 0, O_JSON},
		{"ood", no_argument, 0, O_OOD},
		{"in-dist", required_argument, 0, O_IN_DIST},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_JSON: j->json = 1; break;
		case O_OOD: *ood = 1; break;
		case O_IN_DIST: j->in_dir = optarg; break;
		case 'h': help(); return -1;
		default:
			if (cli_model_flag("eval", ch, optarg, mf)) return EXIT_USAGE;
		}
	}
	if (!mf->model)
		return cli_usage("eval", "--model NAME|FILE is required");
	if (*ood && !j->in_dir)
		return cli_usage("eval", "--ood needs --in-dist DIR (in-distribution photos in DIR/<wnid>/)");
	if (j->in_dir && !*ood)
		return cli_usage("eval", "--in-dist needs --ood");
	if (optind >= argc)
		return cli_usage("eval", "RELEASE_DIR is required");
	if (optind + 1 < argc)
		return cli_usage("eval", "unexpected argument '%s'", argv[optind + 1]);
	j->dir = argv[optind];
	return EXIT_OK;
}

int cmd_eval(struct cli *c, int argc, char **argv)
{
	struct cli_model_flags mf = CLI_MODEL_FLAGS_INIT;
	struct job j = {0};
	int ood = 0;
	int status = parse(&j, &mf, &ood, argc, argv);
	if (status)
		return status < 0 ? EXIT_OK : status;
	char *list = strdup(mf.model);
	if (!list) {
		cli_error("out of memory");
		return EXIT_FAIL;
	}
	if ((status = split_models(&j, list)) != EXIT_OK) {
		free(list);
		return status;
	}
	status = EXIT_FAIL;
	store *st = NULL;
	int64_t run_id = 0;
	if (cli_models_open(c, j.names, j.nm, mf.threads, &st, &run_id, j.m, j.ids) != EXIT_OK)
		goto out;
	if (classify(&j, st, mf.batch) != EXIT_OK)
		goto out;
	if ((status = report(&j, ood)) != EXIT_OK)
		goto out;
	if (!c->quiet && !ood && j.p.nimages - j.p.failed < EVAL_CALIB_BETA)
		cli_error("note: the RMS calibration error needs at least %d images (bins of %d, as the original code)",
		          EVAL_CALIB_BETA, EVAL_CALIB_BETA);
	if (!c->quiet && (j.rel.skipped || j.in.skipped))
		cli_error("note: %zu files that are not .jpg, .jpeg or .png were left out", j.rel.skipped + j.in.skipped);
	status = j.p.failed || j.pin.failed ? EXIT_PARTIAL : EXIT_OK;
out:
	if (st && run_id)
		store_run_end(st, run_id, status);
	eval_preds_free(&j.p);
	eval_preds_free(&j.pin);
	eval_release_free(&j.rel);
	eval_release_free(&j.in);
	for (int k = 0; k < j.nm; k++)
		net_free(j.m[k]);
	free(list);
	store_close(st);
	return status;
}
