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
#include "crawler/crawler.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/err.h"
#include "common/jstr.h"
#include "common/sha256.h"
#include "common/timeutil.h"
#include "crawler/http.h"
#include "crawler/robots.h"
#include "crawler/url.h"
#include "image/image.h"

#define MAX_HEADERS (64 * 1024)
#define MAX_URL (8 * 1024)
#define MAX_ROBOTS (500 * 1024)
#define MAX_HOSTS 8192
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

/* ---- jobs, hosts and the window ---- */

enum job_kind { JOB_URL, JOB_ROBOTS };
enum job_result { RES_NONE, RES_IMAGE, RES_FAILED, RES_RETRY, RES_OPTED_OUT };

struct host;

struct job {
	enum job_kind kind;
	CURL *easy;
	struct host *host;
	int64_t url_id;
	int attempt;               /* this attempt's number (1 = first) */
	buf url;                   /* the URL as queued */
	buf cur;                   /* the URL being fetched (after redirects) */
	buf redirects;             /* JSON array text of followed URLs */
	int nredirects;
	buf body;
	buf headers;               /* header block of the latest response */
	int64_t max_bytes;
	int too_big;
	http_guard guard;           /* the private-address policy's verdict */
	double started, finished;
	long status;
	/* filled by the worker */
	enum job_result result;
	char error[512];
	img_info info;
	uint64_t dhash;
	char hash[33], sha256[65];
	double retry_at;
	uint64_t gen;              /* blob write generation, for the syncer */
	int fatal;                 /* not the URL's fault (disk full, out of memory): stop the run */
	struct job *next;
};

enum robots_state { ROBOTS_UNKNOWN, ROBOTS_FETCHING, ROBOTS_READY };

struct host {
	char *key;                 /* scheme://host[:port] */
	int active;
	double last_start;
	enum robots_state rstate;
	robots *rules;             /* NULL = allow all (or refused, see rerror) */
	int disallow_all;
	char rerror[256];          /* why every URL of the host fails, if set */
	int rretry;                /* rerror is temporary ... */
	double rerror_until;       /* ... and robots.txt is asked again after this (monotonic) */
	int rfails;                /* robots.txt failures in a row */
	double resume_at;          /* a 429/503 Retry-After pauses the host until then (monotonic) */
	int queued;                /* entries of this host in the window */
	double delay;
	struct host *next;         /* hash chain */
};

struct entry {
	int64_t id;
	int attempts;
	char *url;
	struct host *host;
};

/* A bytes' hash validated in this run, with what validation found. */
struct seen {
	char hash[33];             /* "" while empty */
	img_info info;
	uint64_t dhash;
	char sha256[65];
};
#define SEEN_SLOTS 16384           /* direct-mapped: a newer hash takes the slot */

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;
};

struct crawler {
	store *st;                 /* the main thread's only (invariant 1) */
	char *objdir;              /* the blob folder: read by the workers and the syncer */
	int64_t run_id;
	const crawl_opts *o;
	http_policy policy;        /* where transfers may connect, from o */
	CURLM *multi;
	char *err;
	size_t errlen;
	/* job pool */
	struct job *jobs;
	int njobs;
	struct job *free_jobs;
	int active;                /* transfers in the multi handle */
	int processing;            /* jobs with the workers */
	/* hosts */
	struct host *htab[4096];
	int nhosts;
	/* window of pending URLs read from the database */
	struct entry *win;
	int nwin, capwin;
	int64_t cursor;            /* last id scanned */
	double last_wrap;
	double scan_pause_until;   /* every row of the last scan belonged to busy hosts */
	int skipped;               /* rows the last scan left for a later pass */
	int added;                 /* rows the last scan put in the window */
	int host_cap;              /* window entries per host */
	int freeze;                /* a commit waits for the syncer: hold image rows back */
	int lock_fd;
	int64_t *tracked;          /* open-addressing set of URL ids in flight */
	int64_t *tracked_scratch;
	int tracked_cap;
	int tracked_fill;          /* slots not zero: ids and tombstones */
	/* workers */
	pthread_t *threads;
	int nthreads;
	struct queue todo, done;
	int quit;
	struct seen *seen;         /* SEEN_SLOTS, shared by the workers */
	pthread_mutex_t seen_mu;
	/* the syncer: makes blobs durable off the main thread (invariant 3) */
	pthread_t syncer;
	int syncer_started;
	pthread_mutex_t sync_mu;
	pthread_cond_t sync_cv;
	uint64_t written_gen;      /* blobs renamed into place so far */
	uint64_t synced_gen;       /* blobs known to be on disk */
	uint64_t sync_wanted;
	int sync_failed;
	int sync_quit;
	uint64_t tx_gen;           /* newest blob the open transaction refers to */
	/* batching */
	int in_tx;
	int tx_rows;
	double tx_started;
	uint64_t rng;
	crawl_progress prog;
	double t0;
};

