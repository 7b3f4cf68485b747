/* cmd_review_serve.c — `natadv review --serve`: the local review page. Prints
 * its address with the session token, serves until SIGINT/SIGTERM. */
#include "cli/cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report/report.h"
#include "review/review.h"

static void help(void)
{
	printf("usage: natadv review --serve [--port N] [--bind ADDR] [--reviewer NAME] [--set NAME] [--target N]\n\n"
	       "Serves the review page for the proposals of the set's current selection:\n"
	       "a grid sorted by confidence, filters by class, decision and confidence,\n"
	       "and keys to accept (a), reject with a reason (r then 1-7) and undo (u).\n"
	       "Decisions go to the review log under the reviewer's name. The address\n"
	       "printed carries a session token that every request must show.\n"
	       "Ctrl-C stops the server.\n\n"
	       "  --port N         port to listen on (8080; 0 picks a free one)\n"
	       "  --bind ADDR      numeric address to listen on (127.0.0.1; others are reachable\n"
	       "                   from elsewhere, so a warning is printed)\n"
	       "  --reviewer NAME  name recorded with each decision ($NATADV_REVIEWER, else\n"
	       "                   $USER, else 'unknown')\n"
	       "  --set NAME       class set under review (imagenet-a)\n"
	       "  --target N       accepted images wanted per class, shown as a counter (50)\n");
}

/* GET /report on the page: natadv report's page of the set under review. */
static int serve_report(void *ctx, store *s, const char *set, int target, buf *out, char *err, size_t errlen)
{
	(void)ctx;
	report_opts ro = {.set = set, .target = target, .thumbs = 4};
	struct json_t *data = NULL;
	int rc = report_collect(s, &ro, &data, err, errlen);
	if (!rc)
		rc = report_html(s, data, &ro, out, err, errlen);
	json_decref(data);
	return rc;
}

struct totals {
	int64_t proposed, accepted, rejected;
};

static void add_class(void *ctx, const store_class_progress *p)
{
	struct totals *t = ctx;
	t->proposed += p->proposed;
	t->accepted += p->accepted;
	t->rejected += p->rejected;
}

int cmd_review_serve(struct cli *c, int argc, char **argv)
{
	enum { O_PORT = 256, O_BIND, O_REVIEWER, O_SET, O_TARGET, O_SERVE };
	static const struct option opts[] = {
		{"port", required_argument, 0, O_PORT},         {"bind", required_argument, 0, O_BIND},
		{"reviewer", required_argument, 0, O_REVIEWER}, {"set", required_argument, 0, O_SET},
		{"target", required_argument, 0, O_TARGET},     {"serve", no_argument, 0, O_SERVE},
		{"help", no_argument, 0, 'h'},                  {0, 0, 0, 0},
	};
	review_opts o = {.set = "imagenet-a", .port = 8080, .target = REVIEW_TARGET_DEFAULT, .run_id = c->run_id,
	                 .report = serve_report};
	o.reviewer = cli_default_reviewer();
	long long n;
	int ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_PORT:
			if (cli_parse_int("review", "--port", optarg, 0, 65535, &n)) return EXIT_USAGE;
			o.port = (unsigned)n;
			break;
		case O_BIND: o.bind = optarg; break;
		case O_REVIEWER: o.reviewer = optarg; break;
		case O_SET: o.set = optarg; break;
		case O_TARGET:
			if (cli_parse_int("review", "--target", optarg, 1, 1000000, &n)) return EXIT_USAGE;
			o.target = (int)n;
			break;
		case O_SERVE: break; /* given when `natadv review --serve` passes its arguments on */
		case 'h': help(); return EXIT_OK;
		default: return cli_usage("review", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage("review", "unexpected argument '%s'", argv[optind]);
	if (!*o.reviewer || strlen(o.reviewer) > 100)
		return cli_usage("review", "--reviewer wants a name of 1 to 100 bytes");

	struct totals t = {0};
	if (store_review_progress(c->st, o.set, add_class, &t) != 0) {
		cli_error("%s", store_errmsg(c->st));
		return EXIT_FAIL;
	}
	if (o.bind && strcmp(o.bind, "127.0.0.1") != 0)
		cli_error("warning: serving on '%s', not only this machine's loopback: whoever reaches it "
		          "with the token can decide on proposals", o.bind);
	if (t.proposed == 0)
		cli_error("warning: set '%s' has no proposals in force (run 'natadv select'); the page is empty", o.set);

	review_server *srv = NULL;
	char err[512];
	if (review_start(c->st, &o, &srv, err, sizeof err) != 0) {
		cli_error("%s", err);
		return EXIT_FAIL;
	}
	printf("%s\n", review_url(srv));
	fflush(stdout);
	if (!c->quiet) {
		char a[32], b[32], d[32];
		fprintf(stderr, "natadv: reviewing '%s' as '%s': %s proposals, %s accepted, %s rejected (Ctrl-C stops)\n",
		        o.set, o.reviewer, cli_num(t.proposed, a), cli_num(t.accepted, b), cli_num(t.rejected, d));
	}
	while (!cli_stop) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	review_stop(srv);
	if (!c->quiet)
		fprintf(stderr, "natadv: review server stopped\n");
	return EXIT_OK;
}
