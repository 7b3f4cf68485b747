/* transfer.c — the job pool and each libcurl transfer: setting a job's
 * handle up (crawler/http.c), collecting headers and body within their
 * caps, and deciding what a finished transfer gave; redirects are followed
 * here by hand so each hop is checked and recorded. */
#include "crawler/crawl_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/jstr.h"
#include "common/timeutil.h"
#include "crawler/url.h"

/* True when an X-Robots-Tag header (any of them) says noai or noimageai. */
static int robots_tag_optout(const char *block)
{
	for (const char *line = block; line && *line;) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		if (len > 14 && strncasecmp(line, "x-robots-tag:", 13) == 0) {
			char v[1024];
			size_t n = len - 13 < sizeof v - 1 ? len - 13 : sizeof v - 1;
			memcpy(v, line + 13, n);
			v[n] = '\0';
			for (char *p = v; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			/* tokens are separated by commas, spaces or "bot:" prefixes */
			for (char *p = v; *p;) {
				while (*p && (*p == ',' || *p == ' ' || *p == ':' || *p == '\t' || *p == '\r'))
					p++;
				char *e = p;
				while (*e && *e != ',' && *e != ' ' && *e != ':' && *e != '\t' && *e != '\r')
					e++;
				size_t t = (size_t)(e - p);
				if ((t == 4 && strncmp(p, "noai", 4) == 0) || (t == 9 && strncmp(p, "noimageai", 9) == 0))
					return 1;
				p = e;
			}
		}
		line = eol ? eol + 1 : NULL;
	}
	return 0;
}

/* ---- curl callbacks ---- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct job *j = ud;
	size_t len = size * n;
	if (j->status && (j->status < 200 || j->status >= 300))
		return len; /* an error page: not kept */
	if ((int64_t)(j->body.len + len) > j->max_bytes) {
		j->too_big = 1;
		if (j->kind == JOB_ROBOTS) /* RFC 9309: parse the first 500 KiB, drop the rest */
			buf_append(&j->body, p, (size_t)(j->max_bytes - (int64_t)j->body.len));
		return 0; /* aborts the transfer */
	}
	if (buf_append(&j->body, p, len))
		return 0;
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct job *j = ud;
	size_t len = size * n;
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		buf_reset(&j->headers); /* a new response (after 1xx) starts */
		long code = 0;
		const char *sp = memchr(p, ' ', len);
		if (sp)
			code = strtol(sp + 1, NULL, 10);
		j->status = code;
	}
	/* Past the cap the rest is dropped, not fatal. */
	if (j->headers.len + len <= MAX_HEADERS)
		buf_append(&j->headers, p, len);
	if (len <= 2 && j->status >= 200 && j->status < 300) {
		/* End of the header block: size the body buffer exactly once, so
		 * bodies do not grow by doubling (which wastes up to half). */
		curl_off_t cl = -1;
		curl_easy_getinfo(j->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		if (cl > 0 && cl <= j->max_bytes && (size_t)cl + 1 > j->body.cap)
			buf_reserve(&j->body, (size_t)cl);
	}
	return len;
}

int crawl_job_setup(struct crawler *c, struct job *j)
{
	const crawl_opts *o = c->o;
	http_opts ho = {
		.user_agent = o->user_agent,
		.connect_timeout_ms = o->connect_timeout_ms,
		.timeout_ms = o->timeout_ms,
		.low_speed_bytes = o->low_speed_bytes,
		.low_speed_secs = o->low_speed_secs,
		.max_redirects = 0, /* followed by hand to check and record each hop */
		.max_bytes = o->max_bytes,
	};
	j->guard.policy = &c->policy;
	j->easy = http_easy_new(&ho, &j->guard);
	if (!j->easy)
		return NATADV_ENOMEM;
	buf_init(&j->url, MAX_URL);
	buf_init(&j->cur, MAX_URL);
	j->redirects = json_array();
	if (!j->redirects)
		return NATADV_ENOMEM;
	buf_init(&j->body, (size_t)o->max_bytes + 1);
	buf_init(&j->headers, MAX_HEADERS + 1);
	CURL *e = j->easy;
	curl_easy_setopt(e, CURLOPT_PRIVATE, j);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 64L * 1024);
	return 0;
}

