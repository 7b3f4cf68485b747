/* models.c — the classifiers of a workspace and their predictions for the
 * stored images (tables models, scores and score_tags). */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/timeutil.h"

#define MODEL_NAME_MAX 128

int store_model_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > MODEL_NAME_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* NATADV_EINVAL naming the rule when name is not a model name. */
static int check_name(store *s, const char *name)
{
	if (store_model_name_valid(name))
		return 0;
	return store_fail(s, NATADV_EINVAL, "bad model name '%.*s': a name is 1 to %d letters, digits, '.', '_' "
	                  "or '-', and not '.' or '..'", MODEL_NAME_MAX + 1, name ? name : "", MODEL_NAME_MAX);
}

int store_model_add(store *s, int64_t run_id, const store_model *m)
{
	int rc = check_name(s, m->name);
	if (rc)
		return rc;
	buf text;
	buf_init(&text, 1 << 16);
	store_model old;
	rc = store_model_get(s, m->name, &old, &text);
	if (rc == 0) {
		int same = strcmp(old.id, m->id) == 0;
		buf_release(&text);
		if (same)
			return 0;
		return store_fail(s, NATADV_EEXIST, "a model named '%s' exists with other weights", m->name);
	}
	buf_release(&text);
	if (rc != NATADV_ENOTFOUND)
		return rc;
	char now[32];
	time_iso(time_now(), now);
	sqlite3_stmt *st = store_stmt(s, ST_MODEL_ADD,
		"INSERT INTO models(id, name, arch, classes, bytes, source_url, preprocessing, added_at, run_id) "
		"VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, m->id);
	store_bind_text(st, 2, m->name);
	store_bind_text(st, 3, m->arch);
	sqlite3_bind_int(st, 4, m->classes);
	sqlite3_bind_int64(st, 5, m->bytes);
	store_bind_text(st, 6, m->source_url);
	store_bind_text(st, 7, m->preprocessing);
	store_bind_text(st, 8, now);
	if (run_id)
		sqlite3_bind_int64(st, 9, run_id);
	int step = sqlite3_step(st);
	if (step == SQLITE_CONSTRAINT)
		return store_fail(s, NATADV_EEXIST, "these weights are already recorded under another name");
	if (step != SQLITE_DONE)
		return store_dberr(s, "cannot add model");
	return 0;
}

static void read_model(sqlite3_stmt *st, store_model *m)
{
	m->id = (const char *)sqlite3_column_text(st, 0);
	m->name = (const char *)sqlite3_column_text(st, 1);
	m->arch = (const char *)sqlite3_column_text(st, 2);
	m->classes = sqlite3_column_int(st, 3);
	m->bytes = sqlite3_column_int64(st, 4);
	m->source_url = (const char *)sqlite3_column_text(st, 5);
	m->preprocessing = (const char *)sqlite3_column_text(st, 6);
	m->added_at = (const char *)sqlite3_column_text(st, 7);
}

#define MODEL_COLUMNS "id, name, arch, classes, bytes, source_url, preprocessing, added_at"

int store_model_get(store *s, const char *name, store_model *m, buf *text)
{
	sqlite3_stmt *st = store_stmt(s, ST_MODEL_GET,
		"SELECT " MODEL_COLUMNS " FROM models WHERE name = ?1 OR id = ?1");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, name);
	int step = sqlite3_step(st);
	if (step == SQLITE_DONE)
		return store_fail(s, NATADV_ENOTFOUND, "no model '%s' (see 'natadv model list')", name);
	if (step != SQLITE_ROW)
		return store_dberr(s, "cannot read models");
	store_model tmp;
	read_model(st, &tmp);
	/* Copy every string into text, then point m at the copies. */
	const char *src[] = {tmp.id, tmp.name, tmp.arch, tmp.source_url, tmp.preprocessing, tmp.added_at};
	size_t off[6];
	buf_reset(text);
	for (int i = 0; i < 6; i++) {
		off[i] = text->len;
		if (buf_puts(text, src[i] ? src[i] : "") || buf_append(text, "", 1)) {
			sqlite3_reset(st);
			return store_fail(s, NATADV_ETOOBIG, "model record too large");
		}
	}
	sqlite3_reset(st);
	m->id = text->data + off[0];
	m->name = text->data + off[1];
	m->arch = text->data + off[2];
	m->source_url = tmp.source_url ? text->data + off[3] : NULL;
	m->preprocessing = text->data + off[4];
	m->added_at = text->data + off[5];
	m->classes = tmp.classes;
	m->bytes = tmp.bytes;
	return 0;
}

