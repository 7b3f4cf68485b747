/* parts.c — split and merge in SQL: a part workspace is ATTACHed ('p' for
 * a split, 'q' for a merge, which copies it into the staging database 'p'
 * first) and filled, or read back, with INSERT … SELECT, so a part of
 * 100,000 rows is a handful of statements. The rules are in parts.h. Blobs move by hard link
 * (the part keeps its own, so a merge can run again), copied only across
 * file systems; a merge links them on a thread of its own while its SQL
 * runs, and merges the large tables of all its parts in one statement each
 * (see store_parts_merge). */
#include "store_internal.h"
#include "store/parts.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/text.h"
#include "common/timeutil.h"

int store_workspace_uuid(store *s, char uuid[33])
{
	sqlite3_stmt *st = store_sql(s, "SELECT uuid FROM main.workspace WHERE id = 1");
	if (!st)
		return NATADV_EDB;
	int step = sqlite3_step(st);
	if (step != SQLITE_ROW) {
		int rc = step == SQLITE_DONE ? store_fail(s, NATADV_EDB, "workspace '%s' has no uuid", s->dir)
		                             : store_dberr(s, "cannot read the workspace uuid");
		sqlite3_reset(st);
		return rc;
	}
	snprintf(uuid, 33, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	return 0;
}

int store_split_urls_each(store *s, int (*cb)(void *ctx, int64_t url_id, const char *host), void *ctx)
{
	sqlite3_stmt *st = store_sql(s,
		"SELECT u.id, u.host FROM urls u WHERE u.state = 'pending' "
		"AND NOT EXISTS (SELECT 1 FROM split_urls x WHERE x.url_id = u.id) ORDER BY u.id");
	if (!st)
		return NATADV_EDB;
	int step, r = 0;
	while (!r && (step = sqlite3_step(st)) == SQLITE_ROW)
		r = cb(ctx, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1));
	if (!r && step != SQLITE_DONE)
		r = store_dberr(s, "cannot read pending urls");
	sqlite3_reset(st);
	return r;
}

int store_split_images_each(store *s, const char *model_id, int (*cb)(void *ctx, const char *hash), void *ctx)
{
	sqlite3_stmt *st = store_sql(s,
		"SELECT i.hash FROM images i WHERE NOT EXISTS "
		"(SELECT 1 FROM scores c WHERE c.image_hash = i.hash AND c.model_id = ?1) "
		"AND NOT EXISTS (SELECT 1 FROM split_images x WHERE x.image_hash = i.hash AND x.model_id = ?1) "
		"ORDER BY i.hash");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, model_id);
	int step, r = 0;
	while (!r && (step = sqlite3_step(st)) == SQLITE_ROW)
		r = cb(ctx, (const char *)sqlite3_column_text(st, 0));
	if (!r && step != SQLITE_DONE)
		r = store_dberr(s, "cannot read unscored images");
	sqlite3_reset(st);
	return r;
}

int store_split_add(store *s, const store_split *sp, int64_t *split_id)
{
	char now[32];
	time_iso(time_now(), now);
	sqlite3_stmt *st = store_sql(s,
		"INSERT INTO splits(stage, by, model_id, parts, out_dir, created_at, run_id) VALUES(?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, sp->stage);
	store_bind_text(st, 2, sp->by);
	store_bind_text(st, 3, sp->model_id);
	sqlite3_bind_int(st, 4, sp->parts);
	store_bind_text(st, 5, sp->out_dir);
	store_bind_text(st, 6, now);
	if (sp->run_id > 0)
		sqlite3_bind_int64(st, 7, sp->run_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot record split");
	*split_id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

/* ---- statements with named parameters ---- */

/* The values a split or merge statement may name. */
struct params {
	int64_t roff, foff, run, split, part, k;
	int64_t fmax, nfetch; /* merge: the part's last fetch id, its fetches */
	int64_t mapped;       /* merge: temp.merge_urls has rows */
	const char *label, *model, *now, *uuid, *dir;
};

/* Binds sql's named parameters from pr. */
static void bind_named(sqlite3_stmt *st, const struct params *pr)
{
	int n = sqlite3_bind_parameter_count(st);
	for (int i = 1; i <= n; i++) {
		const char *name = sqlite3_bind_parameter_name(st, i);
		if (!name)
			continue;
		if (!strcmp(name, ":roff")) sqlite3_bind_int64(st, i, pr->roff);
		else if (!strcmp(name, ":foff")) sqlite3_bind_int64(st, i, pr->foff);
		else if (!strcmp(name, ":fmax")) sqlite3_bind_int64(st, i, pr->fmax);
		else if (!strcmp(name, ":run")) sqlite3_bind_int64(st, i, pr->run);
		else if (!strcmp(name, ":split")) sqlite3_bind_int64(st, i, pr->split);
		else if (!strcmp(name, ":part")) sqlite3_bind_int64(st, i, pr->part);
		else if (!strcmp(name, ":k")) sqlite3_bind_int64(st, i, pr->k);
		else if (!strcmp(name, ":mapped")) sqlite3_bind_int64(st, i, pr->mapped);
		else if (!strcmp(name, ":label")) store_bind_text(st, i, pr->label);
		else if (!strcmp(name, ":model")) store_bind_text(st, i, pr->model);
		else if (!strcmp(name, ":now")) store_bind_text(st, i, pr->now);
		else if (!strcmp(name, ":uuid")) store_bind_text(st, i, pr->uuid);
		else if (!strcmp(name, ":dir")) store_bind_text(st, i, pr->dir);
	}
}

/* Records SQLite's error for the step what ("cannot <what>: ..."). */
static int cannot(store *s, const char *what)
{
	char why[256];
	snprintf(why, sizeof why, "cannot %s", what);
	return store_dberr(s, why);
}

/* Runs sql (a string literal, cached) with its named parameters bound from
 * pr; *changes (may be NULL) gets the rows it changed. */
static int run_sql(store *s, const char *sql, const struct params *pr, int64_t *changes, const char *what)
{
	sqlite3_stmt *st = store_sql(s, sql);
	if (!st)
		return NATADV_EDB;
	bind_named(st, pr);
	int step = sqlite3_step(st);
	sqlite3_reset(st);
	if (step != SQLITE_DONE && step != SQLITE_ROW)
		return cannot(s, what);
	if (changes)
		*changes = sqlite3_changes64(s->db);
	return 0;
}

/* Runs a one-row, one-column integer query; *v gets it (0 for NULL). */
static int query_int(store *s, const char *sql, const struct params *pr, int64_t *v, const char *what)
{
	sqlite3_stmt *st = store_sql(s, sql);
	if (!st)
		return NATADV_EDB;
	bind_named(st, pr);
	int step = sqlite3_step(st);
	*v = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (step != SQLITE_ROW)
		return cannot(s, what);
	return 0;
}

/* Attaches the database file path as schema ('p' or 'q'). */
static int attach_file(store *s, const char *dir, const char *path, int as_q)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, as_q ? "ATTACH DATABASE ? AS q" : "ATTACH DATABASE ? AS p", -1, &st, NULL) !=
	    SQLITE_OK)
		return store_dberr(s, "cannot attach a part");
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	sqlite3_finalize(st);
	if (step != SQLITE_DONE)
		return store_fail(s, NATADV_EDB, "cannot open part '%s': %s", dir, sqlite3_errmsg(s->db));
	return 0;
}

/* Attaches the workspace database in dir as 'p' (split), or 'q' when as_q
 * (merge: 'p' is then the staging database), outside any transaction; a
 * part whose schema is not this natadv's is opened through store_open
 * first, so that it is migrated (or refused). */
static int attach(store *s, const char *dir, int as_q)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/natadv.db", dir);
	struct stat sb;
	int current = 0;
	if (stat(path, &sb) == 0 && attach_file(s, dir, path, as_q) == 0) {
		int64_t v = -1;
		struct params none = {0};
		current = query_int(s, as_q ? "PRAGMA q.user_version" : "PRAGMA p.user_version", &none, &v,
		                    "read a part's schema") == 0 && v == store_schema_latest();
		if (!current)
			sqlite3_exec(s->db, as_q ? "DETACH DATABASE q" : "DETACH DATABASE p", NULL, NULL, NULL);
	}
	if (!current) {
		char err[1024];
		store *part = NULL;
		int rc = store_open(dir, &part, err, sizeof err);
		store_close(part);
		if (rc)
			return store_fail(s, rc, "%s", err);
		if ((rc = attach_file(s, dir, path, as_q)) != 0)
			return rc;
	}
	/* Bulk copies: a page cache that holds the indexes being written
	 * (SQLite's default 2 MB makes each insert read pages back). */
	return store_exec(s, as_q ? "PRAGMA main.cache_size = -262144;"
	                          : "PRAGMA main.cache_size = -262144; PRAGMA p.cache_size = -65536;");
}

static void detach(store *s, int as_q)
{
	sqlite3_exec(s->db, as_q ? "DETACH DATABASE q" : "DETACH DATABASE p", NULL, NULL, NULL);
}

/* ---- blobs and weights between workspaces ---- */

/* Makes the folder dst is in, if missing. */
static int make_parent(store *s, const char *dst)
{
	char dir[4400];
	snprintf(dir, sizeof dir, "%s", dst);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		return store_fail(s, NATADV_EIO, "cannot create '%s': %s", dir, strerror(errno));
	return 0;
}

/* Puts the file src at dst (its folder made if need be): a hard link, or a
 * copy across file systems. *how: 0 there already, 1 linked, 2 copied. */
