/* cmd_discover.c — `natadv discover --source S`: search an image API for
 * each class and queue what it finds for `natadv crawl`, with the licence,
 * author and query of every candidate kept. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "cli/crawl_flags.h"
#include "crawler/discover.h"

static void help(void)
{
	printf("usage: natadv discover --source openverse|inaturalist|wikimedia|flickr\n"
	       "                       [--set NAME | --classes WNID,...] [options]\n\n"
	       "Searches the source for every class of the set (imagenet-a) with the class's\n"
	       "WordNet names: the first name, and the Latin binomial when the last name is\n"
	       "one (iNaturalist searches that as a taxon, first). Every candidate is queued\n"
	       "for 'natadv crawl' with its source, query, page URL, licence, author, title\n"
	       "and the source's id; every API request is recorded. Candidates whose licence\n"
	       "is outside --license are recorded but not queued ('natadv stats' counts\n"
	       "them). Run it again to continue where it stopped.\n\n"
	       "options:\n"
	       "  --source NAME          openverse, inaturalist, wikimedia or flickr (required)\n"
	       "  --set NAME             class set to search (imagenet-a)\n"
	       "  --classes WNID,...     these classes instead of a set\n"
	       "  --per-class N          stop a class once N candidates are queued from this source (100)\n"
	       "  --license LIST         licences queued: cc0,pdm,by,by-sa (default), by-nc, by-nd,\n"
	       "                         by-nc-sa, by-nc-nd, or all\n"
	       "  --query-template TEXT  words around the common name, e.g. 'photo of {name}'\n"
	       "  --endpoint URL         the API's base URL (tests point it at a local server)\n"
	       "  --min-interval S       seconds between requests (openverse 3, others 1)\n"
	       "  --max-requests N       stop after N requests (no limit)\n"
	       "  --max-pages N          pages per query in one run (50)\n"
	       "  --page-size N          results per request (openverse 20, inaturalist 50,\n"
	       "                         wikimedia 50, flickr 100)\n"
	       "  --retries N            retries of a page after 429, 5xx or a network error (4)\n"
	       "  --retry-base S         first backoff, doubled each retry (2); Retry-After wins\n"
	       "  --max-wait S           longest wait for one retry (300); a longer Retry-After\n"
	       "                         leaves the page for a later run\n"
	       "  --connect-timeout S    (10)   --timeout S  whole request (60)\n"
	       "  --user-agent TEXT      User-Agent; name the tool and a contact URL\n"
	       "  --allow-private        allow loopback, private and link-local addresses\n"
	       "  --allow-address A[/B]  allow this private address or block only (repeatable)\n\n"
	       "Flickr needs an API key in FLICKR_API_KEY; it is sent, never stored.\n"
	       "Exit status: 0 done, 3 done but some pages failed, 1 error or interrupted\n"
	       "(run again to continue), 2 usage.\n");
}

struct ui {
	int tty, shown, verbose, quiet;
};

static void on_msg(void *ctx, int level, const char *msg)
{
	struct ui *u = ctx;
	if ((level == DISC_MSG_INFO && !u->verbose) || (u->quiet && level != DISC_MSG_WARN))
		return;
	if (u->shown) {
		fputs("\r\033[K", stderr);
		u->shown = 0;
	}
	fprintf(stderr, "natadv: %s\n", msg);
}

static void on_progress(void *ctx, const disc_summary *p)
{
	struct ui *u = ctx;
	if (!u->tty)
		return;
	char a[32], b[32], c[32], d[32], e[32];
	fprintf(stderr, "\r\033[Kdiscover: class %s of %s  %s requests  %s queued  %s failed pages",
	        cli_num(p->classes_done, a), cli_num(p->classes, b), cli_num(p->requests, c), cli_num(p->queued, d),
	        cli_num(p->failed_pages, e));
	u->shown = 1;
}

/* Splits "a,b,c" into a malloc'd array of malloc'd strings. */
static int split_list(const char *s, char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	char *copy = strdup(s);
	if (!copy)
		return -1;
	size_t cap = 1;
	for (const char *p = s; *p; p++)
		cap += *p == ',';
	char **v = calloc(cap, sizeof *v);
	if (!v) {
		free(copy);
		return -1;
	}
	for (char *p = copy; p;) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		while (*p == ' ')
			p++;
		if (*p && !(v[(*n)++] = strdup(p)))
			break;
		p = comma ? comma + 1 : NULL;
	}
	free(copy);
	*out = v;
	return 0;
}

