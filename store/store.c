/* store.c — opening, creating and migrating a workspace's database, and the
 * transaction helpers. Migrations are embedded SQL files applied in order,
 * each in one transaction, counted by PRAGMA user_version. */
#include "store_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/timeutil.h"
#include "store/embedded.h"

const struct embedded_file *embedded_find(const char *name)
{
	for (unsigned i = 0; i < natadv_embedded_count; i++)
		if (strcmp(natadv_embedded[i].name, name) == 0)
			return &natadv_embedded[i];
	return NULL;
}

int store_fail(store *s, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->msg, sizeof s->msg, fmt, ap);
	va_end(ap);
	return code;
}

int store_dberr(store *s, const char *what)
{
	return store_fail(s, NATADV_EDB, "%s: %s", what, sqlite3_errmsg(s->db));
}

sqlite3_stmt *store_stmt(store *s, int id, const char *sql)
{
	if (!s->stmts[id]) {
		if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
		                       &s->stmts[id], NULL) != SQLITE_OK) {
			store_dberr(s, "cannot prepare statement");
			return NULL;
		}
	}
	sqlite3_reset(s->stmts[id]);
	sqlite3_clear_bindings(s->stmts[id]);
	return s->stmts[id];
}

sqlite3_stmt *store_sql(store *s, const char *sql)
{
	int i;
	for (i = 0; i < s->nsqlc; i++)
		if (s->sqlc[i].sql == sql)
			break;
	if (i == s->nsqlc) {
		if (i == (int)(sizeof s->sqlc / sizeof s->sqlc[0])) {
			store_fail(s, NATADV_EDB, "too many cached statements");
			return NULL;
		}
		sqlite3_stmt *st;
		if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
			store_dberr(s, "cannot prepare statement");
			return NULL;
		}
		s->sqlc[i].sql = sql;
		s->sqlc[i].st = st;
		s->nsqlc++;
	}
	sqlite3_reset(s->sqlc[i].st);
	sqlite3_clear_bindings(s->sqlc[i].st);
	return s->sqlc[i].st;
}

void store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

int store_exec(store *s, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		store_fail(s, NATADV_EDB, "%s", msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return NATADV_EDB;
	}
	return 0;
}

int store_begin(store *s)
{
	return store_exec(s, "BEGIN IMMEDIATE");
}

int store_commit(store *s)
{
	return store_exec(s, "COMMIT");
}

