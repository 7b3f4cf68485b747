/* review_list.c — proposals with their decision in force: every proposal of
 * a selection (review --list, auto-accept), the page's filtered list of a
 * set's current selection with provenance, the per-class review counts, and
 * an image's format. Decisions themselves go through store/review.c. */
#include "store_internal.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* The first lemma of a class's names. */
#define FIRST_NAME(t) \
	"CASE WHEN instr(" t ".names, ',') > 0 THEN substr(" t ".names, 1, instr(" t ".names, ',') - 1) " \
	"ELSE " t ".names END"

/* What both listings read of a proposal p (read_row's columns 0-30), and the
 * joins they need: its selection, image and classes, the decision in force,
 * and the provenance of the url_tags row of the lowest url id that tagged
 * the image with the class (for rule 'ood': with the source class). */
#define PROPOSAL_COLUMNS \
	"p.id, p.selection_id, sel.set_name, p.image_hash, p.wnid, " FIRST_NAME("c") ", p.pred_wnid, " \
	FIRST_NAME("pc") ", p.status, p.confidence, p.true_prob, coalesce(p.duplicate_of, 0), " \
	"coalesce(p.distance, -1), rs.decision, coalesce(rs.review_id, 0), rs.reviewer, rs.reason, rs.mode, rs.at, " \
	"ut.source, ut.license, ut.author, ut.attribution, ut.title, ut.page_url, u.url, i.format, i.width, i.height, " \
	"p.source_wnid, " FIRST_NAME("sc")
#define PROPOSAL_JOINS \
	"JOIN selections sel ON sel.id = p.selection_id JOIN images i ON i.hash = p.image_hash " \
	"JOIN classes c ON c.wnid = p.wnid JOIN classes pc ON pc.wnid = p.pred_wnid " \
	"LEFT JOIN classes sc ON sc.wnid = p.source_wnid " \
	"LEFT JOIN review_state rs ON rs.set_name = sel.set_name AND rs.image_hash = p.image_hash " \
	"  AND rs.wnid = p.wnid " \
	"LEFT JOIN url_tags ut ON ut.wnid = coalesce(p.source_wnid, p.wnid) AND ut.url_id = " \
	"  (SELECT min(it.url_id) FROM image_tags it WHERE it.image_hash = p.image_hash " \
	"   AND it.wnid = coalesce(p.source_wnid, p.wnid)) " \
	"LEFT JOIN urls u ON u.id = ut.url_id "
#define PROPOSAL_NCOLS 31

static void read_row(sqlite3_stmt *st, store_proposal *r)
{
	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(st, 0);
	r->selection_id = sqlite3_column_int64(st, 1);
	r->set_name = col_text(st, 2);
	r->image_hash = col_text(st, 3);
	r->wnid = col_text(st, 4);
	r->class_name = col_text(st, 5);
	r->pred_wnid = col_text(st, 6);
	r->pred_name = col_text(st, 7);
	r->status = col_text(st, 8);
	r->confidence = sqlite3_column_double(st, 9);
	r->true_prob = sqlite3_column_double(st, 10);
	r->duplicate_of = sqlite3_column_int64(st, 11);
	r->distance = sqlite3_column_int(st, 12);
	store_decision_parse(col_text(st, 13), &r->decision);
	r->review_id = sqlite3_column_int64(st, 14);
	r->reviewer = col_text(st, 15);
	r->reason = col_text(st, 16);
	r->mode = col_text(st, 17);
	r->at = col_text(st, 18);
	r->source = col_text(st, 19);
	r->license = col_text(st, 20);
	r->author = col_text(st, 21);
	r->attribution = col_text(st, 22);
	r->title = col_text(st, 23);
	r->page_url = col_text(st, 24);
	r->url = col_text(st, 25);
	r->format = col_text(st, 26);
	r->width = sqlite3_column_int(st, 27);
	r->height = sqlite3_column_int(st, 28);
	r->source_wnid = col_text(st, 29);
	r->source_name = col_text(st, 30);
}

int store_proposals_each(store *s, int64_t selection_id,
                         int (*cb)(void *ctx, const store_proposal *p), void *ctx)
{
	/* rivals: kept proposals of the same image for other classes, not rejected */
	sqlite3_stmt *st = store_sql(s,
		"SELECT " PROPOSAL_COLUMNS ", "
		"CASE WHEN p.status = 'proposed' THEN (SELECT count(*) FROM proposals q "
		"  LEFT JOIN review_state qs ON qs.set_name = sel.set_name AND qs.image_hash = q.image_hash "
		"  AND qs.wnid = q.wnid WHERE q.selection_id = p.selection_id AND q.image_hash = p.image_hash "
		"  AND q.wnid <> p.wnid AND q.status = 'proposed' AND coalesce(qs.decision, '') <> 'reject') "
		"ELSE 0 END "
		"FROM proposals p " PROPOSAL_JOINS "WHERE p.selection_id = ? ORDER BY p.id");
	if (!st)
		return NATADV_EDB;
	sqlite3_bind_int64(st, 1, selection_id);
	int step, rc = 0;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		store_proposal p;
		read_row(st, &p);
		p.rivals = sqlite3_column_int(st, PROPOSAL_NCOLS);
		if ((rc = cb(ctx, &p)) != 0)
			break;
	}
	if (!rc && step != SQLITE_DONE)
		rc = store_dberr(s, "cannot read proposals");
	sqlite3_reset(st);
	return rc;
}

