/* http.c — making libcurl easy handles: every handle of the tree (crawl,
 * discover, model fetch) is set up by http_easy_new, so the User-Agent, the
 * private-address policy, timeouts and limits live here once; and the
 * header readers the fetchers share. */
#include "crawler/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/err.h"
#include "crawler/crawler.h"

/* ---- the private-address policy ---- */

static int v4_private(uint32_t a)
{
	return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 ||
	       (a >> 20) == (172u << 4 | 1) || (a >> 16) == (192u << 8 | 168) ||
	       (a >> 16) == (169u << 8 | 254) || (a >> 22) == (100u << 2 | 1) /* 100.64/10 */ ||
	       (a >> 8) == (192u << 16 | 0 << 8 | 0) /* 192.0.0/24 */ ||
	       (a >> 17) == (198u << 7 | 18 >> 1) /* 198.18/15 */ || (a >> 28) >= 14 /* multicast, reserved */;
}

int crawl_addr_is_private(const void *sockaddr, size_t len)
{
	const struct sockaddr *sa = sockaddr;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = sockaddr;
		return v4_private(ntohl(in->sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = sockaddr;
		const uint8_t *b = in6->sin6_addr.s6_addr;
		static const uint8_t zero[16];
		if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1))
			return 1; /* :: and ::1 */
		if (memcmp(b, zero, 10) == 0 && b[10] == 0xff && b[11] == 0xff) /* ::ffff:a.b.c.d */
			return v4_private((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15]);
		if ((b[0] & 0xfe) == 0xfc)
			return 1; /* fc00::/7 unique local, includes fd00:ec2::254 */
		if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
			return 1; /* fe80::/10 link-local */
		if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
			return 1; /* fec0::/10 old site-local */
		if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0x00 && b[5] == 0x01)
			return 1; /* 64:ff9b:1::/48 local-use NAT64 */
		if (b[0] == 0xff)
			return 1; /* multicast */
		if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b)
			return v4_private((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15]);
		return 0;
	}
	return 1; /* unknown families are refused */
}

int http_net_parse(const char *text, http_net *net, char *err, size_t errlen)
{
	char a[INET6_ADDRSTRLEN + 8];
	memset(net, 0, sizeof *net);
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	if (n == 0 || n >= sizeof a) {
		natadv_errf(err, errlen, "'%s' is not an IPv4 or IPv6 address", text);
		return NATADV_EINVAL;
	}
	memcpy(a, text, n);
	a[n] = '\0';
	if (inet_pton(AF_INET, a, net->addr) == 1) {
		net->family = AF_INET;
		net->bits = 32;
	} else if (inet_pton(AF_INET6, a, net->addr) == 1) {
		net->family = AF_INET6;
		net->bits = 128;
	} else {
		natadv_errf(err, errlen, "'%s' is not an IPv4 or IPv6 address", text);
		return NATADV_EINVAL;
	}
	if (slash) {
		char *end;
		errno = 0;
		long bits = strtol(slash + 1, &end, 10);
		if (!isdigit((unsigned char)slash[1]) || *end || errno || bits < 0 || bits > net->bits) {
			natadv_errf(err, errlen, "'%s': the prefix length must be 0 to %d", text, net->bits);
			return NATADV_EINVAL;
		}
		net->bits = (int)bits;
	}
	for (int i = net->bits; i < (net->family == AF_INET ? 32 : 128); i++) {
		if (net->addr[i / 8] & (0x80 >> (i % 8))) {
			natadv_errf(err, errlen, "'%s': bits set past the /%d prefix", text, net->bits);
			return NATADV_EINVAL;
		}
	}
	return 0;
}

/* Whether the address a (4 or 16 bytes of family) lies in net. */
static int net_has(const http_net *net, int family, const unsigned char *a)
{
	if (net->family != family)
		return 0;
	int full = net->bits / 8, rest = net->bits % 8;
	if (memcmp(net->addr, a, (size_t)full) != 0)
		return 0;
	return rest == 0 || ((net->addr[full] ^ a[full]) & (0xff00 >> rest) & 0xff) == 0;
}

/* Whether sa is in one of p's allow blocks; an IPv4-mapped IPv6 address
 * counts as its IPv4 address. */
static int allowed_block(const http_policy *p, const struct sockaddr *sa, size_t len)
{
	int family = sa->sa_family;
	const unsigned char *a;
	if (family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		a = (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	} else if (family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(a, mapped, 12) == 0) {
			family = AF_INET;
			a += 12;
		}
	} else {
		return 0;
	}
	for (size_t i = 0; i < p->nallow; i++)
		if (net_has(&p->allow[i], family, a))
			return 1;
	return 0;
}