/* Parses the options into o, *source, *set, *classes; -1 to go on, else the
 * exit status (help, usage error). */
static int parse_opts(int argc, char **argv, disc_opts *o, const char **source, const char **set,
                      const char **classes)
{
	enum { O_SOURCE = 256, O_SET, O_CLASSES, O_PER_CLASS, O_LICENSE, O_TEMPLATE, O_ENDPOINT, O_MIN_INTERVAL,
	       O_MAX_REQUESTS, O_MAX_PAGES, O_PAGE_SIZE, O_RETRIES, O_RETRY_BASE, O_MAX_WAIT, O_CONNECT_TIMEOUT,
	       O_TIMEOUT, O_UA, O_ALLOW_PRIVATE, O_ALLOW_ADDRESS };
	static const struct option opts[] = {
		{"source", required_argument, 0, O_SOURCE},
		{"set", required_argument, 0, O_SET},
		{"classes", required_argument, 0, O_CLASSES},
		{"per-class", required_argument, 0, O_PER_CLASS},
		{"license", required_argument, 0, O_LICENSE},
		{"query-template", required_argument, 0, O_TEMPLATE},
		{"endpoint", required_argument, 0, O_ENDPOINT},
		{"min-interval", required_argument, 0, O_MIN_INTERVAL},
		{"max-requests", required_argument, 0, O_MAX_REQUESTS},
		{"max-pages", required_argument, 0, O_MAX_PAGES},
		{"page-size", required_argument, 0, O_PAGE_SIZE},
		{"retries", required_argument, 0, O_RETRIES},
		{"retry-base", required_argument, 0, O_RETRY_BASE},
		{"max-wait", required_argument, 0, O_MAX_WAIT},
		{"connect-timeout", required_argument, 0, O_CONNECT_TIMEOUT},
		{"timeout", required_argument, 0, O_TIMEOUT},
		{"user-agent", required_argument, 0, O_UA},
		{"allow-private", no_argument, 0, O_ALLOW_PRIVATE},
		{"allow-address", required_argument, 0, O_ALLOW_ADDRESS},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	char err[2048];
	long long n;
	double d;
	int ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_SOURCE: *source = optarg; break;
		case O_SET: *set = o->set = optarg; break;
		case O_CLASSES: *classes = optarg; break;
		case O_PER_CLASS:
			if (cli_parse_int("discover", "--per-class", optarg, 1, 1000000000, &n)) return EXIT_USAGE;
			o->per_class = (int)n;
			break;
		case O_LICENSE:
			if (disc_license_parse(optarg, &o->licenses, err, sizeof err))
				return cli_usage("discover", "--license: %s", err);
			break;
		case O_TEMPLATE:
			if (!strstr(optarg, "{name}"))
				return cli_usage("discover", "--query-template needs {name} where the class name goes");
			o->query_template = optarg;
			break;
		case O_ENDPOINT:
			if (strncmp(optarg, "http://", 7) != 0 && strncmp(optarg, "https://", 8) != 0)
				return cli_usage("discover", "--endpoint wants an http or https URL, not '%s'", optarg);
			o->endpoint = optarg;
			break;
		case O_MIN_INTERVAL:
			if (cli_parse_double("discover", "--min-interval", optarg, &o->min_interval)) return EXIT_USAGE;
			break;
		case O_MAX_REQUESTS:
			if (cli_parse_int("discover", "--max-requests", optarg, 1, 1000000000000LL, &n)) return EXIT_USAGE;
			o->max_requests = n;
			break;
		case O_MAX_PAGES:
			if (cli_parse_int("discover", "--max-pages", optarg, 1, 1000000, &n)) return EXIT_USAGE;
			o->max_pages = (int)n;
			break;
		case O_PAGE_SIZE:
			if (cli_parse_int("discover", "--page-size", optarg, 1, 500, &n)) return EXIT_USAGE;
			o->page_size = (int)n;
			break;
		case O_RETRIES:
			if (cli_parse_int("discover", "--retries", optarg, 0, 100, &n)) return EXIT_USAGE;
			o->retries = (int)n;
			break;
		case O_RETRY_BASE:
			if (cli_parse_double("discover", "--retry-base", optarg, &o->retry_base)) return EXIT_USAGE;
			break;
		case O_MAX_WAIT:
			if (cli_parse_double("discover", "--max-wait", optarg, &o->max_wait)) return EXIT_USAGE;
			break;
		case O_CONNECT_TIMEOUT:
			if (cli_parse_double("discover", "--connect-timeout", optarg, &d)) return EXIT_USAGE;
			o->connect_timeout_ms = (long)(d * 1000) + 1;
			break;
		case O_TIMEOUT:
			if (cli_parse_double("discover", "--timeout", optarg, &d)) return EXIT_USAGE;
			o->timeout_ms = (long)(d * 1000) + 1;
			break;
		case O_UA: o->user_agent = optarg; break;
		case O_ALLOW_PRIVATE: o->allow_private = 1; break;
		case O_ALLOW_ADDRESS:
			if (cli_allow_address("discover", optarg, &o->allow_nets, &o->nallow_nets)) return EXIT_USAGE;
			break;
		case 'h': help(); return EXIT_OK;
		default: return cli_usage("discover", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage("discover", "unexpected argument '%s'", argv[optind]);
	return -1;
}

/* Splits --classes into o->wnids and checks each is a known class. */
static int check_classes(struct cli *c, const char *classes, disc_opts *o)
{
	if (split_list(classes, &o->wnids, &o->nwnids) != 0) {
		cli_error("out of memory");
		return EXIT_FAIL;
	}
	if (o->nwnids == 0)
		return cli_usage("discover", "--classes names no class");
	for (size_t i = 0; i < o->nwnids; i++) {
		int known = store_class_known(c->st, o->wnids[i]);
		if (known < 0) {
			cli_error("%s", store_errmsg(c->st));
			return EXIT_FAIL;
		}
		if (!known)
			return cli_usage("discover", "unknown wnid '%s' in --classes", o->wnids[i]);
	}
	return EXIT_OK;
}

/* Runs discover and prints its summary; returns the exit status. */
static int run(struct cli *c, const disc_opts *o)
{
	char err[2048];
	struct ui u = {isatty(STDERR_FILENO) && !c->quiet, 0, c->verbose, c->quiet};
	disc_report rep = {on_msg, on_progress, &u};
	disc_summary sum;
	int rc = disc_run(c->st, c->run_id, o, &cli_stop, &rep, &sum, err, sizeof err);
	if (u.shown)
		fputs("\r\033[K", stderr);
	char a[32], b[32], e[32], f[32], g[32], h[32], k[32], l[32];
	if (!c->quiet || rc)
		fprintf(stderr, "natadv: discovered %s candidates from %s for %s of %s classes in %s requests: "
		        "%s queued (%s new urls), %s recorded but not queued, %s pages failed in %.1f s\n",
		        cli_num(sum.candidates, a), o->src->name, cli_num(sum.classes_done, b), cli_num(sum.classes, e),
		        cli_num(sum.requests, f), cli_num(sum.queued, g), cli_num(sum.new_urls, h),
		        cli_num(sum.not_queued, k), cli_num(sum.failed_pages, l), sum.elapsed);
	if (rc == NATADV_EINTR) {
		cli_error("interrupted (run 'natadv discover' again to continue)");
		return EXIT_FAIL;
	}
	if (rc) {
		cli_error("discover stopped: %s", err);
		return EXIT_FAIL;
	}
	if (sum.capped)
		cli_error("stopped after %s requests (--max-requests); run again to continue", cli_num(sum.requests, a));
	return sum.failed_pages ? EXIT_PARTIAL : EXIT_OK;
}

int cmd_discover(struct cli *c, int argc, char **argv)
{
	disc_opts o;
	disc_opts_default(&o);
	const char *source = NULL, *set = NULL, *classes = NULL;
	int status = parse_opts(argc, argv, &o, &source, &set, &classes);
	if (status >= 0)
		return status;
	if (set && classes)
		return cli_usage("discover", "--set and --classes exclude each other");
	if (!source)
		return cli_usage("discover", "--source is required (openverse, inaturalist, wikimedia or flickr)");
	o.src = disc_source_find(source);
	if (!o.src)
		return cli_usage("discover", "unknown source '%s' (openverse, inaturalist, wikimedia or flickr)", source);
	if (o.src->key_env) {
		o.api_key = getenv(o.src->key_env);
		if (!o.api_key || !*o.api_key) {
			cli_error("%s needs an API key: set %s", o.src->name, o.src->key_env);
			return EXIT_FAIL;
		}
	}
	status = classes ? check_classes(c, classes, &o) : EXIT_OK;
	if (status == EXIT_OK)
		status = run(c, &o);
	for (size_t i = 0; i < o.nwnids; i++)
		free(o.wnids[i]);
	free(o.wnids);
	return status;
}
