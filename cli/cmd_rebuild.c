/* cmd_rebuild.c — `natadv rebuild --manifest FILE`: re-fetch every URL of a
 * release's manifest into a workspace (made if missing), report which
 * images are the same, changed or vanished, and when all are the same,
 * record the selection and reviews that reproduce the release (and export
 * it with --out). */
#include "cli/cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/crawl_flags.h"
#include "common/err.h"
#include "rebuild/rebuild.h"

static void help(void)
{
	printf("usage: natadv -w DIR rebuild --manifest FILE [--out DIR [--force]] [--json] [options]\n\n"
	       "Re-fetches every url of a release's manifest.jsonl into the workspace DIR\n"
	       "(created when missing), with each line's class and provenance, and compares\n"
	       "what each url gives now with the manifest's content hash: same, changed (old\n"
	       "and new hash) or vanished (the fetch error). The class set is created from\n"
	       "classes.tsv beside the manifest (or from the lines) unless it exists; if it\n"
	       "exists with other classes, nothing is done. Every line is checked first: a\n"
	       "malformed line stops the rebuild with its line number before anything is\n"
	       "written. When every image is the same, it records a selection (rule\n"
	       "'manifest') with the manifest's predictions and an automatic accept of each,\n"
	       "so that exporting the set gives the same release; --out DIR exports it there\n"
	       "with the manifest's version and release time. Run it again to continue.\n\n"
	       "options:\n"
	       "  --manifest FILE        the release's manifest.jsonl (required)\n"
	       "  --out DIR              export the rebuilt release to DIR when all match\n"
	       "  --force                replace an existing DIR\n"
	       "  --json                 print the report as one JSON object\n"
	       "  --retry-failed         fetch urls that failed in an earlier run again\n");
	cli_crawl_flags_help();
	printf("\nExit status: 0 every image is the same, 3 some changed, vanished or are still\n"
	       "pending, 1 error or interrupted (run again to continue), 2 usage.\n");
}

/* What the command's callbacks and messages need. */
struct rebuild_cli {
	int quiet, partial, json;
	const char *out;
	struct cli_progress progress;
};

static void print_human(const rebuild_manifest *m, const rebuild_result *r)
{
	printf("%5s  %-8s  %s\n", "line", "status", "path");
	for (int i = 0; i < m->n; i++) {
		const pkg_manifest_item *it = m->items[i].src;
		printf("%5ld  %-8s  %s", it->line, rebuild_status_name(r[i].status), it->path);
		switch (r[i].status) {
		case REBUILD_SAME: break;
		case REBUILD_CHANGED: printf("  %s: was %s, now %s", it->url, it->xxh128, r[i].url.image_hash); break;
		case REBUILD_VANISHED:
		case REBUILD_PENDING:
			printf("  %s: ", it->url);
			if (r[i].url.http_status && strncmp(r[i].url.error, "HTTP ", 5) != 0)
				printf("HTTP %ld, ", r[i].url.http_status);
			printf("%s", r[i].url.error[0] ? r[i].url.error : r[i].url.state);
			break;
		}
		putchar('\n');
	}
}

