/* crawl.c — the fetch loop. The main thread owns the database handle and a
 * libcurl multi handle; worker threads validate, hash and store bodies.
 *
 * Invariants:
 *   1. only the main thread touches the store handle; the workers and the
 *      syncer touch only blobs, through objdir, a copy of the blob folder's
 *      path made before they start and never changed while they run;
 *   2. a URL id is in `tracked` from the moment it enters the window until its
 *      attempt is recorded, so the streaming scan never starts it twice;
 *   3. a blob is renamed into place and synced before the transaction that
 *      records its image row commits (no row points at a missing blob);
 *   4. memory is bounded by the window and the job pool, never by the queue. */
#include "crawler/crawl_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/err.h"
#include "common/timeutil.h"
#include "crawler/url.h"

#define COMMIT_SECONDS 0.5
#define COMMIT_ROWS 1000

void crawl_opts_default(crawl_opts *o)
{
	memset(o, 0, sizeof *o);
	o->concurrency = 64;
	o->per_host = 8;
	o->retries = 3;
	o->max_bytes = 20 * 1000 * 1000;
	o->connect_timeout_ms = 10000;
	o->timeout_ms = 120000;
	o->low_speed_bytes = 1000;
	o->low_speed_secs = 15;
	o->max_redirects = 5;
	o->user_agent = HTTP_USER_AGENT;
	o->robots_agent = "natadv";
	o->obey_robots = 1;
	o->robots_max_age = 86400;
	o->retry_base = 2;
	o->retry_max = 600;
	o->min_side = 64;
	o->max_pixels = 100000000;
}

/* ---- small helpers ---- */

static double rand01(struct crawler *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return (double)(c->rng >> 11) / 9007199254740992.0;
}

double crawl_backoff(struct crawler *c, int attempt)
{
	double d = c->o->retry_base * pow(2.0, attempt - 1);
	if (d > c->o->retry_max)
		d = c->o->retry_max;
	return d * (0.5 + rand01(c)); /* jitter spreads retries of one burst */
}

/* ---- recording ---- */

/* Records the finished attempt of j and frees its URL id. */
int crawl_record(struct crawler *c, struct job *j)
{
	int rc = crawl_tx_ensure(c);
	if (rc)
		return rc;
	if (j->result == RES_IMAGE && j->gen > c->tx_gen)
		c->tx_gen = j->gen;
	char *chain = NULL; /* freed below, after the attempt is stored */
	if (j->nredirects && !(chain = json_dumps(j->redirects, JSON_COMPACT)))
		return NATADV_ENOMEM;
	const crawl_opts *o = c->o;
	double now = time_now();
	char ctype[256] = "", etag[256] = "", lastmod[128] = "";
	const char *hb = buf_cstr(&j->headers);
	http_header_value(hb, "content-type", ctype, sizeof ctype);
	http_header_value(hb, "etag", etag, sizeof etag);
	http_header_value(hb, "last-modified", lastmod, sizeof lastmod);
	curl_off_t declared = -1;
	if (j->status)
		curl_easy_getinfo(j->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &declared);
	enum job_result res = j->result;
	if (res == RES_RETRY && j->attempt > o->retries)
		res = RES_FAILED; /* retries exhausted: the last reason stands */
	const char *state = "pending", *outcome = "retry";
	double next = 0;
	switch (res) {
	case RES_IMAGE: state = "fetched"; outcome = "image"; break;
	case RES_FAILED: state = "failed"; outcome = "failed"; break;
	case RES_OPTED_OUT: state = "opted_out"; outcome = "opted_out"; break;
	default:
		next = j->retry_at > now ? j->retry_at : now + crawl_backoff(c, j->attempt);
		break;
	}
	store_fetch f = {
		.url_id = j->url_id,
		.run_id = c->run_id,
		.attempt = j->attempt,
		.started = j->started,
		.finished = j->finished ? j->finished : now,
		.http_status = j->status,
		.final_url = j->status || j->nredirects ? buf_cstr(&j->cur) : NULL,
		.redirects_json = chain,
		.content_type = ctype[0] ? ctype : NULL,
		.declared_length = declared,
		.received_length = (int64_t)j->body.len,
		.etag = etag[0] ? etag : NULL,
		.last_modified = lastmod[0] ? lastmod : NULL,
		.headers = j->headers.len ? buf_cstr(&j->headers) : NULL,
		.outcome = outcome,
		.error = j->error[0] ? j->error : NULL,
	};
	store_image img = {
		.hash = j->hash,
		.sha256 = j->sha256,
		.bytes = (int64_t)j->body.len,
		.format = img_format_name(j->info.format),
		.width = (int)j->info.width,
		.height = (int)j->info.height,
		.phash = j->dhash,
	};
	int image_new = 0;
	rc = store_record_attempt(c->st, &f, res == RES_IMAGE ? &img : NULL, state, next, &image_new);
	free(chain);
	if (rc) {
		snprintf(c->err, c->errlen, "%s", store_errmsg(c->st));
		return rc;
	}
	c->tx_rows++;
	crawl_tracked_del(c, j->url_id);
	crawl_progress *p = &c->prog;
	p->bytes += (int64_t)j->body.len;
	switch (res) {
	case RES_IMAGE:
		p->done++;
		p->images++;
		if (image_new)
			p->new_images++;
		else
			p->duplicates++;
		break;
	case RES_FAILED: p->done++; p->failed++; break;
	case RES_OPTED_OUT: p->done++; p->opted_out++; break;
	default: p->retries++; break;
	}
	return 0;
}

