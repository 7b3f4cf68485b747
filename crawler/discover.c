/* discover.c — what every source adapter shares: queries from WordNet names,
 * licence normalisation and filters, HTML stripping, URL parameters, typed
 * JSON access with precise messages, and the parsed page. The run itself is
 * in discover_run.c. */
#include "crawler/discover_src.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"

const disc_source *disc_source_find(const char *name)
{
	static const disc_source *const all[] = {&disc_openverse, &disc_inaturalist, &disc_wikimedia,
	                                         &disc_flickr};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (name && strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}

char *disc_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* ---- queries ---- */

/* Copies s[0..n) without surrounding white space into a new string. */
static char *dup_trim(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	char *out = malloc(n + 1);
	if (out) {
		memcpy(out, s, n);
		out[n] = '\0';
	}
	return out;
}

/* "Carduelis carduelis": a capitalised genus and a lower-case epithet. */
static int is_binomial(const char *s)
{
	const char *p = s;
	if (!isupper((unsigned char)*p))
		return 0;
	for (p++; islower((unsigned char)*p); p++)
		;
	if (p - s < 2 || *p != ' ')
		return 0;
	const char *e = ++p;
	for (; islower((unsigned char)*p) || *p == '-'; p++)
		;
	return *p == '\0' && p - e >= 2;
}

/* Returns tmpl with every {name} replaced by name (malloc'd), or NULL. */
static char *apply_template(const char *tmpl, const char *name)
{
	buf b;
	buf_init(&b, 64 * 1024);
	int rc = 0;
	for (const char *p = tmpl; *p && !rc;) {
		const char *hit = strstr(p, "{name}");
		if (!hit) {
			rc = buf_puts(&b, p);
			break;
		}
		rc = buf_append(&b, p, (size_t)(hit - p));
		if (!rc)
			rc = buf_puts(&b, name);
		p = hit + 6;
	}
	char *out = rc ? NULL : strdup(buf_cstr(&b));
	buf_release(&b);
	return out;
}

int disc_class_queries(const char *names, const char *tmpl, char **common, char **scientific)
{
	*common = NULL;
	*scientific = NULL;
	if (!names || (tmpl && !strstr(tmpl, "{name}")))
		return NATADV_EINVAL;
	const char *comma = strchr(names, ',');
	char *first = dup_trim(names, comma ? (size_t)(comma - names) : strlen(names));
	if (!first)
		return NATADV_ENOMEM;
	if (!first[0]) {
		free(first);
		return NATADV_EINVAL;
	}
	const char *last_comma = strrchr(names, ',');
	if (last_comma) {
		char *last = dup_trim(last_comma + 1, strlen(last_comma + 1));
		if (!last) {
			free(first);
			return NATADV_ENOMEM;
		}
		if (is_binomial(last) && strcmp(last, first) != 0)
			*scientific = last;
		else
			free(last);
	}
	if (tmpl) {
		*common = apply_template(tmpl, first);
		free(first);
	} else {
		*common = first;
	}
	if (!*common) {
		free(*scientific);
		*scientific = NULL;
		return NATADV_ENOMEM;
	}
	return 0;
}

/* ---- licences ---- */

static const struct {
	const char *name;
	unsigned bit;
} families[] = {
	/* longest first, so "by-nc-sa" is not read as "by-nc" */
	{"by-nc-sa", DISC_LIC_BY_NC_SA}, {"by-nc-nd", DISC_LIC_BY_NC_ND}, {"by-sa", DISC_LIC_BY_SA},
	{"by-nc", DISC_LIC_BY_NC},       {"by-nd", DISC_LIC_BY_ND},       {"by", DISC_LIC_BY},
	{"cc0", DISC_LIC_CC0},           {"pdm", DISC_LIC_PDM},
};

/* A version like "4.0" or "2.5" at s; returns its length or 0. */
static size_t version_len(const char *s)
{
	size_t i = 0;
	while (isdigit((unsigned char)s[i]))
		i++;
	if (i == 0 || s[i] != '.' || !isdigit((unsigned char)s[i + 1]))
		return 0;
	for (i++; isdigit((unsigned char)s[i]); i++)
		;
	return i;
}

/* Lower-cases raw into k with spaces, '_' and '/' as single '-', trimmed of
 * '-' and of a creativecommons.org URL's prefix. */
static void license_key(const char *raw, char *k, size_t cap)
{
	const char *p = raw;
	const char *u = strstr(raw, "creativecommons.org/");
	if (u)
		p = u + strlen("creativecommons.org/");
	size_t o = 0;
	for (; *p && o + 1 < cap; p++) {
		char c = (char)tolower((unsigned char)*p);
		if (c == ' ' || c == '_' || c == '/' || c == '\t')
			c = '-';
		if (c == '-' && (o == 0 || k[o - 1] == '-'))
			continue;
		k[o++] = c;
	}
	while (o && k[o - 1] == '-')
		o--;
	k[o] = '\0';
	if (u && strncmp(k, "licenses-", 9) == 0)
		memmove(k, k + 9, strlen(k + 9) + 1);
}

const char *disc_license_norm(const char *raw, const char *default_version, char *out, size_t outlen)
{
	static const char *const pd[] = {"pdm", "pdm-1.0", "pd", "public-domain", "publicdomain",
	                                 "public-domain-mark", "public-domain-mark-1.0", "publicdomain-mark-1.0",
	                                 "pd-mark"};
	static const char *const zero[] = {"cc0", "cc0-1.0", "cc-zero", "zero", "publicdomain-zero-1.0",
	                                   "cc-0", "cc0-1.0-universal"};
	static const char *const arr[] = {"all-rights-reserved", "copyright", "arr", "(c)"};
	char k[128];
	if (!raw || strlen(raw) >= sizeof k)
		return NULL;
	license_key(raw, k, sizeof k);
	const char *name = NULL;
	for (size_t i = 0; i < sizeof pd / sizeof pd[0] && !name; i++)
		if (strcmp(k, pd[i]) == 0)
			name = "pdm";
	for (size_t i = 0; i < sizeof zero / sizeof zero[0] && !name; i++)
		if (strcmp(k, zero[i]) == 0)
			name = "cc0-1.0";
	for (size_t i = 0; i < sizeof arr / sizeof arr[0] && !name; i++)
		if (strcmp(k, arr[i]) == 0)
			name = "all-rights-reserved";
	if (name) {
		snprintf(out, outlen, "%s", name);
		return out;
	}
	const char *p = strncmp(k, "cc-", 3) == 0 ? k + 3 : k;
	for (size_t i = 0; i < 6; i++) { /* the CC families with "by" */
		size_t n = strlen(families[i].name);
		if (strncmp(p, families[i].name, n) != 0 || (p[n] && p[n] != '-'))
			continue;
		const char *rest = p[n] ? p + n + 1 : p + n;
		size_t vl = version_len(rest);
		char version[16] = "", juris[16] = "";
		if (vl) {
			if (vl >= sizeof version)
				return NULL;
			memcpy(version, rest, vl);
			version[vl] = '\0';
			rest += vl;
			while (*rest == ',' && version_len(rest + 1)) /* "2.5,2.0,1.0": the first */
				rest += 1 + version_len(rest + 1);
			if (*rest == '-') {
				rest++;
				size_t jl = 0;
				while (islower((unsigned char)rest[jl]))
					jl++;
				if (jl < 2 || jl >= sizeof juris || rest[jl])
					return NULL;
				memcpy(juris, rest, jl + 1);
				rest += jl;
			}
		} else if (default_version) {
			snprintf(version, sizeof version, "%s", default_version);
		}
		if (*rest)
			return NULL;
		snprintf(out, outlen, "cc-%s%s%s%s%s", families[i].name, version[0] ? "-" : "", version,
		         juris[0] ? "-" : "", juris);
		return out;
	}
	return NULL;
}

unsigned disc_license_family(const char *norm)
{
	if (!norm)
		return 0;
	if (strcmp(norm, "cc0-1.0") == 0)
		return DISC_LIC_CC0;
	if (strcmp(norm, "pdm") == 0)
		return DISC_LIC_PDM;
	if (strncmp(norm, "cc-", 3) != 0)
		return 0;
	for (size_t i = 0; i < 6; i++) {
		size_t n = strlen(families[i].name);
		if (strncmp(norm + 3, families[i].name, n) == 0 &&
		    (norm[3 + n] == '\0' || (norm[3 + n] == '-' && isdigit((unsigned char)norm[4 + n]))))
			return families[i].bit;
	}
	return 0;
}

int disc_license_parse(const char *list, unsigned *mask, char *err, size_t errlen)
{
	*mask = 0;
	const char *p = list;
	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char item[32];
		while (n && *p == ' ') {
			p++;
			n--;
		}
		while (n && p[n - 1] == ' ')
			n--;
		unsigned bit = 0;
		if (n && n < sizeof item) {
			for (size_t i = 0; i < n; i++)
				item[i] = (char)tolower((unsigned char)p[i]);
			item[n] = '\0';
			const char *name = strncmp(item, "cc-", 3) == 0 ? item + 3 : item;
			if (strcmp(name, "all") == 0)
				bit = 0xff;
			for (size_t i = 0; i < sizeof families / sizeof families[0] && !bit; i++)
				if (strcmp(name, families[i].name) == 0)
					bit = families[i].bit;
		}
		if (!bit) {
			natadv_errf(err, errlen, "unknown licence '%.*s' (known: cc0, pdm, by, by-sa, by-nc, by-nd, "
			            "by-nc-sa, by-nc-nd, all)", (int)(n < 64 ? n : 64), p);
			return NATADV_EINVAL;
		}
		*mask |= bit;
		p = comma ? comma + 1 : NULL;
	}
	if (!*mask) {
		natadv_errf(err, errlen, "no licence named");
		return NATADV_EINVAL;
	}
	return 0;
}

