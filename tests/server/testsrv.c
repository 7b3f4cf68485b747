/* testsrv.c — the loopback HTTP server the crawler's end-to-end tests run against.
 * It serves files from --root through routes that misbehave on purpose (errors,
 * retries, redirects, drips, truncation, hostile images); tests/server/README.md lists them. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <microhttpd.h>

/* Paths longer than this get 414; MHD itself answers 414 once a request line
 * no longer fits its per-connection memory (CONN_MEMORY below). */
#define PATH_MAX_LEN (16 * 1024)
#define CONN_MEMORY (256 * 1024)
#define MAX_SEGS 6
#define GEN_BASE_MAX (64u * 1024 * 1024)
#define HEADERS_ECHO_MAX (64 * 1024)
#define CMAP_BUCKETS 4096
#define CMAP_MAX_ENTRIES (1u << 20)
#define NAP_SLICE_MS 20

/* One line of the --routes table (see load_routes). */
struct api_route {
	char *path, *params, *file;
	unsigned once;    /* the first request gets this status (a 429 with Retry-After: 1), or 0 */
	unsigned status;  /* of the answer (200) */
	int line;
	long retry_after; /* retry-after=S: Retry-After on every answer that is not a 200; -1 if unset */
};

/* A counter per string key: request counts per path, failures left per KEY.
 * Bounded: once CMAP_MAX_ENTRIES keys exist, new keys are not remembered. */
struct cmap_entry {
	struct cmap_entry *next;
	uint64_t count;
	size_t len;
	char key[];
};

struct cmap {
	pthread_mutex_t mu;
	struct cmap_entry *b[CMAP_BUCKETS];
	size_t n;
};

struct server {
	int rootfd;
	FILE *log;
	pthread_mutex_t log_mu;
	unsigned char *gen_base; /* the --gen-base JPEG, read once */
	size_t gen_len;
	unsigned char *corrupt; /* gen_base with garbage over its entropy data */
	size_t corrupt_len;
	unsigned char png[512];
	size_t png_len;
	char host[INET6_ADDRSTRLEN + 2]; /* the bind address as a URL host */
	unsigned port;
	struct cmap hits, flaky, ratelimit, unavail;
	struct api_route *routes; /* --routes: canned API answers under /api/ */
	size_t nroutes;
	uint64_t robots_fail; /* --robots-fail: /robots.txt answers 503 this many times first */
};

static struct server srv;
static atomic_int g_stopping;

/* ---- small helpers ---- */

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static void cmap_init(struct cmap *m)
{
	memset(m, 0, sizeof *m);
	pthread_mutex_init(&m->mu, NULL);
}

static void cmap_release(struct cmap *m)
{
	for (size_t i = 0; i < CMAP_BUCKETS; i++) {
		struct cmap_entry *e = m->b[i];
		while (e) {
			struct cmap_entry *next = e->next;
			free(e);
			e = next;
		}
		m->b[i] = NULL;
	}
	pthread_mutex_destroy(&m->mu);
}

/* Finds key; with add, creates it at 0 and increments. Returns the count, or
 * UINT64_MAX when a new key cannot be remembered (out of memory or full). */
static uint64_t cmap_touch(struct cmap *m, const char *key, int add)
{
	size_t len = strlen(key);
	size_t slot = (size_t)(hash_bytes(key, len) % CMAP_BUCKETS);
	struct cmap_entry *e;
	uint64_t count = 0;

	pthread_mutex_lock(&m->mu);
	for (e = m->b[slot]; e; e = e->next)
		if (e->len == len && memcmp(e->key, key, len) == 0)
			break;
	if (!e && add) {
		if (m->n < CMAP_MAX_ENTRIES)
			e = malloc(sizeof *e + len + 1);
		if (!e) {
			count = UINT64_MAX;
			goto out;
		}
		e->count = 0;
		e->len = len;
		memcpy(e->key, key, len + 1);
		e->next = m->b[slot];
		m->b[slot] = e;
		m->n++;
	}
	if (e) {
		if (add)
			e->count++;
		count = e->count;
	}
out:
	pthread_mutex_unlock(&m->mu);
	return count;
}

/* Strict decimal: digits only, no sign or spaces, at most max. 0 on success. */
static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

/* Sleeps ms milliseconds in short slices; returns 0 if shutdown began. */
static int nap_ms(uint64_t ms)
{
	while (ms > 0) {
		uint64_t step = ms < NAP_SLICE_MS ? ms : NAP_SLICE_MS;
		struct timespec ts = { 0, (long)(step * 1000000) };

		if (atomic_load(&g_stopping))
			return 0;
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return !atomic_load(&g_stopping);
}

static void http_date(time_t t, char *out, size_t cap)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0 && cap)
		out[0] = '\0';
}

/* Copies s into out, percent-escaping every byte except the unreserved set
 * (A-Z a-z 0-9 - . _ ~) and the printable characters listed in keep; '%',
 * space, controls and non-ASCII are always escaped. Cut at cap - 1 bytes. */
static void escape_into(char *out, size_t cap, const char *s, const char *keep)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (cap == 0)
		return;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		int plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		            (ch >= '0' && ch <= '9') || strchr("-._~", ch) ||
		            (ch > 0x20 && ch < 0x7f && ch != '%' && strchr(keep, ch));
		if (plain) {
			if (o + 1 >= cap)
				break;
			out[o++] = (char)ch;
		} else {
			if (o + 3 >= cap)
				break;
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
}

static void log_request(const char *method, const char *url, unsigned status, const char *ua)
{
	char m[64], p[PATH_MAX_LEN * 3 + 1], u[1024];
	static const char printable[] = "!\"#$&'()*+,/:;<=>?@[\\]^`{|}";

	escape_into(m, sizeof m, method, printable);
	escape_into(p, sizeof p, url, printable);
	escape_into(u, sizeof u, ua ? ua : "-", printable);
	pthread_mutex_lock(&srv.log_mu);
	fprintf(srv.log, "%s %s %u %s\n", m, p, status, u);
	fflush(srv.log);
	pthread_mutex_unlock(&srv.log_mu);
}

/* MHD's own complaints go to stderr on a line of their own (its messages do
 * not always end in a newline), so they never merge with request lines. */
