/* crawler.h — loading candidate URLs (seed lists) into the frontier and
 * fetching them: a libcurl multi loop with politeness, retries, safety
 * checks, and worker threads that validate, hash and store each image. */
#ifndef NATADV_CRAWLER_H
#define NATADV_CRAWLER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "crawler/http.h"
#include "store/store.h"

typedef struct crawl_opts {
	int concurrency;          /* transfers at once (64) */
	int per_host;             /* transfers at once per host (8) */
	double host_delay;        /* minimum seconds between starts on one host (0) */
	int retries;              /* retries after the first attempt (3) */
	int64_t max_bytes;        /* largest response body kept (20 MB) */
	long connect_timeout_ms;  /* 10 s */
	long timeout_ms;          /* whole transfer, 120 s */
	long low_speed_bytes;     /* drop a transfer slower than this many bytes/s ... (1000) */
	long low_speed_secs;      /* ... for this many seconds (15) */
	int max_redirects;        /* 5 */
	int allow_private;        /* permit loopback/private/link-local addresses (0) */
	const http_net *allow_nets; /* nallow_nets private blocks let through (--allow-address) */
	size_t nallow_nets;
	const char *user_agent;   /* names the tool and a contact URL */
	const char *robots_agent; /* product token matched in robots.txt ("natadv") */
	int obey_robots;          /* 1 */
	double robots_max_age;    /* seconds a cached robots.txt is used (86400) */
	double clock_skew;        /* seconds added to the clock that dates robots.txt fetches and
	                           * ages the cache; tests move it a day on (0) */
	double retry_base;        /* first backoff in seconds (2) */
	double retry_max;         /* longest backoff in seconds (600) */
	uint32_t min_side;        /* smallest image side kept (64) */
	uint64_t max_pixels;      /* largest image kept, in pixels (100e6) */
	int workers;              /* validating threads; 0 = one per core */
} crawl_opts;

/* Fills o with the defaults above. */
void crawl_opts_default(crawl_opts *o);

typedef struct crawl_seed_summary {
	int64_t rows;        /* rows read, good and bad */
	int64_t new_urls;    /* URLs added to the frontier */
	int64_t new_tags;    /* (url, class) tags added, including new URLs */
	int64_t bad;         /* rows skipped */
} crawl_seed_summary;

/* Streams the seed list at path (TSV, CSV or JSON Lines) into the frontier
 * in batched transactions. Each bad row is reported through on_bad (a
 * message like "line 12: unknown wnid 'n99999999'") and skipped. Returns 0
 * or an error code for the file as a whole (err says why). */
int crawl_load_seeds(store *s, int64_t run_id, const char *path,
                     void (*on_bad)(void *ctx, const char *msg), void *ctx,
                     crawl_seed_summary *sum, char *err, size_t errlen) __attribute__((warn_unused_result));

typedef struct crawl_progress {
	int64_t total;        /* URLs due or pending when the run started */
	int64_t done;         /* URLs that reached a final state in this run */
	int64_t images;       /* URLs fetched as images (new + duplicates) */
	int64_t new_images;   /* images stored for the first time */
	int64_t duplicates;   /* images already stored */
	int64_t failed;
	int64_t opted_out;
	int64_t retries;      /* attempts that will be retried */
	int64_t bytes;        /* response bytes received */
	double elapsed;       /* seconds since the run started */
	int64_t waiting;      /* URLs left waiting on a long Retry-After when the run ended */
	double next_due;      /* unix time the first of them is due */
	int started;          /* 1 once the run began (options valid, workspace locked); 0 when refused */
} crawl_progress;

/* Fetches every pending URL until none is left (waiting out backoffs; when
 * only waits longer than 1.5 x retry_max remain, the run ends with them in
 * final->waiting), stop becomes non-zero (then returns NATADV_EINTR after recording what is
 * in flight), or an error stops it. progress (may be NULL) is called about
 * four times a second; *final gets the last counts (all zero, started 0,
 * when the run is refused: NATADV_EEXIST while another crawl holds the
 * workspace, NATADV_EINVAL for bad options). */
int crawl_run(store *s, int64_t run_id, const crawl_opts *o, const volatile sig_atomic_t *stop,
              void (*progress)(void *ctx, const crawl_progress *p), void *ctx,
              crawl_progress *final, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Downloads url (http/https) to path with a handle set up from ho (its
 * limits: timeouts, redirects followed, max_bytes) connecting only where
 * policy (NULL: public addresses) allows: written to path.part, hashed on
 * the way (sha256 gets 64 hex digits), synced, then renamed. Fails past
 * ho->max_bytes. Returns 0 or NATADV_ENET/EIO/ENOMEM (err says why). */
int crawl_download(const char *url, const char *path, const http_opts *ho, const http_policy *policy,
                   char sha256[65], int64_t *bytes, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Returns 1 if the IPv4/IPv6 socket address sa must be refused without
 * --allow-private (loopback, private, link-local, CGNAT, multicast,
 * unspecified, cloud metadata), else 0. */
int crawl_addr_is_private(const void *sockaddr, size_t len);

#endif
