/* cmd_report.c — `natadv report`: one self-contained HTML page (inline CSS
 * and SVG, no script, nothing fetched) with what the build found, kept and
 * threw away; --json prints the same numbers. */
#include "cli/cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "report/report.h"
#include "review/review.h"

/* Thumbnails per confusion pair on the page. */
#define REPORT_THUMBS 4

static void help(void)
{
	printf("usage: natadv report [--set NAME] [--out FILE] [--json] [--target N]\n\n"
	       "Writes one HTML page (inline CSS and SVG charts, no script, nothing fetched):\n"
	       "the funnel from discovered to released per class, why urls failed and at\n"
	       "which hosts, confidence histograms, the most frequent confusions with\n"
	       "thumbnails, sources and licences, reviewers, and every run.\n\n"
	       "  --set NAME    class set of the funnel, proposals and reviews (imagenet-a)\n"
	       "  --out FILE    where to write the page (report.html in the workspace)\n"
	       "  --json        print the same numbers as one JSON object instead; its urls\n"
	       "                object is stats --json's\n"
	       "  --target N    accepted images wanted per class (%d, as the review page)\n",
	       REVIEW_TARGET_DEFAULT);
}

int cmd_report(struct cli *c, int argc, char **argv)
{
	enum { O_SET = 256, O_OUT, O_JSON, O_TARGET };
	static const struct option opts[] = {
		{"set", required_argument, 0, O_SET},       {"out", required_argument, 0, O_OUT},
		{"json", no_argument, 0, O_JSON},           {"target", required_argument, 0, O_TARGET},
		{"help", no_argument, 0, 'h'},              {0, 0, 0, 0},
	};
	report_opts o = {.set = "imagenet-a", .target = REVIEW_TARGET_DEFAULT, .thumbs = REPORT_THUMBS,
	                 .run_id = c->run_id};
	const char *out = NULL;
	int json = 0, ch;
	long long n;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_SET: o.set = optarg; break;
		case O_OUT: out = optarg; break;
		case O_JSON: json = 1; break;
		case O_TARGET:
			if (cli_parse_int("report", "--target", optarg, 1, 1000000, &n)) return EXIT_USAGE;
			o.target = (int)n;
			break;
		case 'h': help(); return EXIT_OK;
		default: return cli_usage("report", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage("report", "unexpected argument '%s'", argv[optind]);
	if (json && out)
		return cli_usage("report", "--json prints the numbers; --out is for the page");
	char err[512];
	int rc;
	if (json) {
		json_t *data = NULL;
		rc = report_collect(c->st, &o, &data, err, sizeof err);
		if (!rc && cli_json_put(data, JSON_REAL_PRECISION(15)) != 0) {
			snprintf(err, sizeof err, "out of memory");
			rc = NATADV_ENOMEM;
		}
	} else {
		buf path;
		buf_init(&path, 8192);
		rc = out ? buf_puts(&path, out) : buf_printf(&path, "%s/report.html", store_dir(c->st));
		if (!rc)
			rc = report_write(c->st, &o, buf_cstr(&path), err, sizeof err);
		else
			snprintf(err, sizeof err, "path too long");
		if (!rc && !c->quiet)
			printf("%s\n", buf_cstr(&path));
		buf_release(&path);
	}
	if (rc) {
		cli_error("cannot write the report of '%s': %s", o.set, err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
