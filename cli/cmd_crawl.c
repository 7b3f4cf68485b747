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
#include "crawler/crawler.h"

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
	       "  --concurrency N        transfers at once (64)\n"
	       "  --per-host N           transfers at once per host (8)\n"
	       "  --host-delay SECONDS   minimum time between requests to one host (0)\n"
	       "  --retries N            retries of timeouts, connection errors, 408, 429, 5xx (3)\n"
	       "  --retry-base SECONDS   first backoff, doubled each retry, with jitter (2)\n"
	       "  --max-bytes SIZE       largest response kept, e.g. 20MB (20MB)\n"
	       "  --connect-timeout S    (10)   --timeout S  whole transfer (120)\n"
	       "  --low-speed BYTES      drop transfers slower than BYTES/s ... (1000)\n"
	       "  --low-speed-time S     ... for S seconds (15)\n"
	       "  --min-side PX          smallest image side kept (64)\n"
	       "  --max-pixels N         largest image kept in pixels (100000000)\n"
	       "  --user-agent TEXT      User-Agent; name the tool and a contact URL\n"
	       "  --workers N            validating threads (one per core)\n"
	       "  --allow-private        allow loopback, private and link-local addresses\n"
	       "  --no-fetch             only load --seeds, fetch nothing\n\n"
	       "Politeness: robots.txt is fetched once per host (cached a day) and obeyed;\n"
	       "responses with X-Robots-Tag noai or noimageai are not stored (opted out).\n"
	       "Exit status: 0 all done, 3 done but some urls failed or rows were bad,\n"
	       "1 error or interrupted (run again to continue), 2 usage.\n");
}

struct progress_line {
	int tty;
	int shown;
};

static void show_progress(void *ctx, const crawl_progress *p)
{
	struct progress_line *pl = ctx;
	if (!pl->tty)
		return;
	double rate = p->elapsed > 0 ? (double)p->images / p->elapsed : 0;
	double mbs = p->elapsed > 0 ? (double)p->bytes / p->elapsed / 1e6 : 0;
	double per = p->elapsed > 0 ? (double)p->done / p->elapsed : 0;
	int64_t left = p->total - p->done;
	char eta[32] = "--";
	if (per > 0 && left >= 0) {
		long s = (long)((double)left / per);
		snprintf(eta, sizeof eta, "%ldm%02lds", s / 60, s % 60);
	}
	char a[32], b[32], f[32];
	fprintf(stderr, "\r\033[Kcrawl %s/%s  %.1f img/s  %.1f MB/s  %s failed  ETA %s", cli_num(p->done, a),
	        cli_num(p->total, b), rate, mbs, cli_num(p->failed, f), eta);
	pl->shown = 1;
}

static void on_bad_row(void *ctx, const char *msg)
{
	const char *path = ctx;
	fprintf(stderr, "natadv: cannot read '%s' %s\n", path, msg);
}

