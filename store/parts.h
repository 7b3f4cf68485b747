/* parts.h — the store's side of scale-out: a workspace's identity, the work
 * a split hands to part workspaces (and marks as out), and merging a part's
 * results back in one transaction. The orchestration (which url goes to
 * which part, part.json, finding parts) is scaleout/'s.
 *
 * The rules, in one place:
 *   1. a url or an image is out while an unmerged part holds it
 *      (split_urls / split_images); a split takes only work that is pending
 *      (urls) or unscored (images) and not out;
 *   2. a part is known by its own workspace uuid, recorded in split_parts:
 *      merge accepts it from any folder, refuses an unknown one;
 *   3. merging is all or nothing per part, and once: merged_at is set in the
 *      same transaction (the one all the parts of a merge share), and a part
 *      merged before changes nothing;
 *   4. an unfinished part (pending urls; unscored images of its model) is
 *      not merged at all, so its work stays out until it is run again;
 *   5. while work is out, the parent's own crawl and score leave it to its
 *      part (store_frontier_scan, store_unscored_scan), so nothing is done
 *      twice; a url the parent settled anyway keeps the parent's state at
 *      merge (the part's fetches are still logged), a score the parent has
 *      keeps the parent's;
 *   6. an unmerged part may be abandoned (store_part_abandon): its work is
 *      no longer out and the part is forgotten, so it never merges; a merged
 *      part cannot be. */
#ifndef NATADV_STORE_PARTS_H
#define NATADV_STORE_PARTS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Copies the workspace's identity (32 hex digits, random, made with its
 * database; it moves with the folder) into uuid. */
int store_workspace_uuid(store *s, char uuid[33]);

/* Calls cb for each pending url that no unmerged part holds, in id order,
 * with its politeness host; stops when cb returns non-zero and returns that.
 * Strings valid during cb. */
int store_split_urls_each(store *s, int (*cb)(void *ctx, int64_t url_id, const char *host), void *ctx);
/* Calls cb for each image model_id has no score for and that no unmerged
 * part holds, in hash order; stops when cb returns non-zero. */
int store_split_images_each(store *s, const char *model_id, int (*cb)(void *ctx, const char *hash), void *ctx);

typedef struct store_split {
	const char *stage;      /* "crawl" | "score" */
	const char *by;         /* "host" | "url" | "hash" */
	const char *model_id;   /* score: the model; else NULL */
	int parts;
	const char *out_dir;
	int64_t run_id;
} store_split;

/* Records a split (a transaction of its own); *split_id gets its id. */
int store_split_add(store *s, const store_split *sp, int64_t *split_id);

typedef struct store_part {
	int64_t split_id;
	int part;                    /* 0-based */
	const char *dir;             /* the part workspace, fresh from store_create */
	const char *uuid;            /* its workspace uuid */
	const char *stage;           /* "crawl" | "score" */
	const char *model_id;        /* score: the model */
	const int64_t *url_ids;      /* crawl: the urls handed to it */
	const char *const *hashes;   /* score: the images handed to it */
	size_t n;
} store_part;

/* Writes part p: fills its workspace with the work (crawl: the urls with
 * their ids, class tags, provenance and queries; score: the images with
 * their blobs hard-linked where the file system allows, else copied, their
 * tags and urls, the model record and weights) and the class sets, then
 * records it in split_parts and marks its work out. NATADV_EEXIST when the
 * part workspace holds urls or images already, or when some of the work is
 * out in another part (nothing marked then). */
int store_part_write(store *s, const store_part *p);

/* Abandons the unmerged part whose workspace uuid is uuid, in one
 * transaction: its urls or images leave split_urls / split_images, back in
 * this workspace's own queue (its crawl and score, and a new split, take
 * them again), and its split_parts row goes, so a later merge of it is
 * refused as no part of this workspace. *released gets how many came back,
 * -1 when no unmerged part has that uuid (abandoned before, or never
 * recorded: nothing to do). NATADV_EEXIST when the part was merged. */
int store_part_abandon(store *s, const char *uuid, int64_t *released);

/* What the parent knows of a part: out (split_parts holds it, unmerged),
 * merged, or gone (no split_parts row: abandoned, rule 6). */
typedef enum store_part_fate_t { STORE_PART_OUT, STORE_PART_MERGED, STORE_PART_GONE } store_part_fate_t;
/* Sets *fate for part `part` of split split_id (part.json names both); the
 * one place that tells an abandoned part. 0, or NATADV_EDB. */
int store_part_fate(store *s, int64_t split_id, int part, store_part_fate_t *fate);
/* Counts in *n the runs of command recorded by task `task` of Slurm array
 * job array_job (their $SLURM_ARRAY_JOB_ID and $SLURM_ARRAY_TASK_ID): 0
 * when that task never started natadv in this workspace. 0, or NATADV_EDB. */
int store_runs_of_task(store *s, const char *command, const char *array_job, int task, int64_t *n);

typedef struct store_merge_result {
	int already;                 /* merged before: nothing done */
	int64_t unfinished;          /* pending urls or unscored images left: nothing done */
	char label[128];             /* the part's name in runs.part, e.g. 'crawl-7/part-0003' */
	char stage[8];
	int64_t urls;                /* urls whose state it settled */
	int64_t new_urls;            /* urls it added (queued in the part) */
	int64_t fetches, images, new_images, robots, scores, runs;
	int64_t blobs_linked, blobs_copied;
	int rc;                      /* store_parts_merge: 0, or why this part was not merged */
	char err[1024];              /* ... and the message */
} store_merge_result;

/* Merges the part workspace at dir into s, in one transaction: its runs
 * (new ids, with part, part_run_id and merge_run_id = run_id), queries and
 * urls it added, url states, fetches, images (blobs hard-linked, copied
 * only across file systems; one row per image however many parts fetched
 * it), image tags, robots.txt fetches and scores (of models s knows).
 * Fills *r; r->already or r->unfinished say when nothing was done. Returns
 * NATADV_ENOTFOUND when dir is no part of this workspace (the message says
 * so), NATADV_EIO when a blob cannot be linked or copied. */
int store_part_merge(store *s, int64_t run_id, const char *dir, store_merge_result *r);

/* Merges the parts dirs[0..n) into s as store_part_merge does each, but
 * fast: each part is read once (checked, its rows' references checked
 * against its own tables, its new blobs handed to a linking thread, its
 * rows copied into a temporary staging database: cheap appends), then
 * every part that passed is merged in ONE transaction, the large tables in
 * one statement each over all the parts (so a page is written once per
 * merge, not once per part), committed once every blob is linked and the
 * blob store synced. Results are those of merging the parts one by one in
 * order. r[i] gets part i's result; r[i].rc and r[i].err say why it was
 * refused (not a part of s, unreadable, rows that refer to rows that are
 * not there, a blob that cannot be linked), and the others merge all the
 * same. Returns 0, or the error (a sync or a database failure of the
 * transaction) that left every staged part unmerged (their r[i].rc set
 * too); a rerun continues. */
int store_parts_merge(store *s, int64_t run_id, const char *const *dirs, size_t n, store_merge_result *r);

#endif
