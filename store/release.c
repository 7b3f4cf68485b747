/* release.c — what an export reads and writes: the plan of a release (the
 * set's classes, the selection in force, its accepted proposals with their
 * provenance), the release time of earlier identical content, and the
 * releases / release_items rows. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/strpool.h"
#include "common/err.h"
#include "common/timeutil.h"

/* Every string of a plan, each malloc'd, freed together. */
struct store_release_strings {
	strpool pool;
};

/* Copies s into the plan's pool; NULL stays NULL. Sets *oom on failure. */
static const char *keep(store_release_plan *p, const unsigned char *s, int *oom)
{
	if (!s)
		return NULL;
	const char *c = strpool_dup(&p->strings->pool, (const char *)s);
	if (!c)
		*oom = 1;
	return c;
}

void store_release_plan_free(store_release_plan *p)
{
	if (!p)
		return;
	if (p->strings) {
		strpool_release(&p->strings->pool);
		free(p->strings);
	}
	free(p->classes);
	free(p->items);
	free(p);
}

#define COL(st, i) sqlite3_column_text(st, i)

struct plan_classes {
	store_release_plan *p;
	size_t cap;
	int *oom;
};

static int plan_class(void *ctx, const store_class *k)
{
	struct plan_classes *pc = ctx;
	store_release_plan *p = pc->p;
	store_release_class *v = array_grow(p->classes, p->nclasses, &pc->cap, sizeof *v);
	if (!v)
		return NATADV_ENOMEM;
	p->classes = v;
	store_release_class *c = &p->classes[p->nclasses++];
	c->label = k->index;
	c->wnid = keep(p, (const unsigned char *)k->wnid, pc->oom);
	c->index_1k = k->index_1k;
	c->names = keep(p, (const unsigned char *)k->names, pc->oom);
	return 0;
}

static int plan_set(store *s, store_release_plan *p, const char *set, int *oom)
{
	int rc = store_set_exists(s, set);
	if (rc)
		return rc;
	sqlite3_stmt *st = store_sql(s, "SELECT name, version, based_on FROM class_sets WHERE name = ?");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, set);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		p->set = keep(p, COL(st, 0), oom);
		p->set_version = keep(p, COL(st, 1), oom);
		p->based_on = keep(p, COL(st, 2), oom);
	}
	sqlite3_reset(st);
	if (step != SQLITE_ROW)
		return store_dberr(s, "cannot read class sets");

	struct plan_classes pc = {p, 0, oom};
	rc = store_classes_each(s, set, plan_class, &pc);
	return rc == NATADV_ENOMEM ? store_fail(s, rc, "out of memory") : rc;
}

static int plan_selection(store *s, store_release_plan *p, const char *set, int *oom)
{
	sqlite3_stmt *st = store_sql(s,
		"SELECT sel.id, sel.model_id, mo.name, sel.rule, sel.params FROM current_selection cs "
		"JOIN selections sel ON sel.id = cs.selection_id LEFT JOIN models mo ON mo.id = sel.model_id "
		"WHERE cs.set_name = ?");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, set);
	int step = sqlite3_step(st);
	if (step == SQLITE_DONE)
		return store_fail(s, NATADV_ENOTFOUND, "class set '%s' has no finished selection (run 'natadv select')",
		                  set);
	if (step != SQLITE_ROW)
		return store_dberr(s, "cannot read selections");
	p->selection_id = sqlite3_column_int64(st, 0);
	p->model_id = keep(p, COL(st, 1), oom);
	p->model_name = keep(p, COL(st, 2), oom);
	p->rule = keep(p, COL(st, 3), oom);
	p->params = keep(p, COL(st, 4), oom);
	sqlite3_reset(st);
	return 0;
}

