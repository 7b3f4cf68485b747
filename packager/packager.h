/* packager.h — the release: DIR/FOLDER/<wnid>/<xxh128>.jpg and
 * DIR/FOLDER/README.txt (nothing else inside FOLDER/, which loaders list),
 * and beside it manifest.jsonl, classes.tsv, croissant.json, SHA256SUMS and
 * optionally the byte-reproducible FOLDER.tar; checking a release (verify).
 * FOLDER is "imagenet-a" for the set imagenet-a, else the set's name.
 *
 * A release's life on disk:
 *   1. it is written into DIR.tmp-<pid>-XXXXXX beside DIR, every file synced;
 *   2. it appears at DIR by one rename (or, replacing one with --force, by an
 *      atomic exchange, the old one then deleted), so DIR is always absent,
 *      the old release, or the complete new one;
 *   3. it is recorded in releases + release_items after the rename;
 *   4. DIR.tmp-<pid>-* and DIR.old-<pid>-* of dead processes are leftovers
 *      of a killed export and are deleted by the next export to DIR. */
#ifndef NATADV_PACKAGER_H
#define NATADV_PACKAGER_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "store/store.h"

/* ---- export ---- */

typedef struct pkg_export_opts {
	const char *set;        /* class set name */
	const char *out;        /* DIR */
	const char *version;    /* default "1.0" */
	int tar, partial, force;
	int64_t release_unix;   /* 0 = reuse/now (see pkg_export); else this exact time */
	int64_t run_id;
} pkg_export_opts;

typedef struct pkg_export_result {
	int64_t release_id;
	int images;
	char tar_sha256[65];    /* "" without --tar */
} pkg_export_result;

/* Writes the release of o->set's selection in force (its 'proposed'
 * proposals accepted in review) atomically into o->out and records it.
 * Refuses (NATADV_EINVAL, err lists them) classes without images unless
 * o->partial, and an image accepted for two classes; refuses an existing
 * o->out (NATADV_EEXIST) unless o->force. The release time is
 * o->release_unix, else for a selection rebuilt from a release's manifest
 * (rule 'manifest') that release's time (its params' released_at), else that
 * of an earlier release of the same set, version and content
 * (pkg_content_sha256), else now. 0 or a NATADV code with err
 * set (errlen of 64 KiB holds the longest list of empty classes). */
int pkg_export(store *s, const pkg_export_opts *o, pkg_export_result *r, char *err, size_t errlen);

/* Returns the release folder name of set: "imagenet-a" or the set's name
 * (static or set itself; not a copy). */
const char *pkg_folder_name(const char *set);

/* ---- the files of a release (building blocks, also for tests) ---- */

typedef struct pkg_readme_class {
	const char *wnid, *name;    /* name: the first WordNet lemma */
	int images;
} pkg_readme_class;

typedef struct pkg_readme {
	const char *set, *based_on; /* based_on may be NULL */
	int images;
	int partial;
	const pkg_readme_class *classes;
	size_t nclasses;
	int ood;                    /* images of classes outside the set, filed under the predicted class
	                             * (select --ood-from: ImageNet-O) */
} pkg_readme;

/* Appends README.txt: the count sentence (for ood, of out-of-distribution
 * examples, and what they are), the citation of Hendrycks et al.,
 * "Natural Adversarial Examples" (CVPR 2021), for another set which set it
 * is and what it is based on, for a partial release a loud notice naming the
 * empty classes, then the class list line and one "wnid name" line each. */
int pkg_readme_write(buf *out, const pkg_readme *r);

/* Writes the first lemma of names ("robin, American robin" -> "robin") into
 * out (size n). */
void pkg_first_name(const char *names, char *out, size_t n);

/* One line of manifest.jsonl. Strings may be NULL (JSON null); numbers
 * marked below are null when negative. */
typedef struct pkg_manifest_entry {
	const char *path;
	int64_t label;
	const char *wnid, *class_name, *xxh128, *sha256;
	int64_t bytes;
	int width, height;
	const char *converted;           /* NULL or "png->jpeg q=95" */
	const char *source_sha256;
	int64_t source_bytes;
	const char *source, *query, *url, *final_url, *page_url, *license, *license_raw, *author;
	const char *attribution;         /* the credit line the source asks for, verbatim */
	const char *title;
	const char *fetched_at;
	long http_status;                /* null when <= 0 */
	const char *etag, *model, *model_id, *pred_wnid, *pred_name;
	double confidence, true_prob;    /* null when negative */
	int64_t selection_id;            /* null when <= 0 */
	const char *selection_rule, *review, *reviewer, *reviewed_at, *set, *version, *released_at;
	/* rule 'ood' (ImageNet-O) only; when source_wnid is NULL these keys are left out: */
	const char *source_wnid, *source_name;  /* the out-of-distribution class the photo was found as */
	double msp;                      /* the maximum softmax probability over the set's classes */
} pkg_manifest_entry;

