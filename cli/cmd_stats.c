/* cmd_stats.c — `natadv stats [--json]`: URLs by state and images, per
 * class and in total. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

struct stats_ctx {
	int json;
	int first;
};

static void print_json_counts(const store_counts *k)
{
	printf("\"total\":%lld,\"pending\":%lld,\"fetched\":%lld,\"failed\":%lld,\"opted_out\":%lld",
	       (long long)k->urls, (long long)k->pending, (long long)k->fetched, (long long)k->failed,
	       (long long)k->opted_out);
}

static void print_class(void *ctx, const char *wnid, const store_counts *k)
{
	struct stats_ctx *x = ctx;
	if (x->json) {
		printf("%s", x->first ? "" : ",");
		cli_json_string(wnid);
		printf(":{\"urls\":{");
		print_json_counts(k);
		printf("},\"images\":%lld}", (long long)k->images);
	} else {
		printf("%-10s %8lld %8lld %8lld %8lld %9lld %8lld\n", wnid, (long long)k->urls, (long long)k->pending,
		       (long long)k->fetched, (long long)k->failed, (long long)k->opted_out, (long long)k->images);
	}
	x->first = 0;
}

int cmd_stats(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	struct stats_ctx x = {0, 1};
	int ch;
	while ((ch = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': x.json = 1; break;
		case 'h':
			printf("usage: natadv stats [--json]\n\n"
			       "Per class and in total: URLs by state (pending, fetched, failed, opted out)\n"
			       "and distinct images. --json prints one object with keys urls.total,\n"
			       "urls.pending, urls.fetched, urls.failed, urls.opted_out, images and classes\n"
			       "(wnid -> the same counts).\n");
			return EXIT_OK;
		default: return cli_usage("stats", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage("stats", "unexpected argument '%s'", argv[optind]);
	store_counts total;
	int rc;
	if (x.json) {
		/* Totals first in the text, but they are known only at the end: query twice. */
		rc = store_stats(c->st, &total, NULL, NULL);
		if (!rc) {
			printf("{\"urls\":{");
			print_json_counts(&total);
			printf("},\"images\":%lld,\"classes\":{", (long long)total.images);
			rc = store_stats(c->st, &total, print_class, &x);
			printf("}}\n");
		}
	} else {
		printf("%-10s %8s %8s %8s %8s %9s %8s\n", "wnid", "urls", "pending", "fetched", "failed", "opted_out",
		       "images");
		rc = store_stats(c->st, &total, print_class, &x);
		if (!rc)
			printf("%-10s %8lld %8lld %8lld %8lld %9lld %8lld\n", "total", (long long)total.urls,
			       (long long)total.pending, (long long)total.fetched, (long long)total.failed,
			       (long long)total.opted_out, (long long)total.images);
	}
	if (rc) {
		cli_error("%s", store_errmsg(c->st));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
