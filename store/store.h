/* store.h — the workspace: the SQLite database (natadv.db, WAL, foreign keys
 * on, migrated by PRAGMA user_version) and the content-addressed blob store
 * (objects/ab/cdef…). Every query natadv runs lives behind this header.
 * A store handle belongs to one thread; the blob_* functions are thread-safe. */
#ifndef NATADV_STORE_H
#define NATADV_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/wordnet.h"

typedef struct store store;

/* ---- workspace ---- */

/* Creates (or completes) the workspace in dir: the folder, objects/, the
 * database with every migration and the class lists. *out is the open
 * handle, freed with store_close. On error *out is NULL and err says why. */
int store_create(const char *dir, store **out, char *err, size_t errlen);
/* Opens an existing workspace (migrating it forward if older); fails with
 * NATADV_ENOTFOUND "no natadv workspace at 'DIR' (run 'natadv init')". */
int store_open(const char *dir, store **out, char *err, size_t errlen);
/* Opens a database in memory holding only the schema and the class lists,
 * for commands that need class names but no workspace. */
int store_open_memory(store **out, char *err, size_t errlen);
/* Closes the handle; accepts NULL. */
void store_close(store *s);
/* Returns the detail message of the last failed call (owned by s). */
const char *store_errmsg(const store *s);
/* Returns the workspace folder (owned by s). */
const char *store_dir(const store *s);
/* Returns the blob store folder, DIR/objects (owned by s). */
const char *store_objects_dir(const store *s);
/* Returns the schema version (PRAGMA user_version) of the open database. */
int store_schema_version(store *s);
/* Returns the number of migrations this program knows. */
int store_schema_latest(void);

/* Starts a transaction (BEGIN IMMEDIATE). */
int store_begin(store *s);
/* Commits the open transaction. */
int store_commit(store *s);
/* Rolls back the open transaction, if any; keeps the earlier error message. */
void store_rollback(store *s);
/* Runs PRAGMA integrity_check; returns 0 when it says ok, NATADV_EDB else. */
int store_integrity_check(store *s);

/* ---- runs: every invocation of natadv ---- */

/* Records the start of a run with the host it runs on and, when set,
 * $SLURM_JOB_ID, $SLURM_ARRAY_JOB_ID and $SLURM_ARRAY_TASK_ID; *run_id
 * receives its id. */
int store_run_begin(store *s, const char *command, const char *args, int64_t *run_id);
/* Records the end of run_id with exit status. */
int store_run_end(store *s, int64_t run_id, int status);
/* Records on run run_id the GEMM kernels its scoring ran on (gemm_kernels:
 * "avx512", "avx2" or "generic"). 0 or NATADV_EDB. */
int store_run_set_kernels(store *s, int64_t run_id, const char *kernels);

/* ---- classes ---- */

typedef struct store_class {
	int64_t index;      /* index within the set (logit index for imagenet-1k) */
	const char *wnid;
	const char *names;  /* all WordNet lemmas, first name first */
	int64_t index_1k;   /* logit index in ImageNet-1K; -1 for a class outside it */
} store_class;

/* Calls cb for each class of set (NULL = "imagenet-1k") in index order;
 * stops early when cb returns non-zero and returns that value. Fails with
 * NATADV_ENOTFOUND when the set does not exist. Strings valid during cb. */
int store_classes_each(store *s, const char *set,
                       int (*cb)(void *ctx, const store_class *c), void *ctx);
/* Returns 1 if wnid is a known class, 0 if not, negative code on error. */
int store_class_known(store *s, const char *wnid);

/* ---- the frontier ---- */

typedef struct store_candidate {
	const char *url;      /* normalized absolute http(s) URL */
	const char *host;     /* politeness key, scheme://host[:port] */
	const char *wnid;     /* a known class */
	const char *source;   /* "seeds", "openverse", ... */
	const char *query;    /* what was asked of the source; may be NULL */
	const char *page_url, *license, *author;  /* may be NULL; license normalised (e.g. "cc-by-4.0") */
	/* Optional provenance (NULL / 0 when unknown): */
	const char *title;        /* the source's title of the image */
	const char *source_id;    /* the source's own id */
	const char *license_raw;  /* the licence as the source wrote it */
	const char *seed_ref;     /* "FILE:LINE" of a seed list row */
	int64_t api_request_id;   /* api_requests row of the discover request that found it */
	const char *attribution;  /* the credit line the source asks for, verbatim */
} store_candidate;

