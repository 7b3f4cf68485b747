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

/* ---- what discover asked and what it did not queue ---- */

static void print_source(void *ctx, const store_discover_stat *d)
{
	struct stats_ctx *x = ctx;
	if (x->json) {
		printf("%s", x->first ? "" : ",");
		cli_json_string(d->source);
		printf(":{\"requests\":%lld,\"failed\":%lld,\"candidates\":%lld,\"queued\":%lld,\"not_queued\":%lld}",
		       (long long)d->requests, (long long)d->failed, (long long)d->candidates, (long long)d->queued,
		       (long long)d->not_queued);
	} else {
		if (x->first)
			printf("\n%-12s %8s %8s %10s %8s %10s\n", "discover", "requests", "failed", "candidates", "queued",
			       "not_queued");
		printf("%-12s %8lld %8lld %10lld %8lld %10lld\n", d->source, (long long)d->requests, (long long)d->failed,
		       (long long)d->candidates, (long long)d->queued, (long long)d->not_queued);
	}
	x->first = 0;
}

static void print_skip(void *ctx, const char *source, const char *reason, const char *license, int64_t n)
{
	struct stats_ctx *x = ctx;
	if (x->json) {
		printf("%s{\"source\":", x->first ? "" : ",");
		cli_json_string(source);
		printf(",\"reason\":");
		cli_json_string(reason);
		printf(",\"license\":");
		if (license)
			cli_json_string(license);
		else
			printf("null");
		printf(",\"count\":%lld}", (long long)n);
	} else {
		printf("not queued: %s %s%s%s: %lld\n", source, reason, license ? " " : "", license ? license : "",
		       (long long)n);
	}
	x->first = 0;
}

static int print_discover(store *st, struct stats_ctx *x)
{
	int rc;
	x->first = 1;
	if (!x->json)
		return store_discover_stats(st, print_source, print_skip, x);
	printf(",\"discover\":{\"sources\":{");
	rc = store_discover_stats(st, print_source, NULL, x);
	printf("},\"not_queued\":[");
	x->first = 1;
	if (!rc)
		rc = store_discover_stats(st, NULL, print_skip, x);
	printf("]}");
	return rc;
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
			       "(wnid -> the same counts), and discover: sources (name -> requests, failed,\n"
			       "candidates, queued, not_queued) and not_queued (source, reason, license, count:\n"
			       "candidates found but not queued, e.g. for their licence).\n");
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
			printf("}");
			if (!rc)
				rc = print_discover(c->st, &x);
			printf("}\n");
		}
	} else {
		printf("%-10s %8s %8s %8s %8s %9s %8s\n", "wnid", "urls", "pending", "fetched", "failed", "opted_out",
		       "images");
		rc = store_stats(c->st, &total, print_class, &x);
		if (!rc)
			printf("%-10s %8lld %8lld %8lld %8lld %9lld %8lld\n", "total", (long long)total.urls,
			       (long long)total.pending, (long long)total.fetched, (long long)total.failed,
			       (long long)total.opted_out, (long long)total.images);
		if (!rc)
			rc = print_discover(c->st, &x);
	}
	if (rc) {
		cli_error("%s", store_errmsg(c->st));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
