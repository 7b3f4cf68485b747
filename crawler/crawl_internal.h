/* crawl_internal.h — what the files of the fetch loop share, and nothing
 * outside crawler/crawl*.c, hosts.c, workers.c, syncer.c, robots_cache.c and
 * transfer.c includes it. Who owns what:
 *   crawl.c        the main loop: struct crawler, its run, recording attempts;
 *   transfer.c     the job pool and each libcurl transfer, redirects included;
 *   hosts.c        the host table, the window of due URLs and the ids in flight;
 *   robots_cache.c each host's robots.txt: from the cache or fetched;
 *   workers.c      the worker threads (struct pool): validate, hash, store blobs;
 *   syncer.c       the syncer thread (struct syncer) and the batched transaction.
 * Only the main thread touches struct crawler and the store handle; the
 * worker threads see only their struct pool, the syncer only its struct
 * syncer (see crawl.c's invariants). */
#ifndef NATADV_CRAWL_INTERNAL_H
#define NATADV_CRAWL_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "common/buf.h"
#include "crawler/crawler.h"
#include "crawler/http.h"
#include "crawler/robots.h"
#include "image/image.h"

#define MAX_HEADERS (64 * 1024)
#define MAX_URL (8 * 1024)
#define MAX_ROBOTS (500 * 1024)
#define MAX_HOSTS 8192
#define SEEN_SLOTS 16384           /* direct-mapped: a newer hash takes the slot */
#define STILL_RUNNING (-1)         /* a job goes on (redirect followed, body with the workers) */

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
	json_t *redirects;         /* the followed URLs, a JSON array */
	int nredirects;
	buf body;
	buf headers;               /* header block of the latest response */
	int64_t max_bytes;
	int too_big;
	http_guard guard;          /* the private-address policy's verdict */
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

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;
};

/* The syncer thread's own data: the main thread reaches it only through
 * crawl_syncer_* calls, the workers through crawl_syncer_written. */
struct syncer {
	const char *objdir;        /* the blob folder; not changed while the thread runs */
	CURLM *wake;               /* woken after each sync, so a frozen commit can go ahead */
	pthread_t thread;
	int started, inited;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t written_gen;      /* blobs renamed into place so far */
	uint64_t synced_gen;       /* blobs known to be on disk */
	uint64_t wanted;           /* a commit waits for blobs up to here */
	int failed;
	int quit;
};

/* The worker threads' own data, set before they start. */
struct pool {
	const char *objdir;        /* the blob folder; not changed while the threads run */
	img_limits lim;
	struct syncer *sync;       /* told of each blob written */
	CURLM *wake;               /* woken when a job is done */
	pthread_t *threads;
	int nthreads;
	int inited;
	struct queue todo, done;
	int quit;                  /* under todo.mu */
	struct seen *seen;         /* SEEN_SLOTS, shared by the workers */
	pthread_mutex_t seen_mu;
};

struct crawler {
	store *st;                 /* the main thread's only (invariant 1) */
	char *objdir;              /* the blob folder's path: the pool and the syncer read it */
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
	struct pool pool;          /* the workers */
	struct syncer sync;        /* makes blobs durable off the main thread (invariant 3) */
	uint64_t tx_gen;           /* newest blob the open transaction refers to */
	/* batching */
	int in_tx;
	int tx_rows;
	double tx_started;
	uint64_t rng;
	crawl_progress prog;
	double t0;
};

/* ---- crawl.c ---- */
/* Records the finished attempt of j and frees its URL id. */
int crawl_record(struct crawler *c, struct job *j) __attribute__((warn_unused_result));
/* The jittered backoff before retry number attempt, in seconds. */
double crawl_backoff(struct crawler *c, int attempt);