/* Adds a candidate: the URL once (pending), the (url, class) tag once, and,
 * if the URL was already fetched, the image's tag for this class.
 * *new_url / *new_tag say what was new (either may be NULL). */
int store_candidate_add(store *s, int64_t run_id, const store_candidate *c,
                        int *new_url, int *new_tag);

typedef struct store_pending {
	int64_t id;
	const char *url;
	const char *host;
	int attempts;         /* attempts made so far */
} store_pending;

/* Calls cb for up to limit pending URLs with id > after_id that are due at
 * time now and out in no part (store/parts.h), in id order; strings valid
 * during cb. Returns the number seen
 * (>= 0) or a negative NATADV code. */
int store_frontier_scan(store *s, int64_t after_id, double now, int limit,
                        void (*cb)(void *ctx, const store_pending *p), void *ctx);
/* Sets *t to the earliest next_attempt_at of a pending URL out in no part
 * and returns 0, or returns NATADV_ENOTFOUND when there is none. */
int store_frontier_next_due(store *s, double *t);
/* Postpones a pending URL to next_attempt_at without counting an attempt
 * (its host's robots.txt could not be had yet); why goes to last_error. */
int store_url_defer(store *s, int64_t url_id, double next_attempt_at, const char *why);
/* Moves every failed URL back to pending with attempts reset; *n = count. */
int store_retry_failed(store *s, int64_t *n);
/* Sets *n to the number of URLs in state ("pending", "fetched", ...). */
int store_count_urls(store *s, const char *state, int64_t *n);

typedef struct store_fetch {
	int64_t url_id, run_id;
	int attempt;                 /* 1 for the first attempt */
	double started, finished;    /* unix seconds */
	long http_status;            /* 0 when no response */
	const char *final_url;
	const char *redirects_json;  /* JSON array of followed URLs, or NULL */
	const char *content_type;
	int64_t declared_length;     /* -1 when not sent */
	int64_t received_length;
	const char *etag, *last_modified, *headers;
	const char *outcome;         /* "image" | "retry" | "failed" | "opted_out" */
	const char *error;           /* NULL on success */
} store_fetch;

typedef struct store_image {
	const char *hash;    /* XXH3-128, 32 hex digits */
	const char *sha256;  /* 64 hex digits */
	int64_t bytes;
	const char *format;  /* "jpeg" | "png" */
	int width, height;
	uint64_t phash;
} store_image;

/* Records one finished attempt in the open transaction: appends the fetch
 * row, moves the URL to state (with next_attempt_at for a retry and
 * f->error as last_error), and, when img is given, inserts the image if new
 * (*image_new = 1) and tags it with every class of the URL. */
int store_record_attempt(store *s, const store_fetch *f, const store_image *img,
                         const char *state, double next_attempt_at, int *image_new);

/* ---- robots.txt cache ---- */

typedef struct store_robots {
	const char *host;        /* scheme://host[:port] */
	const char *url;
	int64_t run_id;
	double started, finished;
	long http_status;
	const char *final_url, *error, *body;
	const char *policy;      /* "rules" | "allow_all" | "disallow_all" */
} store_robots;

/* Appends a robots.txt fetch row. */
int store_robots_put(store *s, const store_robots *r);
/* Looks up the newest robots.txt of host fetched after not_before (unix s).
 * Returns 0 and fills *policy ("rules"...) and body (a copy, appended to
 * body), or NATADV_ENOTFOUND. */
int store_robots_get(store *s, const char *host, double not_before, buf *policy, buf *body);

/* ---- what is in the workspace ---- */

typedef struct store_counts {
	int64_t urls, pending, fetched, failed, opted_out, images;
} store_counts;

/* Fills *total with counts over the workspace and calls cb (if not NULL)
 * once per class that has any URL, in wnid order. */
int store_stats(store *s, store_counts *total,
                void (*cb)(void *ctx, const char *wnid, const store_counts *c), void *ctx);

/* Calls cb for every stored image with its perceptual hash. */
int store_images_each(store *s, void (*cb)(void *ctx, const store_image *img), void *ctx);

/* Sets *hit to 1 if the image hash is stored, else 0. */
int store_image_exists(store *s, const char *hash, int *hit);

/* ---- models and scores ---- */

