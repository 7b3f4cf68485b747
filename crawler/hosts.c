/* hosts.c — the crawler's in-memory frontier, all the main thread's: the
 * host table (per-host caps, delays, robots.txt state), the window of due
 * URLs read from the database, and the set of URL ids in flight
 * (invariants 2 and 4 of crawl.c). */
#include "crawler/crawl_internal.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common/err.h"
#include "common/timeutil.h"

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

void crawl_tracked_del(struct crawler *c, int64_t id)
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

struct host *crawl_host_get(struct crawler *c, const char *key)
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

/* ---- the window ---- */

void crawl_entry_drop(struct crawler *c, int i)
{
	c->win[i].host->queued--;
	free(c->win[i].url);
	c->win[i] = c->win[--c->nwin];
}

static void window_add(void *ctx, const store_pending *p)
{
	struct crawler *c = ctx;
	c->cursor = p->id;
	if (c->nwin >= c->capwin || tracked_has(c, p->id))
		return;
	struct host *h = crawl_host_get(c, p->host);
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
int crawl_window_fill(struct crawler *c)
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

/* ---- setting up and freeing ---- */

int crawl_frontier_init(struct crawler *c)
{
	const crawl_opts *o = c->o;
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
	return 0;
}

void crawl_frontier_release(struct crawler *c)
{
	for (int i = 0; i < c->nwin; i++)
		free(c->win[i].url);
	free(c->win);
	free(c->tracked);
	free(c->tracked_scratch);
	for (size_t b = 0; b < sizeof c->htab / sizeof c->htab[0]; b++) {
		while (c->htab[b]) {
			struct host *x = c->htab[b];
			c->htab[b] = x->next;
			host_free(x);
		}
	}
}
