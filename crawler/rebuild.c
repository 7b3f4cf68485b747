/* rebuild.c — a release's manifest.jsonl as a seed list with expected
 * content hashes. Reading checks every line before anything is written, so
 * a bad manifest leaves the workspace as it was; queueing and the selection
 * are idempotent, so a killed rebuild run again continues where it stopped.
 * The manifest's format is the export's (see CONTRACTS.md: release layout). */
#include "crawler/rebuild.h"

#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/sha256.h"
#include "common/text.h"
#include "crawler/url.h"
#include "packager/packager.h"

#define BATCH_ROWS 5000
#define MAX_SUMS ((size_t)64 << 20)

struct rebuild_priv {
	json_t **lines;     /* each line's object; items' strings point into them */
	char **owned;       /* normalised URLs, host keys and the other strings we made */
	size_t nowned, capowned;
};

/* Keeps s (a malloc'd string) until the manifest is freed; NULL on OOM. */
static char *own(rebuild_manifest *m, char *s)
{
	struct rebuild_priv *p = m->priv;
	if (!s)
		return NULL;
	if (p->nowned == p->capowned) {
		size_t cap = p->capowned ? 2 * p->capowned : 64;
		char **n = realloc(p->owned, cap * sizeof *n);
		if (!n) {
			free(s);
			return NULL;
		}
		p->owned = n;
		p->capowned = cap;
	}
	p->owned[p->nowned++] = s;
	return s;
}

void rebuild_manifest_free(rebuild_manifest *m)
{
	if (!m)
		return;
	if (m->priv) {
		for (int i = 0; i < m->n; i++)
			json_decref(m->priv->lines[i]);
		for (size_t i = 0; i < m->priv->nowned; i++)
			free(m->priv->owned[i]);
		free(m->priv->lines);
		free(m->priv->owned);
		free(m->priv);
	}
	free(m->items);
	free(m->members);
	free(m);
}

