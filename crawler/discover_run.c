/* discover_run.c — one `natadv discover` run: for each class and query, ask
 * the source page after page (libcurl easy, one request at a time), and store
 * what each page held.
 *
 * Invariants:
 *   1. every HTTP request made is an api_requests row, retried ones included;
 *   2. a page's row and all its candidates commit in one transaction, so a
 *      killed run leaves whole pages only;
 *   3. a (source, class, query) resumes at the next_page of its latest "ok" or
 *      "failed" row: a page that failed for a passing reason (network, 429,
 *      5xx) names itself there, so a later run asks it again; a page whose
 *      content was bad names the page after it;
 *   4. requests start at least min_interval apart, Retry-After is waited out
 *      (or the page given up when it asks for more than max_wait), and no run
 *      makes more than max_requests requests. */
#include "crawler/discover_src.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/sha256.h"
#include "common/timeutil.h"
#include "crawler/crawler.h"
#include "crawler/http.h"
#include "crawler/url.h"

#define FAILS_IN_ROW_MAX 3   /* failed pages in a row that stop the run */
#define IDLE_PAGES_MAX 3     /* pages in a row with nothing new that end a query */
#define WARNED_MAX 64
#define MIN_SIDE 64          /* the crawler's default smallest side */

enum { CAPPED = 1000 };      /* internal: max_requests reached */
enum get_result { G_OK, G_PASSING, G_HTTP, G_BAD };

struct cls {
	char *wnid, *names;
};

struct run {
	store *s;
	int64_t run_id;
	const disc_opts *o;
	const disc_source *src;
	const volatile sig_atomic_t *stop;
	const disc_report *rep;
	disc_summary *sum;
	CURL *e;
	buf body, url, pub;
	char cerr[CURL_ERROR_SIZE];
	http_policy policy;          /* where requests may connect */
	http_guard guard;            /* the verdict of the policy on the last request */
	int too_big;
	double last_start;           /* monotonic start of the last request; < 0 before the first */
	double not_before;           /* monotonic: a backoff or Retry-After runs until then */
	double min_interval;
	double t0;                   /* monotonic start of the run */
	char endpoint[2048];         /* base URL without a trailing '/' */
	int page_size;
	int fails_in_row;
	char warned[WARNED_MAX][64]; /* unknown licences already reported */
	int nwarned;
	char *err;
	size_t errlen;
};

/* What one query of one class is. */
struct query {
	const struct cls *c;
	const char *text;
	int scientific;
	int64_t id;
	int64_t *count;              /* the class's tags from this source so far */
};

/* One response (or the failure to get one). */
struct resp {
	double started, finished;
	long status;                 /* 0: no response */
	long retry_after;            /* seconds; -1 when not sent */
	int refused;                 /* the private-address policy refused it: final */
	char sha[65];
	char why[512];               /* the failure, for messages and the row */
};