/* ---- small helpers ---- */

static double rand01(struct crawler *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return (double)(c->rng >> 11) / 9007199254740992.0;
}

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

/* ---- tracked ids ---- */

static size_t track_slot(struct crawler *c, int64_t id)
{
	uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 20) & (size_t)(c->tracked_cap - 1);
}

static int tracked_has(struct crawler *c, int64_t id)
{
	for (size_t i = track_slot(c, id);; i = (i + 1) & (size_t)(c->tracked_cap - 1)) {
		if (c->tracked[i] == id)
			return 1;
		if (c->tracked[i] == 0)
			return 0;
	}
}

static void tracked_compact(struct crawler *c);

static void tracked_add(struct crawler *c, int64_t id)
{
	if (c->tracked_fill >= c->tracked_cap / 2)
		tracked_compact(c);
	size_t i = track_slot(c, id);
	while (c->tracked[i] != 0 && c->tracked[i] != -1)
		i = (i + 1) & (size_t)(c->tracked_cap - 1);
	if (c->tracked[i] == 0)
		c->tracked_fill++;
	c->tracked[i] = id;
}

static void tracked_del(struct crawler *c, int64_t id)
{
	for (size_t i = track_slot(c, id);; i = (i + 1) & (size_t)(c->tracked_cap - 1)) {
		if (c->tracked[i] == id) {
			c->tracked[i] = -1; /* tombstone */
			return;
		}
		if (c->tracked[i] == 0)
			return;
	}
}

/* Tombstones pile up; rebuild the set before probes get long. The set holds
 * at most window + jobs live ids, a quarter of its slots. */
static void tracked_compact(struct crawler *c)
{
	int64_t *scratch = c->tracked_scratch;
	int n = 0;
	for (int i = 0; i < c->tracked_cap; i++)
		if (c->tracked[i] > 0)
			scratch[n++] = c->tracked[i];
	memset(c->tracked, 0, sizeof(int64_t) * (size_t)c->tracked_cap);
	c->tracked_fill = 0;
	for (int i = 0; i < n; i++) {
		size_t k = track_slot(c, scratch[i]);
		while (c->tracked[k] != 0)
			k = (k + 1) & (size_t)(c->tracked_cap - 1);
		c->tracked[k] = scratch[i];
		c->tracked_fill++;
	}
}

/* ---- hosts ---- */

static struct host *host_get(struct crawler *c, const char *key)
{
	uint64_t h = XXH3_64bits(key, strlen(key));
	size_t b = (size_t)(h % (sizeof c->htab / sizeof c->htab[0]));
	for (struct host *x = c->htab[b]; x; x = x->next)
		if (strcmp(x->key, key) == 0)
			return x;
	struct host *x = calloc(1, sizeof *x);
	if (!x)
		return NULL;
	x->key = strdup(key);
	if (!x->key) {
		free(x);
		return NULL;
	}
	x->delay = c->o->host_delay;
	x->next = c->htab[b];
	c->htab[b] = x;
	c->nhosts++;
	return x;
}

static void host_free(struct host *x)
{
	robots_free(x->rules);
	free(x->key);
	free(x);
}

/* Forgets idle hosts when there are too many; robots.txt comes back from the
 * database cache, so memory does not grow with the number of hosts. */
