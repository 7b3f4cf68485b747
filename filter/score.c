/* score.c — `natadv score`: every stored image without a score for a model
 * goes through decode + preprocessing on decoder threads while the main
 * thread runs batched forward passes and records the predictions.
 *
 * Invariants:
 *   1. only the main thread touches the store;
 *   2. a slot belongs either to the free list, a decoder, or the main thread;
 *   3. each batch's rows commit together, so a killed run loses at most the
 *      batch in flight and the next run scores exactly the images left. */
#include "filter/filter.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/timeutil.h"

#define TENSOR (3 * FILTER_CROP * FILTER_CROP)
#define MAX_FILE (512u * 1024 * 1024)

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
		while (!sc->todo.head && !sc->quit)
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
	char top5[256];
	int o = snprintf(top5, sizeof top5, "[");
	for (int k = 0; k < 5 && pr.top5[k] >= 0; k++)
		o += snprintf(top5 + o, sizeof top5 - (size_t)o, "%s[%d,%.6g]", k ? "," : "", pr.top5[k], pr.top5_p[k]);
	snprintf(top5 + o, sizeof top5 - (size_t)o, "]");
	struct tag_ctx t = {.fc = fc, .p1k = p1k, .psub = psub, .classes = classes};
	int rc = store_image_classes(s, hash, tag_cb, &t);
	if (rc)
		return rc;
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
	return store_score_put(s, &row, t.tags, t.n);
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

