/* scaleout.h — running a stage on many machines with any scheduler: split a
 * workspace's pending work into part workspaces (DIR/part-0000 …, each a
 * complete natadv workspace with a part.json), run each with the ordinary
 * commands, merge the finished parts back. The SQL of both lives in
 * store/parts.h; this module decides what goes where, writes and reads
 * part.json, and finds parts on disk. Errors are returned with a message in
 * the caller's err buffer; nothing prints. */
#ifndef NATADV_SCALEOUT_H
#define NATADV_SCALEOUT_H

#include <stddef.h>
#include <stdint.h>

#include "store/parts.h"
#include "store/store.h"

/* ---- part.json: what a part is (one reader, one writer) ---- */

typedef struct scaleout_part_info {
	char parent_path[4096];   /* the workspace split from, absolute at split time */
	char parent_uuid[33];     /* its workspace uuid: what merge checks */
	char uuid[33];            /* the part workspace's own uuid */
	char stage[8];            /* "crawl" | "score" */
	char by[8];               /* "host" | "url" | "hash" */
	char model[129];          /* score: the model's name; else "" */
	int64_t split_id;
	int part, parts;          /* 0-based index; how many parts the split made */
	int64_t count;            /* urls or images handed to it */
} scaleout_part_info;

/* Writes dir/part.json (through a temporary file renamed into place). */
int scaleout_part_write(const char *dir, const scaleout_part_info *pi, char *err, size_t errlen);
/* Reads dir/part.json into *pi. NATADV_ENOTFOUND when there is none,
 * NATADV_EFORMAT when it is not a part.json natadv wrote. */
int scaleout_part_read(const char *dir, scaleout_part_info *pi, char *err, size_t errlen);

/* ---- split ---- */

/* The policy of a crawl split by host: hosts (with n[i] urls each) go,
 * largest first (ties by index), to the part holding fewest urls so far
 * (ties: the lowest part). Writes each host's part into part_of[0..nhosts).
 * NATADV_ENOMEM or 0. */
int scaleout_plan_hosts(const int64_t *n, size_t nhosts, int parts, int *part_of);

typedef struct scaleout_split_opts {
	const char *stage;        /* "crawl" | "score" */
	const char *by;           /* crawl: "host" (default when NULL) or "url"; score: NULL */
	const char *model;        /* score: the model's name */
	int parts;                /* 1 to SCALEOUT_PARTS_MAX */
	const char *out_dir;      /* NULL: WS/parts/<stage>-<run id> */
	int64_t run_id;
} scaleout_split_opts;
#define SCALEOUT_PARTS_MAX 10000

typedef struct scaleout_split_result {
	int64_t split_id;
	char out_dir[4096];
	int parts;
	int64_t items;            /* urls or images handed out */
	int64_t largest;          /* in the largest part */
	int64_t hosts;            /* crawl: distinct hosts */
} scaleout_split_result;

/* Splits s's pending work of o->stage into o->parts part workspaces under
 * the output folder (made if need be; a part folder that exists already is
 * refused). Each part is recorded and its work marked out once written, so
 * a split killed midway leaves the parts it finished valid and the rest
 * for the next split. NATADV_ENOTFOUND when nothing is left to split or the
 * model is unknown, NATADV_EEXIST for an existing part folder. */
int scaleout_split(store *s, const scaleout_split_opts *o, scaleout_split_result *r, char *err, size_t errlen);

/* ---- merge ---- */

/* Reads dir's part.json into *pi and checks it names s as its parent:
 * NATADV_EINVAL, "cannot VERB 'DIR': it is a part of another workspace
 * ('PATH', UUID), not of this one", when not. */
int scaleout_part_check(store *s, const char *dir, const char *verb, scaleout_part_info *pi, char *err,
                        size_t errlen);

/* Finds the parts dir names: dir itself when it holds a part.json, else the
 * folders in it (or in its folders: WS/parts holds one folder per split)
 * that do, by path. *out (the caller frees each string and the
 * array) gets their paths, *n how many; NATADV_ENOTFOUND when none. */
int scaleout_parts_find(const char *dir, char ***out, size_t *n, char *err, size_t errlen);

/* Merges the part in dir into s (see store_part_merge), after checking its
 * part.json names s as its parent: NATADV_EINVAL, "cannot merge 'DIR': it is
 * a part of another workspace ('PATH', UUID), not of this one", when not.
 * *pi gets the part.json. */
int scaleout_merge(store *s, int64_t run_id, const char *dir, scaleout_part_info *pi, store_merge_result *r,
                   char *err, size_t errlen);

/* What scaleout_merge_many says of each part. */
typedef struct scaleout_merged {
	const char *dir;
	int rc;                       /* 0, or why the part was refused (err says) */
	const char *err;
	const scaleout_part_info *pi;
	const store_merge_result *r;  /* when rc is 0 */
} scaleout_merged;

/* Merges the parts dirs[0..n) whose part.json names s (see
 * store_parts_merge: every part read once, its new blobs linked, the blob
 * store synced once, then all of them merged in one transaction). Calls cb
 * once per part: the refused ones first, then the others in order. *linked
 * and *copied (either may be NULL) get how many blobs were hard-linked and
 * copied in all. Returns 0, or the error (a sync or a database failure)
 * that left the parts unmerged (each reported through cb with it). */
int scaleout_merge_many(store *s, int64_t run_id, char *const *dirs, size_t n,
                        void (*cb)(void *ctx, const scaleout_merged *m), void *ctx, int64_t *linked,
                        int64_t *copied);

/* Abandons the unmerged part in dir, whose part.json must name s (see
 * store_part_abandon): its work goes back to s's own queue. *released gets
 * how many urls or images, -1 when the part was not out (abandoned before);
 * *pi the part.json. NATADV_EEXIST when the part was merged. */
int scaleout_abandon(store *s, const char *dir, scaleout_part_info *pi, int64_t *released, char *err,
                     size_t errlen);

#endif