static void hosts_evict(struct crawler *c)
{
	if (c->nhosts < MAX_HOSTS)
		return;
	for (size_t b = 0; b < sizeof c->htab / sizeof c->htab[0]; b++) {
		struct host **pp = &c->htab[b];
		while (*pp) {
			struct host *x = *pp;
			int used = x->active > 0 || x->rstate == ROBOTS_FETCHING || x->queued > 0;
			if (!used) {
				*pp = x->next;
				host_free(x);
				c->nhosts--;
			} else {
				pp = &x->next;
			}
		}
	}
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

static int job_setup(struct crawler *c, struct job *j)
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
	buf_init(&j->redirects, 8 * MAX_URL);
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

static void job_release(struct job *j)
{
	if (j->easy)
		curl_easy_cleanup(j->easy);
	buf_release(&j->url);
	buf_release(&j->cur);
	buf_release(&j->redirects);
	buf_release(&j->body);
	buf_release(&j->headers);
}

/* Starts (or restarts after a redirect) the transfer of j->cur. */
static int job_start(struct crawler *c, struct job *j)
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

static struct job *job_take(struct crawler *c)
{
	struct job *j = c->free_jobs;
	if (j) {
		j->fatal = 0;
		c->free_jobs = j->next;
		j->next = NULL;
		buf_reset(&j->url);
		buf_reset(&j->cur);
		buf_reset(&j->redirects);
		j->nredirects = 0;
		j->result = RES_NONE;
		j->error[0] = '\0';
		j->hash[0] = j->sha256[0] = '\0';
		j->retry_at = 0;
	}
	return j;
}

static void job_give(struct crawler *c, struct job *j)
{
	/* A buffer keeps the largest body it has held: across ~70 jobs the big
	 * images would pin ~70 MB over a long run, so above 512 KiB it goes back. */
	if (j->body.cap > 512u * 1024)
		buf_release(&j->body);
	j->next = c->free_jobs;
	c->free_jobs = j;
}

/* ---- worker threads: validate, hash, store ---- */

static void queue_push(struct queue *q, struct job *j)
{
	pthread_mutex_lock(&q->mu);
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

static struct job *queue_pop_locked(struct queue *q)
{
	struct job *j = q->head;
	if (j) {
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		j->next = NULL;
	}
	return j;
}

/* Looks the bytes' hash up among those validated earlier in this run; on a
 * hit fills what validation would have found and returns 1. */
static int seen_get(struct crawler *c, uint64_t low, struct job *j)
{
	struct seen *e = &c->seen[low & (SEEN_SLOTS - 1)];
	pthread_mutex_lock(&c->seen_mu);
	int hit = strcmp(e->hash, j->hash) == 0;
	if (hit) {
		j->info = e->info;
		j->dhash = e->dhash;
		memcpy(j->sha256, e->sha256, sizeof j->sha256);
	}
	pthread_mutex_unlock(&c->seen_mu);
	return hit;
}

static void seen_put(struct crawler *c, uint64_t low, const struct job *j)
{
	struct seen *e = &c->seen[low & (SEEN_SLOTS - 1)];
	pthread_mutex_lock(&c->seen_mu);
	memcpy(e->hash, j->hash, sizeof e->hash);
	e->info = j->info;
	e->dhash = j->dhash;
	memcpy(e->sha256, j->sha256, sizeof e->sha256);
	pthread_mutex_unlock(&c->seen_mu);
}

/* Decides what a 2xx body is: an image stored in the blob store, or a
 * failure with its reason. Runs on a worker thread. The same bytes met
 * again in this run (mirrors, one image at many URLs) skip the decode. */
static void process_body(struct crawler *c, img_ctx *ic, struct job *j)
{
	const char *data = j->body.data ? j->body.data : "";
	XXH128_hash_t h = XXH3_128bits(data, j->body.len);
	XXH128_canonical_t canon;
	XXH128_canonicalFromHash(&canon, h);
	hex_encode(canon.digest, sizeof canon.digest, j->hash);
	if (!seen_get(c, h.low64, j)) {
		img_limits lim = {c->o->min_side, c->o->max_pixels};
		if (img_validate(ic, data, j->body.len, &lim, &j->info, &j->dhash, j->error, sizeof j->error) != 0) {
			j->result = RES_FAILED;
			return;
		}
		if (sha256_hex(data, j->body.len, j->sha256) != 0) {
			snprintf(j->error, sizeof j->error, "sha-256 failed");
			j->result = RES_RETRY;
			j->fatal = 1; /* out of memory: not the URL's fault either */
			return;
		}
		seen_put(c, h.low64, j);
	}
	int rc = blob_put(c->objdir, j->hash, data, j->body.len, j->error, sizeof j->error);
	j->result = rc ? RES_RETRY : RES_IMAGE;
	j->fatal = rc != 0; /* not the URL's fault: the run stops */
	pthread_mutex_lock(&c->sync_mu);
	j->gen = ++c->written_gen;
	pthread_mutex_unlock(&c->sync_mu);
}

static void *worker_main(void *arg)
{
	struct crawler *c = arg;
	img_ctx *ic = img_ctx_new();
	for (;;) {
		pthread_mutex_lock(&c->todo.mu);
		while (!c->todo.head && !c->quit)
			pthread_cond_wait(&c->todo.cv, &c->todo.mu);
		struct job *j = queue_pop_locked(&c->todo);
		pthread_mutex_unlock(&c->todo.mu);
		if (!j)
			break;
		if (!ic) {
			snprintf(j->error, sizeof j->error, "out of memory");
			j->result = RES_RETRY;
		} else {
			process_body(c, ic, j);
		}
		queue_push(&c->done, j);
		curl_multi_wakeup(c->multi);
	}
	img_ctx_free(ic);
	return NULL;
}

/* ---- recording ---- */

static int tx_ensure(struct crawler *c)
{
	if (c->in_tx)
		return 0;
	int rc = store_begin(c->st);
	if (rc) {
		snprintf(c->err, c->errlen, "%s", store_errmsg(c->st));
		return rc;
	}
	c->in_tx = 1;
	c->tx_rows = 0;
	c->tx_started = time_mono();
	return 0;
}

static void *syncer_main(void *arg)
{
	struct crawler *c = arg;
	pthread_mutex_lock(&c->sync_mu);
	for (;;) {
		while (c->sync_wanted <= c->synced_gen && !c->sync_quit)
			pthread_cond_wait(&c->sync_cv, &c->sync_mu);
		if (c->sync_quit)
			break;
		uint64_t target = c->written_gen; /* every blob up to here is renamed */
		pthread_mutex_unlock(&c->sync_mu);
		int rc = blob_sync(c->objdir);
		pthread_mutex_lock(&c->sync_mu);
		if (rc)
			c->sync_failed = 1;
		else
			c->synced_gen = target;
		pthread_cond_broadcast(&c->sync_cv);
		curl_multi_wakeup(c->multi); /* a frozen commit can go ahead */
	}
	pthread_mutex_unlock(&c->sync_mu);
	return NULL;
}

/* Commits the open transaction once the blobs it names are on disk: a
 * committed row must never point at bytes still in the page cache. When
 * they are not yet and wait is 0, asks the syncer and returns at once; the
 * main loop comes back later, so fetching never stalls on the disk. */
static int tx_commit(struct crawler *c, int wait)
{
	if (!c->in_tx)
		return 0;
	pthread_mutex_lock(&c->sync_mu);
	if (c->synced_gen < c->tx_gen && !c->sync_failed) {
		if (c->sync_wanted < c->tx_gen) {
			c->sync_wanted = c->tx_gen;
			pthread_cond_broadcast(&c->sync_cv);
		}
		while (wait && c->synced_gen < c->tx_gen && !c->sync_failed)
			pthread_cond_wait(&c->sync_cv, &c->sync_mu);
	}
	int ready = c->synced_gen >= c->tx_gen, failed = c->sync_failed;
	pthread_mutex_unlock(&c->sync_mu);
	if (failed) {
		snprintf(c->err, c->errlen, "cannot sync the blob store");
		store_rollback(c->st);
		c->in_tx = 0;
		return NATADV_EIO;
	}
	if (!ready) {
		c->freeze = 1; /* tx_gen stays put until the syncer catches up */
		return 0;
	}
	c->freeze = 0;
	int rc = store_commit(c->st);
	if (rc) {
		snprintf(c->err, c->errlen, "%s", store_errmsg(c->st));
		store_rollback(c->st);
	}
	c->in_tx = 0;
	return rc;
}

static double backoff(struct crawler *c, int attempt)
{
	double d = c->o->retry_base * pow(2.0, attempt - 1);
	if (d > c->o->retry_max)
		d = c->o->retry_max;
	return d * (0.5 + rand01(c)); /* jitter spreads retries of one burst */
}

/* Records the finished attempt of j and frees its URL id. */
static int record(struct crawler *c, struct job *j)
{
	int rc = tx_ensure(c);
	if (rc)
		return rc;
	if (j->result == RES_IMAGE && j->gen > c->tx_gen)
		c->tx_gen = j->gen;
	if (j->nredirects && buf_puts(&j->redirects, "]"))
		j->nredirects = 0; /* cannot happen: the chain's cap leaves room */
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
		next = j->retry_at > now ? j->retry_at : now + backoff(c, j->attempt);
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
		.redirects_json = j->nredirects ? buf_cstr(&j->redirects) : NULL,
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
	if (rc) {
		snprintf(c->err, c->errlen, "%s", store_errmsg(c->st));
		return rc;
	}
	c->tx_rows++;
	tracked_del(c, j->url_id);
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

/* ---- robots.txt ---- */

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
static int robots_from_cache(struct crawler *c, struct host *h)
{
	buf policy, body;
	buf_init(&policy, 64);
	buf_init(&body, MAX_ROBOTS + 1);
	int found = store_robots_get(c->st, h->key, time_now() - c->o->robots_max_age, &policy, &body) == 0;
	if (found)
		host_apply_robots(c, h, buf_cstr(&policy), buf_cstr(&body), body.len);
	buf_release(&policy);
	buf_release(&body);
	return found;
}

static int robots_start(struct crawler *c, struct host *h)
{
	struct job *j = job_take(c);
	if (!j)
		return 0;
	j->kind = JOB_ROBOTS;
	j->host = h;
	j->url_id = 0;
	if (url_robots(h->key, &j->url) || buf_puts(&j->cur, buf_cstr(&j->url))) {
		job_give(c, j);
		return NATADV_ENOMEM;
	}
	j->started = time_now();
	h->rstate = ROBOTS_FETCHING;
	h->active++;
	h->last_start = time_mono();
	return job_start(c, j);
}

static int robots_done(struct crawler *c, struct job *j, CURLcode cc)
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
		.finished = time_now(),
		.http_status = j->status,
		.final_url = buf_cstr(&j->cur),
		.error = error[0] ? error : NULL,
		.body = strcmp(policy, "rules") == 0 ? buf_cstr(&j->body) : NULL,
		.policy = temporary ? "disallow_all" : policy,
	};
	/* Every attempt is a row; only rows without an error serve as the cache. */
	int rc = tx_ensure(c);
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
		h->rerror_until = time_mono() + backoff(c, h->rfails);
		h->rstate = ROBOTS_UNKNOWN; /* asked again when the pause is over */
	} else {
		h->rfails = 0;
	}
	h->active--;
	job_give(c, j);
	return 0;
}