int filter_score_run(store *s, int64_t run_id, const char *model_id, resnet *m,
                     const filter_score_opts *o, const volatile sig_atomic_t *stop,
                     void (*progress)(void *ctx, const filter_progress *p), void *ctx,
                     filter_progress *final, char *err, size_t errlen)
{
	filter_progress prog = {0};
	double t0 = time_mono(), last_progress = 0;
	const resnet_info *info = resnet_get_info(m);
	int classes = info->classes, batch = o->batch > 0 ? o->batch : 8;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int ndec = o->decoders > 0 ? o->decoders : (ncpu > 0 ? (int)ncpu : 1);
	struct scorer sc = {.st = s, .objdir = store_objects_dir(s), .fast = o->fast};
	filter_classes fc = {0};
	pthread_t *thr = NULL;
	int nthr = 0, in_tx = 0, rc;
	float *input = NULL, *logits = NULL, *p1k = NULL, *psub = NULL;
	struct slot **ready = NULL;
	struct collect col = {0};
	err[0] = '\0';
	pthread_mutex_init(&sc.mu, NULL);
	pthread_cond_init(&sc.cv_todo, NULL);
	pthread_cond_init(&sc.cv_done, NULL);

	if ((rc = filter_classes_load(s, "imagenet-a", &fc)) != 0) {
		snprintf(err, errlen, "cannot read class lists: %s", store_errmsg(s));
		goto out;
	}
	if (classes != fc.n1k) {
		/* A model with other outputs is scored, but without the imagenet-a subset. */
		fc.nsub = 0;
	}
	if (o->threads > 0 && (rc = resnet_set_threads(m, o->threads)) != 0) {
		snprintf(err, errlen, "cannot set threads");
		goto out;
	}
	if ((rc = resnet_prepare(m, batch, FILTER_CROP, FILTER_CROP)) != 0) {
		snprintf(err, errlen, "%s", resnet_errmsg(m));
		goto out;
	}
	if ((rc = store_count_unscored(s, model_id, &prog.total)) != 0) {
		snprintf(err, errlen, "%s", store_errmsg(s));
		goto out;
	}
	/* Every buffer is allocated here, once: slots for two batches in flight. */
	sc.nslots = 2 * batch + ndec;
	sc.slots = calloc((size_t)sc.nslots, sizeof *sc.slots);
	sc.arena = malloc(sizeof(float) * TENSOR * (size_t)sc.nslots);
	input = malloc(sizeof(float) * TENSOR * (size_t)batch);
	logits = malloc(sizeof(float) * (size_t)classes * (size_t)batch);
	p1k = malloc(sizeof(float) * (size_t)classes);
	psub = malloc(sizeof(float) * (size_t)(fc.nsub > 0 ? fc.nsub : 1));
	ready = calloc((size_t)batch, sizeof *ready);
	col.cap = sc.nslots;
	col.hashes = calloc((size_t)col.cap, sizeof *col.hashes);
	thr = calloc((size_t)ndec, sizeof *thr);
	if (!sc.slots || !sc.arena || !input || !logits || !p1k || !psub || !ready || !col.hashes || !thr) {
		rc = NATADV_ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	struct slot *free_slots = NULL;
	for (int i = 0; i < sc.nslots; i++) {
		sc.slots[i].chw = sc.arena + (size_t)i * TENSOR;
		sc.slots[i].next = free_slots;
		free_slots = &sc.slots[i];
	}
	for (; nthr < ndec; nthr++)
		if (pthread_create(&thr[nthr], NULL, decoder_main, &sc) != 0)
			break;
	if (nthr == 0) {
		rc = NATADV_ENOMEM;
		snprintf(err, errlen, "cannot start decoder threads");
		goto out;
	}

	int outstanding = 0, nready = 0, exhausted = 0;
	char cursor[33] = "";
	for (;;) {
		/* 1. hand free slots to the decoders */
		while (free_slots && !exhausted && !*stop) {
			int want = 0;
			for (struct slot *f = free_slots; f; f = f->next)
				want++;
			col.n = 0;
			col.cap = want;
			col.last[0] = '\0';
			int n = store_unscored_scan(s, model_id, cursor, want, collect_hash, &col);
			if (n < 0) {
				rc = -n;
				snprintf(err, errlen, "%s", store_errmsg(s));
				goto out;
			}
			if (n < want)
				exhausted = 1;
			if (n == 0)
				break;
			snprintf(cursor, sizeof cursor, "%s", col.last);
			pthread_mutex_lock(&sc.mu);
			for (int i = 0; i < col.n; i++) {
				struct slot *sl = free_slots;
				free_slots = sl->next;
				snprintf(sl->hash, sizeof sl->hash, "%s", col.hashes[i]);
				sq_push(&sc.todo, sl);
				outstanding++;
			}
			pthread_cond_broadcast(&sc.cv_todo);
			pthread_mutex_unlock(&sc.mu);
		}
		if (outstanding == 0 && nready == 0)
			break;
		/* 2. take decoded slots; run a batch when it is full or nothing else comes */
		pthread_mutex_lock(&sc.mu);
		while (!sc.done.head && outstanding > 0 && nready < batch)
			pthread_cond_wait(&sc.cv_done, &sc.mu);
		struct slot *d;
		struct slot *failed_list = NULL;
		while (nready < batch && (d = sq_pop(&sc.done)) != NULL) {
			outstanding--;
			if (d->failed) {
				d->next = failed_list;
				failed_list = d;
			} else {
				ready[nready++] = d;
			}
		}
		pthread_mutex_unlock(&sc.mu);
		if (!in_tx) {
			if ((rc = store_begin(s)) != 0) {
				snprintf(err, errlen, "%s", store_errmsg(s));
				goto out;
			}
			in_tx = 1;
		}
		while (failed_list) {
			d = failed_list;
			failed_list = d->next;
			store_score row = {.image_hash = d->hash, .model_id = model_id, .error = d->error,
			                   .fast_decode = o->fast, .run_id = run_id};
			if ((rc = store_score_put(s, &row, NULL, 0)) != 0) {
				snprintf(err, errlen, "%s", store_errmsg(s));
				goto out;
			}
			prog.unscorable++;
			d->next = free_slots;
			free_slots = d;
		}
		if (nready == batch || (nready > 0 && outstanding == 0)) {
			for (int i = 0; i < nready; i++)
				memcpy(input + (size_t)i * TENSOR, ready[i]->chw, sizeof(float) * TENSOR); /* [n,3,224,224] */
			if ((rc = resnet_forward(m, input, nready, logits)) != 0) {
				snprintf(err, errlen, "%s", resnet_errmsg(m));
				goto out;
			}
			for (int i = 0; i < nready; i++) {
				rc = record_scored(s, run_id, model_id, &fc, ready[i]->hash, logits + (size_t)i * classes,
				                   classes, o->fast, p1k, psub);
				if (rc) {
					snprintf(err, errlen, "%s", store_errmsg(s));
					goto out;
				}
				ready[i]->next = free_slots;
				free_slots = ready[i];
			}
			prog.scored += nready;
			nready = 0;
		}
		if (in_tx && nready == 0) {
			in_tx = 0;
			if ((rc = store_commit(s)) != 0) {
				snprintf(err, errlen, "%s", store_errmsg(s));
				goto out;
			}
		}
		double mono = time_mono();
		if (progress && mono - last_progress > 0.25) {
			prog.elapsed = mono - t0;
			progress(ctx, &prog);
			last_progress = mono;
		}
	}
	if (*stop) {
		rc = NATADV_EINTR;
		snprintf(err, errlen, "interrupted");
	}
out:
	if (in_tx) {
		if (rc)
			store_rollback(s);
		else if ((rc = store_commit(s)) != 0)
			snprintf(err, errlen, "%s", store_errmsg(s));
	}
	pthread_mutex_lock(&sc.mu);
	sc.quit = 1;
	pthread_cond_broadcast(&sc.cv_todo);
	pthread_mutex_unlock(&sc.mu);
	for (int i = 0; i < nthr; i++)
		pthread_join(thr[i], NULL);
	pthread_mutex_destroy(&sc.mu);
	pthread_cond_destroy(&sc.cv_todo);
	pthread_cond_destroy(&sc.cv_done);
	free(thr);
	free(col.hashes);
	free(ready);
	free(psub);
	free(p1k);
	free(logits);
	free(input);
	free(sc.arena);
	free(sc.slots);
	filter_classes_release(&fc);
	prog.elapsed = time_mono() - t0;
	if (final)
		*final = prog;
	if (rc && !err[0])
		snprintf(err, errlen, "%s", natadv_strerror(rc));
	return rc;
}
