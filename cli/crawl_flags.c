/* crawl_flags.c — parsing, help and progress display of the fetch options
 * shared by `natadv crawl` and `natadv rebuild`. */
#include "cli/crawl_flags.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"

#include "cli/cli.h"

int cli_crawl_flag(const char *command, int ch, const char *arg, crawl_opts *o)
{
	long long n;
	double d;
	switch (ch) {
	case CF_CONC:
		if (cli_parse_int(command, "--concurrency", arg, 1, 10000, &n)) return EXIT_USAGE;
		o->concurrency = (int)n;
		return 0;
	case CF_PER_HOST:
		if (cli_parse_int(command, "--per-host", arg, 1, 10000, &n)) return EXIT_USAGE;
		o->per_host = (int)n;
		return 0;
	case CF_HOST_DELAY:
		return cli_parse_double(command, "--host-delay", arg, &o->host_delay) ? EXIT_USAGE : 0;
	case CF_RETRIES:
		if (cli_parse_int(command, "--retries", arg, 0, 100, &n)) return EXIT_USAGE;
		o->retries = (int)n;
		return 0;
	case CF_RETRY_BASE:
		return cli_parse_double(command, "--retry-base", arg, &o->retry_base) ? EXIT_USAGE : 0;
	case CF_MAX_BYTES:
		if (cli_parse_bytes(command, "--max-bytes", arg, &n)) return EXIT_USAGE;
		o->max_bytes = n;
		return 0;
	case CF_CONNECT_TIMEOUT:
		if (cli_parse_double(command, "--connect-timeout", arg, &d)) return EXIT_USAGE;
		o->connect_timeout_ms = (long)(d * 1000) + 1;
		return 0;
	case CF_TIMEOUT:
		if (cli_parse_double(command, "--timeout", arg, &d)) return EXIT_USAGE;
		o->timeout_ms = (long)(d * 1000) + 1;
		return 0;
	case CF_LOW_SPEED:
		if (cli_parse_int(command, "--low-speed", arg, 0, 1000000000, &n)) return EXIT_USAGE;
		o->low_speed_bytes = (long)n;
		return 0;
	case CF_LOW_SPEED_TIME:
		if (cli_parse_int(command, "--low-speed-time", arg, 1, 3600, &n)) return EXIT_USAGE;
		o->low_speed_secs = (long)n;
		return 0;
	case CF_MIN_SIDE:
		if (cli_parse_int(command, "--min-side", arg, 1, 100000, &n)) return EXIT_USAGE;
		o->min_side = (uint32_t)n;
		return 0;
	case CF_MAX_PIXELS:
		if (cli_parse_int(command, "--max-pixels", arg, 1, 10000000000LL, &n)) return EXIT_USAGE;
		o->max_pixels = (uint64_t)n;
		return 0;
	case CF_UA: o->user_agent = arg; return 0;
	case CF_WORKERS:
		if (cli_parse_int(command, "--workers", arg, 1, 64, &n)) return EXIT_USAGE;
		o->workers = (int)n;
		return 0;
	case CF_ALLOW_PRIVATE: o->allow_private = 1; return 0;
	case CF_ALLOW_ADDRESS: return cli_allow_address(command, arg, &o->allow_nets, &o->nallow_nets);
	default: return cli_usage(command, "unknown option");
	}
}

int cli_crawl_getopt(const cli_crawl_command *k, int argc, char **argv, crawl_opts *o)
{
	static const struct option crawl[] = {CLI_CRAWL_OPTIONS, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	struct option opts[CLI_CRAWL_OWN_MAX + sizeof crawl / sizeof *crawl];
	size_t n = 0;
	for (; k->own[n].name && n < CLI_CRAWL_OWN_MAX; n++)
		opts[n] = k->own[n];
	memcpy(opts + n, crawl, sizeof crawl);
	crawl_opts_default(o);
	int ch, rc = cli_crawl_env(k->name, o);
	while (!rc && (ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h') {
			k->help();
			return CLI_CRAWL_HELP;
		}
		rc = ch >= CF_CONC ? cli_crawl_flag(k->name, ch, optarg, o)
		     : ch >= 256   ? k->apply(k->ctx, ch, optarg)
		                   : cli_usage(k->name, "unknown option");
	}
	if (!rc && optind < argc)
		rc = cli_usage(k->name, "unexpected argument '%s'", argv[optind]);
	return rc;
}

void cli_crawl_flags_help(void)
{
	printf("  --concurrency N        transfers at once (64)\n"
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
	       "  --allow-address A[/B]  allow this private address or block only (repeatable)\n");
}

int cli_crawl_env(const char *command, crawl_opts *o)
{
	const char *v = getenv("NATADV_NOW");
	if (!v || !v[0])
		return 0;
	char *end;
	errno = 0;
	double now = strtod(v, &end);
	if (end == v || *end || errno || now < 0 || now > 1e11)
		return cli_usage(command, "NATADV_NOW wants unix seconds, not '%s'", v);
	o->clock_skew = now - time_now();
	return 0;
}

int cli_allow_address(const char *command, const char *arg, const http_net **nets, size_t *n)
{
	static http_net list[64];
	static size_t used;
	char err[256];
	if (used == sizeof list / sizeof list[0])
		return cli_usage(command, "more than %zu --allow-address blocks", used);
	if (http_net_parse(arg, &list[used], err, sizeof err) != 0)
		return cli_usage(command, "bad --allow-address: %s", err);
	used++;
	*nets = list;
	*n = used;
	return 0;
}

void cli_crawl_progress(void *ctx, const crawl_progress *p)
{
	struct cli_progress *pl = ctx;
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

void cli_progress_clear(struct cli_progress *pl)
{
	if (pl->shown)
		fputs("\r\033[K", stderr);
	pl->shown = 0;
}

void cli_crawl_summary(const crawl_progress *p)
{
	char a[32], b[32], e[32], f[32], g[32], h[32], r[32];
	fprintf(stderr, "natadv: crawled %s of %s urls: %s images (%s duplicates), %s failed, %s opted out, "
	        "%s retries in %.1f s\n", cli_num(p->done, a), cli_num(p->total, b), cli_num(p->images, e),
	        cli_num(p->duplicates, f), cli_num(p->failed, g), cli_num(p->opted_out, h),
	        cli_num(p->retries, r), p->elapsed);
}