typedef struct store_model {
	const char *id;              /* SHA-256 of the weights file, 64 hex digits */
	const char *name;
	const char *arch;
	int classes;
	int64_t bytes;
	const char *source_url;      /* may be NULL */
	const char *preprocessing;
	const char *added_at;        /* filled by store_model_get/each */
} store_model;

/* Returns 1 when name can name a model: 1 to 128 of [A-Za-z0-9._-], not
 * "." or "..", else 0. */
int store_model_name_valid(const char *name);
/* Records a model. Returns NATADV_EINVAL for a name store_model_name_valid
 * refuses, NATADV_EEXIST when the name is taken by other weights (the same
 * weights under the same name are fine: 0). */
int store_model_add(store *s, int64_t run_id, const store_model *m);
/* Copies the weights file at path (checked by the caller; m->id its SHA-256)
 * into the workspace as models/<id>.safetensors (written aside, synced,
 * renamed; kept when already there), then records m (store_model_add).
 * NATADV_EINVAL for a bad name or id, NATADV_EIO when the copy fails. */
int store_model_import(store *s, int64_t run_id, const char *path, const store_model *m);
/* Looks up a model by name (or by id); strings are copied into text, which
 * the caller owns, and m points into it. NATADV_ENOTFOUND if absent. */
int store_model_get(store *s, const char *name, store_model *m, buf *text);
/* Calls cb for every model, by name; strings valid during cb. */
int store_models_each(store *s, void (*cb)(void *ctx, const store_model *m), void *ctx);
/* Writes DIR/models/<id>.safetensors into out. */
int store_model_path(store *s, const char *id, buf *out);

/* Calls cb for up to limit images with hash > after (in hash order) that
 * have no score for model_id and are out in no part for it; returns how many (>= 0) or a negative code. */
int store_unscored_scan(store *s, const char *model_id, const char *after, int limit,
                        void (*cb)(void *ctx, const char *hash), void *ctx);
/* Sets *n to the number of images without a score for model_id that are
 * out in no part for it. */
int store_count_unscored(store *s, const char *model_id, int64_t *n);
/* Calls cb with each distinct class an image is tagged with. */
int store_image_classes(store *s, const char *hash, void (*cb)(void *ctx, const char *wnid), void *ctx);

typedef struct store_score {
	const char *image_hash, *model_id;
	const char *error;           /* NULL when scored */
	const float *logits;         /* classes floats, or NULL when unscorable */
	int classes;
	const char *top5_json;
	int pred_1k;
	double prob_1k;
	const char *pred_subset_wnid;
	double prob_subset;
	int fast_decode;
	int64_t run_id;
} store_score;

typedef struct store_score_tag {
	const char *wnid;
	double p_1k, p_subset;       /* negative when not defined for the class */
} store_score_tag;

/* Records a model's prediction for an image (or why it is unscorable) with
 * the probability of each tagged class, in the open transaction. */
int store_score_put(store *s, const store_score *sc, const store_score_tag *tags, int ntags);

/* ---- the review log (store/review.c) ---- */

/* A decision on a proposal as the review log records it. */
typedef enum store_decision {
	STORE_UNDECIDED = 0,  /* nothing in force (never a log row) */
	STORE_ACCEPT,
	STORE_REJECT,
	STORE_UNDO,           /* a log row cancelling an earlier accept or reject */
} store_decision;

/* Returns "accept", "reject", "undo" or "undecided" (static). */
const char *store_decision_name(store_decision d);
/* Sets *d from "accept", "reject" or "undo" (NULL: STORE_UNDECIDED) and
 * returns 0, or NATADV_EINVAL for other text. */
int store_decision_parse(const char *text, store_decision *d);

/* The longest reason a review takes, in bytes. */
#define STORE_REASON_MAX 200

typedef struct store_review {
	store_decision decision;  /* STORE_ACCEPT, STORE_REJECT or STORE_UNDO */
	int64_t proposal_id;   /* the proposal decided on (ignored for undo) */
	const char *set;       /* when not NULL, the proposal (for undo: the review) must be of this class set */
	const char *reason;    /* NULL, or 1..STORE_REASON_MAX bytes; required for reject */
	const char *reviewer;  /* who decided; required */
	const char *mode;      /* "cli", "auto" or "web" */
	int64_t undoes;        /* for undo: the review row it cancels (must be in force) */
} store_review;