static int link_or_copy(store *s, const char *src, const char *dst, int *how)
{
	*how = 0;
	if (link(src, dst) == 0) {
		*how = 1;
		return 0;
	}
	if (errno == ENOENT && access(src, F_OK) == 0) {
		int rc = make_parent(s, dst);
		if (rc)
			return rc;
		if (link(src, dst) == 0) {
			*how = 1;
			return 0;
		}
	}
	if (errno == EEXIST || (errno == ENOENT && access(dst, F_OK) == 0))
		return 0; /* there already (the part's own copy may be gone) */
	if (errno != EXDEV && errno != EPERM && errno != EMLINK)
		return store_fail(s, NATADV_EIO, "cannot link '%s' to '%s': %s", src, dst, strerror(errno));
	int rc = make_parent(s, dst);
	if (!rc)
		rc = store_copy_file(s, src, dst);
	*how = rc ? 0 : 2;
	return rc;
}

/* Blob paths of both stores, reused from blob to blob. */
struct blob_scratch {
	buf a, b;
	int64_t linked, copied;
};

static void scratch_init(struct blob_scratch *x)
{
	buf_init(&x->a, 8192);
	buf_init(&x->b, 8192);
	x->linked = x->copied = 0;
}

static void scratch_release(struct blob_scratch *x)
{
	buf_release(&x->a);
	buf_release(&x->b);
}

/* Links the blob hex from the objects folder from into to; counts how. */
static int blob_move(store *s, const char *from, const char *to, const char *hex, struct blob_scratch *x)
{
	buf_reset(&x->a);
	buf_reset(&x->b);
	if (blob_path(from, hex ? hex : "", &x->a) || blob_path(to, hex, &x->b))
		return store_fail(s, NATADV_EINVAL, "bad blob name '%s'", hex ? hex : "");
	int how = 0, rc = link_or_copy(s, buf_cstr(&x->a), buf_cstr(&x->b), &how);
	x->linked += how == 1;
	x->copied += how == 2;
	return rc;
}

/* ---- split: writing a part ---- */

static int pick_load(store *s, const store_part *p)
{
	int rc = store_exec(s, "CREATE TEMP TABLE IF NOT EXISTS pick_ids(id INTEGER PRIMARY KEY);"
	                       "CREATE TEMP TABLE IF NOT EXISTS pick_hashes(hash TEXT PRIMARY KEY) WITHOUT ROWID;"
	                       "DELETE FROM temp.pick_ids; DELETE FROM temp.pick_hashes;");
	sqlite3_stmt *st = rc ? NULL : store_sql(s, p->url_ids ? "INSERT INTO temp.pick_ids(id) VALUES(?)"
	                                                       : "INSERT INTO temp.pick_hashes(hash) VALUES(?)");
	if (!rc && !st)
		rc = NATADV_EDB;
	for (size_t i = 0; !rc && i < p->n; i++) {
		sqlite3_reset(st);
		if (p->url_ids)
			sqlite3_bind_int64(st, 1, p->url_ids[i]);
		else
			store_bind_text(st, 1, p->hashes[i]);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = store_dberr(s, "cannot list a part's work");
	}
	if (st)
		sqlite3_reset(st);
	return rc;
}

/* The class sets, then the stage's work, into the attached part. */
static int part_fill(store *s, const store_part *p, const struct params *pr)
{
	int crawl = !strcmp(p->stage, "crawl");
	int64_t have = 0;
	int rc = query_int(s, "SELECT (SELECT count(*) FROM p.urls) + (SELECT count(*) FROM p.images)", pr, &have,
	                   "read the part");
	if (!rc && have > 0)
		return store_fail(s, NATADV_EEXIST, "part '%s' holds work already", p->dir);
	if (!rc)
		rc = run_sql(s, "INSERT INTO p.classes(wnid, index_1k, names) SELECT wnid, index_1k, names "
		                "FROM main.classes WHERE true ON CONFLICT DO NOTHING", pr, NULL, "copy classes");
	if (!rc)
		rc = run_sql(s, "INSERT INTO p.class_sets(name, version, created_at, based_on) "
		                "SELECT name, version, created_at, based_on FROM main.class_sets WHERE true "
		                "ON CONFLICT DO NOTHING", pr, NULL, "copy class sets");
	if (!rc)
		rc = run_sql(s, "INSERT INTO p.class_set_members(set_name, set_index, wnid) "
		                "SELECT set_name, set_index, wnid FROM main.class_set_members WHERE true "
		                "ON CONFLICT DO NOTHING", pr, NULL, "copy class sets");
	if (!rc && crawl)
		rc = run_sql(s, "INSERT INTO p.queries(id, source, query, wnid, issued_at) "
		                "SELECT q.id, q.source, q.query, q.wnid, q.issued_at FROM main.queries q WHERE q.id IN "
		                "(SELECT t.query_id FROM temp.pick_ids k JOIN main.url_tags t ON t.url_id = k.id)",
		             pr, NULL, "copy queries");
	if (!rc && crawl)
		rc = run_sql(s, "INSERT INTO p.urls(id, url, host, state, attempts, next_attempt_at, last_error, "
		                "added_at) SELECT u.id, u.url, u.host, u.state, u.attempts, u.next_attempt_at, "
		                "u.last_error, u.added_at FROM temp.pick_ids k JOIN main.urls u ON u.id = k.id",
		             pr, NULL, "copy urls");
	if (!rc && crawl)
		rc = run_sql(s, "INSERT INTO p.url_tags(url_id, wnid, source, query_id, page_url, license, author, "
		                "added_at, title, source_id, license_raw, seed_ref, api_request_id, attribution) "
		                "SELECT t.url_id, t.wnid, t.source, t.query_id, t.page_url, t.license, t.author, "
		                "t.added_at, t.title, t.source_id, t.license_raw, t.seed_ref, t.api_request_id, "
		                "t.attribution FROM temp.pick_ids k JOIN main.url_tags t ON t.url_id = k.id",
		             pr, NULL, "copy url tags");
	if (crawl || rc)
		return rc;
	rc = run_sql(s, "INSERT INTO p.models(id, name, arch, classes, bytes, source_url, preprocessing, added_at) "
	                "SELECT id, name, arch, classes, bytes, source_url, preprocessing, added_at "
	                "FROM main.models WHERE id = :model", pr, NULL, "copy the model");
	if (!rc)
		rc = run_sql(s, "INSERT INTO p.images(hash, sha256, bytes, format, width, height, phash, first_seen) "
		                "SELECT i.hash, i.sha256, i.bytes, i.format, i.width, i.height, i.phash, i.first_seen "
		                "FROM temp.pick_hashes k JOIN main.images i ON i.hash = k.hash", pr, NULL, "copy images");
	if (!rc)
		rc = run_sql(s, "INSERT INTO p.urls(id, url, host, state, attempts, next_attempt_at, last_error, "
		                "image_hash, added_at) SELECT u.id, u.url, u.host, u.state, u.attempts, "
		                "u.next_attempt_at, u.last_error, "
		                "CASE WHEN u.image_hash IN (SELECT hash FROM temp.pick_hashes) THEN u.image_hash END, "
		                "u.added_at FROM main.urls u WHERE u.id IN (SELECT t.url_id FROM temp.pick_hashes k "
		                "JOIN main.image_tags t ON t.image_hash = k.hash)", pr, NULL, "copy urls");
	if (!rc)
		rc = run_sql(s, "INSERT INTO p.image_tags(image_hash, wnid, url_id) SELECT t.image_hash, t.wnid, "
		                "t.url_id FROM temp.pick_hashes k JOIN main.image_tags t ON t.image_hash = k.hash",
		             pr, NULL, "copy image tags");
	return rc;
}

/* The split_parts row and the marks of its work, in main. */
static int part_mark(store *s, const store_part *p, const struct params *pr)
{
	int64_t n = 0;
	int rc = run_sql(s, "INSERT INTO main.split_parts(split_id, part, uuid, dir, items, created_at) "
	                    "VALUES(:split, :part, :uuid, :dir, (SELECT count(*) FROM temp.pick_ids) + "
	                    "(SELECT count(*) FROM temp.pick_hashes), :now)", pr, NULL, "record the part");
	if (!rc && p->url_ids)
		rc = run_sql(s, "INSERT OR IGNORE INTO main.split_urls(url_id, split_id, part) "
		                "SELECT id, :split, :part FROM temp.pick_ids", pr, &n, "mark urls");
	else if (!rc)
		rc = run_sql(s, "INSERT OR IGNORE INTO main.split_images(image_hash, model_id, split_id, part) "
		                "SELECT hash, :model, :split, :part FROM temp.pick_hashes", pr, &n, "mark images");
	if (!rc && (size_t)n != p->n)
		rc = store_fail(s, NATADV_EEXIST, "%zu of part %d's items are out in another part already",
		                p->n - (size_t)n, p->part);
	return rc;
}

/* Links the part's blobs and the model's weights into its folder. */
static int part_files(store *s, const store_part *p)
{
	char objdir[4200], dst[4400];
	snprintf(objdir, sizeof objdir, "%s/objects", p->dir);
	struct blob_scratch x;
	scratch_init(&x);
	int how, rc = 0;
	for (size_t i = 0; !rc && i < p->n; i++)
		rc = blob_move(s, s->objdir, objdir, p->hashes[i], &x);
	scratch_release(&x);
	/* the weights at the same place under the part's folder */
	buf src;
	buf_init(&src, 8192);
	if (!rc && store_model_path(s, p->model_id, &src) != 0)
		rc = store_fail(s, NATADV_ENOMEM, "out of memory");
	snprintf(dst, sizeof dst, "%s%s", p->dir, buf_cstr(&src) + strlen(s->dir));
	if (!rc)
		rc = link_or_copy(s, buf_cstr(&src), dst, &how);
	buf_release(&src);
	/* durable before the parent marks the images out to this part */
	if (!rc && blob_sync(objdir) != 0)
		rc = store_fail(s, NATADV_EIO, "cannot sync '%s'", objdir);
	return rc;
}