/* ---- text ---- */

static int put_utf8(buf *out, unsigned long cp)
{
	unsigned char u[4];
	size_t n;
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		cp = 0xFFFD;
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xC0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xE0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xF0 | (cp >> 18));
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return buf_append(out, u, n);
}

/* Decodes the entity at s ('&'); *used gets its length. 0 when not one. */
static int entity(const char *s, unsigned long *cp, size_t *used)
{
	static const struct {
		const char *name;
		unsigned long cp;
	} named[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", ' '}};
	const char *semi = strchr(s, ';');
	if (!semi || semi - s > 12)
		return 0;
	size_t n = (size_t)(semi - s - 1);
	*used = n + 2;
	if (s[1] == '#') {
		char *end;
		errno = 0;
		int hex = s[2] == 'x' || s[2] == 'X';
		unsigned long v = strtoul(s + (hex ? 3 : 2), &end, hex ? 16 : 10);
		if (end != semi || errno || end == s + (hex ? 3 : 2))
			return 0;
		*cp = v;
		return 1;
	}
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
		if (strlen(named[i].name) == n && strncmp(s + 1, named[i].name, n) == 0) {
			*cp = named[i].cp;
			return 1;
		}
	return 0;
}

/* Whether the tag whose name starts at s (after '<') breaks a line. */
static int block_tag(const char *s)
{
	static const char *const block[] = {"br", "p", "div", "li", "td", "th", "tr", "ul", "ol", "table",
	                                    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "dd", "dt"};
	if (*s == '/')
		s++;
	size_t n = 0;
	while (isalnum((unsigned char)s[n]))
		n++;
	for (size_t i = 0; i < sizeof block / sizeof block[0]; i++)
		if (strlen(block[i]) == n && strncasecmp(s, block[i], n) == 0)
			return 1;
	return 0;
}

int disc_strip_html(const char *html, buf *out)
{
	size_t start = out->len;
	int space = 0, rc = 0;
	for (const char *p = html; *p && !rc;) {
		unsigned long cp;
		size_t used;
		if (*p == '<') {
			const char *gt = strchr(p, '>');
			if (block_tag(p + 1))
				space = 1; /* <br>, </td>, ...: words either side stay apart */
			p = gt ? gt + 1 : p + strlen(p);
			continue;
		}
		if (isspace((unsigned char)*p)) {
			space = 1;
			p++;
			continue;
		}
		if (space && out->len > start)
			rc = buf_append(out, " ", 1);
		space = 0;
		if (*p == '&' && entity(p, &cp, &used)) {
			if (cp == ' ' || cp == 0xA0) {
				space = 1;
			} else if (!rc) {
				rc = put_utf8(out, cp);
			}
			p += used;
			continue;
		}
		if (!rc)
			rc = buf_append(out, p, 1);
		p++;
	}
	if (!rc)
		buf_cstr(out);
	return rc;
}

void disc_license_list(unsigned mask, const char *const names[8], char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < 8 && n < cap; i++)
		if ((mask & (1u << i)) && names[i])
			n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "," : "", names[i]);
}

