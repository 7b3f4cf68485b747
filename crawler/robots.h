/* robots.h — robots.txt (RFC 9309): parse a body once per host, keep only
 * the rules of the group that applies to our product token, then answer
 * "may we fetch this path?" for every URL of that host. */
#ifndef NATADV_ROBOTS_H
#define NATADV_ROBOTS_H

#include <stddef.h>

/* Bytes of a robots.txt body that are parsed; RFC 9309 lets the rest go. */
#define ROBOTS_MAX_BODY (500 * 1024)
/* Crawl-delay values above this many seconds are clipped to it. */
#define ROBOTS_MAX_DELAY 86400.0

typedef struct robots robots;

/* Parses len bytes of body (NULL allowed when len is 0) for the product
 * token agent, e.g. "natadv". Keeps the group(s) whose user-agent matches
 * agent case-insensitively, else the '*' group(s), else no rules (all
 * allowed). Returns 0 and *out, which the caller frees with robots_free, or
 * NATADV_EINVAL (NULL argument) or NATADV_ENOMEM. */
int robots_parse(const char *body, size_t len, const char *agent, robots **out);

/* Returns 1 if path_and_query ("/a/b?c", as url_path_and_query gives it)
 * may be fetched, 0 if not: the longest matching rule wins, Allow wins a
 * tie, '*' matches any run and a final '$' anchors; percent-encoding is
 * normalised on both sides; "/robots.txt" is always allowed. A NULL r
 * allows everything; running out of memory answers 0. */
int robots_allowed(const robots *r, const char *path_and_query);

/* Returns the Crawl-delay of the chosen group in seconds (0 if none). */
double robots_crawl_delay(const robots *r);

/* Frees r; accepts NULL. */
void robots_free(robots *r);

#endif
