/* rebuild.h — re-fetching a release from its manifest.jsonl: read and check
 * the manifest, queue each line's URL with its class and provenance, and,
 * after crawl_run, compare what each URL gives now with the manifest's
 * content hash; when all match, record the selection and reviews that make
 * an export of the set reproduce the release. */
#ifndef NATADV_REBUILD_H
#define NATADV_REBUILD_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Largest manifest read, in bytes. */
#define REBUILD_MAX_MANIFEST ((size_t)512 << 20)

/* One manifest line. Strings are owned by the manifest; optional ones are
 * NULL when absent or null. */
typedef struct rebuild_item {
	long line;                 /* 1-based line of the manifest */
	const char *path;          /* FOLDER/wnid/xxh128.jpg */
	const char *wnid, *xxh128;
	int64_t label;
	const char *url;           /* as written */
	const char *norm_url;      /* normalised as the crawler queues it */
	const char *host;          /* its politeness key */
	const char *source, *query, *page_url, *license, *license_raw, *author, *title;
	const char *pred_wnid;
	double confidence, true_prob;
	const char *reviewer, *reviewed_at;
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

/* Reads and checks the manifest at path line by line (JSON object, every
 * field's type and form, one set/version/released_at, no path, hash or URL
 * twice, labels consistent) and classes.tsv and SHA256SUMS beside it when
 * present. Touches no workspace. Returns 0 and *out (free with
 * rebuild_manifest_free), or NATADV_EIO/EFORMAT/ETOOBIG/ENOMEM with err like
 * "cannot read 'm.jsonl' line 3: 'xxh128' is not 32 hex digits". */
int rebuild_manifest_read(const char *path, rebuild_manifest **out, char *err, size_t errlen);
/* Frees m; accepts NULL. */
void rebuild_manifest_free(rebuild_manifest *m);

/* Checks m against the workspace without writing to it: every class is
 * known, and the set, if it exists, has the manifest's classes at the same
 * labels. *set_exists says whether the set exists; *partial whether the set
 * has classes without an image in the manifest (the release was partial).
 * Returns 0 or a NATADV code with err saying why. */
int rebuild_check(store *s, const rebuild_manifest *m, int *set_exists, int *partial, char *err, size_t errlen);

/* Creates the set when it does not exist and queues every line's URL with
 * its class and provenance (seed_ref "MANIFEST:LINE"), in batched
 * transactions; running it again adds nothing. *new_urls may be NULL. */
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
 * time), a proposal per line with the manifest's prediction, and an
 * auto-accept review by "rebuild" of each, so that exporting the set gives
 * the manifest's release. *created is 0 when an earlier run recorded it. */
int rebuild_restore(store *s, int64_t run_id, const rebuild_manifest *m, int64_t *selection_id, int *created,
                    char *err, size_t errlen);

#endif