int store_part_write(store *s, const store_part *p)
{
	if ((!p->url_ids) == (!p->hashes) || (p->hashes && !p->model_id))
		return store_fail(s, NATADV_EINVAL, "a part holds urls or images (with a model)");
	char now[32];
	time_iso(time_now(), now);
	struct params pr = {.split = p->split_id, .part = p->part, .model = p->model_id, .now = now,
	                    .uuid = p->uuid, .dir = p->dir};
	int rc = attach(s, p->dir, 0);
	if (rc)
		return rc;
	if (p->hashes)
		rc = part_files(s, p);
	if (!rc)
		rc = store_exec(s, "BEGIN");
	if (!rc)
		rc = pick_load(s, p);
	if (!rc)
		rc = part_mark(s, p, &pr);
	if (!rc)
		rc = part_fill(s, p, &pr);
	if (!rc)
		rc = store_commit(s);
	if (rc)
		store_rollback(s);
	detach(s, 0);
	return rc;
}

/* ---- merge ---- */

/* Reads which part of which split the part attached as 'q' is. */
static int merge_find(store *s, const char *dir, struct params *pr, store_merge_result *r, char model[65])
{
	sqlite3_stmt *st = store_sql(s,
		"SELECT sp.split_id, sp.part, sp.merged_at IS NOT NULL, sl.stage, sl.model_id, sl.out_dir, "
		"(SELECT uuid FROM q.workspace) FROM q.workspace w "
		"LEFT JOIN main.split_parts sp ON sp.uuid = w.uuid LEFT JOIN main.splits sl ON sl.id = sp.split_id");
	if (!st)
		return NATADV_EDB;
	int rc = 0, step = sqlite3_step(st);
	if (step != SQLITE_ROW)
		rc = step == SQLITE_DONE ? store_fail(s, NATADV_ENOTFOUND, "'%s' has no workspace uuid", dir)
		                         : store_dberr(s, "cannot read the part");
	else if (sqlite3_column_type(st, 0) == SQLITE_NULL)
		rc = store_fail(s, NATADV_ENOTFOUND, "'%s' (workspace %s) is not a part of this workspace", dir,
		                (const char *)sqlite3_column_text(st, 6));
	if (!rc) {
		pr->split = sqlite3_column_int64(st, 0);
		pr->part = sqlite3_column_int64(st, 1);
		r->already = sqlite3_column_int(st, 2);
		snprintf(r->stage, sizeof r->stage, "%s", (const char *)sqlite3_column_text(st, 3));
		snprintf(model, 65, "%s", sqlite3_column_text(st, 4) ? (const char *)sqlite3_column_text(st, 4) : "");
		const char *out = (const char *)sqlite3_column_text(st, 5);
		const char *base = strrchr(out, '/');
		snprintf(r->label, sizeof r->label, "%s/part-%04d", base ? base + 1 : out, (int)pr->part);
	}
	sqlite3_reset(st);
	return rc;
}

/* ---- merge: the blobs, linked on a thread of their own ---- */

/* One part's blobs to link: those of its images the workspace lacks. */
struct link_job {
	char from[4200];          /* the part's objects folder */
	char (*hex)[33];
	size_t n, cap;
	int rc;
	int64_t linked, copied;
	char err[1024];
	struct link_job *next;
};

/* The linking thread takes jobs in order while the merge's SQL goes on
 * (two cores); it sees only this struct and the jobs it is given. */
struct linker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct link_job *head, *tail;
	int closed, running;
	store *sink;              /* never opened: blob_move's messages only */
	const char *to;           /* the workspace's objects folder */
	int to_fd;                /* to, open (-1 if it cannot be) */
};

/* Links blob hex between the objects folders open as from and to, named
 * from there ("ab/cdef..."): 1 linked, 0 there already, -1 for blob_move
 * to do it (and say why it cannot). */
static int link_quick(int from, int to, const char *hex)
{
	if (from < 0 || to < 0 || !text_is_hex(hex, 32))
		return -1;
	char name[40];
	snprintf(name, sizeof name, "%.2s/%s", hex, hex + 2);
	if (linkat(from, name, to, name, 0) == 0)
		return 1;
	return errno == EEXIST ? 0 : -1;
}

/* Links job's blobs from job->from into the objects folder to (open as
 * to_fd); its counts, or its error. */
static void link_job_run(struct link_job *j, store *sink, const char *to, int to_fd)
{
	struct blob_scratch x;
	scratch_init(&x);
	int from_fd = open(j->from, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; !j->rc && i < j->n; i++) {
		int quick = link_quick(from_fd, to_fd, j->hex[i]);
		if (quick >= 0)
			x.linked += quick;
		else
			j->rc = blob_move(sink, j->from, to, j->hex[i], &x);
	}
	if (j->rc)
		snprintf(j->err, sizeof j->err, "%s", sink->msg);
	j->linked = x.linked;
	j->copied = x.copied;
	if (from_fd >= 0)
		close(from_fd);
	scratch_release(&x);
}

static void *linker_main(void *arg)
{
	struct linker *lk = arg;
	pthread_mutex_lock(&lk->mu);
	for (;;) {
		while (!lk->head && !lk->closed)
			pthread_cond_wait(&lk->cv, &lk->mu);
		struct link_job *j = lk->head;
		if (!j)
			break;
		lk->head = j->next;
		pthread_mutex_unlock(&lk->mu);
		link_job_run(j, lk->sink, lk->to, lk->to_fd);
		pthread_mutex_lock(&lk->mu);
	}
	pthread_mutex_unlock(&lk->mu);
	return NULL;
}

/* Starts the thread; without one (it cannot start) jobs run as given. */
static int linker_start(struct linker *lk, const char *to)
{
	memset(lk, 0, sizeof *lk);
	lk->to = to;
	if (!(lk->sink = calloc(1, sizeof *lk->sink)))
		return NATADV_ENOMEM;
	lk->to_fd = open(to, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	pthread_mutex_init(&lk->mu, NULL);
	pthread_cond_init(&lk->cv, NULL);
	lk->running = pthread_create(&lk->thread, NULL, linker_main, lk) == 0;
	return 0;
}

static void linker_add(struct linker *lk, struct link_job *j)
{
	if (!lk->running) {
		link_job_run(j, lk->sink, lk->to, lk->to_fd);
		return;
	}
	pthread_mutex_lock(&lk->mu);
	if (lk->tail && lk->head)
		lk->tail->next = j;
	else
		lk->head = j;
	lk->tail = j;
	pthread_cond_signal(&lk->cv);
	pthread_mutex_unlock(&lk->mu);
}

/* Waits until every job given is done; then ends the thread (once). */
static void linker_finish(struct linker *lk)
{
	if (!lk->sink)
		return;
	if (lk->running) {
		pthread_mutex_lock(&lk->mu);
		lk->closed = 1;
		pthread_cond_signal(&lk->cv);
		pthread_mutex_unlock(&lk->mu);
		pthread_join(lk->thread, NULL);
		lk->running = 0;
	}
	pthread_mutex_destroy(&lk->mu);
	pthread_cond_destroy(&lk->cv);
	if (lk->to_fd >= 0)
		close(lk->to_fd);
	free(lk->sink);
	lk->sink = NULL;
}

/* Lists into j the blobs of the images of the part attached as 'q' (at
 * dir) that s does not have. */
static int link_list(store *s, const char *dir, struct link_job *j)
{
	snprintf(j->from, sizeof j->from, "%s/objects", dir);
	sqlite3_stmt *st = store_sql(s, "SELECT hash FROM q.images pi WHERE NOT EXISTS "
	                                "(SELECT 1 FROM main.images i WHERE i.hash = pi.hash)");
	if (!st)
		return NATADV_EDB;
	int step, rc = 0;
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		if (j->n == j->cap) {
			size_t cap = j->cap ? 2 * j->cap : 1024;
			char(*hex)[33] = realloc(j->hex, cap * sizeof *hex);
			if (!hex) {
				rc = store_fail(s, NATADV_ENOMEM, "out of memory");
				break;
			}
			j->hex = hex;
			j->cap = cap;
		}
		snprintf(j->hex[j->n++], 33, "%s", (const char *)sqlite3_column_text(st, 0));
	}
	if (!rc && step != SQLITE_DONE)
		rc = store_dberr(s, "cannot read the part's images");
	sqlite3_reset(st);
	return rc;
}

/* Part k's runs and queries (few rows: part by part, in order), the map of
 * its queries, its offsets in temp.merge_parts (run ids move up by roff,
 * the workspace's last run before it; fetch ids by foff, *foff: the last
 * fetch id once the parts before it are in) and its merged_at. */