static void log_mhd(void *cls, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof msg, fmt, ap);
	/* Expected on every /truncated, aborted drip and shutdown: not news. */
	if (strstr(msg, "error generating data") || strstr(msg, "reported internal error"))
		return;
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	pthread_mutex_lock(&srv.log_mu);
	fprintf(stderr, "testsrv: mhd: %s\n", msg);
	fflush(stderr);
	pthread_mutex_unlock(&srv.log_mu);
}

static const char *content_type_for(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0))
		return "image/jpeg";
	if (dot && strcasecmp(dot, ".png") == 0)
		return "image/png";
	return "application/octet-stream";
}

/* ---- responses ---- */

/* Queues r (which may be NULL after a failed allocation: the connection is
 * then dropped), logs the request line, and releases r. */
static enum MHD_Result reply(struct MHD_Connection *c, const char *method,
                             const char *url, unsigned status, struct MHD_Response *r)
{
	enum MHD_Result ret;

	const char *ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT);

	if (!r) {
		log_request(method, url, 500, ua);
		return MHD_NO;
	}
	log_request(method, url, status, ua);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

__attribute__((format(printf, 2, 3)))
static struct MHD_Response *resp_printf(const char *ctype, const char *fmt, ...)
{
	struct MHD_Response *r;
	va_list ap;
	char *body;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	body = malloc((size_t)n + 1);
	if (!body)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(body, (size_t)n + 1, fmt, ap);
	va_end(ap);
	r = MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return NULL;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	return r;
}

/* A status with a one-line text body ("404 Not Found\n"); 204/304 get none. */
static enum MHD_Result reply_status(struct MHD_Connection *c, const char *method,
                                    const char *url, unsigned status)
{
	struct MHD_Response *r;

	if (status == 204 || status == 304)
		r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	else
		r = resp_printf("text/plain", "%u %s\n", status,
		                MHD_get_reason_phrase_for(status));
	return reply(c, method, url, status, r);
}

static enum MHD_Result reply_redirect(struct MHD_Connection *c, const char *method,
                                      const char *url, const char *location)
{
	struct MHD_Response *r = resp_printf("text/plain", "302 Found: %s\n", location);

	if (r && MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location) != MHD_YES) {
		MHD_destroy_response(r);
		return reply_status(c, method, url, 400);
	}
	return reply(c, method, url, 302, r);
}

/* ---- files from --root ---- */

/* A NAME is one path segment; ".." anywhere is refused outright. */
static unsigned check_name(const char *name)
{
	if (!*name)
		return 404;
	if (strchr(name, '/') || strstr(name, ".."))
		return 400;
	return 0;
}

/* Opens a regular file in --root. 0 on success, else the HTTP status to send. */
static unsigned open_in_root(const char *name, int *fd_out, struct stat *st)
{
	unsigned bad = check_name(name);
	int fd;

	if (bad)
		return bad;
	fd = openat(srv.rootfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == EACCES || errno == EPERM ? 403 : 404;
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return 404;
	}
	*fd_out = fd;
	return 0;
}

static void make_etag(const struct stat *st, char *out, size_t cap)
{
	snprintf(out, cap, "\"%" PRIx64 "-%" PRIx64 "-%lx\"", (uint64_t)st->st_size,
	         (uint64_t)st->st_mtim.tv_sec, (unsigned long)st->st_mtim.tv_nsec);
}

/* RFC 9110 13.2.2: If-None-Match wins over If-Modified-Since. */
static int not_modified(struct MHD_Connection *c, const char *etag, time_t mtime)
{
	const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	                                              MHD_HTTP_HEADER_IF_NONE_MATCH);
	const char *ims = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	                                              MHD_HTTP_HEADER_IF_MODIFIED_SINCE);
	struct tm tm;
	const char *end;

	if (inm)
		return strstr(inm, etag) != NULL || strcmp(inm, "*") == 0;
	if (!ims)
		return 0;
	memset(&tm, 0, sizeof tm);
	end = strptime(ims, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return 0;
	return mtime <= timegm(&tm);
}

static void add_validators(struct MHD_Response *r, const char *etag, time_t mtime)
{
	char date[64];

	http_date(mtime, date, sizeof date);
	MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
	MHD_add_response_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, date);
}

/* 200 with the file NAME (sendfile), or 304 to a matching conditional GET.
 * robots is an X-Robots-Tag value or NULL. */
static enum MHD_Result serve_file(struct MHD_Connection *c, const char *method,
                                  const char *url, const char *name, const char *ctype,
                                  const char *robots)
{
	struct MHD_Response *r;
	struct stat st;
	char etag[80];
	unsigned status;
	int fd = -1;

	status = open_in_root(name, &fd, &st);
	if (status)
		return reply_status(c, method, url, status);
	make_etag(&st, etag, sizeof etag);
	if (not_modified(c, etag, st.st_mtim.tv_sec)) {
		close(fd);
		r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
		if (r)
			add_validators(r, etag, st.st_mtim.tv_sec);
		return reply(c, method, url, 304, r);
	}
	r = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
	if (!r) {
		close(fd);
		return reply(c, method, url, 500, NULL);
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        ctype ? ctype : content_type_for(name));
	add_validators(r, etag, st.st_mtim.tv_sec);
	if (robots)
		MHD_add_response_header(r, "X-Robots-Tag", robots);
	return reply(c, method, url, 200, r);
}

/* /drip and /truncated: a file streamed from an fd by a callback. */
struct stream {
	int fd;
	uint64_t limit; /* bytes actually sent; less than Content-Length when truncated */
	int drip;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	size_t n;
	ssize_t got;

