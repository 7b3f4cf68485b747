/* audit.c — the whole history of one image, read from every table that
 * mentions it (tags and their provenance, fetch attempts, robots.txt, scores,
 * selections, reviews, releases), and the look-ups that find an image by
 * hash, hash prefix, SHA-256, URL or release path.
 *
 * Each section is one query whose column aliases are its JSON keys, so the
 * keys live next to the SQL they come from:
 *   1. "a.b" puts b into a nested object a (null when all of its values are);
 *   2. a trailing "_json" parses the text as JSON (kept as text if it is not);
 *   3. a trailing "_bool" makes an integer true or false. */
#include "store_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/jstr.h"

/* Largest number of rows a section lists; a history is for reading. */
#define AUDIT_MAX_ROWS 1000

static int ends_with(const char *s, const char *suffix, size_t *stem)
{
	size_t n = strlen(s), k = strlen(suffix);
	if (n <= k || strcmp(s + n - k, suffix) != 0)
		return 0;
	*stem = n - k;
	return 1;
}

/* Converts column i of the current row by the alias conventions above and
 * stores it in obj under its key. */
static int column_json(sqlite3_stmt *st, int i, json_t *obj, const char *name)
{
	char key[128];
	size_t stem;
	json_t *v = NULL;
	int type = sqlite3_column_type(st, i);
	if (ends_with(name, "_json", &stem) && type == SQLITE_TEXT) {
		snprintf(key, sizeof key, "%.*s", (int)stem, name);
		const char *text = (const char *)sqlite3_column_text(st, i);
		v = json_loadb(text, (size_t)sqlite3_column_bytes(st, i), JSON_DECODE_ANY, NULL);
		if (!v)
			v = jstr_newn(text, (size_t)sqlite3_column_bytes(st, i));
	} else if (ends_with(name, "_json", &stem)) {
		snprintf(key, sizeof key, "%.*s", (int)stem, name);
		v = json_null();
	} else if (ends_with(name, "_bool", &stem)) {
		snprintf(key, sizeof key, "%.*s", (int)stem, name);
		v = type == SQLITE_NULL ? json_null() : json_boolean(sqlite3_column_int64(st, i) != 0);
	} else {
		snprintf(key, sizeof key, "%s", name);
		switch (type) {
		case SQLITE_INTEGER: v = json_integer(sqlite3_column_int64(st, i)); break;
		case SQLITE_FLOAT: v = json_real(sqlite3_column_double(st, i)); break;
		case SQLITE_TEXT:
			v = jstr_newn((const char *)sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i));
			break;
		case SQLITE_BLOB: v = json_integer(sqlite3_column_bytes(st, i)); break; /* its size */
		default: v = json_null(); break;
		}
	}
	if (!v)
		return NATADV_ENOMEM;
	return json_object_set_new(obj, key, v) ? NATADV_ENOMEM : 0;
}

/* Replaces nested objects whose every value is null by null. */
static void collapse_empty(json_t *row)
{
	const char *key;
	json_t *v;
	json_object_foreach(row, key, v) {
		if (!json_is_object(v))
			continue;
		int any = 0;
		const char *k2;
		json_t *v2;
		json_object_foreach(v, k2, v2) {
			if (!json_is_null(v2))
				any = 1;
		}
		if (!any)
			json_object_set_new(row, key, json_null());
	}
}

/* Turns the current row of st into a new JSON object (NULL on out of memory). */
static json_t *row_json(sqlite3_stmt *st)
{
	json_t *row = json_object();
	if (!row)
		return NULL;
	int n = sqlite3_column_count(st);
	for (int i = 0; i < n; i++) {
		const char *name = sqlite3_column_name(st, i);
		const char *dot = strchr(name, '.');
		json_t *obj = row;
		if (dot) {
			char outer[64];
			snprintf(outer, sizeof outer, "%.*s", (int)(dot - name), name);
			obj = json_object_get(row, outer);
			if (!obj) {
				obj = json_object();
				if (!obj || json_object_set_new(row, outer, obj)) {
					json_decref(row);
					return NULL;
				}
			}
			name = dot + 1;
		}
		if (column_json(st, i, obj, name)) {
			json_decref(row);
			return NULL;
		}
	}
	collapse_empty(row);
	return row;
}