int store_models_each(store *s, void (*cb)(void *ctx, const store_model *m), void *ctx)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT " MODEL_COLUMNS " FROM models ORDER BY name", -1, &st, NULL))
		return store_dberr(s, "cannot read models");
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		store_model m;
		read_model(st, &m);
		cb(ctx, &m);
	}
	sqlite3_finalize(st);
	return step == SQLITE_DONE ? 0 : store_dberr(s, "cannot read models");
}

int store_model_path(store *s, const char *id, buf *out)
{
	return buf_printf(out, "%s/models/%s.safetensors", s->dir, id);
}

int store_copy_file(store *s, const char *src, const char *dst)
{
	struct stat sb;
	if (stat(dst, &sb) == 0)
		return 0;
	char tmp[4300];
	snprintf(tmp, sizeof tmp, "%s.part", dst);
	FILE *in = fopen(src, "rb");
	if (!in)
		return store_fail(s, NATADV_EIO, "cannot read '%s': %s", src, strerror(errno));
	FILE *out = fopen(tmp, "wb");
	if (!out) {
		fclose(in);
		return store_fail(s, NATADV_EIO, "cannot write '%s': %s", tmp, strerror(errno));
	}
	char chunk[1 << 16];
	size_t n;
	int rc = 0;
	while (!rc && (n = fread(chunk, 1, sizeof chunk, in)) > 0)
		if (fwrite(chunk, 1, n, out) != n)
			rc = NATADV_EIO;
	if (!rc && (ferror(in) || fflush(out) || fsync(fileno(out))))
		rc = NATADV_EIO;
	int err = errno;
	fclose(in);
	if (fclose(out) && !rc) {
		rc = NATADV_EIO;
		err = errno;
	}
	if (!rc && rename(tmp, dst) != 0) {
		rc = NATADV_EIO;
		err = errno;
	}
	if (rc) {
		unlink(tmp);
		return store_fail(s, rc, "cannot copy '%s' to '%s': %s", src, dst, strerror(err));
	}
	return 0;
}

int store_model_import(store *s, int64_t run_id, const char *path, const store_model *m)
{
	int rc = check_name(s, m->name);
	if (rc)
		return rc;
	if (!m->id || strlen(m->id) != 64 || strspn(m->id, "0123456789abcdef") != 64)
		return store_fail(s, NATADV_EINVAL, "a model's id is the SHA-256 of its weights in lower-case hex");
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/models", s->dir);
	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		return store_fail(s, NATADV_EIO, "cannot create '%s': %s", dir, strerror(errno));
	buf dst;
	buf_init(&dst, 8192);
	rc = store_model_path(s, m->id, &dst);
	if (rc)
		rc = store_fail(s, rc, "model path too long");
	if (!rc)
		rc = store_copy_file(s, path, buf_cstr(&dst));
	buf_release(&dst);
	return rc ? rc : store_model_add(s, run_id, m);
}

int store_unscored_scan(store *s, const char *model_id, const char *after, int limit,
                        void (*cb)(void *ctx, const char *hash), void *ctx)
{
	sqlite3_stmt *st = store_stmt(s, ST_UNSCORED,
		"SELECT i.hash FROM images i WHERE i.hash > ?1 AND NOT EXISTS "
		"(SELECT 1 FROM scores c WHERE c.image_hash = i.hash AND c.model_id = ?2) "
		"AND NOT EXISTS (SELECT 1 FROM split_images x WHERE x.image_hash = i.hash AND x.model_id = ?2) "
		"ORDER BY i.hash LIMIT ?3");
	if (!st)
		return -NATADV_EDB;
	store_bind_text(st, 1, after ? after : "");
	store_bind_text(st, 2, model_id);
	sqlite3_bind_int(st, 3, limit);
	int n = 0, step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		cb(ctx, (const char *)sqlite3_column_text(st, 0));
		n++;
	}
	if (step != SQLITE_DONE) {
		store_dberr(s, "cannot read images");
		return -NATADV_EDB;
	}
	sqlite3_reset(st);
	return n;
}

