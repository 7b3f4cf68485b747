/* cmd_merge.c — `natadv merge DIR...`: folds finished part workspaces back
 * into this one. A part merged before is left alone; an unfinished one is
 * not merged (its work stays out) and listed, with exit status 3. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "scaleout/scaleout.h"

struct tally {
	int merged, already, unfinished, failed;
};

static void merge_one(struct cli *c, const char *dir, struct tally *t)
{
	scaleout_part_info pi;
	store_merge_result r;
	char err[2048], a[32], b[32], d[32], e[32], f[32], g[32];
	if (scaleout_merge(c->st, c->run_id, dir, &pi, &r, err, sizeof err) != 0) {
		cli_error("%s", err);
		t->failed++;
		return;
	}
	if (r.already) {
		t->already++;
		if (!c->quiet)
			fprintf(stderr, "'%s' (%s): merged before, nothing to do\n", dir, r.label);
		return;
	}
	if (r.unfinished) {
		t->unfinished++;
		fprintf(stderr, "'%s' (%s): not finished, not merged: %s %s left; run it again: natadv -w '%s' %s%s%s\n",
		        dir, r.label, cli_num(r.unfinished, a),
		        strcmp(r.stage, "crawl") ? "images unscored" : "urls pending", dir, r.stage,
		        pi.model[0] ? " --model " : "", pi.model);
		return;
	}
	t->merged++;
	if (!c->quiet)
		fprintf(stderr, "'%s' (%s): merged: %s urls settled, %s fetches, %s images (%s new), %s scores, %s runs\n",
		        dir, r.label, cli_num(r.urls + r.new_urls, a), cli_num(r.fetches, b), cli_num(r.images, d),
		        cli_num(r.new_images, e), cli_num(r.scores, f), cli_num(r.runs, g));
}

int cmd_merge(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			printf("usage: natadv merge DIR...\n\n"
			       "Folds finished parts made by 'natadv split' back into this workspace: url states,\n"
			       "the fetch log, images and their blobs (hard-linked; copied only across file\n"
			       "systems), class tags, robots.txt fetches, scores and the parts' runs (with their\n"
			       "host and Slurm job). DIR is a part folder or a folder holding parts. Each part is\n"
			       "one transaction and is merged once: merging it again changes nothing. A part of\n"
			       "another workspace is refused. A part that is not finished (pending urls, or\n"
			       "unscored images) is not merged: it is listed, its work stays out, and the exit\n"
			       "status is 3; run it again, then merge again.\n");
			return EXIT_OK;
		default: return cli_usage("merge", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage("merge", "wants one or more part folders");
	struct tally t = {0};
	for (int i = optind; i < argc; i++) {
		char **dirs = NULL, err[2048];
		size_t n = 0;
		if (scaleout_parts_find(argv[i], &dirs, &n, err, sizeof err) != 0) {
			cli_error("%s", err);
			t.failed++;
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			merge_one(c, dirs[k], &t);
			free(dirs[k]);
		}
		free(dirs);
	}
	if (!c->quiet || t.unfinished || t.failed)
		fprintf(stderr, "merged %d parts, %d merged before, %d not finished, %d refused\n", t.merged,
		        t.already, t.unfinished, t.failed);
	return t.failed ? EXIT_FAIL : t.unfinished ? EXIT_PARTIAL : EXIT_OK;
}