/* ---- starting URL jobs ---- */

/* Records an outcome decided without a transfer (robots.txt, bad host). */
static int decide_without_fetch(struct crawler *c, struct entry *e, enum job_result res, const char *why)
{
	struct job *j = job_take(c);
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
	int rc = record(c, j);
	job_give(c, j);
	return rc;
}

static void entry_drop(struct crawler *c, int i)
{
	c->win[i].host->queued--;
	free(c->win[i].url);
	c->win[i] = c->win[--c->nwin];
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
		if (o->obey_robots && h->rstate == ROBOTS_UNKNOWN && !h->rerror[0] && !robots_from_cache(c, h)) {
			int rc = robots_start(c, h);
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
				rc = tx_ensure(c);
				if (!rc && store_url_defer(c->st, e->id, time_now() + (wait > 0.1 ? wait : 0.1), h->rerror))
					rc = NATADV_EDB;
				if (rc) {
					snprintf(c->err, c->errlen, "%s", store_errmsg(c->st));
					return rc;
				}
				tracked_del(c, e->id);
			} else if ((rc = decide_without_fetch(c, e, RES_FAILED, h->rerror)) != 0) {
				return rc;
			}
			entry_drop(c, i);
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
				entry_drop(c, i);
				continue;
			}
		}
		struct job *j = job_take(c);
		if (!j)
			break;
		j->kind = JOB_URL;
		j->host = h;
		j->url_id = e->id;
		j->attempt = e->attempts + 1;
		if (buf_puts(&j->url, e->url) || buf_puts(&j->cur, e->url) || buf_puts(&j->redirects, "[")) {
			job_give(c, j);
			return NATADV_ENOMEM;
		}
		j->started = time_now();
		j->finished = 0;
		h->active++;
		h->last_start = mono;
		entry_drop(c, i);
		int rc = job_start(c, j);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- the window ---- */

