/* select.c — the adversarial filter: judging an image by the softmax over a
 * space of logits, collapsing near-duplicate proposals of a class, and
 * select_run, which streams a set's tags with a model's stored logits through
 * the rule and records the selection.
 *
 * Invariants of select_run:
 *   1. probabilities come from the stored raw logits, never from the
 *      probabilities `score` kept for imagenet-a, so any set can be judged;
 *   2. a class of the set without a logit (outside ImageNet-1K or beyond the
 *      model's outputs) is left out of the space and its tags are skipped;
 *   3. nothing is written until the end, then everything in one transaction. */
#include "filter/select.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "filter/filter.h"
#include "image/image.h"

void select_judge(const float *logits, const int *space, int nspace, int true_pos,
                  const select_rule *r, select_verdict *v)
{
	double mx, sum;
	int best = filter_subset_argmax(logits, space, nspace, &mx, &sum);
	v->pred = best;
	v->confidence = 1.0 / sum;
	v->true_prob = true_pos < 0 ? 0 : exp((double)logits[space[true_pos]] - mx) / sum;
	v->wrong = best != true_pos;
	v->selected = v->wrong && v->confidence >= r->min_confidence && v->true_prob <= r->max_true_prob;
}

/* Visiting order of select_collapse: class, then confidence (highest first), then index. */
static int cmp_order(const void *a, const void *b, void *ctx)
{
	const select_item *it = ctx;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	if (it[x].cls != it[y].cls)
		return it[x].cls < it[y].cls ? -1 : 1;
	if (it[x].confidence != it[y].confidence)
		return it[x].confidence > it[y].confidence ? -1 : 1;
	return x < y ? -1 : x > y;
}

int select_collapse(select_item *items, size_t n, int max_dist, size_t *kept)
{
	if (max_dist < 0 || max_dist > 32)
		return NATADV_EINVAL;
	size_t *order = malloc(sizeof(size_t) * (n ? n : 1));
	uint64_t *hash = malloc(sizeof(uint64_t) * (n ? n : 1));
	size_t *group = malloc(sizeof(size_t) * (n ? n : 1));
	long *head = malloc(sizeof(long) * (n ? n : 1)), *next = malloc(sizeof(long) * (n ? n : 1));
	int rc = 0;
	size_t nkept = 0;
	if (!order || !hash || !group || !head || !next) {
		rc = NATADV_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof *order, cmp_order, items);
	for (size_t lo = 0; lo < n;) {
		size_t hi = lo + 1;
		while (hi < n && items[order[hi]].cls == items[order[lo]].cls)
			hi++;
		size_t m = hi - lo;
		/* Positions j in [0, m) of this class, best first; group[j] = its cluster's
		 * smallest position, so only members of one cluster are ever compared. */
		for (size_t j = 0; j < m; j++) {
			hash[j] = items[order[lo + j]].phash;
			head[j] = -1;
		}
		if ((rc = img_group_near(hash, m, max_dist, group)) != 0)
			goto out;
		for (size_t j = 0; j < m; j++) {
			select_item *it = &items[order[lo + j]];
			long best = -1;
			int best_d = 65;
			/* The cluster's kept items, in the order they were kept (by confidence). */
			for (long k = head[group[j]]; k >= 0; k = next[k]) {
				int d = img_hamming(hash[j], hash[k]);
				if (d <= max_dist && d < best_d) {
					best = k;
					best_d = d;
				}
			}
			if (best >= 0) {
				it->dup_of = (long)order[lo + (size_t)best];
				it->distance = best_d;
				continue;
			}
			it->dup_of = -1;
			it->distance = 0;
			nkept++;
			next[j] = -1;
			long *tail = &head[group[j]];
			while (*tail >= 0)
				tail = &next[*tail];
			*tail = (long)j;
		}
		lo = hi;
	}
	if (kept)
		*kept = nkept;
out:
	free(next);
	free(head);
	free(group);
	free(hash);
	free(order);
	return rc;
}

/* ---- select_run ---- */

struct proposal {
	char hash[33];
	int cls;                /* index into the tagged classes */
	int pred;               /* position in the space */
	double confidence, true_prob;
	uint64_t phash;
};

struct model_ref {
	char id[65];
	char name[128];
	int classes;
};