/* ---- starting URL jobs ---- */

/* Records an outcome decided without a transfer (robots.txt, bad host). */
static int decide_without_fetch(struct crawler *c, struct entry *e, enum job_result res, const char *why)
{
	struct job *j = crawl_job_take(c);
	if (!j)
		return 0;
	j->kind = JOB_URL;
	j->url_id = e->id;
	j->attempt = e->attempts + 1;
	j->started = j->finished = time_now();
	j->status = 0;
	buf_reset(&j->body);
	buf_reset(&j->headers);
	j->result = res;
	snprintf(j->error, sizeof j->error, "%s", why);
	int rc = crawl_record(c, j);
	crawl_job_give(c, j);
	return rc;
}

/* Starts as many window entries as concurrency, host caps and delays allow. */
static int start_ready(struct crawler *c)
{
	const crawl_opts *o = c->o;
	double mono = time_mono();
	for (int i = 0; i < c->nwin && c->active < o->concurrency && c->free_jobs;) {
		struct entry *e = &c->win[i];
		struct host *h = e->host;
		if (h->rerror[0] && h->rretry && mono > h->rerror_until)
			h->rerror[0] = '\0'; /* time to ask for robots.txt again */
		if (h->active >= o->per_host || (h->delay > 0 && mono - h->last_start < h->delay) ||
		    h->rstate == ROBOTS_FETCHING || mono < h->resume_at) {
			i++;
			continue;
		}
		if (o->obey_robots && h->rstate == ROBOTS_UNKNOWN && !h->rerror[0] && !crawl_robots_cached(c, h)) {
			int rc = crawl_robots_start(c, h);
			if (rc)
				return rc;
			i++;
			continue;
		}
		if (h->rerror[0]) {
			/* robots.txt could not be had: the URL waits without spending an
			 * attempt (no request was made), or fails when it never came */
			int rc;
			if (h->rretry) {
				double wait = h->rerror_until - mono;
				rc = crawl_tx_ensure(c);
				if (!rc && store_url_defer(c->st, e->id, time_now() + (wait > 0.1 ? wait : 0.1), h->rerror))
					rc = NATADV_EDB;
				if (rc) {
					snprintf(c->err, c->errlen, "%s", store_errmsg(c->st));
					return rc;
				}
				crawl_tracked_del(c, e->id);
			} else if ((rc = decide_without_fetch(c, e, RES_FAILED, h->rerror)) != 0) {
				return rc;
			}
			crawl_entry_drop(c, i);
			continue;
		}
		if (o->obey_robots) {
			buf pq;
			buf_init(&pq, MAX_URL);
			int allowed = !h->disallow_all;
			if (allowed && h->rules && url_path_and_query(e->url, &pq) == 0)
				allowed = robots_allowed(h->rules, buf_cstr(&pq));
			buf_release(&pq);
			if (!allowed) {
				int rc = decide_without_fetch(c, e, RES_OPTED_OUT, "disallowed by robots.txt");
				if (rc)
					return rc;
				crawl_entry_drop(c, i);
				continue;
			}
		}
		struct job *j = crawl_job_take(c);
		if (!j)
			break;
		j->kind = JOB_URL;
		j->host = h;
		j->url_id = e->id;
		j->attempt = e->attempts + 1;
		if (buf_puts(&j->url, e->url) || buf_puts(&j->cur, e->url)) {
			crawl_job_give(c, j);
			return NATADV_ENOMEM;
		}
		j->started = time_now();
		j->finished = 0;
		h->active++;
		h->last_start = mono;
		crawl_entry_drop(c, i);
		int rc = crawl_job_start(c, j);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- finished jobs ---- */

static int drain_done(struct crawler *c)
{
	while (!c->freeze) {
		struct job *j = crawl_pool_finished(&c->pool);
		if (!j)
			return 0;
		c->processing--;
		if (j->fatal) {
			snprintf(c->err, c->errlen, "%s", j->error);
			return NATADV_EIO; /* the URL stays pending; the jobs are freed with the crawler */
		}
		int rc = crawl_record(c, j);
		j->host->active--;
		crawl_job_give(c, j);
		if (rc)
			return rc;
	}
	return 0;
}

static int read_infos(struct crawler *c)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *e = m->easy_handle;
		CURLcode cc = m->data.result;
		struct job *j = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&j);
		curl_multi_remove_handle(c->multi, e);
		c->active--;
		if (!j->status)
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &j->status);
		int rc = j->kind == JOB_ROBOTS ? crawl_robots_done(c, j, cc) : crawl_url_done(c, j, cc);
		if (rc > 0)
			return rc;
	}
	return 0;
}

