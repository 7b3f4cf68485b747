/* manifest.c — a release's manifest.jsonl as a seed list with expected
 * content hashes. The packager reads and checks the file (pkg_manifest_read,
 * pkg_manifest_check); here each URL is normalised as the crawler queues it
 * and the set's classes are taken from classes.tsv beside it or from the
 * lines. Reading checks every line before anything is written, so a bad
 * manifest leaves the workspace as it was. */
#include "rebuild/rebuild.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strpool.h"
#include "common/buf.h"
#include "common/err.h"
#include "crawler/url.h"

struct rebuild_priv {
	pkg_manifest *pm;   /* the lines; items point into it */
	strpool owned;      /* normalised URLs, host keys and the other strings we made */
	pkg_class_row *rows;  /* classes.tsv's; members' wnids point into them */
};

/* Keeps s (a malloc'd string) until the manifest is freed; NULL on OOM. */
static char *own(rebuild_manifest *m, char *s)
{
	return strpool_own(&m->priv->owned, s);
}

void rebuild_manifest_free(rebuild_manifest *m)
{
	if (!m)
		return;
	if (m->priv) {
		pkg_manifest_free(m->priv->pm);
		strpool_release(&m->priv->owned);
		free(m->priv->rows);
		free(m->priv);
	}
	free(m->items);
	free(m->members);
	free(m);
}

/* Normalises every line's URL as the crawler queues it; no URL twice. */
static int read_urls(rebuild_manifest *m, char *err, size_t errlen)
{
	buf norm, host;
	buf_init(&norm, URL_MAX_LEN + 64);
	buf_init(&host, URL_MAX_LEN + 64);
	const char **keys = malloc(((size_t)m->n + 1) * sizeof *keys);
	int rc = keys ? 0 : NATADV_ENOMEM;
	for (int i = 0; !rc && i < m->n; i++) {
		rebuild_item *it = &m->items[i];
		char why[512];
		buf_reset(&norm);
		buf_reset(&host);
		if (url_check(it->src->url, &norm, &host, why, sizeof why) != 0) {
			natadv_errf(err, errlen, "cannot read '%s' line %ld: 'url': %s", m->path, it->src->line, why);
			rc = NATADV_EFORMAT;
			break;
		}
		it->norm_url = own(m, strdup(buf_cstr(&norm)));
		it->host = own(m, strdup(buf_cstr(&host)));
		if (!it->norm_url || !it->host)
			rc = NATADV_ENOMEM;
		keys[i] = it->norm_url;
	}
	if (rc == NATADV_ENOMEM)
		natadv_errf(err, errlen, "cannot read '%s': out of memory", m->path);
	if (!rc)
		rc = pkg_manifest_unique(m->priv->pm, keys, "url", m->path, err, errlen);
	free(keys);
	buf_release(&norm);
	buf_release(&host);
	return rc;
}

static int by_wnid(const void *a, const void *b)
{
	return strcmp(((const store_set_member *)a)->wnid, ((const store_set_member *)b)->wnid);
}

static int by_index(const void *a, const void *b)
{
	int64_t x = ((const store_set_member *)a)->index, y = ((const store_set_member *)b)->index;
	return x < y ? -1 : x > y;
}

/* Index of wnid in the wnid-sorted members, or -1. */
static int find_member(const store_set_member *mem, int n, const char *wnid)
{
	store_set_member key = {0, wnid};
	const store_set_member *hit = bsearch(&key, mem, (size_t)n, sizeof *mem, by_wnid);
	return hit ? (int)(hit - mem) : -1;
}

/* The directory part of path plus name, into out. */
static void beside(const char *path, const char *name, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	if (slash)
		snprintf(out, cap, "%.*s/%s", (int)(slash - path), path, name);
	else
		snprintf(out, cap, "%s", name);
}

/* classes.tsv beside the manifest (pkg_classes_read): the whole set.
 * Returns 0 with m->members filled, 0 with nothing when there is no such
 * file, or an error. */
static int read_classes_tsv(rebuild_manifest *m, char *err, size_t errlen)
{
	char path[PATH_MAX + 32];
	beside(m->path, "classes.tsv", path, sizeof path);
	FILE *probe = fopen(path, "rb");
	if (!probe)
		return 0;
	fclose(probe);
	int n;
	int rc = pkg_classes_read(path, &m->priv->rows, &n, NULL, err, errlen);
	if (rc)
		return rc;
	m->members = malloc((size_t)n * sizeof *m->members);
	if (!m->members)
		return NATADV_ENOMEM;
	for (int i = 0; i < n; i++)
		m->members[i] = (store_set_member){m->priv->rows[i].label, m->priv->rows[i].wnid};
	m->nmembers = n;
	qsort(m->members, (size_t)m->nmembers, sizeof *m->members, by_wnid);
	for (int i = 1; i < m->nmembers; i++) {
		if (strcmp(m->members[i].wnid, m->members[i - 1].wnid) == 0) {
			natadv_errf(err, errlen, "cannot read '%s': class '%s' listed twice", path, m->members[i].wnid);
			return NATADV_EFORMAT;
		}
	}
	m->members_exact = 1;
	return 0;
}

