/* rebuild.c — what `natadv rebuild` asks of the database: what became of
 * each re-fetched URL, and the selection, proposals and reviews that let an
 * export of the set reproduce the manifest's release (the class set it
 * names is compared or created in sets.c). */
#include "store_internal.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/timeutil.h"

int store_url_outcome_get(store *s, const char *url, store_url_outcome *o)
{
	memset(o, 0, sizeof *o);
	sqlite3_stmt *st = store_sql(s,
		"SELECT u.state, u.image_hash, u.last_error, "
		"(SELECT f.http_status FROM fetches f WHERE f.url_id = u.id ORDER BY f.id DESC LIMIT 1) "
		"FROM urls u WHERE u.url = ?");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, url);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(st, 0);
		const char *hash = (const char *)sqlite3_column_text(st, 1);
		const char *error = (const char *)sqlite3_column_text(st, 2);
		snprintf(o->state, sizeof o->state, "%s", state ? state : "");
		snprintf(o->image_hash, sizeof o->image_hash, "%s", hash ? hash : "");
		snprintf(o->error, sizeof o->error, "%s", error ? error : "");
		o->http_status = sqlite3_column_int(st, 3);
	} else if (step != SQLITE_DONE) {
		return store_dberr(s, "cannot read urls");
	}
	sqlite3_reset(st);
	return 0;
}

/* The selection in force for set if it is the one these params made. */
static int find_manifest_selection(store *s, const char *set, const char *params, int64_t *id)
{
	sqlite3_stmt *st = store_sql(s, "SELECT sel.id FROM current_selection cur "
	                                "JOIN selections sel ON sel.id = cur.selection_id "
	                                "WHERE cur.set_name = ? AND sel.rule = 'manifest' AND sel.params = ?");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, set);
	store_bind_text(st, 2, params);
	int step = sqlite3_step(st);
	*id = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return store_dberr(s, "cannot read selections");
	return 0;
}

int store_selection_from_manifest(store *s, int64_t run_id, const char *set, const char *params,
                                  const store_manifest_item *items, int n, const char *reviewer,
                                  int64_t *selection_id, int *created)
{
	*created = 0;
	int rc = find_manifest_selection(s, set, params, selection_id);
	if (rc || *selection_id)
		return rc;
	char now[32];
	time_iso(time_now(), now);
	/* Finished from the start (the caller's transaction hides it until it
	 * commits): the accepts below must be of the selection in force. */
	sqlite3_stmt *st = store_sql(s, "INSERT INTO selections(set_name, model_id, rule, params, created_at, run_id, "
	                                "finished_at) VALUES(?1, NULL, 'manifest', ?2, ?3, ?4, ?3)");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, set);
	store_bind_text(st, 2, params);
	store_bind_text(st, 3, now);
	sqlite3_bind_int64(st, 4, run_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot add selection");
	int64_t sel = sqlite3_last_insert_rowid(s->db);
	for (int i = 0; i < n; i++) {
		st = store_sql(s, "INSERT INTO proposals(selection_id, image_hash, wnid, pred_wnid, confidence, true_prob, "
		                  "status, source_wnid) VALUES(?, ?, ?, ?, ?, ?, 'proposed', ?)");
		if (!st)
			return NATADV_EDB;
		sqlite3_bind_int64(st, 1, sel);
		store_bind_text(st, 2, items[i].image_hash);
		store_bind_text(st, 3, items[i].wnid);
		store_bind_text(st, 4, items[i].pred_wnid);
		sqlite3_bind_double(st, 5, items[i].confidence);
		sqlite3_bind_double(st, 6, items[i].true_prob);
		store_bind_text(st, 7, items[i].source_wnid);
		if (sqlite3_step(st) != SQLITE_DONE)
			return store_dberr(s, "cannot add proposal");
		store_review r = {
			.proposal_id = sqlite3_last_insert_rowid(s->db),
			.decision = STORE_ACCEPT,
			.reason = items[i].reason,
			.reviewer = reviewer,
			.mode = "auto",
		};
		if ((rc = store_review_add(s, run_id, &r, NULL)) != 0)
			return rc;
	}
	st = store_sql(s, "UPDATE selections SET finished_at = ?, proposals = ?, near_duplicates = 0 WHERE id = ?");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, now);
	sqlite3_bind_int(st, 2, n);
	sqlite3_bind_int64(st, 3, sel);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot finish selection");
	*selection_id = sel;
	*created = 1;
	return 0;
}