/* ---- the run ---- */

static void crawler_release(struct crawler *c)
{
	/* the threads first: they wake the multi handle and use the jobs */
	crawl_pool_stop(&c->pool);
	crawl_syncer_stop(&c->sync);
	if (c->jobs) {
		for (int i = 0; i < c->njobs; i++) {
			if (c->jobs[i].easy && c->multi)
				curl_multi_remove_handle(c->multi, c->jobs[i].easy);
			crawl_job_release(&c->jobs[i]);
		}
		free(c->jobs);
	}
	if (c->multi)
		curl_multi_cleanup(c->multi);
	crawl_frontier_release(c);
	free(c->objdir);
}

static int crawler_init(struct crawler *c)
{
	const crawl_opts *o = c->o;
	c->objdir = strdup(store_objects_dir(c->st)); /* before any thread starts (invariant 1) */
	c->multi = curl_multi_init();
	if (!c->objdir || !c->multi)
		return NATADV_ENOMEM;
	curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)o->concurrency);
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)o->per_host);
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)o->concurrency * 2);
	int rc = crawl_syncer_start(&c->sync, c->objdir, c->multi);
	if (rc)
		return rc;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nthreads = o->workers > 0 ? o->workers : (ncpu > 0 ? (int)ncpu : 1);
	if (nthreads > 64)
		nthreads = 64;
	/* Jobs beyond the transfers let fetching go on while workers validate. */
	c->njobs = o->concurrency + 2 * nthreads + 2;
	c->jobs = calloc((size_t)c->njobs, sizeof *c->jobs);
	if (!c->jobs)
		return NATADV_ENOMEM;
	for (int i = 0; i < c->njobs; i++) {
		if ((rc = crawl_job_setup(c, &c->jobs[i])) != 0)
			return rc;
		c->jobs[i].next = c->free_jobs;
		c->free_jobs = &c->jobs[i];
	}
	if ((rc = crawl_frontier_init(c)) != 0)
		return rc;
	c->pool.objdir = c->objdir;
	c->pool.lim = (img_limits){o->min_side, o->max_pixels};
	c->pool.sync = &c->sync;
	c->pool.wake = c->multi;
	return crawl_pool_start(&c->pool, nthreads);
}