int disc_url_page(buf *out, const disc_req *r, const char *page_key, const char *size_key)
{
	char page[32], size[32];
	snprintf(page, sizeof page, "%lld", disc_page_number(r));
	snprintf(size, sizeof size, "%d", r->page_size);
	int rc = disc_url_param(out, page_key, page);
	return rc ? rc : disc_url_param(out, size_key, size);
}

int disc_url_param(buf *out, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = buf_printf(out, "%s%s=", memchr(out->data ? out->data : "", '?', out->len) ? "&" : "?", key);
	for (const unsigned char *p = (const unsigned char *)value; *p && !rc; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			rc = buf_append(out, p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			rc = buf_append(out, e, 3);
		}
	}
	return rc;
}

/* ---- JSON ---- */

int dj_load(const char *body, size_t len, json_t **root, char *err, size_t errlen)
{
	*root = NULL;
	size_t i = 0;
	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (i == len) {
		natadv_errf(err, errlen, "empty response");
		return NATADV_EFORMAT;
	}
	if (body[i] == '<') {
		natadv_errf(err, errlen, "an HTML page, not JSON");
		return NATADV_EFORMAT;
	}
	json_error_t je;
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		natadv_errf(err, errlen, "malformed JSON at line %d column %d: %s", je.line, je.column, je.text);
		return NATADV_EFORMAT;
	}
	if (!json_is_object(j)) {
		natadv_errf(err, errlen, "a JSON %s, not an object", json_is_array(j) ? "array" : "value");
		json_decref(j);
		return NATADV_EFORMAT;
	}
	*root = j;
	return 0;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static int bad_type(const char *where, const char *key, const json_t *v, const char *want, char *err,
                    size_t errlen)
{
	natadv_errf(err, errlen, "'%s%s%s' is %s, expected %s", where, where[0] ? "." : "", key, type_name(v), want);
	return NATADV_EFORMAT;
}