static int plan_items(store *s, store_release_plan *p, int *oom)
{
	sqlite3_stmt *st = store_sql(s,
		"SELECT p.id, rs.review_id, p.image_hash, p.wnid, i.sha256, i.format, i.bytes, i.width, i.height, "
		"p.pred_wnid, pc.names, p.confidence, p.true_prob, rs.decision, rs.reviewer, rs.at, rs.mode, "
		"p.source_wnid, sc.names "
		"FROM proposals p JOIN selections sel ON sel.id = p.selection_id "
		"JOIN class_set_members m ON m.set_name = sel.set_name AND m.wnid = p.wnid "
		"JOIN review_state rs ON rs.set_name = sel.set_name AND rs.image_hash = p.image_hash "
		"AND rs.wnid = p.wnid "
		"JOIN images i ON i.hash = p.image_hash LEFT JOIN classes pc ON pc.wnid = p.pred_wnid "
		"LEFT JOIN classes sc ON sc.wnid = p.source_wnid "
		"WHERE p.selection_id = ? AND p.status = 'proposed' AND rs.decision = 'accept' "
		"ORDER BY p.wnid, p.image_hash");
	if (!st)
		return NATADV_EDB;
	sqlite3_bind_int64(st, 1, p->selection_id);
	size_t cap = 0;
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		store_release_item *v = array_grow(p->items, p->nitems, &cap, sizeof *v);
		if (!v) {
			sqlite3_reset(st);
			return store_fail(s, NATADV_ENOMEM, "out of memory");
		}
		p->items = v;
		store_release_item *it = &p->items[p->nitems++];
		memset(it, 0, sizeof *it);
		it->proposal_id = sqlite3_column_int64(st, 0);
		it->review_id = sqlite3_column_int64(st, 1);
		it->image_hash = keep(p, COL(st, 2), oom);
		it->wnid = keep(p, COL(st, 3), oom);
		it->sha256 = keep(p, COL(st, 4), oom);
		it->format = keep(p, COL(st, 5), oom);
		it->bytes = sqlite3_column_int64(st, 6);
		it->width = sqlite3_column_int(st, 7);
		it->height = sqlite3_column_int(st, 8);
		it->pred_wnid = keep(p, COL(st, 9), oom);
		it->pred_names = keep(p, COL(st, 10), oom);
		it->confidence = sqlite3_column_double(st, 11);
		it->true_prob = sqlite3_column_double(st, 12);
		it->review = keep(p, COL(st, 13), oom);
		it->reviewer = keep(p, COL(st, 14), oom);
		it->reviewed_at = keep(p, COL(st, 15), oom);
		it->review_mode = keep(p, COL(st, 16), oom);
		it->source_wnid = keep(p, COL(st, 17), oom);
		it->source_names = keep(p, COL(st, 18), oom);
	}
	if (step != SQLITE_DONE)
		return store_dberr(s, "cannot read proposals");
	return 0;
}

/* The candidate of the smallest url id that tagged the image with its class
 * (for rule 'ood' its source class),
 * and the latest fetch that produced the image (from that url if it has one:
 * fetches are indexed by url; the scan over every fetch is the rare case). */
static int plan_provenance(store *s, store_release_plan *p, store_release_item *it, int *oom)
{
	sqlite3_stmt *st = store_sql(s,
		"SELECT u.id, u.url, t.source, q.query, t.page_url, t.license, t.license_raw, t.author, t.title, "
		"t.attribution FROM image_tags it JOIN urls u ON u.id = it.url_id "
		"LEFT JOIN url_tags t ON t.url_id = it.url_id AND t.wnid = it.wnid "
		"LEFT JOIN queries q ON q.id = t.query_id "
		"WHERE it.image_hash = ? AND it.wnid = ? ORDER BY it.url_id LIMIT 1");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, it->image_hash);
	store_bind_text(st, 2, it->source_wnid ? it->source_wnid : it->wnid);
	int step = sqlite3_step(st);
	int64_t url_id = 0;
	if (step == SQLITE_ROW) {
		url_id = sqlite3_column_int64(st, 0);
		it->url = keep(p, COL(st, 1), oom);
		it->source = keep(p, COL(st, 2), oom);
		it->query = keep(p, COL(st, 3), oom);
		it->page_url = keep(p, COL(st, 4), oom);
		it->license = keep(p, COL(st, 5), oom);
		it->license_raw = keep(p, COL(st, 6), oom);
		it->author = keep(p, COL(st, 7), oom);
		it->title = keep(p, COL(st, 8), oom);
		it->attribution = keep(p, COL(st, 9), oom);
	} else if (step != SQLITE_DONE) {
		return store_dberr(s, "cannot read image tags");
	}
	sqlite3_reset(st);

	st = store_sql(s, "SELECT final_url, http_status, etag, finished_at FROM fetches "
	                  "WHERE url_id = ? AND image_hash = ? AND outcome = 'image' ORDER BY id DESC LIMIT 1");
	if (!st)
		return NATADV_EDB;
	sqlite3_bind_int64(st, 1, url_id);
	store_bind_text(st, 2, it->image_hash);
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		sqlite3_reset(st);
		st = store_sql(s, "SELECT final_url, http_status, etag, finished_at FROM fetches "
		                  "WHERE image_hash = ? AND outcome = 'image' ORDER BY id DESC LIMIT 1");
		if (!st)
			return NATADV_EDB;
		store_bind_text(st, 1, it->image_hash);
		step = sqlite3_step(st);
	}
	if (step == SQLITE_ROW) {
		it->final_url = keep(p, COL(st, 0), oom);
		it->http_status = sqlite3_column_type(st, 1) == SQLITE_NULL ? 0 : (long)sqlite3_column_int64(st, 1);
		it->etag = keep(p, COL(st, 2), oom);
		it->fetched_at = keep(p, COL(st, 3), oom);
	} else if (step != SQLITE_DONE) {
		return store_dberr(s, "cannot read fetches");
	}
	sqlite3_reset(st);
	return 0;
}

