/* http.h — the one place a libcurl easy handle is made. crawl, discover and
 * model fetch all get theirs here, so they share one User-Agent, one
 * private-address policy (a socket callback), the same timeouts, redirect
 * and size limits, and one reader of the headers they act on (Retry-After). */
#ifndef NATADV_HTTP_H
#define NATADV_HTTP_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

/* The User-Agent of every request unless the user names another: the tool
 * and one contact URL. */
#define HTTP_USER_AGENT "natadv/" NATADV_VERSION " (+https://github.com/natadv/natadv; research crawler)"

/* An address block, "ADDR[/BITS]": IPv4 or IPv6. */
typedef struct http_net {
	int family;                /* AF_INET or AF_INET6 */
	unsigned char addr[16];    /* network byte order; 4 bytes used for AF_INET */
	int bits;                  /* prefix length: 32 or 128 for one address */
} http_net;

/* Where a connection may go: public addresses always; private ones (see
 * crawl_addr_is_private) when allow_private is set or they fall in one of
 * the allow blocks, and no others. */
typedef struct http_policy {
	int allow_private;         /* any address, loopback and private included */
	const http_net *allow;     /* nallow blocks let through despite being private */
	size_t nallow;
} http_policy;

/* Reads "ADDR" or "ADDR/BITS" (numeric IPv4 or IPv6; host bits must be
 * zero) into *net: 0, or NATADV_EINVAL with the reason in err. */
int http_net_parse(const char *text, http_net *net, char *err, size_t errlen) __attribute__((warn_unused_result));

/* The socket callback's state for one handle; must outlive the handle. */
typedef struct http_guard {
	const http_policy *policy; /* NULL: the default (public addresses only) */
	int refused;               /* set when an address was refused; the caller clears it */
	CURL *easy;                /* the handle it guards (set by http_easy_new) */
} http_guard;

typedef struct http_opts {
	const char *user_agent;    /* NULL: HTTP_USER_AGENT */
	long connect_timeout_ms;   /* 0: curl's default */
	long timeout_ms;           /* whole transfer; 0: none */
	long low_speed_bytes;      /* abort a transfer slower than this many bytes/s ... */
	long low_speed_secs;       /* ... for this many seconds; 0: no such limit */
	long max_redirects;        /* redirects curl follows itself; 0: none followed */
	int64_t max_bytes;         /* a body declared larger fails at once; 0: no cap */
} http_opts;

/* Returns a new easy handle set up from o (http and https only, no signals)
 * whose connections pass guard's policy, or NULL when out of memory. The
 * caller frees it with curl_easy_cleanup. */
CURL *http_easy_new(const http_opts *o, http_guard *guard);

/* Returns 1 when policy p (NULL: the default) refuses a connection to the
 * socket address sa of len bytes, else 0. */
int http_addr_refused(const http_policy *p, const void *sa, size_t len);

/* Returns 1 when url's host is written as an address (IPv4, or IPv6 in
 * brackets) that policy p (NULL: the default) refuses, else 0: a name, or
 * an unreadable URL, is not judged here. Every handle applies it before each
 * request, so a proxy is not asked for a refused address. */
int http_url_refused(const http_policy *p, const char *url);

/* Copies the trimmed value of header name (case-insensitive) from a raw
 * header block into out (truncated to outlen); 1 when found, else 0. */
int http_header_value(const char *block, const char *name, char *out, size_t outlen);

/* Reads a Retry-After value (seconds or an HTTP date) sent at unix time now:
 * returns the unix time to wait until, capped at HTTP_RETRY_AFTER_MAX
 * seconds from now, or -1 when value is empty or unreadable. */
double http_retry_after(const char *value, double now);
#define HTTP_RETRY_AFTER_MAX (6 * 3600)

/* The Retry-After of the last response handle e received, as above, or -1. */
double http_retry_after_of(CURL *e, double now);

#endif