int store_rows_json(store *s, sqlite3_stmt *st, json_t *arr, const char *what, size_t max_rows)
{
	int step, rc = 0;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (json_array_size(arr) >= max_rows)
			continue;
		json_t *row = row_json(st);
		if (!row || json_array_append_new(arr, row)) {
			rc = store_fail(s, NATADV_ENOMEM, "out of memory reading %s", what);
			break;
		}
	}
	if (!rc && step != SQLITE_DONE) {
		char why[256];
		snprintf(why, sizeof why, "cannot read %s", what);
		rc = store_dberr(s, why);
	}
	sqlite3_reset(st);
	return rc;
}


/* Runs section sql for hash and stores the array under key in out. */
static int section(store *s, json_t *out, const char *key, sqlite3_stmt *st, const char *hash)
{
	if (!st)
		return NATADV_EDB;
	json_t *arr = json_array();
	if (!arr || json_object_set_new(out, key, arr))
		return store_fail(s, NATADV_ENOMEM, "out of memory");
	store_bind_text(st, 1, hash);
	return store_rows_json(s, st, arr, key, AUDIT_MAX_ROWS);
}

/* Adds to each score its per-class probabilities (score_tags). */
static int score_tags(store *s, json_t *scores, const char *hash)
{
	size_t i;
	json_t *sc;
	json_array_foreach(scores, i, sc) {
		sqlite3_stmt *st = store_sql(s,
			"SELECT wnid, " CLASS_NAME("c") " AS class_name, p_1k, p_subset FROM score_tags t "
			"LEFT JOIN classes c USING (wnid) WHERE t.image_hash = ? AND t.model_id = ? ORDER BY wnid");
		if (!st)
			return NATADV_EDB;
		json_t *arr = json_array();
		if (!arr || json_object_set_new(sc, "true_class_probs", arr))
			return store_fail(s, NATADV_ENOMEM, "out of memory");
		store_bind_text(st, 1, hash);
		store_bind_text(st, 2, json_string_value(json_object_get(sc, "model_id")));
		int rc = store_rows_json(s, st, arr, "score tags", AUDIT_MAX_ROWS);
		if (rc)
			return rc;
	}
	return 0;
}

/* Where run r ran: its host, the part it was merged from, its Slurm job
 * (a nested object "ran_on", null when none is known). */
#define RAN_ON(r) r ".host AS \"ran_on.host\", " r ".part AS \"ran_on.part\", " \
	r ".slurm_job_id AS \"ran_on.slurm_job_id\", " r ".slurm_array_job_id AS \"ran_on.slurm_array_job_id\", " \
	r ".slurm_array_task_id AS \"ran_on.slurm_array_task_id\" "

/* The sections of an image's history, in order: each one query of the
 * image's hash (the one parameter), its column aliases the JSON keys. */
