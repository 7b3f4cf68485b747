/* review.c — the append-only review log (table reviews) and the one rule of
 * what may be decided. Every writer (the command line, the review page,
 * auto-accept, rebuild) goes through store_review_add, which refuses:
 *   1. a proposal (or, for an undo, a review) that does not exist, or of
 *      another set than asked;
 *   2. a proposal of a selection that is not the one in force for its set;
 *   3. a near-duplicate collapsed into another proposal;
 *   4. an accept, or an undo that would bring one back into force, of an
 *      image that is accepted for another class of the same set (such a set
 *      cannot be exported: which class it is is for a person to say).
 * and a reject without a reason, or a reason that is empty or longer than
 * STORE_REASON_MAX bytes. */
#include "store_internal.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/timeutil.h"

const char *store_decision_name(store_decision d)
{
	switch (d) {
	case STORE_ACCEPT: return "accept";
	case STORE_REJECT: return "reject";
	case STORE_UNDO: return "undo";
	case STORE_UNDECIDED: break;
	}
	return "undecided";
}

int store_decision_parse(const char *text, store_decision *d)
{
	if (text && !strcmp(text, "accept"))
		*d = STORE_ACCEPT;
	else if (text && !strcmp(text, "reject"))
		*d = STORE_REJECT;
	else if (text && !strcmp(text, "undo"))
		*d = STORE_UNDO;
	else {
		*d = STORE_UNDECIDED;
		return text ? NATADV_EINVAL : 0;
	}
	return 0;
}

/* Rules 1-3 for proposal id. */
static int check_decidable(store *s, int64_t id, const char *set)
{
	sqlite3_stmt *st = store_sql(s,
		"SELECT sel.set_name, p.status, coalesce(p.duplicate_of, 0), p.selection_id, "
		"(SELECT cs.selection_id FROM current_selection cs WHERE cs.set_name = sel.set_name) "
		"FROM proposals p JOIN selections sel ON sel.id = p.selection_id WHERE p.id = ?");
	if (!st)
		return NATADV_EDB;
	sqlite3_bind_int64(st, 1, id);
	int step = sqlite3_step(st), rc = 0;
	if (step == SQLITE_DONE) {
		rc = store_fail(s, NATADV_ENOTFOUND, "proposal %lld does not exist", (long long)id);
	} else if (step != SQLITE_ROW) {
		rc = store_dberr(s, "cannot read proposals");
	} else {
		const char *pset = (const char *)sqlite3_column_text(st, 0);
		int dup = strcmp((const char *)sqlite3_column_text(st, 1), "near_duplicate") == 0;
		int64_t of = sqlite3_column_int64(st, 2), sel = sqlite3_column_int64(st, 3);
		int64_t cur = sqlite3_column_int64(st, 4);
		if (set && strcmp(pset, set) != 0)
			rc = store_fail(s, NATADV_ENOTFOUND, "proposal %lld belongs to class set '%s', not '%s'",
			                (long long)id, pset, set);
		else if (sel != cur && cur)
			rc = store_fail(s, NATADV_ENOTFOUND,
			                "proposal %lld is from selection %lld, superseded by selection %lld of '%s' "
			                "(see 'natadv review --list --set %s')",
			                (long long)id, (long long)sel, (long long)cur, pset, pset);
		else if (sel != cur)
			rc = store_fail(s, NATADV_ENOTFOUND, "proposal %lld is from selection %lld, which is not finished",
			                (long long)id, (long long)sel);
		else if (dup)
			rc = store_fail(s, NATADV_ENOTFOUND,
			                "proposal %lld is a near-duplicate collapsed into proposal %lld; decide on that one",
			                (long long)id, (long long)of);
	}
	sqlite3_reset(st);
	return rc;
}

/* Rule 4: NATADV_EEXIST when the image of (set, image, wnid) is accepted in
 * force for another class of set; what names the decision being checked. */