static int merge_part_first(store *s, struct params *pr, store_merge_result *r, int64_t *foff)
{
	pr->foff = *foff;
	*foff += pr->fmax;
	r->fetches = pr->nfetch;
	int rc = query_int(s, "SELECT coalesce(max(id), 0) FROM main.runs", pr, &pr->roff, "read runs");
	if (!rc)
		rc = run_sql(s,
			"INSERT INTO main.runs(id, command, args, version, pid, started_at, finished_at, status, host, "
			"slurm_job_id, slurm_array_job_id, slurm_array_task_id, part, part_run_id, merge_run_id, gemm_kernels) "
			"SELECT id + :roff, command, args, version, pid, started_at, finished_at, status, host, slurm_job_id, "
			"slurm_array_job_id, slurm_array_task_id, :label, id, :run, gemm_kernels FROM pv_runs WHERE k = :k "
			"ORDER BY id", pr, &r->runs, "merge runs");
	if (!rc)
		rc = run_sql(s, "INSERT INTO main.queries(source, query, wnid, issued_at, run_id) "
		                "SELECT source, query, wnid, issued_at, run_id + :roff FROM pv_queries WHERE k = :k "
		                "ON CONFLICT DO NOTHING", pr, NULL, "merge queries");
	if (!rc)
		rc = run_sql(s, "INSERT INTO temp.merge_queries(k, pid, wid) SELECT :k, pq.id, wq.id FROM pv_queries pq "
		                "JOIN main.queries wq ON wq.source = pq.source AND wq.query = pq.query AND wq.wnid IS pq.wnid "
		                "WHERE pq.k = :k", pr, NULL, "map queries");
	if (!rc)
		rc = run_sql(s, "INSERT INTO temp.merge_parts(k, roff, foff, fmax, split, part) VALUES(:k, :roff, :foff, "
		                ":fmax, :split, :part)", pr, NULL,
		             "list the parts");
	/* now, so that the same part listed again is taken as merged */
	if (!rc)
		rc = run_sql(s, "UPDATE main.split_parts SET merged_at = :now, merge_run_id = :run "
		                "WHERE split_id = :split AND part = :part", pr, NULL, "record the merge");
	return rc;
}

/* Part k's robots.txt fetches and scores (part by part: a part's scores
 * come before the next part's), then its work is no longer out. */
static int merge_part_last(store *s, const struct params *pr, store_merge_result *r)
{
	int rc = run_sql(s, "INSERT INTO main.robots_fetches(host, url, run_id, started_at, finished_at, "
	                    "fetched_unix, http_status, final_url, error, body, policy) SELECT host, url, "
	                    "run_id + :roff, started_at, finished_at, fetched_unix, http_status, final_url, error, "
	                    "body, policy FROM pv_robots_fetches WHERE k = :k ORDER BY id", pr, &r->robots,
	                 "merge robots.txt");
	if (!rc)
		rc = run_sql(s, "INSERT INTO main.scores(image_hash, model_id, status, error, logits, top5, pred_1k, "
		                "prob_1k, pred_subset_wnid, prob_subset, fast_decode, scored_at, run_id) "
		                "SELECT image_hash, model_id, status, error, logits, top5, pred_1k, prob_1k, "
		                "pred_subset_wnid, prob_subset, fast_decode, scored_at, run_id + :roff FROM pv_scores "
		                "WHERE k = :k AND model_id IN (SELECT id FROM main.models) ON CONFLICT DO NOTHING",
		             pr, &r->scores, "merge scores");
	/* Only the tags of the scores this merge brought (run ids above roff). */
	if (!rc)
		rc = run_sql(s, "INSERT INTO main.score_tags(image_hash, model_id, wnid, p_1k, p_subset) "
		                "SELECT t.image_hash, t.model_id, t.wnid, t.p_1k, t.p_subset FROM pv_score_tags t "
		                "JOIN main.scores c ON c.image_hash = t.image_hash AND c.model_id = t.model_id "
		                "WHERE t.k = :k AND c.run_id > :roff ON CONFLICT DO NOTHING", pr, NULL, "merge score tags");
	if (!rc)
		rc = run_sql(s, "DELETE FROM main.split_images WHERE split_id = :split AND part = :part", pr, NULL,
		             "record the merge");
	return rc;
}

/* Counts the rows of sql, which yields each row's part k: v[k] (k < n)
 * the rows of part k (a scan, where GROUP BY k would sort them). */
static int per_part(store *s, const char *sql, int64_t *v, size_t n, const char *what)
{
	sqlite3_stmt *st = store_sql(s, sql);
	if (!st)
		return NATADV_EDB;
	for (size_t i = 0; i < n; i++)
		v[i] = 0;
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t k = sqlite3_column_int64(st, 0);
		if (k >= 0 && (size_t)k < n)
			v[k]++;
	}
	sqlite3_reset(st);
	if (step != SQLITE_DONE)
		return cannot(s, what);
	return 0;
}

/* The url map of all the parts merged: a part's url (k, pid) is the
 * workspace's url of the same text. That is most often the url of the same
 * id (split hands urls out with their ids): then nothing is recorded.
 * temp.merge_urls holds the others, found by text; the urls the parts
 * added are inserted part by part, in order (the first part's row wins).
 * URL_ID(X) below is the workspace's id of row X's url (:mapped: some url
 * is in temp.merge_urls). */
#define URL_ID(t, c) \
	"CASE WHEN :mapped THEN coalesce((SELECT mu.wid FROM temp.merge_urls mu WHERE mu.k = " t ".k AND " \
	"mu.pid = " t "." c "), " t "." c ") ELSE " t "." c " END"
static int merge_url_map(store *s, struct params *pr, size_t n, const int *in, store_merge_result *r)
{
	int rc = run_sql(s, "INSERT INTO temp.merge_urls(k, pid, wid, url, host, state, attempts, next_attempt_at, "
	                    "last_error, image_hash, added_at, run_id) SELECT pu.k, pu.id, "
	                    "(SELECT w.id FROM main.urls w WHERE w.url = pu.url), pu.url, pu.host, pu.state, pu.attempts, "
	                    "pu.next_attempt_at, pu.last_error, pu.image_hash, pu.added_at, pu.run_id FROM pv_urls pu "
	                    "WHERE pu.k IN (SELECT k FROM temp.merge_parts) AND pu.wid IS NULL", pr, NULL, "map urls");
	for (size_t i = 0; !rc && i < n; i++) {
		if (!in[i])
			continue;
		rc = run_sql(s, "INSERT INTO main.urls(url, host, state, attempts, next_attempt_at, last_error, "
		                "image_hash, added_at, run_id) SELECT url, host, state, attempts, next_attempt_at, last_error, "
		                "image_hash, added_at, run_id + :roff FROM temp.merge_urls "
		                "WHERE k = :k AND wid IS NULL ORDER BY pid ON CONFLICT DO NOTHING",
		             &pr[i], &r[i].new_urls, "merge urls");
		if (!rc)
			rc = run_sql(s, "UPDATE temp.merge_urls AS mu SET wid = (SELECT w.id FROM main.urls w WHERE "
			                "w.url = mu.url) WHERE k = :k AND wid IS NULL",
			             &pr[i], NULL, "map urls");
	}
	int64_t mapped = 0;
	if (!rc)
		rc = query_int(s, "SELECT EXISTS (SELECT 1 FROM temp.merge_urls)", pr, &mapped, "map urls");
	for (size_t i = 0; i < n; i++)
		pr[i].mapped = mapped;
	return rc;
}

/* The part's outcome settles a url still pending here (the first part's,
 * when two parts hold it: the lower k wins a conflict); the settled urls go
 * into temp.merge_settle in id order (appended, not put in all over its
 * pages: 0.5 s to 0.4 s for 200,000 urls), then are written in id order,
 * each found by id. A url's id here is the one its part staged (wid), or
 * the one the url map found. */
static int merge_url_states(store *s, const struct params *pr, int64_t *v, size_t n)
{
	int rc = run_sql(s, "INSERT INTO temp.merge_settle(wid, k, state, attempts, next_attempt_at, last_error, "
	                    "image_hash) SELECT w.id, pu.k, pu.state, pu.attempts, pu.next_attempt_at, "
	                    "pu.last_error, pu.image_hash FROM pv_urls pu CROSS JOIN main.urls w ON w.id = "
	                    "coalesce(pu.wid, (SELECT mu.wid FROM temp.merge_urls mu WHERE mu.k = pu.k AND "
	                    "mu.pid = pu.id)) WHERE pu.k IN (SELECT k FROM temp.merge_parts) AND "
	                    "pu.state <> 'pending' AND w.state = 'pending' ORDER BY 1 ON CONFLICT(wid) DO UPDATE SET "
	                    "k = excluded.k, state = excluded.state, attempts = excluded.attempts, "
	                    "next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error, "
	                    "image_hash = excluded.image_hash WHERE excluded.k < k",
	                 pr, NULL, "merge url states");
	if (!rc)
		rc = run_sql(s, "UPDATE main.urls SET (state, attempts, next_attempt_at, last_error, image_hash) = "
		                "(SELECT x.state, x.attempts, x.next_attempt_at, x.last_error, x.image_hash "
		                "FROM temp.merge_settle x WHERE x.wid = urls.id) "
		                "WHERE id IN (SELECT wid FROM temp.merge_settle)", pr, NULL, "merge url states");
	if (!rc)
		rc = per_part(s, "SELECT k FROM temp.merge_settle", v, n, "count url states");
	return rc;
}

/* ---- merge: bulk index upkeep ---- */

/* The large tables a merge writes (or, split_urls, deletes from) in one
 * statement each: when it brings many rows, their secondary indexes are
 * dropped and built again (from sorted data, much faster than row by
 * row), inside its transaction. */
static const char *const bulk_tables[] = {"urls", "fetches", "image_tags", "split_urls"};
#define NBULK (sizeof bulk_tables / sizeof bulk_tables[0])

/* The statements of bulk index upkeep, a table's or an index's name put
 * in (%w: names, never values). */
static const char *const bulk_drop_fmt = "DROP INDEX main.\"%w\"";
static const char *const bulk_have_fmt = "SELECT count(*) FROM main.\"%w\"";

/* The policy: rebuild when the merge brings (or settles) more than a
 * quarter as many rows as the table holds. */
static int bulk_worth(int64_t rows_in, int64_t rows_have)
{
	return rows_in > 0 && 4 * rows_in > rows_have;
}

/* The indexes dropped: each one's name and its CREATE text as the
 * migration wrote it (sqlite_master's), to build it again from. */
struct bulk_indexes {
	char **name, **sql;
	size_t n, cap;
};

