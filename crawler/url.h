/* url.h — checks and normalises the http(s) URLs the crawler is given, and
 * derives the per-host politeness key and robots.txt address from them.
 * Parsing is libcurl's URL API, so we agree with the fetcher on what a URL is. */
#ifndef NATADV_URL_H
#define NATADV_URL_H

#include <stddef.h>

#include "common/buf.h"

/* Longest URL accepted, in bytes; longer ones are refused, not truncated. */
#define URL_MAX_LEN 8192

/* Checks that in is an absolute http/https URL with a host. On success
 * replaces norm's contents with the normalised URL (scheme and host lower
 * case, default port removed, empty path -> "/", fragment dropped, nothing
 * percent-decoded) and hostkey's with "scheme://host[:port]"; either may be
 * NULL. Returns 0, NATADV_EINVAL (detail in err), NATADV_ENOMEM or
 * NATADV_ETOOBIG (a buffer's cap). The caller owns both bufs. */
int url_check(const char *in, buf *norm, buf *hostkey, char *err, size_t errlen);

/* Replaces out's contents with the path of url plus "?query" when there is a
 * query: the string robots.txt rules match against. Returns 0,
 * NATADV_EINVAL (unparseable url), NATADV_ENOMEM or NATADV_ETOOBIG. */
int url_path_and_query(const char *url, buf *out);

/* Replaces out's contents with hostkey + "/robots.txt". Returns 0,
 * NATADV_EINVAL (NULL or empty hostkey), NATADV_ENOMEM or NATADV_ETOOBIG. */
int url_robots(const char *hostkey, buf *out);

#endif
