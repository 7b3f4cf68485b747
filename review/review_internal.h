/* review_internal.h — what server.c (HTTP, safety checks, static page) and
 * api.c (JSON endpoints, images) share. Not for use outside review/. */
#ifndef NATADV_REVIEW_INTERNAL_H
#define NATADV_REVIEW_INTERNAL_H

#include <stdint.h>

#include "common/buf.h"
#include "image/image.h"
#include "review/review.h"

/* Request bodies larger than this get 400. */
#define RV_BODY_MAX (16 * 1024)

struct review_server {
	store *st;              /* used only by the server's thread while it runs */
	img_ctx *img;           /* thumbnail scratch, same thread */
	char set[128], reviewer[128];
	int target;
	int64_t run_id;
	int (*report)(void *ctx, store *s, const char *set, int target, buf *out, char *err, size_t errlen);
	void *report_ctx;
	char token[33];         /* 32 hex digits */
	char host[64];          /* the bind address as a URL host: 127.0.0.1, [::1] */
	int any_host;           /* bound to a wildcard address: any Host header is ours */
	unsigned port;
	char url[160];
	struct MHD_Daemon *daemon;
};

/* One response: a body in memory, or a file (fd >= 0, size bytes) the
 * server sends and closes. ctype and cache are static strings. */
typedef struct rv_reply {
	unsigned status;
	const char *ctype;
	const char *cache;      /* Cache-Control; NULL = no-store */
	const char *csp;        /* Content-Security-Policy; NULL = the page's */
	buf body;
	int fd;
	uint64_t size;
} rv_reply;

/* Looks up a query-string argument of the request (NULL when absent). */
typedef const char *(*rv_arg_fn)(void *ctx, const char *name);

/* Sets r to status with the JSON body {"error": msg}. */
void rv_reply_error(rv_reply *r, unsigned status, const char *msg);

/* GET /api/proposals?class=&state=&min_conf=&max_conf=&offset=&limit= */
void rv_api_proposals(review_server *srv, rv_arg_fn arg, void *actx, rv_reply *r);
/* GET /api/classes: per-class counters against the target. */
void rv_api_classes(review_server *srv, rv_reply *r);
/* POST /api/decision {proposal_id, decision, reason}. */
void rv_api_decision(review_server *srv, const char *body, size_t len, rv_reply *r);
/* POST /api/undo {review_id}. */
void rv_api_undo(review_server *srv, const char *body, size_t len, rv_reply *r);
/* GET /img/HASH (the stored bytes) or /thumb/HASH (a small JPEG). */
void rv_api_image(review_server *srv, const char *hash, int thumb, rv_reply *r);

#endif
