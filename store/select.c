/* select.c — the queries of `natadv select` and `natadv review`: a set's
 * tags with a model's stored logits, recording a selection with its
 * proposals in one transaction and the selection in force (the proposals
 * with their decisions are listed by review_list.c). */
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/timeutil.h"

/* Copies a logits blob into an aligned float buffer grown as needed. */
static int copy_logits(store *s, const void *blob, int bytes, float **out, int *cap, int *n)
{
	if (bytes % (int)sizeof(float))
		return store_fail(s, NATADV_EFORMAT, "stored logits of %d bytes are not whole floats", bytes);
	*n = bytes / (int)sizeof(float);
	if (*n > *cap) {
		float *grown = realloc(*out, sizeof(float) * (size_t)*n);
		if (!grown)
			return store_fail(s, NATADV_ENOMEM, "out of memory");
		*out = grown;
		*cap = *n;
	}
	if (bytes)
		memcpy(*out, blob, (size_t)bytes);
	return 0;
}

int store_set_tag_scores(store *s, const char *set, const char *model_id,
                         int (*cb)(void *ctx, const store_tag_score *t), void *ctx)
{
	/* Members by wnid, then the wnid index of image_tags: rows come out in
	 * (wnid, image) order without a sort (which would copy every logits blob);
	 * an image tagged through several URLs repeats and is skipped here. */
	sqlite3_stmt *st = store_sql(s,
		"SELECT t.image_hash, t.wnid, i.phash, sc.status, sc.logits "
		"FROM class_set_members m JOIN image_tags t ON t.wnid = m.wnid "
		"JOIN images i ON i.hash = t.image_hash "
		"LEFT JOIN scores sc ON sc.image_hash = t.image_hash AND sc.model_id = ?2 "
		"WHERE m.set_name = ?1 ORDER BY m.wnid, t.image_hash");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, set);
	store_bind_text(st, 2, model_id);
	float *logits = NULL;
	int cap = 0, rc = 0, step;
	char last[80] = "";
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		store_tag_score t = {
			.image_hash = (const char *)sqlite3_column_text(st, 0),
			.wnid = (const char *)sqlite3_column_text(st, 1),
			.phash = (uint64_t)sqlite3_column_int64(st, 2),
			.status = (const char *)sqlite3_column_text(st, 3),
		};
		char key[80];
		snprintf(key, sizeof key, "%s %s", t.wnid, t.image_hash);
		if (!strcmp(key, last))
			continue;
		memcpy(last, key, sizeof last);
		if (t.status && strcmp(t.status, "scored") == 0) {
			const void *blob = sqlite3_column_blob(st, 4);
			rc = copy_logits(s, blob, sqlite3_column_bytes(st, 4), &logits, &cap, &t.nlogits);
			if (rc)
				break;
			t.logits = logits;
		}
		rc = cb(ctx, &t);
		if (rc)
			break;
	}
	if (!rc && step != SQLITE_DONE)
		rc = store_dberr(s, "cannot read tags and scores");
	sqlite3_reset(st);
	free(logits);
	return rc;
}

int store_score_logits(store *s, const char *image_hash, const char *model_id, float *out, int n)
{
	sqlite3_stmt *st = store_sql(s,
		"SELECT logits FROM scores WHERE image_hash = ? AND model_id = ? AND status = 'scored'");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, image_hash);
	store_bind_text(st, 2, model_id);
	int step = sqlite3_step(st), rc = 0;
	if (step == SQLITE_DONE)
		rc = store_fail(s, NATADV_ENOTFOUND, "model '%.12s' has not scored image '%s'", model_id, image_hash);
	else if (step != SQLITE_ROW)
		rc = store_dberr(s, "cannot read scores");
	else if (sqlite3_column_bytes(st, 0) != (int)sizeof(float) * n)
		rc = store_fail(s, NATADV_EFORMAT, "stored logits of image '%s' are %d bytes, expected %d floats",
		                image_hash, sqlite3_column_bytes(st, 0), n);
	else
		memcpy(out, sqlite3_column_blob(st, 0), sizeof(float) * (size_t)n);
	sqlite3_reset(st);
	return rc;
}