/* Appends one review row (never updates); *review_id gets its id (may be
 * NULL). A decision applies to the proposal's (set, image, class), so it
 * outlives a re-selection. The one rule of what may be decided, for every
 * caller: NATADV_ENOTFOUND for an unknown proposal, one of another set than
 * r->set, of a selection not in force, or a collapsed near-duplicate, and for
 * an unknown or undone review or one of another set than r->set; NATADV_EEXIST for an accept (or an undo
 * bringing one back) of an image accepted for another class of the set;
 * NATADV_EINVAL for a bad review (no reviewer, undo of an undo);
 * NATADV_EFORMAT for a reject without a reason or a reason that is empty or
 * over STORE_REASON_MAX bytes (checked first, before the proposal). The
 * message (store_errmsg) says which. Checks and row are one write
 * transaction: BEGIN IMMEDIATE..COMMIT of its own when the caller has none
 * (nothing left open, success or not), else a savepoint in the caller's. */
int store_review_add(store *s, int64_t run_id, const store_review *r, int64_t *review_id);

/* ---- audit: the whole history of one image (store/audit.c) ---- */

struct json_t;

/* What store_audit_find matches its key against. */
typedef enum store_audit_by {
	STORE_AUDIT_HASH,          /* XXH3-128 image hash or a prefix of it (lower-case hex) */
	STORE_AUDIT_SHA256,        /* an image's SHA-256, or a release file's (converted images) */
	STORE_AUDIT_URL,           /* a queued URL (urls.url) */
	STORE_AUDIT_FINAL_URL,     /* the URL a fetch ended at (fetches.final_url) */
	STORE_AUDIT_RELEASE_PATH,  /* a release path, a path ending in one, or a tail of one */
} store_audit_by;

/* Calls cb with each distinct stored image hash that key matches, in hash
 * order, at most limit of them. Returns how many it called cb for (>= 0) or
 * a negative NATADV code. Strings are valid during cb. */
int store_audit_find(store *s, store_audit_by by, const char *key, int limit,
                     void (*cb)(void *ctx, const char *hash), void *ctx);
#define STORE_AUDIT_MAX_MATCHES 20

/* What an audit key names (store_audit_resolve). */
typedef struct store_audit_match {
	int n;                 /* images matched; only the first STORE_AUDIT_MAX_MATCHES are listed */
	char hashes[STORE_AUDIT_MAX_MATCHES][33];
	const char *how;       /* "url", "hash prefix", "file content", ... (static) */
} store_audit_match;

/* Finds the stored images key names: an http(s) URL as queued or as a fetch
 * ended (then norm_url, the key in the crawler's normal form, when not NULL),
 * 32 hex digits or a prefix of 8+ (any case), a SHA-256, a release path or a
 * path ending in one, a file on disk by its real path then its content, or a
 * release file's name (HASH.jpg). m->n is 0 when nothing matches, more than 1
 * when the key is ambiguous. NATADV_EINVAL for a hex prefix under 8 digits,
 * NATADV_EIO when the file cannot be read; the message says why. */
int store_audit_resolve(store *s, const char *key, const char *norm_url, store_audit_match *m);
/* Builds the history of the stored image hash as one JSON object with the
 * keys image, tags, fetches, robots, scores, selections, reviews,
 * review_in_force and releases (see cli/cmd_audit.c --help); *out is a new
 * reference the caller frees with json_decref. NATADV_ENOTFOUND when no
 * such image is stored. */
int store_audit_image(store *s, const char *hash, struct json_t **out);

/* ---- rebuild: what became of a URL, a selection from a release manifest (store/rebuild.c) ---- */

typedef struct store_url_outcome {
	char state[16];       /* "pending", "fetched", "failed", "opted_out"; "" when not queued */
	char image_hash[33];  /* the image it produced; "" when none */
	long http_status;     /* of its last attempt; 0 when none or no response */
	char error[512];      /* its last error (cut to fit); "" when none */
} store_url_outcome;

/* Fills *o with what became of url (as queued, i.e. normalised). */
int store_url_outcome_get(store *s, const char *url, store_url_outcome *o);

typedef struct store_manifest_item {
	const char *image_hash, *wnid, *pred_wnid;
	double confidence, true_prob;
	const char *reason;   /* the accept review's reason */
	const char *source_wnid;  /* an ImageNet-O line's out-of-distribution class (a known class), or NULL */
} store_manifest_item;

