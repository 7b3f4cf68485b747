/* frontier.c — the crawl frontier in the database: adding candidates,
 * streaming due URLs, recording every fetch attempt and the images it
 * produced, and the robots.txt cache. Callers batch these in transactions. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/timeutil.h"

int store_query_id(store *s, int64_t run_id, const char *source, const char *query, const char *wnid,
                   int64_t *id)
{
	char now[32];
	time_iso(time_now(), now);
	sqlite3_stmt *st = store_stmt(s, ST_QUERY_ADD,
		"INSERT INTO queries(source, query, wnid, issued_at, run_id) VALUES(?, ?, ?, ?, ?) "
		"ON CONFLICT(source, query, wnid) DO NOTHING");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, source);
	store_bind_text(st, 2, query);
	store_bind_text(st, 3, wnid);
	store_bind_text(st, 4, now);
	sqlite3_bind_int64(st, 5, run_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot add query");
	st = store_stmt(s, ST_QUERY_ID, "SELECT id FROM queries WHERE source = ? AND query = ? AND wnid = ?");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, source);
	store_bind_text(st, 2, query);
	store_bind_text(st, 3, wnid);
	if (sqlite3_step(st) != SQLITE_ROW)
		return store_dberr(s, "cannot find query");
	*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st); /* an open statement would pin the WAL with a read snapshot */
	return 0;
}

int store_candidate_add(store *s, int64_t run_id, const store_candidate *c,
                        int *new_url, int *new_tag)
{
	char now[32];
	time_iso(time_now(), now);
	int64_t qid = 0;
	int rc;
	if (c->query && c->query[0]) {
		rc = store_query_id(s, run_id, c->source, c->query, c->wnid, &qid);
		if (rc)
			return rc;
	}
	sqlite3_stmt *st = store_stmt(s, ST_URL_ADD,
		"INSERT INTO urls(url, host, added_at, run_id) VALUES(?, ?, ?, ?) ON CONFLICT(url) DO NOTHING");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, c->url);
	store_bind_text(st, 2, c->host);
	store_bind_text(st, 3, now);
	sqlite3_bind_int64(st, 4, run_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot add url");
	int added_url = sqlite3_changes(s->db) > 0;
	int64_t url_id;
	if (added_url) {
		url_id = sqlite3_last_insert_rowid(s->db);
	} else {
		st = store_stmt(s, ST_URL_ID, "SELECT id FROM urls WHERE url = ?");
		if (!st)
			return NATADV_EDB;
		store_bind_text(st, 1, c->url);
		if (sqlite3_step(st) != SQLITE_ROW)
			return store_dberr(s, "cannot find url");
		url_id = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	st = store_stmt(s, ST_TAG_ADD,
		"INSERT INTO url_tags(url_id, wnid, source, query_id, page_url, license, author, added_at, run_id, "
		"title, source_id, license_raw, seed_ref, api_request_id, attribution) "
		"VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(url_id, wnid) DO NOTHING");
	if (!st)
		return NATADV_EDB;
	sqlite3_bind_int64(st, 1, url_id);
	store_bind_text(st, 2, c->wnid);
	store_bind_text(st, 3, c->source ? c->source : "seeds");
	if (qid)
		sqlite3_bind_int64(st, 4, qid);
	store_bind_text(st, 5, c->page_url);
	store_bind_text(st, 6, c->license);
	store_bind_text(st, 7, c->author);
	store_bind_text(st, 8, now);
	sqlite3_bind_int64(st, 9, run_id);
	store_bind_text(st, 10, c->title);
	store_bind_text(st, 11, c->source_id);
	store_bind_text(st, 12, c->license_raw);
	store_bind_text(st, 13, c->seed_ref);
	if (c->api_request_id)
		sqlite3_bind_int64(st, 14, c->api_request_id);
	store_bind_text(st, 15, c->attribution);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot add class tag");
	int added_tag = sqlite3_changes(s->db) > 0;
	if (added_tag && !added_url) {
		/* The URL may already have produced an image: tag it too. */
		st = store_stmt(s, ST_URL_IMAGE_TAG,
			"INSERT INTO image_tags(image_hash, wnid, url_id) "
			"SELECT image_hash, ?, id FROM urls WHERE id = ? AND image_hash IS NOT NULL "
			"ON CONFLICT DO NOTHING");
		if (!st)
			return NATADV_EDB;
		store_bind_text(st, 1, c->wnid);
		sqlite3_bind_int64(st, 2, url_id);
		if (sqlite3_step(st) != SQLITE_DONE)
			return store_dberr(s, "cannot tag image");
	}
	if (new_url)
		*new_url = added_url;
	if (new_tag)
		*new_tag = added_tag;
	return 0;
}

int store_frontier_scan(store *s, int64_t after_id, double now, int limit,
                        void (*cb)(void *ctx, const store_pending *p), void *ctx)
{
	sqlite3_stmt *st = store_stmt(s, ST_SCAN,
		"SELECT id, url, host, attempts FROM urls WHERE state = 'pending' AND id > ? "
		"AND next_attempt_at <= ? AND NOT EXISTS (SELECT 1 FROM split_urls x WHERE x.url_id = urls.id) "
		"ORDER BY id LIMIT ?");
	if (!st)
		return -NATADV_EDB;
	sqlite3_bind_int64(st, 1, after_id);
	sqlite3_bind_double(st, 2, now);
	sqlite3_bind_int(st, 3, limit);
	int n = 0, step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		store_pending p = {
			.id = sqlite3_column_int64(st, 0),
			.url = (const char *)sqlite3_column_text(st, 1),
			.host = (const char *)sqlite3_column_text(st, 2),
			.attempts = sqlite3_column_int(st, 3),
		};
		cb(ctx, &p);
		n++;
	}
	if (step != SQLITE_DONE) {
		store_dberr(s, "cannot read the frontier");
		return -NATADV_EDB;
	}
	sqlite3_reset(st);
	return n;
}

