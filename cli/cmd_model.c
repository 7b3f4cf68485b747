/* cmd_model.c — `natadv model add FILE --name NAME`, `model list`,
 * `model fetch NAME`: the classifier weights a workspace scores with. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "cli/crawl_flags.h"
#include "crawler/crawler.h"
#include "filter/filter.h"

/* Known downloads: torchvision's original ImageNet weights (BSD-3-Clause)
 * in safetensors form, from timm's <arch>.tv_in1k copies. sha256 NULL:
 * the source pins none; the fetch prints what it got, --sha256 pins it. */
static const struct known_model {
	const char *name, *url, *sha256;
} known[] = {
	{"resnet50",
	 "https://huggingface.co/timm/resnet50.tv_in1k/resolve/aa6c2d36d56bc0209040c02b5a7b7d7bf11d57b8/"
	 "model.safetensors",
	 "5d061a3c593d795bfe682d9b152bafbcf550579873492def3515b46db1189888"},
	/* torchvision's weights as timm republished them (<arch>.tv_in1k); the
	 * source pins no SHA-256 (densenet121.tv_in1k: 32.3 MB, commit d42603a) */
#define TIMM_TV(arch) {arch, "https://huggingface.co/timm/" arch ".tv_in1k/resolve/main/model.safetensors", NULL}
	TIMM_TV("densenet121"), TIMM_TV("densenet161"), TIMM_TV("densenet169"), TIMM_TV("densenet201"),
	TIMM_TV("vgg11"), TIMM_TV("vgg11_bn"), TIMM_TV("vgg13"), TIMM_TV("vgg13_bn"),
	TIMM_TV("vgg16"), TIMM_TV("vgg16_bn"), TIMM_TV("vgg19"), TIMM_TV("vgg19_bn"),
#undef TIMM_TV
};

static void help(void)
{
	printf("usage: natadv model add FILE --name NAME [--source-url URL]\n"
	       "       natadv model list\n"
	       "       natadv model fetch NAME [--url URL] [--sha256 HEX] [--timeout S] [--allow-private]\n\n"
	       "add     checks FILE completely (a safetensors file of torchvision's ResNet family:\n"
	       "        resnet18/34/50/101/152, resnext50_32x4d, resnext101_32x8d, wide_resnet50_2;\n"
	       "        densenet121/161/169/201, vgg11/13/16/19 and their _bn variants, torchvision's\n"
	       "        or timm's tensor names),\n"
	       "        copies it into the workspace as models/<sha256>.safetensors and records it;\n"
	       "        NAME is 1 to 128 letters, digits, '.', '_' or '-' (not '.' or '..')\n"
	       "list    name, architecture, classes, SHA-256 and source of every model\n"
	       "fetch   downloads known weights and checks their pinned SHA-256, then adds them;\n"
	       "        resnet50 = torchvision's IMAGENET1K_V1 weights (timm/resnet50.tv_in1k);\n"
	       "        densenet121, densenet161, densenet169, densenet201, vgg11, vgg11_bn, ...,\n"
	       "        vgg19_bn = timm/<name>.tv_in1k, not pinned: the SHA-256\n"
	       "        downloaded is printed and recorded, and --sha256 HEX pins it;\n"
	       "        --timeout S gives up after S seconds in all (1800), --allow-private\n"
	       "        permits loopback, private and link-local addresses, --allow-address\n"
	       "        A[/B] (repeatable) only that private address or block\n");
}

/* Checks path as a ResNet, copies it into the workspace and records it. */
static int add_model(struct cli *c, const char *path, const char *name, const char *source_url,
                     const char *want_sha)
{
	char err[1200];
	filter_model_added m;
	if (filter_model_import(c->st, c->run_id, path, name, source_url, want_sha, &m, err, sizeof err) != 0) {
		cli_error("%s", err);
		return EXIT_FAIL;
	}
	if (!c->quiet)
		fprintf(stderr, "natadv: model '%s' added: %s, %d classes, sha-256 %s\n", name, m.arch, m.classes,
		        m.sha256);
	return EXIT_OK;
}

static void print_model(void *ctx, const store_model *m)
{
	(void)ctx;
	printf("%s\t%s\t%d\t%s\t%s\n", m->name, m->arch, m->classes, m->id, m->source_url ? m->source_url : "-");
}

