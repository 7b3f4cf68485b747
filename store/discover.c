/* discover.c — the database side of `natadv discover`: every API request as
 * a provenance row, where each (source, class, query) stands for resuming,
 * the candidates found but not queued, and their counts for stats. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/timeutil.h"

int store_api_request_add(store *s, const store_api_request *r, int64_t *id)
{
	char started[32], finished[32];
	time_iso(r->started, started);
	time_iso(r->finished, finished);
	sqlite3_stmt *st = store_sql(s,
		"INSERT INTO api_requests(source, query_id, wnid, page, url, run_id, started_at, finished_at, "
		"http_status, body_sha256, candidates, queued, next_page, outcome, error) "
		"VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, r->source);
	if (r->query_id)
		sqlite3_bind_int64(st, 2, r->query_id);
	store_bind_text(st, 3, r->wnid);
	store_bind_text(st, 4, r->page);
	store_bind_text(st, 5, r->url);
	sqlite3_bind_int64(st, 6, r->run_id);
	store_bind_text(st, 7, started);
	store_bind_text(st, 8, finished);
	if (r->http_status)
		sqlite3_bind_int64(st, 9, r->http_status);
	store_bind_text(st, 10, r->body_sha256);
	sqlite3_bind_int(st, 11, r->candidates);
	sqlite3_bind_int(st, 12, r->queued);
	store_bind_text(st, 13, r->next_page);
	store_bind_text(st, 14, r->outcome);
	store_bind_text(st, 15, r->error);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot record api request");
	if (id)
		*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int store_api_resume(store *s, const char *source, const char *wnid, int64_t query_id, int *state, buf *next)
{
	sqlite3_stmt *st = store_sql(s,
		"SELECT next_page FROM api_requests INDEXED BY api_requests_resume "
		"WHERE source = ? AND wnid = ? AND query_id = ? AND outcome IN ('ok', 'failed') "
		"ORDER BY id DESC LIMIT 1");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, source);
	store_bind_text(st, 2, wnid);
	sqlite3_bind_int64(st, 3, query_id);
	int step = sqlite3_step(st), rc = 0;
	if (step == SQLITE_DONE) {
		*state = 0;
	} else if (step != SQLITE_ROW) {
		return store_dberr(s, "cannot read api requests");
	} else if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
		*state = 2;
	} else {
		*state = 1;
		rc = buf_puts(next, (const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_reset(st);
	return rc;
}

int store_discover_skip(store *s, int64_t run_id, const store_candidate *c, const char *reason, int *added)
{
	char now[32];
	time_iso(time_now(), now);
	sqlite3_stmt *st = store_sql(s,
		"INSERT INTO discover_skipped(api_request_id, source, wnid, source_id, reason, url, page_url, license, "
		"license_raw, author, title, added_at, run_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
		"ON CONFLICT(source, wnid, source_id) DO NOTHING");
	if (!st)
		return NATADV_EDB;
	sqlite3_bind_int64(st, 1, c->api_request_id);
	store_bind_text(st, 2, c->source);
	store_bind_text(st, 3, c->wnid);
	store_bind_text(st, 4, c->source_id);
	store_bind_text(st, 5, reason);
	store_bind_text(st, 6, c->url);
	store_bind_text(st, 7, c->page_url);
	store_bind_text(st, 8, c->license);
	store_bind_text(st, 9, c->license_raw);
	store_bind_text(st, 10, c->author);
	store_bind_text(st, 11, c->title);
	store_bind_text(st, 12, now);
	sqlite3_bind_int64(st, 13, run_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot record a candidate not queued");
	if (added)
		*added = sqlite3_changes(s->db) > 0;
	return 0;
}

int store_discover_count(store *s, const char *source, const char *wnid, int64_t *n)
{
	sqlite3_stmt *st = store_sql(s, "SELECT count(*) FROM url_tags WHERE wnid = ? AND source = ?");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, wnid);
	store_bind_text(st, 2, source);
	if (sqlite3_step(st) != SQLITE_ROW)
		return store_dberr(s, "cannot count candidates");
	*n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

int store_class_names(store *s, const char *wnid, char **names)
{
	sqlite3_stmt *st = store_sql(s, "SELECT names FROM classes WHERE wnid = ?");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, wnid);
	int step = sqlite3_step(st);
	if (step == SQLITE_DONE)
		return store_fail(s, NATADV_ENOTFOUND, "unknown wnid '%.100s'", wnid);
	if (step != SQLITE_ROW)
		return store_dberr(s, "cannot read classes");
	*names = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	return *names ? 0 : store_fail(s, NATADV_ENOMEM, "out of memory");
}

int store_discover_stats(store *s, void (*per_source)(void *ctx, const store_discover_stat *st),
                         void (*per_skip)(void *ctx, const char *source, const char *reason,
                                          const char *license, int64_t n),
                         void *ctx)
{
	sqlite3_stmt *st = store_sql(s,
		"SELECT source, count(*), coalesce(sum(outcome = 'failed'), 0), "
		"coalesce(sum(CASE WHEN outcome = 'ok' THEN candidates END), 0), "
		"coalesce(sum(CASE WHEN outcome = 'ok' THEN queued END), 0), "
		"(SELECT count(*) FROM discover_skipped k WHERE k.source = a.source) "
		"FROM api_requests a GROUP BY source ORDER BY source");
	if (!st)
		return NATADV_EDB;
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		store_discover_stat d = {
			.source = (const char *)sqlite3_column_text(st, 0),
			.requests = sqlite3_column_int64(st, 1),
			.failed = sqlite3_column_int64(st, 2),
			.candidates = sqlite3_column_int64(st, 3),
			.queued = sqlite3_column_int64(st, 4),
			.not_queued = sqlite3_column_int64(st, 5),
		};
		if (per_source)
			per_source(ctx, &d);
	}
	sqlite3_reset(st);
	if (step != SQLITE_DONE)
		return store_dberr(s, "cannot read api requests");
	st = store_sql(s,
		"SELECT source, reason, license, count(*) AS n FROM discover_skipped "
		"GROUP BY source, reason, license ORDER BY n DESC, source, reason, license");
	if (!st)
		return NATADV_EDB;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (per_skip)
			per_skip(ctx, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
			         (const char *)sqlite3_column_text(st, 2), sqlite3_column_int64(st, 3));
	}
	sqlite3_reset(st);
	if (step != SQLITE_DONE)
		return store_dberr(s, "cannot read candidates not queued");
	return 0;
}
