/* cmd_eval.c — `natadv eval --model NAME|FILE [--json] RELEASE_DIR`: top-1
 * accuracy, RMS calibration error and AURRA of a model on a release, with the
 * logits restricted to the release's classes, as ImageNet-A's eval.py does. */
#include "cli/cli.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "filter/eval.h"

static void help(void)
{
	printf("usage: natadv eval --model NAME|FILE [--json] [--batch N] [--threads N] RELEASE_DIR\n\n"
	       "Classifies every image of a release (RELEASE_DIR/classes.tsv and\n"
	       "RELEASE_DIR/<folder>/<wnid>/*.jpg, or the <folder> itself, whose sorted wnid\n"
	       "subfolders are then the classes) and reports, with the logits restricted to the\n"
	       "release's classes as ImageNet-A's evaluation code does:\n"
	       "  accuracy               top-1 accuracy\n"
	       "  rms_calibration_error  RMS calibration error with bins of 100 examples by\n"
	       "                         confidence (max softmax probability), computed as the\n"
	       "                         original calib_err does, which leaves the last bin out\n"
	       "                         (so 0 for 100-199 images) and fails below 100 images:\n"
	       "                         then null\n"
	       "  aurra                  area under the response rate accuracy curve\n"
	       "--json prints {\"n\":..,\"accuracy\":..,\"rms_calibration_error\":..,\"aurra\":..}.\n"
	       "--model is a model of the workspace or a safetensors file (no workspace needed).\n"
	       "Self-check: when the release's manifest.jsonl names this model (by the SHA-256\n"
	       "of its weights) as the one that selected the images, every such image (not\n"
	       "converted from PNG, chosen over the set's classes) must still be classified\n"
	       "wrong; the report says so (\"self_check\" in --json) and the exit status is 1\n"
	       "if not, since scoring and evaluation then disagree. Exit status 3 when some\n"
	       "images could not be read (they are left out of the figures).\n");
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

static void print_metric(const char *key, double v, json_t *o)
{
	if (o)
		json_object_set_new(o, key, metric_json(v));
	else if (isnan(v))
		printf("%-22s n/a\n", key);
	else
		printf("%-22s %.4f (%.2f%%)\n", key, v, 100 * v);
}

int cmd_eval(struct cli *c, int argc, char **argv)
{
	enum { O_JSON = 256 };
	static const struct option opts[] = {
		CLI_MODEL_OPTIONS,
		{"json", no_argument, 0, O_JSON},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	struct cli_model_flags mf = CLI_MODEL_FLAGS_INIT;
	int json = 0, ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_JSON: json = 1; break;
		case 'h': help(); return EXIT_OK;
		default:
			if (cli_model_flag("eval", ch, optarg, &mf)) return EXIT_USAGE;
		}
	}
	if (!mf.model)
		return cli_usage("eval", "--model NAME|FILE is required");
	if (optind >= argc)
		return cli_usage("eval", "RELEASE_DIR is required");
	if (optind + 1 < argc)
		return cli_usage("eval", "unexpected argument '%s'", argv[optind + 1]);
	const char *dir = argv[optind];

	char err[1024];
	store *st = NULL;
	net *m = NULL;
	eval_release rel = {0};
	int *by_image = NULL;
	char model_id[65] = "";
	int64_t run_id = 0;
	int status = EXIT_FAIL;
	if (cli_model_open(c, &mf, &st, &run_id, &m, model_id) != EXIT_OK)
		goto out;
	if (eval_release_open(st, dir, &rel, err, sizeof err) != 0) {
		cli_error("cannot read release '%s': %s", dir, err);
		goto out;
	}
	if (rel.nimages == 0) {
		cli_error("no images in '%s'", rel.folder);
		goto out;
	}
	eval_result r;
	if (!(by_image = malloc(sizeof(int) * rel.nimages))) {
		cli_error("out of memory");
		goto out;
	}
	int rc = eval_run(m, &rel, mf.batch, &cli_stop, on_fail, NULL, &r, by_image, err, sizeof err);
	if (rc) {
		cli_error("eval stopped: %s", err);
		goto out;
	}
	if (r.n == 0) {
		cli_error("no image of '%s' could be read", rel.folder);
		goto out;
	}
	json_t *o = NULL;
	if (json && !(o = json_pack("{s:I}", "n", (json_int_t)r.n))) {
		cli_error("out of memory");
		goto out;
	}
	if (!json)
		printf("%-22s %s\n%-22s %d (%s)\n%-22s %zu\n", "release", rel.folder, "classes", rel.nclasses,
		       rel.from_tsv ? "classes.tsv" : "sorted class folders", "n", r.n);
	print_metric("accuracy", r.accuracy, o);
	print_metric("rms_calibration_error", r.rms_calibration_error, o);
	print_metric("aurra", r.aurra, o);
	eval_self_check_result sc;
	if (eval_self_check(&rel, dir, model_id, by_image, &sc, err, sizeof err) != 0) {
		if (o)
			cli_json_put(o, JSON_REAL_PRECISION(6));
		cli_error("self-check: %s", err);
		goto out;
	}
	int self_failed = sc.filter_model && sc.right > 0;
	if (o && sc.filter_model)
		json_object_set_new(o, "self_check", json_pack("{s:b, s:I, s:I, s:b}", "filter_model", 1, "checked",
		                                               (json_int_t)sc.checked, "right", (json_int_t)sc.right,
		                                               "passed", !self_failed));
	else if (sc.filter_model)
		printf("%-22s %s: %zu of its %zu images wrong, as selected\n", "self-check",
		       self_failed ? "FAILED" : "passed", sc.checked - sc.right, sc.checked);
	if (o && cli_json_put(o, JSON_REAL_PRECISION(6))) {
		cli_error("cannot print the report: out of memory");
		goto out;
	}
	if (self_failed) {
		cli_error("self-check failed: this model selected the release's images as mistakes, but now gets %zu of "
		          "%zu right (first: '%s'); scoring and evaluation disagree",
		          sc.right, sc.checked, sc.first_right);
		goto out;
	}
	if (!c->quiet && isnan(r.rms_calibration_error))
		cli_error("note: the RMS calibration error needs at least %d images (bins of %d, as the original code)",
		          EVAL_CALIB_BETA, EVAL_CALIB_BETA);
	if (!c->quiet && rel.skipped)
		cli_error("note: %zu files that are not .jpg, .jpeg or .png were left out", rel.skipped);
	status = r.failed ? EXIT_PARTIAL : EXIT_OK;
out:
	if (st && run_id)
		store_run_end(st, run_id, status);
	eval_release_free(&rel);
	free(by_image);
	net_free(m);
	store_close(st);
	return status;
}