	if (atomic_load(&g_stopping) || pos >= s->limit)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	n = s->limit - pos < max ? (size_t)(s->limit - pos) : max;
	if (s->drip) {
		/* The first byte goes out with the headers, then one a second. */
		if (pos > 0 && !nap_ms(1000))
			return MHD_CONTENT_READER_END_WITH_ERROR;
		n = 1;
	}
	got = pread(s->fd, buf, n, (off_t)pos);
	if (got <= 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	return got;
}

static void stream_free(void *cls)
{
	struct stream *s = cls;

	close(s->fd);
	free(s);
}

static enum MHD_Result serve_stream(struct MHD_Connection *c, const char *method,
                                    const char *url, const char *name, int drip)
{
	struct MHD_Response *r;
	struct stream *s;
	struct stat st;
	unsigned status;
	int fd = -1;

	status = open_in_root(name, &fd, &st);
	if (status)
		return reply_status(c, method, url, status);
	s = malloc(sizeof *s);
	if (!s) {
		close(fd);
		return reply(c, method, url, 500, NULL);
	}
	s->fd = fd;
	s->drip = drip;
	s->limit = drip ? (uint64_t)st.st_size : (uint64_t)st.st_size / 2;
	r = MHD_create_response_from_callback((uint64_t)st.st_size, 4096, stream_read, s,
	                                      stream_free);
	if (!r) {
		stream_free(s);
		return reply(c, method, url, 500, NULL);
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type_for(name));
	return reply(c, method, url, 200, r);
}

/* ---- generated bodies ---- */

/* /big: SOI, a JFIF APP0, then APP15 segments of maximal length filled with 'N'
 * until the size runs out: every byte is part of a plausible marker stream, so
 * only a size cap stops a client from reading on. */
#define BIG_SEG 65537u /* FF EF FF FF + 65533 bytes of payload */
static const unsigned char big_head[20] = {
	0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F',
	0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
};
static const unsigned char big_seg_head[4] = { 0xFF, 0xEF, 0xFF, 0xFF };

struct big {
	uint64_t total;
};

static ssize_t big_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	const struct big *b = cls;
	size_t n, i = 0;

	if (atomic_load(&g_stopping))
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (pos >= b->total)
		return MHD_CONTENT_READER_END_OF_STREAM;
	n = b->total - pos < max ? (size_t)(b->total - pos) : max;
	while (i < n) {
		uint64_t o = pos + i, k;
		size_t run;

		if (o < sizeof big_head) {
			buf[i++] = (char)big_head[o];
			continue;
		}
		k = (o - sizeof big_head) % BIG_SEG;
		if (k < sizeof big_seg_head) {
			buf[i++] = (char)big_seg_head[k];
			continue;
		}
		run = (size_t)(BIG_SEG - k);
		if (run > n - i)
			run = n - i;
		memset(buf + i, 'N', run);
		i += run;
	}
	return (ssize_t)n;
}

static enum MHD_Result serve_big(struct MHD_Connection *c, const char *method,
                                 const char *url, const char *mb, int chunked)
{
	struct MHD_Response *r;
	struct big *b;
	uint64_t v;

	if (parse_uint(mb, 1u << 16, &v) != 0)
		return reply_status(c, method, url, 400);
	b = malloc(sizeof *b);
	if (!b)
		return reply(c, method, url, 500, NULL);
	b->total = v << 20;
	r = MHD_create_response_from_callback(chunked ? MHD_SIZE_UNKNOWN : b->total, 64 * 1024,
	                                      big_read, b, free);
	if (!r) {
		free(b);
		return reply(c, method, url, 500, NULL);
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "image/jpeg");
	return reply(c, method, url, 200, r);
}

static enum MHD_Result serve_bytes(struct MHD_Connection *c, const char *method,
                                   const char *url, const void *data, size_t len,
                                   const char *ctype)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)data,
	                                    MHD_RESPMEM_PERSISTENT);
	if (r)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	return reply(c, method, url, 200, r);
}

/* 200 with body (malloc'ed, len bytes, freed by MHD or here) as ctype. */
static enum MHD_Result reply_malloced(struct MHD_Connection *c, const char *method, const char *url,
                                     unsigned char *body, size_t len, const char *ctype)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);

	if (!r) {
		free(body);
		return reply(c, method, url, 500, NULL);
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	return reply(c, method, url, 200, r);
}

/* Parses "I.EXT", I a decimal number: 0, or the status to answer (404 for
 * another extension, 400 for a bad number). */
static unsigned parse_numbered(const char *seg, const char *ext, uint64_t *i)
{
	const char *dot = strrchr(seg, '.');
	char num[32];

	if (!dot || strcmp(dot, ext) != 0)
		return 404;
	if ((size_t)(dot - seg) >= sizeof num)
		return 400;
	memcpy(num, seg, (size_t)(dot - seg));
	num[dot - seg] = '\0';
	return parse_uint(num, UINT64_MAX, i) != 0 ? 400 : 0;
}

/* /gen/I.jpg: the base JPEG with "natadv-gen I" in a COM segment after SOI. */
static enum MHD_Result serve_gen(struct MHD_Connection *c, const char *method,
                                 const char *url, const char *seg)
{
	char text[48];
	unsigned char *body;
	size_t tlen, len;
	uint64_t i;
	unsigned status;

	if ((status = parse_numbered(seg, ".jpg", &i)) != 0)
		return reply_status(c, method, url, status);
	if (!srv.gen_base)
		return reply_status(c, method, url, 404);
	snprintf(text, sizeof text, "natadv-gen %" PRIu64, i);
	tlen = strlen(text);
	len = srv.gen_len + 4 + tlen;
	body = malloc(len);
	if (!body)
		return reply(c, method, url, 500, NULL);
	memcpy(body, srv.gen_base, 2);
	body[2] = 0xFF;
	body[3] = 0xFE;
	body[4] = (unsigned char)((tlen + 2) >> 8);
	body[5] = (unsigned char)((tlen + 2) & 0xFF);
	memcpy(body + 6, text, tlen);
	memcpy(body + 6 + tlen, srv.gen_base + 2, srv.gen_len - 2);
	return reply_malloced(c, method, url, body, len, "image/jpeg");
}

static void put_be32(unsigned char *p, uint32_t v);
static void png_chunk(unsigned char *png, size_t *len, const char *type,
                      const unsigned char *data, size_t n);
static size_t png_start(unsigned char *png, unsigned char ihdr[13], uint32_t w, uint32_t h);

/* /pattern/I.png: a 128 x 128 RGB PNG of 8 x 8 blocks of 16 px whose colours
 * come from I (splitmix64), so every I gives other pixels and another
 * perceptual hash; stored (uncompressed) deflate, so no zlib is needed. */