static void window_add(void *ctx, const store_pending *p)
{
	struct crawler *c = ctx;
	c->cursor = p->id;
	if (c->nwin >= c->capwin || tracked_has(c, p->id))
		return;
	struct host *h = host_get(c, p->host);
	if (h && h->queued >= c->host_cap) {
		/* The host has enough waiting: leave this row for a later pass so
		 * one big host cannot fill the window (head-of-line blocking). */
		c->skipped++;
		return;
	}
	char *u = strdup(p->url);
	if (!h || !u) {
		free(u);
		return; /* out of memory: the URL stays pending for a later scan */
	}
	c->win[c->nwin++] = (struct entry){p->id, p->attempts, u, h};
	h->queued++;
	c->added++;
	tracked_add(c, p->id);
}

/* Reads more due URLs when the window runs low. Returns the number added. */
static int window_fill(struct crawler *c)
{
	int room = c->capwin - c->nwin;
	if (room < c->capwin / 2)
		return 0;
	double mono = time_mono();
	if (c->cursor == 0) {
		if (mono - c->last_wrap < 0.25)
			return 0; /* everything due was read a moment ago */
		c->last_wrap = mono;
	}
	if (mono < c->scan_pause_until)
		return 0;
	hosts_evict(c);
	c->skipped = c->added = 0;
	int n = store_frontier_scan(c->st, c->cursor, time_now(), room, window_add, c);
	if (n < 0)
		return n;
	if (n < room)
		c->cursor = 0; /* reached the end: the next scan starts over for retries and skipped rows */
	if (c->added == 0 && c->skipped > 0)
		c->scan_pause_until = mono + 0.05; /* only busy hosts ahead: do not spin */
	return c->added;
}

