/* score.c — `natadv score`: every stored image without a score for a model
 * goes through decode + preprocessing on decoder threads while the main
 * thread runs batched forward passes and records the predictions.
 *
 * Invariants:
 *   1. only the main thread touches the store;
 *   2. a slot belongs either to the free list, a decoder, or the main thread;
 *   3. each batch's rows commit together, so a killed run loses at most the
 *      batch in flight and the next run scores exactly the images left;
 *   4. when the network's threads and the decoders outnumber the cores, a
 *      decoder starts no image while a forward pass runs (see
 *      decoders_pause). */
#include "filter/filter.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/timeutil.h"

#define TENSOR (3 * FILTER_CROP * FILTER_CROP)
#define MAX_FILE (512u * 1024 * 1024)
/* Runs of at least this many images first copy a cached model's packed
 * weights into huge pages (net_weights_to_memory). Measured on ResNet-50
 * (2 cores, load ~4): the copy of its 192 MB takes ~0.9 s (every page is
 * first touched) and a batch of 8 then runs ~0.1 s faster than on the
 * mapped file, so it pays from ~70 images on; shorter runs (and classify)
 * keep the map and its fast start-up. */
#define SCORE_WEIGHTS_IN_MEMORY_MIN 128

struct slot {
	char hash[33];
	float *chw;             /* TENSOR floats */
	int failed;
	char error[256];
	struct slot *next;
};

struct squeue {
	struct slot *head, *tail;
};

struct scorer {
	store *st;
	const char *objdir;
	int fast;
	pthread_mutex_t mu;
	pthread_cond_t cv_todo, cv_done;
	struct squeue todo, done;
	int quit;
	int paused;             /* a forward pass runs: start no image */
	struct slot *slots;
	int nslots;
	float *arena;           /* nslots tensors, allocated once */
};

static void sq_push(struct squeue *q, struct slot *s)
{
	s->next = NULL;
	if (q->tail)
		q->tail->next = s;
	else
		q->head = s;
	q->tail = s;
}

static struct slot *sq_pop(struct squeue *q)
{
	struct slot *s = q->head;
	if (s) {
		q->head = s->next;
		if (!q->head)
			q->tail = NULL;
	}
	return s;
}

/* Reads the blob of hash into b (reused across calls). */
static int read_blob(const char *objdir, const char *hash, buf *b, char *err, size_t errlen)
{
	char path[4400];
	snprintf(path, sizeof path, "%s/%.2s/%s", objdir, hash, hash + 2);
	return buf_read_file(b, path, err, errlen);
}

static void *decoder_main(void *arg)
{
	struct scorer *sc = arg;
	img_ctx *ic = img_ctx_new();
	buf data;
	buf_init(&data, MAX_FILE);
	for (;;) {
		pthread_mutex_lock(&sc->mu);
		while ((!sc->todo.head || sc->paused) && !sc->quit)
			pthread_cond_wait(&sc->cv_todo, &sc->mu);
		struct slot *s = sq_pop(&sc->todo);
		pthread_mutex_unlock(&sc->mu);
		if (!s)
			break;
		s->failed = 0;
		s->error[0] = '\0';
		if (!ic) {
			s->failed = 1;
			snprintf(s->error, sizeof s->error, "out of memory");
		} else if (read_blob(sc->objdir, s->hash, &data, s->error, sizeof s->error) ||
		           filter_preprocess(ic, data.data, data.len, sc->fast, s->chw, s->error, sizeof s->error)) {
			s->failed = 1;
		}
		pthread_mutex_lock(&sc->mu);
		sq_push(&sc->done, s);
		pthread_cond_signal(&sc->cv_done);
		pthread_mutex_unlock(&sc->mu);
	}
	buf_release(&data);
	img_ctx_free(ic);
	return NULL;
}

struct tag_ctx {
	const filter_classes *fc;
	const float *p1k;
	const float *psub;
	int classes;               /* outputs of the model: p1k has this many */
	store_score_tag tags[16];
	char wnids[16][16];
	int n;
};

