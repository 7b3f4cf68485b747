/* store_internal.h — what the store's own files share: the handle and the
 * cache of prepared statements. Not for use outside store/. */
#ifndef NATADV_STORE_INTERNAL_H
#define NATADV_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store/store.h"

enum store_stmt_id {
	ST_RUN_BEGIN, ST_RUN_END, ST_SET_EXISTS, ST_CLASSES_EACH, ST_CLASS_KNOWN,
	ST_QUERY_ADD, ST_QUERY_ID, ST_URL_ADD, ST_URL_ID, ST_TAG_ADD, ST_URL_IMAGE_TAG,
	ST_SCAN, ST_NEXT_DUE, ST_URL_DEFER, ST_RETRY_FAILED, ST_COUNT_STATE,
	ST_FETCH_ADD, ST_URL_UPDATE, ST_IMAGE_ADD, ST_IMAGE_TAGS_ADD, ST_IMAGE_EXISTS, ST_IMAGE_FIRST_FETCH,
	ST_ROBOTS_PUT, ST_ROBOTS_GET,
	ST_MODEL_ADD, ST_MODEL_GET, ST_UNSCORED, ST_COUNT_UNSCORED, ST_IMAGE_TAGS, ST_SCORE_PUT, ST_SCORE_TAG_PUT,
	ST_RUN_KERNELS,
	ST_COUNT
};

struct store {
	sqlite3 *db;
	char dir[4096];
	char objdir[4200];
	char msg[1024];
	sqlite3_stmt *stmts[ST_COUNT];
	struct { const char *sql; sqlite3_stmt *st; } sqlc[512];  /* store_sql's cache */
	int nsqlc;
};

/* Sets the handle's message and returns code. */
int store_fail(store *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sets the message to "what: <sqlite message>" and returns NATADV_EDB. */
int store_dberr(store *s, const char *what);
/* Returns the cached prepared statement id (preparing sql once), reset and
 * unbound; NULL with the message set on error. */
sqlite3_stmt *store_stmt(store *s, int id, const char *sql);
/* Like store_stmt, keyed by the address of sql, which must be a string
 * literal: for new code, no enum entry needed. */
sqlite3_stmt *store_sql(store *s, const char *sql);
/* Binds v as text, or NULL when v is NULL. */
void store_bind_text(sqlite3_stmt *st, int i, const char *v);
/* Returns 0 if the class set exists, else NATADV_ENOTFOUND ("no class set
 * 'NAME'") or NATADV_EDB, with the message set. */
int store_set_exists(store *s, const char *set);
/* The first of the comma-separated WordNet names of a classes row c. */
#define CLASS_NAME(c) "CASE WHEN instr(" c ".names, ',') > 0 " \
	"THEN substr(" c ".names, 1, instr(" c ".names, ',') - 1) ELSE " c ".names END"

struct json_t;
/* Steps the bound statement st to its end, appending each row to arr as a
 * JSON object whose keys are the column aliases (audit.c's conventions:
 * "a.b" nests, "_json" parses, "_bool" makes true/false), at most max_rows
 * of them (the rest are read and dropped); resets st. */
int store_rows_json(store *s, sqlite3_stmt *st, struct json_t *arr, const char *what, size_t max_rows);
/* Copies src to dst through dst.part, synced, then renamed; skipped when dst
 * exists (it is named by its content: weights, blobs). 0 or NATADV_EIO. */
int store_copy_file(store *s, const char *src, const char *dst);
/* Runs sql (no results) and returns 0 or NATADV_EDB with the message set. */
int store_exec(store *s, const char *sql);

#endif