static void bulk_release(struct bulk_indexes *b)
{
	for (size_t i = 0; i < b->n; i++) {
		sqlite3_free(b->name[i]);
		sqlite3_free(b->sql[i]);
	}
	free(b->name);
	free(b->sql);
	memset(b, 0, sizeof *b);
}

/* Runs the SQL text sql (one statement, names only, no values). */
static int exec_text(store *s, const char *sql, const char *what)
{
	sqlite3_stmt *st = NULL;
	int ok = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE;
	int rc = ok ? 0 : store_fail(s, NATADV_EDB, "cannot %s: %s", what, sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	return rc;
}

/* Runs the one-row count query sql (text of its own, not cached): *v. */
static int count_text(store *s, const char *sql, int64_t *v)
{
	sqlite3_stmt *st = NULL;
	int ok = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW;
	*v = ok ? sqlite3_column_int64(st, 0) : 0;
	int rc = ok ? 0 : store_fail(s, NATADV_EDB, "cannot count rows: %s", sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	return rc;
}

/* Remembers then drops the secondary indexes of main's table. */
static int bulk_drop_table(store *s, const char *table, struct bulk_indexes *b)
{
	sqlite3_stmt *st = store_sql(s, "SELECT name, sql FROM main.sqlite_master WHERE type = 'index' "
	                                "AND tbl_name = ? AND sql IS NOT NULL ORDER BY name");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, table);
	size_t first = b->n;
	int step, rc = 0;
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		if (b->n == b->cap) {
			size_t cap = b->cap ? 2 * b->cap : 8;
			char **nm = realloc(b->name, cap * sizeof *nm), **sq = nm ? realloc(b->sql, cap * sizeof *sq) : NULL;
			if (nm)
				b->name = nm;
			if (sq)
				b->sql = sq;
			if (!nm || !sq) {
				rc = store_fail(s, NATADV_ENOMEM, "out of memory");
				break;
			}
			b->cap = cap;
		}
		b->name[b->n] = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 0));
		b->sql[b->n] = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 1));
		b->n++;
		if (!b->name[b->n - 1] || !b->sql[b->n - 1])
			rc = store_fail(s, NATADV_ENOMEM, "out of memory");
	}
	if (!rc && step != SQLITE_DONE)
		rc = store_dberr(s, "cannot read the indexes");
	sqlite3_reset(st);
	for (size_t i = first; !rc && i < b->n; i++) {
		char *sql = sqlite3_mprintf(bulk_drop_fmt, b->name[i]);
		rc = sql ? exec_text(s, sql, "drop an index") : store_fail(s, NATADV_ENOMEM, "out of memory");
		sqlite3_free(sql);
	}
	return rc;
}

/* Inside the merge's transaction, before its large statements: drops the
 * indexes of each large table the merge brings many rows to (bulk_worth),
 * remembered in b for bulk_rebuild. */
static int bulk_drop(store *s, struct bulk_indexes *b)
{
	int rc = 0;
	sqlite3_stmt *st = store_sql(s, "SELECT coalesce((SELECT n FROM temp.merge_staged_rows WHERE tbl = ?), 0)");
	if (!st)
		return NATADV_EDB;
	for (size_t i = 0; !rc && i < NBULK; i++) {
		int64_t in = 0, have = 0;
		store_bind_text(st, 1, bulk_tables[i]);
		if (sqlite3_step(st) == SQLITE_ROW)
			in = sqlite3_column_int64(st, 0);
		else
			rc = store_dberr(s, "cannot count rows");
		sqlite3_reset(st);
		char *q_have = sqlite3_mprintf(bulk_have_fmt, bulk_tables[i]);
		if (!rc && !q_have)
			rc = store_fail(s, NATADV_ENOMEM, "out of memory");
		if (!rc)
			rc = count_text(s, q_have, &have);
		sqlite3_free(q_have);
		if (!rc && bulk_worth(in, have))
			rc = bulk_drop_table(s, bulk_tables[i], b);
	}
	return rc;
}

/* Builds the indexes bulk_drop dropped again, from their own text. */
static int bulk_rebuild(store *s, struct bulk_indexes *b)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < b->n; i++)
		rc = exec_text(s, b->sql[i], "build an index again");
	return rc;
}

/* The images of the parts merged that the workspace lacks, in two steps;
 * v[i]: part i's new images. When two parts have an image, the first
 * part's row is in and the later one's conflicts.
 * 1. The images whose first fetch is one of their part's fetches (what a
 *    crawl part holds), in one statement in hash order: inserting in key
 *    order fills the table's pages one after another, where part after
 *    part (each in hash order) went back over every page 64 times (0.8 s of
 *    a 200,000-image merge, now 0.4 s). A new row's first_fetch_id (its
 *    part's fetch id moved up by the part's foff) is in its part's range
 *    (foff, foff + fmax], and says which part brought it.
 * 2. The others (no first fetch, or not one of the part's, as with score
 *    parts' images), part by part in order. */
static int merge_images(store *s, const struct params *pr, const int *in, int64_t *v, size_t n)
{
	sqlite3_stmt *st = store_sql(s,
		"INSERT INTO main.images(hash, sha256, bytes, format, width, height, phash, first_seen, first_fetch_id) "
		"SELECT i.hash, i.sha256, i.bytes, i.format, i.width, i.height, i.phash, i.first_seen, "
		"i.first_fetch_id + m.foff FROM pv_images i CROSS JOIN temp.merge_parts m ON m.k = i.k "
		"WHERE i.first_fetch_id BETWEEN 1 AND m.fmax ORDER BY i.hash, i.k ON CONFLICT DO NOTHING "
		"RETURNING first_fetch_id");
	if (!st)
		return NATADV_EDB;
	size_t *ins = malloc((n ? n : 1) * sizeof *ins), m = 0;
	if (!ins) {
		sqlite3_reset(st);
		return store_fail(s, NATADV_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		v[i] = 0;
		if (in[i])
			ins[m++] = i; /* fetch ranges rise with i */
	}
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		size_t lo = 0, hi = m; /* the last part merged whose range starts below id */
		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;
			if (pr[ins[mid]].foff < id)
				lo = mid;
			else
				hi = mid;
		}
		if (m && id > pr[ins[lo]].foff && id <= pr[ins[lo]].foff + pr[ins[lo]].fmax)
			v[ins[lo]]++;
	}
	free(ins);
	sqlite3_reset(st);
	if (step != SQLITE_DONE)
		return cannot(s, "merge images");
	int rc = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		int64_t more = 0;
		if (in[i])
			rc = run_sql(s, "INSERT INTO main.images(hash, sha256, bytes, format, width, height, phash, first_seen, "
			                "first_fetch_id) SELECT hash, sha256, bytes, format, width, height, phash, first_seen, "
			                "first_fetch_id + :foff FROM pv_images WHERE k = :k AND NOT coalesce(first_fetch_id "
			                "BETWEEN 1 AND :fmax, 0) ON CONFLICT DO NOTHING", &pr[i], &more, "merge images");
		v[i] += more;
	}
	return rc;
}

/* Images (one row each, the first part's, in hash order), fetches (in id
 * order), url and image tags (in key order) of all the parts merged, each
 * in one statement. */
static int merge_rows_all(store *s, const struct params *pr, const int *in, int64_t *v, size_t n)
{
	int rc = merge_images(s, pr, in, v, n);
	if (!rc)
		rc = run_sql(s, "INSERT INTO main.fetches(id, url_id, run_id, attempt, started_at, finished_at, "
		                "http_status, final_url, redirects, content_type, declared_length, received_length, "
		                "etag, last_modified, headers, outcome, error, image_hash) "
		                "SELECT f.id + m.foff, " URL_ID("f", "url_id") ", f.run_id + m.roff, f.attempt, "
		                "f.started_at, f.finished_at, f.http_status, f.final_url, f.redirects, f.content_type, "
		                "f.declared_length, f.received_length, f.etag, f.last_modified, f.headers, f.outcome, "
		                "f.error, f.image_hash FROM pv_fetches f CROSS JOIN temp.merge_parts m ON m.k = f.k",
		             pr, NULL, "merge fetches");
	if (!rc)
		rc = run_sql(s,
			"INSERT INTO main.url_tags(url_id, wnid, source, query_id, page_url, license, author, added_at, "
			"run_id, title, source_id, license_raw, seed_ref, attribution) SELECT " URL_ID("t", "url_id") ", "
			"t.wnid, t.source, (SELECT q.wid FROM temp.merge_queries q WHERE q.k = t.k AND q.pid = t.query_id), "
			"t.page_url, t.license, t.author, t.added_at, t.run_id + m.roff, t.title, t.source_id, "
			"t.license_raw, t.seed_ref, t.attribution FROM pv_url_tags t CROSS JOIN temp.merge_parts m "
			"ON m.k = t.k ORDER BY 1, 2, t.k ON CONFLICT DO NOTHING", pr, NULL, "merge url tags");
	if (!rc)
		rc = run_sql(s, "INSERT INTO main.image_tags(image_hash, wnid, url_id) SELECT t.image_hash, t.wnid, "
		                URL_ID("t", "url_id") " FROM pv_image_tags t WHERE t.k IN (SELECT k FROM temp.merge_parts) "
		                "ON CONFLICT DO NOTHING", pr, NULL, "merge image tags");
	return rc;
}

/* The merge runs with foreign keys off (checked row by row they were most
 * of its time). Each part is checked instead when staged: SQLite's own
 * foreign key check of the rows the merge brings, against the part's own
 * tables (fk_tables; of the url tags, only those its runs added, as the
 * rest are not merged), and the part's classes are the workspace's; the
 * merge then brings every image and run of the part, so what the rows
 * refer to is there. The url ids rows get are workspace urls' (URL_ID),
 * and score tags join their scores. */