void crawl_job_release(struct job *j)
{
	if (j->easy)
		curl_easy_cleanup(j->easy);
	buf_release(&j->url);
	buf_release(&j->cur);
	json_decref(j->redirects);
	buf_release(&j->body);
	buf_release(&j->headers);
}

/* Starts (or restarts after a redirect) the transfer of j->cur. */
int crawl_job_start(struct crawler *c, struct job *j)
{
	buf_reset(&j->body);
	buf_reset(&j->headers);
	j->status = 0;
	j->too_big = 0;
	j->guard.refused = 0;
	j->max_bytes = j->kind == JOB_ROBOTS ? MAX_ROBOTS : c->o->max_bytes;
	curl_easy_setopt(j->easy, CURLOPT_URL, buf_cstr(&j->cur));
	/* robots.txt redirects are followed by curl (RFC 9309 asks for five);
	 * an image's are followed by hand so each hop is checked and recorded. */
	curl_easy_setopt(j->easy, CURLOPT_FOLLOWLOCATION, j->kind == JOB_ROBOTS ? 1L : 0L);
	curl_easy_setopt(j->easy, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(j->easy, CURLOPT_MAXFILESIZE_LARGE, j->kind == JOB_ROBOTS ? (curl_off_t)0 : (curl_off_t)j->max_bytes);
	if (curl_multi_add_handle(c->multi, j->easy) != CURLM_OK)
		return NATADV_ENET;
	c->active++;
	return 0;
}

struct job *crawl_job_take(struct crawler *c)
{
	struct job *j = c->free_jobs;
	if (j) {
		j->fatal = 0;
		c->free_jobs = j->next;
		j->next = NULL;
		buf_reset(&j->url);
		buf_reset(&j->cur);
		json_array_clear(j->redirects);
		j->nredirects = 0;
		j->result = RES_NONE;
		j->error[0] = '\0';
		j->hash[0] = j->sha256[0] = '\0';
		j->retry_at = 0;
	}
	return j;
}

void crawl_job_give(struct crawler *c, struct job *j)
{
	/* A buffer keeps the largest body it has held: across ~70 jobs the big
	 * images would pin ~70 MB over a long run, so above 512 KiB it goes back. */
	if (j->body.cap > 512u * 1024)
		buf_release(&j->body);
	j->next = c->free_jobs;
	c->free_jobs = j;
}

/* ---- finishing transfers ---- */

/* True when url was already followed in this job's redirect chain. */
static int in_chain(struct job *j, const char *url)
{
	size_t i;
	json_t *hop;
	json_array_foreach(j->redirects, i, hop)
		if (strcmp(json_string_value(hop), url) == 0)
			return 1;
	return 0;
}

int crawl_url_done(struct crawler *c, struct job *j, CURLcode cc)
{
	const crawl_opts *o = c->o;
	double now = time_now();
	j->finished = now;
	if (cc == CURLE_OK && j->status >= 300 && j->status < 400) {
		char *loc = NULL;
		curl_easy_getinfo(j->easy, CURLINFO_REDIRECT_URL, &loc);
		buf norm, hk;
		buf_init(&norm, MAX_URL);
		buf_init(&hk, MAX_URL);
		char why[256];
		int bad = !loc ? 1 : url_check(loc, &norm, &hk, why, sizeof why);
		int rc = 0;
		enum hop hop = HOP_FOLLOW;
		if (!loc) {
			snprintf(j->error, sizeof j->error, "HTTP %ld without a Location", j->status);
			j->result = RES_FAILED;
		} else if (bad) {
			snprintf(j->error, sizeof j->error, "refused redirect to '%.200s': %s", loc, why);
			j->result = RES_FAILED;
		} else if (j->nredirects >= o->max_redirects) {
			snprintf(j->error, sizeof j->error, "too many redirects (more than %d)", o->max_redirects);
			j->result = RES_FAILED;
		} else if (strcmp(buf_cstr(&norm), buf_cstr(&j->url)) == 0 || in_chain(j, buf_cstr(&norm))) {
			snprintf(j->error, sizeof j->error, "redirect loop at '%.300s'", buf_cstr(&norm));
			j->result = RES_FAILED;
		} else if (o->obey_robots && strcmp(buf_cstr(&hk), j->host->key) != 0 &&
		           (hop = crawl_redirect_robots(c, j, buf_cstr(&hk), buf_cstr(&norm))) != HOP_FOLLOW) {
			if (hop == HOP_DEFER) {
				char wait[MAX_URL + 64];
				snprintf(wait, sizeof wait, "waiting for robots.txt of '%s' (redirect)", buf_cstr(&hk));
				buf_release(&norm);
				buf_release(&hk);
				rc = crawl_tx_ensure(c);
				if (!rc && store_url_defer(c->st, j->url_id, now + 1.0, wait) != 0) {
					snprintf(c->err, c->errlen, "%s", store_errmsg(c->st));
					rc = NATADV_EDB;
				}
				crawl_tracked_del(c, j->url_id);
				j->host->active--;
				crawl_job_give(c, j);
				return rc;
			}
		} else {
			if (json_array_append_new(j->redirects, jstr_new(buf_cstr(&norm))) != 0)
				rc = NATADV_ENOMEM;
			buf_reset(&j->cur);
			if (!rc)
				rc = buf_puts(&j->cur, buf_cstr(&norm));
			buf_release(&norm);
			buf_release(&hk);
			if (rc) {
				snprintf(j->error, sizeof j->error, "redirect chain too long");
				j->result = RES_FAILED;
			} else {
				j->nredirects++;
				return crawl_job_start(c, j) ? NATADV_ENET : STILL_RUNNING;
			}
		}
		buf_release(&norm);
		buf_release(&hk);
	} else if (j->guard.refused && cc != CURLE_OK) {
		/* refused on every address curl tried (a public one may have worked) */
		snprintf(j->error, sizeof j->error,
		         "refused: host resolves to a private or loopback address (use --allow-private)");
		j->result = RES_FAILED;
	} else if (j->too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(j->error, sizeof j->error, "response larger than %lld bytes", (long long)o->max_bytes);
		j->result = RES_FAILED;
	} else if (cc != CURLE_OK) {
		snprintf(j->error, sizeof j->error, "%s", curl_easy_strerror(cc));
		switch (cc) {
		case CURLE_OPERATION_TIMEDOUT: case CURLE_COULDNT_CONNECT: case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY: case CURLE_RECV_ERROR: case CURLE_SEND_ERROR:
		case CURLE_GOT_NOTHING: case CURLE_PARTIAL_FILE: case CURLE_HTTP2: case CURLE_HTTP2_STREAM:
		case CURLE_SSL_CONNECT_ERROR:
			j->result = RES_RETRY;
			break;
		default:
			j->result = RES_FAILED;
		}
	} else if (j->status == 408 || j->status == 429 || j->status >= 500) {
		snprintf(j->error, sizeof j->error, "HTTP %ld", j->status);
		j->result = RES_RETRY;
		char ra[128];
		j->retry_at = http_header_value(buf_cstr(&j->headers), "retry-after", ra, sizeof ra)
		                      ? http_retry_after(ra, now) : -1;
		if (j->retry_at > now) {
			/* Retry-After speaks for the host: pause it, for a minute at most */
			double pause = j->retry_at - now;
			j->host->resume_at = time_mono() + (pause > 60 ? 60 : pause);
		}
	} else if (j->status < 200 || j->status >= 300) {
		snprintf(j->error, sizeof j->error, "HTTP %ld", j->status);
		j->result = RES_FAILED;
	} else if (o->obey_robots && robots_tag_optout(buf_cstr(&j->headers))) {
		snprintf(j->error, sizeof j->error, "X-Robots-Tag forbids AI use");
		j->result = RES_OPTED_OUT; /* the body is counted, never stored */
	} else {
		c->processing++;
		crawl_pool_submit(&c->pool, j);
		return STILL_RUNNING;
	}
	int rc = crawl_record(c, j);
	j->host->active--;
	crawl_job_give(c, j);
	return rc;
}
