/* manifest_read.c — the one reader of a release's manifest.jsonl (the file
 * pkg_manifest_line writes). pkg_manifest_read parses every line and checks
 * each field it knows for its JSON type and form, keeping a malformed line
 * with the reason instead of stopping, so verify can report it;
 * pkg_manifest_check then asks of the whole file what rebuild needs: every
 * line complete and one release (set, version, time) throughout. */
#include "packager/packager.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/strpool.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/sha256.h"
#include "common/text.h"

struct pkg_manifest_priv {
	json_t **objects;  /* each line's object (NULL for a line that is none); items' strings point into them */
	strpool owned;     /* the error messages */
};

void pkg_manifest_free(pkg_manifest *m)
{
	if (!m)
		return;
	if (m->priv) {
		for (int i = 0; i < m->n; i++)
			json_decref(m->priv->objects[i]);
		strpool_release(&m->priv->owned);
		free(m->priv->objects);
		free(m->priv);
	}
	free(m->items);
	free(m);
}

int pkg_parse_utc(const char *s, int64_t *out)
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

/* ---- one line ---- */

/* Why a line is malformed, kept until the manifest is freed; 0 when the
 * message could be kept, NATADV_ENOMEM when not. */
static int line_bad(pkg_manifest *m, pkg_manifest_item *it, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int line_bad(pkg_manifest *m, pkg_manifest_item *it, const char *fmt, ...)
{
	struct pkg_manifest_priv *p = m->priv;
	char why[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	const char *s = strpool_dup(&p->owned, why);
	if (!s)
		return NATADV_ENOMEM;
	it->error = s;
	m->malformed++;
	return 0;
}

/* A listed path must stay inside the release: relative, no "." or "..",
 * no empty component. */
int pkg_path_is_safe(const char *p)
{
	if (!*p || *p == '/' || strstr(p, "//"))
		return 0;
	for (const char *s = p; s; s = strchr(s, '/')) {
		if (*s == '/')
			s++;
		if (!strncmp(s, "..", 2) && (s[2] == '/' || !s[2]))
			return 0;
		if (s[0] == '.' && (s[1] == '/' || !s[1]))
			return 0;
	}
	return 1;
}

/* The string fields, where they live in the item. */
static const struct {
	const char *key;
	size_t off;
} str_fields[] = {
#define F(name) {#name, offsetof(pkg_manifest_item, name)}
	F(path), F(wnid), F(xxh128), F(url), F(pred_wnid), F(sha256), F(source), F(query), F(page_url), F(license),
	F(license_raw), F(author), F(attribution), F(title), F(converted), F(model_id), F(selection_rule), F(reviewer),
	F(reviewed_at), F(set), F(version), F(released_at), F(source_wnid), F(source_name),
#undef F
};

/* Reads the string fields (absent or null: NULL); the first of the wrong
 * type gives its name in *bad_key. */
static void get_strings(json_t *o, pkg_manifest_item *it, const char **bad_key)
{
	*bad_key = NULL;
	for (size_t i = 0; i < sizeof str_fields / sizeof *str_fields; i++) {
		json_t *v = json_object_get(o, str_fields[i].key);
		const char **slot = (const char **)((char *)it + str_fields[i].off);
		*slot = json_is_string(v) ? json_string_value(v) : NULL;
		if (v && !json_is_null(v) && !json_is_string(v) && !*bad_key)
			*bad_key = str_fields[i].key;
	}
}

/* A number field from lo to hi; -1 when absent or null. */
static int get_number(pkg_manifest *m, pkg_manifest_item *it, json_t *o, const char *key, double lo, double hi,
                      int whole, double *out, int *bad)
{
	json_t *v = json_object_get(o, key);
	*out = -1;
	if (*bad || !v || json_is_null(v))
		return 0;
	*bad = 1;
	if (whole && (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi))
		return line_bad(m, it, "'%s' is not a whole number from %.0f", key, lo);
	if (!json_is_number(v))
		return line_bad(m, it, "'%s' is not a number", key);
	*out = json_number_value(v);
	if (!(*out >= lo && *out <= hi))
		return line_bad(m, it, "'%s' is %g, not from %g to %g", key, *out, lo, hi);
	*bad = 0;
	return 0;
}

/* The form of each string field that has one. */
static int check_forms(pkg_manifest *m, pkg_manifest_item *it)
{
	int64_t t;
	if (it->path && !pkg_path_is_safe(it->path))
		return line_bad(m, it, "'path' is not a relative path inside the release: '%.200s'", it->path);
	if (it->wnid && !text_is_wnid(it->wnid))
		return line_bad(m, it, "'wnid' is not a WordNet id like n01498041: '%.60s'", it->wnid);
	if (it->pred_wnid && !text_is_wnid(it->pred_wnid))
		return line_bad(m, it, "'pred_wnid' is not a WordNet id like n01498041: '%.60s'", it->pred_wnid);
	if (it->source_wnid && !text_is_wnid(it->source_wnid))
		return line_bad(m, it, "'source_wnid' is not a WordNet id like n01498041: '%.60s'", it->source_wnid);
	if (it->xxh128 && !text_is_hex(it->xxh128, 32))
		return line_bad(m, it, "'xxh128' is not 32 lower-case hex digits");
	if (it->sha256 && !text_is_hex(it->sha256, 64))
		return line_bad(m, it, "'sha256' is not 64 lower-case hex digits");
	if (it->released_at && pkg_parse_utc(it->released_at, &t) != 0)
		return line_bad(m, it, "'released_at' is not a UTC time like 2026-11-29T08:42:03Z: '%.60s'",
		                it->released_at);
	if (it->set && (!*it->set || strchr(it->set, '/') || !strcmp(it->set, ".") || !strcmp(it->set, "..")))
		return line_bad(m, it, "'set' is not a folder name: '%.60s'", it->set);
	return 0;
}

/* Parses one line into it (its object kept in *obj). */
static int read_line(pkg_manifest *m, pkg_manifest_item *it, const char *text, size_t n, json_t **obj)
{
	json_error_t jerr;
	json_t *o = json_loadb(text, n, JSON_REJECT_DUPLICATES, &jerr);
	*obj = o;
	if (!o)
		return line_bad(m, it, "not JSON: %s", jerr.text);
	if (!json_is_object(o))
		return line_bad(m, it, "not a JSON object");
	const char *bad_key;
	get_strings(o, it, &bad_key);
	if (bad_key)
		return line_bad(m, it, "'%s' is not a string", bad_key);
	double label, bytes;
	int bad = 0, rc;
	if ((rc = get_number(m, it, o, "label", 0, 1000000, 1, &label, &bad)) ||
	    (rc = get_number(m, it, o, "bytes", 0, 9007199254740992.0, 1, &bytes, &bad)) ||
	    (rc = get_number(m, it, o, "confidence", 0, 1, 0, &it->confidence, &bad)) ||
	    (rc = get_number(m, it, o, "true_prob", 0, 1, 0, &it->true_prob, &bad)) ||
	    (rc = get_number(m, it, o, "msp", 0, 1, 0, &it->msp, &bad)) || bad)
		return rc;
	it->label = (int64_t)label;
	it->bytes = (int64_t)bytes;
	return check_forms(m, it);
}

/* Splits the text into lines and reads each non-blank one. */
static int read_lines(pkg_manifest *m, const char *text, size_t len)
{
	size_t cap = 0;
	long line = 0;
	for (size_t pos = 0; pos < len;) {
		const char *start = text + pos, *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;
		pos += n + (nl ? 1 : 0);
		line++;
		size_t blank = 0;
		while (blank < n && strchr(" \t\r", start[blank]))
			blank++;
		if (blank == n)
			continue;
		if ((size_t)m->n == cap) {
			size_t c = cap ? 2 * cap : 256;
			pkg_manifest_item *ni = realloc(m->items, c * sizeof *ni);
			if (ni)
				m->items = ni;
			json_t **no = realloc(m->priv->objects, c * sizeof *no);
			if (no)
				m->priv->objects = no;
			if (!ni || !no)
				return NATADV_ENOMEM;
			cap = c;
		}
		pkg_manifest_item *it = &m->items[m->n];
		memset(it, 0, sizeof *it);
		it->line = line;
		it->label = it->bytes = -1;
		it->confidence = it->true_prob = it->msp = -1;
		int rc = read_line(m, it, start, n, &m->priv->objects[m->n]);
		m->n++;
		if (rc)
			return rc;
	}
	return 0;
}

int pkg_manifest_read(const char *path, pkg_manifest **out, char *err, size_t errlen)
{
	*out = NULL;
	pkg_manifest *m = calloc(1, sizeof *m);
	if (!m || !(m->priv = calloc(1, sizeof *m->priv))) {
		free(m);
		natadv_errf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	buf text;
	buf_init(&text, PKG_MANIFEST_MAX_BYTES);
	int rc = buf_read_file(&text, path, err, errlen);
	if (!rc && (rc = sha256_hex(text.data ? text.data : "", text.len, m->sha256)) != 0)
		natadv_errf(err, errlen, "cannot hash '%s'", path);
	if (!rc && (rc = read_lines(m, text.data ? text.data : "", text.len)) != 0)
		natadv_errf(err, errlen, "cannot read '%s': out of memory", path);
	buf_release(&text);
	if (rc) {
		pkg_manifest_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

/* ---- the whole manifest ---- */

static int bad_at(char *err, size_t errlen, const char *path, long line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int bad_at(char *err, size_t errlen, const char *path, long line, const char *fmt, ...)
{
	char why[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	natadv_errf(err, errlen, "cannot read '%s' line %ld: %s", path, line, why);
	return NATADV_EFORMAT;
}

/* One line complete: what a release's line always has, in one release. */
static int check_complete(const pkg_manifest_item *it, const pkg_manifest_release *rel, long first, const char *path,
                          char *err, size_t errlen)
{
	static const char *const required[] = {"path", "wnid", "xxh128", "url", "pred_wnid"};
	const char *const req_val[] = {it->path, it->wnid, it->xxh128, it->url, it->pred_wnid};
	for (size_t k = 0; k < sizeof required / sizeof *required; k++) {
		if (!req_val[k])
			return bad_at(err, errlen, path, it->line, "'%s' is missing", required[k]);
		if (!*req_val[k])
			return bad_at(err, errlen, path, it->line, "'%s' is empty", required[k]);
	}
	if (it->confidence < 0)
		return bad_at(err, errlen, path, it->line, "'confidence' is missing");
	if (it->true_prob < 0)
		return bad_at(err, errlen, path, it->line, "'true_prob' is missing");
	if (it->label < 0)
		return bad_at(err, errlen, path, it->line, "'label' is not a whole number from 0");
	if (!it->set || !it->version || !it->released_at)
		return bad_at(err, errlen, path, it->line, "'%s' is missing",
		              !it->set ? "set" : !it->version ? "version" : "released_at");
	if (!*it->version)
		return bad_at(err, errlen, path, it->line, "'version' is empty");
	/* An ImageNet-O line: filed under the predicted class, with its MSP. */
	if (it->source_wnid && it->msp < 0)
		return bad_at(err, errlen, path, it->line, "'msp' is missing");
	if (it->source_wnid && strcmp(it->pred_wnid, it->wnid) != 0)
		return bad_at(err, errlen, path, it->line, "'pred_wnid' is '%s', but an out-of-distribution image is "
		              "filed under its predicted class '%s'", it->pred_wnid, it->wnid);
	if (rel->set && strcmp(it->set, rel->set) != 0)
		return bad_at(err, errlen, path, it->line, "'set' is '%.60s', line %ld says '%.60s'", it->set, first,
		              rel->set);
	if (rel->set && strcmp(it->version, rel->version) != 0)
		return bad_at(err, errlen, path, it->line, "'version' is '%.60s', line %ld says '%.60s'", it->version,
		              first, rel->version);
	if (rel->set && strcmp(it->released_at, rel->released_at) != 0)
		return bad_at(err, errlen, path, it->line, "'released_at' is '%.60s', line %ld says '%.60s'",
		              it->released_at, first, rel->released_at);
	/* The file name derives from the content hash, inside the class's folder. */
	char want[512];
	snprintf(want, sizeof want, "%s/%s/%s.jpg", pkg_folder_name(it->set), it->wnid, it->xxh128);
	if (strcmp(it->path, want) != 0)
		return bad_at(err, errlen, path, it->line, "'path' is '%.200s', expected '%s'", it->path, want);
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

int pkg_manifest_unique(const pkg_manifest *m, const char *const *keys, const char *what, const char *path,
                        char *err, size_t errlen)
{
	struct keyed *v = malloc(((size_t)m->n + 1) * sizeof *v);
	if (!v) {
		natadv_errf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	for (int i = 0; i < m->n; i++)
		v[i] = (struct keyed){keys[i], m->items[i].line};
	qsort(v, (size_t)m->n, sizeof *v, by_key);
	int rc = 0;
	for (int i = 1; i < m->n && !rc; i++)
		if (strcmp(v[i - 1].key, v[i].key) == 0)
			rc = bad_at(err, errlen, path, v[i].line, "the same %s as line %ld", what, v[i - 1].line);
	free(v);
	return rc;
}

int pkg_manifest_check(const pkg_manifest *m, const char *path, pkg_manifest_release *rel, char *err,
                       size_t errlen)
{
	memset(rel, 0, sizeof *rel);
	for (int i = 0; i < m->n; i++) {
		const pkg_manifest_item *it = &m->items[i];
		if (it->error)
			return bad_at(err, errlen, path, it->line, "%s", it->error);
		int rc = check_complete(it, rel, m->items[0].line, path, err, errlen);
		if (rc)
			return rc;
		if (!rel->set) {
			rel->set = it->set;
			rel->version = it->version;
			rel->released_at = it->released_at;
			pkg_parse_utc(it->released_at, &rel->released_unix);
		}
	}
	if (m->n == 0) {
		natadv_errf(err, errlen, "cannot read '%s': no images in it", path);
		return NATADV_EFORMAT;
	}
	const char **keys = malloc((size_t)m->n * sizeof *keys);
	if (!keys) {
		natadv_errf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	for (int i = 0; i < m->n; i++)
		keys[i] = m->items[i].path;
	int rc = pkg_manifest_unique(m, keys, "path", path, err, errlen);
	for (int i = 0; i < m->n; i++)
		keys[i] = m->items[i].xxh128;
	if (!rc)
		rc = pkg_manifest_unique(m, keys, "xxh128", path, err, errlen);
	free(keys);
	return rc;
}