/* Appends one compact JSON object with the keys in the manifest's fixed
 * order (source_wnid, source_name and msp last, for rule 'ood' only) and a
 * newline. */
int pkg_manifest_line(buf *out, const pkg_manifest_entry *e);

/* Writes the SHA-256 over the sorted "path sha256\n" lines of the n files
 * (paths[i], shas[i]) into hex: the content identity of a release (its
 * FOLDER/ files: images and README.txt). paths must be sorted. */
int pkg_content_sha256(const char *const *paths, const char *const *shas, size_t n, char hex[65]);

/* Appends SHA256SUMS for the tree at dir: "<sha256>  <relative path>\n"
 * for every regular file except the top-level SHA256SUMS, sorted by path.
 * Fails (NATADV_EFORMAT) on anything but files and folders. */
int pkg_sha256sums(const char *dir, buf *out, char *err, size_t errlen);

/* Writes dir/folder as a ustar archive at tar_path holding folder/ only:
 * entries sorted by path (folders with a trailing '/'), every mtime = mtime,
 * uid/gid 0, uname/gname "root", modes 0755 folders / 0644 files, no pax
 * headers; the file is synced. hex (may be NULL) gets its SHA-256. The same
 * tree and mtime always give the same bytes. */
int pkg_tar_write(const char *dir, const char *folder, const char *tar_path, int64_t mtime, char hex[65],
                  char *err, size_t errlen);

/* ---- verify ---- */

typedef struct pkg_verify_result {
	int files;         /* files checked */
	int modified, missing, extra, malformed;
} pkg_verify_result;

/* Called once per problem, sorted by path: kind is "modified", "missing",
 * "extra" or "malformed"; path is relative to the release folder (a folder
 * ends in '/'). Strings valid during the call. */
typedef void (*pkg_problem_fn)(void *ctx, const char *kind, const char *path);

/* natadv export writes the report of the released set here, at the top of
 * the release folder: for people, not part of the release (not in
 * SHA256SUMS, not in the tar), so verify lets it be. */
#define PKG_REPORT_FILE "report.html"

/* Checks a release folder or a release tar against its SHA256SUMS and
 * manifest.jsonl (for a tar, the ones beside it): every listed file present
 * with its hash (and the manifest's bytes), nothing extra, README.txt
 * present. Problems go to cb and are counted in *r. Returns 0 when the
 * check ran (problems or not), or a NATADV code with err set when it could
 * not (no such path, no SHA256SUMS beside a tar). */
int pkg_verify(const char *path, pkg_problem_fn cb, void *ctx, pkg_verify_result *r, char *err, size_t errlen);

/* ---- reading a release: manifest.jsonl (manifest_read.c), SHA256SUMS
 * (sums_read.c) and classes.tsv (classes_tsv.c); verify, rebuild and eval
 * read a release only through these ---- */

/* A release's manifest.jsonl: at most this many bytes. */
#define PKG_MANIFEST_MAX_BYTES ((size_t)1 << 30)

/* One non-blank line of a manifest.jsonl as read. Every field below is
 * checked for its JSON type and, where it has one, its form; absent or
 * null fields are NULL (strings) or -1 (numbers). Strings are owned by the
 * manifest. A malformed line has error set and its fields partly unset. */
typedef struct pkg_manifest_item {
	long line;                  /* 1-based line in the file (blank lines count) */
	const char *error;          /* NULL, or why the line is malformed, e.g. "not JSON: ...",
	                             * "'xxh128' is not 32 lower-case hex digits" */
	const char *path;           /* relative, no '.', '..' or empty component */
	const char *wnid, *pred_wnid;          /* WordNet ids like n01498041 */
	const char *xxh128, *sha256;           /* 32 / 64 lower-case hex digits */
	const char *url, *source, *query, *page_url, *license, *license_raw, *author, *attribution, *title;
	const char *converted, *model_id, *selection_rule, *reviewer, *reviewed_at;
	const char *set;            /* a folder name */
	const char *version;
	const char *released_at;    /* a UTC time (pkg_parse_utc) */
	const char *source_wnid, *source_name;  /* rule 'ood': the out-of-distribution class; else NULL */
	double msp;                 /* rule 'ood': 0 to 1; else -1 */
	int64_t label;              /* 0 to 1,000,000 */
	int64_t bytes;              /* >= 0 */
	double confidence, true_prob;          /* 0 to 1 */
} pkg_manifest_item;

typedef struct pkg_manifest {
	char sha256[65];            /* of the whole file */
	pkg_manifest_item *items;   /* the non-blank lines in file order */
	int n;
	int malformed;              /* lines with error set */
	struct pkg_manifest_priv *priv;
} pkg_manifest;