int cmd_crawl(struct cli *c, int argc, char **argv)
{
	enum { O_SEEDS = 256, O_RETRY_FAILED, O_CONC, O_PER_HOST, O_HOST_DELAY, O_RETRIES, O_RETRY_BASE,
	       O_MAX_BYTES, O_CONNECT_TIMEOUT, O_TIMEOUT, O_LOW_SPEED, O_LOW_SPEED_TIME, O_MIN_SIDE,
	       O_MAX_PIXELS, O_UA, O_WORKERS, O_ALLOW_PRIVATE, O_NO_FETCH };
	static const struct option opts[] = {
		{"seeds", required_argument, 0, O_SEEDS},
		{"retry-failed", no_argument, 0, O_RETRY_FAILED},
		{"concurrency", required_argument, 0, O_CONC},
		{"per-host", required_argument, 0, O_PER_HOST},
		{"host-delay", required_argument, 0, O_HOST_DELAY},
		{"retries", required_argument, 0, O_RETRIES},
		{"retry-base", required_argument, 0, O_RETRY_BASE},
		{"max-bytes", required_argument, 0, O_MAX_BYTES},
		{"connect-timeout", required_argument, 0, O_CONNECT_TIMEOUT},
		{"timeout", required_argument, 0, O_TIMEOUT},
		{"low-speed", required_argument, 0, O_LOW_SPEED},
		{"low-speed-time", required_argument, 0, O_LOW_SPEED_TIME},
		{"min-side", required_argument, 0, O_MIN_SIDE},
		{"max-pixels", required_argument, 0, O_MAX_PIXELS},
		{"user-agent", required_argument, 0, O_UA},
		{"workers", required_argument, 0, O_WORKERS},
		{"allow-private", no_argument, 0, O_ALLOW_PRIVATE},
		{"no-fetch", no_argument, 0, O_NO_FETCH},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	crawl_opts o;
	crawl_opts_default(&o);
	const char *seeds = NULL;
	int retry_failed = 0, no_fetch = 0;
	long long n;
	double d;
	int ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_SEEDS: seeds = optarg; break;
		case O_RETRY_FAILED: retry_failed = 1; break;
		case O_CONC:
			if (cli_parse_int("crawl", "--concurrency", optarg, 1, 10000, &n)) return EXIT_USAGE;
			o.concurrency = (int)n;
			break;
		case O_PER_HOST:
			if (cli_parse_int("crawl", "--per-host", optarg, 1, 10000, &n)) return EXIT_USAGE;
			o.per_host = (int)n;
			break;
		case O_HOST_DELAY:
			if (cli_parse_double("crawl", "--host-delay", optarg, &o.host_delay)) return EXIT_USAGE;
			break;
		case O_RETRIES:
			if (cli_parse_int("crawl", "--retries", optarg, 0, 100, &n)) return EXIT_USAGE;
			o.retries = (int)n;
			break;
		case O_RETRY_BASE:
			if (cli_parse_double("crawl", "--retry-base", optarg, &o.retry_base)) return EXIT_USAGE;
			break;
		case O_MAX_BYTES:
			if (cli_parse_bytes("crawl", "--max-bytes", optarg, &n)) return EXIT_USAGE;
			o.max_bytes = n;
			break;
		case O_CONNECT_TIMEOUT:
			if (cli_parse_double("crawl", "--connect-timeout", optarg, &d)) return EXIT_USAGE;
			o.connect_timeout_ms = (long)(d * 1000) + 1;
			break;
		case O_TIMEOUT:
			if (cli_parse_double("crawl", "--timeout", optarg, &d)) return EXIT_USAGE;
			o.timeout_ms = (long)(d * 1000) + 1;
			break;
		case O_LOW_SPEED:
			if (cli_parse_int("crawl", "--low-speed", optarg, 0, 1000000000, &n)) return EXIT_USAGE;
			o.low_speed_bytes = (long)n;
			break;
		case O_LOW_SPEED_TIME:
			if (cli_parse_int("crawl", "--low-speed-time", optarg, 1, 3600, &n)) return EXIT_USAGE;
			o.low_speed_secs = (long)n;
			break;
		case O_MIN_SIDE:
			if (cli_parse_int("crawl", "--min-side", optarg, 1, 100000, &n)) return EXIT_USAGE;
			o.min_side = (uint32_t)n;
			break;
		case O_MAX_PIXELS:
			if (cli_parse_int("crawl", "--max-pixels", optarg, 1, 10000000000LL, &n)) return EXIT_USAGE;
			o.max_pixels = (uint64_t)n;
			break;
		case O_UA: o.user_agent = optarg; break;
		case O_WORKERS:
			if (cli_parse_int("crawl", "--workers", optarg, 1, 64, &n)) return EXIT_USAGE;
			o.workers = (int)n;
			break;
		case O_ALLOW_PRIVATE: o.allow_private = 1; break;
		case O_NO_FETCH: no_fetch = 1; break;
		case 'h': help(); return EXIT_OK;
		default: return cli_usage("crawl", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage("crawl", "unexpected argument '%s'", argv[optind]);

	char err[2048];
	char a[32], b[32], e[32], f[32];
	int64_t bad = 0;
	if (seeds) {
		crawl_seed_summary sum;
		int rc = crawl_load_seeds(c->st, c->run_id, seeds, on_bad_row, (void *)seeds, &sum, err, sizeof err);
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
	if (retry_failed) {
		int64_t moved = 0;
		if (store_retry_failed(c->st, &moved) != 0) {
			cli_error("%s", store_errmsg(c->st));
			return EXIT_FAIL;
		}
		if (!c->quiet)
			fprintf(stderr, "natadv: %s failed urls queued again\n", cli_num(moved, a));
	}
	if (no_fetch)
		return bad ? EXIT_PARTIAL : EXIT_OK;

	struct progress_line pl = {isatty(STDERR_FILENO) && !c->quiet, 0};
	crawl_progress p;
	int rc = crawl_run(c->st, c->run_id, &o, &cli_stop, show_progress, &pl, &p, err, sizeof err);
	if (pl.shown)
		fputs("\r\033[K", stderr);
	if (!c->quiet || rc) {
		char g[32], h[32], r[32];
		fprintf(stderr, "natadv: crawled %s of %s urls: %s images (%s duplicates), %s failed, %s opted out, "
		        "%s retries in %.1f s\n", cli_num(p.done, a), cli_num(p.total, b), cli_num(p.images, e),
		        cli_num(p.duplicates, f), cli_num(p.failed, g), cli_num(p.opted_out, h),
		        cli_num(p.retries, r), p.elapsed);
	}
	if (!rc && p.waiting) {
		char when[32];
		time_iso(p.next_due, when);
		cli_error("%s urls wait for a server's Retry-After until %s (run 'natadv crawl' again then)",
		          cli_num(p.waiting, a), when);
		return EXIT_PARTIAL;
	}
	if (rc == NATADV_EINTR) {
		int64_t left = 0;
		store_count_urls(c->st, "pending", &left);
		cli_error("interrupted: %s urls still pending (run 'natadv crawl' again to continue)", cli_num(left, a));
		return EXIT_FAIL;
	}
	if (rc) {
		cli_error("crawl stopped: %s", err);
		return EXIT_FAIL;
	}
	return (p.failed || bad) ? EXIT_PARTIAL : EXIT_OK;
}
