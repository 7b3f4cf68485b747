/* cmd_classify.c — `natadv classify --model NAME|FILE [--json] IMAGE...`:
 * top-5 ImageNet-1K predictions and the imagenet-a subset's argmax for
 * image files, with no workspace needed when --model is a file. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "common/jstr.h"
#include "filter/filter.h"

static void help(void)
{
	printf("usage: natadv classify --model NAME|FILE [--json] [--fast] [--verbose] [--batch N] [--threads N] IMAGE...\n\n"
	       "Prints, per image, the top-5 ImageNet-1K classes with probabilities and names,\n"
	       "and the argmax of the softmax over the 200 imagenet-a logits only (the way\n"
	       "ImageNet-A is evaluated). --model is a model of the workspace or a safetensors\n"
	       "file (then no workspace is needed). --json prints one object per line:\n"
	       "{\"path\":..,\"top5\":[{\"index\":i,\"wnid\":..,\"prob\":p},..],\n"
	       " \"subset\":{\"set\":\"imagenet-a\",\"index\":j,\"wnid\":..,\"prob\":p}}\n"
	       "--fast decodes JPEGs with libjpeg's DCT scaling (faster; pixels differ from PIL's).\n"
	       "--verbose says on stderr what the packed-weights cache did (hit, written, rebuilt:\n"
	       "cause, none: cause). The cache of a workspace model is models/<id>.packed, of a\n"
	       "file $XDG_CACHE_HOME/natadv/<sha-256>.packed (else ~/.cache/natadv).\n"
	       "Exit status 3 when some images could not be read.\n");
}

/* One --json line: the top-5 and the imagenet-a argmax. */
static json_t *result_json(const char *path, const filter_pred *p, const filter_classes *fc, int named)
{
	json_t *o = json_object(), *top5 = json_array();
	if (!o || !top5 || json_object_set_new(o, "path", jstr_new(path)) || json_object_set_new(o, "top5", top5)) {
		json_decref(o);
		return NULL;
	}
	for (int k = 0; k < 5 && p->top5[k] >= 0; k++)
		json_array_append_new(top5, json_pack("{s:i, s:o, s:f}", "index", p->top5[k], "wnid",
		                                      named ? jstr_new(fc->wnid_1k[p->top5[k]]) : json_null(),
		                                      "prob", (double)p->top5_p[k]));
	if (p->subset_pos >= 0)
		json_object_set_new(o, "subset", json_pack("{s:s, s:i, s:s, s:f}", "set", "imagenet-a", "index",
		                                           p->subset_pos, "wnid", fc->wnid_sub[p->subset_pos], "prob",
		                                           (double)p->subset_p));
	return o;
}

struct printer {
	const char *const *paths;
	const filter_classes *fc;
	int json, failed;
};

static void print_result(void *ctx, size_t i, const float *logits, int classes)
{
	const struct printer *pr = ctx;
	const filter_classes *fc = pr->fc;
	filter_pred p;
	int named = classes == fc->n1k;
	filter_predict(logits, classes, fc->sub_1k, named ? fc->nsub : 0, &p);
	if (pr->json) {
		if (cli_json_put(result_json(pr->paths[i], &p, fc, named), JSON_REAL_PRECISION(6)))
			cli_error("cannot print the result of '%s'", pr->paths[i]);
		return;
	}
	printf("%s\n", pr->paths[i]);
	for (int k = 0; k < 5 && p.top5[k] >= 0; k++)
		printf("  %d. %6.2f%%  %4d %s %s\n", k + 1, 100.0 * p.top5_p[k], p.top5[k],
		       named ? fc->wnid_1k[p.top5[k]] : "-", named ? fc->name_1k[p.top5[k]] : "");
	if (p.subset_pos >= 0) {
		int i1k = fc->sub_1k[p.subset_pos];
		printf("  imagenet-a: %6.2f%%  %3d %s %s\n", 100.0 * p.subset_p, p.subset_pos, fc->wnid_sub[p.subset_pos],
		       fc->name_1k[i1k]);
	}
}

static void print_failure(void *ctx, size_t i, const char *why)
{
	struct printer *pr = ctx;
	cli_error("cannot classify '%s': %s", pr->paths[i], why ? why : "unreadable");
	pr->failed++;
}

static void flush_batch(void *ctx)
{
	(void)ctx;
	fflush(stdout);
}

int cmd_classify(struct cli *c, int argc, char **argv)
{
	enum { O_JSON = 256, O_FAST, O_VERBOSE };
	static const struct option opts[] = {
		CLI_MODEL_OPTIONS,
		{"json", no_argument, 0, O_JSON},
		{"fast", no_argument, 0, O_FAST},
		{"verbose", no_argument, 0, O_VERBOSE},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	struct cli_model_flags mf = CLI_MODEL_FLAGS_INIT;
	int json = 0, fast = 0, verbose = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_JSON: json = 1; break;
		case O_FAST: fast = 1; break;
		case O_VERBOSE: verbose = 1; break;
		case 'h': help(); return EXIT_OK;
		default:
			if (cli_model_flag("classify", ch, optarg, &mf)) return EXIT_USAGE;
		}
	}
	if (!mf.model)
		return cli_usage("classify", "--model NAME|FILE is required");
	if (optind >= argc)
		return cli_usage("classify", "no images given");

	char err[1024];
	store *st = NULL;
	net *m = NULL;
	filter_classes fc = {0};
	int status = EXIT_FAIL;
	int64_t run_id = 0;
	if (cli_model_open(c, &mf, &st, &run_id, &m, NULL) != EXIT_OK)
		goto out;
	if (verbose)
		fprintf(stderr, "model: %s, kernels %s, cache: %s\n", net_get_info(m)->arch, net_kernels(m),
		        net_cache_status(m));
	if (filter_classes_load(st, "imagenet-a", &fc) != 0) {
		cli_error("cannot read class lists: %s", store_errmsg(st));
		goto out;
	}
	const char *const *paths = (const char *const *)argv + optind;
	struct printer pr = {paths, &fc, json, 0};
	filter_classify_opts o = {.batch = mf.batch, .fast = fast};
	filter_classify_cb cb = {print_result, print_failure, flush_batch, NULL};
	int rc = filter_classify_files(m, paths, (size_t)(argc - optind), &o, &cli_stop, &cb, &pr, err, sizeof err);
	if (rc && rc != NATADV_EINTR)
		cli_error("%s", err);
	status = rc ? EXIT_FAIL : pr.failed ? EXIT_PARTIAL : EXIT_OK;
out:
	if (st && run_id)
		store_run_end(st, run_id, status);
	filter_classes_release(&fc);
	net_free(m);
	store_close(st);
	return status;
}