/* In the open transaction: when the selection in force for set has rule
 * "manifest" and exactly these params, sets *selection_id to it and
 * *created to 0. Otherwise records a finished selection (model NULL, rule
 * "manifest", params), one "proposed" proposal per item and an accept
 * review of each by reviewer in mode "auto", and sets *created to 1. */
int store_selection_from_manifest(store *s, int64_t run_id, const char *set, const char *params,
                                  const store_manifest_item *items, int n, const char *reviewer,
                                  int64_t *selection_id, int *created);
/* ---- class sets (store/sets.c) ---- */

typedef struct store_member {
	int64_t set_index;   /* label within the set (ImageFolder's sorted-folder position) */
	char wnid[16];
	int64_t index_1k;    /* logit index in ImageNet-1K; -1 for a class outside it */
	char name[64];       /* first WordNet name */
} store_member;

/* Reads the classes of set in set_index order into *out (an array the caller
 * frees with free()) and their number into *n. NATADV_ENOTFOUND when there is
 * no such set. */
int store_set_members(store *s, const char *set, store_member **out, int *n);

typedef struct store_set_info {
	const char *name, *version, *created_at;
	const char *based_on;  /* the set it was derived from; NULL for the built-in ones */
	int64_t members, run_id;
} store_set_info;

/* Calls cb for every class set, by name; strings valid during cb. */
int store_sets_each(store *s, void (*cb)(void *ctx, const store_set_info *i), void *ctx);
/* Creates class set name (version) holding the classes of set from (NULL:
 * none) plus add[0..nadd), each an ImageNet-1K class not in it yet. Members
 * are numbered in sorted wnid order, the label order of ImageFolder. One
 * transaction. NATADV_EEXIST for a taken name, NATADV_ENOTFOUND for an unknown
 * from set, NATADV_EINVAL for a bad name or wnid (the message names it). */
int store_set_add(store *s, int64_t run_id, const char *name, const char *version, const char *from,
                  const char *const *add, int nadd);
/* Sets *ood to 1 when set is an out-of-distribution source set (made by
 * store_set_add_ood), else 0; NATADV_ENOTFOUND when there is no such set. */
int store_set_is_ood(store *s, const char *set, int *ood);
/* Marks the workspace's ImageNet-1K classes as wn's in-distribution classes
 * (wordnet_mark_in_dist), so wordnet_judge answers the rule for them. */
int store_wordnet_mark(store *s, wordnet *wn);
/* In the open transaction: adds wnid as a class outside ImageNet-1K with its
 * WordNet names, after checking the rule of out-of-distribution classes
 * (wordnet_judge, wn marked by store_wordnet_mark); a class already stored
 * stays as it is. NATADV_EINVAL when wnid is no noun synset, or an
 * ImageNet-1K class or an ancestor or descendant of one (the message names
 * the ImageNet-1K class it overlaps). */
int store_ood_class_put(store *s, const wordnet *wn, const char *wnid);
/* Creates out-of-distribution source set name (version) of the synsets
 * add[0..nadd), each checked and added by store_ood_class_put, numbered in
 * sorted wnid order; marks wn first. One transaction. NATADV_EEXIST for a
 * taken name, NATADV_EINVAL for a bad name, a wnid given twice or one the
 * rule refuses (the message says which and why). */
int store_set_add_ood(store *s, int64_t run_id, const char *name, const char *version, wordnet *wn,
                      const char *const *add, int nadd);

typedef struct store_set_member {
	int64_t index;      /* the label: the class's position in the set */
	const char *wnid;
} store_set_member;

/* Compares the class set named set with m[0..n) (distinct wnids): 0 when
 * each is a member at its index and, if exact, the set has no other member;
 * NATADV_ENOTFOUND when there is no such set; NATADV_EEXIST when they differ
 * (the message names the first difference). *size (may be NULL) gets the
 * set's number of classes. Reads only. */
int store_set_compare(store *s, const char *set, const store_set_member *m, int n, int exact, int64_t *size);
/* Creates the class set (version "1", based_on NULL) with members m[0..n) at
 * their labels, in the open transaction (no check of names or wnids: the
 * caller's). NATADV_EEXIST when a set of that name exists. */
int store_set_create(store *s, int64_t run_id, const char *set, const store_set_member *m, int n);

/* ---- selections and proposals (store/select.c) ---- */

typedef struct store_tag_score {
	const char *image_hash, *wnid;
	uint64_t phash;
	const char *status;    /* the model's score: NULL when none, "scored" or "unscorable" */
	const float *logits;   /* when scored: nlogits floats, aligned copy */
	int nlogits;
} store_tag_score;