/* ---- finishing transfers ---- */

/* True when url was already followed in this job's redirect chain. */
static int in_chain(struct job *j, const char *url)
{
	buf needle;
	buf_init(&needle, 2 * MAX_URL);
	int found = jstr_quote(&needle, url) == 0 && strstr(buf_cstr(&j->redirects), buf_cstr(&needle));
	buf_release(&needle);
	return found;
}

#define STILL_RUNNING (-1)

enum hop { HOP_FOLLOW, HOP_DECIDED, HOP_DEFER };

/* A redirect to another host is checked against that host's robots.txt
 * before it is followed. When the rules are not known yet, they are fetched
 * and the URL comes back a moment later (HOP_DEFER, no attempt spent). */
static enum hop redirect_robots(struct crawler *c, struct job *j, const char *hk, const char *url)
{
	struct host *b = host_get(c, hk);
	if (!b) {
		snprintf(j->error, sizeof j->error, "out of memory");
		j->result = RES_RETRY;
		return HOP_DECIDED;
	}
	if (b->rerror[0] && b->rretry && time_mono() > b->rerror_until)
		b->rerror[0] = '\0';
	if (b->rstate == ROBOTS_UNKNOWN && !b->rerror[0] && !robots_from_cache(c, b)) {
		if (c->free_jobs)
			robots_start(c, b); /* on failure the next pass asks again */
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

static int url_done(struct crawler *c, struct job *j, CURLcode cc)
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
		           (hop = redirect_robots(c, j, buf_cstr(&hk), buf_cstr(&norm))) != HOP_FOLLOW) {
			if (hop == HOP_DEFER) {
				char wait[MAX_URL + 64];
				snprintf(wait, sizeof wait, "waiting for robots.txt of '%s' (redirect)", buf_cstr(&hk));
				buf_release(&norm);
				buf_release(&hk);
				rc = tx_ensure(c);
				if (!rc && store_url_defer(c->st, j->url_id, now + 1.0, wait) != 0) {
					snprintf(c->err, c->errlen, "%s", store_errmsg(c->st));
					rc = NATADV_EDB;
				}
				tracked_del(c, j->url_id);
				j->host->active--;
				job_give(c, j);
				return rc;
			}
		} else {
			if (j->nredirects)
				rc = buf_puts(&j->redirects, ",");
			if (!rc)
				rc = jstr_quote(&j->redirects, buf_cstr(&norm));
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
				return job_start(c, j) ? NATADV_ENET : STILL_RUNNING;
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
		queue_push(&c->todo, j);
		return STILL_RUNNING;
	}
	int rc = record(c, j);
	j->host->active--;
	job_give(c, j);
	return rc;
}

static int drain_done(struct crawler *c)
{
	while (!c->freeze) {
		pthread_mutex_lock(&c->done.mu);
		struct job *j = queue_pop_locked(&c->done);
		pthread_mutex_unlock(&c->done.mu);
		if (!j)
			return 0;
		c->processing--;
		if (j->fatal) {
			snprintf(c->err, c->errlen, "%s", j->error);
			return NATADV_EIO; /* the URL stays pending; the jobs are freed with the crawler */
		}
		int rc = record(c, j);
		j->host->active--;
		job_give(c, j);
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
		int rc = j->kind == JOB_ROBOTS ? robots_done(c, j, cc) : url_done(c, j, cc);
		if (rc > 0)
			return rc;
	}
	return 0;
}

/* ---- the run ---- */

static void crawler_release(struct crawler *c)
{
	if (c->threads) {
		pthread_mutex_lock(&c->todo.mu);
		c->quit = 1;
		pthread_cond_broadcast(&c->todo.cv);
		pthread_mutex_unlock(&c->todo.mu);
		for (int i = 0; i < c->nthreads; i++)
			pthread_join(c->threads[i], NULL);
		free(c->threads);
	}
	if (c->syncer_started) {
		pthread_mutex_lock(&c->sync_mu);
		c->sync_quit = 1;
		pthread_cond_broadcast(&c->sync_cv);
		pthread_mutex_unlock(&c->sync_mu);
		pthread_join(c->syncer, NULL);
	}
	pthread_mutex_destroy(&c->sync_mu);
	pthread_cond_destroy(&c->sync_cv);
	pthread_mutex_destroy(&c->seen_mu);
	free(c->seen);
	pthread_mutex_destroy(&c->todo.mu);
	pthread_cond_destroy(&c->todo.cv);
	pthread_mutex_destroy(&c->done.mu);
	pthread_cond_destroy(&c->done.cv);
	if (c->jobs) {
		for (int i = 0; i < c->njobs; i++) {
			if (c->jobs[i].easy && c->multi)
				curl_multi_remove_handle(c->multi, c->jobs[i].easy);
			job_release(&c->jobs[i]);
		}
		free(c->jobs);
	}
	if (c->multi)
		curl_multi_cleanup(c->multi);
	for (int i = 0; i < c->nwin; i++)
		free(c->win[i].url);
	free(c->win);
	free(c->tracked);
	free(c->tracked_scratch);
	free(c->objdir);
	for (size_t b = 0; b < sizeof c->htab / sizeof c->htab[0]; b++) {
		while (c->htab[b]) {
			struct host *x = c->htab[b];
			c->htab[b] = x->next;
			host_free(x);
		}
	}
}

