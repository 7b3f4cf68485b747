/* run.c — rebuilding a release into a workspace: check the manifest
 * against it, queue every line's URL, fetch them with the crawler, compare
 * what each gives now with the manifest, and when all match record the
 * selection and reviews that reproduce the release and export it. Queueing
 * and the selection are idempotent, so a killed rebuild run again continues
 * where it stopped. */
#include "rebuild/rebuild.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define BATCH_ROWS 5000

/* Whether a class is known; err names the line when it is not. */
static int known(store *s, const rebuild_manifest *m, long line, const char *what, const char *wnid, char *err,
                 size_t errlen)
{
	int k = store_class_known(s, wnid);
	if (k < 0) {
		natadv_errf(err, errlen, "%s", store_errmsg(s));
		return -k;
	}
	if (k)
		return 0;
	if (line)
		natadv_errf(err, errlen, "cannot read '%s' line %ld: unknown %s '%s'", m->path, line, what, wnid);
	else
		natadv_errf(err, errlen, "cannot read '%s': unknown class '%s' in classes.tsv", m->path, wnid);
	return NATADV_EFORMAT;
}

int rebuild_check(store *s, const rebuild_manifest *m, int *set_exists, int *partial, char *err, size_t errlen)
{
	int rc;
	for (int i = 0; i < m->n; i++) {
		const pkg_manifest_item *it = m->items[i].src;
		if ((rc = known(s, m, it->line, "wnid", it->wnid, err, errlen)) ||
		    (rc = known(s, m, it->line, "pred_wnid", it->pred_wnid, err, errlen)))
			return rc;
	}
	for (int i = 0; i < m->nmembers; i++)
		if ((rc = known(s, m, 0, "class", m->members[i].wnid, err, errlen)))
			return rc;
	/* Images per class: the lines' distinct wnids are the members with images. */
	int with_images = 0;
	for (int i = 0; i < m->nmembers; i++)
		for (int j = 0; j < m->n; j++)
			if (strcmp(m->items[j].src->wnid, m->members[i].wnid) == 0) {
				with_images++;
				break;
			}
	int64_t in_set = 0;
	rc = store_set_compare(s, m->set, m->members, m->nmembers, m->members_exact, &in_set);
	*set_exists = rc != NATADV_ENOTFOUND;
	if (rc == NATADV_ENOTFOUND) {
		*partial = with_images < m->nmembers;
		return 0;
	}
	if (rc) {
		natadv_errf(err, errlen, "cannot rebuild '%s' here: %s", m->path, store_errmsg(s));
		return rc;
	}
	*partial = with_images < in_set;
	return 0;
}

/* An ImageNet-O manifest (lines with source_wnid) needs WordNet to add its
 * source classes: *wn is it, marked with the workspace's ImageNet-1K
 * classes, or NULL for a manifest without such lines. */
static int open_wordnet_if_ood(store *s, const rebuild_manifest *m, wordnet **wn, char *err, size_t errlen)
{
	*wn = NULL;
	int ood = 0;
	for (int i = 0; i < m->n && !ood; i++)
		ood = m->items[i].src->source_wnid != NULL;
	if (!ood)
		return 0;
	char why[1024];
	int rc = wordnet_load(wordnet_path(), wn, why, sizeof why);
	if (rc) {
		natadv_errf(err, errlen, "cannot rebuild '%s', whose images are of out-of-distribution classes: %s", m->path,
		            why);
		return rc;
	}
	if ((rc = store_wordnet_mark(s, *wn)) != 0) {
		natadv_errf(err, errlen, "%s", store_errmsg(s));
		wordnet_free(*wn);
		*wn = NULL;
	}
	return rc;
}

