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
#include "crawler/rebuild.h"
#include "packager/packager.h"

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

struct counts {
	int n[4];   /* by rebuild_status */
};

static void print_human(const rebuild_manifest *m, const rebuild_result *r)
{
	printf("%5s  %-8s  %s\n", "line", "status", "path");
	for (int i = 0; i < m->n; i++) {
		const rebuild_item *it = &m->items[i];
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
static json_t *report_json(const rebuild_manifest *m, const rebuild_result *r, const struct counts *k,
                           const char *workspace)
{
	json_t *items = json_array();
	for (int i = 0; i < m->n; i++) {
		const rebuild_item *it = &m->items[i];
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
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:i, s:i, s:i, s:i, s:i, s:o}", "manifest", m->path,
	                 "manifest_sha256", m->sha256, "workspace", workspace, "set", m->set, "version", m->version,
	                 "released_at", m->released_at, "expected_tar_sha256", m->tar_sha256[0] ? m->tar_sha256 : NULL,
	                 "lines", m->n, "same", k->n[REBUILD_SAME], "changed", k->n[REBUILD_CHANGED], "vanished",
	                 k->n[REBUILD_VANISHED], "pending", k->n[REBUILD_PENDING], "items", items);
}

/* Opens the workspace, or an in-memory store to check against when there
 * is none yet (*fresh = 1); nothing is written to either. */
static int open_for_check(const char *dir, store **s, int *fresh)
{
	char err[1024];
	*fresh = 0;
	int rc = store_open(dir, s, err, sizeof err);
	if (rc == NATADV_ENOTFOUND) {
		*fresh = 1;
		rc = store_open_memory(s, err, sizeof err);
	}
	if (rc)
		cli_error("%s", err);
	return rc;
}

int cmd_rebuild(struct cli *c, int argc, char **argv)
{
	enum { O_MANIFEST = 256, O_OUT, O_FORCE, O_JSON, O_RETRY_FAILED };
	static const struct option opts[] = {
		{"manifest", required_argument, 0, O_MANIFEST},
		{"out", required_argument, 0, O_OUT},
		{"force", no_argument, 0, O_FORCE},
		{"json", no_argument, 0, O_JSON},
		{"retry-failed", no_argument, 0, O_RETRY_FAILED},
		{"help", no_argument, 0, 'h'},
		CLI_CRAWL_OPTIONS,
		{0, 0, 0, 0},
	};
	crawl_opts o;
	crawl_opts_default(&o);
	const char *manifest = NULL, *out = NULL;
	int force = 0, json = 0, retry_failed = 0, ch, rc;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_MANIFEST: manifest = optarg; break;
		case O_OUT: out = optarg; break;
		case O_FORCE: force = 1; break;
		case O_JSON: json = 1; break;
		case O_RETRY_FAILED: retry_failed = 1; break;
		case 'h': help(); return EXIT_OK;
		default:
			if ((rc = cli_crawl_flag("rebuild", ch, optarg, &o)) != 0)
				return rc;
		}
	}
	if (optind < argc)
		return cli_usage("rebuild", "unexpected argument '%s'", argv[optind]);
	if (!manifest)
		return cli_usage("rebuild", "which release? give --manifest FILE");
	if (force && !out)
		return cli_usage("rebuild", "--force goes with --out");
	struct stat sb;
	if (out && !force && stat(out, &sb) == 0) {
		cli_error("'%s' exists (use --force to replace it)", out);
		return EXIT_FAIL;
	}

	/* 1. Everything is checked before anything is written. */
	char err[2048], a[32], b[32];
	rebuild_manifest *m = NULL;
	if (rebuild_manifest_read(manifest, &m, err, sizeof err) != 0) {
		cli_error("%s", err);
		return EXIT_FAIL;
	}
	store *s = NULL;
	int fresh = 0, set_exists = 0, partial = 0, status = EXIT_FAIL;
	rebuild_result *res = NULL;
	json_t *report = NULL;
	if (open_for_check(c->workspace, &s, &fresh) != 0)
		goto out;
	if (rebuild_check(s, m, &set_exists, &partial, err, sizeof err) != 0) {
		cli_error("%s", err);
		goto out;
	}
	/* 2. The workspace, made like init when missing; main records the run's end. */
	if (fresh) {
		store_close(s);
		s = NULL;
		if (store_create(c->workspace, &s, err, sizeof err) != 0) {
			cli_error("%s", err);
			goto out;
		}
		if (!c->quiet)
			fprintf(stderr, "natadv: workspace ready at '%s'\n", c->workspace);
	}
	if (store_run_begin(s, "rebuild", c->args, &c->run_id) != 0) {
		cli_error("%s", store_errmsg(s));
		goto out;
	}
	c->st = s;
	s = NULL;
	/* 3. Queue and fetch. */
	int64_t moved = 0, new_urls = 0;
	if (retry_failed && store_retry_failed(c->st, &moved) != 0) {
		cli_error("%s", store_errmsg(c->st));
		goto out;
	}
	if (rebuild_queue(c->st, c->run_id, m, &new_urls, err, sizeof err) != 0) {
		cli_error("%s", err);
		goto out;
	}
	if (!c->quiet)
		fprintf(stderr, "natadv: '%s' (%s %s, %s images of %d classes%s): %s new urls queued\n", manifest, m->set,
		        m->version, cli_num(m->n, a), m->nmembers, partial ? ", partial" : "", cli_num(new_urls, b));
	struct cli_progress pl = {isatty(STDERR_FILENO) && !c->quiet, 0};
	crawl_progress p;
	rc = crawl_run(c->st, c->run_id, &o, &cli_stop, cli_crawl_progress, &pl, &p, err, sizeof err);
	cli_progress_clear(&pl);
	if (!c->quiet || rc)
		cli_crawl_summary(&p);
	if (rc == NATADV_EINTR) {
		cli_error("interrupted (run 'natadv rebuild' again to continue)");
		goto out;
	}
	if (rc) {
		cli_error("crawl stopped: %s", err);
		goto out;
	}
	/* 4. Compare and report. */
	res = calloc((size_t)m->n, sizeof *res);
	if (!res) {
		cli_error("out of memory");
		goto out;
	}
	if (rebuild_compare(c->st, m, res, err, sizeof err) != 0) {
		cli_error("%s", err);
		goto out;
	}
	struct counts k = {{0}};
	for (int i = 0; i < m->n; i++)
		k.n[res[i].status]++;
	if (json)
		report = report_json(m, res, &k, c->workspace);
	else
		print_human(m, res);
	char s1[32], s2[32], s3[32], s4[32];
	fprintf(stderr, "natadv: rebuilt %s of %s images of '%s': %s same, %s changed, %s vanished, %s pending\n",
	        cli_num(k.n[REBUILD_SAME], a), cli_num(m->n, b), manifest, cli_num(k.n[REBUILD_SAME], s1),
	        cli_num(k.n[REBUILD_CHANGED], s2), cli_num(k.n[REBUILD_VANISHED], s3), cli_num(k.n[REBUILD_PENDING], s4));
	if (k.n[REBUILD_SAME] != m->n) {
		if (k.n[REBUILD_PENDING])
			cli_error("some urls wait for a server's Retry-After (run 'natadv rebuild' again later)");
		cli_error("the release cannot be reproduced: not every image is the same");
		status = EXIT_PARTIAL;
		goto out;
	}
	/* 5. All the same: the selection and reviews that reproduce the release. */
	int64_t selection_id = 0;
	int created = 0;
	if (rebuild_restore(c->st, c->run_id, m, &selection_id, &created, err, sizeof err) != 0) {
		cli_error("%s", err);
		goto out;
	}
	if (report)
		json_object_set_new(report, "selection_id", json_integer(selection_id));
	if (!c->quiet)
		fprintf(stderr, "natadv: selection %lld of '%s' %s: %d images accepted (rule 'manifest')\n",
		        (long long)selection_id, m->set, created ? "recorded" : "was recorded by an earlier run", m->n);
	if (out) {
		pkg_export_opts eo = {
			.set = m->set, .out = out, .version = m->version, .tar = 1, .partial = partial, .force = force,
			.release_unix = m->released_unix, .run_id = c->run_id,
		};
		pkg_export_result er;
		if (pkg_export(c->st, &eo, &er, err, sizeof err) != 0) {
			cli_error("cannot export '%s': %s", out, err);
			goto out;
		}
		int same_tar = m->tar_sha256[0] && strcmp(m->tar_sha256, er.tar_sha256) == 0;
		if (report)
			json_object_set_new(report, "release", json_pack("{s:s, s:I, s:i, s:s, s:b}", "out", out, "release_id",
			                                                 (json_int_t)er.release_id, "images", er.images,
			                                                 "tar_sha256", er.tar_sha256, "same_tar", same_tar));
		if (!c->quiet)
			fprintf(stderr, "natadv: exported %d images to '%s', tar sha256 %s%s\n", er.images, out, er.tar_sha256,
			        !m->tar_sha256[0] ? "" : same_tar ? " (the same as the manifest's release)"
			                                          : " (differs from the manifest's release)");
		if (m->tar_sha256[0] && !same_tar) {
			cli_error("the exported tar differs from the one in '%s''s SHA256SUMS", manifest);
			status = EXIT_PARTIAL;
			goto out;
		}
	}
	status = EXIT_OK;
out:
	if (report) {
		json_dumpf(report, stdout, JSON_COMPACT);
		putchar('\n');
	}
	json_decref(report);
	free(res);
	store_close(s);
	rebuild_manifest_free(m);
	return status;
}
