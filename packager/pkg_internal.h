/* pkg_internal.h — what the packager's own files share: walking a tree in
 * sorted order and writing, syncing and removing files. Not for use outside
 * packager/. */
#ifndef NATADV_PKG_INTERNAL_H
#define NATADV_PKG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/buf.h"

enum pkg_node_type { PKG_FILE, PKG_DIR, PKG_OTHER };

typedef struct pkg_node {
	char *path;       /* relative to the walked root; a folder ends in '/' */
	int type;         /* enum pkg_node_type */
	int64_t size;     /* of a file */
} pkg_node;

typedef struct pkg_tree {
	pkg_node *v;
	size_t n, cap;
} pkg_tree;

/* Lists everything below root/sub (sub may be NULL for all of root; when
 * given, sub itself is listed first as "sub/") into t, sorted by path with
 * strcmp; symbolic links are not followed (PKG_OTHER). Returns 0 or
 * NATADV_EIO / NATADV_ENOMEM with err set. */
int pkg_tree_walk(const char *root, const char *sub, pkg_tree *t, char *err, size_t errlen);
/* Frees t's entries and leaves it empty; accepts a zeroed tree. */
void pkg_tree_release(pkg_tree *t);

/* Creates path (mode 0644, replacing it), writes n bytes and fsyncs it. */
int pkg_write_file(const char *path, const void *p, size_t n, char *err, size_t errlen);
/* Creates the folder path with mode 0755 (an existing folder is fine). */
int pkg_mkdir(const char *path, char *err, size_t errlen);
/* Creates path and every missing parent folder. */
int pkg_mkdirs(const char *path, char *err, size_t errlen);
/* fsyncs the folder at path. */
int pkg_sync_dir(const char *path, char *err, size_t errlen);
/* Removes path and everything below it (like rm -rf; a missing path is fine). */
int pkg_remove_tree(const char *path);

/* A count per distinct value (licences, sources, reviewers), sorted by key. */
typedef struct pkg_tally {
	const char *key;  /* NULL counts as "unknown" */
	int n;
} pkg_tally;

/* What croissant.json says of a release. */
typedef struct pkg_croissant {
	const char *set, *folder, *based_on, *version, *released_at;
	int images, classes, empty, converted, partial;
	const char *model_name, *model_id, *selection_rule;
	int64_t selection_id;
	const char *tar_sha256;            /* NULL without a tar */
	int64_t tar_bytes;
	const char *manifest_sha256, *classes_sha256;
	int64_t manifest_bytes, classes_bytes;
	const pkg_tally *licenses, *sources;
	const pkg_tally *reviewers;        /* people who accepted images (not --auto-accept) */
	size_t nlicenses, nsources, nreviewers;
	int by_person, auto_accepted;      /* reviews made in the cli or web page / by --auto-accept */
} pkg_croissant;

/* Appends croissant.json: MLCommons Croissant 1.0 JSON-LD with the RAI
 * fields, indented, keys in a fixed order; nothing in it depends on the
 * clock but released_at. */
int pkg_croissant_write(buf *out, const pkg_croissant *c);

/* The citation of the ImageNet-A paper as BibTeX (static). */
extern const char pkg_citation[];


/* qsort comparator for an array of char * by strcmp. */
int pkg_cmp_str(const void *a, const void *b);

#endif
