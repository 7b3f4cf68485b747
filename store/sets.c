/* sets.c — class sets beyond the built-in lists: reading a set's members with
 * their ImageNet-1K logit index, listing sets, `classes add-set`, which
 * derives a new versioned set from another one, and the set a release
 * manifest names (compared or created by `rebuild`). */
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/timeutil.h"
#include "common/wordnet.h"

struct members {
	store_member *v;
	size_t len, cap;
};

static int add_member(void *ctx, const store_class *c)
{
	struct members *ms = ctx;
	store_member *v = array_grow(ms->v, ms->len, &ms->cap, sizeof *v);
	if (!v)
		return NATADV_ENOMEM;
	ms->v = v;
	store_member *m = &v[ms->len++];
	m->set_index = c->index;
	snprintf(m->wnid, sizeof m->wnid, "%s", c->wnid);
	m->index_1k = c->index_1k;
	snprintf(m->name, sizeof m->name, "%.*s", (int)strcspn(c->names, ","), c->names);
	return 0;
}

int store_set_members(store *s, const char *set, store_member **out, int *n)
{
	*out = NULL;
	*n = 0;
	struct members ms = {0};
	int rc = store_classes_each(s, set, add_member, &ms);
	if (rc) {
		free(ms.v);
		return rc == NATADV_ENOMEM ? store_fail(s, rc, "out of memory") : rc;
	}
	*out = ms.v;
	*n = (int)ms.len;
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

/* Adds class set name with members wnid[i] at label[i] (label NULL: at i),
 * in the open transaction. NATADV_EEXIST when the name is taken. */
static int insert_set(store *s, int64_t run_id, const char *name, const char *version, const char *based_on,
                      const char *const *wnid, const int64_t *label, int n)
{
	char now[32];
	time_iso(time_now(), now);
	sqlite3_stmt *st = store_sql(s,
		"INSERT INTO class_sets(name, version, created_at, run_id, based_on) VALUES(?, ?, ?, ?, ?) "
		"ON CONFLICT(name) DO NOTHING");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, name);
	store_bind_text(st, 2, version);
	store_bind_text(st, 3, now);
	if (run_id)
		sqlite3_bind_int64(st, 4, run_id);
	store_bind_text(st, 5, based_on);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot add class set");
	if (sqlite3_changes(s->db) == 0)
		return store_fail(s, NATADV_EEXIST, "a class set named '%s' exists", name);
	for (int i = 0; i < n; i++) {
		st = store_sql(s, "INSERT INTO class_set_members(set_name, set_index, wnid) VALUES(?, ?, ?)");
		if (!st)
			return NATADV_EDB;
		store_bind_text(st, 1, name);
		sqlite3_bind_int64(st, 2, label ? label[i] : i);
		store_bind_text(st, 3, wnid[i]);
		if (sqlite3_step(st) != SQLITE_DONE)
			return store_dberr(s, "cannot add class set member");
	}
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
	int ood = 0;
	if (from && ((rc = store_set_is_ood(s, from, &ood)) != 0 ||
	             (rc = store_set_members(s, from, &base, &nbase)) != 0))
		return rc;
	if (ood)
		return store_fail(s, NATADV_EINVAL, "'%s' is an out-of-distribution set: its classes have no logit", from);
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
	if ((rc = insert_set(s, run_id, name, version, from, all, NULL, total)) != 0)
		goto out;
	rc = store_commit(s);
out:
	if (rc)
		store_rollback(s);
	free(all);
	free(base);
	return rc;
}

static int count_member(void *ctx, const store_class *c)
{
	(void)c;
	(*(int64_t *)ctx)++;
	return 0;
}

int store_set_compare(store *s, const char *set, const store_set_member *m, int n, int exact, int64_t *size)
{
	int64_t members = 0;
	int rc = store_classes_each(s, set, count_member, &members);
	if (rc)
		return rc;
	if (size)
		*size = members;
	sqlite3_stmt *st;
	int step;
	for (int i = 0; i < n; i++) {
		st = store_sql(s, "SELECT set_index FROM class_set_members WHERE set_name = ? AND wnid = ?");
		if (!st)
			return NATADV_EDB;
		store_bind_text(st, 1, set);
		store_bind_text(st, 2, m[i].wnid);
		step = sqlite3_step(st);
		if (step == SQLITE_DONE)
			return store_fail(s, NATADV_EEXIST, "class set '%s' exists without class '%s'", set, m[i].wnid);
		if (step != SQLITE_ROW)
			return store_dberr(s, "cannot read class sets");
		int64_t index = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (index != m[i].index)
			return store_fail(s, NATADV_EEXIST, "class set '%s' exists with '%s' at label %lld, not %lld", set,
			                  m[i].wnid, (long long)index, (long long)m[i].index);
	}
	if (exact && members != n)
		return store_fail(s, NATADV_EEXIST, "class set '%s' exists with %lld classes, not %d", set,
		                  (long long)members, n);
	return 0;
}

