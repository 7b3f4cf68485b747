/* pool.c — a tiny persistent thread pool for the forward pass: the GEMMs'
 * tasks, im2col, Winograd transforms, max-pool, and whole images through
 * the early stages (nn_pool_for_t). Threads are
 * started once per model; a parallel loop is one broadcast and one wait,
 * and both sides spin a while before they sleep: the forward pass runs
 * hundreds of loops back to back. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "filter/nn.h"

struct helper_arg {
	nn_pool *p;
	int id;               /* 1 .. threads - 1; the caller is 0 */
};

struct nn_pool {
	int threads;          /* including the caller */
	pthread_t *tid;       /* threads - 1 helpers */
	struct helper_arg *ha; /* their arguments */
	pthread_mutex_t mu;
	pthread_cond_t go;    /* helpers wait here for a new generation */
	pthread_cond_t done;  /* the caller waits here for busy == 0 */
	unsigned long gen;    /* bumped for each loop */
	atomic_ulong pub;     /* gen, readable without the mutex (spinning) */
	atomic_int busy;      /* helpers still inside the current loop */
	int quit;
	/* the current loop */
	void (*fn)(void *arg, int i);
	void (*fn_t)(void *arg, int i, int thread); /* instead of fn */
	void *arg;
	int n;
	atomic_int next;      /* next index to hand out */
};

/* Takes indices until none are left; id is the thread's index. */
static void work(nn_pool *p, int id)
{
	for (;;) {
		int i = atomic_fetch_add(&p->next, 1);

		if (i >= p->n)
			return;
		if (p->fn_t)
			p->fn_t(p->arg, i, id);
		else
			p->fn(p->arg, i);
	}
}

/* Spins a helper does, looking for the next loop, or the caller, waiting
 * for the helpers' last calls, before it sleeps: waking a sleeping thread
 * costs tens of microseconds each time. */
#define SPINS 20000

static void *helper(void *arg)
{
	const struct helper_arg *ha = arg;
	nn_pool *p = ha->p;
	unsigned long seen = 0;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->gen == seen && !p->quit) {
			pthread_mutex_unlock(&p->mu);
			for (int i = 0; i < SPINS; i++)
				if (atomic_load_explicit(&p->pub,
				                         memory_order_acquire) != seen)
					break;
			pthread_mutex_lock(&p->mu);
		}
		while (p->gen == seen && !p->quit)
			pthread_cond_wait(&p->go, &p->mu);
		if (p->quit)
			break;
		seen = p->gen;
		pthread_mutex_unlock(&p->mu);
		work(p, ha->id);
		pthread_mutex_lock(&p->mu);
		if (atomic_fetch_sub(&p->busy, 1) == 1)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

nn_pool *nn_pool_new(int threads)
{
	nn_pool *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	p->threads = 1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	atomic_init(&p->next, 0);
	atomic_init(&p->pub, 0);
	atomic_init(&p->busy, 0);
	if (threads > 64)
		threads = 64;
	if (threads > 1) {
		p->tid = calloc((size_t)threads - 1, sizeof *p->tid);
		p->ha = calloc((size_t)threads - 1, sizeof *p->ha);
		if (!p->tid || !p->ha) {
			nn_pool_free(p);
			return NULL;
		}
		for (int i = 0; i < threads - 1; i++) {
			p->ha[i] = (struct helper_arg){p, i + 1};
			if (pthread_create(&p->tid[i], NULL, helper, &p->ha[i]))
				break; /* run with the helpers we got */
			p->threads++;
		}
	}
	return p;
}

void nn_pool_free(nn_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->threads - 1; i++)
		pthread_join(p->tid[i], NULL);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->go);
	pthread_mutex_destroy(&p->mu);
	free(p->tid);
	free(p->ha);
	free(p);
}

nn_pool *nn_pool_worth(nn_pool *p, size_t floats)
{
	return floats >= ((size_t)1 << 17) ? p : NULL;
}

int nn_pool_threads(const nn_pool *p)
{
	return p ? p->threads : 1;
}

/* nn_pool_for and nn_pool_for_t: exactly one of fn and fn_t is set. */
static void run(nn_pool *p, int n, void (*fn)(void *arg, int i),
                void (*fn_t)(void *arg, int i, int thread), void *arg)
{
	if (!p || p->threads == 1 || n < 2) {
		for (int i = 0; i < n; i++) {
			if (fn_t)
				fn_t(arg, i, 0);
			else
				fn(arg, i);
		}
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->fn = fn, p->fn_t = fn_t, p->arg = arg, p->n = n;
	atomic_store(&p->next, 0);
	atomic_store(&p->busy, p->threads - 1);
	p->gen++;
	atomic_store_explicit(&p->pub, p->gen, memory_order_release);
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	work(p, 0);
	for (int i = 0; i < SPINS; i++)
		if (!atomic_load_explicit(&p->busy, memory_order_acquire))
			return;
	pthread_mutex_lock(&p->mu);
	while (atomic_load(&p->busy))
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void nn_pool_for(nn_pool *p, int n, void (*fn)(void *arg, int i), void *arg)
{
	run(p, n, fn, NULL, arg);
}

void nn_pool_for_t(nn_pool *p, int n, void (*fn)(void *arg, int i, int thread),
                   void *arg)
{
	run(p, n, NULL, fn, arg);
}