/* Calls cb for every distinct (image, class) tag whose class is in set, in
 * (wnid, image hash) order, with model_id's score of the image. Stops when cb
 * returns non-zero and returns that; data valid during cb. NATADV_EFORMAT
 * when stored logits are not whole floats. */
int store_set_tag_scores(store *s, const char *set, const char *model_id,
                         int (*cb)(void *ctx, const store_tag_score *t), void *ctx);
/* Copies model_id's logits of image into out[0..n). NATADV_ENOTFOUND when the
 * model has not scored it ('scored'); NATADV_EFORMAT when not n are stored. */
int store_score_logits(store *s, const char *image_hash, const char *model_id, float *out, int n);

typedef struct store_selection {
	const char *set_name, *model_id;
	const char *also_model_ids;  /* JSON array of model ids */
	const char *rule;            /* "misclassified" */
	const char *params;          /* JSON object */
	int64_t run_id;
} store_selection;

typedef struct store_proposal_new {
	const char *image_hash, *wnid, *pred_wnid;
	const char *source_wnid;     /* rule 'ood': the out-of-distribution class the image is tagged with; else NULL */
	double confidence, true_prob;
	long dup_of;                 /* -1 when kept, else the array index of the kept proposal */
	int distance;                /* to it */
} store_proposal_new;

/* Records one finished selection: its row, its proposals, then finished_at and
 * the counts, all in one transaction, so an interrupted one leaves nothing.
 * *selection_id gets its id (may be NULL). */
int store_selection_add(store *s, const store_selection *sel, const store_proposal_new *p, size_t n,
                        int64_t *selection_id);
/* Sets *id to the selection in force for set (its latest finished one);
 * NATADV_ENOTFOUND when there is none. */
int store_selection_current(store *s, const char *set, int64_t *id);

/* ---- proposals with their decision in force (store/review_list.c) ---- */

/* One proposal of a selection with the decision in force for its (set,
 * image, class) and its provenance; both listing calls fill every field but
 * rivals, which only store_proposals_each counts. */
typedef struct store_proposal {
	int64_t id, selection_id;
	const char *set_name, *image_hash, *wnid, *pred_wnid;
	const char *status;          /* "proposed" or "near_duplicate" */
	double confidence, true_prob;
	int64_t duplicate_of;        /* the kept proposal, 0 when none */
	int distance;                /* to it, -1 when none */
	store_decision decision;     /* in force: STORE_ACCEPT, STORE_REJECT or STORE_UNDECIDED */
	int64_t review_id;           /* the deciding review, 0 when undecided */
	const char *reviewer, *reason, *mode, *at;  /* of that review (NULL when undecided) */
	int rivals;                  /* kept proposals of the same image for other classes of this
	                                selection that are not rejected (accepting both would make
	                                the image two classes' and the set unexportable) */
	const char *class_name, *pred_name;   /* first lemmas of wnid and pred_wnid */
	const char *source_wnid, *source_name; /* rule 'ood': the out-of-distribution class the image is
	                                          tagged with and its first lemma; NULL otherwise */
	/* the first URL that tagged the image with the class (rule 'ood': the source class); each may be NULL */
	const char *source, *license, *author, *attribution, *title, *page_url, *url;
	const char *format;          /* "jpeg" | "png" */
	int width, height;
} store_proposal;

/* Calls cb for each proposal of selection_id in id order with the decision in
 * force; stops when cb returns non-zero and returns that. Strings valid
 * during cb. */
int store_proposals_each(store *s, int64_t selection_id,
                         int (*cb)(void *ctx, const store_proposal *p), void *ctx);

typedef struct store_proposal_filter {
	const char *set;         /* class set; its current selection is listed */
	const char *wnid;        /* one class, or NULL for all */
	int state;               /* a store_decision (STORE_UNDECIDED: none in force), or -1 for all */
	double min_conf, max_conf;  /* confidence range, inclusive */
	int64_t id;              /* one proposal, or 0 for all */
	int64_t offset;
	int limit;
} store_proposal_filter;

/* Calls cb for each kept ('proposed') proposal of the set's current selection
 * that matches f, by confidence (highest first) then id, with the first URL
 * that tagged it and its decision in force; strings valid during cb. *total
 * gets the number of matches ignoring offset and limit (may be NULL). */