int store_frontier_next_due(store *s, double *t)
{
	/* In due order, the first url no part holds (see store/parts.h):
	 * a url out in a part is the part's to fetch. */
	sqlite3_stmt *st = store_stmt(s, ST_NEXT_DUE,
		"SELECT next_attempt_at FROM urls INDEXED BY urls_due WHERE state = 'pending' "
		"AND NOT EXISTS (SELECT 1 FROM split_urls x WHERE x.url_id = urls.id) ORDER BY next_attempt_at LIMIT 1");
	if (!st)
		return NATADV_EDB;
	int step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		sqlite3_reset(st);
		return NATADV_ENOTFOUND;
	}
	if (step != SQLITE_ROW)
		return store_dberr(s, "cannot read the frontier");
	*t = sqlite3_column_double(st, 0);
	sqlite3_reset(st);
	return 0;
}

int store_url_defer(store *s, int64_t url_id, double next_attempt_at, const char *why)
{
	sqlite3_stmt *st = store_stmt(s, ST_URL_DEFER,
		"UPDATE urls SET next_attempt_at = ?, last_error = ? WHERE id = ? AND state = 'pending'");
	if (!st)
		return NATADV_EDB;
	sqlite3_bind_double(st, 1, next_attempt_at);
	store_bind_text(st, 2, why);
	sqlite3_bind_int64(st, 3, url_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot defer url");
	return 0;
}

int store_retry_failed(store *s, int64_t *n)
{
	sqlite3_stmt *st = store_stmt(s, ST_RETRY_FAILED,
		"UPDATE urls SET state = 'pending', attempts = 0, next_attempt_at = 0 WHERE state = 'failed'");
	if (!st)
		return NATADV_EDB;
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot requeue failed urls");
	*n = sqlite3_changes(s->db);
	return 0;
}

int store_count_urls(store *s, const char *state, int64_t *n)
{
	sqlite3_stmt *st = store_stmt(s, ST_COUNT_STATE, "SELECT count(*) FROM urls WHERE state = ?");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, state);
	if (sqlite3_step(st) != SQLITE_ROW)
		return store_dberr(s, "cannot count urls");
	*n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

static int add_image(store *s, const store_image *img, const char *now, int *image_new)
{
	sqlite3_stmt *st = store_stmt(s, ST_IMAGE_ADD,
		"INSERT INTO images(hash, sha256, bytes, format, width, height, phash, first_seen) "
		"VALUES(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(hash) DO NOTHING");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, img->hash);
	store_bind_text(st, 2, img->sha256);
	sqlite3_bind_int64(st, 3, img->bytes);
	store_bind_text(st, 4, img->format);
	sqlite3_bind_int(st, 5, img->width);
	sqlite3_bind_int(st, 6, img->height);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)img->phash);
	store_bind_text(st, 8, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot add image");
	if (image_new)
		*image_new = sqlite3_changes(s->db) > 0;
	return 0;
}