static int check_no_rival_accept(store *s, const char *set, const char *image, const char *wnid,
                                 const char *what)
{
	sqlite3_stmt *st = store_sql(s, "SELECT wnid, review_id FROM review_state WHERE set_name = ? "
	                                "AND image_hash = ? AND wnid <> ? AND decision = 'accept' "
	                                "ORDER BY review_id LIMIT 1");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, set);
	store_bind_text(st, 2, image);
	store_bind_text(st, 3, wnid);
	int step = sqlite3_step(st), rc = 0;
	if (step == SQLITE_ROW)
		rc = store_fail(s, NATADV_EEXIST,
		                "%s: image %s is accepted for class '%s' of '%s' already (review %lld); "
		                "undo or reject that first",
		                what, image, (const char *)sqlite3_column_text(st, 0), set,
		                (long long)sqlite3_column_int64(st, 1));
	else if (step != SQLITE_DONE)
		rc = store_dberr(s, "cannot read reviews");
	sqlite3_reset(st);
	return rc;
}

/* Rule 4 for an accept of proposal id. */
static int check_accept(store *s, int64_t id)
{
	sqlite3_stmt *st = store_sql(s, "SELECT sel.set_name, p.image_hash, p.wnid FROM proposals p "
	                                "JOIN selections sel ON sel.id = p.selection_id WHERE p.id = ?");
	if (!st)
		return NATADV_EDB;
	sqlite3_bind_int64(st, 1, id);
	int step = sqlite3_step(st), rc = 0;
	if (step == SQLITE_ROW) {
		char set[128], image[40], wnid[32];
		snprintf(set, sizeof set, "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(image, sizeof image, "%s", (const char *)sqlite3_column_text(st, 1));
		snprintf(wnid, sizeof wnid, "%s", (const char *)sqlite3_column_text(st, 2));
		sqlite3_reset(st);
		return check_no_rival_accept(s, set, image, wnid, "an image belongs to one class");
	}
	rc = step == SQLITE_DONE ? store_fail(s, NATADV_ENOTFOUND, "proposal %lld does not exist", (long long)id)
	                         : store_dberr(s, "cannot read proposals");
	sqlite3_reset(st);
	return rc;
}

/* Checks that review undoes may be undone: it is an accept or reject in
 * force, of of_set when that is not NULL (rule 1), and the decision its undo
 * brings back breaks no rule 4. */
static int check_undo(store *s, int64_t undoes, const char *of_set)
{
	sqlite3_stmt *st = store_sql(s,
		"SELECT r.decision, r.set_name, r.image_hash, r.wnid, "
		"(SELECT b.decision FROM reviews b WHERE b.set_name = r.set_name AND b.image_hash = r.image_hash "
		"  AND b.wnid = r.wnid AND b.id <> r.id AND b.decision IN ('accept', 'reject') "
		"  AND NOT EXISTS (SELECT 1 FROM reviews u WHERE u.undoes = b.id) ORDER BY b.id DESC LIMIT 1) "
		"FROM reviews r WHERE r.id = ? AND NOT EXISTS (SELECT 1 FROM reviews u WHERE u.undoes = r.id)");
	if (!st)
		return NATADV_EDB;
	sqlite3_bind_int64(st, 1, undoes);
	int step = sqlite3_step(st), rc = 0;
	if (step == SQLITE_DONE)
		rc = store_fail(s, NATADV_ENOTFOUND, "review %lld does not exist or is already undone", (long long)undoes);
	else if (step != SQLITE_ROW)
		rc = store_dberr(s, "cannot read review");
	else if (strcmp((const char *)sqlite3_column_text(st, 0), "undo") == 0)
		rc = store_fail(s, NATADV_EINVAL, "review %lld is an undo; undo the decision instead", (long long)undoes);
	else if (of_set && strcmp((const char *)sqlite3_column_text(st, 1), of_set) != 0)
		rc = store_fail(s, NATADV_ENOTFOUND, "review %lld belongs to class set '%s', not '%s'", (long long)undoes,
		                (const char *)sqlite3_column_text(st, 1), of_set);
	if (rc || sqlite3_column_type(st, 4) == SQLITE_NULL ||
	    strcmp((const char *)sqlite3_column_text(st, 4), "accept") != 0) {
		sqlite3_reset(st);
		return rc;
	}
	/* the undo brings an earlier accept back into force */
	char set[128], image[40], wnid[32];
	snprintf(set, sizeof set, "%s", (const char *)sqlite3_column_text(st, 1));
	snprintf(image, sizeof image, "%s", (const char *)sqlite3_column_text(st, 2));
	snprintf(wnid, sizeof wnid, "%s", (const char *)sqlite3_column_text(st, 3));
	sqlite3_reset(st);
	return check_no_rival_accept(s, set, image, wnid, "the undo would bring back an accept");
}

static int check_review(store *s, const store_review *r)
{
	if (strcmp(r->mode, "cli") && strcmp(r->mode, "auto") && strcmp(r->mode, "web"))
		return store_fail(s, NATADV_EINVAL, "unknown review mode '%s'", r->mode);
	if (!r->reviewer || !r->reviewer[0])
		return store_fail(s, NATADV_EINVAL, "a review needs a reviewer name");
	if (r->reason && (!r->reason[0] || strlen(r->reason) > STORE_REASON_MAX))
		return store_fail(s, NATADV_EFORMAT, "a reason is a non-empty text of at most %d bytes",
		                  STORE_REASON_MAX);
	if (!r->reason && r->decision == STORE_REJECT)
		return store_fail(s, NATADV_EFORMAT, "a rejection needs a reason");
	switch (r->decision) {
	case STORE_UNDO:
		return check_undo(s, r->undoes, r->set);
	case STORE_ACCEPT:
	case STORE_REJECT: {
		int rc = check_decidable(s, r->proposal_id, r->set);
		if (!rc && r->decision == STORE_ACCEPT)
			rc = check_accept(s, r->proposal_id);
		return rc;
	}
	case STORE_UNDECIDED:
		break;
	}
	return store_fail(s, NATADV_EINVAL, "a review is an accept, a reject or an undo");
}

/* Appends the row r asks for (its checks passed). */
static int insert_review(store *s, int64_t run_id, const store_review *r, int64_t *review_id)
{
	sqlite3_stmt *st;
	if (r->decision == STORE_UNDO) {
		st = store_sql(s, "INSERT INTO reviews(set_name, image_hash, wnid, proposal_id, decision, reason, "
		                  "reviewer, mode, undoes, at, run_id) "
		                  "SELECT set_name, image_hash, wnid, proposal_id, 'undo', ?1, ?2, ?3, id, ?4, ?5 "
		                  "FROM reviews WHERE id = ?6");
		if (!st)
			return NATADV_EDB;
		sqlite3_bind_int64(st, 6, r->undoes);
	} else {
		st = store_sql(s, "INSERT INTO reviews(set_name, image_hash, wnid, proposal_id, decision, reason, "
		                  "reviewer, mode, at, run_id) "
		                  "SELECT sel.set_name, p.image_hash, p.wnid, p.id, ?7, ?1, ?2, ?3, ?4, ?5 "
		                  "FROM proposals p JOIN selections sel ON sel.id = p.selection_id WHERE p.id = ?6");
		if (!st)
			return NATADV_EDB;
		sqlite3_bind_int64(st, 6, r->proposal_id);
		store_bind_text(st, 7, store_decision_name(r->decision));
	}
	char now[32];
	time_iso(time_now(), now);
	store_bind_text(st, 1, r->reason);
	store_bind_text(st, 2, r->reviewer);
	store_bind_text(st, 3, r->mode);
	store_bind_text(st, 4, now);
	if (run_id)
		sqlite3_bind_int64(st, 5, run_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot add review");
	if (sqlite3_changes(s->db) == 0)
		return store_fail(s, NATADV_ENOTFOUND, "proposal %lld does not exist", (long long)r->proposal_id);
	if (review_id)
		*review_id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int store_review_add(store *s, int64_t run_id, const store_review *r, int64_t *review_id)
{
	/* the checks and the row under one write lock, or another writer (the
	 * page, the command line) could append a rival accept in between: a
	 * transaction of its own when the caller has none (IMMEDIATE: a deferred
	 * one would check under a read snapshot), else a savepoint in the
	 * caller's */
	int own = sqlite3_get_autocommit(s->db);
	int rc = own ? store_begin(s) : store_exec(s, "SAVEPOINT review_add");
	if (rc)
		return rc;
	rc = check_review(s, r);
	if (!rc)
		rc = insert_review(s, run_id, r, review_id);
	if (!rc)
		rc = own ? store_commit(s) : store_exec(s, "RELEASE review_add");
	if (rc && own)
		store_rollback(s);
	else if (rc)
		sqlite3_exec(s->db, "ROLLBACK TO review_add; RELEASE review_add", NULL, NULL, NULL);
	return rc;
}