int store_proposals_list(store *s, const store_proposal_filter *f, int64_t *total,
                         void (*cb)(void *ctx, const store_proposal *p), void *ctx);

typedef struct store_class_progress {
	int64_t index;           /* the class's index in the set */
	const char *wnid, *name; /* name: the first lemma */
	int64_t proposed, accepted, rejected;  /* over the current selection */
} store_class_progress;

/* Calls cb for every class of set in index order with its review counts over
 * the set's current selection (all 0 when there is none); strings valid
 * during cb. NATADV_ENOTFOUND when the set does not exist. */
int store_review_progress(store *s, const char *set,
                          void (*cb)(void *ctx, const store_class_progress *p), void *ctx);

/* Copies the stored image's format ("jpeg" or "png") into format, or returns
 * NATADV_ENOTFOUND when no image has that hash. */
int store_image_format(store *s, const char *hash, char format[8]);
/* ---- releases (store/release.c) ---- */

typedef struct store_release_class {
	int64_t label;        /* set_index: ImageFolder's sorted-folder position */
	const char *wnid;
	int64_t index_1k;     /* logit index in ImageNet-1K, -1 when outside it */
	const char *names;    /* WordNet lemmas, first name first */
} store_release_class;

/* One accepted proposal of the selection in force, with its provenance.
 * Strings may be NULL where the workspace has no value. */
typedef struct store_release_item {
	int64_t proposal_id, review_id;
	const char *image_hash, *wnid;
	const char *sha256, *format;            /* of the stored (fetched) bytes */
	int64_t bytes;
	int width, height;
	const char *pred_wnid, *pred_names;
	double confidence, true_prob;
	const char *source_wnid, *source_names; /* rule 'ood': the out-of-distribution class the image is
	                                           tagged with, and its names; else NULL */
	const char *review, *reviewer, *reviewed_at, *review_mode;
	/* the (url, class) candidate of the smallest url id that gave this tag (rule 'ood': the source class's) */
	const char *url, *source, *query, *page_url, *license, *license_raw, *author, *title;
	const char *attribution;                /* the credit line the source asks for, verbatim */
	/* the latest fetch that produced these bytes (of that url when it has one) */
	const char *final_url, *etag, *fetched_at;
	long http_status;                       /* 0 when unknown */
} store_release_item;

typedef struct store_release_plan {
	const char *set, *set_version, *based_on;   /* based_on may be NULL */
	int64_t selection_id;
	const char *model_id, *model_name;          /* NULL for a selection rebuilt from a manifest */
	const char *rule, *params;
	store_release_class *classes;               /* in label order */
	size_t nclasses;
	store_release_item *items;                  /* sorted by wnid, then image hash */
	size_t nitems;
	struct store_release_strings *strings;      /* owns every string above */
} store_release_plan;

/* Reads what exporting set takes: its classes, the selection in force
 * (view current_selection) and that selection's 'proposed' proposals whose
 * review in force is 'accept', each with its provenance. *out is owned by
 * the caller (store_release_plan_free). NATADV_ENOTFOUND when the set does
 * not exist or has no finished selection. */
int store_release_plan_get(store *s, const char *set, store_release_plan **out);
/* Frees a plan and its strings; accepts NULL. */
void store_release_plan_free(store_release_plan *p);

/* Sets *released_unix to the time of the earliest release of set and
 * version with this content_sha256; NATADV_ENOTFOUND when there is none. */
int store_release_time_find(store *s, const char *set, const char *version,
                            const char *content_sha256, int64_t *released_unix);

typedef struct store_release {
	const char *set, *version;
	int64_t selection_id;
	const char *content_sha256;
	const char *released_at;     /* ISO-8601 UTC, whole seconds */
	int64_t released_unix;
	int partial, images;
	const char *out_dir, *manifest_sha256, *tar_sha256;  /* tar_sha256 may be NULL */
	int64_t run_id;              /* 0 = none */
} store_release;

typedef struct store_release_file {
	const char *path;            /* inside the release, e.g. 'imagenet-a/n01498041/<xxh128>.jpg' */
	const char *image_hash, *wnid;
	int64_t proposal_id, review_id;
	const char *sha256;          /* of the file as written */
	int64_t bytes;
	const char *converted;       /* NULL when copied byte for byte */
} store_release_file;

/* Records a release and its n image files in one transaction of its own;
 * *release_id (may be NULL) gets the new row's id. */
