/* url.c — URL checking and normalisation on top of libcurl's CURLU API.
 * We rebuild the normalised URL from its parts instead of asking curl for the
 * whole URL, so that nothing is percent-decoded or dot-segment-resolved. */
#include "crawler/url.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"


static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int to_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* Length of a leading RFC 3986 scheme followed by ':', or 0 if none. Done by
 * hand so that "ftp:" or "mailto:" get a precise message even where curl
 * would call them malformed. */
static size_t scheme_len(const char *s)
{
	size_t i = 0;
	if (!is_alpha((unsigned char)s[0]))
		return 0;
	while (is_alpha((unsigned char)s[i]) || is_digit((unsigned char)s[i]) ||
	       s[i] == '+' || s[i] == '-' || s[i] == '.')
		i++;
	return s[i] == ':' ? i : 0;
}

static int scheme_is(const char *s, size_t n, const char *want)
{
	size_t i;
	if (strlen(want) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (to_lower((unsigned char)s[i]) != want[i])
			return 0;
	return 1;
}

/* Appends s lower-cased (ASCII only; other bytes are copied as they are). */
static int append_lower(buf *b, const char *s)
{
	int rc = buf_reserve(b, strlen(s));
	if (rc)
		return rc;
	for (; *s; s++) {
		char c = (char)to_lower((unsigned char)*s);
		rc = buf_append(b, &c, 1);
		if (rc)
			return rc;
	}
	return 0;
}

/* Whether the host part of the authority starting at a contains '%'. */
static int host_has_percent(const char *a)
{
	size_t end = strcspn(a, "/?#"), i, host = 0;
	for (i = 0; i < end; i++)
		if (a[i] == '@')
			host = i + 1;
	return memchr(a + host, '%', end - host) != NULL;
}

static int map_curl(CURLUcode uc)
{
	return uc == CURLUE_OUT_OF_MEMORY ? NATADV_ENOMEM : NATADV_EINVAL;
}

/* Optional part: NULL when absent, error code only for real failures. */
static int get_part(CURLU *h, CURLUPart what, unsigned flags, char **out)
{
	CURLUcode uc = curl_url_get(h, what, out, flags);
	if (uc == CURLUE_OK)
		return 0;
	*out = NULL;
	if (uc == CURLUE_OUT_OF_MEMORY)
		return NATADV_ENOMEM;
	return 0;
}

/* The textual checks curl's parser is too forgiving for: length, control
 * bytes, the scheme, "//" before the authority, no '%' in the host. 0 with
 * *slen the scheme's length, or NATADV_EINVAL (err says why). */
static int url_precheck(const char *in, size_t *slen, char *err, size_t errlen)
{
	if (!in) {
		natadv_errf(err, errlen, "unparseable url");
		return NATADV_EINVAL;
	}
	size_t n = strnlen(in, URL_MAX_LEN + 1);
	if (n > URL_MAX_LEN) {
		natadv_errf(err, errlen, "url too long");
		return NATADV_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c <= ' ' || c == 0x7f) {
			natadv_errf(err, errlen, "url contains control characters or spaces");
			return NATADV_EINVAL;
		}
	}
	*slen = scheme_len(in);
	if (!*slen) {
		natadv_errf(err, errlen, "unparseable url");
		return NATADV_EINVAL;
	}
	if (!scheme_is(in, *slen, "http") && !scheme_is(in, *slen, "https")) {
		char low[33];
		size_t k, m = *slen < 32 ? *slen : 32;
		for (k = 0; k < m; k++)
			low[k] = (char)to_lower((unsigned char)in[k]);
		low[m] = '\0';
		natadv_errf(err, errlen, "unsupported scheme '%s'", low);
		return NATADV_EINVAL;
	}
	/* curl forgives "http:/x" and "http:///x" (taking x as the host); an
	 * absolute URL with a host has exactly "//" and then the authority. */
	if (in[*slen + 1] != '/' || in[*slen + 2] != '/' || in[*slen + 3] == '/') {
		natadv_errf(err, errlen, "missing host");
		return NATADV_EINVAL;
	}
	/* curl percent-decodes host names ("a%41.com" -> "aA.com", "%%44" ->
	 * "%D"), which would make normalisation depend on how often it ran;
	 * real hosts never need a '%', so refuse them. */
	if (host_has_percent(in + *slen + 3)) {
		natadv_errf(err, errlen, "unparseable url");
		return NATADV_EINVAL;
	}
	return 0;
}

/* A URL's parts as curl parsed them; each NULL when absent (curl_free'd). */
struct url_parts {
	char *scheme, *user, *pass, *host, *port, *path, *query, *zone;
};

static void parts_free(struct url_parts *p)
{
	curl_free(p->query);
	curl_free(p->path);
	curl_free(p->port);
	curl_free(p->zone);
	curl_free(p->pass);
	curl_free(p->user);
	curl_free(p->scheme);
	curl_free(p->host);
}

