/* cmd_crawl.c — `natadv crawl`: load a seed list (optional), then fetch
 * every queued URL, showing a live status line on a terminal. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/timeutil.h"
#include "cli/crawl_flags.h"

static void help(void)
{
	printf("usage: natadv crawl [--seeds FILE] [options]\n\n"
	       "Loads FILE (TSV, CSV or JSON Lines with columns url, wnid and optionally\n"
	       "page_url, license, author, source, query) into the queue, then fetches every\n"
	       "queued url: validates each response as a JPEG or PNG image, stores it once by\n"
	       "content hash and records every attempt. Run it again to continue after a stop.\n\n"
	       "options:\n"
	       "  --seeds FILE           add the seed list's rows to the queue first\n"
	       "  --retry-failed         put failed urls back in the queue\n"
	       "  --no-fetch             only load --seeds, fetch nothing\n");
	cli_crawl_flags_help();
	printf("\n"
	       "Politeness: robots.txt is fetched once per host (cached a day) and obeyed;\n"
	       "responses with X-Robots-Tag noai or noimageai are not stored (opted out).\n"
	       "Exit status: 0 all done, 3 done but some urls failed or rows were bad,\n"
	       "1 error or interrupted (run again to continue), 2 usage.\n");
}

static void on_bad_row(void *ctx, const char *msg)
{
	const char *path = ctx;
	fprintf(stderr, "natadv: cannot read '%s' %s\n", path, msg);
}

enum { O_SEEDS = 256, O_RETRY_FAILED, O_NO_FETCH };

struct crawl_args {
	const char *seeds;
	int retry_failed, no_fetch;
};

static int crawl_arg(void *ctx, int ch, const char *arg)
{
	struct crawl_args *a = ctx;
	switch (ch) {
	case O_SEEDS: a->seeds = arg; break;
	case O_RETRY_FAILED: a->retry_failed = 1; break;
	case O_NO_FETCH: a->no_fetch = 1; break;
	}
	return 0;
}

int cmd_crawl(struct cli *c, int argc, char **argv)
{
	static const struct option own[] = {
		{"seeds", required_argument, 0, O_SEEDS},
		{"retry-failed", no_argument, 0, O_RETRY_FAILED},
		{"no-fetch", no_argument, 0, O_NO_FETCH},
		{0, 0, 0, 0},
	};
	struct crawl_args args = {0};
	const cli_crawl_command cmd = {"crawl", own, crawl_arg, help, &args};
	crawl_opts o;
	int rc = cli_crawl_getopt(&cmd, argc, argv, &o);
	if (rc)
		return rc == CLI_CRAWL_HELP ? EXIT_OK : rc;
	const char *seeds = args.seeds;

	char err[2048];
	char a[32], b[32], e[32], f[32];
	int64_t bad = 0;
	if (seeds) {
		crawl_seed_summary sum;
		rc = crawl_load_seeds(c->st, c->run_id, seeds, on_bad_row, (void *)seeds, &sum, err, sizeof err);
		if (rc) {
			cli_error("%s", err);
			return EXIT_FAIL;
		}
		bad = sum.bad;
		if (!c->quiet)
			fprintf(stderr, "natadv: loaded '%s': %s rows, %s new urls, %s new class tags, %s bad rows\n", seeds,
			        cli_num(sum.rows, a), cli_num(sum.new_urls, b), cli_num(sum.new_tags, e),
			        cli_num(sum.bad, f));
	}
	if (args.retry_failed) {
		int64_t moved = 0;
		if (store_retry_failed(c->st, &moved) != 0) {
			cli_error("%s", store_errmsg(c->st));
			return EXIT_FAIL;
		}
		if (!c->quiet)
			fprintf(stderr, "natadv: %s failed urls queued again\n", cli_num(moved, a));
	}
	if (args.no_fetch)
		return bad ? EXIT_PARTIAL : EXIT_OK;

	struct cli_progress pl = {isatty(STDERR_FILENO) && !c->quiet, 0};
	crawl_progress p;
	rc = crawl_run(c->st, c->run_id, &o, &cli_stop, cli_crawl_progress, &pl, &p, err, sizeof err);
	cli_progress_clear(&pl);
	if (!p.started) {
		cli_error("%s", err); /* refused before it started: nothing to sum up */
		return EXIT_FAIL;
	}
	if (!c->quiet || rc)
		cli_crawl_summary(&p);
	if (!rc && p.waiting) {
		char when[32];
		time_iso(p.next_due, when);
		cli_error("%s urls wait for a server's Retry-After until %s (run 'natadv crawl' again then)",
		          cli_num(p.waiting, a), when);
		return EXIT_PARTIAL;
	}
	if (rc == NATADV_EINTR) {
		int64_t left = 0;
		if (store_count_urls(c->st, "pending", &left) != 0)
			cli_error("interrupted (run 'natadv crawl' again to continue)");
		else
			cli_error("interrupted: %s urls still pending (run 'natadv crawl' again to continue)",
			          cli_num(left, a));
		return EXIT_FAIL;
	}
	if (rc) {
		cli_error("crawl stopped: %s", err);
		return EXIT_FAIL;
	}
	return (p.failed || bad) ? EXIT_PARTIAL : EXIT_OK;
}
