/* cmd_stats.c — `natadv stats [--json]`: URLs by state and images, per
 * class and in total. */
#include "cli/cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/jstr.h"
#include "report/report.h"

/* ---- text ---- */

static void print_class(void *ctx, const char *wnid, const store_counts *k)
{
	(void)ctx;
	printf("%-10s %8lld %8lld %8lld %8lld %9lld %8lld\n", wnid, (long long)k->urls, (long long)k->pending,
	       (long long)k->fetched, (long long)k->failed, (long long)k->opted_out, (long long)k->images);
}

static void print_source(void *ctx, const store_discover_stat *d)
{
	int *first = ctx;
	if (*first)
		printf("\n%-12s %8s %8s %10s %8s %10s\n", "discover", "requests", "failed", "candidates", "queued",
		       "not_queued");
	*first = 0;
	printf("%-12s %8lld %8lld %10lld %8lld %10lld\n", d->source, (long long)d->requests, (long long)d->failed,
	       (long long)d->candidates, (long long)d->queued, (long long)d->not_queued);
}

static void print_skip(void *ctx, const char *source, const char *reason, const char *license, int64_t n)
{
	(void)ctx;
	printf("not queued: %s %s%s%s: %lld\n", source, reason, license ? " " : "", license ? license : "",
	       (long long)n);
}

static int print_text(store *st)
{
	store_counts total;
	printf("%-10s %8s %8s %8s %8s %9s %8s\n", "wnid", "urls", "pending", "fetched", "failed", "opted_out",
	       "images");
	int rc = store_stats(st, &total, print_class, NULL);
	if (rc)
		return rc;
	printf("%-10s %8lld %8lld %8lld %8lld %9lld %8lld\n", "total", (long long)total.urls,
	       (long long)total.pending, (long long)total.fetched, (long long)total.failed,
	       (long long)total.opted_out, (long long)total.images);
	int first = 1;
	return store_discover_stats(st, print_source, print_skip, &first);
}

/* ---- --json: one object, built whole before it is printed ---- */

/* The urls object is report --json's too: one function builds both. */
static json_t *counts_json(const store_counts *k)
{
	return report_urls_json(k);
}

static void add_class(void *ctx, const char *wnid, const store_counts *k)
{
	json_object_set_new(ctx, wnid, json_pack("{s:o, s:I}", "urls", counts_json(k), "images",
	                                         (json_int_t)k->images));
}

static void add_source(void *ctx, const store_discover_stat *d)
{
	json_object_set_new(json_object_get(ctx, "sources"), d->source,
	                    json_pack("{s:I, s:I, s:I, s:I, s:I}", "requests", (json_int_t)d->requests,
	                              "failed", (json_int_t)d->failed, "candidates", (json_int_t)d->candidates,
	                              "queued", (json_int_t)d->queued, "not_queued", (json_int_t)d->not_queued));
}

static void add_skip(void *ctx, const char *source, const char *reason, const char *license, int64_t n)
{
	json_array_append_new(json_object_get(ctx, "not_queued"),
	                      json_pack("{s:o, s:o, s:o, s:I}", "source", jstr_new(source), "reason", jstr_new(reason),
	                                "license", jstr_new(license), "count", (json_int_t)n));
}

static int print_json(store *st)
{
	store_counts total;
	json_t *classes = json_object();
	json_t *discover = json_pack("{s:o, s:o}", "sources", json_object(), "not_queued", json_array());
	int rc = classes && discover ? store_stats(st, &total, add_class, classes) : NATADV_ENOMEM;
	if (!rc)
		rc = store_discover_stats(st, add_source, add_skip, discover);
	if (rc) {
		json_decref(classes);
		json_decref(discover);
		return rc;
	}
	json_t *o = json_pack("{s:o, s:I, s:o, s:o}", "urls", counts_json(&total), "images", (json_int_t)total.images,
	                      "classes", classes, "discover", discover);
	return cli_json_put(o, 0) ? NATADV_ENOMEM : 0;
}

int cmd_stats(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	int json = 0, ch;
	while ((ch = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': json = 1; break;
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
	int rc = json ? print_json(c->st) : print_text(c->st);
	if (rc) {
		cli_error("%s", rc == NATADV_ENOMEM ? "out of memory" : store_errmsg(c->st));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
