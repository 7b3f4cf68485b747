/* workers.c — the worker threads: each takes a 2xx body, hashes it,
 * validates it as an image (once per distinct bytes in a run) and writes
 * it into the blob store. They see only their struct pool, never the
 * store handle or the crawler (invariant 1 of crawl.c). */
#include "crawler/crawl_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common/err.h"
#include "common/sha256.h"

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
static int seen_get(struct pool *p, uint64_t low, struct job *j)
{
	struct seen *e = &p->seen[low & (SEEN_SLOTS - 1)];
	pthread_mutex_lock(&p->seen_mu);
	int hit = strcmp(e->hash, j->hash) == 0;
	if (hit) {
		j->info = e->info;
		j->dhash = e->dhash;
		memcpy(j->sha256, e->sha256, sizeof j->sha256);
	}
	pthread_mutex_unlock(&p->seen_mu);
	return hit;
}

static void seen_put(struct pool *p, uint64_t low, const struct job *j)
{
	struct seen *e = &p->seen[low & (SEEN_SLOTS - 1)];
	pthread_mutex_lock(&p->seen_mu);
	memcpy(e->hash, j->hash, sizeof e->hash);
	e->info = j->info;
	e->dhash = j->dhash;
	memcpy(e->sha256, j->sha256, sizeof e->sha256);
	pthread_mutex_unlock(&p->seen_mu);
}

/* Decides what a 2xx body is: an image stored in the blob store, or a
 * failure with its reason. Runs on a worker thread. The same bytes met
 * again in this run (mirrors, one image at many URLs) skip the decode. */
static void process_body(struct pool *p, img_ctx *ic, struct job *j)
{
	const char *data = j->body.data ? j->body.data : "";
	XXH128_hash_t h = XXH3_128bits(data, j->body.len);
	XXH128_canonical_t canon;
	XXH128_canonicalFromHash(&canon, h);
	hex_encode(canon.digest, sizeof canon.digest, j->hash);
	if (!seen_get(p, h.low64, j)) {
		if (img_validate(ic, data, j->body.len, &p->lim, &j->info, &j->dhash, j->error, sizeof j->error) != 0) {
			j->result = RES_FAILED;
			return;
		}
		if (sha256_hex(data, j->body.len, j->sha256) != 0) {
			snprintf(j->error, sizeof j->error, "sha-256 failed");
			j->result = RES_RETRY;
			j->fatal = 1; /* out of memory: not the URL's fault either */
			return;
		}
		seen_put(p, h.low64, j);
	}
	int rc = blob_put(p->objdir, j->hash, data, j->body.len, j->error, sizeof j->error);
	j->result = rc ? RES_RETRY : RES_IMAGE;
	j->fatal = rc != 0; /* not the URL's fault: the run stops */
	j->gen = crawl_syncer_written(p->sync);
}

static void *worker_main(void *arg)
{
	struct pool *p = arg;
	img_ctx *ic = img_ctx_new();
	for (;;) {
		pthread_mutex_lock(&p->todo.mu);
		while (!p->todo.head && !p->quit)
			pthread_cond_wait(&p->todo.cv, &p->todo.mu);
		struct job *j = queue_pop_locked(&p->todo);
		pthread_mutex_unlock(&p->todo.mu);
		if (!j)
			break;
		if (!ic) {
			snprintf(j->error, sizeof j->error, "out of memory");
			j->result = RES_RETRY;
		} else {
			process_body(p, ic, j);
		}
		queue_push(&p->done, j);
		curl_multi_wakeup(p->wake);
	}
	img_ctx_free(ic);
	return NULL;
}

/* ---- the pool ---- */

int crawl_pool_start(struct pool *p, int n)
{
	pthread_mutex_init(&p->todo.mu, NULL);
	pthread_cond_init(&p->todo.cv, NULL);
	pthread_mutex_init(&p->done.mu, NULL);
	pthread_cond_init(&p->done.cv, NULL);
	pthread_mutex_init(&p->seen_mu, NULL);
	p->inited = 1;
	p->seen = calloc(SEEN_SLOTS, sizeof *p->seen);
	p->threads = calloc((size_t)n, sizeof *p->threads);
	if (!p->seen || !p->threads)
		return NATADV_ENOMEM;
	for (int i = 0; i < n; i++) {
		if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0)
			return NATADV_ENOMEM;
		p->nthreads = i + 1;
	}
	return 0;
}

void crawl_pool_stop(struct pool *p)
{
	if (!p->inited)
		return;
	pthread_mutex_lock(&p->todo.mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->todo.cv);
	pthread_mutex_unlock(&p->todo.mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	free(p->seen);
	pthread_mutex_destroy(&p->seen_mu);
	pthread_mutex_destroy(&p->todo.mu);
	pthread_cond_destroy(&p->todo.cv);
	pthread_mutex_destroy(&p->done.mu);
	pthread_cond_destroy(&p->done.cv);
	p->inited = 0;
}

void crawl_pool_submit(struct pool *p, struct job *j)
{
	queue_push(&p->todo, j);
}

struct job *crawl_pool_finished(struct pool *p)
{
	pthread_mutex_lock(&p->done.mu);
	struct job *j = queue_pop_locked(&p->done);
	pthread_mutex_unlock(&p->done.mu);
	return j;
}