/* Inserts one proposal; *id gets its row id. */
static int insert_proposal(store *s, int64_t selection_id, const store_proposal_new *p, int64_t dup_id,
                           int64_t *id)
{
	sqlite3_stmt *st = store_sql(s,
		"INSERT INTO proposals(selection_id, image_hash, wnid, pred_wnid, confidence, true_prob, status, "
		"duplicate_of, distance, source_wnid) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		return NATADV_EDB;
	sqlite3_bind_int64(st, 1, selection_id);
	store_bind_text(st, 2, p->image_hash);
	store_bind_text(st, 3, p->wnid);
	store_bind_text(st, 4, p->pred_wnid);
	sqlite3_bind_double(st, 5, p->confidence);
	sqlite3_bind_double(st, 6, p->true_prob);
	store_bind_text(st, 7, dup_id ? "near_duplicate" : "proposed");
	if (dup_id) {
		sqlite3_bind_int64(st, 8, dup_id);
		sqlite3_bind_int(st, 9, p->distance);
	}
	store_bind_text(st, 10, p->source_wnid);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot record proposal");
	*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int store_selection_add(store *s, const store_selection *sel, const store_proposal_new *p, size_t n,
                        int64_t *selection_id)
{
	int64_t *ids = calloc(n ? n : 1, sizeof *ids);
	if (!ids)
		return store_fail(s, NATADV_ENOMEM, "out of memory");
	int rc = store_begin(s);
	if (rc)
		goto out;
	char now[32];
	time_iso(time_now(), now);
	sqlite3_stmt *st = store_sql(s,
		"INSERT INTO selections(set_name, model_id, also_model_ids, rule, params, created_at, run_id) "
		"VALUES(?, ?, ?, ?, ?, ?, ?)");
	if (!st) {
		rc = NATADV_EDB;
		goto out;
	}
	store_bind_text(st, 1, sel->set_name);
	store_bind_text(st, 2, sel->model_id);
	store_bind_text(st, 3, sel->also_model_ids ? sel->also_model_ids : "[]");
	store_bind_text(st, 4, sel->rule);
	store_bind_text(st, 5, sel->params);
	store_bind_text(st, 6, now);
	if (sel->run_id)
		sqlite3_bind_int64(st, 7, sel->run_id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = store_dberr(s, "cannot record selection");
		goto out;
	}
	int64_t id = sqlite3_last_insert_rowid(s->db);
	int64_t kept = 0, dups = 0;
	/* Kept proposals first, so that each duplicate can name its kept one. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			int dup = p[i].dup_of >= 0;
			if (dup != pass)
				continue;
			if (dup && (p[i].dup_of >= (long)n || p[p[i].dup_of].dup_of >= 0)) {
				rc = store_fail(s, NATADV_EINVAL, "proposal %zu names %ld, which is not kept", i, p[i].dup_of);
				goto out;
			}
			if ((rc = insert_proposal(s, id, &p[i], dup ? ids[p[i].dup_of] : 0, &ids[i])) != 0)
				goto out;
			if (dup)
				dups++;
			else
				kept++;
		}
	}
	time_iso(time_now(), now);
	st = store_sql(s, "UPDATE selections SET finished_at = ?, proposals = ?, near_duplicates = ? WHERE id = ?");
	if (!st) {
		rc = NATADV_EDB;
		goto out;
	}
	store_bind_text(st, 1, now);
	sqlite3_bind_int64(st, 2, kept);
	sqlite3_bind_int64(st, 3, dups);
	sqlite3_bind_int64(st, 4, id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = store_dberr(s, "cannot finish selection");
		goto out;
	}
	if ((rc = store_commit(s)) != 0)
		goto out;
	if (selection_id)
		*selection_id = id;
out:
	if (rc)
		store_rollback(s);
	free(ids);
	return rc;
}

int store_selection_current(store *s, const char *set, int64_t *id)
{
	sqlite3_stmt *st = store_sql(s, "SELECT selection_id FROM current_selection WHERE set_name = ?");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, set);
	int step = sqlite3_step(st), rc = 0;
	if (step == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else if (step == SQLITE_DONE)
		rc = store_fail(s, NATADV_ENOTFOUND, "no selection for class set '%s' yet (run 'natadv select')", set);
	else
		rc = store_dberr(s, "cannot read selections");
	sqlite3_reset(st);
	return rc;
}