int store_record_attempt(store *s, const store_fetch *f, const store_image *img,
                         const char *state, double next_attempt_at, int *image_new)
{
	char started[32], finished[32];
	time_iso(f->started, started);
	time_iso(f->finished, finished);
	int is_new = 0, rc;
	if (image_new)
		*image_new = 0;
	/* The image row comes first so the fetch row can reference it. */
	if (img) {
		rc = add_image(s, img, finished, &is_new);
		if (rc)
			return rc;
	}
	sqlite3_stmt *st = store_stmt(s, ST_FETCH_ADD,
		"INSERT INTO fetches(url_id, run_id, attempt, started_at, finished_at, http_status, final_url, "
		"redirects, content_type, declared_length, received_length, etag, last_modified, headers, "
		"outcome, error, image_hash) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		return NATADV_EDB;
	sqlite3_bind_int64(st, 1, f->url_id);
	sqlite3_bind_int64(st, 2, f->run_id);
	sqlite3_bind_int(st, 3, f->attempt);
	store_bind_text(st, 4, started);
	store_bind_text(st, 5, finished);
	if (f->http_status)
		sqlite3_bind_int64(st, 6, f->http_status);
	store_bind_text(st, 7, f->final_url);
	store_bind_text(st, 8, f->redirects_json);
	store_bind_text(st, 9, f->content_type);
	if (f->declared_length >= 0)
		sqlite3_bind_int64(st, 10, f->declared_length);
	sqlite3_bind_int64(st, 11, f->received_length);
	store_bind_text(st, 12, f->etag);
	store_bind_text(st, 13, f->last_modified);
	store_bind_text(st, 14, f->headers);
	store_bind_text(st, 15, f->outcome);
	store_bind_text(st, 16, f->error);
	store_bind_text(st, 17, img ? img->hash : NULL);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot record fetch");
	int64_t fetch_id = sqlite3_last_insert_rowid(s->db);
	if (is_new) {
		st = store_stmt(s, ST_IMAGE_FIRST_FETCH, "UPDATE images SET first_fetch_id = ? WHERE hash = ?");
		if (!st)
			return NATADV_EDB;
		sqlite3_bind_int64(st, 1, fetch_id);
		store_bind_text(st, 2, img->hash);
		if (sqlite3_step(st) != SQLITE_DONE)
			return store_dberr(s, "cannot record fetch");
	}
	st = store_stmt(s, ST_URL_UPDATE,
		"UPDATE urls SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?, "
		"image_hash = coalesce(?, image_hash) WHERE id = ?");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, state);
	sqlite3_bind_int(st, 2, f->attempt);
	sqlite3_bind_double(st, 3, next_attempt_at);
	store_bind_text(st, 4, f->error);
	store_bind_text(st, 5, img ? img->hash : NULL);
	sqlite3_bind_int64(st, 6, f->url_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot update url");
	if (img) {
		st = store_stmt(s, ST_IMAGE_TAGS_ADD,
			"INSERT INTO image_tags(image_hash, wnid, url_id) SELECT ?, wnid, url_id FROM url_tags "
			"WHERE url_id = ? ON CONFLICT DO NOTHING");
		if (!st)
			return NATADV_EDB;
		store_bind_text(st, 1, img->hash);
		sqlite3_bind_int64(st, 2, f->url_id);
		if (sqlite3_step(st) != SQLITE_DONE)
			return store_dberr(s, "cannot tag image");
	}
	if (image_new)
		*image_new = is_new;
	return 0;
}

int store_image_exists(store *s, const char *hash, int *hit)
{
	sqlite3_stmt *st = store_stmt(s, ST_IMAGE_EXISTS, "SELECT 1 FROM images WHERE hash = ?");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, hash);
	int step = sqlite3_step(st);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return store_dberr(s, "cannot read images");
	*hit = step == SQLITE_ROW;
	sqlite3_reset(st);
	return 0;
}

/* ---- robots.txt ---- */