#define PAT_SIDE 128u
#define PAT_ROW (1u + 3u * PAT_SIDE)   /* filter byte + RGB */
#define PAT_RAW (PAT_ROW * PAT_SIDE)   /* 49280: one stored block */
static enum MHD_Result serve_pattern(struct MHD_Connection *c, const char *method,
                                     const char *url, const char *seg)
{
	unsigned char ihdr[13], colour[8][8][3], *idat, *png, *raw;
	uint64_t i, x;
	unsigned status;
	uint32_t a = 1, b = 0;
	size_t len, ilen = 2 + 5 + PAT_RAW + 4;

	if ((status = parse_numbered(seg, ".png", &i)) != 0)
		return reply_status(c, method, url, status);
	x = i;
	for (int by = 0; by < 8; by++)
		for (int bx = 0; bx < 8; bx++) {
			uint64_t z = (x += 0x9E3779B97F4A7C15u);
			z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
			z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
			z ^= z >> 31;
			for (int k = 0; k < 3; k++)
				colour[by][bx][k] = (unsigned char)(z >> (8 * k));
		}
	idat = malloc(ilen);
	png = malloc(8 + 25 + 12 + ilen + 12);  /* signature, IHDR, IDAT, IEND */
	if (!idat || !png) {
		free(idat);
		free(png);
		return reply(c, method, url, 500, NULL);
	}
	idat[0] = 0x78; /* zlib: deflate, 32K window */
	idat[1] = 0x01;
	idat[2] = 0x01; /* BFINAL, BTYPE = 00 (stored) */
	idat[3] = (unsigned char)(PAT_RAW & 0xFF);
	idat[4] = (unsigned char)(PAT_RAW >> 8);
	idat[5] = (unsigned char)(~PAT_RAW & 0xFF);
	idat[6] = (unsigned char)((~PAT_RAW >> 8) & 0xFF);
	raw = idat + 7;
	for (unsigned y = 0; y < PAT_SIDE; y++) {
		unsigned char *row = raw + y * PAT_ROW;
		row[0] = 0; /* filter: none */
		for (unsigned px = 0; px < PAT_SIDE; px++)
			memcpy(row + 1 + 3 * px, colour[y / 16][px / 16], 3);
	}
	for (size_t k = 0; k < PAT_RAW; k++) {
		a = (a + raw[k]) % 65521u;
		b = (b + a) % 65521u;
	}
	put_be32(idat + 7 + PAT_RAW, (b << 16) | a);
	len = png_start(png, ihdr, PAT_SIDE, PAT_SIDE);
	png_chunk(png, &len, "IDAT", idat, ilen);
	png_chunk(png, &len, "IEND", NULL, 0);
	free(idat);
	return reply_malloced(c, method, url, png, len, "image/png");
}

/* /flaky, /ratelimit, /unavailable: the first N requests per KEY fail. */
static enum MHD_Result serve_failing(struct MHD_Connection *c, const char *method,
                                     const char *url, struct cmap *m, unsigned status,
                                     const char *nstr, const char *key, const char *name)
{
	struct MHD_Response *r;
	char retry[64];
	uint64_t n, seen;

	if (parse_uint(nstr, 1000000000u, &n) != 0)
		return reply_status(c, method, url, 400);
	seen = cmap_touch(m, key, 1);
	if (seen > n)
		return serve_file(c, method, url, name, NULL, NULL);
	r = resp_printf("text/plain", "%u %s (%" PRIu64 " of %" PRIu64 ")\n", status,
	                MHD_get_reason_phrase_for(status), seen, n);
	if (r && status == 429)
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (r && status == 503) {
		http_date(time(NULL) + 1, retry, sizeof retry);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry);
	}
	return reply(c, method, url, status, r);
}

/* /headers: the request headers, one "Name: value" a line, in arrival order. */
struct echo {
	char *p;
	size_t len;
};

static enum MHD_Result echo_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
	struct echo *e = cls;
	int n;

	(void)kind;
	if (e->len >= HEADERS_ECHO_MAX)
		return MHD_NO;
	n = snprintf(e->p + e->len, HEADERS_ECHO_MAX + 1 - e->len, "%s: %s\n", key,
	             value ? value : "");
	if (n < 0 || (size_t)n > HEADERS_ECHO_MAX - e->len) {
		e->len = HEADERS_ECHO_MAX;
		return MHD_NO;
	}
	e->len += (size_t)n;
	return MHD_YES;
}

static enum MHD_Result serve_headers(struct MHD_Connection *c, const char *method,
                                     const char *url)
{
	struct MHD_Response *r;
	struct echo e = { malloc(HEADERS_ECHO_MAX + 1), 0 };

	if (!e.p)
		return reply(c, method, url, 500, NULL);
	e.p[0] = '\0';
	MHD_get_connection_values(c, MHD_HEADER_KIND, echo_header, &e);
	r = MHD_create_response_from_buffer(e.len, e.p, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(e.p);
		return reply(c, method, url, 500, NULL);
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	return reply(c, method, url, 200, r);
}

static const char html_error[] =
	"<!DOCTYPE html><html><head><title>Error</title></head>"
	"<body><h1>Something went wrong</h1><p>The image you requested is not "
	"available right now. Please try again later.</p></body></html>\n";

static const char robots_default[] = "User-agent: *\nDisallow: /private/\n";

/* ---- canned API answers (--routes) ---- */

#define ROUTE_FILE_MAX (4u << 20)

/* Whether every "k=v" of the route's '&'-separated params is an argument of
 * the request ("k=!" wants k absent). */
static int route_matches(struct MHD_Connection *c, const struct api_route *rt)
{
	char spec[4096];
	if (strcmp(rt->params, "-") == 0)
		return 1;
	snprintf(spec, sizeof spec, "%s", rt->params);
	for (char *p = spec; p;) {
		char *amp = strchr(p, '&'), *eq;
		const char *have;
		if (amp)
			*amp = '\0';
		eq = strchr(p, '=');
		if (eq) {
			*eq = '\0';
			have = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, p);
			if (strcmp(eq + 1, "!") == 0 ? have != NULL : (!have || strcmp(have, eq + 1) != 0))
				return 0;
		}
		p = amp ? amp + 1 : NULL;
	}
	return 1;
}