static void say(struct run *r, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(struct run *r, int level, const char *fmt, ...)
{
	char msg[1536];
	va_list ap;
	if (!r->rep || !r->rep->msg)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	r->rep->msg(r->rep->ctx, level, msg);
}

static void progress(struct run *r)
{
	r->sum->elapsed = time_mono() - r->t0;
	if (r->rep && r->rep->progress)
		r->rep->progress(r->rep->ctx, r->sum);
}

/* ---- HTTP ---- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct run *r = ud;
	if (buf_append(&r->body, p, size * n) != 0) {
		r->too_big = 1;
		return 0;
	}
	return size * n;
}

static int on_xfer(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	const struct run *r = ud;
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return *r->stop ? 1 : 0;
}

static int http_setup(struct run *r)
{
	const disc_opts *o = r->o;
	http_opts ho = {
		.user_agent = o->user_agent,
		.connect_timeout_ms = o->connect_timeout_ms,
		.timeout_ms = o->timeout_ms,
		.max_redirects = 3,
		.max_bytes = DISC_MAX_BODY,
	};
	r->policy = (http_policy){o->allow_private, o->allow_nets, o->nallow_nets};
	r->guard.policy = &r->policy;
	r->e = http_easy_new(&ho, &r->guard);
	if (!r->e)
		return NATADV_ENOMEM;
	CURL *e = r->e;
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_xfer);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, r);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->cerr);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	return 0;
}

/* Sleeps until monotonic time t; NATADV_EINTR when stop is raised meanwhile. */
static int sleep_until(struct run *r, double t)
{
	for (;;) {
		if (*r->stop)
			return NATADV_EINTR;
		double left = t - time_mono();
		if (left <= 0)
			return 0;
		if (left > 0.05)
			left = 0.05;
		struct timespec ts = {0, (long)(left * 1e9)};
		nanosleep(&ts, NULL);
	}
}

/* Makes one request, politely spaced. 0 with *rs filled (rs->status 0 and
 * rs->why set when no response came), CAPPED, NATADV_EINTR or NATADV_ENOMEM. */
static int request(struct run *r, const char *url, struct resp *rs)
{
	memset(rs, 0, sizeof *rs);
	rs->retry_after = -1;
	if (r->o->max_requests && r->sum->requests >= r->o->max_requests)
		return CAPPED;
	double at = r->last_start < 0 ? 0 : r->last_start + r->min_interval;
	int rc = sleep_until(r, at > r->not_before ? at : r->not_before);
	if (rc)
		return rc;
	buf_reset(&r->body);
	r->cerr[0] = '\0';
	r->guard.refused = r->too_big = 0;
	r->last_start = time_mono();
	rs->started = time_now();
	r->sum->requests++;
	curl_easy_setopt(r->e, CURLOPT_URL, url);
	CURLcode cc = curl_easy_perform(r->e);
	rs->finished = time_now();
	if (cc == CURLE_ABORTED_BY_CALLBACK && *r->stop)
		return NATADV_EINTR;
	if (cc != CURLE_OK) {
		rs->refused = r->guard.refused;
		if (rs->refused)
			snprintf(rs->why, sizeof rs->why, "refused to connect to a private address (--allow-private permits it)");
		else if (r->too_big || cc == CURLE_FILESIZE_EXCEEDED)
			snprintf(rs->why, sizeof rs->why, "response larger than %u bytes", DISC_MAX_BODY);
		else
			snprintf(rs->why, sizeof rs->why, "%s%s%s", curl_easy_strerror(cc), r->cerr[0] ? ": " : "", r->cerr);
		return 0;
	}
	curl_easy_getinfo(r->e, CURLINFO_RESPONSE_CODE, &rs->status);
	double now = time_now(), until = http_retry_after_of(r->e, now);
	if (until > now)
		rs->retry_after = (long)(until - now + 0.999);
	if (sha256_hex(r->body.data ? r->body.data : "", r->body.len, rs->sha) != 0)
		return NATADV_ENOMEM; /* its only failure; the run stops with "out of memory" */
	return 0;
}

/* ---- rows ---- */

static const char *page_label(const struct run *r, const char *page)
{
	return page ? page : r->src->numbered ? "1" : NULL;
}

static int add_row(struct run *r, const struct query *q, const char *page, const struct resp *rs, int candidates,
                   int queued, const char *next, const char *outcome, const char *error, int64_t *id)
{
	store_api_request a = {
		.source = r->src->name,
		.query_id = q->id,
		.wnid = q->c->wnid,
		.page = page_label(r, page),
		.url = buf_cstr(&r->pub),
		.run_id = r->run_id,
		.started = rs->started,
		.finished = rs->finished ? rs->finished : rs->started,
		.http_status = rs->status,
		.body_sha256 = rs->status ? rs->sha : NULL,
		.candidates = candidates,
		.queued = queued,
		.next_page = next,
		.outcome = outcome,
		.error = error,
	};
	int rc = store_api_request_add(r->s, &a, id);
	if (rc)
		natadv_errf(r->err, r->errlen, "%s", store_errmsg(r->s));
	return rc;
}

/* "openverse request 12 (page 2 of 'goldfinch' for n01531178)"; a
 * continuation token is long JSON, so those pages are just "a later page". */
static void req_name(const struct run *r, const struct query *q, const char *page, int64_t id, char *out, size_t n)
{
	char where[48];
	if (r->src->numbered)
		snprintf(where, sizeof where, "page %.20s", page_label(r, page));
	else
		snprintf(where, sizeof where, "%s page", page && page[0] ? "a later" : "the first");
	snprintf(out, n, "%s request %lld (%s of '%.100s' for %s)", r->src->name, (long long)id, where, q->text,
	         q->c->wnid);
}

/* ---- one page ---- */

/* Requests page (retrying what may pass) and parses it into pg. G_OK, G_PASSING
 * (no usable answer after the retries), G_HTTP (an HTTP error or a refusal of
 * the address policy, which retrying will not cure), G_BAD (a 200 whose body is no page), or a negative code;
 * rs->why says what went wrong. */
static int get_page(struct run *r, const struct query *q, const disc_req *dr, disc_page *pg, struct resp *rs)
{
	const disc_opts *o = r->o;
	for (int attempt = 0;; attempt++) {
		int rc = request(r, buf_cstr(&r->url), rs);
		if (rc == NATADV_EINTR && rs->started > 0) {
			/* stopped mid-transfer: the request was made, so it gets its row */
			snprintf(rs->why, sizeof rs->why, "interrupted");
			rs->finished = time_now();
			if (add_row(r, q, dr->page, rs, 0, 0, NULL, "retry", rs->why, NULL) != 0)
				return -NATADV_EDB;
		}
		if (rc)
			return -rc;
		progress(r);
		if (rs->refused)
			return G_HTTP; /* the answer cannot change: no retry */
		int passing = rs->status == 0 || rs->status == 429 || rs->status >= 500;
		if (!passing && rs->status != 200) {
			snprintf(rs->why, sizeof rs->why, "HTTP %ld", rs->status);
			return G_HTTP;
		}
		if (!passing) {
			disc_page_release(pg);
			char why[400];
			rc = r->src->parse(r->body.data ? r->body.data : "", r->body.len, dr, pg, why, sizeof why);
			if (rc == NATADV_ENOMEM)
				return -NATADV_ENOMEM;
			if (!rc)
				return G_OK;
			snprintf(rs->why, sizeof rs->why, "%s", why);
			/* MediaWiki's maxlag: an error body with Retry-After on a 200 */
			if (rs->retry_after < 0)
				return G_BAD;
		} else if (rs->status) {
			snprintf(rs->why, sizeof rs->why, "HTTP %ld", rs->status);
		}
		double wait = o->retry_base * (double)(1u << (attempt < 16 ? attempt : 16));
		if (rs->retry_after >= 0)
			wait = (double)rs->retry_after;
		int give_up = attempt >= o->retries;
		if (!give_up && wait > o->max_wait) {
			if (rs->retry_after >= 0) {
				size_t l = strlen(rs->why);
				snprintf(rs->why + l, sizeof rs->why - l, " (asks to wait %ld s, more than %.0f s)",
				         rs->retry_after, o->max_wait);
				give_up = 1;
			} else {
				wait = o->max_wait;
			}
		}
		if (give_up)
			return G_PASSING;
		int64_t id = 0;
		char name[300];
		if (add_row(r, q, dr->page, rs, 0, 0, NULL, "retry", rs->why, &id) != 0)
			return -NATADV_EDB;
		req_name(r, q, dr->page, id, name, sizeof name);
		say(r, DISC_MSG_INFO, "%s: %s; trying again in %.1f s", name, rs->why, wait);
		r->not_before = time_mono() + wait;
	}
}

/* What becomes of one item. */
struct decision {
	const char *reason;          /* NULL: queue it */
	char *url, *host;            /* normalised, when queued */
	char why[256];               /* for bad_url */
};

static int decide(struct run *r, const disc_item *it, struct decision *d, buf *norm, buf *host)
{
	memset(d, 0, sizeof *d);
	if (!it->url || !it->url[0]) {
		d->reason = "no_url";
		return 0;
	}
	buf_reset(norm);
	buf_reset(host);
	int rc = url_check(it->url, norm, host, d->why, sizeof d->why);
	if (rc == NATADV_ENOMEM)
		return rc;
	if (rc) {
		d->reason = "bad_url";
		return 0;
	}
	d->url = strdup(buf_cstr(norm));
	d->host = strdup(buf_cstr(host));
	if (!d->url || !d->host)
		return NATADV_ENOMEM;
	if (it->mime && strcmp(it->mime, "image/jpeg") != 0 && strcmp(it->mime, "image/png") != 0)
		d->reason = "not_jpeg_png";
	else if ((it->width && it->width < MIN_SIDE) || (it->height && it->height < MIN_SIDE))
		d->reason = "too_small";
	else if (!it->license)
		d->reason = "unknown_licence";
	else if (!(disc_license_family(it->license) & r->o->licenses))
		d->reason = "licence";
	return 0;
}

/* Reports an unknown licence once per run and string. */
static void warn_licence(struct run *r, const char *name, const disc_item *it)
{
	const char *raw = it->license_raw ? it->license_raw : "(none given)";
	for (int i = 0; i < r->nwarned; i++)
		if (strncmp(r->warned[i], raw, sizeof r->warned[i] - 1) == 0)
			return;
	if (r->nwarned < WARNED_MAX)
		snprintf(r->warned[r->nwarned++], sizeof r->warned[0], "%s", raw);
	say(r, DISC_MSG_WARN, "%s: unknown licence '%.100s' of image '%.60s': recorded, not queued", name, raw,
	    it->source_id);
}

/* Stores an ok page: its row and every item, in one transaction. *fresh gets
 * the number of candidates new to the workspace (queued or not). */
static int store_page(struct run *r, const struct query *q, const char *page, const struct resp *rs,
                      disc_page *pg, int *fresh)
{
	struct decision *d = calloc(pg->n ? pg->n : 1, sizeof *d);
	buf norm, host;
	buf_init(&norm, URL_MAX_LEN + 1);
	buf_init(&host, URL_MAX_LEN + 1);
	int rc = d ? 0 : NATADV_ENOMEM, queued = 0, in_tx = 0;
	int64_t id = 0;
	char name[300];
	*fresh = 0;
	for (size_t i = 0; !rc && i < pg->n; i++) {
		rc = decide(r, &pg->items[i], &d[i], &norm, &host);
		queued += !rc && !d[i].reason;
	}
	if (rc) {
		natadv_errf(r->err, r->errlen, "out of memory");
		goto out;
	}
	if ((rc = store_begin(r->s)) != 0) {
		natadv_errf(r->err, r->errlen, "%s", store_errmsg(r->s));
		goto out;
	}
	in_tx = 1;
	if ((rc = add_row(r, q, page, rs, (int)pg->n, queued, pg->next, "ok", NULL, &id)) != 0)
		goto out;
	req_name(r, q, page, id, name, sizeof name);
	for (size_t i = 0; i < pg->n; i++) {
		const disc_item *it = &pg->items[i];
		store_candidate c = {
			.url = d[i].url ? d[i].url : it->url,
			.host = d[i].host,
			.wnid = q->c->wnid,
			.source = r->src->name,
			.query = q->text,
			.page_url = it->page_url,
			.license = it->license,
			.author = it->author,
			.attribution = it->attribution,
			.title = it->title,
			.source_id = it->source_id,
			.license_raw = it->license_raw,
			.api_request_id = id,
		};
		int new_url = 0, added = 0;
		if (d[i].reason)
			rc = store_discover_skip(r->s, r->run_id, &c, d[i].reason, &added);
		else
			rc = store_candidate_add(r->s, r->run_id, &c, &new_url, &added);
		if (rc) {
			natadv_errf(r->err, r->errlen, "%s", store_errmsg(r->s));
			goto out;
		}
		*fresh += added;
		if (!d[i].reason) {
			*q->count += added;
			r->sum->new_urls += new_url;
		}
		if (d[i].reason && strcmp(d[i].reason, "unknown_licence") == 0)
			warn_licence(r, name, it);
		else if (d[i].reason && strcmp(d[i].reason, "bad_url") == 0)
			say(r, DISC_MSG_WARN, "%s: image '%.60s' has an unusable url: %s", name, it->source_id, d[i].why);
	}
	if ((rc = store_commit(r->s)) != 0) {
		natadv_errf(r->err, r->errlen, "%s", store_errmsg(r->s));
		goto out;
	}
	in_tx = 0;
	r->sum->pages++;
	r->sum->candidates += (int64_t)pg->n;
	r->sum->queued += queued;
	r->sum->not_queued += (int64_t)pg->n - queued;
out:
	if (in_tx)
		store_rollback(r->s);
	for (size_t i = 0; d && i < pg->n; i++) {
		free(d[i].url);
		free(d[i].host);
	}
	free(d);
	buf_release(&norm);
	buf_release(&host);
	return rc;
}

/* Records a failed page; next is what a later run asks for. Stops the run
 * (NATADV_ENET) when too many pages failed in a row. */
static int fail_page(struct run *r, const struct query *q, const char *page, const struct resp *rs,
                     const char *next, const char *then)
{
	int64_t id = 0;
	char name[300];
	if (add_row(r, q, page, rs, 0, 0, next, "failed", rs->why, &id) != 0)
		return NATADV_EDB;
	req_name(r, q, page, id, name, sizeof name);
	r->sum->failed_pages++;
	say(r, DISC_MSG_WARN, "%s '%s': %s; nothing stored from it, %s", name, buf_cstr(&r->pub), rs->why, then);
	if (++r->fails_in_row >= FAILS_IN_ROW_MAX) {
		natadv_errf(r->err, r->errlen, "%s failed %d requests in a row, the last: %s (run again later to continue)",
		            r->src->name, r->fails_in_row, rs->why);
		return NATADV_ENET;
	}
	return 0;
}

/* ---- one query ---- */

static int run_query(struct run *r, struct query *q)
{
	const disc_opts *o = r->o;
	buf next;
	buf_init(&next, 64 * 1024);
	disc_page pg = {0};
	char *page = NULL;
	int state = 0, rc, pages = 0, idle = 0;
	if ((rc = store_query_id(r->s, r->run_id, r->src->name, q->text, q->c->wnid, &q->id)) != 0 ||
	    (rc = store_api_resume(r->s, r->src->name, q->c->wnid, q->id, &state, &next)) != 0) {
		natadv_errf(r->err, r->errlen, "%s", store_errmsg(r->s));
		goto out;
	}
	if (state == 2)
		goto out; /* exhausted by an earlier run */
	if (state == 1 && next.len && !(page = strdup(buf_cstr(&next)))) {
		rc = NATADV_ENOMEM;
		goto out;
	}
	for (;;) {
		if (*q->count >= o->per_class)
			break;
		if (pages >= o->max_pages) {
			say(r, DISC_MSG_INFO, "%s: '%s' for %s: %d pages in this run (--max-pages); run again for more",
			    r->src->name, q->text, q->c->wnid, pages);
			break;
		}
		disc_req dr = {q->text, q->scientific, page, r->page_size, o->licenses, o->api_key};
		buf_reset(&r->url);
		buf_reset(&r->pub);
		if (r->src->build(r->endpoint, &dr, &r->url) != 0 || r->src->build(r->endpoint, &dr, &r->pub) != 0) {
			/* only a continuation token from the database can be unusable here */
			natadv_errf(r->err, r->errlen, "%s: cannot build the request for '%s' (page token '%.80s')",
			            r->src->name, q->text, page ? page : "");
			rc = NATADV_EINVAL;
			goto out;
		}
		/* the recorded URL never holds the key: it is built without it */
		if (o->api_key) {
			disc_req pub = dr;
			pub.api_key = NULL;
			buf_reset(&r->pub);
			r->src->build(r->endpoint, &pub, &r->pub);
		}
		pages++;
		struct resp rs;
		int g = get_page(r, q, &dr, &pg, &rs);
		if (g < 0) {
			rc = -g;
			if (rc == CAPPED)
				r->sum->capped = 1;
			else if (rc != NATADV_EINTR && !r->err[0])
				natadv_errf(r->err, r->errlen, "%s", rc == NATADV_ENOMEM ? "out of memory" : store_errmsg(r->s));
			goto out;
		}
		/* what a later run asks for to try this page again ("" is a first page) */
		const char *again = page ? page : r->src->numbered ? "1" : "";
		if (g == G_PASSING || g == G_HTTP) {
			rc = fail_page(r, q, page, &rs, again, "will be asked again in a later run");
			goto out;
		}
		if (g == G_BAD) {
			/* go on with the page after it, when the answer or the numbering tells */
			char num[32];
			const char *after = pg.next;
			if (!after && r->src->numbered) {
				snprintf(num, sizeof num, "%lld", disc_page_number(&dr) + 1);
				after = num;
			}
			rc = fail_page(r, q, page, &rs, after ? after : again,
			               after ? "going on with the next page" : "will be asked again in a later run");
			if (rc || !after)
				goto out;
			char *p = strdup(after);
			free(page);
			page = p;
			if (!page) {
				rc = NATADV_ENOMEM;
				goto out;
			}
			continue;
		}
		r->fails_in_row = 0;
		if (pg.next && page && strcmp(pg.next, page) == 0) {
			say(r, DISC_MSG_WARN, "%s: '%s' for %s: the source sent the page just asked for as the next one; "
			    "stopping this query", r->src->name, q->text, q->c->wnid);
			free(pg.next);
			pg.next = NULL;
		}
		int fresh = 0;
		if ((rc = store_page(r, q, page, &rs, &pg, &fresh)) != 0)
			goto out;
		free(page);
		page = pg.next;
		pg.next = NULL;
		if (!page)
			break; /* the end of the results */
		idle = fresh ? 0 : idle + 1;
		if (idle >= IDLE_PAGES_MAX) {
			say(r, DISC_MSG_INFO, "%s: '%s' for %s: %d pages in a row held nothing new; moving on",
			    r->src->name, q->text, q->c->wnid, idle);
			break;
		}
	}
out:
	free(page);
	disc_page_release(&pg);
	buf_release(&next);
	return rc;
}

/* ---- classes ---- */

struct class_list {
	struct cls *v;
	size_t n, cap;
	int oom;
};

static int collect(void *ctx, const store_class *c)
{
	struct class_list *l = ctx;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct cls *v = realloc(l->v, cap * sizeof *v);
		if (!v) {
			l->oom = 1;
			return 1;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].wnid = strdup(c->wnid);
	l->v[l->n].names = strdup(c->names);
	l->n++;
	if (!l->v[l->n - 1].wnid || !l->v[l->n - 1].names) {
		l->oom = 1;
		return 1;
	}
	return 0;
}

static int list_classes(struct run *r, struct class_list *l)
{
	const disc_opts *o = r->o;
	int rc = 0;
	if (!o->wnids) {
		rc = store_classes_each(r->s, o->set ? o->set : "imagenet-a", collect, l);
		if (rc && !l->oom)
			natadv_errf(r->err, r->errlen, "%s", store_errmsg(r->s));
	}
	for (size_t i = 0; o->wnids && i < o->nwnids && !rc; i++) {
		store_class c = {.wnid = o->wnids[i], .index_1k = -1};
		char *names = NULL;
		rc = store_class_names(r->s, o->wnids[i], &names);
		if (rc) {
			natadv_errf(r->err, r->errlen, "%s", store_errmsg(r->s));
			break;
		}
		c.names = names;
		rc = collect(l, &c);
		free(names);
	}
	if (l->oom) {
		natadv_errf(r->err, r->errlen, "out of memory");
		rc = NATADV_ENOMEM;
	}
	return rc;
}

void disc_opts_default(disc_opts *o)
{
	memset(o, 0, sizeof *o);
	o->set = "imagenet-a";
	o->per_class = 100;
	o->licenses = DISC_LIC_DEFAULT;
	o->min_interval = -1;
	o->max_pages = 50;
	o->retries = 4;
	o->retry_base = 2;
	o->max_wait = 300;
	o->connect_timeout_ms = 10000;
	o->timeout_ms = 60000;
	o->user_agent = HTTP_USER_AGENT;
}

static int run_class(struct run *r, const struct cls *c)
{
	int64_t count = 0;
	if (store_discover_count(r->s, r->src->name, c->wnid, &count) != 0) {
		natadv_errf(r->err, r->errlen, "%s", store_errmsg(r->s));
		return NATADV_EDB;
	}
	char *common = NULL, *sci = NULL;
	int rc = disc_class_queries(c->names, r->o->query_template, &common, &sci);
	if (rc) {
		natadv_errf(r->err, r->errlen, "cannot make queries for class '%s' from the names '%.200s'", c->wnid, c->names);
		return rc;
	}
	struct query qs[2] = {{c, common, 0, 0, &count}, {c, sci, 1, 0, &count}};
	int first = r->src->scientific_first && sci ? 1 : 0;
	for (int k = 0; k < 2 && !rc; k++) {
		struct query *q = &qs[k ? 1 - first : first];
		if (q->text && count < r->o->per_class)
			rc = run_query(r, q);
	}
	free(common);
	free(sci);
	return rc;
}

int disc_run(store *s, int64_t run_id, const disc_opts *o, const volatile sig_atomic_t *stop,
             const disc_report *rep, disc_summary *sum, char *err, size_t errlen)
{
	static const volatile sig_atomic_t never;
	struct run r = {0};
	struct class_list l = {0};
	memset(sum, 0, sizeof *sum);
	r.t0 = time_mono();
	if (errlen)
		err[0] = '\0';
	r.s = s;
	r.run_id = run_id;
	r.o = o;
	r.src = o->src;
	r.stop = stop ? stop : &never;
	r.rep = rep;
	r.sum = sum;
	r.err = err;
	r.errlen = errlen;
	r.last_start = -1;
	r.min_interval = o->min_interval >= 0 ? o->min_interval : o->src->min_interval;
	r.page_size = o->page_size > 0 ? o->page_size : o->src->page_size;
	if (r.page_size > o->src->max_page_size)
		r.page_size = o->src->max_page_size;
	snprintf(r.endpoint, sizeof r.endpoint, "%s", o->endpoint ? o->endpoint : o->src->endpoint);
	for (size_t n = strlen(r.endpoint); n && r.endpoint[n - 1] == '/';)
		r.endpoint[--n] = '\0';
	buf_init(&r.body, DISC_MAX_BODY);
	buf_init(&r.url, URL_MAX_LEN * 4);
	buf_init(&r.pub, URL_MAX_LEN * 4);
	int rc = http_setup(&r);
	if (rc) {
		natadv_errf(err, errlen, "out of memory");
		goto out;
	}
	if ((rc = list_classes(&r, &l)) != 0)
		goto out;
	sum->classes = (int64_t)l.n;
	for (size_t i = 0; i < l.n && !rc; i++) {
		if (*r.stop) {
			rc = NATADV_EINTR;
			break;
		}
		rc = run_class(&r, &l.v[i]);
		if (!rc) {
			sum->classes_done++;
			progress(&r);
		}
	}
	if (rc == CAPPED)
		rc = 0;
out:
	sum->elapsed = time_mono() - r.t0;
	for (size_t i = 0; i < l.n; i++) {
		free(l.v[i].wnid);
		free(l.v[i].names);
	}
	free(l.v);
	if (r.e)
		curl_easy_cleanup(r.e);
	buf_release(&r.body);
	buf_release(&r.url);
	buf_release(&r.pub);
	return rc;
}