int store_set_create(store *s, int64_t run_id, const char *set, const store_set_member *m, int n)
{
	const char **wnid = malloc(sizeof *wnid * (size_t)(n ? n : 1));
	int64_t *label = malloc(sizeof *label * (size_t)(n ? n : 1));
	int rc;
	if (!wnid || !label) {
		rc = store_fail(s, NATADV_ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		wnid[i] = m[i].wnid;
		label[i] = m[i].index;
	}
	rc = insert_set(s, run_id, set, "1", NULL, wnid, label, n);
out:
	free(wnid);
	free(label);
	return rc;
}

/* ---- out-of-distribution source sets ---- */

int store_set_is_ood(store *s, const char *set, int *ood)
{
	*ood = 0;
	sqlite3_stmt *st = store_sql(s, "SELECT ood FROM class_sets WHERE name = ?");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, set);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*ood = sqlite3_column_int(st, 0) != 0;
	sqlite3_reset(st);
	if (step == SQLITE_DONE)
		return store_fail(s, NATADV_ENOTFOUND, "no class set '%s'", set);
	return step == SQLITE_ROW ? 0 : store_dberr(s, "cannot read class sets");
}

int store_wordnet_mark(store *s, wordnet *wn)
{
	store_member *k1 = NULL;
	int n = 0, rc = store_set_members(s, "imagenet-1k", &k1, &n);
	if (rc)
		return rc;
	const char **wnids = malloc(sizeof *wnids * (size_t)(n ? n : 1));
	if (!wnids) {
		free(k1);
		return store_fail(s, NATADV_ENOMEM, "out of memory");
	}
	for (int i = 0; i < n; i++)
		wnids[i] = k1[i].wnid;
	char err[512];
	rc = wordnet_mark_in_dist(wn, wnids, n, err, sizeof err);
	if (rc)
		store_fail(s, rc, "%s", err);
	free(wnids);
	free(k1);
	return rc;
}

/* The rule of OOD classes for one wnid (wn marked by store_wordnet_mark). */
static int check_ood(store *s, const wordnet *wn, const char *wnid, int *syn)
{
	static const char *const how[] = {
		[WORDNET_IN_DIST] = "is an ImageNet-1K class",
		[WORDNET_ANCESTOR] = "is an ancestor of ImageNet-1K class",
		[WORDNET_DESCENDANT] = "is a descendant of ImageNet-1K class",
	};
	*syn = wordnet_find(wn, wnid);
	if (*syn < 0)
		return store_fail(s, NATADV_EINVAL, "'%s' is not a WordNet 3.0 noun synset", wnid);
	int o;
	wordnet_relation r = wordnet_judge(wn, *syn, &o);
	if (r == WORDNET_USABLE)
		return 0;
	char first[64], other[64];
	snprintf(first, sizeof first, "%.*s", (int)strcspn(wordnet_names(wn, *syn), ","), wordnet_names(wn, *syn));
	snprintf(other, sizeof other, "%.*s", (int)strcspn(wordnet_names(wn, o), ","), wordnet_names(wn, o));
	if (r == WORDNET_IN_DIST)
		return store_fail(s, NATADV_EINVAL, "'%s' (%s) %s: not out of distribution", wnid, first, how[r]);
	return store_fail(s, NATADV_EINVAL, "'%s' (%s) %s '%s' (%s): not out of distribution", wnid, first, how[r],
	                  wordnet_wnid(wn, o), other);
}

int store_ood_class_put(store *s, const wordnet *wn, const char *wnid)
{
	int syn, rc = check_ood(s, wn, wnid, &syn);
	if (rc)
		return rc;
	/* The rule held, so a class of that wnid already stored is this OOD class (an earlier set's). */
	sqlite3_stmt *st = store_sql(s, "INSERT INTO classes(wnid, index_1k, names) VALUES(?, NULL, ?) "
	                                "ON CONFLICT(wnid) DO NOTHING");
	if (!st)
		return NATADV_EDB;
	store_bind_text(st, 1, wnid);
	store_bind_text(st, 2, wordnet_names(wn, syn));
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_dberr(s, "cannot add class");
	return 0;
}

int store_set_add_ood(store *s, int64_t run_id, const char *name, const char *version, wordnet *wn,
                      const char *const *add, int nadd)
{
	if (!valid_set_name(name))
		return store_fail(s, NATADV_EINVAL,
		                  "bad set name '%s': use 1 to 64 letters, digits, '.', '_' or '-', not starting with '.' or '-'",
		                  name);
	if (nadd == 0)
		return store_fail(s, NATADV_EINVAL, "a class set needs at least one class");
	int rc = store_wordnet_mark(s, wn);
	if (rc)
		return rc;
	const char **all = malloc(sizeof *all * (size_t)nadd);
	if (!all)
		return store_fail(s, NATADV_ENOMEM, "out of memory");
	for (int i = 0; i < nadd; i++) {
		all[i] = add[i];
		for (int j = 0; j < i; j++)
			if (strcmp(add[j], add[i]) == 0) {
				rc = store_fail(s, NATADV_EINVAL, "'%s' is given twice", add[i]);
				goto out;
			}
	}
	qsort(all, (size_t)nadd, sizeof *all, cmp_wnid);
	if ((rc = store_begin(s)) != 0)
		goto out;
	for (int i = 0; i < nadd && !rc; i++)
		rc = store_ood_class_put(s, wn, all[i]);
	if (!rc)
		rc = insert_set(s, run_id, name, version, NULL, all, NULL, nadd);
	if (!rc) {
		sqlite3_stmt *st = store_sql(s, "UPDATE class_sets SET ood = 1 WHERE name = ?");
		if (!st)
			rc = NATADV_EDB;
		else {
			store_bind_text(st, 1, name);
			if (sqlite3_step(st) != SQLITE_DONE)
				rc = store_dberr(s, "cannot add class set");
		}
	}
	if (!rc)
		rc = store_commit(s);
out:
	if (rc)
		store_rollback(s);
	free(all);
	return rc;
}