int store_release_plan_get(store *s, const char *set, store_release_plan **out)
{
	*out = NULL;
	store_release_plan *p = calloc(1, sizeof *p);
	if (!p || !(p->strings = calloc(1, sizeof *p->strings))) {
		free(p);
		return store_fail(s, NATADV_ENOMEM, "out of memory");
	}
	int oom = 0;
	/* One read transaction, so the plan is one consistent snapshot. */
	int rc = store_exec(s, "BEGIN");
	if (!rc)
		rc = plan_set(s, p, set, &oom);
	if (!rc)
		rc = plan_selection(s, p, set, &oom);
	if (!rc)
		rc = plan_items(s, p, &oom);
	for (size_t i = 0; !rc && i < p->nitems; i++)
		rc = plan_provenance(s, p, &p->items[i], &oom);
	store_rollback(s);
	if (!rc && oom)
		rc = store_fail(s, NATADV_ENOMEM, "out of memory");
	if (rc) {
		store_release_plan_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int store_release_time_find(store *s, const char *set, const char *version,
                            const char *content_sha256, int64_t *released_unix)
{
	sqlite3_stmt *st = store_sql(s, "SELECT released_unix FROM releases WHERE set_name = ? AND version = ? "
	                                "AND content_sha256 = ? ORDER BY id LIMIT 1");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, set);
	store_bind_text(st, 2, version);
	store_bind_text(st, 3, content_sha256);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*released_unix = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (step == SQLITE_ROW)
		return 0;
	if (step == SQLITE_DONE)
		return NATADV_ENOTFOUND;
	return store_dberr(s, "cannot read releases");
}

static int release_insert(store *s, const store_release *r, const store_release_file *files, size_t n,
                          int64_t *release_id)
{
	sqlite3_stmt *st = store_sql(s,
		"INSERT INTO releases(set_name, version, selection_id, content_sha256, released_at, released_unix, "
		"partial, images, out_dir, manifest_sha256, tar_sha256, created_at, run_id) "
		"VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		return NATADV_EDB;
	char now[32];
	time_iso(time_now(), now);
	store_bind_text(st, 1, r->set);
	store_bind_text(st, 2, r->version);
	if (r->selection_id)
		sqlite3_bind_int64(st, 3, r->selection_id);
	store_bind_text(st, 4, r->content_sha256);
	store_bind_text(st, 5, r->released_at);
	sqlite3_bind_int64(st, 6, r->released_unix);
	sqlite3_bind_int(st, 7, r->partial ? 1 : 0);
	sqlite3_bind_int(st, 8, r->images);
	store_bind_text(st, 9, r->out_dir);
	store_bind_text(st, 10, r->manifest_sha256);
	store_bind_text(st, 11, r->tar_sha256);
	store_bind_text(st, 12, now);
	if (r->run_id)
		sqlite3_bind_int64(st, 13, r->run_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot record release");
	int64_t id = sqlite3_last_insert_rowid(s->db);
	st = store_sql(s, "INSERT INTO release_items(release_id, path, image_hash, wnid, proposal_id, review_id, "
	                  "sha256, bytes, converted) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		return NATADV_EDB;
	for (size_t i = 0; i < n; i++) {
		const store_release_file *f = &files[i];
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		sqlite3_bind_int64(st, 1, id);
		store_bind_text(st, 2, f->path);
		store_bind_text(st, 3, f->image_hash);
		store_bind_text(st, 4, f->wnid);
		if (f->proposal_id)
			sqlite3_bind_int64(st, 5, f->proposal_id);
		if (f->review_id)
			sqlite3_bind_int64(st, 6, f->review_id);
		store_bind_text(st, 7, f->sha256);
		sqlite3_bind_int64(st, 8, f->bytes);
		store_bind_text(st, 9, f->converted);
		if (sqlite3_step(st) != SQLITE_DONE)
			return store_dberr(s, "cannot record release item");
	}
	sqlite3_reset(st);
	if (release_id)
		*release_id = id;
	return 0;
}

int store_release_add(store *s, const store_release *r, const store_release_file *files, size_t n,
                      int64_t *release_id)
{
	int rc = store_begin(s);
	if (rc)
		return rc;
	rc = release_insert(s, r, files, n, release_id);
	if (!rc)
		rc = store_commit(s);
	if (rc)
		store_rollback(s);
	return rc;
}