/* The set's classes: classes.tsv's, with every line's (label, wnid) among
 * them, or else the distinct (label, wnid) pairs of the lines. Leaves
 * members sorted by label. */
static int read_members(rebuild_manifest *m, char *err, size_t errlen)
{
	char tsv[PATH_MAX + 32];
	beside(m->path, "classes.tsv", tsv, sizeof tsv);
	int rc = read_classes_tsv(m, err, errlen);
	if (rc)
		return rc;
	if (!m->members_exact) {
		m->members = malloc((size_t)m->n * sizeof *m->members);
		if (!m->members)
			return NATADV_ENOMEM;
	}
	for (int i = 0; i < m->n; i++) {
		const pkg_manifest_item *it = m->items[i].src;
		int k = find_member(m->members, m->nmembers, it->wnid);
		if (k < 0 && m->members_exact) {
			natadv_errf(err, errlen, "cannot read '%s' line %ld: class '%s' is not in '%s'", m->path, it->line,
			            it->wnid, tsv);
			return NATADV_EFORMAT;
		}
		if (k >= 0 && m->members[k].index != it->label) {
			natadv_errf(err, errlen, "cannot read '%s' line %ld: class '%s' has label %lld, %s says %lld", m->path,
			            it->line, it->wnid, (long long)it->label, m->members_exact ? tsv : "an earlier line",
			            (long long)m->members[k].index);
			return NATADV_EFORMAT;
		}
		if (k < 0) {
			m->members[m->nmembers++] = (store_set_member){it->label, it->wnid};
			qsort(m->members, (size_t)m->nmembers, sizeof *m->members, by_wnid);
		}
	}
	qsort(m->members, (size_t)m->nmembers, sizeof *m->members, by_index);
	for (int i = 1; i < m->nmembers; i++) {
		if (m->members[i].index == m->members[i - 1].index) {
			natadv_errf(err, errlen, "cannot read '%s': classes '%s' and '%s' both have label %lld",
			            m->members_exact ? tsv : m->path, m->members[i - 1].wnid, m->members[i].wnid,
			            (long long)m->members[i].index);
			return NATADV_EFORMAT;
		}
	}
	return 0;
}

/* FOLDER.tar's SHA-256 from SHA256SUMS beside the manifest, if listed (a
 * missing or malformed SHA256SUMS only means there is none to compare). */
static void read_tar_sum(rebuild_manifest *m)
{
	char path[PATH_MAX + 32], name[600];
	beside(m->path, "SHA256SUMS", path, sizeof path);
	snprintf(name, sizeof name, "%s.tar", pkg_folder_name(m->set));
	pkg_sums sums;
	if (pkg_sums_read(path, &sums, NULL, 0) == 0) {
		const pkg_sum *e = pkg_sums_find(&sums, name);
		if (e)
			memcpy(m->tar_sha256, e->sha256, sizeof m->tar_sha256);
	}
	pkg_sums_release(&sums);
}

/* The checked lines as rebuild's items. */
static int take_lines(rebuild_manifest *m, char *err, size_t errlen)
{
	pkg_manifest_release rel;
	const pkg_manifest *pm = m->priv->pm;
	int rc = pkg_manifest_check(pm, m->path, &rel, err, errlen);
	if (rc)
		return rc;
	m->items = calloc((size_t)pm->n, sizeof *m->items);
	if (!m->items) {
		natadv_errf(err, errlen, "cannot read '%s': out of memory", m->path);
		return NATADV_ENOMEM;
	}
	for (int i = 0; i < pm->n; i++)
		m->items[i].src = &pm->items[i];
	m->n = pm->n;
	memcpy(m->sha256, pm->sha256, sizeof m->sha256);
	m->set = rel.set;
	m->version = rel.version;
	m->released_at = rel.released_at;
	m->released_unix = rel.released_unix;
	return 0;
}

int rebuild_manifest_read(const char *path, rebuild_manifest **out, char *err, size_t errlen)
{
	*out = NULL;
	rebuild_manifest *m = calloc(1, sizeof *m);
	if (!m || !(m->priv = calloc(1, sizeof *m->priv))) {
		free(m);
		natadv_errf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	m->path = own(m, strdup(path));
	char real[PATH_MAX];
	m->abspath = own(m, strdup(realpath(path, real) ? real : path));
	int rc = m->path && m->abspath ? 0 : NATADV_ENOMEM;
	if (rc)
		natadv_errf(err, errlen, "out of memory");
	if (!rc)
		rc = pkg_manifest_read(path, &m->priv->pm, err, errlen);
	if (!rc)
		rc = take_lines(m, err, errlen);
	if (!rc)
		rc = read_urls(m, err, errlen);
	if (!rc)
		rc = read_members(m, err, errlen);
	if (rc == NATADV_ENOMEM)
		natadv_errf(err, errlen, "cannot read '%s': out of memory", path);
	if (!rc)
		read_tar_sum(m);
	if (rc) {
		rebuild_manifest_free(m);
		return rc;
	}
	*out = m;
	return 0;
}
