/* cmd_eval.c — `natadv eval --model NAME|FILE [--json] RELEASE_DIR`: top-1
 * accuracy, RMS calibration error and AURRA of a model on a release, with the
 * logits restricted to the release's classes, as ImageNet-A's eval.py does. */
#include "cli/cli.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	       "The model that filtered a release over the set's classes (select --space\n"
	       "subset, the default) gets 0 accuracy on it, unless converting a PNG to JPEG\n"
	       "changed its answer; over all outputs (--space 1k) it need not. Exit status 3\n"
	       "when some images could not be read (they are left out of the figures).\n");
}

static void on_fail(void *ctx, const char *path, const char *why)
{
	(void)ctx;
	cli_error("cannot evaluate '%s': %s", path, why);
}

static void print_metric(const char *key, double v, int json)
{
	if (json)
		printf(",\"%s\":", key);
	if (isnan(v) && json)
		printf("null");
	else if (isnan(v))
		printf("%-22s n/a\n", key);
	else if (json)
		printf("%.6g", v);
	else
		printf("%-22s %.4f (%.2f%%)\n", key, v, 100 * v);
}

int cmd_eval(struct cli *c, int argc, char **argv)
{
	enum { O_MODEL = 256, O_JSON, O_BATCH, O_THREADS };
	static const struct option opts[] = {
		{"model", required_argument, 0, O_MODEL}, {"json", no_argument, 0, O_JSON},
		{"batch", required_argument, 0, O_BATCH}, {"threads", required_argument, 0, O_THREADS},
		{"help", no_argument, 0, 'h'},            {0, 0, 0, 0},
	};
	const char *model = NULL;
	int json = 0, ch;
	long long batch = 8, threads = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_MODEL: model = optarg; break;
		case O_JSON: json = 1; break;
		case O_BATCH:
			if (cli_parse_int("eval", "--batch", optarg, 1, 256, &batch)) return EXIT_USAGE;
			break;
		case O_THREADS:
			if (cli_parse_int("eval", "--threads", optarg, 1, 256, &threads)) return EXIT_USAGE;
			break;
		case 'h': help(); return EXIT_OK;
		default: return cli_usage("eval", "unknown option");
		}
	}
	if (!model)
		return cli_usage("eval", "--model NAME|FILE is required");
	if (optind >= argc)
		return cli_usage("eval", "RELEASE_DIR is required");
	if (optind + 1 < argc)
		return cli_usage("eval", "unexpected argument '%s'", argv[optind + 1]);
	const char *dir = argv[optind];

	char err[1024];
	store *st = NULL;
	resnet *m = NULL;
	eval_release rel = {0};
	int64_t run_id = 0;
	int status = EXIT_FAIL;
	if (cli_model_open(c, model, &st, &run_id, &m) != EXIT_OK)
		goto out;
	if (eval_release_open(st, dir, &rel, err, sizeof err) != 0) {
		cli_error("cannot read release '%s': %s", dir, err);
		goto out;
	}
	if (rel.nimages == 0) {
		cli_error("no images in '%s'", rel.folder);
		goto out;
	}
	if (threads && resnet_set_threads(m, (int)threads) != 0) {
		cli_error("cannot set threads: %s", resnet_errmsg(m));
		goto out;
	}
	eval_result r;
	int rc = eval_run(m, &rel, (int)batch, &cli_stop, on_fail, NULL, &r, err, sizeof err);
	if (rc) {
		cli_error("eval stopped: %s", err);
		goto out;
	}
	if (r.n == 0) {
		cli_error("no image of '%s' could be read", rel.folder);
		goto out;
	}
	if (json) {
		printf("{\"n\":%zu", r.n);
	} else {
		printf("%-22s %s\n%-22s %d (%s)\n%-22s %zu\n", "release", rel.folder, "classes", rel.nclasses,
		       rel.from_tsv ? "classes.tsv" : "sorted class folders", "n", r.n);
	}
	print_metric("accuracy", r.accuracy, json);
	print_metric("rms_calibration_error", r.rms_calibration_error, json);
	print_metric("aurra", r.aurra, json);
	if (json)
		printf("}\n");
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
	resnet_free(m);
	store_close(st);
	return status;
}