int store_count_unscored(store *s, const char *model_id, int64_t *n)
{
	sqlite3_stmt *st = store_stmt(s, ST_COUNT_UNSCORED,
		"SELECT count(*) FROM images i WHERE NOT EXISTS "
		"(SELECT 1 FROM scores c WHERE c.image_hash = i.hash AND c.model_id = ?1) "
		"AND NOT EXISTS (SELECT 1 FROM split_images x WHERE x.image_hash = i.hash AND x.model_id = ?1)");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, model_id);
	if (sqlite3_step(st) != SQLITE_ROW)
		return store_dberr(s, "cannot count images");
	*n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

int store_image_classes(store *s, const char *hash, void (*cb)(void *ctx, const char *wnid), void *ctx)
{
	sqlite3_stmt *st = store_stmt(s, ST_IMAGE_TAGS,
		"SELECT DISTINCT wnid FROM image_tags WHERE image_hash = ? ORDER BY wnid");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, hash);
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW)
		cb(ctx, (const char *)sqlite3_column_text(st, 0));
	if (step != SQLITE_DONE)
		return store_dberr(s, "cannot read image tags");
	sqlite3_reset(st);
	return 0;
}

int store_score_put(store *s, const store_score *sc, const store_score_tag *tags, int ntags)
{
	char now[32];
	time_iso(time_now(), now);
	sqlite3_stmt *st = store_stmt(s, ST_SCORE_PUT,
		"INSERT INTO scores(image_hash, model_id, status, error, logits, top5, pred_1k, prob_1k, "
		"pred_subset_wnid, prob_subset, fast_decode, scored_at, run_id) "
		"VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, sc->image_hash);
	store_bind_text(st, 2, sc->model_id);
	store_bind_text(st, 3, sc->error ? "unscorable" : "scored");
	store_bind_text(st, 4, sc->error);
	if (sc->logits) {
		/* float32 as stored in memory; every machine natadv builds on is little-endian */
		sqlite3_bind_blob(st, 5, sc->logits, (int)(sizeof(float) * (size_t)sc->classes), SQLITE_TRANSIENT);
		store_bind_text(st, 6, sc->top5_json);
		sqlite3_bind_int(st, 7, sc->pred_1k);
		sqlite3_bind_double(st, 8, sc->prob_1k);
		store_bind_text(st, 9, sc->pred_subset_wnid);
		if (sc->pred_subset_wnid)
			sqlite3_bind_double(st, 10, sc->prob_subset);
	}
	sqlite3_bind_int(st, 11, sc->fast_decode);
	store_bind_text(st, 12, now);
	sqlite3_bind_int64(st, 13, sc->run_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot record score");
	for (int i = 0; i < ntags; i++) {
		st = store_stmt(s, ST_SCORE_TAG_PUT,
			"INSERT INTO score_tags(image_hash, model_id, wnid, p_1k, p_subset) VALUES(?, ?, ?, ?, ?) "
			"ON CONFLICT DO NOTHING");
		if (!st)
			return NATADV_EDB;
		store_bind_text(st, 1, sc->image_hash);
		store_bind_text(st, 2, sc->model_id);
		store_bind_text(st, 3, tags[i].wnid);
		if (tags[i].p_1k >= 0)
			sqlite3_bind_double(st, 4, tags[i].p_1k);
		if (tags[i].p_subset >= 0)
			sqlite3_bind_double(st, 5, tags[i].p_subset);
		if (sqlite3_step(st) != SQLITE_DONE)
			return store_dberr(s, "cannot record score");
	}
	return 0;
}