/* Parses "YYYY-MM-DDTHH:MM:SS[.fff]Z" as UTC; 0 or -1. */
static int parse_utc(const char *s, int64_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	int used = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	           &tm.tm_sec, &used) != 6 || used != 19)
		return -1;
	const char *p = s + used;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (strcmp(p, "Z") != 0 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

/* Context for the checks of one line: where, and the message buffer. */
struct line_ctx {
	const char *file;
	long line;
	char *err;
	size_t errlen;
};

static int bad(struct line_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(struct line_ctx *c, const char *fmt, ...)
{
	char why[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	natadv_errf(c->err, c->errlen, "cannot read '%s' line %ld: %s", c->file, c->line, why);
	return NATADV_EFORMAT;
}

/* A string field: required ones must be non-empty strings, optional ones
 * strings or null. *out is NULL for an absent optional field. */
static int get_str(struct line_ctx *c, json_t *o, const char *key, int required, const char **out)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return required ? bad(c, "'%s' is missing", key) : 0;
	if (!json_is_string(v))
		return bad(c, "'%s' is not a string", key);
	*out = json_string_value(v);
	if (required && !**out)
		return bad(c, "'%s' is empty", key);
	return 0;
}

static int get_num(struct line_ctx *c, json_t *o, const char *key, double lo, double hi, double *out)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return bad(c, "'%s' is missing", key);
	if (!json_is_number(v))
		return bad(c, "'%s' is not a number", key);
	*out = json_number_value(v);
	if (!(*out >= lo && *out <= hi))
		return bad(c, "'%s' is %g, not from %g to %g", key, *out, lo, hi);
	return 0;
}

/* Checks one parsed line and fills it; the URL is normalised into owned strings. */
static int read_item(rebuild_manifest *m, struct line_ctx *c, json_t *o, rebuild_item *it, buf *norm, buf *host)
{
	int rc;
	it->line = c->line;
	if ((rc = get_str(c, o, "path", 1, &it->path)) || (rc = get_str(c, o, "wnid", 1, &it->wnid)) ||
	    (rc = get_str(c, o, "xxh128", 1, &it->xxh128)) || (rc = get_str(c, o, "url", 1, &it->url)) ||
	    (rc = get_str(c, o, "pred_wnid", 1, &it->pred_wnid)) || (rc = get_str(c, o, "source", 0, &it->source)) ||
	    (rc = get_str(c, o, "query", 0, &it->query)) || (rc = get_str(c, o, "page_url", 0, &it->page_url)) ||
	    (rc = get_str(c, o, "license", 0, &it->license)) ||
	    (rc = get_str(c, o, "license_raw", 0, &it->license_raw)) ||
	    (rc = get_str(c, o, "author", 0, &it->author)) || (rc = get_str(c, o, "title", 0, &it->title)) ||
	    (rc = get_str(c, o, "reviewer", 0, &it->reviewer)) ||
	    (rc = get_str(c, o, "reviewed_at", 0, &it->reviewed_at)) ||
	    (rc = get_num(c, o, "confidence", 0, 1, &it->confidence)) ||
	    (rc = get_num(c, o, "true_prob", 0, 1, &it->true_prob)))
		return rc;
	json_t *label = json_object_get(o, "label");
	if (!json_is_integer(label) || json_integer_value(label) < 0 || json_integer_value(label) > 1000000)
		return bad(c, "'label' is not a whole number from 0");
	it->label = json_integer_value(label);
	if (!text_is_wnid(it->wnid))
		return bad(c, "'wnid' is not a WordNet id like n01498041: '%.60s'", it->wnid);
	if (!text_is_wnid(it->pred_wnid))
		return bad(c, "'pred_wnid' is not a WordNet id like n01498041: '%.60s'", it->pred_wnid);
	if (!text_is_hex(it->xxh128, 32))
		return bad(c, "'xxh128' is not 32 lower-case hex digits");
	const char *sha;
	if ((rc = get_str(c, o, "sha256", 0, &sha)))
		return rc;
	if (sha && !text_is_hex(sha, 64))
		return bad(c, "'sha256' is not 64 lower-case hex digits");

	/* The set, version and release time are the release's: one for all lines. */
	const char *set, *version, *released_at;
	if ((rc = get_str(c, o, "set", 1, &set)) || (rc = get_str(c, o, "version", 1, &version)) ||
	    (rc = get_str(c, o, "released_at", 1, &released_at)))
		return rc;
	if (!m->set) {
		int64_t t;
		if (parse_utc(released_at, &t) != 0)
			return bad(c, "'released_at' is not a UTC time like 2026-11-29T08:42:03Z: '%.60s'", released_at);
		if (strchr(set, '/') || !strcmp(set, ".") || !strcmp(set, ".."))
			return bad(c, "'set' is not a folder name: '%.60s'", set);
		m->set = set;
		m->version = version;
		m->released_at = released_at;
		m->released_unix = t;
	} else if (strcmp(set, m->set) != 0) {
		return bad(c, "'set' is '%.60s', line %ld says '%.60s'", set, m->items[0].line, m->set);
	} else if (strcmp(version, m->version) != 0) {
		return bad(c, "'version' is '%.60s', line %ld says '%.60s'", version, m->items[0].line, m->version);
	} else if (strcmp(released_at, m->released_at) != 0) {
		return bad(c, "'released_at' is '%.60s', line %ld says '%.60s'", released_at, m->items[0].line,
		           m->released_at);
	}
	/* The file name derives from the content hash, inside the class's folder. */
	const char *folder = strcmp(m->set, "imagenet-a") == 0 ? "imagenet-a" : m->set;
	char want[512];
	snprintf(want, sizeof want, "%s/%s/%s.jpg", folder, it->wnid, it->xxh128);
	if (strcmp(it->path, want) != 0)
		return bad(c, "'path' is '%.200s', expected '%s'", it->path, want);

	char why[512];
	buf_reset(norm);
	buf_reset(host);
	if (url_check(it->url, norm, host, why, sizeof why) != 0)
		return bad(c, "'url': %s", why);
	it->norm_url = own(m, strdup(buf_cstr(norm)));
	it->host = own(m, strdup(buf_cstr(host)));
	if (!it->norm_url || !it->host)
		return NATADV_ENOMEM;
	return 0;
}

/* A field's value and its line, sorted to find values used twice. */
struct keyed {
	const char *key;
	long line;
};

static int by_key(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int d = strcmp(x->key, y->key);
	return d ? d : (x->line < y->line ? -1 : x->line > y->line);
}

/* Fails naming the first two lines that share the string field at offset off. */
static int check_unique(rebuild_manifest *m, size_t off, const char *what, char *err, size_t errlen)
{
	struct keyed *v = malloc((size_t)m->n * sizeof *v);
	if (!v)
		return NATADV_ENOMEM;
	for (int i = 0; i < m->n; i++)
		v[i] = (struct keyed){*(const char *const *)((const char *)&m->items[i] + off), m->items[i].line};
	qsort(v, (size_t)m->n, sizeof *v, by_key);
	int rc = 0;
	for (int i = 1; i < m->n && !rc; i++) {
		if (strcmp(v[i - 1].key, v[i].key) == 0) {
			natadv_errf(err, errlen, "cannot read '%s' line %ld: the same %s as line %ld", m->path, v[i].line,
			            what, v[i - 1].line);
			rc = NATADV_EFORMAT;
		}
	}
	free(v);
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
	pkg_class_row *rows;
	int n;
	int rc = pkg_classes_read(path, &rows, &n, err, errlen);
	if (rc)
		return rc;
	/* the members' wnids point into rows, freed with the manifest */
	if (!own(m, (char *)rows))
		return NATADV_ENOMEM;
	m->members = malloc((size_t)n * sizeof *m->members);
	if (!m->members)
		return NATADV_ENOMEM;
	for (int i = 0; i < n; i++)
		m->members[i] = (store_set_member){rows[i].label, rows[i].wnid};
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
		const rebuild_item *it = &m->items[i];
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

/* FOLDER.tar's SHA-256 from SHA256SUMS beside the manifest, if listed. */
static void read_tar_sum(rebuild_manifest *m)
{
	char path[PATH_MAX + 32], name[600];
	beside(m->path, "SHA256SUMS", path, sizeof path);
	snprintf(name, sizeof name, "  %s.tar", strcmp(m->set, "imagenet-a") == 0 ? "imagenet-a" : m->set);
	buf b;
	buf_init(&b, MAX_SUMS);
	if (buf_read_file(&b, path, NULL, 0) == 0) {
		const char *text = buf_cstr(&b);
		for (const char *p = text; *p;) {
			size_t n = strcspn(p, "\n");
			if (n == 64 + strlen(name) && strncmp(p + 64, name, strlen(name)) == 0) {
				snprintf(m->tar_sha256, sizeof m->tar_sha256, "%.64s", p);
				if (!text_is_hex(m->tar_sha256, 64))
					m->tar_sha256[0] = '\0';
			}
			p += n;
			if (*p)
				p++;
		}
	}
	buf_release(&b);
}

/* Splits the manifest text into lines and reads each into m->items. */
static int read_lines(rebuild_manifest *m, char *text, size_t len, char *err, size_t errlen)
{
	size_t cap = 0;
	int rc = 0;
	long line = 0;
	buf norm, host;
	buf_init(&norm, URL_MAX_LEN + 64);
	buf_init(&host, URL_MAX_LEN + 64);
	for (size_t pos = 0; pos < len && !rc;) {
		char *start = text + pos, *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;
		pos += n + (nl ? 1 : 0);
		line++;
		struct line_ctx c = {m->path, line, err, errlen};
		if (strspn(start, " \t\r") >= n)
			continue; /* a blank line */
		json_error_t jerr;
		json_t *o = json_loadb(start, n, JSON_REJECT_DUPLICATES, &jerr);
		if (!o) {
			rc = bad(&c, "not JSON: %s", jerr.text);
			break;
		}
		if (!json_is_object(o)) {
			json_decref(o);
			rc = bad(&c, "not a JSON object");
			break;
		}
		if ((size_t)m->n == cap) {
			cap = cap ? 2 * cap : 256;
			rebuild_item *ni = realloc(m->items, cap * sizeof *ni);
			json_t **nl2 = realloc(m->priv->lines, cap * sizeof *nl2);
			if (ni)
				m->items = ni;
			if (nl2)
				m->priv->lines = nl2;
			if (!ni || !nl2) {
				json_decref(o);
				rc = NATADV_ENOMEM;
				break;
			}
		}
		m->priv->lines[m->n] = o;
		memset(&m->items[m->n], 0, sizeof m->items[0]);
		rc = read_item(m, &c, o, &m->items[m->n], &norm, &host);
		m->n++;
	}
	buf_release(&norm);
	buf_release(&host);
	if (rc == NATADV_ENOMEM)
		natadv_errf(err, errlen, "cannot read '%s': out of memory", m->path);
	if (!rc && m->n == 0) {
		natadv_errf(err, errlen, "cannot read '%s': no images in it", m->path);
		rc = NATADV_EFORMAT;
	}
	return rc;
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
	buf text;
	buf_init(&text, REBUILD_MAX_MANIFEST);
	int rc = m->path && m->abspath ? 0 : NATADV_ENOMEM;
	if (!rc)
		rc = buf_read_file(&text, path, err, errlen);
	if (!rc)
		rc = sha256_hex(text.data, text.len, m->sha256);
	if (!rc)
		rc = read_lines(m, text.data, text.len, err, errlen);
	if (!rc)
		rc = check_unique(m, offsetof(rebuild_item, path), "path", err, errlen);
	if (!rc)
		rc = check_unique(m, offsetof(rebuild_item, xxh128), "xxh128", err, errlen);
	if (!rc)
		rc = check_unique(m, offsetof(rebuild_item, norm_url), "url", err, errlen);
	if (!rc)
		rc = read_members(m, err, errlen);
	if (!rc)
		read_tar_sum(m);
	buf_release(&text);
	if (rc) {
		if (rc == NATADV_ENOMEM)
			natadv_errf(err, errlen, "cannot read '%s': out of memory", path);
		rebuild_manifest_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

/* Whether a class is known; err names the line when it is not. */
static int known(store *s, const rebuild_manifest *m, long line, const char *what, const char *wnid, char *err,
                 size_t errlen)
{
	int k = store_class_known(s, wnid);
	if (k < 0) {
		natadv_errf(err, errlen, "%s", store_errmsg(s));
		return -k;
	}
	if (k)
		return 0;
	if (line)
		natadv_errf(err, errlen, "cannot read '%s' line %ld: unknown %s '%s'", m->path, line, what, wnid);
	else
		natadv_errf(err, errlen, "cannot read '%s': unknown class '%s' in classes.tsv", m->path, wnid);
	return NATADV_EFORMAT;
}

int rebuild_check(store *s, const rebuild_manifest *m, int *set_exists, int *partial, char *err, size_t errlen)
{
	int rc;
	for (int i = 0; i < m->n; i++) {
		const rebuild_item *it = &m->items[i];
		if ((rc = known(s, m, it->line, "wnid", it->wnid, err, errlen)) ||
		    (rc = known(s, m, it->line, "pred_wnid", it->pred_wnid, err, errlen)))
			return rc;
	}
	for (int i = 0; i < m->nmembers; i++)
		if ((rc = known(s, m, 0, "class", m->members[i].wnid, err, errlen)))
			return rc;
	/* Images per class: the lines' distinct wnids are the members with images. */
	int with_images = 0;
	for (int i = 0; i < m->nmembers; i++)
		for (int j = 0; j < m->n; j++)
			if (strcmp(m->items[j].wnid, m->members[i].wnid) == 0) {
				with_images++;
				break;
			}
	int64_t in_set = 0;
	rc = store_set_compare(s, m->set, m->members, m->nmembers, m->members_exact, &in_set);
	*set_exists = rc != NATADV_ENOTFOUND;
	if (rc == NATADV_ENOTFOUND) {
		*partial = with_images < m->nmembers;
		return 0;
	}
	if (rc) {
		natadv_errf(err, errlen, "cannot rebuild '%s' here: %s", m->path, store_errmsg(s));
		return rc;
	}
	*partial = with_images < in_set;
	return 0;
}

int rebuild_queue(store *s, int64_t run_id, const rebuild_manifest *m, int64_t *new_urls, char *err, size_t errlen)
{
	int exists = 0, partial = 0;
	int rc = rebuild_check(s, m, &exists, &partial, err, errlen);
	if (rc)
		return rc;
	const char *base = strrchr(m->path, '/');
	base = base ? base + 1 : m->path;
	int64_t added = 0;
	if ((rc = store_begin(s)) != 0)
		goto dberr;
	if (!exists && (rc = store_set_create(s, run_id, m->set, m->members, m->nmembers)) != 0)
		goto dberr;
	for (int i = 0; i < m->n; i++) {
		const rebuild_item *it = &m->items[i];
		char ref[600];
		snprintf(ref, sizeof ref, "%.500s:%ld", base, it->line);
		store_candidate cand = {
			.url = it->norm_url,
			.host = it->host,
			.wnid = it->wnid,
			.source = it->source ? it->source : "manifest",
			.query = it->query,
			.page_url = it->page_url,
			.license = it->license,
			.author = it->author,
			.title = it->title,
			.license_raw = it->license_raw,
			.seed_ref = ref,
		};
		int new_url = 0;
		if ((rc = store_candidate_add(s, run_id, &cand, &new_url, NULL)) != 0)
			goto dberr;
		added += new_url;
		if ((i + 1) % BATCH_ROWS == 0 && ((rc = store_commit(s)) != 0 || (rc = store_begin(s)) != 0))
			goto dberr;
	}
	if ((rc = store_commit(s)) != 0)
		goto dberr;
	if (new_urls)
		*new_urls = added;
	return 0;
dberr:
	natadv_errf(err, errlen, "cannot queue '%s': %s", m->path, store_errmsg(s));
	store_rollback(s);
	return rc;
}

const char *rebuild_status_name(rebuild_status st)
{
	switch (st) {
	case REBUILD_SAME: return "same";
	case REBUILD_CHANGED: return "changed";
	case REBUILD_VANISHED: return "vanished";
	case REBUILD_PENDING: return "pending";
	}
	return "?";
}

int rebuild_compare(store *s, const rebuild_manifest *m, rebuild_result *r, char *err, size_t errlen)
{
	for (int i = 0; i < m->n; i++) {
		int rc = store_url_outcome_get(s, m->items[i].norm_url, &r[i].url);
		if (rc) {
			natadv_errf(err, errlen, "%s", store_errmsg(s));
			return rc;
		}
		const store_url_outcome *o = &r[i].url;
		if (o->image_hash[0] && strcmp(o->state, "fetched") == 0)
			r[i].status = strcmp(o->image_hash, m->items[i].xxh128) == 0 ? REBUILD_SAME : REBUILD_CHANGED;
		else if (strcmp(o->state, "pending") == 0)
			r[i].status = REBUILD_PENDING;
		else
			r[i].status = REBUILD_VANISHED;
		if (!o->state[0])
			snprintf(r[i].url.error, sizeof r[i].url.error, "not queued");
	}
	return 0;
}

int rebuild_restore(store *s, int64_t run_id, const rebuild_manifest *m, int64_t *selection_id, int *created,
                    char *err, size_t errlen)
{
	int rc = NATADV_ENOMEM;
	store_manifest_item *items = calloc((size_t)m->n, sizeof *items);
	char *reasons = calloc((size_t)m->n, 256);
	json_t *params = json_pack("{s:s, s:s, s:s, s:s}", "manifest", m->abspath, "manifest_sha256", m->sha256,
	                           "version", m->version, "released_at", m->released_at);
	char *ptext = params ? json_dumps(params, JSON_COMPACT) : NULL;
	if (!items || !reasons || !ptext) {
		natadv_errf(err, errlen, "out of memory");
		goto out;
	}
	const char *base = strrchr(m->path, '/');
	base = base ? base + 1 : m->path;
	for (int i = 0; i < m->n; i++) {
		const rebuild_item *it = &m->items[i];
		char *reason = reasons + (size_t)i * 256;
		int n = snprintf(reason, 256, "%.100s line %ld", base, it->line);
		if (it->reviewer && n > 0 && n < 256)
			snprintf(reason + n, 256 - (size_t)n, ": accepted by %.60s%s%.40s", it->reviewer,
			         it->reviewed_at ? " at " : "", it->reviewed_at ? it->reviewed_at : "");
		items[i] = (store_manifest_item){it->xxh128, it->wnid, it->pred_wnid, it->confidence, it->true_prob, reason};
	}
	if ((rc = store_begin(s)) == 0 &&
	    (rc = store_selection_from_manifest(s, run_id, m->set, ptext, items, m->n, "rebuild", selection_id,
	                                        created)) == 0)
		rc = store_commit(s);
	if (rc) {
		natadv_errf(err, errlen, "cannot record the selection of '%s': %s", m->path, store_errmsg(s));
		store_rollback(s);
	}
out:
	free(items);
	free(reasons);
	free(ptext);
	json_decref(params);
	return rc;
}
