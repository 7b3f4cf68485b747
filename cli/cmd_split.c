/* cmd_split.c — `natadv split crawl|score --parts N [--by host|url]
 * [--model NAME] [--out DIR]`: hands the pending work of a stage to N part
 * workspaces, each run with the ordinary commands and merged back with
 * `natadv merge`. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "scaleout/scaleout.h"

static void split_help(void)
{
	printf("usage: natadv split crawl|score --parts N [--by host|url] [--model NAME] [--out DIR]\n\n"
	       "Writes N part workspaces DIR/part-0000 ... (default DIR: WS/parts/<stage>-<run id>),\n"
	       "each a complete natadv workspace with a part.json naming this one, holding a slice\n"
	       "of the work still to do:\n"
	       "  crawl   the pending urls with their class tags and provenance; --by host (the\n"
	       "          default) keeps every url of a host in one part, largest hosts first onto\n"
	       "          the lightest part, so politeness and robots.txt hold across machines;\n"
	       "          --by url spreads the urls evenly\n"
	       "  score   the images --model NAME has not scored, split evenly by image hash\n"
	       "          (blobs hard-linked where the file system allows, else copied)\n"
	       "Run each part with the ordinary commands (natadv -w DIR/part-0003 crawl, ... score\n"
	       "--model NAME), anywhere, then 'natadv -w WS merge DIR'. Work handed to a part stays\n"
	       "out until that part is merged: a second split takes only what is still pending and\n"
	       "in no unmerged part.\n");
}

int cmd_split(struct cli *c, int argc, char **argv)
{
	enum { O_PARTS = 1, O_BY, O_MODEL, O_OUT };
	static const struct option opts[] = {
		{"parts", required_argument, 0, O_PARTS}, {"by", required_argument, 0, O_BY},
		{"model", required_argument, 0, O_MODEL}, {"out", required_argument, 0, O_OUT},
		{"help", no_argument, 0, 'h'},            {0, 0, 0, 0},
	};
	scaleout_split_opts o = {.run_id = c->run_id};
	long long parts = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_PARTS:
			if (cli_parse_int("split", "--parts", optarg, 1, SCALEOUT_PARTS_MAX, &parts))
				return EXIT_USAGE;
			break;
		case O_BY:
			if (strcmp(optarg, "host") && strcmp(optarg, "url"))
				return cli_usage("split", "--by wants host or url, not '%s'", optarg);
			o.by = optarg;
			break;
		case O_MODEL: o.model = optarg; break;
		case O_OUT: o.out_dir = optarg; break;
		case 'h': split_help(); return EXIT_OK;
		default: return cli_usage("split", "unknown option");
		}
	}
	if (optind + 1 != argc || (strcmp(argv[optind], "crawl") && strcmp(argv[optind], "score")))
		return cli_usage("split", "wants one stage, crawl or score");
	o.stage = argv[optind];
	int crawl = !strcmp(o.stage, "crawl");
	if (!parts)
		return cli_usage("split", "wants --parts N");
	if (crawl && o.model)
		return cli_usage("split", "--model is for split score");
	if (!crawl && !o.model)
		return cli_usage("split", "split score wants --model NAME");
	if (!crawl && o.by)
		return cli_usage("split", "--by is for split crawl (images are split by hash)");
	o.parts = (int)parts;
	scaleout_split_result r;
	char err[2048], a[32], b[32];
	int rc = scaleout_split(c->st, &o, &r, err, sizeof err);
	if (rc) {
		cli_error("%s", err);
		return EXIT_FAIL;
	}
	if (!c->quiet) {
		fprintf(stderr, "split %s %lld: %s %s", o.stage, (long long)r.split_id, cli_num(r.items, a),
		        crawl ? "urls" : "images");
		if (crawl)
			fprintf(stderr, " of %s hosts", cli_num(r.hosts, b));
		fprintf(stderr, " into %d parts in '%s'; the largest part holds %s (%.1f%%)\n", r.parts, r.out_dir,
		        cli_num(r.largest, b), 100.0 * (double)r.largest / (double)r.items);
	}
	for (int k = 0; k < r.parts; k++)
		printf("%s/part-%04d\n", r.out_dir, k);
	return EXIT_OK;
}