/* ---- transfer.c ---- */
/* Sets up job j's easy handle and buffers: 0 or NATADV_ENOMEM. */
int crawl_job_setup(struct crawler *c, struct job *j) __attribute__((warn_unused_result));
/* Frees what crawl_job_setup made. */
void crawl_job_release(struct job *j);
/* Starts (or restarts after a redirect) the transfer of j->cur. */
int crawl_job_start(struct crawler *c, struct job *j) __attribute__((warn_unused_result));
/* A free job, reset, or NULL when all are in use. */
struct job *crawl_job_take(struct crawler *c);
/* Returns j to the free list. */
void crawl_job_give(struct crawler *c, struct job *j);
/* Decides what a finished URL transfer gave: follows a redirect or hands
 * the body to the workers (STILL_RUNNING), else records it (0 or an error). */
int crawl_url_done(struct crawler *c, struct job *j, CURLcode cc) __attribute__((warn_unused_result));

/* ---- hosts.c ---- */
/* Allocates the window and the set of ids in flight: 0 or NATADV_ENOMEM. */
int crawl_frontier_init(struct crawler *c) __attribute__((warn_unused_result));
/* Frees the window, the id set and every host. */
void crawl_frontier_release(struct crawler *c);
/* The host of key, made on first use; NULL when out of memory. */
struct host *crawl_host_get(struct crawler *c, const char *key);
/* Forgets that URL id is in flight. */
void crawl_tracked_del(struct crawler *c, int64_t id);
/* Removes window entry i (the last one takes its place). */
void crawl_entry_drop(struct crawler *c, int i);
/* Reads more due URLs when the window runs low: the number added or a negative error code. */
int crawl_window_fill(struct crawler *c) __attribute__((warn_unused_result));

/* ---- robots_cache.c ---- */
/* Loads host h's robots.txt from the database cache; 1 if found. */
int crawl_robots_cached(struct crawler *c, struct host *h);
/* Starts fetching host h's robots.txt (0, doing nothing, when no job is
 * free); on failure h and the job pool are as they were. */
int crawl_robots_start(struct crawler *c, struct host *h) __attribute__((warn_unused_result));
/* Records a finished robots.txt fetch and applies it to its host. */
int crawl_robots_done(struct crawler *c, struct job *j, CURLcode cc) __attribute__((warn_unused_result));
enum hop { HOP_FOLLOW, HOP_DECIDED, HOP_DEFER };
/* Whether the redirect of j to url on host hk may be followed under that host's robots.txt. */
enum hop crawl_redirect_robots(struct crawler *c, struct job *j, const char *hk, const char *url);

/* ---- workers.c ---- */
/* Starts n worker threads over p->objdir, p->lim, p->sync and p->wake (set
 * by the caller): 0 or NATADV_ENOMEM (those started run until crawl_pool_stop). */
int crawl_pool_start(struct pool *p, int n) __attribute__((warn_unused_result));
/* Stops and joins the workers and frees the pool; safe on a pool never started. */
void crawl_pool_stop(struct pool *p);
/* Hands j (a 2xx body) to the workers. */
void crawl_pool_submit(struct pool *p, struct job *j);
/* A job the workers finished, or NULL. */
struct job *crawl_pool_finished(struct pool *p);

/* ---- syncer.c ---- */
/* Starts the syncer thread over objdir, waking wake after each sync. */
int crawl_syncer_start(struct syncer *sy, const char *objdir, CURLM *wake) __attribute__((warn_unused_result));
/* Stops and joins the thread; safe on a syncer never started. */
void crawl_syncer_stop(struct syncer *sy);
/* Counts one more blob renamed into place; returns its generation. Any thread. */
uint64_t crawl_syncer_written(struct syncer *sy);
/* Opens the batched transaction unless one is open. */
int crawl_tx_ensure(struct crawler *c) __attribute__((warn_unused_result));
/* Commits the open transaction once the blobs it names are on disk (or,
 * with wait 0, asks for them and leaves it open, frozen). */
int crawl_tx_commit(struct crawler *c, int wait) __attribute__((warn_unused_result));

#endif