/* The whole report as one JSON object (a new reference). */
static json_t *report_json(const rebuild_manifest *m, const rebuild_report *k, const char *workspace,
                           const char *out)
{
	const rebuild_result *r = k->results;
	json_t *items = json_array();
	for (int i = 0; i < m->n; i++) {
		const pkg_manifest_item *it = m->items[i].src;
		json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?}", "line", (json_int_t)it->line,
		                      "path", it->path, "wnid", it->wnid, "url", it->url, "status",
		                      rebuild_status_name(r[i].status), "expected", it->xxh128, "got",
		                      r[i].url.image_hash[0] ? r[i].url.image_hash : NULL, "url_state",
		                      r[i].url.state[0] ? r[i].url.state : NULL, "error",
		                      r[i].status != REBUILD_SAME && r[i].url.error[0] ? r[i].url.error : NULL);
		if (o && r[i].url.http_status)
			json_object_set_new(o, "http_status", json_integer(r[i].url.http_status));
		json_array_append_new(items, o);
	}
	json_t *report = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:i, s:i, s:i, s:i, s:i, s:o}", "manifest",
	                           m->path, "manifest_sha256", m->sha256, "workspace", workspace, "set", m->set,
	                           "version", m->version, "released_at", m->released_at, "expected_tar_sha256",
	                           m->tar_sha256[0] ? m->tar_sha256 : NULL, "lines", m->n, "same",
	                           k->count[REBUILD_SAME], "changed", k->count[REBUILD_CHANGED], "vanished",
	                           k->count[REBUILD_VANISHED], "pending", k->count[REBUILD_PENDING], "items", items);
	if (report && k->restored)
		json_object_set_new(report, "selection_id", json_integer(k->selection_id));
	if (report && k->exported)
		json_object_set_new(report, "release",
		                    json_pack("{s:s, s:I, s:i, s:s, s:b}", "out", out, "release_id",
		                              (json_int_t)k->release.release_id, "images", k->release.images, "tar_sha256",
		                              k->release.tar_sha256, "same_tar", k->same_tar));
	return report;
}

/* Tells how many URLs were queued, before the fetch. */
static void on_queued(void *ctx, const rebuild_manifest *m, int64_t new_urls)
{
	const struct rebuild_cli *rc = ctx;
	char a[32], b[32];
	if (!rc->quiet)
		fprintf(stderr, "natadv: '%s' (%s %s, %s images of %d classes%s): %s new urls queued\n", m->path, m->set,
		        m->version, cli_num(m->n, a), m->nmembers, rc->partial ? ", partial" : "", cli_num(new_urls, b));
}

static void on_progress(void *ctx, const crawl_progress *p)
{
	cli_crawl_progress(&((struct rebuild_cli *)ctx)->progress, p);
}

/* The report and the messages after a run (rc its result); the exit status. */
static int print_outcome(struct cli *c, const rebuild_manifest *m, const struct rebuild_cli *o,
                         const rebuild_report *k, int rc, const char *err)
{
	char a[32], b[32], s1[32], s2[32], s3[32], s4[32];
	if (k->crawled && (!c->quiet || rc))
		cli_crawl_summary(&k->crawl);
	if (rc == NATADV_EINTR) {
		cli_error("interrupted (run 'natadv rebuild' again to continue)");
		return EXIT_FAIL;
	}
	if (!k->results) {
		cli_error("%s", err);
		return EXIT_FAIL;
	}
	json_t *report = o->json ? report_json(m, k, c->workspace, o->out) : NULL;
	if (!o->json)
		print_human(m, k->results);
	fprintf(stderr, "natadv: rebuilt %s of %s images of '%s': %s same, %s changed, %s vanished, %s pending\n",
	        cli_num(k->count[REBUILD_SAME], a), cli_num(m->n, b), m->path, cli_num(k->count[REBUILD_SAME], s1),
	        cli_num(k->count[REBUILD_CHANGED], s2), cli_num(k->count[REBUILD_VANISHED], s3),
	        cli_num(k->count[REBUILD_PENDING], s4));
	int status = EXIT_OK;
	if (k->count[REBUILD_SAME] != m->n) {
		if (k->count[REBUILD_PENDING])
			cli_error("some urls wait for a server's Retry-After (run 'natadv rebuild' again later)");
		cli_error("the release cannot be reproduced: not every image is the same");
		status = EXIT_PARTIAL;
	}
	if (k->restored && !c->quiet)
		fprintf(stderr, "natadv: selection %lld of '%s' %s: %d images accepted (rule 'manifest')\n",
		        (long long)k->selection_id, m->set, k->created ? "recorded" : "was recorded by an earlier run", m->n);
	if (rc) {
		cli_error("%s", err);
		status = EXIT_FAIL;
	}
	if (k->exported) {
		if (!c->quiet)
			fprintf(stderr, "natadv: exported %d images to '%s', tar sha256 %s%s\n", k->release.images, o->out,
			        k->release.tar_sha256, !m->tar_sha256[0] ? "" : k->same_tar ? " (the same as the manifest's release)"
			                                                              : " (differs from the manifest's release)");
		if (m->tar_sha256[0] && !k->same_tar) {
			cli_error("the exported tar differs from the one in '%s''s SHA256SUMS", m->path);
			status = EXIT_PARTIAL;
		}
	}
	if (report && cli_json_put(report, 0) != 0 && status == EXIT_OK)
		status = EXIT_FAIL;
	return status;
}