static const char *const fk_tables[] = {"runs", "queries", "urls", "fetches", "image_tags", "robots_fetches",
                                        "scores", "score_tags"};
#define NFK_TABLES (sizeof fk_tables / sizeof fk_tables[0])

/* NATADV_EINVAL when a row of the part attached as 'q' (at dir) that a
 * merge brings refers to a row that is not there. */
static int stage_check_keys(store *s, const char *dir, const struct params *pr)
{
	int64_t bad = 0;
	int rc = query_int(s, "SELECT EXISTS (SELECT 1 FROM q.classes c WHERE NOT EXISTS "
	                      "(SELECT 1 FROM main.classes w WHERE w.wnid = c.wnid)) OR EXISTS (SELECT 1 FROM q.url_tags t "
	                      "WHERE t.run_id IS NOT NULL AND (NOT EXISTS (SELECT 1 FROM q.classes c WHERE c.wnid = t.wnid) "
	                      "OR NOT EXISTS (SELECT 1 FROM q.runs r WHERE r.id = t.run_id) OR (t.query_id IS NOT NULL AND "
	                      "NOT EXISTS (SELECT 1 FROM q.queries x WHERE x.id = t.query_id))))", pr, &bad,
	                   "check the part's classes");
	if (!rc && bad)
		return store_fail(s, NATADV_EINVAL, "'%s': its classes or url tags refer to rows that are not there "
		                  "(FOREIGN KEY constraint failed)", dir);
	for (size_t i = 0; !rc && i < NFK_TABLES; i++) {
		char *sql = sqlite3_mprintf("PRAGMA q.foreign_key_check(\"%w\")", fk_tables[i]);
		sqlite3_stmt *st = NULL;
		if (!sql)
			return store_fail(s, NATADV_ENOMEM, "out of memory");
		int step = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK ? sqlite3_step(st) : SQLITE_ERROR;
		if (step == SQLITE_ROW)
			rc = store_fail(s, NATADV_EINVAL, "'%s': some of its %s refer to rows that are not there "
			                "(FOREIGN KEY constraint failed)", dir, fk_tables[i]);
		else if (step != SQLITE_DONE)
			rc = store_dberr(s, "cannot check the part's rows");
		sqlite3_finalize(st);
		sqlite3_free(sql);
	}
	return rc;
}

/* The tables a merge stages from each part, with the column that orders
 * them; in the staging database 'p' each row gets its part's index k.
 * Those merged part by part are indexed on (k, column) ("k"); the large
 * ones, merged all the parts at once, are read in full, in staging order
 * (k, then the part's own order). Rows of a url ("u": column is the url
 * id) are staged only when the part has that url, as a join on it would. */
static const char *const staged[][4] = {
	{"workspace", "id", NULL, NULL}, {"runs", "id", "k", NULL}, {"queries", "id", "k", NULL},
	{"urls", "id", "k", "w"}, {"url_tags", "url_id", NULL, "t"}, {"fetches", "url_id", NULL, "u"},
	{"images", "hash", "k", NULL}, {"image_tags", "url_id", NULL, "u"}, {"robots_fetches", "id", "k", NULL},
	{"scores", "image_hash", "k", NULL}, {"score_tags", "image_hash", "k", NULL},
};
#define NSTAGED (sizeof staged / sizeof staged[0])

/* How a part's rows are staged, by kind (staged[i][3]): all of them; of
 * its urls ("u"); of its urls and added by its runs ("t": url tags with no
 * run are split's copies of the workspace's own, which a merge would not
 * change); with the workspace's id of the same url ("w", NULL when the
 * workspace has no url of that id and text, as it had none when staged:
 * a url keeps its id and text). */
static const char stage_kinds[] = "utw";
static const char *const stage_fmt[] = {
	"INSERT INTO p.\"%w\" SELECT ?1, * FROM q.\"%w\"",
	"INSERT INTO p.\"%w\" SELECT ?1, t.* FROM q.\"%w\" t WHERE EXISTS (SELECT 1 FROM q.urls u WHERE u.id = t.\"%w\")",
	"INSERT INTO p.\"%w\" SELECT ?1, t.* FROM q.\"%w\" t WHERE t.run_id IS NOT NULL AND EXISTS "
	"(SELECT 1 FROM q.urls u WHERE u.id = t.\"%w\")",
	"INSERT INTO p.\"%w\" SELECT ?1, t.*, (SELECT w.id FROM main.urls w WHERE w.id = t.id AND w.url = t.url) "
	"FROM q.\"%w\" t",
};

/* The index into stage_fmt of staged[i]'s kind. */
static size_t stage_kind(size_t i)
{
	const char *at = staged[i][3] ? strchr(stage_kinds, *staged[i][3]) : NULL;
	return at ? (size_t)(at - stage_kinds) + 1 : 0;
}

/* Runs fmt with the table and column of staged[i] (names, never values)
 * put in, as mprintf(fmt, table, table, column), and k bound to ?1 when it
 * has a parameter. */
static int exec_fmt(store *s, const char *fmt, size_t i, int64_t k)
{
	char *sql = sqlite3_mprintf(fmt, staged[i][0], staged[i][0], staged[i][1]);
	if (!sql)
		return store_fail(s, NATADV_ENOMEM, "out of memory");
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK ? 0 : NATADV_EDB;
	if (!rc && sqlite3_bind_parameter_count(st) > 0)
		sqlite3_bind_int64(st, 1, k);
	if (!rc && sqlite3_step(st) != SQLITE_DONE)
		rc = NATADV_EDB;
	if (rc)
		rc = store_fail(s, NATADV_EDB, "cannot stage a part's %s: %s", staged[i][0], sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	sqlite3_free(sql);
	return rc;
}

/* Copies the rows of the part attached as 'q' into the staging database,
 * as part k (cheap appends, whatever the rows' keys). */
static int stage_rows(store *s, int64_t k)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < NSTAGED; i++)
		rc = exec_fmt(s, staged[i][3] && *staged[i][3] == 'w'
		                     ? "CREATE TABLE IF NOT EXISTS p.\"%w\" AS SELECT 0 AS k, *, 0 AS wid FROM q.\"%w\" WHERE false"
		                     : "CREATE TABLE IF NOT EXISTS p.\"%w\" AS SELECT 0 AS k, * FROM q.\"%w\" WHERE false",
		              i, 0);
	for (size_t i = 0; !rc && i < NSTAGED; i++)
		rc = exec_fmt(s, stage_fmt[stage_kind(i)], i, k);
	return rc;
}

/* Checks the part at dir and, when it is to be merged, lists its new
 * blobs (job j) and stages its rows as part k (one read of it,
 * consistent). *ok says whether it was staged. */
static int stage_part(store *s, const char *dir, int64_t k, struct params *pr, char model[65],
                      store_merge_result *r, int *ok, struct link_job *j)
{
	*ok = 0;
	int rc = attach(s, dir, 1);
	if (rc)
		return rc;
	pr->model = model;
	rc = store_exec(s, "BEGIN");
	if (!rc)
		rc = merge_find(s, dir, pr, r, model);
	if (!rc && !r->already && !strcmp(r->stage, "crawl"))
		rc = query_int(s, "SELECT count(*) FROM q.urls WHERE state = 'pending'", pr, &r->unfinished,
		               "count the part's pending urls");
	else if (!rc && !r->already)
		rc = query_int(s, "SELECT count(*) FROM q.images i WHERE NOT EXISTS (SELECT 1 FROM q.scores c "
		                  "WHERE c.image_hash = i.hash AND c.model_id = :model)", pr, &r->unfinished,
		               "count the part's unscored images");
	if (!rc && !r->already && !r->unfinished) {
		rc = query_int(s, "SELECT count(*) FROM q.images", pr, &r->images, "count the part's images");
		if (!rc)
			rc = query_int(s, "SELECT count(*) FROM q.fetches", pr, &pr->nfetch, "count the part's fetches");
		if (!rc)
			rc = query_int(s, "SELECT coalesce(max(id), 0) FROM q.fetches", pr, &pr->fmax,
			               "read the part's fetches");
		if (!rc)
			rc = stage_check_keys(s, dir, pr);
		if (!rc)
			rc = link_list(s, dir, j);
		if (!rc)
			rc = stage_rows(s, k);
		if (!rc)
			rc = store_commit(s);
		*ok = !rc;
	}
	store_rollback(s);
	detach(s, 1);
	return rc;
}

/* Sets part i's failure: rc and the store's message. */
static void part_failed(store *s, store_merge_result *r, int rc)
{
	r->rc = rc;
	snprintf(r->err, sizeof r->err, "%s", store_errmsg(s));
}

/* The temporary tables of a merge's transaction, emptied. */
static int merge_temp_tables(store *s)
{
	return store_exec(s,
		"PRAGMA main.cache_size = -262144; PRAGMA temp.cache_size = -262144;"
		"CREATE TEMP TABLE IF NOT EXISTS merge_parts(k INTEGER PRIMARY KEY, roff INTEGER, foff INTEGER, "
		"fmax INTEGER, split INTEGER, part INTEGER);"
		"CREATE TEMP TABLE IF NOT EXISTS merge_queries(k INTEGER, pid INTEGER, wid INTEGER, "
		"PRIMARY KEY(k, pid)) WITHOUT ROWID;"
		"CREATE TEMP TABLE IF NOT EXISTS merge_urls(k INTEGER, pid INTEGER, wid INTEGER, url TEXT, host TEXT, "
		"state TEXT, attempts INTEGER, next_attempt_at REAL, last_error TEXT, image_hash TEXT, added_at TEXT, "
		"run_id INTEGER, PRIMARY KEY(k, pid)) WITHOUT ROWID;"
		"DELETE FROM temp.merge_parts; DELETE FROM temp.merge_queries; DELETE FROM temp.merge_urls;"
		"CREATE TEMP TABLE IF NOT EXISTS merge_settle(wid INTEGER PRIMARY KEY, k INTEGER, state TEXT, "
		"attempts INTEGER, next_attempt_at REAL, last_error TEXT, image_hash TEXT);"
		"DELETE FROM temp.merge_settle;");
}