/* Appends s[0..n) to the growing body; 0 or -1 past ROUTE_FILE_MAX * 2. */
static int body_add(char **b, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t want = (*len + n + 1) * 2;
		char *nb;
		if (want > 2 * ROUTE_FILE_MAX)
			return -1;
		nb = realloc(*b, want);
		if (!nb)
			return -1;
		*b = nb;
		*cap = want;
	}
	memcpy(*b + *len, s, n);
	*len += n;
	(*b)[*len] = '\0';
	return 0;
}

/* The route's file (relative to --root, no ".."), with {base} and {page}
 * replaced in text files: the loopback base URL and the page argument. */
static enum MHD_Result serve_route(struct MHD_Connection *c, const char *method, const char *url,
                                   const struct api_route *rt)
{
	struct MHD_Response *r;
	const char *dot = strrchr(rt->file, '.'), *ctype, *page;
	char key[32], base[INET6_ADDRSTRLEN + 32], *raw = NULL, *body = NULL;
	size_t len = 0, cap = 0, got = 0;
	struct stat st;
	int fd, text;

	snprintf(key, sizeof key, "route:%d", rt->line);
	if (rt->once && cmap_touch(&srv.ratelimit, key, 1) == 1) {
		r = resp_printf("text/plain", "%u %s\n", rt->once, MHD_get_reason_phrase_for(rt->once));
		if (r && (rt->once == 429 || rt->retry_after >= 0)) {
			char ra[24];
			snprintf(ra, sizeof ra, "%ld", rt->retry_after >= 0 ? rt->retry_after : 1L);
			MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
		}
		return reply(c, method, url, rt->once, r);
	}
	if (rt->file[0] == '/' || strstr(rt->file, ".."))
		return reply_status(c, method, url, 400);
	fd = openat(srv.rootfd, rt->file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return reply_status(c, method, url, 404);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > ROUTE_FILE_MAX ||
	    !(raw = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return reply_status(c, method, url, 500);
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, raw + got, (size_t)st.st_size - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	raw[got] = '\0';
	text = dot && (strcmp(dot, ".json") == 0 || strcmp(dot, ".html") == 0 || strcmp(dot, ".txt") == 0);
	ctype = !text ? content_type_for(rt->file) : strcmp(dot, ".json") == 0 ? "application/json"
	      : strcmp(dot, ".html") == 0 ? "text/html; charset=utf-8" : "text/plain";
	page = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "page");
	snprintf(base, sizeof base, "http://%s:%u", srv.host, srv.port);
	for (size_t i = 0; i < got;) {
		const char *sub = NULL;
		size_t skip = 1;
		if (text && strncmp(raw + i, "{base}", 6) == 0) {
			sub = base;
			skip = 6;
		} else if (text && strncmp(raw + i, "{page}", 6) == 0) {
			sub = page ? page : "1";
			skip = 6;
		}
		if (body_add(&body, &len, &cap, sub ? sub : raw + i, sub ? strlen(sub) : 1) != 0) {
			free(raw);
			free(body);
			return reply_status(c, method, url, 500);
		}
		i += skip;
	}
	free(raw);
	r = MHD_create_response_from_buffer(len, body ? body : "", body ? MHD_RESPMEM_MUST_FREE
	                                                           : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		free(body);
		return reply(c, method, url, 500, NULL);
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (rt->retry_after >= 0 && rt->status != 200) {
		char ra[24];
		snprintf(ra, sizeof ra, "%ld", rt->retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	return reply(c, method, url, rt->status, r);
}

static enum MHD_Result serve_api(struct MHD_Connection *c, const char *method, const char *url)
{
	for (size_t i = 0; i < srv.nroutes; i++)
		if (strcmp(srv.routes[i].path, url) == 0 && route_matches(c, &srv.routes[i]))
			return serve_route(c, method, url, &srv.routes[i]);
	return reply_status(c, method, url, 404);
}

/* Reads the --routes table: one route a line, tab-separated
 *   PATH  PARAMS  FILE  [MODE]
 * PATH is matched exactly; PARAMS is '-' or k=v&k=v (decoded values; v '!'
 * means k must be absent); FILE is relative to --root; MODE is '-' or a
 * comma list of once=STATUS, status=STATUS and retry-after=SECONDS (sent with
 * every answer that is not a 200). '#' starts a comment line. */
static int load_routes(const char *path)
{
	FILE *f = fopen(path, "re");
	char line[8192];
	int lineno = 0, rc = 0;

	if (!f) {
		fprintf(stderr, "testsrv: cannot open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		char *field[4] = {NULL, NULL, NULL, NULL}, *p = line;
		struct api_route *rt, *grown;
		int n = 0;
		uint64_t v;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		while (p && n < 4) {
			char *tab = strchr(p, '\t');
			if (tab)
				*tab = '\0';
			field[n++] = p;
			p = tab ? tab + 1 : NULL;
		}
		if (n < 3) {
			fprintf(stderr, "testsrv: '%s' line %d: want PATH, PARAMS and FILE\n", path, lineno);
			rc = -1;
			break;
		}
		grown = realloc(srv.routes, (srv.nroutes + 1) * sizeof *grown);
		if (!grown) {
			rc = -1;
			break;
		}
		srv.routes = grown;
		rt = &srv.routes[srv.nroutes++];
		memset(rt, 0, sizeof *rt);
		rt->line = lineno;
		rt->status = 200;
		rt->retry_after = -1;
		rt->path = strdup(field[0]);
		rt->params = strdup(field[1]);
		rt->file = strdup(field[2]);
		for (p = field[3]; p && *p && strcmp(p, "-") != 0;) {
			char *comma = strchr(p, ',');
			unsigned *dst = NULL;
			if (comma)
				*comma = '\0';
			if (strncmp(p, "retry-after=", 12) == 0) {
				if (parse_uint(p + 12, 1000000000, &v) != 0) {
					fprintf(stderr, "testsrv: '%s' line %d: bad mode '%s'\n", path, lineno, p);
					rc = -1;
					break;
				}
				rt->retry_after = (long)v;
				p = comma ? comma + 1 : NULL;
				continue;
			}
			if (strncmp(p, "once=", 5) == 0)
				dst = &rt->once;
			else if (strncmp(p, "status=", 7) == 0)
				dst = &rt->status;
			if (!dst || parse_uint(strchr(p, '=') + 1, 599, &v) != 0 || v < 200) {
				fprintf(stderr, "testsrv: '%s' line %d: bad mode '%s'\n", path, lineno, p);
				rc = -1;
				break;
			}
			*dst = (unsigned)v;
			p = comma ? comma + 1 : NULL;
		}
		if (rc || !rt->path || !rt->params || !rt->file) {
			rc = -1;
			break;
		}
	}
	fclose(f);
	return rc;
}

/* ---- routing ---- */

/* Splits "/a/b/c" into segments in place; returns their number, or -1 when
 * there are more than MAX_SEGS. "/" gives one empty segment. */
static int split_path(char *p, char **seg)
{
	int n = 0;

	if (*p == '/')
		p++;
	for (;;) {
		char *slash = strchr(p, '/');

		if (n == MAX_SEGS)
			return -1;
		seg[n++] = p;
		if (!slash)
			return n;
		*slash = '\0';
		p = slash + 1;
	}
}

static enum MHD_Result route(struct MHD_Connection *c, const char *method, const char *url)
{
	char path[PATH_MAX_LEN + 1], loc[PATH_MAX_LEN * 3 + 64], esc[PATH_MAX_LEN * 3 + 1];
	char *s[MAX_SEGS];
	size_t ulen = strlen(url);
	const char *arg;
	uint64_t v;
	int n;

	if (ulen > PATH_MAX_LEN)
		return reply_status(c, method, url, 414);
	if (srv.nroutes && strncmp(url, "/api/", 5) == 0)
		return serve_api(c, method, url);
	memcpy(path, url, ulen + 1);
	n = split_path(path, s);
	if (n < 0)
		return reply_status(c, method, url, 404);

	if (n == 1) {
		if (strcmp(s[0], "robots.txt") == 0) {
			if (srv.robots_fail && cmap_touch(&srv.unavail, "/robots.txt", 1) <= srv.robots_fail)
				return reply_status(c, method, url, 503);
			if (faccessat(srv.rootfd, "robots.txt", F_OK, 0) == 0)
				return serve_file(c, method, url, "robots.txt", "text/plain", NULL);
			return serve_bytes(c, method, url, robots_default,
			                   sizeof robots_default - 1, "text/plain");
		}
		if (strcmp(s[0], "html-as-jpeg") == 0)
			return serve_bytes(c, method, url, html_error, sizeof html_error - 1,
			                   "image/jpeg");
		if (strcmp(s[0], "empty.jpg") == 0)
			return serve_bytes(c, method, url, "", 0, "image/jpeg");
		if (strcmp(s[0], "huge.png") == 0)
			return serve_bytes(c, method, url, srv.png, srv.png_len, "image/png");
		if (strcmp(s[0], "corrupt.jpg") == 0) {
			if (!srv.corrupt)
				return reply_status(c, method, url, 404);
			return serve_bytes(c, method, url, srv.corrupt, srv.corrupt_len,
			                   "image/jpeg");
		}
		if (strcmp(s[0], "headers") == 0)
			return serve_headers(c, method, url);
		if (strcmp(s[0], "hits") == 0) {
			arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "path");
			if (!arg)
				return reply_status(c, method, url, 400);
			v = cmap_touch(&srv.hits, arg, 0);
			return reply(c, method, url, 200,
			             resp_printf("text/plain", "%" PRIu64 "\n", v));
		}
		if (strcmp(s[0], "redirect-to") == 0) {
			arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "url");
			if (!arg || !*arg || strpbrk(arg, "\r\n"))
				return reply_status(c, method, url, 400);
			return reply_redirect(c, method, url, arg);
		}
	} else if (n == 2) {
		if (strcmp(s[0], "img") == 0 || strcmp(s[0], "private") == 0)
			return serve_file(c, method, url, s[1], NULL, NULL);
		if (strcmp(s[0], "noai") == 0)
			return serve_file(c, method, url, s[1], NULL, "noai");
		if (strcmp(s[0], "noimageai") == 0)
			return serve_file(c, method, url, s[1], NULL,
			                  "otherbot: noindex, noimageai");
		if (strcmp(s[0], "status") == 0) {
			if (parse_uint(s[1], 999, &v) != 0 || v < 200 || v > 599)
				return reply_status(c, method, url, 400);
			return reply_status(c, method, url, (unsigned)v);
		}
		if (strcmp(s[0], "drip") == 0 || strcmp(s[0], "truncated") == 0)
			return serve_stream(c, method, url, s[1], s[0][0] == 'd');
		if (strcmp(s[0], "big") == 0 || strcmp(s[0], "big-chunked") == 0)
			return serve_big(c, method, url, s[1], s[0][3] == '-');
		if (strcmp(s[0], "gen") == 0)
			return serve_gen(c, method, url, s[1]);
		if (strcmp(s[0], "pattern") == 0)
			return serve_pattern(c, method, url, s[1]);
		if (strcmp(s[0], "loop") == 0 && strcmp(s[1], "a") == 0)
			return reply_redirect(c, method, url, "/loop/b");
		if (strcmp(s[0], "loop") == 0 && strcmp(s[1], "b") == 0)
			return reply_redirect(c, method, url, "/loop/a");
		if (strcmp(s[0], "abs-redirect") == 0) {
			if (check_name(s[1]))
				return reply_status(c, method, url, check_name(s[1]));
			escape_into(esc, sizeof esc, s[1], "");
			snprintf(loc, sizeof loc, "http://%s:%u/img/%s", srv.host, srv.port, esc);
			return reply_redirect(c, method, url, loc);
		}
	} else if (n == 3) {
		if (strcmp(s[0], "redirect") == 0) {
			if (parse_uint(s[1], 1000000, &v) != 0)
				return reply_status(c, method, url, 400);
			if (check_name(s[2]))
				return reply_status(c, method, url, check_name(s[2]));
			escape_into(esc, sizeof esc, s[2], "");
			if (v == 0)
				snprintf(loc, sizeof loc, "/img/%s", esc);
			else
				snprintf(loc, sizeof loc, "/redirect/%" PRIu64 "/%s", v - 1, esc);
			return reply_redirect(c, method, url, loc);
		}
		if (strcmp(s[0], "same") == 0 && (strcmp(s[1], "a") == 0 || strcmp(s[1], "b") == 0))
			return serve_file(c, method, url, s[2], NULL, NULL);
		if (strcmp(s[0], "slow") == 0) {
			if (parse_uint(s[1], 3600000, &v) != 0)
				return reply_status(c, method, url, 400);
			if (!nap_ms(v))
				return MHD_NO;
			return serve_file(c, method, url, s[2], NULL, NULL);
		}
	} else if (n == 4) {
		if (strcmp(s[0], "flaky") == 0)
			return serve_failing(c, method, url, &srv.flaky, 500, s[1], s[2], s[3]);
		if (strcmp(s[0], "ratelimit") == 0)
			return serve_failing(c, method, url, &srv.ratelimit, 429, s[1], s[2], s[3]);
		if (strcmp(s[0], "unavailable") == 0)
			return serve_failing(c, method, url, &srv.unavail, 503, s[1], s[2], s[3]);
	}
	return reply_status(c, method, url, 404);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size,
                                  void **req_cls)
{
	static int seen_marker;

	(void)cls;
	(void)version;
	(void)upload_data;
	if (*req_cls == NULL) {
		/* First call: headers are in. Count the request now, answer once the body
		 * (if any) has been read and dropped. */
		*req_cls = &seen_marker;
		if (strlen(url) <= PATH_MAX_LEN)
			cmap_touch(&srv.hits, url, 1);
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		struct MHD_Response *r = resp_printf("text/plain", "405 Method Not Allowed\n");

		if (r)
			MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
		return reply(c, method, url, 405, r);
	}
	return route(c, method, url);
}

/* ---- start-up ---- */

static uint32_t crc32_bytes(uint32_t crc, const unsigned char *p, size_t n)
{
	crc = ~crc;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Appends a PNG chunk at png[*len]; the caller sized png for it. */
static void png_chunk(unsigned char *png, size_t *len, const char *type,
                      const unsigned char *data, size_t n)
{
	unsigned char *p = png + *len;

	put_be32(p, (uint32_t)n);
	memcpy(p + 4, type, 4);
	if (n)
		memcpy(p + 8, data, n);
	put_be32(p + 8 + n, crc32_bytes(0, p + 4, 4 + n));
	*len += 12 + n;
}

/* Writes the PNG signature and an IHDR for a w x h 8-bit RGB image at png
 * (ihdr is the caller's scratch); returns the bytes written. */
static size_t png_start(unsigned char *png, unsigned char ihdr[13], uint32_t w, uint32_t h)
{
	static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n' };
	size_t len = sizeof sig;

	memcpy(png, sig, sizeof sig);
	put_be32(ihdr, w);
	put_be32(ihdr + 4, h);
	ihdr[8] = 8;  /* bit depth */
	ihdr[9] = 2;  /* truecolour */
	ihdr[10] = 0; /* deflate */
	ihdr[11] = 0; /* adaptive filtering */
	ihdr[12] = 0; /* no interlace */
	png_chunk(png, &len, "IHDR", ihdr, 13);
	return len;
}

/* Deflate bit writer: bits go in LSB first, Huffman codes MSB first. */
struct bits {
	unsigned char *p;
	size_t byte;
	unsigned bit;
};

static void put_bit(struct bits *b, unsigned v)
{
	if (b->bit == 0)
		b->p[b->byte] = 0;
	b->p[b->byte] |= (unsigned char)((v & 1u) << b->bit);
	if (++b->bit == 8) {
		b->bit = 0;
		b->byte++;
	}
}

static void put_code(struct bits *b, unsigned code, unsigned len)
{
	while (len--)
		put_bit(b, code >> len);
}

/* /huge.png: a 100000 x 100000 RGB IHDR (the attack) followed by a small but
 * complete zlib stream of zeros (far less than the image needs) and IEND. */
static void build_huge_png(void)
{
	enum { RUNS = 128 };
	unsigned char ihdr[13], idat[256];
	struct bits b = { idat + 2, 0, 0 };
	uint32_t zeros = 1 + 258u * RUNS;
	size_t ilen;

	srv.png_len = png_start(srv.png, ihdr, 100000, 100000);

	idat[0] = 0x78; /* zlib: deflate, 32K window */
	idat[1] = 0x01; /* check bits, no dictionary */
	put_bit(&b, 1);        /* BFINAL */
	put_code(&b, 1, 1);    /* BTYPE = 01 (fixed Huffman), LSB first: 1 then 0 */
	put_code(&b, 0, 1);
	put_code(&b, 0x30, 8); /* literal 0 */
	for (int i = 0; i < RUNS; i++) {
		put_code(&b, 0xC5, 8); /* length 258 (symbol 285) */
		put_code(&b, 0, 5);    /* distance 1 */
	}
	put_code(&b, 0, 7); /* end of block (symbol 256) */
	ilen = 2 + b.byte + (b.bit ? 1 : 0);
	/* Adler-32 of `zeros` zero bytes: a stays 1, b adds 1 per byte. */
	put_be32(idat + ilen, ((zeros % 65521u) << 16) | 1u);
	ilen += 4;
	png_chunk(srv.png, &srv.png_len, "IDAT", idat, ilen);
	png_chunk(srv.png, &srv.png_len, "IEND", NULL, 0);
}

static int load_gen_base(const char *path)
{
	struct stat st;
	size_t got = 0, start, n;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "testsrv: cannot open '%s': %s\n", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 4 || (uint64_t)st.st_size > GEN_BASE_MAX) {
		fprintf(stderr, "testsrv: cannot use '%s': not a regular file of 4 B to 64 MiB\n",
		        path);
		goto out;
	}
	srv.gen_len = (size_t)st.st_size;
	srv.gen_base = malloc(srv.gen_len);
	srv.corrupt = malloc(srv.gen_len);
	if (!srv.gen_base || !srv.corrupt) {
		fprintf(stderr, "testsrv: out of memory\n");
		goto out;
	}
	while (got < srv.gen_len) {
		ssize_t r = read(fd, srv.gen_base + got, srv.gen_len - got);

		if (r <= 0) {
			fprintf(stderr, "testsrv: cannot read '%s'\n", path);
			goto out;
		}
		got += (size_t)r;
	}
	if (srv.gen_base[0] != 0xFF || srv.gen_base[1] != 0xD8) {
		fprintf(stderr, "testsrv: cannot use '%s': not a JPEG\n", path);
		goto out;
	}
	/* 2 KiB of A5 5A from 60% of the file, short of the final EOI marker. */
	memcpy(srv.corrupt, srv.gen_base, srv.gen_len);
	srv.corrupt_len = srv.gen_len;
	start = srv.gen_len / 10 * 6;
	n = srv.gen_len - 2 - start < 2048 ? srv.gen_len - 2 - start : 2048;
	for (size_t i = 0; i < n; i++)
		srv.corrupt[start + i] = (i & 1) ? 0x5A : 0xA5;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

static int write_port_file(const char *path, unsigned port)
{
	char tmp[PATH_MAX + 32], line[16];
	int fd, n, rc = -1;

	n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp)
		return -1;
	n = snprintf(line, sizeof line, "%u\n", port);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, line, (size_t)n) == n && fsync(fd) == 0)
		rc = 0;
	if (close(fd) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc != 0) {
		int saved = errno;

		unlink(tmp);
		errno = saved;
	}
	return rc;
}

static void usage(FILE *f)
{
	fputs("usage: testsrv --port-file FILE --root DIR [--port N] [--bind ADDR]\n"
	      "               [--log FILE] [--gen-base FILE] [--routes FILE] [--robots-fail N]\n", f);
}

int main(int argc, char **argv)
{
	const char *port_file = NULL, *root = NULL, *bind_addr = "127.0.0.1";
	const char *log_path = NULL, *gen_base = NULL, *routes = NULL;
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct MHD_Daemon *d = NULL;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO_INTERNAL_THREAD |
	                 MHD_USE_ERROR_LOG;
	uint64_t port = 0, *num;
	sigset_t sigs;
	int sig, rc = 1;

	/* Blocked before any thread exists, so only sigwait() below sees them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	srv.rootfd = -1;
	srv.log = stderr;
	pthread_mutex_init(&srv.log_mu, NULL);
	cmap_init(&srv.hits);
	cmap_init(&srv.flaky);
	cmap_init(&srv.ratelimit);
	cmap_init(&srv.unavail);

	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], **dst = NULL;

		num = &port;
		if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
			usage(stdout);
			rc = 0;
			goto out;
		}
		if (strcmp(opt, "--port-file") == 0)
			dst = &port_file;
		else if (strcmp(opt, "--root") == 0)
			dst = &root;
		else if (strcmp(opt, "--bind") == 0)
			dst = &bind_addr;
		else if (strcmp(opt, "--log") == 0)
			dst = &log_path;
		else if (strcmp(opt, "--gen-base") == 0)
			dst = &gen_base;
		else if (strcmp(opt, "--routes") == 0)
			dst = &routes;
		else if (strcmp(opt, "--robots-fail") == 0)
			num = &srv.robots_fail;
		else if (strcmp(opt, "--port") != 0) {
			fprintf(stderr, "testsrv: unknown option '%s'\n", opt);
			usage(stderr);
			rc = 2;
			goto out;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "testsrv: option '%s' needs a value\n", opt);
			rc = 2;
			goto out;
		}
		i++;
		if (dst) {
			*dst = argv[i];
		} else if (parse_uint(argv[i], num == &port ? 65535 : 1000000000u, num) != 0) {
			fprintf(stderr, "testsrv: bad number '%s' for '%s'\n", argv[i], opt);
			rc = 2;
			goto out;
		}
	}
	if (!port_file || !root) {
		usage(stderr);
		rc = 2;
		goto out;
	}

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, bind_addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		snprintf(srv.host, sizeof srv.host, "%s", bind_addr);
	} else if (inet_pton(AF_INET6, bind_addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		snprintf(srv.host, sizeof srv.host, "[%s]", bind_addr);
		flags |= MHD_USE_IPv6;
	} else {
		fprintf(stderr, "testsrv: bad bind address '%s': not a numeric IPv4 or IPv6 address\n",
		        bind_addr);
		rc = 2;
		goto out;
	}

	srv.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (srv.rootfd < 0) {
		fprintf(stderr, "testsrv: cannot open '%s': %s\n", root, strerror(errno));
		goto out;
	}
	if (log_path) {
		srv.log = fopen(log_path, "ae");
		if (!srv.log) {
			srv.log = stderr;
			fprintf(stderr, "testsrv: cannot open '%s': %s\n", log_path, strerror(errno));
			goto out;
		}
	}
	if (gen_base && load_gen_base(gen_base) != 0)
		goto out;
	if (routes && load_routes(routes) != 0)
		goto out;
	build_huge_png();

	d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, NULL,
	                     MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
	                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	                     MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
	                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
	                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
	                     MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1024 * 1024),
	                     MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "testsrv: cannot listen on %s port %" PRIu64 "\n", bind_addr, port);
		goto out;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (!info || info->port == 0) {
		fprintf(stderr, "testsrv: cannot learn the listening port\n");
		goto out;
	}
	srv.port = info->port;
	if (write_port_file(port_file, srv.port) != 0) {
		fprintf(stderr, "testsrv: cannot write '%s': %s\n", port_file, strerror(errno));
		goto out;
	}

	do {
		sig = 0;
		if (sigwait(&sigs, &sig) != 0)
			break;
	} while (sig != SIGTERM && sig != SIGINT);
	rc = 0;
out:
	/* Drips, slow handlers and big streams poll this flag, so stop is quick. */
	atomic_store(&g_stopping, 1);
	if (d)
		MHD_stop_daemon(d);
	if (srv.log && srv.log != stderr)
		fclose(srv.log);
	if (srv.rootfd >= 0)
		close(srv.rootfd);
	free(srv.gen_base);
	free(srv.corrupt);
	for (size_t i = 0; i < srv.nroutes; i++) {
		free(srv.routes[i].path);
		free(srv.routes[i].params);
		free(srv.routes[i].file);
	}
	free(srv.routes);
	cmap_release(&srv.hits);
	cmap_release(&srv.flaky);
	cmap_release(&srv.ratelimit);
	cmap_release(&srv.unavail);
	pthread_mutex_destroy(&srv.log_mu);
	return rc;
}
