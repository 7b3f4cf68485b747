/* cmd_merge.c — `natadv merge DIR...`: folds finished part workspaces back
 * into this one. A part merged before is left alone; an unfinished one is
 * not merged (its work stays out) and listed, with exit status 3. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "scaleout/scaleout.h"

struct tally {
	int quiet;
	int merged, already, unfinished, failed;
};

static void merged_one(void *ctx, const scaleout_merged *m)
{
	struct tally *t = ctx;
	char a[32], b[32], d[32], e[32], f[32], g[32];
	const store_merge_result *r = m->r;
	if (m->rc) {
		cli_error("%s", m->err);
		t->failed++;
	} else if (r->already) {
		t->already++;
		if (!t->quiet)
			fprintf(stderr, "'%s' (%s): merged before, nothing to do\n", m->dir, r->label);
	} else if (r->unfinished) {
		t->unfinished++;
		fprintf(stderr, "'%s' (%s): not finished, not merged: %s %s left; run it again: natadv -w '%s' %s%s%s\n",
		        m->dir, r->label, cli_num(r->unfinished, a),
		        strcmp(r->stage, "crawl") ? "images unscored" : "urls pending", m->dir, r->stage,
		        m->pi->model[0] ? " --model " : "", m->pi->model);
	} else {
		t->merged++;
		if (!t->quiet)
			fprintf(stderr, "'%s' (%s): merged: %s urls settled, %s fetches, %s images (%s new), %s scores, "
			        "%s runs\n", m->dir, r->label, cli_num(r->urls + r->new_urls, a), cli_num(r->fetches, b),
			        cli_num(r->images, d), cli_num(r->new_images, e), cli_num(r->scores, f), cli_num(r->runs, g));
	}
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
			       "host and Slurm job). DIR is a part folder or a folder holding parts. All the\n"
			       "parts are merged in one transaction, each once: merging it again changes nothing.\n"
			       "A part of another workspace is refused. A part that is not finished (pending urls, or\n"
			       "unscored images) is not merged: it is listed, its work stays out, and the exit\n"
			       "status is 3; run it again, then merge again.\n");
			return EXIT_OK;
		default: return cli_usage("merge", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage("merge", "wants one or more part folders");
	struct tally t = {.quiet = c->quiet};
	char **all = NULL;
	size_t nall = 0, cap = 0;
	int rc = 0;
	for (int i = optind; !rc && i < argc; i++) {
		char **dirs = NULL, err[2048];
		size_t n = 0;
		if (scaleout_parts_find(argv[i], &dirs, &n, err, sizeof err) != 0) {
			cli_error("%s", err);
			t.failed++;
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			char **g = rc ? NULL : array_grow(all, nall, &cap, sizeof *all);
			if (g) {
				all = g;
				all[nall++] = dirs[k];
			} else {
				rc = EXIT_FAIL;
				free(dirs[k]);
			}
		}
		free(dirs);
	}
	if (rc)
		cli_error("out of memory");
	else if (scaleout_merge_many(c->st, c->run_id, all, nall, merged_one, &t, NULL, NULL) != 0) {
		cli_error("cannot sync the blob store '%s': nothing merged", store_objects_dir(c->st));
		rc = EXIT_FAIL;
	}
	for (size_t k = 0; k < nall; k++)
		free(all[k]);
	free(all);
	if (rc)
		return rc;
	if (!c->quiet || t.unfinished || t.failed)
		fprintf(stderr, "merged %d parts, %d merged before, %d not finished, %d refused\n", t.merged,
		        t.already, t.unfinished, t.failed);
	return t.failed ? EXIT_FAIL : t.unfinished ? EXIT_PARTIAL : EXIT_OK;
}