static int crawler_init(struct crawler *c)
{
	const crawl_opts *o = c->o;
	pthread_mutex_init(&c->todo.mu, NULL);
	pthread_cond_init(&c->todo.cv, NULL);
	pthread_mutex_init(&c->done.mu, NULL);
	pthread_cond_init(&c->done.cv, NULL);
	pthread_mutex_init(&c->sync_mu, NULL);
	pthread_cond_init(&c->sync_cv, NULL);
	pthread_mutex_init(&c->seen_mu, NULL);
	c->objdir = strdup(store_objects_dir(c->st)); /* before any thread starts (invariant 1) */
	if (!c->objdir)
		return NATADV_ENOMEM;
	c->seen = calloc(SEEN_SLOTS, sizeof *c->seen);
	if (!c->seen)
		return NATADV_ENOMEM;
	if (pthread_create(&c->syncer, NULL, syncer_main, c) != 0)
		return NATADV_ENOMEM;
	c->syncer_started = 1;
	c->multi = curl_multi_init();
	if (!c->multi)
		return NATADV_ENOMEM;
	curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)o->concurrency);
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)o->per_host);
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)o->concurrency * 2);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	c->nthreads = o->workers > 0 ? o->workers : (ncpu > 0 ? (int)ncpu : 1);
	if (c->nthreads > 64)
		c->nthreads = 64;
	/* Jobs beyond the transfers let fetching go on while workers validate. */
	c->njobs = o->concurrency + 2 * c->nthreads + 2;
	c->jobs = calloc((size_t)c->njobs, sizeof *c->jobs);
	if (!c->jobs)
		return NATADV_ENOMEM;
	for (int i = 0; i < c->njobs; i++) {
		int rc = job_setup(c, &c->jobs[i]);
		if (rc)
			return rc;
		c->jobs[i].next = c->free_jobs;
		c->free_jobs = &c->jobs[i];
	}
	c->capwin = 4 * o->concurrency < 512 ? 512 : 4 * o->concurrency;
	if (c->capwin > 8192)
		c->capwin = 8192;
	c->win = calloc((size_t)c->capwin, sizeof *c->win);
	c->host_cap = 2 * o->per_host < 8 ? 8 : 2 * o->per_host;
	c->tracked_cap = 1;
	while (c->tracked_cap < 4 * (c->capwin + c->njobs))
		c->tracked_cap <<= 1;
	c->tracked = calloc((size_t)c->tracked_cap, sizeof *c->tracked);
	c->tracked_scratch = calloc((size_t)c->tracked_cap, sizeof *c->tracked_scratch);
	if (!c->win || !c->tracked || !c->tracked_scratch)
		return NATADV_ENOMEM;
	c->threads = calloc((size_t)c->nthreads, sizeof *c->threads);
	if (!c->threads)
		return NATADV_ENOMEM;
	for (int i = 0; i < c->nthreads; i++) {
		if (pthread_create(&c->threads[i], NULL, worker_main, c) != 0) {
			c->nthreads = i;
			return NATADV_ENOMEM;
		}
	}
	return 0;
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