int store_release_add(store *s, const store_release *r, const store_release_file *files, size_t n,
                      int64_t *release_id);

/* ---- blobs (thread-safe; no handle needed) ---- */

/* Writes objdir/ab/cdef… for hex (32 hex digits) into out. */
int blob_path(const char *objdir, const char *hex, buf *out);
/* Stores n bytes under hex: a temporary file in objdir/tmp, written fully,
 * then renamed into place (skipped when the blob exists). Durability comes
 * from blob_sync before the referring database rows commit. */
int blob_put(const char *objdir, const char *hex, const void *p, size_t n,
             char *err, size_t errlen);
/* Flushes the blob store's file system to disk (syncfs). */
int blob_sync(const char *objdir);
/* Removes temporary files a killed run left in objdir/tmp; *n = count. */
int blob_clean_tmp(const char *objdir, int *n);

/* ---- discover: API requests and candidates not queued (store/discover.c) ---- */

/* Sets *id to the queries row of (source, query, wnid), adding it if new. */
int store_query_id(store *s, int64_t run_id, const char *source, const char *query, const char *wnid,
                   int64_t *id);

typedef struct store_api_request {
	const char *source;
	int64_t query_id;
	const char *wnid;
	const char *page;            /* page number or continuation token asked for; may be NULL */
	const char *url;             /* without secrets */
	int64_t run_id;
	double started, finished;    /* unix seconds */
	long http_status;            /* 0 when no response */
	const char *body_sha256;     /* NULL when no response */
	int candidates, queued;
	const char *next_page;       /* what the following request asks for; NULL at the end */
	const char *outcome;         /* "ok" | "retry" | "failed" */
	const char *error;           /* NULL when ok */
} store_api_request;

/* Appends an api_requests row; *id (may be NULL) gets its id. */
int store_api_request_add(store *s, const store_api_request *r, int64_t *id);

/* Where (source, wnid, query) stands after earlier runs: *state is 0 when it
 * was never asked, 1 when it goes on at the page appended to next, 2 when its
 * results are exhausted. Reads the latest "ok" or "failed" request. */
int store_api_resume(store *s, const char *source, const char *wnid, int64_t query_id, int *state, buf *next);

/* Records a candidate discover found but did not queue, and why ("licence",
 * "unknown_licence", "no_url", "bad_url", "not_jpeg_png", "too_small"); c->url
 * may be NULL. Once per (source, wnid, source_id): *added says if new. */
int store_discover_skip(store *s, int64_t run_id, const store_candidate *c, const char *reason, int *added);

/* Sets *n to the number of (url, class) tags source has added for wnid. */
int store_discover_count(store *s, const char *source, const char *wnid, int64_t *n);

/* Sets *names to a copy of the class's WordNet names (the caller frees it);
 * NATADV_ENOTFOUND for an unknown wnid. */
int store_class_names(store *s, const char *wnid, char **names);

typedef struct store_discover_stat {
	const char *source;
	int64_t requests, failed;          /* every request; those that failed for good */
	int64_t candidates, queued;        /* over the stored pages */
	int64_t not_queued;                /* discover_skipped rows */
} store_discover_stat;

/* Calls per_source for every source discover has asked (by name), then
 * per_skip for each (source, reason, licence) of candidates not queued with
 * their number, most first. Strings valid during the call. */
int store_discover_stats(store *s, void (*per_source)(void *ctx, const store_discover_stat *st),
                         void (*per_skip)(void *ctx, const char *source, const char *reason,
                                          const char *license, int64_t n),
                         void *ctx);

/* ---- the report's aggregates (store/report.c) ---- */

/* Reads every number natadv report shows for class set set into *out (a new
 * object the caller owns, json_decref): arrays of row objects under funnel
 * (per class of the set: label, wnid, name, discovered, queued, fetched,
 * valid, scored, proposed, accepted, rejected, released), discovered (per
 * source), failures (failed and opted-out urls per host and message, with
 * the kind of message: http_status, timeout, invalid_image, too_small,
 * too_large, robots_txt, x_robots_tag, private_address or other), confidence (series, bin of 20, n), confusions (top 30 true ->
 * predicted pairs with up to 4 examples), tags (per source and licence:
 * fetched candidates, accepted proposals), reviewers and runs (the latest 300). NATADV_ENOTFOUND for an unknown set. */
int store_report_json(store *s, const char *set, struct json_t **out);

#endif
