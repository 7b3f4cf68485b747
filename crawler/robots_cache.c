/* robots_cache.c — each host's robots.txt for the crawl: read from the
 * database cache (a day by default) or fetched as a job of its own, every
 * fetch recorded; failures pause or fail the host's URLs; a redirect to
 * another host is checked against that host's rules before it is followed. */
#include "crawler/crawl_internal.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/timeutil.h"
#include "crawler/url.h"

/* The robots.txt cache's clock: the wall clock, moved by clock_skew. */
static double robots_now(const struct crawler *c)
{
	return time_now() + c->o->clock_skew;
}

static void host_apply_robots(struct crawler *c, struct host *h, const char *policy, const char *body, size_t len)
{
	robots_free(h->rules);
	h->rules = NULL;
	h->disallow_all = strcmp(policy, "disallow_all") == 0;
	h->rerror[0] = '\0';
	if (strcmp(policy, "rules") == 0 && robots_parse(body, len, c->o->robots_agent, &h->rules) == 0) {
		double d = robots_crawl_delay(h->rules);
		if (d > 60)
			d = 60; /* a crawl-delay of hours would stall the run; a minute is polite enough */
		if (d > h->delay)
			h->delay = d;
	}
	h->rstate = ROBOTS_READY;
}

/* Loads the host's robots.txt from the cache; 1 if found. */
int crawl_robots_cached(struct crawler *c, struct host *h)
{
	buf policy, body;
	buf_init(&policy, 64);
	buf_init(&body, MAX_ROBOTS + 1);
	int found = store_robots_get(c->st, h->key, robots_now(c) - c->o->robots_max_age, &policy, &body) == 0;
	if (found)
		host_apply_robots(c, h, buf_cstr(&policy), buf_cstr(&body), body.len);
	buf_release(&policy);
	buf_release(&body);
	return found;
}

int crawl_robots_start(struct crawler *c, struct host *h)
{
	struct job *j = crawl_job_take(c);
	if (!j)
		return 0;
	j->kind = JOB_ROBOTS;
	j->host = h;
	j->url_id = 0;
	if (url_robots(h->key, &j->url) || buf_puts(&j->cur, buf_cstr(&j->url))) {
		crawl_job_give(c, j);
		return NATADV_ENOMEM;
	}
	j->started = robots_now(c);
	h->rstate = ROBOTS_FETCHING;
	h->active++;
	h->last_start = time_mono();
	int rc = crawl_job_start(c, j);
	if (rc) { /* not in flight: the host may ask again, the job is free */
		h->rstate = ROBOTS_UNKNOWN;
		h->active--;
		crawl_job_give(c, j);
	}
	return rc;
}

int crawl_robots_done(struct crawler *c, struct job *j, CURLcode cc)
{
	struct host *h = j->host;
	const char *policy = "allow_all";
	char error[300] = "";
	int temporary = 0;
	if (j->guard.refused && cc != CURLE_OK) {
		policy = "disallow_all";
		snprintf(error, sizeof error, "refused: '%s' resolves to a private or loopback address (use --allow-private)",
		         h->key);
	} else if (j->too_big || (cc == CURLE_OK && j->status >= 200 && j->status < 300)) {
		policy = "rules"; /* too big: the first 500 KiB count */
	} else if (cc == CURLE_TOO_MANY_REDIRECTS || cc == CURLE_UNSUPPORTED_PROTOCOL) {
		policy = "allow_all"; /* RFC 9309: unavailable, like a 4xx */
	} else if (cc != CURLE_OK) {
		temporary = 1;
		snprintf(error, sizeof error, "robots.txt unreachable: %s", curl_easy_strerror(cc));
	} else if (j->status >= 500 || j->status == 429) {
		temporary = 1; /* RFC 9309: unreachable means complete disallow, for now */
		snprintf(error, sizeof error, "robots.txt unreachable: HTTP %ld", j->status);
	}
	store_robots r = {
		.host = h->key,
		.url = buf_cstr(&j->url),
		.run_id = c->run_id,
		.started = j->started,
		.finished = robots_now(c),
		.http_status = j->status,
		.final_url = buf_cstr(&j->cur),
		.error = error[0] ? error : NULL,
		.body = strcmp(policy, "rules") == 0 ? buf_cstr(&j->body) : NULL,
		.policy = temporary ? "disallow_all" : policy,
	};
	/* Every attempt is a row; only rows without an error serve as the cache. */
	int rc = crawl_tx_ensure(c);
	if (!rc)
		rc = store_robots_put(c->st, &r);
	if (rc) {
		snprintf(c->err, c->errlen, "%s", store_errmsg(c->st));
		return rc;
	}
	host_apply_robots(c, h, r.policy, buf_cstr(&j->body), j->body.len);
	if (error[0]) {
		snprintf(h->rerror, sizeof h->rerror, "%s", error);
		h->rfails = temporary ? h->rfails + 1 : 0;
		/* A temporary failure defers the host's URLs (no attempt spent) with a
		 * growing pause; after as many failures as retries, they fail. */
		h->rretry = temporary && h->rfails <= c->o->retries;
		h->rerror_until = time_mono() + crawl_backoff(c, h->rfails);
		h->rstate = ROBOTS_UNKNOWN; /* asked again when the pause is over */
	} else {
		h->rfails = 0;
	}
	h->active--;
	crawl_job_give(c, j);
	return 0;
}

/* A redirect to another host is checked against that host's robots.txt
 * before it is followed. When the rules are not known yet, they are fetched
 * and the URL comes back a moment later (HOP_DEFER, no attempt spent). */
enum hop crawl_redirect_robots(struct crawler *c, struct job *j, const char *hk, const char *url)
{
	struct host *b = crawl_host_get(c, hk);
	if (!b) {
		snprintf(j->error, sizeof j->error, "out of memory");
		j->result = RES_RETRY;
		return HOP_DECIDED;
	}
	if (b->rerror[0] && b->rretry && time_mono() > b->rerror_until)
		b->rerror[0] = '\0';
	if (b->rstate == ROBOTS_UNKNOWN && !b->rerror[0] && !crawl_robots_cached(c, b)) {
		if (c->free_jobs && crawl_robots_start(c, b) != 0) {
			snprintf(j->error, sizeof j->error, "cannot start fetching robots.txt of '%.200s'", hk);
			j->result = RES_RETRY;
			return HOP_DECIDED;
		}
		return HOP_DEFER;
	}
	if (b->rstate == ROBOTS_FETCHING || (b->rerror[0] && b->rretry))
		return HOP_DEFER;
	if (b->rerror[0]) {
		snprintf(j->error, sizeof j->error, "%s", b->rerror);
		j->result = RES_FAILED;
		return HOP_DECIDED;
	}
	int allowed = !b->disallow_all;
	if (allowed && b->rules) {
		buf pq;
		buf_init(&pq, MAX_URL);
		if (url_path_and_query(url, &pq) == 0)
			allowed = robots_allowed(b->rules, buf_cstr(&pq));
		buf_release(&pq);
	}
	if (!allowed) {
		snprintf(j->error, sizeof j->error, "disallowed by robots.txt of '%.300s' (after a redirect)", hk);
		j->result = RES_OPTED_OUT;
		return HOP_DECIDED;
	}
	return HOP_FOLLOW;
}