/* Inside the merge's transaction, the staged parts (ok[i]) that no merge
 * took since they were staged (in[i] set): part by part what is small,
 * set-based (all the parts in one statement each) what is large. */
static int merge_all(store *s, size_t n, struct params *pr, const int *ok, int *in, store_merge_result *r)
{
	int64_t foff = 0, *v = calloc(n, sizeof *v), *w = calloc(n, sizeof *w);
	int rc = v && w ? merge_temp_tables(s) : store_fail(s, NATADV_ENOMEM, "out of memory");
	if (!rc)
		rc = query_int(s, "SELECT coalesce(max(id), 0) FROM main.fetches", pr, &foff, "read fetches");
	for (size_t i = 0; !rc && i < n; i++) {
		int64_t done = 0;
		if (ok[i])
			rc = query_int(s, "SELECT merged_at IS NOT NULL FROM main.split_parts WHERE split_id = :split "
			                  "AND part = :part", &pr[i], &done, "read the part");
		if (ok[i])
			r[i].already = (int)done;
		in[i] = ok[i] && !done;
		if (!rc && in[i])
			rc = merge_part_first(s, &pr[i], &r[i], &foff);
	}
	if (!rc)
		rc = merge_url_map(s, pr, n, in, r);
	/* the urls the merged parts hold no longer out: bulk_drop's measure */
	if (!rc)
		rc = run_sql(s, "INSERT INTO temp.merge_staged_rows(tbl, n) SELECT 'split_urls', coalesce(sum(sp.items), 0) "
		                "FROM main.split_parts sp JOIN temp.merge_parts m ON sp.split_id = m.split AND "
		                "sp.part = m.part WHERE true ON CONFLICT(tbl) DO UPDATE SET n = excluded.n", pr, NULL,
		             "count the urls out");
	struct bulk_indexes bulk = {0};
	if (!rc)
		rc = bulk_drop(s, &bulk);
	if (!rc)
		rc = merge_url_states(s, pr, v, n);
	if (!rc)
		rc = merge_rows_all(s, pr, in, w, n);
	if (!rc)
		rc = run_sql(s, "DELETE FROM main.split_urls WHERE (split_id, part) IN (SELECT split, part FROM "
		                "temp.merge_parts)", pr, NULL, "record the merge");
	if (!rc)
		rc = bulk_rebuild(s, &bulk);
	bulk_release(&bulk);
	for (size_t i = 0; !rc && i < n; i++) {
		if (in[i]) {
			r[i].urls = v[i];
			r[i].new_images = w[i];
			rc = merge_part_last(s, &pr[i], &r[i]);
		}
	}
	int64_t norun = 0;
	if (!rc)
		rc = query_int(s, "SELECT NOT EXISTS (SELECT 1 FROM main.runs WHERE id = :run)", pr, &norun, "read runs");
	if (!rc && norun)
		rc = store_fail(s, NATADV_EDB, "no run %lld to record the merge under (FOREIGN KEY constraint failed)",
		                (long long)pr[0].run);
	free(v);
	free(w);
	return rc;
}

/* Joins the linker and takes its counts; a staged part whose blobs could
 * not all be put in is left out (ok[i] = 0, r[i] says why). *linked: the
 * blobs put in. Returns how many parts it left out. */
static size_t links_done(struct linker *lk, struct link_job *jobs, size_t n, int *ok, store_merge_result *r,
                         int64_t *linked)
{
	linker_finish(lk);
	size_t out = 0;
	*linked = 0;
	for (size_t i = 0; i < n; i++) {
		r[i].blobs_linked = jobs[i].linked;
		r[i].blobs_copied = jobs[i].copied;
		*linked += jobs[i].linked + jobs[i].copied;
		if (jobs[i].rc && ok[i]) {
			ok[i] = 0;
			r[i].rc = jobs[i].rc;
			snprintf(r[i].err, sizeof r[i].err, "%s", jobs[i].err);
			r[i].runs = r[i].urls = r[i].new_urls = r[i].fetches = r[i].new_images = 0;
			out++;
		}
	}
	return out;
}

/* The staged parts (ok[i]) in one transaction, while their blobs are
 * linked; committed once every blob is in and synced. When some part's
 * blobs could not be linked, the transaction is rolled back and run again
 * without it. */
static int merge_staged(store *s, size_t n, struct params *pr, int *ok, store_merge_result *r, struct linker *lk,
                        struct link_job *jobs)
{
	int *in = calloc(n, sizeof *in);
	if (!in)
		return store_fail(s, NATADV_ENOMEM, "out of memory");
	/* Outside a transaction only; set back whatever happens. */
	int rc = store_exec(s, "PRAGMA foreign_keys = OFF");
	int64_t linked = 0;
	int again = 1;
	for (int round = 0; !rc && again && round < 2; round++) {
		rc = store_exec(s, "BEGIN");
		/* The first statement writes to main, so the write lock is main's only. */
		if (!rc)
			rc = store_exec(s, "UPDATE main.workspace SET id = id WHERE id = 1");
		if (!rc)
			rc = merge_all(s, n, pr, ok, in, r);
		again = round == 0 && links_done(lk, jobs, n, ok, r, &linked) > 0;
		/* Every new blob durable, in one sync, before rows refer to them. */
		if (!rc && !again && linked > 0 && blob_sync(s->objdir) != 0)
			rc = store_fail(s, NATADV_EIO, "cannot sync '%s'", s->objdir);
		if (!rc && !again)
			rc = store_commit(s);
		store_rollback(s);
	}
	sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
	for (size_t i = 0; rc && i < n; i++)
		if (ok[i])
			r[i].already = 0;
	free(in);
	return rc;
}

/* ---- merge: staging, on two threads ---- */

/* A stager stages parts [lo, hi) of a merge into the staging database 'p'
 * of its connection s: the merge's own, or one of its own on a thread.
 * The arrays are the merge's, indexed by part; a stager writes only its
 * parts' entries. */
struct stager {
	store *s;
	int own;                  /* s is the stager's own connection */
	const char *const *dirs;
	size_t lo, hi;
	struct params *pr;
	char (*models)[65];
	store_merge_result *r;
	int *ok;
	struct link_job *jobs;
	int64_t run, staged;
	const char *now;
	int rc;
	pthread_t thread;
	int started;
};

/* The staging databases: in memory when the parts' databases are small
 * enough (under 1 GiB in all), on two threads when there are two parts or
 * more; else one temporary file, staged by the merge's own connection. */
#define STAGE_MEMORY_MAX ((int64_t)1 << 30)

/* The size of the parts' databases in all, in bytes. */
static int64_t parts_size(const char *const *dirs, size_t n)
{
	int64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		char path[4200];
		struct stat sb;
		snprintf(path, sizeof path, "%s/natadv.db", dirs[i]);
		if (stat(path, &sb) == 0)
			total += sb.st_size;
		snprintf(path, sizeof path, "%s/natadv.db-wal", dirs[i]);
		if (stat(path, &sb) == 0)
			total += sb.st_size;
	}
	return total;
}

/* The block a staging database in memory starts with: cap bytes (about
 * what its parts' databases hold, so it is seldom grown and copied), in
 * 2 MiB pages where the kernel has them: one page fault per 2 MiB, not per
 * 4 KiB (a 200,000-image merge took 67,000 faults, not 94,000). Only the
 * pages written are ever backed. Owned by the caller (sqlite3_free). */
static unsigned char *stage_block(sqlite3_int64 cap)
{
	unsigned char *block = sqlite3_malloc64((sqlite3_uint64)cap);
#ifdef MADV_HUGEPAGE
	const uintptr_t huge = (uintptr_t)2 << 20;
	uintptr_t lo = ((uintptr_t)block + huge - 1) & ~(huge - 1), hi = ((uintptr_t)block + (uintptr_t)cap) & ~(huge - 1);
	if (block && hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE); /* advice: without it, 4 KiB pages */
#endif
	return block;
}

/* Attaches g's staging database 'p': a file when file, else in memory, as
 * one contiguous block (SQLite's memdb) of cap bytes to start with when
 * shared, for the merge's connection to read in place once staged
 * (stage_share). */
static int stage_attach(store *g, int file, int shared, sqlite3_int64 cap)
{
	if (file)
		return store_exec(g, "ATTACH DATABASE '' AS p; PRAGMA p.cache_size = -131072;");
	int rc = store_exec(g, "ATTACH DATABASE ':memory:' AS p");
	if (rc || !shared)
		return rc;
	unsigned char *block = stage_block(cap);
	if (!block || sqlite3_deserialize(g->db, "p", block, 0, cap,
	                                  SQLITE_DESERIALIZE_RESIZEABLE | SQLITE_DESERIALIZE_FREEONCLOSE) != SQLITE_OK)
		return store_dberr(g, "cannot make the staging database");
	sqlite3_int64 limit = (sqlite3_int64)4 << 30;
	sqlite3_file_control(g->db, "p", SQLITE_FCNTL_SIZE_LIMIT, &limit);
	return store_exec(g, "PRAGMA p.journal_mode = MEMORY");
}

/* Stages g's parts, then indexes what is merged part by part on (k, its
 * column). */