/* Parses in with curl into p: 0, NATADV_EINVAL (err says why) or NATADV_ENOMEM. */
static int url_parse_parts(const char *in, struct url_parts *p, char *err, size_t errlen)
{
	CURLU *h = curl_url();
	if (!h)
		return NATADV_ENOMEM;
	int rc = NATADV_EINVAL;
	/* PATH_AS_IS: "otherwise unchanged" includes "/a/../b". */
	CURLUcode uc = curl_url_set(h, CURLUPART_URL, in, CURLU_PATH_AS_IS);
	if (uc == CURLUE_NO_HOST) {
		natadv_errf(err, errlen, "missing host");
		goto out;
	}
	if (uc != CURLUE_OK) {
		rc = map_curl(uc);
		natadv_errf(err, errlen, "unparseable url");
		goto out;
	}
	uc = curl_url_get(h, CURLUPART_HOST, &p->host, 0);
	if (uc != CURLUE_OK || !p->host || !*p->host) {
		rc = uc == CURLUE_OUT_OF_MEMORY ? NATADV_ENOMEM : NATADV_EINVAL;
		natadv_errf(err, errlen, "missing host");
		goto out;
	}
	uc = curl_url_get(h, CURLUPART_SCHEME, &p->scheme, 0);
	if (uc != CURLUE_OK) {
		rc = map_curl(uc);
		natadv_errf(err, errlen, "unparseable url");
		goto out;
	}
	rc = get_part(h, CURLUPART_ZONEID, 0, &p->zone);
	if (rc)
		goto out;
	if (p->zone) {
		/* A zone id only means something on the local machine. */
		rc = NATADV_EINVAL;
		natadv_errf(err, errlen, "unparseable url");
		goto out;
	}
	rc = get_part(h, CURLUPART_USER, 0, &p->user);
	if (!rc)
		rc = get_part(h, CURLUPART_PASSWORD, 0, &p->pass);
	if (!rc)
		rc = get_part(h, CURLUPART_PORT, CURLU_NO_DEFAULT_PORT, &p->port);
	if (!rc)
		rc = get_part(h, CURLUPART_PATH, 0, &p->path);
	if (!rc)
		rc = get_part(h, CURLUPART_QUERY, 0, &p->query);
out:
	curl_url_cleanup(h);
	return rc;
}

/* Replaces b's contents with "scheme://[user[:pass]@]host[:port]", scheme
 * and host in lower case; the user part only when with_user. */
static int build_origin(buf *b, const struct url_parts *p, int with_user)
{
	buf_reset(b);
	int rc = append_lower(b, p->scheme);
	if (!rc)
		rc = buf_puts(b, "://");
	if (!rc && with_user && p->user) {
		rc = buf_puts(b, p->user);
		if (!rc && p->pass)
			rc = buf_printf(b, ":%s", p->pass);
		if (!rc)
			rc = buf_puts(b, "@");
	}
	if (!rc)
		rc = append_lower(b, p->host);
	if (!rc && p->port)
		rc = buf_printf(b, ":%s", p->port);
	return rc;
}

/* Replaces norm's contents with the normalised URL rebuilt from p. */
static int build_norm(buf *norm, const struct url_parts *p)
{
	int rc = build_origin(norm, p, 1);
	if (!rc)
		rc = buf_puts(norm, p->path && p->path[0] == '/' ? p->path : "/");
	if (!rc && p->path && p->path[0] && p->path[0] != '/')
		rc = buf_puts(norm, p->path);
	if (!rc && p->query)
		rc = buf_printf(norm, "?%s", p->query);
	return rc;
}

int url_check(const char *in, buf *norm, buf *hostkey, char *err, size_t errlen)
{
	size_t slen;
	int rc = url_precheck(in, &slen, err, errlen);
	if (rc)
		return rc;
	struct url_parts p = {0};
	rc = url_parse_parts(in, &p, err, errlen);
	if (!rc && hostkey)
		rc = build_origin(hostkey, &p, 0); /* the host key: no user part */
	if (!rc && norm)
		rc = build_norm(norm, &p);
	parts_free(&p);
	return rc;
}

int url_path_and_query(const char *url, buf *out)
{
	CURLU *h;
	char *path = NULL, *query = NULL;
	CURLUcode uc;
	int rc;

	if (!url || !out)
		return NATADV_EINVAL;
	h = curl_url();
	if (!h)
		return NATADV_ENOMEM;
	uc = curl_url_set(h, CURLUPART_URL, url, CURLU_PATH_AS_IS | CURLU_NON_SUPPORT_SCHEME);
	if (uc != CURLUE_OK) {
		rc = map_curl(uc);
		goto out;
	}
	rc = get_part(h, CURLUPART_PATH, 0, &path);
	if (!rc)
		rc = get_part(h, CURLUPART_QUERY, 0, &query);
	if (rc)
		goto out;
	buf_reset(out);
	rc = buf_puts(out, path && path[0] == '/' ? path : "/");
	if (!rc && path && path[0] && path[0] != '/')
		rc = buf_puts(out, path);
	if (!rc && query)
		rc = buf_printf(out, "?%s", query);
out:
	curl_free(query);
	curl_free(path);
	curl_url_cleanup(h);
	return rc;
}

int url_robots(const char *hostkey, buf *out)
{
	int rc;
	if (!hostkey || !*hostkey || !out)
		return NATADV_EINVAL;
	buf_reset(out);
	rc = buf_puts(out, hostkey);
	if (!rc)
		rc = buf_puts(out, "/robots.txt");
	return rc;
}
