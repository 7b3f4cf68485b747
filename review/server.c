/* server.c — the review page's HTTP server on libmicrohttpd: one internal
 * thread (so the store handle is only ever used from it), the routes, the
 * safety checks every request passes, and the embedded page.
 *
 * Checks, in order:
 *   1. the Host header names this server (DNS rebinding), else 403;
 *   2. a route matches (else 404) with its method (else 405);
 *   3. API and image requests carry the session token (X-Natadv-Token, or
 *      ?token= for images, which <img> cannot send headers for), else 403;
 *   4. POST requests come from the page's own origin (Origin equals
 *      http://Host; Sec-Fetch-Site, when sent, is same-origin), else 403;
 *   5. POST bodies are at most RV_BODY_MAX bytes, else 400 (a chunked body
 *      over DISCARD_MAX just has its connection closed). */
#include "review/review_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "common/err.h"
#include "common/sha256.h"
#include "store/embedded.h"

#define CONN_LIMIT 64
#define CONN_PER_IP 32
#define CONN_TIMEOUT_S 30
#define CONN_MEMORY (64 * 1024)
#define REPLY_MAX (64u << 20)
#define DISCARD_MAX (1u << 20)

/* The report (GET /report) is one self-contained page: its CSS and its
 * thumbnails (data: URIs) are inline, and it runs no script at all. */
static const char REPORT_CSP[] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
                                 "form-action 'none'; frame-ancestors 'none'";
static const char CSP[] = "default-src 'self'; img-src 'self'; script-src 'self'; style-src 'self'; "
                          "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/* The state of one request while its body arrives. */
struct req {
	buf body;
	int too_big;
	size_t received;
};

static const struct {
	const char *path, *file, *ctype;
} assets[] = {
	{"/", "review/page/index.html", "text/html; charset=utf-8"},
	{"/app.js", "review/page/app.js", "text/javascript; charset=utf-8"},
	{"/style.css", "review/page/style.css", "text/css; charset=utf-8"},
	{"/favicon.svg", "review/page/favicon.svg", "image/svg+xml"},
};

static const char *header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static const char *query_arg(void *ctx, const char *name)
{
	return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

/* Compares the whole token whatever the first difference (no timing hint). */
static int token_ok(const review_server *srv, const char *t)
{
	if (!t || strlen(t) != 32)
		return 0;
	unsigned char diff = 0;
	for (int i = 0; i < 32; i++)
		diff |= (unsigned char)(t[i] ^ srv->token[i]);
	return diff == 0;
}

static int host_ok(const review_server *srv, const char *host)
{
	if (!host || !*host || strlen(host) > 255)
		return 0;
	if (srv->any_host)
		return 1;
	char want[96];
	snprintf(want, sizeof want, "%s:%u", srv->host, srv->port);
	if (strcasecmp(host, want) == 0)
		return 1;
	/* A loopback server is also reached as localhost. */
	snprintf(want, sizeof want, "localhost:%u", srv->port);
	return (strcmp(srv->host, "127.0.0.1") == 0 || strcmp(srv->host, "[::1]") == 0) &&
	       strcasecmp(host, want) == 0;
}

static int same_origin(struct MHD_Connection *c)
{
	const char *origin = header(c, "Origin"), *host = header(c, MHD_HTTP_HEADER_HOST);
	const char *site = header(c, "Sec-Fetch-Site");
	if (site && strcmp(site, "same-origin") != 0)
		return 0;
	return origin && host && strncmp(origin, "http://", 7) == 0 && strcasecmp(origin + 7, host) == 0;
}

static void add_common_headers(struct MHD_Response *resp, const char *ctype, const char *cache, const char *csp)
{
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache ? cache : "no-store");
	MHD_add_response_header(resp, "Content-Security-Policy", csp ? csp : CSP);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
}

/* Sends r (taking its body or file) and empties it. */
static enum MHD_Result send_reply(struct MHD_Connection *c, rv_reply *r, const char *allow)
{
	struct MHD_Response *resp;
	if (r->fd >= 0) {
		resp = MHD_create_response_from_fd64(r->size, r->fd);
		if (!resp)
			close(r->fd);
		r->fd = -1;
	} else if (r->body.len) {
		resp = MHD_create_response_from_buffer(r->body.len, r->body.data, MHD_RESPMEM_MUST_FREE);
		if (resp)
			buf_init(&r->body, r->body.max); /* MHD frees the data now */
	} else {
		resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	}
	if (!resp)
		return MHD_NO;
	add_common_headers(resp, r->ctype ? r->ctype : "application/json", r->cache, r->csp);
	if (allow)
		MHD_add_response_header(resp, "Allow", allow);
	enum MHD_Result ret = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg,
                                  const char *allow)
{
	rv_reply r = {.fd = -1};
	buf_init(&r.body, 4096);
	rv_reply_error(&r, status, msg);
	enum MHD_Result ret = send_reply(c, &r, allow);
	buf_release(&r.body);
	return ret;
}