static void stage_range(struct stager *g)
{
	for (size_t i = g->lo; !g->rc && i < g->hi; i++) {
		g->pr[i] = (struct params){.run = g->run, .now = g->now, .label = g->r[i].label, .k = (int64_t)i};
		int prc = stage_part(g->s, g->dirs[i], (int64_t)i, &g->pr[i], g->models[i], &g->r[i], &g->ok[i],
		                     &g->jobs[i]);
		if (prc)
			part_failed(g->s, &g->r[i], prc);
		g->staged += g->ok[i];
	}
	for (size_t i = 0; !g->rc && g->staged && i < NSTAGED; i++)
		if (staged[i][2])
			g->rc = exec_fmt(g->s, "CREATE INDEX IF NOT EXISTS p.\"%w_k\" ON \"%w\"(k, \"%w\")", i, 0);
}

static void *stager_main(void *arg)
{
	stage_range(arg);
	return NULL;
}

/* Lets the merge's connection s read g's staging database in place, as
 * schema (read only; g keeps it until s detaches it). */
static int stage_share(store *s, store *g, const char *schema)
{
	sqlite3_int64 size = 0;
	unsigned char *data = sqlite3_serialize(g->db, "p", &size, SQLITE_SERIALIZE_NOCOPY);
	if (!data)
		return store_fail(s, NATADV_EDB, "cannot read a staging database");
	char *sql = sqlite3_mprintf("ATTACH DATABASE ':memory:' AS \"%w\"; PRAGMA \"%w\".mmap_size = %lld;", schema,
	                            schema, (long long)size);
	int rc = sql ? store_exec(s, sql) : store_fail(s, NATADV_ENOMEM, "out of memory");
	sqlite3_free(sql);
	if (!rc && sqlite3_deserialize(s->db, schema, data, size, size, SQLITE_DESERIALIZE_READONLY) != SQLITE_OK)
		rc = store_dberr(s, "cannot read a staging database");
	return rc;
}

/* The statements over the staging databases, a schema's or a table's
 * name put in (%w: names, never values). */
static const char *const stage_count_fmt = "SELECT count(*) FROM \"%w\".\"%w\"";
static const char *const view_create_fmt = "DROP VIEW IF EXISTS temp.\"pv_%w\"; CREATE TEMP VIEW \"pv_%w\" AS ";
static const char *const view_arm_fmt = "%s%sSELECT * FROM \"%w\".\"%w\"";
static const char *const view_drop_fmt = "DROP VIEW IF EXISTS temp.\"pv_%w\"";

/* Adds the rows of schema's table to temp.merge_staged_rows (a count of
 * the table's pages, not of its rows one by one). */
static int stage_count(store *s, const char *schema, const char *table)
{
	char *sql = sqlite3_mprintf(stage_count_fmt, schema, table);
	int64_t v = 0;
	int rc = sql ? count_text(s, sql, &v) : store_fail(s, NATADV_ENOMEM, "out of memory");
	sqlite3_free(sql);
	sqlite3_stmt *st = rc ? NULL : store_sql(s, "INSERT INTO temp.merge_staged_rows(tbl, n) VALUES(?1, ?2) "
	                                            "ON CONFLICT(tbl) DO UPDATE SET n = n + excluded.n");
	if (!rc && !st)
		return NATADV_EDB;
	if (st) {
		store_bind_text(st, 1, table);
		sqlite3_bind_int64(st, 2, v);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = store_dberr(s, "cannot count rows");
		sqlite3_reset(st);
	}
	return rc;
}

/* The views pv_<table> the merge reads: every staged table, over the
 * staging databases named (those of stagers that staged a part), and
 * the rows of each in temp.merge_staged_rows (bulk_drop's measure). */
static int stage_views(store *s, const char *const *schemas, size_t m)
{
	int rc = store_exec(s, "CREATE TEMP TABLE IF NOT EXISTS merge_staged_rows(tbl TEXT PRIMARY KEY, n INTEGER) "
	                       "WITHOUT ROWID; DELETE FROM temp.merge_staged_rows;");
	for (size_t i = 0; !rc && i < NSTAGED; i++) {
		char *sql = sqlite3_mprintf(view_create_fmt, staged[i][0], staged[i][0]);
		for (size_t j = 0; sql && j < m; j++) {
			char *more = sqlite3_mprintf(view_arm_fmt, sql, j ? " UNION ALL " : "", schemas[j], staged[i][0]);
			sqlite3_free(sql);
			sql = more;
		}
		rc = sql ? store_exec(s, sql) : store_fail(s, NATADV_ENOMEM, "out of memory");
		sqlite3_free(sql);
		for (size_t j = 0; !rc && j < m; j++)
			rc = stage_count(s, schemas[j], staged[i][0]);
	}
	return rc;
}

/* Drops the views and detaches the staging databases. */
static void stage_release(store *s)
{
	for (size_t i = 0; i < NSTAGED; i++) {
		char *sql = sqlite3_mprintf(view_drop_fmt, staged[i][0]);
		if (sql)
			sqlite3_exec(s->db, sql, NULL, NULL, NULL);
		sqlite3_free(sql);
	}
	sqlite3_exec(s->db, "DETACH DATABASE p", NULL, NULL, NULL);
	sqlite3_exec(s->db, "DETACH DATABASE p0", NULL, NULL, NULL);
	sqlite3_exec(s->db, "DETACH DATABASE p1", NULL, NULL, NULL);
}

#define NSTAGERS 2

/* Stages the parts: on two threads, each with its connection and its
 * staging database in memory, read in place as p0 and p1; or by s alone
 * into p. Then the views over them. *nstaged: the parts staged. */
static int stage_all(store *s, struct stager *g, size_t n, int64_t *nstaged)
{
	int64_t size = parts_size(g[0].dirs, n);
	int file = size >= STAGE_MEMORY_MAX;
	size_t m = !file && n >= NSTAGERS ? NSTAGERS : 1;
	sqlite3_int64 cap = size / (int64_t)m + ((sqlite3_int64)1 << 20);
	int rc = 0;
	for (size_t t = 1; t < NSTAGERS; t++)
		g[t] = g[0];
	for (size_t t = 0; t < m; t++) {
		g[t].lo = n * t / m;
		g[t].hi = n * (t + 1) / m;
		g[t].own = m > 1;
	}
	for (size_t t = 0; !rc && t < m; t++) {
		char err[1024];
		if (g[t].own && store_open(s->dir, &g[t].s, err, sizeof err))
			rc = store_fail(s, NATADV_EDB, "%s", err);
		if (!rc && (rc = stage_attach(g[t].s, file, g[t].own, cap)) != 0 && g[t].own)
			rc = store_fail(s, rc, "%s", store_errmsg(g[t].s));
	}
	for (size_t t = 1; !rc && t < m; t++)
		g[t].started = pthread_create(&g[t].thread, NULL, stager_main, &g[t]) == 0;
	if (!rc)
		stage_range(&g[0]);
	for (size_t t = 1; t < m; t++) {
		if (g[t].started)
			pthread_join(g[t].thread, NULL);
		else if (!rc)
			stage_range(&g[t]);
	}
	const char *names[NSTAGERS];
	size_t used = 0;
	*nstaged = 0;
	for (size_t t = 0; t < m; t++) {
		if (!rc && g[t].rc)
			rc = g[t].own ? store_fail(s, g[t].rc, "%s", store_errmsg(g[t].s)) : g[t].rc;
		*nstaged += g[t].staged;
		if (rc || !g[t].staged)
			continue;
		names[used] = m > 1 ? (t ? "p1" : "p0") : "p";
		if (m > 1)
			rc = stage_share(s, g[t].s, names[used]);
		used++;
	}
	if (!rc && used)
		rc = stage_views(s, names, used);
	return rc;
}

int store_parts_merge(store *s, int64_t run_id, const char *const *dirs, size_t n, store_merge_result *r)
{
	char now[32];
	time_iso(time_now(), now);
	struct params *pr = calloc(n ? n : 1, sizeof *pr);
	int *ok = calloc(n ? n : 1, sizeof *ok);
	char(*models)[65] = calloc(n ? n : 1, sizeof *models);
	struct link_job *jobs = calloc(n ? n : 1, sizeof *jobs);
	struct linker lk;
	int rc = pr && ok && models && jobs ? linker_start(&lk, s->objdir) : NATADV_ENOMEM;
	if (rc) {
		free(pr);
		free(ok);
		free(models);
		free(jobs);
		return store_fail(s, NATADV_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		memset(&r[i], 0, sizeof r[i]);
	struct stager g[NSTAGERS] = {{.s = s, .dirs = dirs, .pr = pr, .models = models, .r = r, .ok = ok,
	                              .jobs = jobs, .run = run_id, .now = now}};
	int64_t staged_n = 0, linked = 0;
	rc = stage_all(s, g, n, &staged_n);
	/* blobs linked once staged: during the staging the two cores are the
	 * stagers', during the merge's SQL one is free */
	for (size_t i = 0; i < n; i++)
		if (ok[i])
			linker_add(&lk, &jobs[i]);
	if (!rc && staged_n > 0)
		rc = merge_staged(s, n, pr, ok, r, &lk, jobs);
	else
		links_done(&lk, jobs, n, ok, r, &linked);
	for (size_t i = 0; rc && i < n; i++)
		if (ok[i] || (!r[i].rc && !r[i].already && !r[i].unfinished))
			part_failed(s, &r[i], rc);
	stage_release(s);
	for (size_t t = 0; t < NSTAGERS; t++)
		if (g[t].own)
			store_close(g[t].s);
	for (size_t i = 0; i < n; i++)
		free(jobs[i].hex);
	free(pr);
	free(ok);
	free(models);
	free(jobs);
	return rc;
}

int store_part_merge(store *s, int64_t run_id, const char *dir, store_merge_result *r)
{
	int rc = store_parts_merge(s, run_id, &dir, 1, r);
	if (!rc && r->rc)
		rc = store_fail(s, r->rc, "%s", r->err);
	return rc;
}