/* One statement serves the filtered page and the single proposal (?6);
 * count(*) OVER () is the number of matches before LIMIT. */
static int list_page(store *s, const store_proposal_filter *f, int64_t offset, int64_t *total, int *rows,
                     void (*cb)(void *ctx, const store_proposal *r), void *ctx)
{
	sqlite3_stmt *st = store_sql(s,
		"SELECT " PROPOSAL_COLUMNS ", count(*) OVER () "
		"FROM current_selection cs JOIN proposals p ON p.selection_id = cs.selection_id " PROPOSAL_JOINS
		"WHERE cs.set_name = ?1 AND p.status = 'proposed' "
		"  AND (?2 IS NULL OR p.wnid = ?2) "
		"  AND (?3 IS NULL OR coalesce(rs.decision, 'undecided') = ?3) "
		"  AND p.confidence >= ?4 AND p.confidence <= ?5 "
		"  AND (?6 = 0 OR p.id = ?6) "
		"ORDER BY p.confidence DESC, p.id LIMIT ?7 OFFSET ?8");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, f->set);
	store_bind_text(st, 2, f->wnid);
	store_bind_text(st, 3, f->state < 0 ? NULL : f->state == STORE_UNDECIDED ? "undecided"
	                                     : store_decision_name((store_decision)f->state));
	sqlite3_bind_double(st, 4, f->min_conf);
	sqlite3_bind_double(st, 5, f->max_conf);
	sqlite3_bind_int64(st, 6, f->id);
	sqlite3_bind_int64(st, 7, f->limit);
	sqlite3_bind_int64(st, 8, offset);
	int step;
	*rows = 0;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		store_proposal r;
		read_row(st, &r);
		*total = sqlite3_column_int64(st, PROPOSAL_NCOLS);
		(*rows)++;
		if (cb)
			cb(ctx, &r);
	}
	sqlite3_reset(st);
	if (step != SQLITE_DONE)
		return store_dberr(s, "cannot list proposals");
	if (!*rows)
		*total = 0;
	return 0;
}

int store_proposals_list(store *s, const store_proposal_filter *f, int64_t *total,
                         void (*cb)(void *ctx, const store_proposal *r), void *ctx)
{
	if (!f->set || f->limit < 0 || f->offset < 0)
		return store_fail(s, NATADV_EINVAL, "a proposal list needs a set and a non-negative page");
	if (f->state < -1 || f->state > STORE_REJECT)
		return store_fail(s, NATADV_EINVAL, "unknown review state %d", f->state);
	int64_t n = 0;
	int rows;
	int rc = list_page(s, f, f->offset, &n, &rows, cb, ctx);
	/* A page past the end says nothing of the total: count from the start. */
	if (!rc && rows == 0 && f->offset > 0 && total) {
		store_proposal_filter one = *f;
		one.limit = 1;
		rc = list_page(s, &one, 0, &n, &rows, NULL, NULL);
	}
	if (rc)
		return rc;
	if (total)
		*total = n;
	return 0;
}

int store_review_progress(store *s, const char *set,
                          void (*cb)(void *ctx, const store_class_progress *p), void *ctx)
{
	int step = store_set_exists(s, set);
	if (step)
		return step;
	sqlite3_stmt *st = store_sql(s,
		"SELECT m.set_index, m.wnid, " FIRST_NAME("c") ", "
		"  count(p.id), coalesce(sum(rs.decision = 'accept'), 0), coalesce(sum(rs.decision = 'reject'), 0) "
		"FROM class_set_members m JOIN classes c ON c.wnid = m.wnid "
		"LEFT JOIN current_selection cs ON cs.set_name = m.set_name "
		"LEFT JOIN proposals p ON p.selection_id = cs.selection_id AND p.wnid = m.wnid "
		"  AND p.status = 'proposed' "
		"LEFT JOIN review_state rs ON rs.set_name = m.set_name AND rs.image_hash = p.image_hash "
		"  AND rs.wnid = p.wnid "
		"WHERE m.set_name = ? GROUP BY m.set_index, m.wnid ORDER BY m.set_index");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, set);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		store_class_progress p = {
			.index = sqlite3_column_int64(st, 0),
			.wnid = col_text(st, 1),
			.name = col_text(st, 2),
			.proposed = sqlite3_column_int64(st, 3),
			.accepted = sqlite3_column_int64(st, 4),
			.rejected = sqlite3_column_int64(st, 5),
		};
		cb(ctx, &p);
	}
	sqlite3_reset(st);
	if (step != SQLITE_DONE)
		return store_dberr(s, "cannot count reviews");
	return 0;
}

int store_image_format(store *s, const char *hash, char format[8])
{
	sqlite3_stmt *st = store_sql(s, "SELECT format FROM images WHERE hash = ?");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, hash);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		snprintf(format, 8, "%s", col_text(st, 0));
	sqlite3_reset(st);
	if (step == SQLITE_DONE)
		return store_fail(s, NATADV_ENOTFOUND, "no image '%s'", hash);
	if (step != SQLITE_ROW)
		return store_dberr(s, "cannot read image");
	return 0;
}
