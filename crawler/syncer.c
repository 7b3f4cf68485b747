/* syncer.c — the transaction syncer: a thread that makes written blobs
 * durable (blob_sync) off the main thread, and the main thread's batched
 * transaction, committed only once every blob it names is on disk
 * (invariant 3 of crawl.c). The thread sees only its struct syncer. */
#include "crawler/crawl_internal.h"

#include <stdio.h>

#include "common/err.h"
#include "common/timeutil.h"

int crawl_tx_ensure(struct crawler *c)
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

/* ---- the syncer thread ---- */

static void *syncer_main(void *arg)
{
	struct syncer *sy = arg;
	pthread_mutex_lock(&sy->mu);
	for (;;) {
		while (sy->wanted <= sy->synced_gen && !sy->quit)
			pthread_cond_wait(&sy->cv, &sy->mu);
		if (sy->quit)
			break;
		uint64_t target = sy->written_gen; /* every blob up to here is renamed */
		pthread_mutex_unlock(&sy->mu);
		int rc = blob_sync(sy->objdir);
		pthread_mutex_lock(&sy->mu);
		if (rc)
			sy->failed = 1;
		else
			sy->synced_gen = target;
		pthread_cond_broadcast(&sy->cv);
		curl_multi_wakeup(sy->wake); /* a frozen commit can go ahead */
	}
	pthread_mutex_unlock(&sy->mu);
	return NULL;
}

int crawl_syncer_start(struct syncer *sy, const char *objdir, CURLM *wake)
{
	sy->objdir = objdir;
	sy->wake = wake;
	pthread_mutex_init(&sy->mu, NULL);
	pthread_cond_init(&sy->cv, NULL);
	sy->inited = 1;
	if (pthread_create(&sy->thread, NULL, syncer_main, sy) != 0)
		return NATADV_ENOMEM;
	sy->started = 1;
	return 0;
}

void crawl_syncer_stop(struct syncer *sy)
{
	if (sy->started) {
		pthread_mutex_lock(&sy->mu);
		sy->quit = 1;
		pthread_cond_broadcast(&sy->cv);
		pthread_mutex_unlock(&sy->mu);
		pthread_join(sy->thread, NULL);
		sy->started = 0;
	}
	if (sy->inited) {
		pthread_mutex_destroy(&sy->mu);
		pthread_cond_destroy(&sy->cv);
		sy->inited = 0;
	}
}

uint64_t crawl_syncer_written(struct syncer *sy)
{
	pthread_mutex_lock(&sy->mu);
	uint64_t gen = ++sy->written_gen;
	pthread_mutex_unlock(&sy->mu);
	return gen;
}

/* Asks for every blob up to gen to be on disk; with wait, until they are.
 * 1 when they are, 0 when not yet, -1 when a sync failed. */
static int syncer_reach(struct syncer *sy, uint64_t gen, int wait)
{
	pthread_mutex_lock(&sy->mu);
	if (sy->synced_gen < gen && !sy->failed) {
		if (sy->wanted < gen) {
			sy->wanted = gen;
			pthread_cond_broadcast(&sy->cv);
		}
		while (wait && sy->synced_gen < gen && !sy->failed)
			pthread_cond_wait(&sy->cv, &sy->mu);
	}
	int r = sy->failed ? -1 : sy->synced_gen >= gen;
	pthread_mutex_unlock(&sy->mu);
	return r;
}

/* ---- the transaction ---- */

/* Commits the open transaction once the blobs it names are on disk: a
 * committed row must never point at bytes still in the page cache. When
 * they are not yet and wait is 0, asks the syncer and returns at once; the
 * main loop comes back later, so fetching never stalls on the disk. */
int crawl_tx_commit(struct crawler *c, int wait)
{
	if (!c->in_tx)
		return 0;
	int ready = syncer_reach(&c->sync, c->tx_gen, wait);
	if (ready < 0) {
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
