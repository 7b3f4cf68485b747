/* robots.c — robots.txt parsing and matching per RFC 9309, following
 * Google's open-source parser where the RFC leaves room (product token
 * extraction, rule precedence, the position-set matcher).
 * Only the rules of the chosen group survive parsing, so robots_allowed
 * walks one short list per URL. */
#include "crawler/robots.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"

struct rule {
	char *pat;   /* percent-normalised, runs of '*' collapsed; not NUL-terminated */
	size_t len;  /* octets, the measure of "most specific" */
	int allow;
};

struct rule_list {
	struct rule *v;
	size_t n, cap;
	double delay;
	int has_delay;
};

struct robots {
	struct rule_list rules;
};

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

static int hex_val(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int is_unreserved(int c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/* Writes the comparison form of in[0..n) to out, which must hold 3n bytes,
 * and returns its length. RFC 9309 2.2.2: %XX of an unreserved character is
 * decoded, other %XX keep their meaning (hex made upper case), and octets
 * outside printable ASCII are encoded, so "/%7Ea", "/~a" compare equal and
 * "/%2F" stays different from "/". Paths and patterns go through the same
 * function, so they always agree. */
static size_t pct_norm(const char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '%' && i + 2 < n && hex_val((unsigned char)in[i + 1]) >= 0 &&
		    hex_val((unsigned char)in[i + 2]) >= 0) {
			int b = hex_val((unsigned char)in[i + 1]) * 16 +
			        hex_val((unsigned char)in[i + 2]);
			if (is_unreserved(b)) {
				out[o++] = (char)b;
			} else {
				out[o++] = '%';
				out[o++] = hex[b >> 4];
				out[o++] = hex[b & 15];
			}
			i += 2;
		} else if (c <= 0x20 || c >= 0x7f) {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	return o;
}

static void list_release(struct rule_list *l)
{
	size_t i;
	for (i = 0; i < l->n; i++)
		free(l->v[i].pat);
	free(l->v);
	memset(l, 0, sizeof *l);
}

static int list_add(struct rule_list *l, const char *val, size_t vlen, int allow)
{
	char *pat;
	size_t n, i, w;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct rule *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return NATADV_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	pat = malloc(3 * vlen + 1);
	if (!pat)
		return NATADV_ENOMEM;
	n = pct_norm(val, vlen, pat);
	/* "a**b" matches what "a*b" matches; collapsing keeps the matcher's
	 * work per pattern octet constant. */
	for (i = 0, w = 0; i < n; i++)
		if (!(pat[i] == '*' && w > 0 && pat[w - 1] == '*'))
			pat[w++] = pat[i];
	l->v[l->n].pat = pat;
	l->v[l->n].len = w;
	l->v[l->n].allow = allow;
	l->n++;
	return 0;
}

static void list_set_delay(struct rule_list *l, const char *val, size_t vlen)
{
	char tmp[64], *end;
	double d;
	if (l->has_delay || vlen == 0 || vlen >= sizeof tmp)
		return;
	memcpy(tmp, val, vlen);
	tmp[vlen] = '\0';
	d = strtod(tmp, &end);
	if (end == tmp || !isfinite(d) || d < 0)
		return;
	l->delay = d > ROBOTS_MAX_DELAY ? ROBOTS_MAX_DELAY : d;
	l->has_delay = 1;
}

/* Length of the product token at s: Google's rule, letters, '-' and '_'. */
static size_t token_len(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && (is_alpha((unsigned char)s[i]) || s[i] == '-' || s[i] == '_'))
		i++;
	return i;
}

static void trim(const char **s, size_t *n)
{
	while (*n && is_space((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_space((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

static int key_is(const char *k, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(k, want, n) == 0;
}

enum key { KEY_OTHER, KEY_UA, KEY_ALLOW, KEY_DISALLOW, KEY_DELAY };

static enum key parse_key(const char *k, size_t n)
{
	if (key_is(k, n, "user-agent"))
		return KEY_UA;
	if (key_is(k, n, "allow"))
		return KEY_ALLOW;
	if (key_is(k, n, "disallow"))
		return KEY_DISALLOW;
	if (key_is(k, n, "crawl-delay"))
		return KEY_DELAY;
	return KEY_OTHER;
}

/* Grouping (RFC 9309 2.1):
 *   1. A run of user-agent lines opens one group; the first rule line after
 *      it closes the run, so the next user-agent line opens a new group.
 *   2. Rules seen before any user-agent line belong to no group.
 *   3. Every group naming our token adds to `mine`, every '*' group to
 *      `star`; several matching groups are merged. Other lines (sitemap,
 *      unknown keys) change nothing. */
int robots_parse(const char *body, size_t len, const char *agent, robots **out)
{
	struct rule_list mine = { 0 }, star = { 0 };
	const char *p, *end;
	size_t alen;
	int in_ua_run = 0, seen_ua = 0, cur_mine = 0, cur_star = 0, have_mine = 0;
	int rc = 0;
	robots *r;

	if (!out || !agent || (!body && len))
		return NATADV_EINVAL;
	*out = NULL;
	alen = token_len(agent, strlen(agent));
	p = body ? body : "";
	end = p + len;
	if (len > ROBOTS_MAX_BODY) {
		/* Drop the line cut by the limit rather than read half a path. */
		end = p + ROBOTS_MAX_BODY;
		while (end > p && end[-1] != '\n' && end[-1] != '\r')
			end--;
	}
	if (end - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;

	while (p < end) {
		const char *line = p, *le, *hash, *colon, *key, *val;
		size_t llen, klen, vlen;
		enum key k;

		for (le = p; le < end && *le != '\n' && *le != '\r'; le++)
			;
		p = le < end ? le + 1 : le;
		llen = (size_t)(le - line);
		hash = memchr(line, '#', llen);
		if (hash)
			llen = (size_t)(hash - line);
		colon = memchr(line, ':', llen);
		if (!colon)
			continue;
		key = line;
		klen = (size_t)(colon - line);
		val = colon + 1;
		vlen = llen - klen - 1;
		trim(&key, &klen);
		trim(&val, &vlen);
		k = parse_key(key, klen);
		if (k == KEY_OTHER)
			continue;
		if (k == KEY_UA) {
			if (!in_ua_run)
				cur_mine = cur_star = 0;
			in_ua_run = 1;
			seen_ua = 1;
			if (vlen >= 1 && val[0] == '*' && (vlen == 1 || is_space((unsigned char)val[1]))) {
				cur_star = 1;
			} else {
				size_t t = token_len(val, vlen);
				if (t && t == alen && strncasecmp(val, agent, t) == 0) {
					cur_mine = 1;
					have_mine = 1;
				}
			}
			continue;
		}
		in_ua_run = 0;
		if (!seen_ua)
			continue;
		if (k == KEY_DELAY) {
			if (cur_mine)
				list_set_delay(&mine, val, vlen);
			if (cur_star)
				list_set_delay(&star, val, vlen);
			continue;
		}
		/* An empty pattern matches nothing: "Disallow:" allows all. */
		if (vlen == 0)
			continue;
		if (cur_mine) {
			rc = list_add(&mine, val, vlen, k == KEY_ALLOW);
			if (rc)
				goto fail;
		}
		if (cur_star) {
			rc = list_add(&star, val, vlen, k == KEY_ALLOW);
			if (rc)
				goto fail;
		}
	}

	r = calloc(1, sizeof *r);
	if (!r) {
		rc = NATADV_ENOMEM;
		goto fail;
	}
	if (have_mine) {
		r->rules = mine;
		list_release(&star);
	} else {
		r->rules = star;
		list_release(&mine);
	}
	*out = r;
	return 0;
fail:
	list_release(&mine);
	list_release(&star);
	return rc;
}

/* Whether pat matches a prefix of path (or all of it, with a final '$').
 * pos[] holds the set of path offsets reachable after the pattern so far,
 * in increasing order, so the cost is O(len(pat) * len(path)) whatever the
 * stars: no backtracking. pos must hold n + 1 entries. */
static int match(const char *pat, size_t plen, const char *path, size_t n, size_t *pos)
{
	size_t np = 1, i, j, k;
	pos[0] = 0;
	for (i = 0; i < plen; i++) {
		char c = pat[i];
		if (c == '$' && i + 1 == plen)
			return pos[np - 1] == n;
		if (c == '*') {
			np = n - pos[0] + 1;
			for (j = 1; j < np; j++)
				pos[j] = pos[j - 1] + 1;
			continue;
		}
		for (j = 0, k = 0; j < np; j++)
			if (pos[j] < n && path[pos[j]] == c)
				pos[k++] = pos[j] + 1;
		np = k;
		if (np == 0)
			return 0;
	}
	return 1;
}

int robots_allowed(const robots *r, const char *path_and_query)
{
	const char *in = path_and_query && path_and_query[0] ? path_and_query : "/";
	size_t n = strlen(in), plen, i, best_len = 0;
	int best_allow = 1, found = 0;
	char *path;
	size_t *pos;

	if (strncmp(in, "/robots.txt", 11) == 0 && (in[11] == '\0' || in[11] == '?'))
		return 1;
	if (!r || r->rules.n == 0)
		return 1;
	path = malloc(3 * n + 1);
	pos = malloc((3 * n + 1) * sizeof *pos);
	if (!path || !pos) {
		/* Without memory we cannot decide; not fetching is the polite answer. */
		free(path);
		free(pos);
		return 0;
	}
	plen = pct_norm(in, n, path);
	for (i = 0; i < r->rules.n; i++) {
		const struct rule *ru = &r->rules.v[i];
		if (found && ru->len < best_len)
			continue;
		if (found && ru->len == best_len && (best_allow || !ru->allow))
			continue;
		if (!match(ru->pat, ru->len, path, plen, pos))
			continue;
		found = 1;
		best_len = ru->len;
		best_allow = ru->allow;
	}
	free(pos);
	free(path);
	return best_allow;
}

double robots_crawl_delay(const robots *r)
{
	return r && r->rules.has_delay ? r->rules.delay : 0;
}

void robots_free(robots *r)
{
	if (!r)
		return;
	list_release(&r->rules);
	free(r);
}