static enum MHD_Result send_asset(struct MHD_Connection *c, const char *file, const char *ctype)
{
	const struct embedded_file *f = embedded_find(file);
	if (!f)
		return send_error(c, 404, "not found", NULL);
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(f->len, (void *)f->data, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	add_common_headers(resp, ctype, "no-cache", NULL);
	enum MHD_Result ret = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum route {
	R_NONE, R_ASSET, R_PROPOSALS, R_CLASSES, R_DECISION, R_UNDO, R_IMG, R_THUMB, R_REPORT,
};

/* Matches url to a route; *arg gets the asset index or the image segment. */
static enum route match(const char *url, const char **arg, size_t *asset)
{
	for (size_t i = 0; i < sizeof assets / sizeof assets[0]; i++)
		if (strcmp(url, assets[i].path) == 0) {
			*asset = i;
			return R_ASSET;
		}
	if (strcmp(url, "/api/proposals") == 0)
		return R_PROPOSALS;
	if (strcmp(url, "/api/classes") == 0)
		return R_CLASSES;
	if (strcmp(url, "/api/decision") == 0)
		return R_DECISION;
	if (strcmp(url, "/api/undo") == 0)
		return R_UNDO;
	if (strcmp(url, "/report") == 0)
		return R_REPORT;
	enum route r = strncmp(url, "/img/", 5) == 0 ? R_IMG : strncmp(url, "/thumb/", 7) == 0 ? R_THUMB : R_NONE;
	if (r == R_NONE)
		return R_NONE;
	/* One path segment, no dots: anything path-like is simply not a route. */
	*arg = url + (r == R_IMG ? 5 : 7);
	if (!**arg || strchr(*arg, '/') || strchr(*arg, '.') || strchr(*arg, '\\'))
		return R_NONE;
	return r;
}

/* GET /report: the set's report, made now. */
static void rv_report(review_server *srv, rv_reply *r)
{
	char err[512];
	if (!srv->report) {
		rv_reply_error(r, 404, "not found");
		return;
	}
	buf_reset(&r->body);
	if (srv->report(srv->report_ctx, srv->st, srv->set, srv->target, &r->body, err, sizeof err) != 0) {
		rv_reply_error(r, 500, err);
		return;
	}
	r->status = 200;
	r->ctype = "text/html; charset=utf-8";
	r->csp = REPORT_CSP;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **req_cls)
{
	review_server *srv = cls;
	struct req *rq = *req_cls;
	(void)version;
	int post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
	int get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	const char *arg = NULL;
	size_t asset = 0;
	enum route route = match(url, &arg, &asset);
	int wants_post = route == R_DECISION || route == R_UNDO;

	if (!rq) {
		/* First call: the headers are in, the body (if any) is not. */
		if (!host_ok(srv, header(c, MHD_HTTP_HEADER_HOST)))
			return send_error(c, 403, "this server is not reached under that host name", NULL);
		if (route == R_NONE)
			return send_error(c, 404, "not found", NULL);
		if (wants_post ? !post : !get)
			return send_error(c, 405, "method not allowed", wants_post ? "POST" : "GET, HEAD");
		if (route != R_ASSET) {
			const char *t = header(c, "X-Natadv-Token");
			if (!t && (route == R_IMG || route == R_THUMB || route == R_REPORT))
				t = query_arg(c, "token");
			if (!token_ok(srv, t))
				return send_error(c, 403, "missing or wrong session token", NULL);
		}
		if (post && !same_origin(c))
			return send_error(c, 403, "cross-origin request refused", NULL);
		if (post) {
			const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
			if (cl && (strlen(cl) > 9 || strtoul(cl, NULL, 10) > RV_BODY_MAX))
				return send_error(c, 400, "request body too large", NULL);
		}
		rq = calloc(1, sizeof *rq);
		if (!rq)
			return MHD_NO;
		buf_init(&rq->body, RV_BODY_MAX);
		*req_cls = rq;
		if (post)
			return MHD_YES; /* wait for the body */
	}
	if (*upload_size) {
		/* A chunked body has no length up front: past the cap it is read and
		 * dropped up to DISCARD_MAX to answer 400, then the connection closes. */
		if (!rq->too_big && buf_append(&rq->body, upload, *upload_size) != 0)
			rq->too_big = 1;
		rq->received += *upload_size;
		*upload_size = 0;
		return rq->received > DISCARD_MAX ? MHD_NO : MHD_YES;
	}
	if (rq->too_big)
		return send_error(c, 400, "request body too large", NULL);

	if (route == R_ASSET)
		return send_asset(c, assets[asset].file, assets[asset].ctype);
	rv_reply r = {.status = 500, .fd = -1};
	buf_init(&r.body, REPLY_MAX);
	switch (route) {
	case R_PROPOSALS: rv_api_proposals(srv, query_arg, c, &r); break;
	case R_CLASSES: rv_api_classes(srv, &r); break;
	case R_DECISION: rv_api_decision(srv, rq->body.data ? rq->body.data : "", rq->body.len, &r); break;
	case R_UNDO: rv_api_undo(srv, rq->body.data ? rq->body.data : "", rq->body.len, &r); break;
	case R_IMG: rv_api_image(srv, arg, 0, &r); break;
	case R_THUMB: rv_api_image(srv, arg, 1, &r); break;
	case R_REPORT: rv_report(srv, &r); break;
	default: rv_reply_error(&r, 404, "not found"); break;
	}
	enum MHD_Result ret = send_reply(c, &r, NULL);
	buf_release(&r.body);
	return ret;
}

static void request_done(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct req *rq = *req_cls;
	if (rq) {
		buf_release(&rq->body);
		free(rq);
		*req_cls = NULL;
	}
}

/* Opens the listening socket on addr:port; the caller owns the fd. */
static int listen_on(review_server *srv, const char *addr, unsigned port, int *v6, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		sl = sizeof *a4;
		*v6 = 0;
		snprintf(srv->host, sizeof srv->host, "%s", addr);
		srv->any_host = a4->sin_addr.s_addr == htonl(INADDR_ANY);
	} else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		sl = sizeof *a6;
		*v6 = 1;
		snprintf(srv->host, sizeof srv->host, "[%s]", addr);
		srv->any_host = IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr);
	} else {
		natadv_errf(err, errlen, "'%s' is not a numeric IPv4 or IPv6 address", addr);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0) {
		natadv_errf(err, errlen, "cannot open a socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (*v6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 64) != 0) {
		natadv_errf(err, errlen, "cannot listen on %s:%u: %s", srv->host, port, strerror(errno));
		close(fd);
		return -1;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		srv->port = ntohs(*v6 ? a6->sin6_port : a4->sin_port);
	return fd;
}

int review_start(store *s, const review_opts *o, review_server **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!o->set || !*o->set || strlen(o->set) >= 128 || !o->reviewer || !*o->reviewer ||
	    strlen(o->reviewer) >= 128) {
		natadv_errf(err, errlen, "the review server needs a set and a reviewer name (under 128 bytes)");
		return NATADV_EINVAL;
	}
	review_server *srv = calloc(1, sizeof *srv);
	if (!srv || !(srv->img = img_ctx_new())) {
		free(srv);
		natadv_errf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	srv->st = s;
	snprintf(srv->set, sizeof srv->set, "%s", o->set);
	snprintf(srv->reviewer, sizeof srv->reviewer, "%s", o->reviewer);
	srv->target = o->target;
	srv->report = o->report;
	srv->report_ctx = o->report_ctx;
	srv->run_id = o->run_id;
	unsigned char rnd[16];
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
		natadv_errf(err, errlen, "cannot draw a session token: %s", strerror(errno));
		review_stop(srv);
		return NATADV_EIO;
	}
	hex_encode(rnd, sizeof rnd, srv->token);
	int v6 = 0;
	int fd = listen_on(srv, o->bind ? o->bind : "127.0.0.1", o->port, &v6, err, errlen);
	if (fd < 0) {
		review_stop(srv);
		return NATADV_ENET;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | (v6 ? MHD_USE_IPv6 : 0);
	srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, srv,
	                               MHD_OPTION_LISTEN_SOCKET, fd,
	                               MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_LIMIT,
	                               MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)CONN_PER_IP,
	                               MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
	                               MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
	                               MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL,
	                               MHD_OPTION_END);
	if (!srv->daemon) {
		close(fd);
		natadv_errf(err, errlen, "cannot start the http server on '%s:%u'", srv->host, srv->port);
		review_stop(srv);
		return NATADV_ENET;
	}
	const char *shown = srv->any_host ? (v6 ? "[::1]" : "127.0.0.1") : srv->host;
	snprintf(srv->url, sizeof srv->url, "http://%s:%u/?token=%s", shown, srv->port, srv->token);
	*out = srv;
	return 0;
}

const char *review_url(const review_server *srv)
{
	return srv->url;
}

unsigned review_port(const review_server *srv)
{
	return srv->port;
}

void review_stop(review_server *srv)
{
	if (!srv)
		return;
	if (srv->daemon)
		MHD_stop_daemon(srv->daemon);
	img_ctx_free(srv->img);
	free(srv);
}
