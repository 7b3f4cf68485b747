/* review.h — the local review page: an HTTP server (libmicrohttpd, one
 * internal thread) that serves the embedded page, a small JSON API over the
 * proposals of a set's current selection, and images and thumbnails by hash.
 * Every API and image request needs the session token; every state change
 * also needs a same-origin request. */
#ifndef NATADV_REVIEW_H
#define NATADV_REVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Accepted images wanted per class when no target is given: the page's
 * counters and the report's shortfall. */
#define REVIEW_TARGET_DEFAULT 50

typedef struct review_opts {
	const char *set;        /* class set under review, e.g. "imagenet-a" */
	const char *reviewer;   /* recorded on every decision */
	const char *bind;       /* numeric IPv4 or IPv6 address; NULL = 127.0.0.1 */
	unsigned port;          /* 0 = a free port */
	int target;             /* accepted images wanted per class */
	int64_t run_id;         /* the run decisions are recorded under */
	/* GET /report (same token): writes the HTML page of the set's report
	 * into out from s (on the server's thread); 0 or an error code with err
	 * set. NULL: no such route (404). */
	int (*report)(void *ctx, store *s, const char *set, int target, buf *out, char *err, size_t errlen);
	void *report_ctx;
} review_opts;

typedef struct review_server review_server;

/* Draws a session token and starts serving o->set from s on a thread of its
 * own. From then until review_stop, s belongs to that thread: the caller must
 * not use it. *out (freed with review_stop) is NULL on error, with err set. */
int review_start(store *s, const review_opts *o, review_server **out, char *err, size_t errlen);

/* Returns the page's address with the session token,
 * "http://127.0.0.1:PORT/?token=HEX" (owned by srv). */
const char *review_url(const review_server *srv);

/* Returns the port the server listens on (the chosen one when asked for 0). */
unsigned review_port(const review_server *srv);

/* Stops the server (finishing the request in hand), frees srv and hands the
 * store back to the caller. Accepts NULL. */
void review_stop(review_server *srv);

#endif
