/* cmd_split.c — `natadv split crawl|score --parts N [--by host|url]
 * [--model NAME] [--out DIR]`: hands the pending work of a stage to N part
 * workspaces, each run with the ordinary commands and merged back with
 * `natadv merge`; `natadv split abandon DIR...` takes back the work of
 * parts that will never be merged. */
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
	       "in no unmerged part.\n\n"
	       "usage: natadv split abandon DIR...\n\n"
	       "Gives up on unmerged parts (DIR: a part folder or a folder holding parts): their urls\n"
	       "or images go back to this workspace's own queue, for its crawl or score or a new\n"
	       "split, and the parts are forgotten (merge refuses them from then on; delete their\n"
	       "folders when done). A merged part is refused; a part abandoned before is left alone.\n");
}

/* Abandons the parts in each of dirs[0..n): exit 0, or 1 when some DIR
 * holds no part, or a part is another workspace's or merged already. */
static int split_abandon(struct cli *c, char **dirs, int n)
{
	int failed = 0, done = 0, before = 0;
	char err[2048], a[32];
	for (int i = 0; i < n; i++) {
		char **parts = NULL;
		size_t np = 0;
		if (scaleout_parts_find(dirs[i], &parts, &np, err, sizeof err) != 0) {
			cli_error("%s", err);
			failed++;
			continue;
		}
		for (size_t k = 0; k < np; k++) {
			scaleout_part_info pi;
			int64_t back = -1;
			if (scaleout_abandon(c->st, parts[k], &pi, &back, err, sizeof err) != 0) {
				cli_error("%s", err);
				failed++;
			} else if (back < 0) {
				before++;
				if (!c->quiet)
					fprintf(stderr, "'%s': not out (abandoned before), nothing to do\n", parts[k]);
			} else {
				done++;
				if (!c->quiet)
					fprintf(stderr, "'%s': abandoned: %s %s back in the queue\n", parts[k], cli_num(back, a),
					        strcmp(pi.stage, "crawl") ? "images" : "urls");
			}
			free(parts[k]);
		}
		free(parts);
	}
	if (!c->quiet || failed)
		fprintf(stderr, "abandoned %d parts, %d abandoned before, %d refused\n", done, before, failed);
	return failed ? EXIT_FAIL : EXIT_OK;
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
	if (optind < argc && !strcmp(argv[optind], "abandon")) {
		if (parts || o.by || o.model || o.out_dir)
			return cli_usage("split", "split abandon takes no options");
		if (optind + 1 >= argc)
			return cli_usage("split", "split abandon wants one or more part folders");
		return split_abandon(c, argv + optind + 1, argc - optind - 1);
	}
	if (optind + 1 != argc || (strcmp(argv[optind], "crawl") && strcmp(argv[optind], "score")))
		return cli_usage("split", "wants one stage, crawl or score, or abandon DIR...");
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