int rebuild_queue(store *s, int64_t run_id, const rebuild_manifest *m, int64_t *new_urls, char *err, size_t errlen)
{
	int exists = 0, partial = 0;
	int rc = rebuild_check(s, m, &exists, &partial, err, errlen);
	if (rc)
		return rc;
	const char *base = strrchr(m->path, '/');
	base = base ? base + 1 : m->path;
	int64_t added = 0;
	wordnet *wn = NULL;
	if ((rc = open_wordnet_if_ood(s, m, &wn, err, errlen)) != 0)
		return rc;
	if ((rc = store_begin(s)) != 0)
		goto dberr;
	if (!exists && (rc = store_set_create(s, run_id, m->set, m->members, m->nmembers)) != 0)
		goto dberr;
	/* ImageNet-O lines: their source classes join the workspace under the rule of OOD classes. */
	for (int i = 0; wn && i < m->n; i++)
		if ((rc = store_ood_class_put(s, wn, m->items[i].src->source_wnid)) != 0)
			goto dberr;
	for (int i = 0; i < m->n; i++) {
		const rebuild_item *r = &m->items[i];
		const pkg_manifest_item *it = r->src;
		char ref[600];
		snprintf(ref, sizeof ref, "%.500s:%ld", base, it->line);
		store_candidate cand = {
			.url = r->norm_url,
			.host = r->host,
			.wnid = it->source_wnid ? it->source_wnid : it->wnid,
			.source = it->source ? it->source : "manifest",
			.query = it->query,
			.page_url = it->page_url,
			.license = it->license,
			.author = it->author,
			.attribution = it->attribution,
			.title = it->title,
			.license_raw = it->license_raw,
			.seed_ref = ref,
		};
		int new_url = 0;
		if ((rc = store_candidate_add(s, run_id, &cand, &new_url, NULL)) != 0)
			goto dberr;
		added += new_url;
		if ((i + 1) % BATCH_ROWS == 0 && ((rc = store_commit(s)) != 0 || (rc = store_begin(s)) != 0))
			goto dberr;
	}
	if ((rc = store_commit(s)) != 0)
		goto dberr;
	wordnet_free(wn);
	if (new_urls)
		*new_urls = added;
	return 0;
dberr:
	natadv_errf(err, errlen, "cannot queue '%s': %s", m->path, store_errmsg(s));
	store_rollback(s);
	wordnet_free(wn);
	return rc;
}

const char *rebuild_status_name(rebuild_status st)
{
	switch (st) {
	case REBUILD_SAME: return "same";
	case REBUILD_CHANGED: return "changed";
	case REBUILD_VANISHED: return "vanished";
	case REBUILD_PENDING: return "pending";
	}
	return "?";
}

int rebuild_compare(store *s, const rebuild_manifest *m, rebuild_result *r, char *err, size_t errlen)
{
	for (int i = 0; i < m->n; i++) {
		int rc = store_url_outcome_get(s, m->items[i].norm_url, &r[i].url);
		if (rc) {
			natadv_errf(err, errlen, "%s", store_errmsg(s));
			return rc;
		}
		const store_url_outcome *o = &r[i].url;
		if (o->image_hash[0] && strcmp(o->state, "fetched") == 0)
			r[i].status = strcmp(o->image_hash, m->items[i].src->xxh128) == 0 ? REBUILD_SAME : REBUILD_CHANGED;
		else if (strcmp(o->state, "pending") == 0)
			r[i].status = REBUILD_PENDING;
		else
			r[i].status = REBUILD_VANISHED;
		if (!o->state[0])
			snprintf(r[i].url.error, sizeof r[i].url.error, "not queued");
	}
	return 0;
}

int rebuild_restore(store *s, int64_t run_id, const rebuild_manifest *m, int64_t *selection_id, int *created,
                    char *err, size_t errlen)
{
	int rc = NATADV_ENOMEM;
	store_manifest_item *items = calloc((size_t)m->n, sizeof *items);
	char *reasons = calloc((size_t)m->n, 256);
	json_t *params = json_pack("{s:s, s:s, s:s, s:s}", "manifest", m->abspath, "manifest_sha256", m->sha256,
	                           "version", m->version, "released_at", m->released_at);
	char *ptext = params ? json_dumps(params, JSON_COMPACT) : NULL;
	if (!items || !reasons || !ptext) {
		natadv_errf(err, errlen, "out of memory");
		goto out;
	}
	const char *base = strrchr(m->path, '/');
	base = base ? base + 1 : m->path;
	for (int i = 0; i < m->n; i++) {
		const pkg_manifest_item *it = m->items[i].src;
		char *reason = reasons + (size_t)i * 256;
		/* cut to what the review log takes */
		int n = snprintf(reason, STORE_REASON_MAX + 1, "%.100s line %ld", base, it->line);
		if (it->reviewer && n > 0 && n < STORE_REASON_MAX)
			snprintf(reason + n, STORE_REASON_MAX + 1 - (size_t)n, ": accepted by %.60s%s%.40s",
			         it->reviewer, it->reviewed_at ? " at " : "", it->reviewed_at ? it->reviewed_at : "");
		items[i] = (store_manifest_item){it->xxh128, it->wnid, it->pred_wnid, it->confidence, it->true_prob, reason,
		                                 it->source_wnid};
	}
	if ((rc = store_begin(s)) == 0 &&
	    (rc = store_selection_from_manifest(s, run_id, m->set, ptext, items, m->n, "rebuild", selection_id,
	                                        created)) == 0)
		rc = store_commit(s);
	if (rc) {
		natadv_errf(err, errlen, "cannot record the selection of '%s': %s", m->path, store_errmsg(s));
		store_rollback(s);
	}
out:
	free(items);
	free(reasons);
	free(ptext);
	json_decref(params);
	return rc;
}