static const struct {
	const char *key;
	const char *sql;
} sections[] = {
	/* Every class tag: the (url, class) candidate it came from, the query,
	 * the run that queued it and the discover request that found it. */
	{"tags",
		"SELECT it.wnid, " CLASS_NAME("c") " AS class_name, u.url, it.url_id, u.state AS url_state, "
		"t.source, q.query, t.page_url, t.license, t.license_raw, t.author, t.attribution, t.title, t.source_id, "
		"t.seed_ref, t.added_at, r.id AS \"run.id\", r.command AS \"run.command\", r.args AS \"run.args\", "
		"r.started_at AS \"run.started_at\", a.id AS \"api_request.id\", a.source AS \"api_request.source\", "
		"a.url AS \"api_request.url\", a.started_at AS \"api_request.started_at\", "
		"a.http_status AS \"api_request.http_status\", a.body_sha256 AS \"api_request.body_sha256\" "
		"FROM image_tags it JOIN urls u ON u.id = it.url_id "
		"LEFT JOIN url_tags t ON t.url_id = it.url_id AND t.wnid = it.wnid "
		"LEFT JOIN classes c ON c.wnid = it.wnid LEFT JOIN queries q ON q.id = t.query_id "
		"LEFT JOIN runs r ON r.id = t.run_id LEFT JOIN api_requests a ON a.id = t.api_request_id "
		"WHERE it.image_hash = ? ORDER BY it.wnid, it.url_id"},
	/* Every attempt at each URL that produced the image, failures too. */
	{"fetches",
		"SELECT f.id, u.url, f.attempt, f.started_at, f.finished_at, f.http_status, f.final_url, "
		"f.redirects AS redirects_json, f.content_type, f.declared_length, f.received_length, f.etag, "
		"f.last_modified, f.headers, f.outcome, f.error, f.image_hash, f.run_id, " RAN_ON("fr")
		"FROM fetches f JOIN urls u ON u.id = f.url_id LEFT JOIN runs fr ON fr.id = f.run_id "
		"WHERE f.url_id IN (SELECT url_id FROM image_tags WHERE image_hash = ?) ORDER BY f.url_id, f.id"},
	/* robots.txt as fetched for those URLs' hosts: what allowed the fetch. */
	{"robots",
		"SELECT rf.host, rf.url, rf.started_at, rf.http_status, rf.policy, rf.error, rf.run_id "
		"FROM robots_fetches rf WHERE rf.host IN (SELECT u.host FROM urls u "
		"JOIN image_tags it ON it.url_id = u.id WHERE it.image_hash = ?) ORDER BY rf.host, rf.id"},
	{"scores",
		"SELECT m.name AS model, m.arch AS model_arch, sc.model_id, sc.status, sc.error, sc.pred_1k, "
		"c.wnid AS pred_1k_wnid, " CLASS_NAME("c") " AS pred_1k_name, sc.prob_1k, sc.pred_subset_wnid, "
		CLASS_NAME("cs") " AS pred_subset_name, sc.prob_subset, sc.top5 AS top5_json, "
		"sc.fast_decode AS fast_decode_bool, sc.scored_at, sc.run_id, " RAN_ON("sr")
		/* the kernels the score ran on: README, heterogeneous nodes */
		", sr.gemm_kernels AS \"ran_on.gemm_kernels\" "
		"FROM scores sc JOIN models m ON m.id = sc.model_id LEFT JOIN runs sr ON sr.id = sc.run_id LEFT JOIN classes c ON c.index_1k = sc.pred_1k AND m.classes = 1000 "
		"LEFT JOIN classes cs ON cs.wnid = sc.pred_subset_wnid "
		"WHERE sc.image_hash = ? ORDER BY sc.scored_at, m.name"},
	{"selections",
		"SELECT p.selection_id, sel.set_name AS \"set\", sel.rule, sel.params AS params_json, "
		"sel.model_id, m.name AS model, sel.also_model_ids AS also_model_ids_json, sel.created_at, "
		"sel.finished_at, (cur.selection_id IS NOT NULL) AS in_force_bool, p.id AS proposal_id, p.wnid, "
		"p.pred_wnid, p.confidence, p.true_prob, p.status, p.duplicate_of, "
		"d.image_hash AS duplicate_of_image, p.distance, sel.run_id, p.source_wnid "
		"FROM proposals p JOIN selections sel ON sel.id = p.selection_id "
		"LEFT JOIN models m ON m.id = sel.model_id "
		"LEFT JOIN current_selection cur ON cur.selection_id = sel.id "
		"LEFT JOIN proposals d ON d.id = p.duplicate_of "
		"WHERE p.image_hash = ? ORDER BY p.selection_id, p.wnid"},
	{"reviews",
		"SELECT id, set_name AS \"set\", wnid, proposal_id, decision, reason, reviewer, mode, undoes, at, "
		"run_id FROM reviews WHERE image_hash = ? ORDER BY id"},
	{"review_in_force",
		"SELECT set_name AS \"set\", wnid, decision, review_id, reason, reviewer, mode, at "
		"FROM review_state WHERE image_hash = ? ORDER BY set_name, wnid"},
	{"releases",
		"SELECT ri.release_id, rl.set_name AS \"set\", rl.version, rl.released_at, ri.path, ri.wnid, "
		"ri.sha256, ri.bytes, ri.converted, rl.tar_sha256, rl.content_sha256, rl.manifest_sha256, "
		"rl.out_dir, rl.partial AS partial_bool, rl.selection_id, ri.proposal_id, ri.review_id, "
		"rl.created_at, rl.run_id FROM release_items ri JOIN releases rl ON rl.id = ri.release_id "
		"WHERE ri.image_hash = ? ORDER BY ri.release_id, ri.path"},
};