int crawl_run(store *s, int64_t run_id, const crawl_opts *o, const volatile sig_atomic_t *stop,
              void (*progress)(void *ctx, const crawl_progress *p), void *ctx,
              crawl_progress *final, char *err, size_t errlen)
{
	if (final)
		memset(final, 0, sizeof *final); /* a refused run reports nothing done, never garbage */
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
	c->policy.allow_private = o->allow_private;
	c->err = err;
	c->errlen = errlen;
	c->rng = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(time_now() * 1e6);
	if (!c->rng)
		c->rng = 1;
	c->t0 = time_mono();
	err[0] = '\0';
	/* One crawl per workspace: the second would delete the first's temporary blobs. */
	char lock[4200];
	snprintf(lock, sizeof lock, "%s/crawl.lock", store_dir(s));
	c->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (c->lock_fd < 0 || flock(c->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? NATADV_EEXIST : NATADV_EIO;
		snprintf(err, errlen, rc == NATADV_EEXIST ? "another 'natadv crawl' is running in '%s'" : "cannot lock '%s'",
		         store_dir(s));
		if (c->lock_fd >= 0)
			close(c->lock_fd);
		free(c);
		return rc;
	}
	rc = crawler_init(c);
	if (rc) {
		snprintf(err, errlen, "cannot start the crawler: %s", natadv_strerror(rc));
		goto out;
	}
	int cleaned = 0; /* left by a killed run; under the lock, so no other crawl's */
	if ((rc = blob_clean_tmp(c->objdir, &cleaned)) != 0) {
		snprintf(err, errlen, "cannot clean '%s/tmp': %s", c->objdir, natadv_strerror(rc));
		goto out;
	}
	if ((rc = store_count_urls(s, "pending", &c->prog.total)) != 0) {
		snprintf(err, errlen, "%s", store_errmsg(s));
		goto out;
	}
	double last_progress = 0;
	for (;;) {
		if (*stop)
			break;
		int n = window_fill(c);
		if (n < 0) {
			rc = -n;
			snprintf(err, errlen, "%s", store_errmsg(s));
			goto out;
		}
		if ((rc = start_ready(c)) != 0)
			goto out;
		int running = 0;
		CURLMcode pm = curl_multi_perform(c->multi, &running);
		if (pm != CURLM_OK) {
			rc = NATADV_ENET;
			snprintf(err, errlen, "curl: %s", curl_multi_strerror(pm));
			goto out;
		}
		if ((rc = read_infos(c)) != 0 || (rc = drain_done(c)) != 0)
			goto out;
		if (c->in_tx && (c->tx_rows >= COMMIT_ROWS || time_mono() - c->tx_started > COMMIT_SECONDS))
			if ((rc = tx_commit(c, c->tx_rows >= 8 * COMMIT_ROWS)) != 0)
				goto out;
		double mono = time_mono();
		if (progress && mono - last_progress > 0.25) {
			c->prog.elapsed = mono - c->t0;
			progress(ctx, &c->prog);
			last_progress = mono;
		}
		int idle = c->active == 0 && c->processing == 0 && c->nwin == 0;
		int timeout_ms = 50;
		if (idle) {
			/* Nothing in memory: is anything due now, later, or never? */
			if ((rc = tx_commit(c, 1)) != 0)
				goto out;
			c->cursor = 0;
			c->last_wrap = 0;
			c->scan_pause_until = 0;
			n = window_fill(c);
			if (n < 0) {
				rc = -n;
				snprintf(err, errlen, "%s", store_errmsg(s));
				goto out;
			}
			if (n > 0)
				continue;
			double due;
			int r = store_frontier_next_due(s, &due);
			if (r == NATADV_ENOTFOUND)
				break; /* every URL reached a final state */
			if (r) {
				rc = r;
				snprintf(err, errlen, "%s", store_errmsg(s));
				goto out;
			}
			double wait = due - time_now();
			if (wait > 1.5 * o->retry_max + 1) {
				/* Only long waits are left (a server's Retry-After): end the
				 * run and say when to come back rather than sleep for hours. */
				if ((rc = store_count_urls(s, "pending", &c->prog.waiting)) != 0) {
					snprintf(err, errlen, "%s", store_errmsg(s));
					goto out;
				}
				c->prog.next_due = due;
				break;
			}
			timeout_ms = wait <= 0 ? 1 : (wait > 1 ? 1000 : (int)(wait * 1000) + 1);
		} else if (c->nwin > 0 && c->active < o->concurrency) {
			timeout_ms = 10; /* entries wait for a host's delay or cap */
		}
		CURLMcode mc = curl_multi_poll(c->multi, NULL, 0, timeout_ms, NULL);
		if (mc != CURLM_OK) {
			rc = NATADV_ENET;
			snprintf(err, errlen, "curl: %s", curl_multi_strerror(mc));
			goto out;
		}
	}
	/* Stopping: transfers in flight are dropped (their URLs stay pending),
	 * bodies with the workers are finished and recorded. */
	if ((rc = tx_commit(c, 1)) != 0) /* also lifts a freeze */
		goto out;
	while (c->processing > 0) {
		if ((rc = drain_done(c)) != 0)
			goto out;
		if (c->processing > 0)
			curl_multi_poll(c->multi, NULL, 0, 50, NULL);
	}
	rc = tx_commit(c, 1);
	if (!rc && *stop) {
		rc = NATADV_EINTR;
		snprintf(err, errlen, "interrupted");
	}
out:
	if (c->in_tx) {
		if (rc)
			store_rollback(s);
		else
			rc = tx_commit(c, 1);
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