struct run {
	store *s;
	const select_opts *o;
	select_result *r;
	store_member *members;  /* the set's classes: the space */
	int nmembers;
	store_member *tagged;   /* the classes whose tags are judged: members, or the OOD source set's */
	int ntagged;
	int *sorted;            /* tagged indices by wnid, for lookups */
	int *space;             /* logit index of each space position */
	int nspace;
	int *pos;               /* per member: its position in the space, -1 if none */
	int *space_member;      /* subset space: the member at each position */
	store_member *k1;       /* imagenet-1k, for naming a 1k-space prediction */
	int nk1;
	struct model_ref model, *also;
	float *also_logits;
	struct proposal *props;
	size_t nprops, capprops;
	char *err;
	size_t errlen;
};

static int find_member(const struct run *x, const char *wnid)
{
	int lo = 0, hi = x->ntagged - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		int c = strcmp(x->tagged[x->sorted[mid]].wnid, wnid);
		if (c == 0)
			return x->sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static int cmp_member_wnid(const void *a, const void *b, void *ctx)
{
	const store_member *m = ctx;
	return strcmp(m[*(const int *)a].wnid, m[*(const int *)b].wnid);
}

/* The wnid of space position k: the set's class there, or the ImageNet-1K
 * class of that output. */
static const char *space_wnid(const struct run *x, int k)
{
	if (x->o->space == SELECT_SPACE_SUBSET)
		return x->members[x->space_member[k]].wnid;
	int idx = x->space[k];
	if (idx < x->nk1 && x->k1[idx].index_1k == idx)
		return x->k1[idx].wnid;
	for (int i = 0; i < x->nk1; i++)
		if (x->k1[i].index_1k == idx)
			return x->k1[i].wnid;
	return NULL;
}

/* Checks every --also-wrong-for model on a selected image: 0 keep, 1 drop. */
static int also_wrong(struct run *x, const char *hash, int true_pos, int *drop)
{
	*drop = 0;
	for (int a = 0; a < x->o->nalso; a++) {
		int rc = store_score_logits(x->s, hash, x->also[a].id, x->also_logits, x->also[a].classes);
		if (rc == NATADV_ENOTFOUND) {
			x->r->also_unscored++;
			*drop = 1;
			return 0;
		}
		if (rc) {
			natadv_errf(x->err, x->errlen, "%s", store_errmsg(x->s));
			return rc;
		}
		select_verdict v;
		select_judge(x->also_logits, x->space, x->nspace, true_pos, &x->o->rule, &v);
		if (true_pos < 0 ? !v.selected : !v.wrong) {
			x->r->also_right++;
			*drop = 1;
			return 0;
		}
	}
	return 0;
}

static int on_tag(void *ctx, const store_tag_score *t)
{
	struct run *x = ctx;
	select_result *r = x->r;
	int m = find_member(x, t->wnid);
	if (m < 0)
		return 0; /* cannot happen: the query keeps the set's classes */
	select_class_stats *cs = &r->classes[m];
	int true_pos = x->o->ood_from ? -1 : x->pos[m];
	r->tags++;
	cs->tags++;
	if (!x->o->ood_from && x->pos[m] < 0) {
		r->skipped_class++;
		return 0;
	}
	if (!t->status) {
		r->unscored++;
		return 0;
	}
	if (!t->logits) {
		r->unscorable++;
		return 0;
	}
	if (t->nlogits != x->model.classes) {
		natadv_errf(x->err, x->errlen, "image %s has %d stored logits, but model '%s' has %d outputs",
		            t->image_hash, t->nlogits, x->model.name, x->model.classes);
		return NATADV_EFORMAT;
	}
	r->candidates++;
	cs->candidates++;
	select_verdict v;
	select_judge(t->logits, x->space, x->nspace, true_pos, &x->o->rule, &v);
	if (v.wrong) {
		r->wrong++;
		cs->wrong++;
	}
	if (!v.selected)
		return 0;
	r->selected++;
	cs->selected++;
	int drop, rc = also_wrong(x, t->image_hash, true_pos, &drop);
	if (rc || drop)
		return rc;
	if (x->nprops == x->capprops) {
		size_t cap = x->capprops ? 2 * x->capprops : 1024;
		struct proposal *grown = realloc(x->props, cap * sizeof *grown);
		if (!grown) {
			natadv_errf(x->err, x->errlen, "out of memory");
			return NATADV_ENOMEM;
		}
		x->props = grown;
		x->capprops = cap;
	}
	struct proposal *p = &x->props[x->nprops++];
	snprintf(p->hash, sizeof p->hash, "%s", t->image_hash);
	p->cls = m;
	p->pred = v.pred;
	p->confidence = v.confidence;
	p->true_prob = v.true_prob;
	p->phash = t->phash;
	return 0;
}

static int load_model(struct run *x, const char *name, struct model_ref *out)
{
	buf text;
	buf_init(&text, 1 << 16);
	store_model m;
	int rc = store_model_get(x->s, name, &m, &text);
	if (rc) {
		natadv_errf(x->err, x->errlen, "%s", store_errmsg(x->s));
	} else {
		snprintf(out->id, sizeof out->id, "%s", m.id);
		snprintf(out->name, sizeof out->name, "%s", m.name);
		out->classes = m.classes;
	}
	buf_release(&text);
	return rc;
}

/* Builds the space: the logit index of each position, and each member's position. */
static int build_space(struct run *x)
{
	int outputs = x->model.classes;
	int n1k = outputs < 1000 ? outputs : 1000;
	size_t most = (size_t)(n1k > x->nmembers ? n1k : x->nmembers) + 1;
	x->pos = malloc(sizeof(int) * most);
	x->space = malloc(sizeof(int) * most);
	x->space_member = malloc(sizeof(int) * most);
	if (!x->pos || !x->space || !x->space_member)
		return NATADV_ENOMEM;
	if (x->o->space == SELECT_SPACE_1K) {
		for (int i = 0; i < n1k; i++)
			x->space[i] = i;
		x->nspace = n1k;
	} else {
		x->nspace = 0;
	}
	for (int i = 0; i < x->nmembers; i++) {
		int64_t idx = x->members[i].index_1k;
		if (idx < 0) {
			x->r->outside_1k++;
			x->pos[i] = -1;
		} else if (idx >= n1k) {
			x->r->outside_outputs++;
			x->pos[i] = -1;
		} else if (x->o->space == SELECT_SPACE_1K) {
			x->pos[i] = (int)idx;
		} else {
			x->pos[i] = x->nspace;
			x->space_member[x->nspace] = i;
			x->space[x->nspace++] = (int)idx;
		}
	}
	/* With ood_from every source class is judged over the whole space. */
	for (int i = 0; i < x->ntagged; i++)
		x->r->classes[i].scorable = x->o->ood_from || x->pos[i] >= 0;
	return 0;
}

/* The selection's parameters as a JSON object (malloc'ed), and its other models' ids. */
static int describe(struct run *x, char **params, char **also_ids)
{
	const select_opts *o = x->o;
	json_t *p = json_object(), *names = json_array(), *ids = json_array();
	int rc = NATADV_ENOMEM;
	if (!p || !names || !ids)
		goto out;
	for (int a = 0; a < o->nalso; a++) {
		json_array_append_new(names, json_string(x->also[a].name));
		json_array_append_new(ids, json_string(x->also[a].id));
	}
	json_object_set_new(p, "model", json_string(x->model.name));
	if (o->ood_from)
		json_object_set_new(p, "ood_from", json_string(o->ood_from));
	json_object_set_new(p, "space", json_string(o->space == SELECT_SPACE_1K ? "1k" : "subset"));
	json_object_set_new(p, "min_confidence", json_real(o->rule.min_confidence));
	if (!o->ood_from)
		json_object_set_new(p, "max_true_prob", json_real(o->rule.max_true_prob));
	json_object_set_new(p, "also_wrong_for", json_incref(names));
	json_object_set_new(p, "near_distance", json_integer(o->near_distance));
	json_object_set_new(p, "near_hash", json_string("dhash64"));
	json_object_set_new(p, "space_classes", json_integer(x->nspace));
	*params = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
	*also_ids = json_dumps(ids, JSON_COMPACT);
	if (*params && *also_ids)
		rc = 0;
out:
	json_decref(p);
	json_decref(names);
	json_decref(ids);
	return rc;
}

/* Proposal order for rule 'ood': image, then tagged class (set order is wnid order). */
static int cmp_hash_cls(const void *a, const void *b)
{
	const struct proposal *x = a, *y = b;
	int c = strcmp(x->hash, y->hash);
	return c ? c : (x->cls > y->cls) - (x->cls < y->cls);
}

/* Rule 'ood' proposes an image once, under its first source class by wnid:
 * its prediction is the same whichever class it is tagged with. */
static void keep_one_per_image(struct run *x)
{
	if (!x->o->ood_from || x->nprops < 2)
		return;
	qsort(x->props, x->nprops, sizeof *x->props, cmp_hash_cls);
	size_t n = 1;
	for (size_t i = 1; i < x->nprops; i++)
		if (strcmp(x->props[i].hash, x->props[n - 1].hash) != 0)
			x->props[n++] = x->props[i];
	x->nprops = n;
}

/* Collapses near-duplicates and records the selection. */
static int record(struct run *x)
{
	keep_one_per_image(x);
	select_result *r = x->r;
	select_item *items = calloc(x->nprops ? x->nprops : 1, sizeof *items);
	store_proposal_new *rows = calloc(x->nprops ? x->nprops : 1, sizeof *rows);
	char *params = NULL, *also_ids = NULL;
	int rc = NATADV_ENOMEM;
	if (!items || !rows) {
		natadv_errf(x->err, x->errlen, "out of memory");
		goto out;
	}
	/* Rule 'ood': near-duplicates collapse per predicted class, the proposal's class. */
	for (size_t i = 0; i < x->nprops; i++)
		items[i] = (select_item){.cls = x->o->ood_from ? x->props[i].pred : x->props[i].cls,
		                         .phash = x->props[i].phash, .confidence = x->props[i].confidence};
	if ((rc = select_collapse(items, x->nprops, x->o->near_distance, NULL)) != 0) {
		natadv_errf(x->err, x->errlen, "cannot collapse near-duplicates: %s", natadv_strerror(rc));
		goto out;
	}
	for (size_t i = 0; i < x->nprops; i++) {
		const struct proposal *p = &x->props[i];
		select_class_stats *cs = &r->classes[p->cls];
		rows[i] = (store_proposal_new){
			.image_hash = p->hash,
			.wnid = x->o->ood_from ? space_wnid(x, p->pred) : x->members[p->cls].wnid,
			.source_wnid = x->o->ood_from ? x->tagged[p->cls].wnid : NULL,
			.pred_wnid = space_wnid(x, p->pred),
			.confidence = p->confidence,
			.true_prob = p->true_prob,
			.dup_of = items[i].dup_of,
			.distance = items[i].distance,
		};
		if (!rows[i].pred_wnid) {
			rc = NATADV_EINVAL;
			natadv_errf(x->err, x->errlen, "output %d of model '%s' is no ImageNet-1K class",
			            x->space[p->pred], x->model.name);
			goto out;
		}
		if (items[i].dup_of < 0) {
			r->proposals++;
			cs->proposed++;
		} else {
			r->near_duplicates++;
			cs->near_duplicates++;
		}
	}
	if ((rc = describe(x, &params, &also_ids)) != 0) {
		natadv_errf(x->err, x->errlen, "out of memory");
		goto out;
	}
	store_selection sel = {
		.set_name = x->o->set,
		.model_id = x->model.id,
		.also_model_ids = also_ids,
		.rule = x->o->ood_from ? "ood" : "misclassified",
		.params = params,
		.run_id = x->o->run_id,
	};
	if ((rc = store_selection_add(x->s, &sel, rows, x->nprops, &r->selection_id)) != 0)
		natadv_errf(x->err, x->errlen, "%s", store_errmsg(x->s));
out:
	free(params);
	free(also_ids);
	free(rows);
	free(items);
	return rc;
}

/* Reads the set (the space), the classes whose tags are judged (the set, or
 * the OOD source set), ImageNet-1K's classes, and builds the space. */
static int load_sets(struct run *x)
{
	const select_opts *o = x->o;
	select_result *r = x->r;
	int rc;
	if (o->ood_from) {
		int src_ood = 0, set_ood = 0;
		if ((rc = store_set_is_ood(x->s, o->ood_from, &src_ood)) != 0 ||
		    (rc = store_set_is_ood(x->s, o->set, &set_ood)) != 0) {
			natadv_errf(x->err, x->errlen, "%s", store_errmsg(x->s));
			return rc;
		}
		if (!src_ood) {
			natadv_errf(x->err, x->errlen, "'%s' is not an out-of-distribution set (make one with 'natadv "
			            "classes add-set NAME --ood')", o->ood_from);
			return NATADV_EINVAL;
		}
		if (set_ood) {
			natadv_errf(x->err, x->errlen, "'%s' is an out-of-distribution set: the target set needs "
			            "ImageNet-1K classes", o->set);
			return NATADV_EINVAL;
		}
	}
	if ((rc = store_set_members(x->s, o->set, &x->members, &x->nmembers)) != 0 ||
	    (rc = store_set_members(x->s, "imagenet-1k", &x->k1, &x->nk1)) != 0) {
		natadv_errf(x->err, x->errlen, "%s", store_errmsg(x->s));
		return rc;
	}
	x->tagged = x->members;
	x->ntagged = x->nmembers;
	if (o->ood_from && (rc = store_set_members(x->s, o->ood_from, &x->tagged, &x->ntagged)) != 0) {
		natadv_errf(x->err, x->errlen, "%s", store_errmsg(x->s));
		return rc;
	}
	r->classes = calloc((size_t)(x->ntagged ? x->ntagged : 1), sizeof *r->classes);
	x->sorted = malloc(sizeof(int) * (size_t)(x->ntagged ? x->ntagged : 1));
	if (!r->classes || !x->sorted || (rc = build_space(x)) != 0) {
		natadv_errf(x->err, x->errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	r->nclasses = x->ntagged;
	r->nspace = x->nspace;
	for (int i = 0; i < x->ntagged; i++) {
		x->sorted[i] = i;
		snprintf(r->classes[i].wnid, sizeof r->classes[i].wnid, "%s", x->tagged[i].wnid);
		snprintf(r->classes[i].name, sizeof r->classes[i].name, "%s", x->tagged[i].name);
	}
	qsort_r(x->sorted, (size_t)x->ntagged, sizeof *x->sorted, cmp_member_wnid, x->tagged);
	return 0;
}

int select_run(store *s, const select_opts *o, select_result *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	natadv_errf(err, errlen, "%s", "");
	struct run x = {.s = s, .o = o, .r = r, .err = err, .errlen = errlen};
	int rc;
	if (o->near_distance < 0 || o->near_distance > 32) {
		natadv_errf(err, errlen, "near-duplicate distance %d is outside 0..32", o->near_distance);
		return NATADV_EINVAL;
	}
	if ((rc = load_model(&x, o->model, &x.model)) != 0)
		return rc;
	snprintf(r->model_id, sizeof r->model_id, "%s", x.model.id);
	r->outputs = x.model.classes;
	x.also = calloc((size_t)(o->nalso > 0 ? o->nalso : 1), sizeof *x.also);
	x.also_logits = malloc(sizeof(float) * (size_t)(x.model.classes > 0 ? x.model.classes : 1));
	if (!x.also || !x.also_logits) {
		rc = NATADV_ENOMEM;
		natadv_errf(err, errlen, "out of memory");
		goto out;
	}
	for (int a = 0; a < o->nalso; a++) {
		if ((rc = load_model(&x, o->also[a], &x.also[a])) != 0)
			goto out;
		if (x.also[a].classes != x.model.classes) {
			rc = NATADV_EINVAL;
			natadv_errf(err, errlen, "model '%s' has %d outputs and '%s' %d: they cannot be compared",
			            x.also[a].name, x.also[a].classes, x.model.name, x.model.classes);
			goto out;
		}
		if (strcmp(x.also[a].id, x.model.id) == 0) {
			rc = NATADV_EINVAL;
			natadv_errf(err, errlen, "--also-wrong-for names the selecting model '%s' itself", x.model.name);
			goto out;
		}
	}
	if ((rc = load_sets(&x)) != 0)
		goto out;
	if (x.nspace < 2) {
		rc = NATADV_EINVAL;
		natadv_errf(err, errlen, "class set '%s' has %d class%s that model '%s' can score; a misclassification "
		            "needs at least 2", o->set, x.nspace, x.nspace == 1 ? "" : "es", x.model.name);
		goto out;
	}
	rc = store_set_tag_scores(s, o->ood_from ? o->ood_from : o->set, x.model.id, on_tag, &x);
	if (rc) {
		if (err && !err[0])
			natadv_errf(err, errlen, "%s", store_errmsg(s));
		goto out;
	}
	rc = record(&x);
out:
	free(x.props);
	free(x.pos);
	free(x.space);
	free(x.space_member);
	free(x.sorted);
	free(x.k1);
	if (x.tagged != x.members)
		free(x.tagged);
	free(x.members);
	free(x.also_logits);
	free(x.also);
	if (rc)
		select_result_release(r);
	return rc;
}

void select_result_release(select_result *r)
{
	free(r->classes);
	r->classes = NULL;
	r->nclasses = 0;
}
