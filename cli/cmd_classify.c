/* cmd_classify.c — `natadv classify --model NAME|FILE [--json] IMAGE...`:
 * top-5 ImageNet-1K predictions and the imagenet-a subset's argmax for
 * image files, with no workspace needed when --model is a file. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "filter/filter.h"

#define TENSOR (3 * FILTER_CROP * FILTER_CROP)

static void help(void)
{
	printf("usage: natadv classify --model NAME|FILE [--json] [--fast] [--batch N] [--threads N] IMAGE...\n\n"
	       "Prints, per image, the top-5 ImageNet-1K classes with probabilities and names,\n"
	       "and the argmax of the softmax over the 200 imagenet-a logits only (the way\n"
	       "ImageNet-A is evaluated). --model is a model of the workspace or a safetensors\n"
	       "file (then no workspace is needed). --json prints one object per line:\n"
	       "{\"path\":..,\"top5\":[{\"index\":i,\"wnid\":..,\"prob\":p},..],\n"
	       " \"subset\":{\"set\":\"imagenet-a\",\"index\":j,\"wnid\":..,\"prob\":p}}\n"
	       "--fast decodes JPEGs with libjpeg's DCT scaling (faster; pixels differ from PIL's).\n"
	       "Exit status 3 when some images could not be read.\n");
}

static void print_result(const char *path, const float *logits, int classes, const filter_classes *fc, int json)
{
	filter_pred p;
	filter_predict(logits, classes, fc->sub_1k, classes == fc->n1k ? fc->nsub : 0, &p);
	int named = classes == fc->n1k;
	if (json) {
		printf("{\"path\":");
		cli_json_string(path);
		printf(",\"top5\":[");
		for (int k = 0; k < 5 && p.top5[k] >= 0; k++) {
			printf("%s{\"index\":%d,\"wnid\":", k ? "," : "", p.top5[k]);
			if (named)
				cli_json_string(fc->wnid_1k[p.top5[k]]);
			else
				printf("null");
			printf(",\"prob\":%.6g}", p.top5_p[k]);
		}
		printf("]");
		if (p.subset_pos >= 0)
			printf(",\"subset\":{\"set\":\"imagenet-a\",\"index\":%d,\"wnid\":\"%s\",\"prob\":%.6g}", p.subset_pos,
			       fc->wnid_sub[p.subset_pos], p.subset_p);
		printf("}\n");
		return;
	}
	printf("%s\n", path);
	for (int k = 0; k < 5 && p.top5[k] >= 0; k++)
		printf("  %d. %6.2f%%  %4d %s %s\n", k + 1, 100.0 * p.top5_p[k], p.top5[k],
		       named ? fc->wnid_1k[p.top5[k]] : "-", named ? fc->name_1k[p.top5[k]] : "");
	if (p.subset_pos >= 0) {
		int i1k = fc->sub_1k[p.subset_pos];
		printf("  imagenet-a: %6.2f%%  %3d %s %s\n", 100.0 * p.subset_p, p.subset_pos, fc->wnid_sub[p.subset_pos],
		       fc->name_1k[i1k]);
	}
}

int cmd_classify(struct cli *c, int argc, char **argv)
{
	enum { O_MODEL = 256, O_JSON, O_FAST, O_BATCH, O_THREADS };
	static const struct option opts[] = {
		{"model", required_argument, 0, O_MODEL}, {"json", no_argument, 0, O_JSON},
		{"fast", no_argument, 0, O_FAST},          {"batch", required_argument, 0, O_BATCH},
		{"threads", required_argument, 0, O_THREADS}, {"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *model = NULL;
	int json = 0, fast = 0;
	long long batch = 8, threads = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_MODEL: model = optarg; break;
		case O_JSON: json = 1; break;
		case O_FAST: fast = 1; break;
		case O_BATCH:
			if (cli_parse_int("classify", "--batch", optarg, 1, 256, &batch)) return EXIT_USAGE;
			break;
		case O_THREADS:
			if (cli_parse_int("classify", "--threads", optarg, 1, 256, &threads)) return EXIT_USAGE;
			break;
		case 'h': help(); return EXIT_OK;
		default: return cli_usage("classify", "unknown option");
		}
	}
	if (!model)
		return cli_usage("classify", "--model NAME|FILE is required");
	if (optind >= argc)
		return cli_usage("classify", "no images given");

	char err[1024];
	store *st = NULL;
	buf data;
	buf_init(&data, 512u << 20);
	resnet *m = NULL;
	img_ctx *ic = img_ctx_new();
	filter_classes fc = {0};
	float *input = NULL, *logits = NULL;
	char **names = NULL;
	int status = EXIT_FAIL, failed = 0;
	int64_t run_id = 0;
	if (cli_model_open(c, model, &st, &run_id, &m, NULL) != EXIT_OK)
		goto out;
	int classes = resnet_get_info(m)->classes;
	if (filter_classes_load(st, "imagenet-a", &fc) != 0) {
		cli_error("cannot read class lists: %s", store_errmsg(st));
		goto out;
	}
	if ((threads && resnet_set_threads(m, (int)threads) != 0) ||
	    resnet_prepare(m, (int)batch, FILTER_CROP, FILTER_CROP) != 0) {
		cli_error("cannot prepare model: %s", resnet_errmsg(m));
		goto out;
	}
	input = malloc(sizeof(float) * TENSOR * (size_t)batch);
	logits = malloc(sizeof(float) * (size_t)classes * (size_t)batch);
	names = calloc((size_t)batch, sizeof *names);
	if (!ic || !input || !logits || !names) {
		cli_error("out of memory");
		goto out;
	}
	int n = 0;
	for (int i = optind; i <= argc; i++) {
		if (i < argc) {
			if (buf_read_file(&data, argv[i], err, sizeof err) != 0 ||
			    filter_preprocess(ic, data.data, data.len, fast, input + (size_t)n * TENSOR, err, sizeof err) != 0) {
				cli_error("cannot classify '%s': %s", argv[i], err);
				failed++;
				continue;
			}
			names[n++] = argv[i];
		}
		if (n == batch || (i == argc && n > 0)) {
			if (resnet_forward(m, input, n, logits) != 0) {
				cli_error("forward pass failed: %s", resnet_errmsg(m));
				goto out;
			}
			for (int k = 0; k < n; k++)
				print_result(names[k], logits + (size_t)k * classes, classes, &fc, json);
			fflush(stdout);
			n = 0;
		}
		if (cli_stop)
			break;
	}
	status = cli_stop ? EXIT_FAIL : failed ? EXIT_PARTIAL : EXIT_OK;
out:
	if (st && run_id)
		store_run_end(st, run_id, status);
	free(names);
	free(logits);
	free(input);
	filter_classes_release(&fc);
	img_ctx_free(ic);
	resnet_free(m);
	store_close(st);
	buf_release(&data);
	return status;
}