static int missing(const char *where, const char *key, char *err, size_t errlen)
{
	natadv_errf(err, errlen, "%s%s'%s' missing", where, where[0] ? ": " : "", key);
	return NATADV_EFORMAT;
}

int dj_get(json_t *obj, const char *key, json_type type, int required, const char *where, json_t **out,
           char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return required ? missing(where, key, err, errlen) : 0;
	if (json_typeof(v) != type)
		return bad_type(where, key, v, type == JSON_ARRAY ? "an array" : "an object", err, errlen);
	*out = v;
	return 0;
}

int dj_str(json_t *obj, const char *key, int required, int num_ok, const char *where, char **out,
           char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return required ? missing(where, key, err, errlen) : 0;
	if (json_is_string(v)) {
		*out = strdup(json_string_value(v));
	} else if (num_ok && json_is_integer(v)) {
		char n[32];
		snprintf(n, sizeof n, "%lld", (long long)json_integer_value(v));
		*out = strdup(n);
	} else {
		return bad_type(where, key, v, "a string", err, errlen);
	}
	if (!*out) {
		natadv_errf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	return 0;
}

int dj_int(json_t *obj, const char *key, const char *where, long long *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		*out = (long long)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		errno = 0;
		long long n = strtoll(s, &end, 10);
		if (end != s && !*end && !errno) {
			*out = n;
			return 0;
		}
		natadv_errf(err, errlen, "'%s%s%s' is '%.40s', expected a whole number", where, where[0] ? "." : "", key, s);
		return NATADV_EFORMAT;
	}
	return bad_type(where, key, v, "a whole number", err, errlen);
}