int http_addr_refused(const http_policy *p, const void *sa, size_t len)
{
	if (p && p->allow_private)
		return 0;
	if (!crawl_addr_is_private(sa, len))
		return 0;
	return !(p && allowed_block(p, sa, len));
}

/* Every socket libcurl opens (to the server or to a proxy) passes here, so
 * a name that resolves to a private address, a redirect to one and a DNS
 * answer changed between check and use are all caught at connect time. */
static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
	http_guard *g = ud;
	(void)purpose;
	if (http_addr_refused(g->policy, &a->addr, a->addrlen)) {
		g->refused = 1;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Through a proxy, the socket callback sees only the proxy's address: the
 * proxy resolves the URL's host. A host written as an address is checked
 * here, before each request is sent (also after a redirect curl follows);
 * a name is left to the proxy. */
int http_url_refused(const http_policy *p, const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL;
	int refused = 0;
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		struct sockaddr_in in = {.sin_family = AF_INET};
		struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
		size_t n = strlen(host);
		if (inet_pton(AF_INET, host, &in.sin_addr) == 1) {
			refused = http_addr_refused(p, &in, sizeof in);
		} else if (host[0] == '[' && n > 2) {
			host[strcspn(host, "]%")] = '\0'; /* "[a:b::c%zone]" */
			if (inet_pton(AF_INET6, host + 1, &in6.sin6_addr) == 1)
				refused = http_addr_refused(p, &in6, sizeof in6);
		}
	}
	curl_free(host);
	curl_url_cleanup(u);
	return refused;
}

static int on_prereq(void *ud, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
	http_guard *g = ud;
	char *url = NULL;
	(void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
	if (g->easy && curl_easy_getinfo(g->easy, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url &&
	    http_url_refused(g->policy, url)) {
		g->refused = 1;
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}

/* ---- handles ---- */

CURL *http_easy_new(const http_opts *o, http_guard *guard)
{
	CURL *e = curl_easy_init();
	if (!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, guard);
	guard->easy = e;
	curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
	curl_easy_setopt(e, CURLOPT_PREREQDATA, guard);
	curl_easy_setopt(e, CURLOPT_USERAGENT, o->user_agent ? o->user_agent : HTTP_USER_AGENT);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, o->max_redirects > 0 ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, o->max_redirects > 0 ? o->max_redirects : 0L);
	if (o->connect_timeout_ms > 0)
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	if (o->timeout_ms > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	if (o->low_speed_secs > 0) {
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_bytes);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, o->low_speed_secs);
	}
	if (o->max_bytes > 0)
		curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	return e;
}

/* ---- headers ---- */

int http_header_value(const char *block, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);
	for (const char *line = block; line && *line;) {
		const char *eol = strchr(line, '\n');
		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			const char *e = eol ? eol : v + strlen(v);
			while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
				e--;
			size_t len = (size_t)(e - v) < outlen - 1 ? (size_t)(e - v) : outlen - 1;
			memcpy(out, v, len);
			out[len] = '\0';
			return 1;
		}
		line = eol ? eol + 1 : NULL;
	}
	return 0;
}

double http_retry_after(const char *value, double now)
{
	if (!value || !value[0])
		return -1;
	char *end;
	errno = 0;
	long secs = strtol(value, &end, 10);
	double at;
	if (end != value && *end == '\0' && errno == 0 && secs >= 0) {
		at = now + (double)(secs > HTTP_RETRY_AFTER_MAX ? HTTP_RETRY_AFTER_MAX : secs);
	} else {
		time_t t = curl_getdate(value, NULL);
		if (t < 0)
			return -1;
		at = (double)t < now ? now : (double)t;
	}
	/* A server cannot park a URL for years: both forms are capped. */
	return at > now + HTTP_RETRY_AFTER_MAX ? now + HTTP_RETRY_AFTER_MAX : at;
}

double http_retry_after_of(CURL *e, double now)
{
	struct curl_header *h = NULL;
	if (curl_easy_header(e, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h)
		return -1;
	char v[128];
	snprintf(v, sizeof v, "%s", h->value);
	for (size_t n = strlen(v); n && (v[n - 1] == ' ' || v[n - 1] == '\t');)
		v[--n] = '\0';
	return http_retry_after(v, now);
}