int store_robots_put(store *s, const store_robots *r)
{
	char started[32], finished[32];
	time_iso(r->started, started);
	time_iso(r->finished, finished);
	sqlite3_stmt *st = store_stmt(s, ST_ROBOTS_PUT,
		"INSERT INTO robots_fetches(host, url, run_id, started_at, finished_at, fetched_unix, "
		"http_status, final_url, error, body, policy) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, r->host);
	store_bind_text(st, 2, r->url);
	sqlite3_bind_int64(st, 3, r->run_id);
	store_bind_text(st, 4, started);
	store_bind_text(st, 5, finished);
	sqlite3_bind_double(st, 6, r->finished);
	if (r->http_status)
		sqlite3_bind_int64(st, 7, r->http_status);
	store_bind_text(st, 8, r->final_url);
	store_bind_text(st, 9, r->error);
	store_bind_text(st, 10, r->body);
	store_bind_text(st, 11, r->policy);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot record robots.txt");
	return 0;
}

int store_robots_get(store *s, const char *host, double not_before, buf *policy, buf *body)
{
	sqlite3_stmt *st = store_stmt(s, ST_ROBOTS_GET,
		"SELECT policy, body FROM robots_fetches WHERE host = ? AND fetched_unix >= ? AND error IS NULL "
		"ORDER BY id DESC LIMIT 1");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, host);
	sqlite3_bind_double(st, 2, not_before);
	int step = sqlite3_step(st);
	if (step == SQLITE_DONE)
		return NATADV_ENOTFOUND;
	if (step != SQLITE_ROW)
		return store_dberr(s, "cannot read robots.txt cache");
	int rc = buf_puts(policy, (const char *)sqlite3_column_text(st, 0));
	if (!rc && sqlite3_column_type(st, 1) != SQLITE_NULL)
		rc = buf_append(body, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1));
	sqlite3_reset(st);
	return rc;
}

/* ---- stats ---- */

static void read_counts(sqlite3_stmt *st, int col, store_counts *c)
{
	c->urls = sqlite3_column_int64(st, col);
	c->pending = sqlite3_column_int64(st, col + 1);
	c->fetched = sqlite3_column_int64(st, col + 2);
	c->failed = sqlite3_column_int64(st, col + 3);
	c->opted_out = sqlite3_column_int64(st, col + 4);
	c->images = sqlite3_column_int64(st, col + 5);
}

int store_stats(store *s, store_counts *total,
                void (*cb)(void *ctx, const char *wnid, const store_counts *c), void *ctx)
{
	static const char totals_sql[] =
		"SELECT count(*), coalesce(sum(state = 'pending'), 0), coalesce(sum(state = 'fetched'), 0), "
		"coalesce(sum(state = 'failed'), 0), coalesce(sum(state = 'opted_out'), 0), "
		"(SELECT count(*) FROM images) FROM urls";
	static const char per_class_sql[] =
		"SELECT t.wnid, count(*), sum(u.state = 'pending'), sum(u.state = 'fetched'), "
		"sum(u.state = 'failed'), sum(u.state = 'opted_out'), "
		"(SELECT count(DISTINCT image_hash) FROM image_tags i WHERE i.wnid = t.wnid) "
		"FROM url_tags t JOIN urls u ON u.id = t.url_id GROUP BY t.wnid ORDER BY t.wnid";
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, totals_sql, -1, &st, NULL) != SQLITE_OK)
		return store_dberr(s, "cannot read stats");
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return store_dberr(s, "cannot read stats");
	}
	read_counts(st, 0, total);
	sqlite3_finalize(st);
	if (!cb)
		return 0;
	if (sqlite3_prepare_v2(s->db, per_class_sql, -1, &st, NULL) != SQLITE_OK)
		return store_dberr(s, "cannot read stats");
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		store_counts c;
		read_counts(st, 1, &c);
		cb(ctx, (const char *)sqlite3_column_text(st, 0), &c);
	}
	sqlite3_finalize(st);
	if (step != SQLITE_DONE)
		return store_dberr(s, "cannot read stats");
	return 0;
}

int store_images_each(store *s, void (*cb)(void *ctx, const store_image *img), void *ctx)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT hash, sha256, bytes, format, width, height, phash FROM images "
	                       "ORDER BY hash", -1, &st, NULL) != SQLITE_OK)
		return store_dberr(s, "cannot read images");
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		store_image img = {
			.hash = (const char *)sqlite3_column_text(st, 0),
			.sha256 = (const char *)sqlite3_column_text(st, 1),
			.bytes = sqlite3_column_int64(st, 2),
			.format = (const char *)sqlite3_column_text(st, 3),
			.width = sqlite3_column_int(st, 4),
			.height = sqlite3_column_int(st, 5),
			.phash = (uint64_t)sqlite3_column_int64(st, 6),
		};
		cb(ctx, &img);
	}
	sqlite3_finalize(st);
	if (step != SQLITE_DONE)
		return store_dberr(s, "cannot read images");
	return 0;
}