const char *dj_sub_str(json_t *obj, const char *key, const char *sub)
{
	json_t *o = json_object_get(obj, key);
	json_t *v = json_is_object(o) ? json_object_get(o, sub) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int dj_each(json_t *arr, const char *prefix, int (*fn)(json_t *obj, const char *where, void *ctx, char *err, size_t errlen),
            void *ctx, char *err, size_t errlen)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < json_array_size(arr); i++) {
		char where[128];
		json_t *el = json_array_get(arr, i);
		snprintf(where, sizeof where, "%.100s[%zu]", prefix, i);
		if (!json_is_object(el)) {
			natadv_errf(err, errlen, "'%s' is %s, expected an object", where, type_name(el));
			return NATADV_EFORMAT;
		}
		rc = fn(el, where, ctx, err, errlen);
	}
	return rc;
}

int dj_refusal(json_t *obj, const char *key, const char *source, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	natadv_errf(err, errlen, "%s says: %.200s", source, d ? d : "(unreadable)");
	free(d);
	return NATADV_EFORMAT;
}

int dj_results_page(const char *body, size_t len, const disc_req *r, disc_page *out,
                    const dj_results_spec *spec, char *err, size_t errlen)
{
	json_t *root, *results;
	int rc = dj_load(body, len, &root, err, errlen);
	if (rc)
		return rc;
	long long last = 0;
	rc = dj_refusal(root, spec->refusal_key, spec->source, err, errlen);
	if (!rc)
		rc = dj_get(root, "results", JSON_ARRAY, 1, "", &results, err, errlen);
	if (!rc)
		rc = spec->last_page(root, r, &last, err, errlen);
	if (!rc)
		rc = disc_next_numbered(out, r, last, spec->max_results);
	if (!rc)
		rc = dj_each(results, "results", spec->item, out, err, errlen);
	json_decref(root);
	return rc;
}

/* ---- pages ---- */

disc_item *disc_page_add(disc_page *p)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 32;
		disc_item *items = realloc(p->items, cap * sizeof *items);
		if (!items)
			return NULL;
		p->items = items;
		p->cap = cap;
	}
	disc_item *it = &p->items[p->n++];
	memset(it, 0, sizeof *it);
	return it;
}

void disc_page_release(disc_page *p)
{
	for (size_t i = 0; i < p->n; i++) {
		disc_item *it = &p->items[i];
		free(it->url);
		free(it->page_url);
		free(it->license);
		free(it->license_raw);
		free(it->author);
		free(it->attribution);
		free(it->title);
		free(it->source_id);
		free(it->mime);
	}
	free(p->items);
	free(p->next);
	memset(p, 0, sizeof *p);
}

int disc_item_license(disc_item *it, const char *raw, const char *norm, const char *default_version)
{
	char k[128];
	if (!norm)
		norm = disc_license_norm(raw, default_version, k, sizeof k);
	it->license_raw = disc_strdup(raw);
	it->license = disc_strdup(norm);
	if ((raw && !it->license_raw) || (norm && !it->license))
		return NATADV_ENOMEM;
	return 0;
}

void disc_item_size(disc_item *it, long long w, long long h)
{
	it->width = w > 0 && w < 1000000000 ? (long)w : 0;
	it->height = h > 0 && h < 1000000000 ? (long)h : 0;
}

long long disc_page_number(const disc_req *r)
{
	if (!r->page)
		return 1;
	char *end;
	errno = 0;
	long long n = strtoll(r->page, &end, 10);
	return (end == r->page || *end || errno || n < 1) ? 1 : n;
}

int disc_next_numbered(disc_page *p, const disc_req *r, long long last_page, long long max_results)
{
	long long cur = disc_page_number(r);
	long long size = r->page_size > 0 ? r->page_size : 1;
	free(p->next);
	p->next = NULL;
	if (cur >= last_page || (max_results > 0 && (cur + 1) > max_results / size))
		return 0;
	char n[32];
	snprintf(n, sizeof n, "%lld", cur + 1);
	p->next = strdup(n);
	return p->next ? 0 : NATADV_ENOMEM;
}