void store_rollback(store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

const char *store_errmsg(const store *s)
{
	return s ? s->msg : "no store";
}

const char *store_dir(const store *s)
{
	return s->dir;
}

const char *store_objects_dir(const store *s)
{
	return s->objdir;
}

/* The integer a one-value PRAGMA (a literal) reads, or -1. */
static int pragma_int(store *s, const char *pragma)
{
	sqlite3_stmt *st = NULL;
	int v = -1;
	if (sqlite3_prepare_v2(s->db, pragma, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

int store_schema_version(store *s)
{
	return pragma_int(s, "PRAGMA user_version");
}

/* ---- class lists ---- */

/* Loads one embedded TSV class list into classes and class_set_members.
 * Columns: the set index, then (for subsets) the 1K index, wnid, names. */
static int load_class_set(store *s, const char *file, const char *set, int subset)
{
	const struct embedded_file *f = embedded_find(file);
	if (!f)
		return store_fail(s, NATADV_ENOTFOUND, "embedded file '%s' missing", file);
	char now[32];
	time_iso(time_now(), now);
	sqlite3_stmt *set_st = NULL, *cls = NULL, *mem = NULL;
	int rc = 0;
	if (sqlite3_prepare_v2(s->db, "INSERT INTO class_sets(name, version, created_at) VALUES(?, '1', ?)",
	                       -1, &set_st, NULL) ||
	    sqlite3_prepare_v2(s->db, "INSERT INTO classes(wnid, index_1k, names) VALUES(?, ?, ?) "
	                       "ON CONFLICT(wnid) DO NOTHING", -1, &cls, NULL) ||
	    sqlite3_prepare_v2(s->db, "INSERT INTO class_set_members(set_name, set_index, wnid) VALUES(?, ?, ?)",
	                       -1, &mem, NULL)) {
		rc = store_dberr(s, "cannot load class lists");
		goto out;
	}
	sqlite3_bind_text(set_st, 1, set, -1, SQLITE_STATIC);
	sqlite3_bind_text(set_st, 2, now, -1, SQLITE_STATIC);
	if (sqlite3_step(set_st) != SQLITE_DONE) {
		rc = store_dberr(s, "cannot add class set");
		goto out;
	}
	const char *p = (const char *)f->data, *end = p + f->len;
	int line = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		line++;
		char row[1024];
		size_t n = (size_t)(nl - p);
		if (n >= sizeof row) {
			rc = store_fail(s, NATADV_EFORMAT, "'%s' line %d: too long", file, line);
			goto out;
		}
		memcpy(row, p, n);
		row[n] = '\0';
		p = nl + 1;
		if (line == 1 || n == 0)
			continue; /* header */
		char *fields[4] = {0};
		int nf = 0;
		char *q = row;
		while (nf < 4) {
			fields[nf++] = q;
			char *tab = strchr(q, '\t');
			if (!tab)
				break;
			*tab = '\0';
			q = tab + 1;
		}
		int want = subset ? 4 : 3;
		if (nf != want) {
			rc = store_fail(s, NATADV_EFORMAT, "'%s' line %d: expected %d columns", file, line, want);
			goto out;
		}
		long set_index = strtol(fields[0], NULL, 10);
		long index_1k = subset ? strtol(fields[1], NULL, 10) : set_index;
		const char *wnid = fields[subset ? 2 : 1], *names = fields[subset ? 3 : 2];
		sqlite3_reset(cls);
		sqlite3_bind_text(cls, 1, wnid, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(cls, 2, index_1k);
		sqlite3_bind_text(cls, 3, names, -1, SQLITE_TRANSIENT);
		sqlite3_reset(mem);
		sqlite3_bind_text(mem, 1, set, -1, SQLITE_STATIC);
		sqlite3_bind_int64(mem, 2, set_index);
		sqlite3_bind_text(mem, 3, wnid, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(cls) != SQLITE_DONE || sqlite3_step(mem) != SQLITE_DONE) {
			rc = store_dberr(s, "cannot load class lists");
			goto out;
		}
	}
out:
	sqlite3_finalize(set_st);
	sqlite3_finalize(cls);
	sqlite3_finalize(mem);
	return rc;
}

static int migrate_1_data(store *s)
{
	int rc = load_class_set(s, "schema/imagenet1k_classes.tsv", "imagenet-1k", 0);
	if (!rc)
		rc = load_class_set(s, "schema/imagenet_a_classes.tsv", "imagenet-a", 1);
	if (!rc)
		rc = load_class_set(s, "schema/imagenet_o_classes.tsv", "imagenet-o", 1);
	return rc;
}

/* Migration 11: each table's CHECK(x IN (...)) as the same rule written
 * as comparisons (see schema/011_check_lists.sql): its text replaced in
 * the schema, the schema's version moved on so that every connection
 * reads it again (this one at once: RESET). A workspace whose text
 * differs keeps its own. */
static const char *const check_rewrites[][3] = {
	{"urls", "CHECK(state IN ('pending', 'fetched', 'failed', 'opted_out'))",
	 "CHECK(state = 'pending' OR state = 'fetched' OR state = 'failed' OR state = 'opted_out')"},
	{"scores", "CHECK(status IN ('scored', 'unscorable'))", "CHECK(status = 'scored' OR status = 'unscorable')"},
};

static int migrate_11_data(store *s)
{
	sqlite3_stmt *st = NULL;
	int version = pragma_int(s, "PRAGMA schema_version");
	int rc = version < 0 ? store_dberr(s, "cannot read the schema version") : store_exec(s, "PRAGMA writable_schema = ON");
	if (!rc && sqlite3_prepare_v2(s->db, "UPDATE sqlite_master SET sql = replace(sql, ?2, ?3) "
	                                     "WHERE type = 'table' AND name = ?1", -1, &st, NULL) != SQLITE_OK)
		rc = store_dberr(s, "cannot rewrite a CHECK constraint");
	for (size_t i = 0; !rc && i < sizeof check_rewrites / sizeof check_rewrites[0]; i++) {
		for (int c = 0; c < 3; c++)
			sqlite3_bind_text(st, c + 1, check_rewrites[i][c], -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = store_dberr(s, "cannot rewrite a CHECK constraint");
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (!rc) {
		char pragma[64];
		snprintf(pragma, sizeof pragma, "PRAGMA schema_version = %d", version + 1);
		rc = store_exec(s, pragma);
	}
	/* RESET: off, and this connection reads the schema again */
	sqlite3_exec(s->db, "PRAGMA writable_schema = RESET", NULL, NULL, NULL);
	return rc;
}

struct migration {
	const char *sql_file;
	int (*data)(store *s);
};

static const struct migration migrations[] = {
	{"schema/001_init.sql", migrate_1_data},
	{"schema/002_models.sql", NULL},
	{"schema/003_frontier_due.sql", NULL},
	{"schema/004_select_review_release.sql", NULL},
	{"schema/005_discover.sql", NULL},
	{"schema/006_attribution.sql", NULL},
	{"schema/007_ood.sql", NULL},
	{"schema/008_parts.sql", NULL},
	{"schema/009_kernels.sql", NULL},
	{"schema/010_report.sql", NULL},
	{"schema/011_check_lists.sql", migrate_11_data},
};

int store_schema_latest(void)
{
	return (int)(sizeof migrations / sizeof migrations[0]);
}

static int migrate(store *s)
{
	int have = store_schema_version(s);
	int latest = store_schema_latest();
	if (have < 0)
		return store_dberr(s, "cannot read schema version");
	if (have > latest)
		return store_fail(s, NATADV_ESCHEMA, "database schema version %d is newer than this natadv (%d)",
		                  have, latest);
	for (int v = have + 1; v <= latest; v++) {
		const struct migration *m = &migrations[v - 1];
		const struct embedded_file *f = embedded_find(m->sql_file);
		if (!f)
			return store_fail(s, NATADV_ENOTFOUND, "embedded file '%s' missing", m->sql_file);
		int rc = store_begin(s);
		if (rc)
			return rc;
		rc = store_exec(s, (const char *)f->data);
		if (!rc && m->data)
			rc = m->data(s);
		if (!rc) {
			char pragma[64];
			snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v);
			rc = store_exec(s, pragma);
		}
		if (!rc)
			rc = store_commit(s);
		if (rc) {
			char keep[sizeof s->msg];
			snprintf(keep, sizeof keep, "%s", s->msg);
			store_rollback(s);
			return store_fail(s, rc, "migration %d ('%s') failed: %s", v, m->sql_file, keep);
		}
	}
	return 0;
}

/* create: 0 open, 1 create on disk, 2 in memory (class lists only). */
static int open_db(const char *dir, int create, store **out, char *err, size_t errlen)
{
	*out = NULL;
	store *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	snprintf(s->dir, sizeof s->dir, "%s", dir);
	snprintf(s->objdir, sizeof s->objdir, "%s/objects", dir);
	char path[4200];
	snprintf(path, sizeof path, "%s/natadv.db", dir);
	int rc = 0;
	struct stat sb;
	if (create == 2)
		snprintf(path, sizeof path, ":memory:");
	if (!create && stat(path, &sb) != 0) {
		snprintf(err, errlen, "no natadv workspace at '%s' (run 'natadv init')", dir);
		free(s);
		return NATADV_ENOTFOUND;
	}
	if (create == 1) {
		char tmp[4200], models[4200];
		snprintf(tmp, sizeof tmp, "%s/tmp", s->objdir);
		snprintf(models, sizeof models, "%s/models", dir);
		if ((mkdir(dir, 0777) && errno != EEXIST) || (mkdir(s->objdir, 0777) && errno != EEXIST) ||
		    (mkdir(tmp, 0777) && errno != EEXIST) || (mkdir(models, 0777) && errno != EEXIST)) {
			snprintf(err, errlen, "cannot create workspace '%s': %s", dir, strerror(errno));
			free(s);
			return NATADV_EIO;
		}
	}
	int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open '%s': %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
		store_close(s);
		return NATADV_EDB;
	}
	sqlite3_busy_timeout(s->db, 10000);
	/* A new workspace's pages are 16 KB: a merge or a crawl batch writes a
	 * fourth as many pages (WAL frames, each its own write) as at 4 KB.
	 * Statement journals and temporary tables stay in memory (temp_store):
	 * SQLite writes a statement journal past 64 KiB, four such pages, to a
	 * file in /var/tmp: at 16 KB a crawl's commits made 4.6x the writes. */
	rc = store_exec(s, create == 1 ? "PRAGMA page_size = 16384" : "SELECT 1");
	if (!rc)
		rc = store_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
		                   "PRAGMA temp_store=MEMORY;");
	if (!rc)
		rc = migrate(s);
	if (rc) {
		snprintf(err, errlen, "cannot open workspace '%s': %s", dir, s->msg);
		store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

int store_create(const char *dir, store **out, char *err, size_t errlen)
{
	return open_db(dir, 1, out, err, errlen);
}

int store_open(const char *dir, store **out, char *err, size_t errlen)
{
	return open_db(dir, 0, out, err, errlen);
}

int store_open_memory(store **out, char *err, size_t errlen)
{
	return open_db("(memory)", 2, out, err, errlen);
}

void store_close(store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < sizeof s->stmts / sizeof s->stmts[0]; i++)
		sqlite3_finalize(s->stmts[i]);
	for (int i = 0; i < s->nsqlc; i++)
		sqlite3_finalize(s->sqlc[i].st);
	if (s->db)
		sqlite3_close(s->db);
	free(s);
}

int store_integrity_check(store *s)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
		return store_dberr(s, "integrity check");
	if (sqlite3_step(st) != SQLITE_ROW)
		rc = store_dberr(s, "integrity check");
	else if (strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0)
		rc = store_fail(s, NATADV_EDB, "integrity check: %s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return rc;
}

/* ---- runs ---- */

/* Binds environment variable name's value, or NULL when unset or empty. */
static void bind_env(sqlite3_stmt *st, int i, const char *name)
{
	const char *v = getenv(name);
	store_bind_text(st, i, v && *v ? v : NULL);
}

int store_run_begin(store *s, const char *command, const char *args, int64_t *run_id)
{
	sqlite3_stmt *st = store_stmt(s, ST_RUN_BEGIN,
		"INSERT INTO runs(command, args, version, pid, started_at, host, slurm_job_id, slurm_array_job_id, "
		"slurm_array_task_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		return NATADV_EDB;
	char now[32], host[256];
	time_iso(time_now(), now);
	if (gethostname(host, sizeof host) != 0)
		host[0] = '\0';
	host[sizeof host - 1] = '\0';
	store_bind_text(st, 1, command);
	store_bind_text(st, 2, args);
	store_bind_text(st, 3, NATADV_VERSION);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)getpid());
	store_bind_text(st, 5, now);
	store_bind_text(st, 6, host[0] ? host : NULL);
	/* Where a scheduler ran it: an audit of a merged part names the job. */
	bind_env(st, 7, "SLURM_JOB_ID");
	bind_env(st, 8, "SLURM_ARRAY_JOB_ID");
	bind_env(st, 9, "SLURM_ARRAY_TASK_ID");
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot record run");
	*run_id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int store_run_end(store *s, int64_t run_id, int status)
{
	sqlite3_stmt *st = store_stmt(s, ST_RUN_END,
		"UPDATE runs SET finished_at = ?, status = ? WHERE id = ?");
	if (!st)
		return NATADV_EDB;
	char now[32];
	time_iso(time_now(), now);
	store_bind_text(st, 1, now);
	sqlite3_bind_int(st, 2, status);
	sqlite3_bind_int64(st, 3, run_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot record end of run");
	return 0;
}

int store_run_set_kernels(store *s, int64_t run_id, const char *kernels)
{
	sqlite3_stmt *st = store_stmt(s, ST_RUN_KERNELS, "UPDATE runs SET gemm_kernels = ? WHERE id = ?");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, kernels);
	sqlite3_bind_int64(st, 2, run_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot record the run's kernels");
	return 0;
}

/* ---- classes ---- */

int store_set_exists(store *s, const char *set)
{
	sqlite3_stmt *st = store_stmt(s, ST_SET_EXISTS, "SELECT 1 FROM class_sets WHERE name = ?");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, set);
	int step = sqlite3_step(st);
	sqlite3_reset(st);
	if (step == SQLITE_DONE)
		return store_fail(s, NATADV_ENOTFOUND, "no class set '%s' (see 'natadv classes --sets')", set);
	if (step != SQLITE_ROW)
		return store_dberr(s, "cannot read class sets");
	return 0;
}

int store_classes_each(store *s, const char *set,
                       int (*cb)(void *ctx, const store_class *c), void *ctx)
{
	if (!set)
		set = "imagenet-1k";
	int step = store_set_exists(s, set);
	if (step)
		return step;
	sqlite3_stmt *st = store_stmt(s, ST_CLASSES_EACH,
		"SELECT m.set_index, c.wnid, c.names, coalesce(c.index_1k, -1) FROM class_set_members m "
		"JOIN classes c ON c.wnid = m.wnid WHERE m.set_name = ? ORDER BY m.set_index");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, set);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		store_class c = {
			.index = sqlite3_column_int64(st, 0),
			.wnid = (const char *)sqlite3_column_text(st, 1),
			.names = (const char *)sqlite3_column_text(st, 2),
			.index_1k = sqlite3_column_int64(st, 3),
		};
		int r = cb(ctx, &c);
		if (r) {
			sqlite3_reset(st);
			return r;
		}
	}
	if (step != SQLITE_DONE)
		return store_dberr(s, "cannot read classes");
	return 0;
}

int store_class_known(store *s, const char *wnid)
{
	sqlite3_stmt *st = store_stmt(s, ST_CLASS_KNOWN, "SELECT 1 FROM classes WHERE wnid = ?");
	if (!st)
		return -NATADV_EDB;
	store_bind_text(st, 1, wnid);
	int step = sqlite3_step(st);
	sqlite3_reset(st); /* an open statement would pin the WAL with a read snapshot */
	if (step == SQLITE_ROW)
		return 1;
	if (step == SQLITE_DONE)
		return 0;
	store_dberr(s, "cannot read classes");
	return -NATADV_EDB;
}
