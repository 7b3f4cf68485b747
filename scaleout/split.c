/* split.c — handing a stage's pending work to part workspaces: which url or
 * image goes to which part (by host, largest host first onto the lightest
 * part; by url, round robin; images, contiguous runs of the hash order),
 * then each part created, filled and recorded through store/parts.h. */
#include "scaleout/scaleout.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"

/* ---- the host policy ---- */

struct slot {
	int64_t load;
	int part;
};

static int slot_less(const struct slot *a, const struct slot *b)
{
	return a->load < b->load || (a->load == b->load && a->part < b->part);
}

static void heap_down(struct slot *h, int n, int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && slot_less(&h[l], &h[m]))
			m = l;
		if (r < n && slot_less(&h[r], &h[m]))
			m = r;
		if (m == i)
			return;
		struct slot t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

struct host_size {
	int64_t n;
	size_t i;
};

/* Largest first; equal sizes in host order, so a plan is reproducible. */
static int cmp_host_size(const void *a, const void *b)
{
	const struct host_size *x = a, *y = b;
	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

int scaleout_plan_hosts(const int64_t *n, size_t nhosts, int parts, int *part_of)
{
	struct host_size *order = malloc((nhosts ? nhosts : 1) * sizeof *order);
	struct slot *h = malloc((size_t)parts * sizeof *h);
	if (!order || !h) {
		free(order);
		free(h);
		return NATADV_ENOMEM;
	}
	for (size_t i = 0; i < nhosts; i++)
		order[i] = (struct host_size){n[i], i};
	qsort(order, nhosts, sizeof *order, cmp_host_size);
	for (int k = 0; k < parts; k++)
		h[k] = (struct slot){0, k}; /* all zero, in part order: a valid heap */
	for (size_t i = 0; i < nhosts; i++) {
		part_of[order[i].i] = h[0].part;
		h[0].load += order[i].n;
		heap_down(h, parts, 0);
	}
	free(order);
	free(h);
	return 0;
}

/* ---- collecting the work ---- */

struct work {
	int64_t *ids;        /* crawl: url ids, in id order */
	char **hosts;        /* crawl: each url's host */
	char **hashes;       /* score: image hashes, in hash order */
	size_t n, cap;
	int nomem;
};

static int collect_url(void *ctx, int64_t id, const char *host)
{
	struct work *w = ctx;
	size_t cap = w->cap;
	int64_t *ids = array_grow(w->ids, w->n, &cap, sizeof *ids);
	if (ids)
		w->ids = ids;
	cap = w->cap;
	char **hosts = ids ? array_grow(w->hosts, w->n, &cap, sizeof *hosts) : NULL;
	if (hosts)
		w->hosts = hosts;
	char *h = hosts ? strdup(host) : NULL;
	if (!h) {
		w->nomem = 1;
		return 1;
	}
	w->cap = cap;
	w->ids[w->n] = id;
	w->hosts[w->n++] = h;
	return 0;
}

static int collect_image(void *ctx, const char *hash)
{
	struct work *w = ctx;
	char **v = array_grow(w->hashes, w->n, &w->cap, sizeof *v);
	char *h = v ? strdup(hash) : NULL;
	if (v)
		w->hashes = v;
	if (!h) {
		w->nomem = 1;
		return 1;
	}
	w->hashes[w->n++] = h;
	return 0;
}

static void work_release(struct work *w)
{
	for (size_t i = 0; i < w->n; i++) {
		if (w->hosts)
			free(w->hosts[i]);
		if (w->hashes)
			free(w->hashes[i]);
	}
	free(w->ids);
	free(w->hosts);
	free(w->hashes);
}

struct url_host {
	const char *host;
	size_t i;
};

static int cmp_url_host(const void *a, const void *b)
{
	const struct url_host *x = a, *y = b;
	int c = strcmp(x->host, y->host);
	return c ? c : (x->i < y->i ? -1 : x->i > y->i);
}

/* part_of[i] for every url i: by host (the policy above) or round robin. */
static int assign_urls(const struct work *w, int parts, int by_url, int *part_of, int64_t *nhosts)
{
	struct url_host *v = malloc((w->n ? w->n : 1) * sizeof *v);
	int64_t *count = malloc((w->n ? w->n : 1) * sizeof *count);
	size_t *host_of = malloc((w->n ? w->n : 1) * sizeof *host_of);
	int *hpart = malloc((w->n ? w->n : 1) * sizeof *hpart);
	int rc = v && count && host_of && hpart ? 0 : NATADV_ENOMEM;
	size_t nh = 0;
	for (size_t i = 0; !rc && i < w->n; i++)
		v[i] = (struct url_host){w->hosts[i], i};
	if (!rc)
		qsort(v, w->n, sizeof *v, cmp_url_host);
	for (size_t i = 0; !rc && i < w->n; i++) {
		if (i == 0 || strcmp(v[i].host, v[i - 1].host) != 0)
			count[nh++] = 0;
		count[nh - 1]++;
		host_of[v[i].i] = nh - 1;
	}
	*nhosts = (int64_t)nh;
	if (!rc && !by_url)
		rc = scaleout_plan_hosts(count, nh, parts, hpart);
	for (size_t i = 0; !rc && i < w->n; i++)
		part_of[i] = by_url ? (int)(i % (size_t)parts) : hpart[host_of[i]];
	free(v);
	free(count);
	free(host_of);
	free(hpart);
	return rc;
}

/* ---- writing the parts ---- */

/* Makes dir and its missing parents. */
static int mkdirs(const char *dir, char *err, size_t errlen)
{
	char p[4096];
	snprintf(p, sizeof p, "%s", dir);
	for (char *q = p + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = '\0';
		if (mkdir(p, 0777) != 0 && errno != EEXIST) {
			natadv_errf(err, errlen, "cannot create '%s': %s", p, strerror(errno));
			return NATADV_EIO;
		}
		*q = '/';
	}
	if (mkdir(p, 0777) != 0 && errno != EEXIST) {
		natadv_errf(err, errlen, "cannot create '%s': %s", p, strerror(errno));
		return NATADV_EIO;
	}
	return 0;
}

struct job {
	store *s;
	const scaleout_split_opts *o;
	scaleout_split_result *r;
	scaleout_part_info pi;   /* the fields every part shares */
	const char *model_id;
	char *err;
	size_t errlen;
};

/* Creates part k's workspace, its part.json, then fills and records it. */
static int write_part(struct job *j, int k, const int64_t *ids, char *const *hashes, size_t n)
{
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/part-%04d", j->r->out_dir, k);
	struct stat sb;
	if (stat(dir, &sb) == 0) {
		natadv_errf(j->err, j->errlen, "cannot split into '%s': it exists already", dir);
		return NATADV_EEXIST;
	}
	store *p = NULL;
	int rc = store_create(dir, &p, j->err, j->errlen);
	scaleout_part_info pi = j->pi;
	if (!rc && store_workspace_uuid(p, pi.uuid) != 0) {
		natadv_errf(j->err, j->errlen, "%s", store_errmsg(p));
		rc = NATADV_EDB;
	}
	store_close(p);
	pi.part = k;
	pi.count = (int64_t)n;
	if (!rc)
		rc = scaleout_part_write(dir, &pi, j->err, j->errlen);
	store_part sp = {.split_id = j->r->split_id, .part = k, .dir = dir, .uuid = pi.uuid, .stage = pi.stage,
	                 .model_id = j->model_id, .url_ids = ids, .hashes = (const char *const *)hashes, .n = n};
	if (!rc && store_part_write(j->s, &sp) != 0) {
		natadv_errf(j->err, j->errlen, "cannot write part '%s': %s", dir, store_errmsg(j->s));
		rc = NATADV_EDB;
	}
	return rc;
}

/* Groups the work by part (part_of[i], or runs of the order when NULL) and
 * writes each part. */
static int write_parts(struct job *j, const struct work *w, const int *part_of)
{
	int parts = j->o->parts;
	size_t *start = calloc((size_t)parts + 1, sizeof *start);
	size_t *order = malloc((w->n ? w->n : 1) * sizeof *order);
	int64_t *ids = malloc((w->n ? w->n : 1) * sizeof *ids);
	char **hashes = malloc((w->n ? w->n : 1) * sizeof *hashes);
	int rc = start && order && ids && hashes ? 0 : NATADV_ENOMEM;
	if (rc)
		natadv_errf(j->err, j->errlen, "out of memory");
	for (size_t i = 0; !rc && i < w->n; i++)
		start[(part_of ? (size_t)part_of[i] : i * (size_t)parts / w->n) + 1]++;
	for (int k = 0; !rc && k < parts; k++)
		start[k + 1] += start[k];
	size_t *fill = rc ? NULL : calloc((size_t)parts, sizeof *fill);
	if (!rc && !fill)
		rc = NATADV_ENOMEM;
	for (size_t i = 0; !rc && i < w->n; i++) {
		size_t k = part_of ? (size_t)part_of[i] : i * (size_t)parts / w->n;
		order[start[k] + fill[k]++] = i;
	}
	for (size_t i = 0; !rc && i < w->n; i++) {
		if (w->ids)
			ids[i] = w->ids[order[i]];
		else
			hashes[i] = w->hashes[order[i]];
	}
	for (int k = 0; !rc && k < parts; k++) {
		size_t n = start[k + 1] - start[k];
		if ((int64_t)n > j->r->largest)
			j->r->largest = (int64_t)n;
		rc = write_part(j, k, w->ids ? ids + start[k] : NULL, w->ids ? NULL : hashes + start[k], n);
	}
	free(fill);
	free(start);
	free(order);
	free(ids);
	free(hashes);
	return rc;
}

/* Fills the fields every part.json of this split shares. */
static int job_init(struct job *j, char *model_id, buf *text)
{
	const scaleout_split_opts *o = j->o;
	scaleout_part_info *pi = &j->pi;
	char abs[PATH_MAX];
	if (!realpath(store_dir(j->s), abs))
		snprintf(abs, sizeof abs, "%s", store_dir(j->s));
	snprintf(pi->parent_path, sizeof pi->parent_path, "%s", abs);
	snprintf(pi->stage, sizeof pi->stage, "%s", o->stage);
	snprintf(pi->by, sizeof pi->by, "%s", !strcmp(o->stage, "score") ? "hash" : o->by ? o->by : "host");
	pi->parts = o->parts;
	if (store_workspace_uuid(j->s, pi->parent_uuid) != 0) {
		natadv_errf(j->err, j->errlen, "%s", store_errmsg(j->s));
		return NATADV_EDB;
	}
	if (strcmp(o->stage, "score") != 0)
		return 0;
	store_model m;
	int rc = store_model_get(j->s, o->model ? o->model : "", &m, text);
	if (rc) {
		natadv_errf(j->err, j->errlen, "%s", store_errmsg(j->s));
		return rc;
	}
	snprintf(model_id, 65, "%s", m.id);
	snprintf(pi->model, sizeof pi->model, "%s", m.name);
	j->model_id = model_id;
	return 0;
}

int scaleout_split(store *s, const scaleout_split_opts *o, scaleout_split_result *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	int crawl = !strcmp(o->stage, "crawl");
	if ((!crawl && strcmp(o->stage, "score")) || o->parts < 1 || o->parts > SCALEOUT_PARTS_MAX ||
	    (o->by && (!crawl || (strcmp(o->by, "host") && strcmp(o->by, "url"))))) {
		natadv_errf(err, errlen, "bad split: stage crawl or score, 1 to %d parts, --by host or url (crawl)",
		            SCALEOUT_PARTS_MAX);
		return NATADV_EINVAL;
	}
	char model_id[65] = "";
	buf text;
	buf_init(&text, 1 << 16);
	struct work w = {0};
	int *part_of = NULL;
	struct job j = {.s = s, .o = o, .r = r, .err = err, .errlen = errlen};
	int rc = job_init(&j, model_id, &text);
	if (!rc)
		rc = crawl ? store_split_urls_each(s, collect_url, &w)
		           : store_split_images_each(s, model_id, collect_image, &w);
	if (rc || w.nomem) {
		natadv_errf(err, errlen, "%s", w.nomem ? "out of memory" : store_errmsg(s));
		rc = w.nomem ? NATADV_ENOMEM : rc;
		goto out;
	}
	if (w.n == 0) {
		natadv_errf(err, errlen, crawl ? "nothing to split: no pending url that a part does not hold already"
		                               : "nothing to split: every image has a score of '%s' or is out in a part",
		            j.pi.model);
		rc = NATADV_ENOTFOUND;
		goto out;
	}
	r->items = (int64_t)w.n;
	r->parts = o->parts;
	if (crawl) {
		part_of = malloc(w.n * sizeof *part_of);
		rc = part_of ? assign_urls(&w, o->parts, !strcmp(j.pi.by, "url"), part_of, &r->hosts) : NATADV_ENOMEM;
		if (rc) {
			natadv_errf(err, errlen, "out of memory");
			goto out;
		}
	}
	store_split sp = {.stage = o->stage, .by = j.pi.by, .model_id = j.model_id, .parts = o->parts,
	                  .out_dir = "", .run_id = o->run_id};
	if (o->out_dir)
		snprintf(r->out_dir, sizeof r->out_dir, "%s", o->out_dir);
	else
		snprintf(r->out_dir, sizeof r->out_dir, "%s/parts/%s-%lld", store_dir(s), o->stage,
		         (long long)o->run_id);
	sp.out_dir = r->out_dir;
	for (int k = 0; !rc && k < o->parts; k++) {
		char dir[4200];
		struct stat sb;
		snprintf(dir, sizeof dir, "%s/part-%04d", r->out_dir, k);
		if (stat(dir, &sb) == 0) {
			natadv_errf(err, errlen, "cannot split into '%s': it exists already", dir);
			rc = NATADV_EEXIST;
		}
	}
	if (rc)
		goto out;
	rc = store_split_add(s, &sp, &r->split_id);
	if (rc)
		natadv_errf(err, errlen, "%s", store_errmsg(s));
	j.pi.split_id = r->split_id;
	if (!rc)
		rc = mkdirs(r->out_dir, err, errlen);
	if (!rc)
		rc = write_parts(&j, &w, part_of);
out:
	free(part_of);
	work_release(&w);
	buf_release(&text);
	return rc;
}