static int validate_opts(const crawl_opts *o, char *err, size_t errlen)
{
	if (o->concurrency < 1 || o->concurrency > 10000) {
		snprintf(err, errlen, "concurrency must be between 1 and 10000");
		return NATADV_EINVAL;
	}
	if (o->per_host < 1) {
		snprintf(err, errlen, "per-host limit must be at least 1");
		return NATADV_EINVAL;
	}
	if (o->retries < 0 || o->max_redirects < 0 || o->max_bytes < 1 || o->host_delay < 0) {
		snprintf(err, errlen, "retries, redirects, max bytes and delays must not be negative");
		return NATADV_EINVAL;
	}
	return 0;
}

/* One crawl per workspace: the second would delete the first's temporary
 * blobs. Takes the lock or says why not (NATADV_EEXIST: another crawl). */
static int crawl_lock(struct crawler *c)
{
	char lock[4200];
	snprintf(lock, sizeof lock, "%s/crawl.lock", store_dir(c->st));
	c->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (c->lock_fd >= 0 && flock(c->lock_fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	int rc = c->lock_fd >= 0 && errno == EWOULDBLOCK ? NATADV_EEXIST : NATADV_EIO;
	snprintf(c->err, c->errlen, rc == NATADV_EEXIST ? "another 'natadv crawl' is running in '%s'" : "cannot lock '%s'",
	         store_dir(c->st));
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	c->lock_fd = -1;
	return rc;
}

/* Sets the crawler up under the lock: threads, jobs, a clean blob tmp
 * folder (what a killed run left) and the count of URLs to do. */
static int crawl_start(struct crawler *c)
{
	int rc = crawler_init(c);
	if (rc) {
		snprintf(c->err, c->errlen, "cannot start the crawler: %s", natadv_strerror(rc));
		return rc;
	}
	int cleaned = 0;
	if ((rc = blob_clean_tmp(c->objdir, &cleaned)) != 0) {
		snprintf(c->err, c->errlen, "cannot clean '%s/tmp': %s", c->objdir, natadv_strerror(rc));
		return rc;
	}
	if ((rc = store_count_urls(c->st, "pending", &c->prog.total)) != 0)
		snprintf(c->err, c->errlen, "%s", store_errmsg(c->st));
	return rc;
}

/* One pass of the loop: read due URLs, start what may start, move the
 * transfers on, record what finished, commit a full batch. */
static int crawl_step(struct crawler *c)
{
	int n = crawl_window_fill(c);
	if (n < 0) {
		snprintf(c->err, c->errlen, "%s", store_errmsg(c->st));
		return -n;
	}
	int rc = start_ready(c);
	if (rc)
		return rc;
	int running = 0;
	CURLMcode pm = curl_multi_perform(c->multi, &running);
	if (pm != CURLM_OK) {
		snprintf(c->err, c->errlen, "curl: %s", curl_multi_strerror(pm));
		return NATADV_ENET;
	}
	if ((rc = read_infos(c)) != 0 || (rc = drain_done(c)) != 0)
		return rc;
	if (c->in_tx && (c->tx_rows >= COMMIT_ROWS || time_mono() - c->tx_started > COMMIT_SECONDS))
		rc = crawl_tx_commit(c, c->tx_rows >= 8 * COMMIT_ROWS);
	return rc;
}

enum idle { IDLE_WAIT, IDLE_AGAIN, IDLE_END };

/* Nothing is in memory: is anything due now (IDLE_AGAIN), later (IDLE_WAIT,
 * *timeout_ms set), or never, or only after a long Retry-After (IDLE_END)? */
static int crawl_idle(struct crawler *c, int *timeout_ms, enum idle *what)
{
	int rc = crawl_tx_commit(c, 1);
	if (rc)
		return rc;
	c->cursor = 0;
	c->last_wrap = 0;
	c->scan_pause_until = 0;
	int n = crawl_window_fill(c);
	double due = 0;
	if (n == 0)
		rc = store_frontier_next_due(c->st, &due);
	*what = n > 0 ? IDLE_AGAIN : IDLE_END;
	if (n > 0 || rc == NATADV_ENOTFOUND)
		return 0; /* more to do now, or every URL reached a final state */
	if (n < 0 || rc) {
		snprintf(c->err, c->errlen, "%s", store_errmsg(c->st));
		return n < 0 ? -n : rc;
	}
	double wait = due - time_now();
	if (wait > 1.5 * c->o->retry_max + 1) {
		/* Only long waits are left (a server's Retry-After): end the run
		 * and say when to come back rather than sleep for hours. */
		if ((rc = store_count_urls(c->st, "pending", &c->prog.waiting)) != 0)
			snprintf(c->err, c->errlen, "%s", store_errmsg(c->st));
		c->prog.next_due = due;
		return rc;
	}
	*what = IDLE_WAIT;
	*timeout_ms = wait <= 0 ? 1 : (wait > 1 ? 1000 : (int)(wait * 1000) + 1);
	return 0;
}

/* Runs passes until every URL is done, only long waits are left, stop is
 * raised or an error stops it. */
static int crawl_loop(struct crawler *c, const volatile sig_atomic_t *stop,
                      void (*progress)(void *ctx, const crawl_progress *p), void *ctx)
{
	double last_progress = 0;
	int rc = 0;
	while (!*stop) {
		if ((rc = crawl_step(c)) != 0)
			return rc;
		double mono = time_mono();
		if (progress && mono - last_progress > 0.25) {
			c->prog.elapsed = mono - c->t0;
			progress(ctx, &c->prog);
			last_progress = mono;
		}
		int timeout_ms = 50;
		if (c->active == 0 && c->processing == 0 && c->nwin == 0) {
			enum idle what;
			if ((rc = crawl_idle(c, &timeout_ms, &what)) != 0 || what == IDLE_END)
				return rc;
			if (what == IDLE_AGAIN)
				continue;
		} else if (c->nwin > 0 && c->active < c->o->concurrency) {
			timeout_ms = 10; /* entries wait for a host's delay or cap */
		}
		CURLMcode mc = curl_multi_poll(c->multi, NULL, 0, timeout_ms, NULL);
		if (mc != CURLM_OK) {
			snprintf(c->err, c->errlen, "curl: %s", curl_multi_strerror(mc));
			return NATADV_ENET;
		}
	}
	return 0;
}

/* Stopping: transfers in flight are dropped (their URLs stay pending),
 * bodies with the workers are finished and recorded. */
static int crawl_finish(struct crawler *c)
{
	int rc = crawl_tx_commit(c, 1); /* also lifts a freeze */
	while (!rc && c->processing > 0) {
		rc = drain_done(c);
		CURLMcode mc = !rc && c->processing > 0 ? curl_multi_poll(c->multi, NULL, 0, 50, NULL) : CURLM_OK;
		if (mc != CURLM_OK) {
			snprintf(c->err, c->errlen, "curl: %s", curl_multi_strerror(mc));
			rc = NATADV_ENET;
		}
	}
	return rc ? rc : crawl_tx_commit(c, 1);
}

int crawl_run(store *s, int64_t run_id, const crawl_opts *o, const volatile sig_atomic_t *stop,
              void (*progress)(void *ctx, const crawl_progress *p), void *ctx,
              crawl_progress *final, char *err, size_t errlen)
{
	if (final)
		memset(final, 0, sizeof *final); /* a refused run reports nothing done, never garbage */
	err[0] = '\0';
	int rc = validate_opts(o, err, errlen);
	if (rc)
		return rc;
	struct crawler *c = calloc(1, sizeof *c);
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	c->st = s;
	c->run_id = run_id;
	c->o = o;
	c->policy = (http_policy){o->allow_private, o->allow_nets, o->nallow_nets};
	c->err = err;
	c->errlen = errlen;
	c->rng = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(time_now() * 1e6);
	if (!c->rng)
		c->rng = 1;
	c->t0 = time_mono();
	if ((rc = crawl_lock(c)) != 0) {
		free(c);
		return rc;
	}
	c->prog.started = 1;
	if ((rc = crawl_start(c)) == 0 && (rc = crawl_loop(c, stop, progress, ctx)) == 0 &&
	    (rc = crawl_finish(c)) == 0 && *stop) {
		rc = NATADV_EINTR;
		snprintf(err, errlen, "interrupted");
	}
	if (c->in_tx) {
		if (rc)
			store_rollback(s);
		else
			rc = crawl_tx_commit(c, 1);
	}
	c->prog.elapsed = time_mono() - c->t0;
	if (final)
		*final = c->prog;
	crawler_release(c);
	close(c->lock_fd); /* releases the lock */
	free(c);
	if (rc && !err[0])
		snprintf(err, errlen, "%s", natadv_strerror(rc));
	return rc;
}
