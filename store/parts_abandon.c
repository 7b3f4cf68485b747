/* parts_abandon.c — giving up on a part: its reservation (split_urls or
 * split_images, rule 1 of parts.h) is released and the part forgotten, in
 * one transaction, so the parent's own crawl and score, and a new split,
 * take its work again. */
#include "store_internal.h"
#include "store/parts.h"

#include "common/err.h"

/* Deletes the rows of the part (split, part) from sql's table; adds how
 * many to *n. */
static int release(store *s, const char *sql, int64_t split, int64_t part, int64_t *n)
{
	sqlite3_stmt *st = store_sql(s, sql);
	if (!st)
		return NATADV_EDB;
	sqlite3_bind_int64(st, 1, split);
	sqlite3_bind_int64(st, 2, part);
	int step = sqlite3_step(st);
	sqlite3_reset(st);
	if (step != SQLITE_DONE)
		return store_dberr(s, "cannot release a part's work");
	*n += sqlite3_changes64(s->db);
	return 0;
}

/* Finds the part uuid; *found 0 when unknown, else its split, part and
 * whether it was merged. */
static int find(store *s, const char *uuid, int *found, int64_t *split, int64_t *part, int *merged)
{
	sqlite3_stmt *st = store_sql(s, "SELECT split_id, part, merged_at IS NOT NULL FROM split_parts WHERE uuid = ?");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, uuid);
	int step = sqlite3_step(st);
	*found = step == SQLITE_ROW;
	if (*found) {
		*split = sqlite3_column_int64(st, 0);
		*part = sqlite3_column_int64(st, 1);
		*merged = sqlite3_column_int(st, 2);
	}
	sqlite3_reset(st);
	return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : store_dberr(s, "cannot read the parts");
}

int store_part_abandon(store *s, const char *uuid, int64_t *released)
{
	*released = -1;
	int found = 0, merged = 0;
	int64_t split = 0, part = 0, n = 0;
	int rc = store_exec(s, "BEGIN IMMEDIATE");
	if (!rc)
		rc = find(s, uuid, &found, &split, &part, &merged);
	if (!rc && found && merged)
		rc = store_fail(s, NATADV_EEXIST, "it was merged already: its results are in this workspace");
	if (!rc && found)
		rc = release(s, "DELETE FROM split_urls WHERE split_id = ?1 AND part = ?2", split, part, &n);
	if (!rc && found)
		rc = release(s, "DELETE FROM split_images WHERE split_id = ?1 AND part = ?2", split, part, &n);
	if (!rc && found) {
		int64_t gone = 0;
		rc = release(s, "DELETE FROM split_parts WHERE split_id = ?1 AND part = ?2", split, part, &gone);
	}
	if (!rc)
		rc = store_commit(s);
	if (rc) {
		store_rollback(s);
		return rc;
	}
	if (found)
		*released = n;
	return 0;
}