/* Reads the manifest.jsonl at path; a malformed line does not stop the
 * reading (see pkg_manifest_item.error). Sets *out (free with
 * pkg_manifest_free), or returns NATADV_EIO (cannot open or read it),
 * NATADV_ETOOBIG or NATADV_ENOMEM with err set. */
int pkg_manifest_read(const char *path, pkg_manifest **out, char *err, size_t errlen);
/* Frees m; accepts NULL. */
void pkg_manifest_free(pkg_manifest *m);

/* The release a whole manifest is of; strings owned by the manifest. */
typedef struct pkg_manifest_release {
	const char *set, *version, *released_at;
	int64_t released_unix;
} pkg_manifest_release;

/* Checks that m is a whole release manifest as pkg_export writes it: at
 * least one line, none malformed, each with path, wnid, xxh128, url,
 * pred_wnid, label, confidence, true_prob, set, version and released_at
 * (and, with source_wnid, msp and pred_wnid equal to wnid: an ImageNet-O line),
 * the same set, version and release time on every line, each path
 * FOLDER/<wnid>/<xxh128>.jpg, no path or xxh128 twice; fills *rel. Returns
 * 0, or NATADV_EFORMAT (or NATADV_ENOMEM) with err like "cannot read 'PATH'
 * line 3: 'xxh128' is not 32 lower-case hex digits" (PATH as given). */
int pkg_manifest_check(const pkg_manifest *m, const char *path, pkg_manifest_release *rel, char *err,
                       size_t errlen);
/* Fails (NATADV_EFORMAT, err "cannot read 'PATH' line N: the same WHAT as
 * line K") when two lines share a key; keys[i] belongs to m->items[i]. */
int pkg_manifest_unique(const pkg_manifest *m, const char *const *keys, const char *what, const char *path,
                        char *err, size_t errlen);

/* Parses "YYYY-MM-DDTHH:MM:SS[.fff]Z" (the fraction ignored) as UTC into
 * *out; 0, or -1 when s is not such a time. */
int pkg_parse_utc(const char *s, int64_t *out);
/* Returns 1 when p is a relative path that stays inside a release (no
 * leading '/', no '.', '..' or empty component), else 0. */
int pkg_path_is_safe(const char *p);

/* A release's SHA256SUMS: at most this many bytes. */
#define PKG_SUMS_MAX_BYTES ((size_t)1 << 30)

typedef struct pkg_sum {
	long line;                  /* 1-based */
	char *path;                 /* relative to the release folder, safe (pkg_path_is_safe) */
	char sha256[65];
} pkg_sum;

typedef struct pkg_sums {
	pkg_sum *v;                 /* in file order */
	size_t n;
	long *bad;                  /* the lines that are not "<sha256>  <path>", in order */
	size_t nbad;
} pkg_sums;

/* Reads the SHA256SUMS at path: lines "<64 lower-case hex><space><space or
 * *><path>" as sha256sum writes them; empty lines are skipped, others go to
 * bad. Fills *s (release with pkg_sums_release, also after an error).
 * Returns 0, NATADV_ENOTFOUND when there is no such file, or another NATADV
 * code, with err set. */
int pkg_sums_read(const char *path, pkg_sums *s, char *err, size_t errlen);
/* Frees what s holds and empties it; accepts NULL and a zeroed struct. */
void pkg_sums_release(pkg_sums *s);
/* Returns the first entry for rel_path, or NULL (owned by s). */
const pkg_sum *pkg_sums_find(const pkg_sums *s, const char *rel_path);

/* A release's classes.tsv: at most this many bytes. */
#define PKG_CLASSES_MAX_BYTES ((size_t)16 << 20)

/* One row of a classes.tsv. */
typedef struct pkg_class_row {
	long line;          /* in the file, for messages */
	int64_t label;      /* >= 0 */
	char wnid[16];
	int64_t index_1k;   /* -1 when the column is empty */
	char name[64];      /* "" without a name column; longer names are cut */
} pkg_class_row;

/* Reads the classes.tsv at path: a header naming at least label, wnid and
 * index_1k (name optional; any order, other columns ignored), then rows of
 * a whole-number label, a wnid and an empty or whole-number index_1k. Sets
 * *rows (malloc'd, the caller frees it) and *n >= 1; or returns a NATADV
 * code with err naming the file and line, and *bad_line (may be NULL) that
 * line (0 when the fault is of no one line: unreadable, empty, no rows).
 * Labels are not checked against each other: callers know which orders
 * they accept. */
int pkg_classes_read(const char *path, pkg_class_row **rows, int *n, long *bad_line, char *err, size_t errlen);

#endif