int cmd_model(struct cli *c, int argc, char **argv)
{
	enum { O_NAME = 256, O_SOURCE, O_URL, O_SHA, O_TIMEOUT, O_ALLOW_PRIVATE, O_ALLOW_ADDRESS };
	static const struct option opts[] = {
		{"name", required_argument, 0, O_NAME}, {"source-url", required_argument, 0, O_SOURCE},
		{"url", required_argument, 0, O_URL},   {"sha256", required_argument, 0, O_SHA},
		{"timeout", required_argument, 0, O_TIMEOUT}, {"allow-private", no_argument, 0, O_ALLOW_PRIVATE},
		{"allow-address", required_argument, 0, O_ALLOW_ADDRESS},
		{"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
	};
	const char *name = NULL, *source = NULL, *url = NULL, *sha = NULL;
	/* A 100 MB file over a slow link fits in the total timeout; a stalled
	 * one is dropped by the low-speed limit long before. */
	http_opts ho = {.connect_timeout_ms = 30000, .timeout_ms = 1800 * 1000L, .low_speed_bytes = 1000,
	                .low_speed_secs = 60, .max_redirects = 5, .max_bytes = 4LL << 30};
	http_policy policy = {0};
	double secs;
	int ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_NAME: name = optarg; break;
		case O_SOURCE: source = optarg; break;
		case O_URL: url = optarg; break;
		case O_SHA: sha = optarg; break;
		case O_TIMEOUT:
			if (cli_parse_double("model", "--timeout", optarg, &secs)) return EXIT_USAGE;
			ho.timeout_ms = (long)(secs * 1000) + 1;
			break;
		case O_ALLOW_PRIVATE: policy.allow_private = 1; break;
		case O_ALLOW_ADDRESS:
			if (cli_allow_address("model", optarg, &policy.allow, &policy.nallow)) return EXIT_USAGE;
			break;
		case 'h': help(); return EXIT_OK;
		default: return cli_usage("model", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage("model", "missing subcommand (add, list or fetch)");
	const char *sub = argv[optind++];
	if (!strcmp(sub, "list")) {
		if (optind < argc)
			return cli_usage("model", "unexpected argument '%s'", argv[optind]);
		if (store_models_each(c->st, print_model, NULL) != 0) {
			cli_error("%s", store_errmsg(c->st));
			return EXIT_FAIL;
		}
		return EXIT_OK;
	}
	if (!strcmp(sub, "add")) {
		if (optind + 1 != argc)
			return cli_usage("model", "add wants one FILE");
		if (!name)
			return cli_usage("model", "add wants --name NAME");
		if (!store_model_name_valid(name))
			return cli_usage("model", "bad --name '%s': a name is 1 to 128 letters, digits, '.', '_' or '-', "
			                 "and not '.' or '..'", name);
		return add_model(c, argv[optind], name, source, NULL);
	}
	if (!strcmp(sub, "fetch")) {
		if (optind + 1 != argc)
			return cli_usage("model", "fetch wants one NAME");
		const char *what = argv[optind];
		const char *bad = !store_model_name_valid(what) ? what : name && !store_model_name_valid(name) ? name : NULL;
		if (bad)  /* NAME names the download file too */
			return cli_usage("model", "bad model name '%s': a name is 1 to 128 letters, digits, '.', '_' or "
			                 "'-', and not '.' or '..'", bad);
		const struct known_model *k = NULL;
		for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
			if (!strcmp(known[i].name, what))
				k = &known[i];
		if (!k && (!url || !sha))
			return cli_usage("model", "unknown model '%s' (known: resnet50, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, "
			                 "vgg16_bn, vgg19, vgg19_bn, densenet121, densenet161, densenet169, densenet201; "
			                 "or give --url and --sha256)", what);
		const char *from = url ? url : k->url, *want = sha ? sha : k->sha256;
		char dl[4300], err[1024], got[65];
		snprintf(dl, sizeof dl, "%s/models/download-%s.safetensors", store_dir(c->st), what);
		int64_t bytes = 0;
		if (!c->quiet)
			fprintf(stderr, "natadv: downloading '%s'\n", from);
		if (crawl_download(from, dl, &ho, &policy, got, &bytes, err, sizeof err) != 0) {
			cli_error("%s", err);
			return EXIT_FAIL;
		}
		if (!want) {
			fprintf(stderr, "natadv: '%s' has no pinned sha-256: downloaded %s; --sha256 %s pins it\n", what, got,
			        got);
			want = got;
		}
		if (strcmp(got, want) != 0) {
			cli_error("cannot fetch '%s': downloaded file has sha-256 %s, expected %s", what, got, want);
			unlink(dl);
			return EXIT_FAIL;
		}
		int st = add_model(c, dl, name ? name : what, from, want);
		unlink(dl);
		return st;
	}
	return cli_usage("model", "unknown subcommand '%s' (add, list or fetch)", sub);
}