int store_audit_image(store *s, const char *hash, json_t **out)
{
	*out = NULL;
	sqlite3_stmt *st = store_sql(s,
		"SELECT hash AS xxh128, sha256, format, bytes, width, height, printf('%016llx', phash) AS dhash, "
		"first_seen, first_fetch_id FROM images WHERE hash = ?");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, hash);
	int step = sqlite3_step(st);
	if (step == SQLITE_DONE)
		return store_fail(s, NATADV_ENOTFOUND, "no image '%s' in this workspace", hash);
	if (step != SQLITE_ROW)
		return store_dberr(s, "cannot read image");
	json_t *doc = json_object(), *image = row_json(st);
	sqlite3_reset(st);
	if (!doc || !image || json_object_set_new(doc, "image", image)) {
		json_decref(doc);
		return store_fail(s, NATADV_ENOMEM, "out of memory");
	}
	buf path;
	buf_init(&path, 8192);
	if (blob_path(s->objdir, hash, &path) == 0)
		json_object_set_new(image, "blob", json_string(buf_cstr(&path)));
	buf_release(&path);

	int rc = 0;
	for (size_t i = 0; !rc && i < sizeof sections / sizeof *sections; i++) {
		rc = section(s, doc, sections[i].key, store_sql(s, sections[i].sql), hash);
		/* each score with its per-class probabilities */
		if (!rc && !strcmp(sections[i].key, "scores"))
			rc = score_tags(s, json_object_get(doc, "scores"), hash);
	}
	if (rc) {
		json_decref(doc);
		return rc;
	}
	*out = doc;
	return 0;
}

int store_audit_find(store *s, store_audit_by by, const char *key, int limit,
                     void (*cb)(void *ctx, const char *hash), void *ctx)
{
	sqlite3_stmt *st = NULL;
	buf pattern;
	buf_init(&pattern, 64);
	switch (by) {
	case STORE_AUDIT_HASH:
		/* Only hex digits reach here, so GLOB has no wildcard but ours
		 * and can use the primary key for the prefix. */
		for (const char *p = key; *p; p++)
			if (!strchr("0123456789abcdef", *p) || p - key >= 32)
				return -store_fail(s, NATADV_EINVAL, "'%s' is not a hash prefix", key);
		if (buf_printf(&pattern, "%s*", key))
			return -store_fail(s, NATADV_ENOMEM, "out of memory");
		st = store_sql(s, "SELECT hash FROM images WHERE hash GLOB ? ORDER BY hash LIMIT ?");
		break;
	case STORE_AUDIT_SHA256:
		st = store_sql(s, "SELECT hash FROM images WHERE sha256 = ?1 "
		                  "UNION SELECT image_hash FROM release_items WHERE sha256 = ?1 ORDER BY 1 LIMIT ?2");
		break;
	case STORE_AUDIT_URL:
		st = store_sql(s, "SELECT DISTINCT it.image_hash FROM urls u JOIN image_tags it ON it.url_id = u.id "
		                  "WHERE u.url = ? ORDER BY 1 LIMIT ?");
		break;
	case STORE_AUDIT_FINAL_URL:
		st = store_sql(s, "SELECT DISTINCT image_hash FROM fetches WHERE final_url = ? "
		                  "AND image_hash IS NOT NULL ORDER BY 1 LIMIT ?");
		break;
	case STORE_AUDIT_RELEASE_PATH:
		/* key is the path, ends in '/' + the path, or is a tail of it after a '/'. */
		st = store_sql(s, "SELECT DISTINCT image_hash FROM release_items WHERE path = ?1 "
		                  "OR (length(?1) > length(path) AND substr(?1, length(?1) - length(path)) = '/' || path) "
		                  "OR (length(path) > length(?1) AND substr(path, length(path) - length(?1)) = '/' || ?1) "
		                  "ORDER BY 1 LIMIT ?2");
		break;
	}
	if (!st) {
		buf_release(&pattern);
		return -NATADV_EDB;
	}
	store_bind_text(st, 1, by == STORE_AUDIT_HASH ? buf_cstr(&pattern) : key);
	sqlite3_bind_int(st, 2, limit);
	buf_release(&pattern);
	int n = 0, step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		cb(ctx, (const char *)sqlite3_column_text(st, 0));
		n++;
	}
	if (step != SQLITE_DONE) {
		store_dberr(s, "cannot look up images");
		return -NATADV_EDB;
	}
	sqlite3_reset(st);
	return n;
}