static void tag_cb(void *ctx, const char *wnid)
{
	struct tag_ctx *t = ctx;
	if (t->n >= (int)(sizeof t->tags / sizeof t->tags[0]))
		return;
	store_score_tag *g = &t->tags[t->n];
	snprintf(t->wnids[t->n], sizeof t->wnids[0], "%s", wnid); /* valid only during the callback */
	g->wnid = t->wnids[t->n];
	g->p_1k = -1;
	g->p_subset = -1;
	for (int i = 0; i < t->fc->n1k && i < t->classes; i++)
		if (strcmp(t->fc->wnid_1k[i], wnid) == 0)
			g->p_1k = t->p1k[i];
	for (int k = 0; k < t->fc->nsub; k++)
		if (strcmp(t->fc->wnid_sub[k], wnid) == 0)
			g->p_subset = t->psub[k];
	t->n++;
}

/* Records one scored image: prediction, top-5 and its tags' probabilities. */
static int record_scored(store *s, int64_t run_id, const char *model_id, const filter_classes *fc,
                         const char *hash, const float *logits, int classes, int fast,
                         float *p1k, float *psub)
{
	filter_pred pr;
	filter_predict(logits, classes, fc->sub_1k, fc->nsub, &pr);
	filter_softmax(logits, classes, p1k);
	filter_softmax_subset(logits, fc->sub_1k, fc->nsub, psub);
	/* top5_json: [[index_1k, prob], ...] */
	json_t *arr = json_array();
	for (int k = 0; arr && k < 5 && pr.top5[k] >= 0; k++)
		json_array_append_new(arr, json_pack("[i, f]", pr.top5[k], (double)pr.top5_p[k]));
	char *top5 = arr ? json_dumps(arr, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
	json_decref(arr);
	if (!top5)
		return NATADV_ENOMEM;
	struct tag_ctx t = {.fc = fc, .p1k = p1k, .psub = psub, .classes = classes};
	int rc = store_image_classes(s, hash, tag_cb, &t);
	if (rc) {
		free(top5);
		return rc;
	}
	store_score row = {
		.image_hash = hash,
		.model_id = model_id,
		.logits = logits,
		.classes = classes,
		.top5_json = top5,
		.pred_1k = pr.top5[0],
		.prob_1k = pr.top5_p[0],
		.pred_subset_wnid = pr.subset_pos >= 0 ? fc->wnid_sub[pr.subset_pos] : NULL,
		.prob_subset = pr.subset_p,
		.fast_decode = fast,
		.run_id = run_id,
	};
	rc = store_score_put(s, &row, t.tags, t.n);
	free(top5);
	return rc;
}

struct collect {
	char (*hashes)[33];
	int n, cap;
	char last[33];
};

static void collect_hash(void *ctx, const char *hash)
{
	struct collect *c = ctx;
	if (c->n < c->cap)
		snprintf(c->hashes[c->n++], 33, "%s", hash);
	snprintf(c->last, sizeof c->last, "%s", hash);
}

/* One scoring run: the decoders' shared state, the main thread's buffers
 * (allocated once in run_setup) and where the loop stands. */
struct run {
	store *s;
	int64_t run_id;
	const char *model_id;
	net *m;
	const filter_score_opts *o;
	int classes, batch, ndec;
	int pause;                /* decoders_pause's answer */
	struct scorer sc;
	filter_classes fc;
	pthread_t *thr;
	int nthr, in_tx;
	float *input, *logits, *p1k, *psub;
	struct slot *free_slots;
	struct slot **ready;      /* decoded, waiting for the next forward pass */
	int nready, outstanding, exhausted;
	int weights_moved; /* run_weights_to_memory was called */
	char cursor[33];          /* the last hash handed to the decoders */
	struct collect col;
	filter_progress prog;
	char *err;
	size_t errlen;
};

/* Sets the message from the store and returns rc. */
static int store_err(struct run *r, int rc)
{
	snprintf(r->err, r->errlen, "%s", store_errmsg(r->s));
	return rc;
}

/* Loads the class lists, prepares the model and allocates every buffer
 * once (slots for two batches in flight), then starts the decoders. */
static int run_setup(struct run *r)
{
	int rc;
	if ((rc = filter_classes_load(r->s, "imagenet-a", &r->fc)) != 0) {
		snprintf(r->err, r->errlen, "cannot read class lists: %s", store_errmsg(r->s));
		return rc;
	}
	if (r->classes != r->fc.n1k) /* a model with other outputs is scored without the imagenet-a subset */
		r->fc.nsub = 0;
	if (r->o->threads > 0 && (rc = net_set_threads(r->m, r->o->threads)) != 0) {
		snprintf(r->err, r->errlen, "cannot set threads");
		return rc;
	}
	if ((rc = net_prepare(r->m, r->batch, FILTER_CROP, FILTER_CROP)) != 0) {
		snprintf(r->err, r->errlen, "%s", net_errmsg(r->m));
		return rc;
	}
	if ((rc = store_count_unscored(r->s, r->model_id, &r->prog.total)) != 0)
		return store_err(r, rc);
	struct scorer *sc = &r->sc;
	sc->nslots = 2 * r->batch + r->ndec;
	sc->slots = calloc((size_t)sc->nslots, sizeof *sc->slots);
	sc->arena = malloc(sizeof(float) * TENSOR * (size_t)sc->nslots);
	r->input = malloc(sizeof(float) * TENSOR * (size_t)r->batch);
	r->logits = malloc(sizeof(float) * (size_t)r->classes * (size_t)r->batch);
	r->p1k = malloc(sizeof(float) * (size_t)r->classes);
	r->psub = malloc(sizeof(float) * (size_t)(r->fc.nsub > 0 ? r->fc.nsub : 1));
	r->ready = calloc((size_t)r->batch, sizeof *r->ready);
	r->col.cap = sc->nslots;
	r->col.hashes = calloc((size_t)r->col.cap, sizeof *r->col.hashes);
	r->thr = calloc((size_t)r->ndec, sizeof *r->thr);
	if (!sc->slots || !sc->arena || !r->input || !r->logits || !r->p1k || !r->psub || !r->ready ||
	    !r->col.hashes || !r->thr) {
		snprintf(r->err, r->errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	for (int i = 0; i < sc->nslots; i++) {
		sc->slots[i].chw = sc->arena + (size_t)i * TENSOR;
		sc->slots[i].next = r->free_slots;
		r->free_slots = &sc->slots[i];
	}
	for (; r->nthr < r->ndec; r->nthr++)
		if (pthread_create(&r->thr[r->nthr], NULL, decoder_main, sc) != 0)
			break;
	if (r->nthr == 0) {
		snprintf(r->err, r->errlen, "cannot start decoder threads");
		return NATADV_ENOMEM;
	}
	return 0;
}

/* Once, with the first images on the decoders: a long run moves the
 * model's weights into huge pages. A failed copy only costs time: the
 * model runs on from the map as before. */
static void run_weights_to_memory(struct run *r)
{
	char why[256];

	if (r->weights_moved)
		return;
	r->weights_moved = 1;
	if (r->prog.total >= SCORE_WEIGHTS_IN_MEMORY_MIN)
		(void)net_weights_to_memory(r->m, why, sizeof why);
}

/* Hands the free slots to the decoders, with the next unscored hashes. */
static int feed_decoders(struct run *r, const volatile sig_atomic_t *stop)
{
	struct collect *col = &r->col;
	while (r->free_slots && !r->exhausted && !*stop) {
		int want = 0;
		for (struct slot *f = r->free_slots; f; f = f->next)
			want++;
		col->n = 0;
		col->cap = want;
		col->last[0] = '\0';
		int n = store_unscored_scan(r->s, r->model_id, r->cursor, want, collect_hash, col);
		if (n < 0)
			return store_err(r, -n);
		if (n < want)
			r->exhausted = 1;
		if (n == 0)
			break;
		snprintf(r->cursor, sizeof r->cursor, "%s", col->last);
		pthread_mutex_lock(&r->sc.mu);
		for (int i = 0; i < col->n; i++) {
			struct slot *sl = r->free_slots;
			r->free_slots = sl->next;
			snprintf(sl->hash, sizeof sl->hash, "%s", col->hashes[i]);
			sq_push(&r->sc.todo, sl);
			r->outstanding++;
		}
		pthread_cond_broadcast(&r->sc.cv_todo);
		pthread_mutex_unlock(&r->sc.mu);
	}
	return 0;
}

/* Waits for decoded slots unless a batch is full or nothing else comes;
 * returns those that failed (a list), keeps the others in ready. */
static struct slot *take_decoded(struct run *r)
{
	struct slot *d, *failed = NULL;
	pthread_mutex_lock(&r->sc.mu);
	while (!r->sc.done.head && r->outstanding > 0 && r->nready < r->batch)
		pthread_cond_wait(&r->sc.cv_done, &r->sc.mu);
	while (r->nready < r->batch && (d = sq_pop(&r->sc.done)) != NULL) {
		r->outstanding--;
		if (d->failed) {
			d->next = failed;
			failed = d;
		} else {
			r->ready[r->nready++] = d;
		}
	}
	pthread_mutex_unlock(&r->sc.mu);
	return failed;
}

/* Records why each failed slot's image cannot be scored; frees the slots. */
static int record_failed(struct run *r, struct slot *failed)
{
	while (failed) {
		struct slot *d = failed;
		failed = d->next;
		store_score row = {.image_hash = d->hash, .model_id = r->model_id, .error = d->error,
		                   .fast_decode = r->o->fast, .run_id = r->run_id};
		int rc = store_score_put(r->s, &row, NULL, 0);
		if (rc)
			return store_err(r, rc);
		r->prog.unscorable++;
		d->next = r->free_slots;
		r->free_slots = d;
	}
	return 0;
}

/* Whether the decoders wait while a forward pass runs: when the network's
 * threads and the decoders outnumber the cores, a decoder that runs during
 * a pass takes a core from one of its threads, and every parallel loop of
 * the pass then waits for that thread while the other cores spin: a
 * decoder's millisecond costs the pass a millisecond of every core. Those
 * decoders decode between passes instead, while the scores are recorded and
 * the next batch is awaited (photos that take longer to decode than a pass
 * keep the cores busy either way). */
static int decoders_pause(int threads, int ndec, long ncpu)
{
	return ncpu > 0 && threads + ndec > ncpu;
}

/* Pauses (on = 1) or resumes the decoders around a forward pass. */
static void set_paused(struct run *r, int on)
{
	if (!r->pause)
		return;
	pthread_mutex_lock(&r->sc.mu);
	r->sc.paused = on;
	if (!on)
		pthread_cond_broadcast(&r->sc.cv_todo);
	pthread_mutex_unlock(&r->sc.mu);
}

/* Runs the ready images through the network and records their scores. */
static int run_batch(struct run *r)
{
	for (int i = 0; i < r->nready; i++)
		memcpy(r->input + (size_t)i * TENSOR, r->ready[i]->chw, sizeof(float) * TENSOR); /* [n,3,224,224] */
	set_paused(r, 1);
	int rc = net_forward(r->m, r->input, r->nready, r->logits);
	set_paused(r, 0);
	if (rc) {
		snprintf(r->err, r->errlen, "%s", net_errmsg(r->m));
		return rc;
	}
	for (int i = 0; i < r->nready; i++) {
		rc = record_scored(r->s, r->run_id, r->model_id, &r->fc, r->ready[i]->hash,
		                   r->logits + (size_t)i * r->classes, r->classes, r->o->fast, r->p1k, r->psub);
		if (rc == NATADV_ENOMEM) {
			snprintf(r->err, r->errlen, "out of memory");
			return rc;
		}
		if (rc)
			return store_err(r, rc);
		r->ready[i]->next = r->free_slots;
		r->free_slots = r->ready[i];
	}
	r->prog.scored += r->nready;
	r->nready = 0;
	return 0;
}

/* Ends the open transaction (commit, or rollback after an error), stops the
 * decoders and frees what run_setup allocated. Returns rc, or the commit's
 * error. */
static int run_teardown(struct run *r, int rc)
{
	if (r->in_tx) {
		if (rc)
			store_rollback(r->s);
		else if ((rc = store_commit(r->s)) != 0)
			store_err(r, rc);
	}
	pthread_mutex_lock(&r->sc.mu);
	r->sc.quit = 1;
	pthread_cond_broadcast(&r->sc.cv_todo);
	pthread_mutex_unlock(&r->sc.mu);
	for (int i = 0; i < r->nthr; i++)
		pthread_join(r->thr[i], NULL);
	pthread_mutex_destroy(&r->sc.mu);
	pthread_cond_destroy(&r->sc.cv_todo);
	pthread_cond_destroy(&r->sc.cv_done);
	free(r->thr);
	free(r->col.hashes);
	free(r->ready);
	free(r->psub);
	free(r->p1k);
	free(r->logits);
	free(r->input);
	free(r->sc.arena);
	free(r->sc.slots);
	filter_classes_release(&r->fc);
	return rc;
}

int filter_score_run(store *s, int64_t run_id, const char *model_id, net *m,
                     const filter_score_opts *o, const volatile sig_atomic_t *stop,
                     void (*progress)(void *ctx, const filter_progress *p), void *ctx,
                     filter_progress *final, char *err, size_t errlen)
{
	double t0 = time_mono(), last_progress = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct run r = {
		.s = s, .run_id = run_id, .model_id = model_id, .m = m, .o = o,
		.classes = net_get_info(m)->classes,
		.batch = o->batch > 0 ? o->batch : 8,
		.ndec = o->decoders > 0 ? o->decoders : (ncpu > 0 ? (int)ncpu : 1),
		.sc = {.st = s, .objdir = store_objects_dir(s), .fast = o->fast},
		.err = err, .errlen = errlen,
	};
	r.pause = decoders_pause(o->threads > 0 ? o->threads : (int)ncpu, r.ndec, ncpu);
	err[0] = '\0';
	/* which kernels: scores from other CPU types may differ in the last bits */
	if (run_id > 0 && store_run_set_kernels(s, run_id, net_kernels(m)) != 0) {
		natadv_errf(err, errlen, "%s", store_errmsg(s));
		return NATADV_EDB;
	}
	pthread_mutex_init(&r.sc.mu, NULL);
	pthread_cond_init(&r.sc.cv_todo, NULL);
	pthread_cond_init(&r.sc.cv_done, NULL);
	int rc = run_setup(&r);
	while (!rc) {
		if ((rc = feed_decoders(&r, stop)) != 0 || (r.outstanding == 0 && r.nready == 0))
			break;
		run_weights_to_memory(&r);
		struct slot *failed = take_decoded(&r);
		if (!r.in_tx) {
			if ((rc = store_begin(s)) != 0) {
				store_err(&r, rc);
				break;
			}
			r.in_tx = 1;
		}
		if ((rc = record_failed(&r, failed)) != 0)
			break;
		/* a batch when it is full or nothing else comes; each batch commits */
		if ((r.nready == r.batch || (r.nready > 0 && r.outstanding == 0)) && (rc = run_batch(&r)) != 0)
			break;
		if (r.in_tx && r.nready == 0) {
			r.in_tx = 0;
			if ((rc = store_commit(s)) != 0) {
				store_err(&r, rc);
				break;
			}
		}
		double mono = time_mono();
		if (progress && mono - last_progress > 0.25) {
			r.prog.elapsed = mono - t0;
			progress(ctx, &r.prog);
			last_progress = mono;
		}
	}
	if (!rc && *stop) {
		rc = NATADV_EINTR;
		snprintf(err, errlen, "interrupted");
	}
	rc = run_teardown(&r, rc);
	r.prog.elapsed = time_mono() - t0;
	if (final)
		*final = r.prog;
	if (rc && !err[0])
		snprintf(err, errlen, "%s", natadv_strerror(rc));
	return rc;
}
