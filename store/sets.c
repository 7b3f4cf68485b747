/* sets.c — class sets beyond the built-in lists: reading a set's members with
 * their ImageNet-1K logit index, listing sets, and `classes add-set`, which
 * derives a new versioned set from another one. */
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/timeutil.h"

/* Checks that set exists: 0, NATADV_ENOTFOUND or NATADV_EDB. */
static int set_exists(store *s, const char *set)
{
	sqlite3_stmt *st = store_sql(s, "SELECT 1 FROM class_sets WHERE name = ?");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, set);
	int step = sqlite3_step(st);
	sqlite3_reset(st);
	if (step == SQLITE_ROW)
		return 0;
	if (step == SQLITE_DONE)
		return store_fail(s, NATADV_ENOTFOUND, "no class set '%s' (see 'natadv classes --sets')", set);
	return store_dberr(s, "cannot read class sets");
}

int store_set_members(store *s, const char *set, store_member **out, int *n)
{
	*out = NULL;
	*n = 0;
	int rc = set_exists(s, set);
	if (rc)
		return rc;
	sqlite3_stmt *st = store_sql(s,
		"SELECT m.set_index, c.wnid, coalesce(c.index_1k, -1), c.names FROM class_set_members m "
		"JOIN classes c ON c.wnid = m.wnid WHERE m.set_name = ? ORDER BY m.set_index");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, set);
	store_member *v = NULL;
	int len = 0, cap = 0, step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? 2 * cap : 256;
			store_member *grown = realloc(v, sizeof *v * (size_t)cap);
			if (!grown) {
				free(v);
				sqlite3_reset(st);
				return store_fail(s, NATADV_ENOMEM, "out of memory");
			}
			v = grown;
		}
		store_member *m = &v[len++];
		const char *names = (const char *)sqlite3_column_text(st, 3);
		size_t first = strcspn(names, ",");
		m->set_index = sqlite3_column_int64(st, 0);
		snprintf(m->wnid, sizeof m->wnid, "%s", (const char *)sqlite3_column_text(st, 1));
		m->index_1k = sqlite3_column_int64(st, 2);
		snprintf(m->name, sizeof m->name, "%.*s", (int)first, names);
	}
	sqlite3_reset(st);
	if (step != SQLITE_DONE) {
		free(v);
		return store_dberr(s, "cannot read class set members");
	}
	*out = v;
	*n = len;
	return 0;
}

int store_sets_each(store *s, void (*cb)(void *ctx, const store_set_info *i), void *ctx)
{
	sqlite3_stmt *st = store_sql(s,
		"SELECT cs.name, cs.version, cs.created_at, cs.based_on, coalesce(cs.run_id, 0), "
		"(SELECT count(*) FROM class_set_members m WHERE m.set_name = cs.name) "
		"FROM class_sets cs ORDER BY cs.name");
	if (!st)
		return NATADV_EDB;
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		store_set_info i = {
			.name = (const char *)sqlite3_column_text(st, 0),
			.version = (const char *)sqlite3_column_text(st, 1),
			.created_at = (const char *)sqlite3_column_text(st, 2),
			.based_on = (const char *)sqlite3_column_text(st, 3),
			.run_id = sqlite3_column_int64(st, 4),
			.members = sqlite3_column_int64(st, 5),
		};
		cb(ctx, &i);
	}
	sqlite3_reset(st);
	return step == SQLITE_DONE ? 0 : store_dberr(s, "cannot read class sets");
}

/* A set name becomes a release's folder name: keep it to a safe alphabet. */
static int valid_set_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 64 || name[0] == '.' || name[0] == '-')
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int cmp_wnid(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Checks one wnid to add: known, in ImageNet-1K. */
static int check_added(store *s, const char *wnid)
{
	sqlite3_stmt *st = store_sql(s, "SELECT index_1k FROM classes WHERE wnid = ?");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, wnid);
	int step = sqlite3_step(st);
	int outside = step == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_NULL;
	sqlite3_reset(st);
	if (step == SQLITE_DONE)
		return store_fail(s, NATADV_EINVAL, "unknown wnid '%s'", wnid);
	if (step != SQLITE_ROW)
		return store_dberr(s, "cannot read classes");
	if (outside)
		return store_fail(s, NATADV_EINVAL, "'%s' is not an ImageNet-1K class (a model has no logit for it)", wnid);
	return 0;
}

int store_set_add(store *s, int64_t run_id, const char *name, const char *version, const char *from,
                  const char *const *add, int nadd)
{
	if (!valid_set_name(name))
		return store_fail(s, NATADV_EINVAL,
		                  "bad set name '%s': use 1 to 64 letters, digits, '.', '_' or '-', not starting with '.' or '-'",
		                  name);
	store_member *base = NULL;
	int nbase = 0, rc = 0;
	const char **all = NULL;
	if (from && (rc = store_set_members(s, from, &base, &nbase)) != 0)
		return rc;
	int total = nbase + nadd;
	all = malloc(sizeof *all * (size_t)(total ? total : 1));
	if (!all) {
		rc = store_fail(s, NATADV_ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < nbase; i++)
		all[i] = base[i].wnid;
	for (int i = 0; i < nadd; i++) {
		if ((rc = check_added(s, add[i])) != 0)
			goto out;
		for (int j = 0; j < nbase + i; j++) {
			if (strcmp(all[j], add[i]) == 0) {
				rc = j < nbase ? store_fail(s, NATADV_EINVAL, "'%s' is already a class of '%s'", add[i], from)
				               : store_fail(s, NATADV_EINVAL, "'%s' is given twice", add[i]);
				goto out;
			}
		}
		all[nbase + i] = add[i];
	}
	if (total == 0) {
		rc = store_fail(s, NATADV_EINVAL, "a class set needs at least one class");
		goto out;
	}
	/* ImageFolder labels class folders by sorted name: number members so. */
	qsort(all, (size_t)total, sizeof *all, cmp_wnid);
	if ((rc = store_begin(s)) != 0)
		goto out;
	char now[32];
	time_iso(time_now(), now);
	sqlite3_stmt *st = store_sql(s,
		"INSERT INTO class_sets(name, version, created_at, run_id, based_on) VALUES(?, ?, ?, ?, ?) "
		"ON CONFLICT(name) DO NOTHING");
	if (!st) {
		rc = NATADV_EDB;
		goto out;
	}
	store_bind_text(st, 1, name);
	store_bind_text(st, 2, version);
	store_bind_text(st, 3, now);
	if (run_id)
		sqlite3_bind_int64(st, 4, run_id);
	store_bind_text(st, 5, from);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = store_dberr(s, "cannot add class set");
		goto out;
	}
	if (sqlite3_changes(s->db) == 0) {
		rc = store_fail(s, NATADV_EEXIST, "a class set named '%s' exists", name);
		goto out;
	}
	for (int i = 0; i < total; i++) {
		st = store_sql(s, "INSERT INTO class_set_members(set_name, set_index, wnid) VALUES(?, ?, ?)");
		if (!st) {
			rc = NATADV_EDB;
			goto out;
		}
		store_bind_text(st, 1, name);
		sqlite3_bind_int(st, 2, i);
		store_bind_text(st, 3, all[i]);
		if (sqlite3_step(st) != SQLITE_DONE) {
			rc = store_dberr(s, "cannot add class set member");
			goto out;
		}
	}
	rc = store_commit(s);
out:
	if (rc)
		store_rollback(s);
	free(all);
	free(base);
	return rc;
}