int rebuild_open(const char *dir, const rebuild_manifest *m, store **out, int *created, int *partial, char *err,
                 size_t errlen)
{
	*out = NULL;
	*created = 0;
	store *s = NULL;
	int exists = 0;
	/* Checked against the workspace, or an empty in-memory one when there
	 * is none yet: nothing is written to either. */
	int rc = store_open(dir, &s, err, errlen);
	if (rc == NATADV_ENOTFOUND) {
		*created = 1;
		rc = store_open_memory(&s, err, errlen);
	}
	if (!rc)
		rc = rebuild_check(s, m, &exists, partial, err, errlen);
	if (!rc && *created) {
		store_close(s);
		s = NULL;
		rc = store_create(dir, &s, err, errlen);
	}
	if (rc) {
		store_close(s);
		*created = 0;
		return rc;
	}
	*out = s;
	return 0;
}

/* Exports the restored release to o->out with the manifest's version and
 * time, and compares its tar with SHA256SUMS's. */
static int export_release(store *s, int64_t run_id, const rebuild_manifest *m, const rebuild_opts *o,
                          rebuild_report *r, char *err, size_t errlen)
{
	pkg_export_opts eo = {
		.set = m->set, .out = o->out, .version = m->version, .tar = 1, .partial = o->partial, .force = o->force,
		.release_unix = m->released_unix, .run_id = run_id,
	};
	char why[2048];
	int rc = pkg_export(s, &eo, &r->release, why, sizeof why);
	if (rc) {
		natadv_errf(err, errlen, "cannot export '%s': %s", o->out, why);
		return rc;
	}
	r->exported = 1;
	r->same_tar = m->tar_sha256[0] && strcmp(m->tar_sha256, r->release.tar_sha256) == 0;
	return 0;
}

/* Fetches the queued URLs. */
static int fetch(store *s, int64_t run_id, const rebuild_opts *o, rebuild_report *r, char *err, size_t errlen)
{
	char why[2048];
	int rc = crawl_run(s, run_id, o->crawl, o->stop, o->on_progress, o->ctx, &r->crawl, why, sizeof why);
	r->crawled = r->crawl.started; /* a refused run has nothing to sum up */
	if (rc == NATADV_EINTR)
		natadv_errf(err, errlen, "interrupted");
	else if (rc)
		natadv_errf(err, errlen, "crawl stopped: %s", why);
	return rc;
}

int rebuild_run(store *s, int64_t run_id, const rebuild_manifest *m, const rebuild_opts *o, rebuild_report *r,
                char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	int64_t moved = 0, new_urls = 0;
	int rc = 0;
	if (o->retry_failed && (rc = store_retry_failed(s, &moved)) != 0) {
		natadv_errf(err, errlen, "%s", store_errmsg(s));
		return rc;
	}
	if ((rc = rebuild_queue(s, run_id, m, &new_urls, err, errlen)) != 0)
		return rc;
	if (o->on_queued)
		o->on_queued(o->ctx, m, new_urls);
	if ((rc = fetch(s, run_id, o, r, err, errlen)) != 0)
		return rc;
	r->results = calloc((size_t)m->n, sizeof *r->results);
	if (!r->results) {
		natadv_errf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	if ((rc = rebuild_compare(s, m, r->results, err, errlen)) != 0) {
		free(r->results);
		r->results = NULL;
		return rc;
	}
	for (int i = 0; i < m->n; i++)
		r->count[r->results[i].status]++;
	if (r->count[REBUILD_SAME] != m->n)
		return 0;
	if ((rc = rebuild_restore(s, run_id, m, &r->selection_id, &r->created, err, errlen)) != 0)
		return rc;
	r->restored = 1;
	return o->out ? export_release(s, run_id, m, o, r, err, errlen) : 0;
}

void rebuild_report_release(rebuild_report *r)
{
	free(r->results);
	r->results = NULL;
}
