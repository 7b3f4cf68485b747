/* rebuild.h — re-fetching a release from its manifest.jsonl: read and check
 * the manifest (through the packager's release reader), queue each line's
 * URL with its class and provenance, fetch them (crawler), compare what
 * each URL gives now with the manifest's content hash, and when all match,
 * record the selection and reviews that make an export of the set
 * reproduce the release (store), and export it (packager). Orchestration
 * over crawler, store and packager; the CLI only parses and prints. */
#ifndef NATADV_REBUILD_H
#define NATADV_REBUILD_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "crawler/crawler.h"
#include "packager/packager.h"
#include "store/store.h"

/* One manifest line as rebuild uses it. */
typedef struct rebuild_item {
	const pkg_manifest_item *src;  /* the line as read (path, wnid, xxh128, url, provenance, ...) */
	const char *norm_url;          /* src->url normalised as the crawler queues it */
	const char *host;              /* its politeness key */
} rebuild_item;

typedef struct rebuild_manifest {
	const char *path;          /* as given */
	const char *abspath;       /* resolved, for the selection's params */
	char sha256[65];           /* of the manifest file */
	const char *set, *version, *released_at;   /* the same on every line */
	int64_t released_unix;
	rebuild_item *items;
	int n;
	store_set_member *members; /* the set's classes, by label */
	int nmembers;
	int members_exact;         /* 1: from classes.tsv beside the manifest, the whole set;
	                            * 0: from the lines, the classes that have images */
	char tar_sha256[65];       /* FOLDER.tar's in SHA256SUMS beside the manifest, or "" */
	struct rebuild_priv *priv;
} rebuild_manifest;

/* Reads and checks the manifest at path (pkg_manifest_read and
 * pkg_manifest_check: every field's type and form, one set/version/
 * released_at, no path or hash twice), then that no URL is there twice once
 * normalised and the labels are consistent, with classes.tsv beside it when
 * present, and takes FOLDER.tar's hash from SHA256SUMS beside it. Touches
 * no workspace. Returns 0 and *out (free with rebuild_manifest_free), or
 * NATADV_EIO/EFORMAT/ETOOBIG/ENOMEM with err like "cannot read 'm.jsonl'
 * line 3: 'xxh128' is not 32 lower-case hex digits". */
int rebuild_manifest_read(const char *path, rebuild_manifest **out, char *err, size_t errlen);
/* Frees m; accepts NULL. */
void rebuild_manifest_free(rebuild_manifest *m);

/* Checks m against the workspace without writing to it: every class is
 * known, and the set, if it exists, has the manifest's classes at the same
 * labels. *set_exists says whether the set exists; *partial whether the set
 * has classes without an image in the manifest (the release was partial).
 * Returns 0 or a NATADV code with err saying why. */
int rebuild_check(store *s, const rebuild_manifest *m, int *set_exists, int *partial, char *err, size_t errlen);

/* Opens the workspace at dir for rebuilding m: checks m against it (or,
 * when there is no workspace yet, against an empty one) before anything is
 * written, then creates the workspace if it was missing (*created = 1).
 * *partial as rebuild_check. Sets *out (the caller closes it) or returns a
 * NATADV code with err set, leaving no workspace behind. */
int rebuild_open(const char *dir, const rebuild_manifest *m, store **out, int *created, int *partial, char *err,
                 size_t errlen);

/* Creates the set when it does not exist and queues every line's URL with
 * its class and provenance (seed_ref "MANIFEST:LINE"), in batched
 * transactions; running it again adds nothing. *new_urls may be NULL. An
 * ImageNet-O line's URL is queued with its source class, which is first
 * added under the rule of out-of-distribution classes (WordNet needed:
 * without it, the error names the package). */
int rebuild_queue(store *s, int64_t run_id, const rebuild_manifest *m, int64_t *new_urls, char *err, size_t errlen);

typedef enum rebuild_status {
	REBUILD_SAME,      /* the URL gave the manifest's image */
	REBUILD_CHANGED,   /* it gave another image */
	REBUILD_VANISHED,  /* it gave no image (failed or opted out) */
	REBUILD_PENDING,   /* not fetched yet (waiting on a server's Retry-After) */
} rebuild_status;

typedef struct rebuild_result {
	rebuild_status status;
	store_url_outcome url;   /* what became of the URL */
} rebuild_result;

/* Returns "same", "changed", "vanished" or "pending" (static). */
const char *rebuild_status_name(rebuild_status st);

/* Fills r[0 .. m->n) with what each line's URL gives now. */
int rebuild_compare(store *s, const rebuild_manifest *m, rebuild_result *r, char *err, size_t errlen);

/* When every line matched: records (once) a finished selection with rule
 * "manifest" (params: the manifest file, its SHA-256, version and release
 * time — pkg_export takes the release time from there), a proposal per line
 * with the manifest's prediction, and an auto-accept review by "rebuild" of
 * each, so that exporting the set gives the manifest's release. *created is
 * 0 when an earlier run recorded it. */
int rebuild_restore(store *s, int64_t run_id, const rebuild_manifest *m, int64_t *selection_id, int *created,
                    char *err, size_t errlen);

/* What rebuild_run does beyond fetching. */
typedef struct rebuild_opts {
	const crawl_opts *crawl;
	int retry_failed;          /* fetch URLs that failed in an earlier run again */
	const char *out;           /* export the rebuilt release there when all match; NULL: no export */
	int force;                 /* replace an existing out */
	int partial;               /* the release was partial (rebuild_open) */
	const volatile sig_atomic_t *stop;
	/* Each may be NULL: told when the URLs are queued, and crawl_run's progress. */
	void (*on_queued)(void *ctx, const rebuild_manifest *m, int64_t new_urls);
	void (*on_progress)(void *ctx, const crawl_progress *p);
	void *ctx;
} rebuild_opts;

/* How far rebuild_run got, and what it found. */
typedef struct rebuild_report {
	int crawled;               /* crawl_run ran; crawl holds its summary */
	crawl_progress crawl;
	rebuild_result *results;   /* m->n, or NULL before the comparison (free with rebuild_report_release) */
	int count[4];              /* results by rebuild_status */
	int restored;              /* every line matched and the selection is recorded */
	int64_t selection_id;
	int created;               /* the selection was recorded by this run */
	int exported;              /* o->out was written */
	pkg_export_result release;
	int same_tar;              /* the export's tar is SHA256SUMS's (m->tar_sha256 set) */
} rebuild_report;

/* Rebuilds m into the open workspace s (run run_id): queues its URLs,
 * fetches them, compares, and when every line is the same records the
 * selection (rebuild_restore) and, with o->out, exports the release with
 * the manifest's version and release time. Returns 0 when it ran to the
 * end (r says whether every image was the same and the tar too), or a
 * NATADV code with err set (NATADV_EINTR when stopped); r tells how far it
 * got either way. */
int rebuild_run(store *s, int64_t run_id, const rebuild_manifest *m, const rebuild_opts *o, rebuild_report *r,
                char *err, size_t errlen);
/* Frees what r holds; accepts a zeroed report. */
void rebuild_report_release(rebuild_report *r);

#endif
