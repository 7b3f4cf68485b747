/* review.c — the append-only review log (table reviews): decisions on
 * proposals, undo rows, and the decision in force (view review_state). */
#include "store_internal.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/timeutil.h"

int store_review_add(store *s, int64_t run_id, const store_review *r, int64_t *review_id)
{
	int undo = strcmp(r->decision, "undo") == 0;
	if (!undo && strcmp(r->decision, "accept") && strcmp(r->decision, "reject"))
		return store_fail(s, NATADV_EINVAL, "unknown decision '%s'", r->decision);
	if (strcmp(r->mode, "cli") && strcmp(r->mode, "auto") && strcmp(r->mode, "web"))
		return store_fail(s, NATADV_EINVAL, "unknown review mode '%s'", r->mode);
	if (!r->reviewer || !r->reviewer[0])
		return store_fail(s, NATADV_EINVAL, "a review needs a reviewer name");
	sqlite3_stmt *st;
	if (undo) {
		/* The undone review must be in force: an accept/reject not yet undone. */
		st = store_sql(s, "SELECT r.decision FROM reviews r WHERE r.id = ? "
		                  "AND NOT EXISTS (SELECT 1 FROM reviews u WHERE u.undoes = r.id)");
		if (!st)
			return NATADV_EDB;
		sqlite3_bind_int64(st, 1, r->undoes);
		int step = sqlite3_step(st);
		if (step == SQLITE_DONE)
			return store_fail(s, NATADV_ENOTFOUND, "review %lld does not exist or is already undone",
			                  (long long)r->undoes);
		if (step != SQLITE_ROW)
			return store_dberr(s, "cannot read review");
		if (strcmp((const char *)sqlite3_column_text(st, 0), "undo") == 0) {
			sqlite3_reset(st);
			return store_fail(s, NATADV_EINVAL, "review %lld is an undo; undo the decision instead",
			                  (long long)r->undoes);
		}
		sqlite3_reset(st);
		st = store_sql(s, "INSERT INTO reviews(set_name, image_hash, wnid, proposal_id, decision, reason, "
		                  "reviewer, mode, undoes, at, run_id) "
		                  "SELECT set_name, image_hash, wnid, proposal_id, 'undo', ?, ?, ?, id, ?, ? "
		                  "FROM reviews WHERE id = ?");
		if (!st)
			return NATADV_EDB;
		char now[32];
		time_iso(time_now(), now);
		store_bind_text(st, 1, r->reason);
		store_bind_text(st, 2, r->reviewer);
		store_bind_text(st, 3, r->mode);
		store_bind_text(st, 4, now);
		if (run_id)
			sqlite3_bind_int64(st, 5, run_id);
		sqlite3_bind_int64(st, 6, r->undoes);
	} else {
		st = store_sql(s, "INSERT INTO reviews(set_name, image_hash, wnid, proposal_id, decision, reason, "
		                  "reviewer, mode, at, run_id) "
		                  "SELECT sel.set_name, p.image_hash, p.wnid, p.id, ?, ?, ?, ?, ?, ? "
		                  "FROM proposals p JOIN selections sel ON sel.id = p.selection_id WHERE p.id = ?");
		if (!st)
			return NATADV_EDB;
		char now[32];
		time_iso(time_now(), now);
		store_bind_text(st, 1, r->decision);
		store_bind_text(st, 2, r->reason);
		store_bind_text(st, 3, r->reviewer);
		store_bind_text(st, 4, r->mode);
		store_bind_text(st, 5, now);
		if (run_id)
			sqlite3_bind_int64(st, 6, run_id);
		sqlite3_bind_int64(st, 7, r->proposal_id);
	}
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot add review");
	if (sqlite3_changes(s->db) == 0)
		return store_fail(s, NATADV_ENOTFOUND, "proposal %lld does not exist", (long long)r->proposal_id);
	if (review_id)
		*review_id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int store_review_state(store *s, int64_t proposal_id, char decision[8], int64_t *review_id)
{
	sqlite3_stmt *st = store_sql(s,
		"SELECT rs.decision, rs.review_id FROM proposals p JOIN selections sel ON sel.id = p.selection_id "
		"LEFT JOIN review_state rs ON rs.set_name = sel.set_name AND rs.image_hash = p.image_hash "
		"AND rs.wnid = p.wnid WHERE p.id = ?");
	if (!st)
		return NATADV_EDB;
	sqlite3_bind_int64(st, 1, proposal_id);
	int step = sqlite3_step(st);
	if (step == SQLITE_DONE)
		return store_fail(s, NATADV_ENOTFOUND, "proposal %lld does not exist", (long long)proposal_id);
	if (step != SQLITE_ROW)
		return store_dberr(s, "cannot read review state");
	const char *d = (const char *)sqlite3_column_text(st, 0);
	snprintf(decision, 8, "%s", d ? d : "");
	if (review_id)
		*review_id = sqlite3_column_type(st, 1) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	return 0;
}