enum { O_MANIFEST = 256, O_OUT, O_FORCE, O_JSON, O_RETRY_FAILED };

struct rebuild_args {
	const char *manifest;
	rebuild_opts *o;
	struct rebuild_cli *ui;
};

static int rebuild_arg(void *ctx, int ch, const char *arg)
{
	struct rebuild_args *a = ctx;
	switch (ch) {
	case O_MANIFEST: a->manifest = arg; break;
	case O_OUT: a->o->out = a->ui->out = arg; break;
	case O_FORCE: a->o->force = 1; break;
	case O_JSON: a->ui->json = 1; break;
	case O_RETRY_FAILED: a->o->retry_failed = 1; break;
	}
	return 0;
}

int cmd_rebuild(struct cli *c, int argc, char **argv)
{
	static const struct option own[] = {
		{"manifest", required_argument, 0, O_MANIFEST},
		{"out", required_argument, 0, O_OUT},
		{"force", no_argument, 0, O_FORCE},
		{"json", no_argument, 0, O_JSON},
		{"retry-failed", no_argument, 0, O_RETRY_FAILED},
		{0, 0, 0, 0},
	};
	crawl_opts co;
	struct rebuild_cli ui = {.quiet = c->quiet, .progress = {isatty(STDERR_FILENO) && !c->quiet, 0}};
	rebuild_opts o = {.crawl = &co, .stop = &cli_stop, .on_queued = on_queued, .on_progress = on_progress,
	                  .ctx = &ui};
	struct rebuild_args args = {NULL, &o, &ui};
	const cli_crawl_command cmd = {"rebuild", own, rebuild_arg, help, &args};
	int rc = cli_crawl_getopt(&cmd, argc, argv, &co);
	if (rc)
		return rc == CLI_CRAWL_HELP ? EXIT_OK : rc;
	const char *manifest = args.manifest;
	if (!manifest)
		return cli_usage("rebuild", "which release? give --manifest FILE");
	if (o.force && !o.out)
		return cli_usage("rebuild", "--force goes with --out");
	struct stat sb;
	if (o.out && !o.force && stat(o.out, &sb) == 0) {
		cli_error("'%s' exists (use --force to replace it)", o.out);
		return EXIT_FAIL;
	}

	/* Everything is checked before anything is written; main records the run's end. */
	char err[4096];
	rebuild_manifest *m = NULL;
	int created = 0, status = EXIT_FAIL;
	if (rebuild_manifest_read(manifest, &m, err, sizeof err) != 0 ||
	    rebuild_open(c->workspace, m, &c->st, &created, &o.partial, err, sizeof err) != 0) {
		cli_error("%s", err);
		goto out;
	}
	ui.partial = o.partial;
	if (created && !c->quiet)
		fprintf(stderr, "natadv: workspace ready at '%s'\n", c->workspace);
	if (store_run_begin(c->st, "rebuild", c->args, &c->run_id) != 0) {
		cli_error("%s", store_errmsg(c->st));
		goto out;
	}
	rebuild_report k;
	rc = rebuild_run(c->st, c->run_id, m, &o, &k, err, sizeof err);
	cli_progress_clear(&ui.progress);
	status = print_outcome(c, m, &ui, &k, rc, err);
	rebuild_report_release(&k);
out:
	rebuild_manifest_free(m);
	return status;
}
