/* report.c — the report's numbers as one JSON object (see report.h): the
 * store's aggregates reshaped (totals of the funnel, shortfall per class,
 * histograms as arrays, throughput of runs), and writing the page. */
#include "report/report.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/err.h"

static const char *const stages[] = {"discovered", "queued", "fetched", "valid", "scored",
                                     "proposed", "accepted", "rejected", "released"};
#define NSTAGES (sizeof stages / sizeof stages[0])

json_t *report_urls_json(const store_counts *k)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "total", (json_int_t)k->urls, "pending", (json_int_t)k->pending,
	                 "fetched", (json_int_t)k->fetched, "failed", (json_int_t)k->failed,
	                 "opted_out", (json_int_t)k->opted_out);
}

static json_int_t num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* {"total": sums of each stage, "classes": rows with their shortfall}. */
static json_t *funnel(json_t *rows, int target)
{
	json_int_t sum[NSTAGES] = {0};
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) {
		for (size_t k = 0; k < NSTAGES; k++)
			sum[k] += num(row, stages[k]);
		json_int_t short_by = target - num(row, "accepted");
		json_object_set_new(row, "shortfall", json_integer(short_by > 0 ? short_by : 0));
	}
	json_t *total = json_object();
	for (size_t k = 0; total && k < NSTAGES; k++)
		json_object_set_new(total, stages[k], json_integer(sum[k]));
	return json_pack("{s:o*, s:O}", "total", total, "classes", rows);
}

/* {"bins": REPORT_BINS, "accepted": [...], "rejected", "undecided", "true_prob"}. */
static json_t *histograms(json_t *rows)
{
	static const char *const series[] = {"accepted", "rejected", "undecided", "true_prob"};
	json_int_t n[4][REPORT_BINS] = {{0}};
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) {
		const char *name = json_string_value(json_object_get(row, "series"));
		json_int_t bin = num(row, "bin");
		for (int k = 0; name && k < 4; k++)
			if (strcmp(name, series[k]) == 0 && bin >= 0 && bin < REPORT_BINS)
				n[k][bin] += num(row, "n");
	}
	json_t *o = json_pack("{s:i}", "bins", REPORT_BINS);
	for (int k = 0; o && k < 4; k++) {
		json_t *a = json_array();
		for (int b = 0; a && b < REPORT_BINS; b++)
			json_array_append_new(a, json_integer(n[k][b]));
		json_object_set_new(o, series[k], a);
	}
	return o;
}

/* Leaves out the run making the report (still running), and adds
 * urls_per_s and images_per_s to each run that finished. */
static void throughput(json_t *runs, int64_t self)
{
	size_t i;
	json_t *run;
	for (i = json_array_size(runs); i-- > 0;)
		if (self && num(json_array_get(runs, i), "id") == self)
			json_array_remove(runs, i);
	json_array_foreach(runs, i, run) {
		double s = json_number_value(json_object_get(run, "seconds"));
		int done = json_is_number(json_object_get(run, "seconds")) && s > 0;
		/* three decimals, as the page shows them */
		json_object_set_new(run, "urls_per_s",
		                    done ? json_real(round((double)num(run, "urls") / s * 1000) / 1000) : json_null());
		json_object_set_new(run, "images_per_s",
		                    done ? json_real(round((double)num(run, "images") / s * 1000) / 1000) : json_null());
	}
}

/* Rows {name, images, accepted} summed over key ("source" or "license")
 * of the tags rows, most images first, at most 30. */
static int by_name_cmp(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t d = json_integer_value(json_object_get(y, "images")) - json_integer_value(json_object_get(x, "images"));
	if (d)
		return d > 0 ? 1 : -1;
	return strcmp(json_string_value(json_object_get(x, "name")), json_string_value(json_object_get(y, "name")));
}

static json_t *by_name(json_t *tags, const char *key)
{
	json_t *sums = json_object(), *out = json_array();
	size_t i;
	json_t *row;
	json_array_foreach(tags, i, row) {
		const char *name = json_string_value(json_object_get(row, key));
		json_t *acc = sums ? json_object_get(sums, name ? name : "") : NULL;
		if (sums && !acc) {
			acc = json_pack("{s:s, s:I, s:I}", "name", name ? name : "", "images", (json_int_t)0, "accepted",
			                (json_int_t)0);
			json_object_set_new(sums, name ? name : "", acc);
		}
		for (int k = 0; acc && k < 2; k++) {
			const char *f = k ? "accepted" : "images";
			json_object_set_new(acc, f, json_integer(num(acc, f) + num(row, f)));
		}
	}
	size_t n = json_object_size(sums), at = 0;
	json_t **v = calloc(n ? n : 1, sizeof *v);
	const char *k;
	json_t *val;
	json_object_foreach(sums, k, val)
		if (v)
			v[at++] = val;
	if (v)
		qsort(v, at, sizeof *v, by_name_cmp);
	for (size_t j = 0; v && out && j < at && j < 30; j++)
		json_array_append(out, v[j]);
	free(v);
	json_decref(sums);
	return v ? out : (json_decref(out), NULL);
}

/* qsort_r order: most urls first, then by the text of key (ctx). */
static int most_urls(const void *a, const void *b, void *ctx)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t d = num(y, "urls") - num(x, "urls");
	if (d)
		return d > 0 ? 1 : -1;
	return strcmp(json_string_value(json_object_get(x, ctx)), json_string_value(json_object_get(y, ctx)));
}

/* The kinds of failure (store/report.c's URL_REASON), in the page's order. */
const char *const report_kinds[REPORT_NKINDS] = {"http_status", "timeout", "invalid_image", "too_small",
                                                  "too_large", "robots_txt", "x_robots_tag", "private_address",
                                                  "other"};

/* Sums the rows of failures by the key columns (key2 may be NULL) into
 * objects {key: .., [key2: ..], urls: n} and, with per_kind, a count per
 * kind; returns them most urls first (then by key), at most max. */
static json_t *failure_sums(json_t *rows, const char *key, const char *key2, int per_kind, size_t max)
{
	json_t *sums = json_object(), *out = json_array();
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) {
		char id[8192];
		snprintf(id, sizeof id, "%s\n%s", json_string_value(json_object_get(row, key)),
		         key2 ? json_string_value(json_object_get(row, key2)) : "");
		json_t *acc = sums ? json_object_get(sums, id) : NULL;
		if (sums && !acc) {
			acc = json_pack("{s:O}", key, json_object_get(row, key));
			if (acc && key2)
				json_object_set(acc, key2, json_object_get(row, key2));
			if (acc)
				json_object_set_new(acc, "urls", json_integer(0));
			for (size_t k = 0; acc && per_kind && k < REPORT_NKINDS; k++)
				json_object_set_new(acc, report_kinds[k], json_integer(0));
			json_object_set_new(sums, id, acc);
		}
		if (!acc)
			continue;
		json_object_set_new(acc, "urls", json_integer(num(acc, "urls") + num(row, "urls")));
		const char *kind = json_string_value(json_object_get(row, "reason"));
		if (per_kind && kind)
			json_object_set_new(acc, kind, json_integer(num(acc, kind) + num(row, "urls")));
	}
	size_t n = json_object_size(sums), at = 0;
	json_t **v = calloc(n ? n : 1, sizeof *v);
	const char *k;
	json_t *val;
	json_object_foreach(sums, k, val)
		if (v)
			v[at++] = val;
	if (v)
		qsort_r(v, at, sizeof *v, most_urls, (void *)key);
	for (size_t j = 0; v && out && j < at && j < max; j++)
		json_array_append(out, v[j]);
	free(v);
	json_decref(sums);
	return v ? out : (json_decref(out), NULL);
}

int report_collect(store *s, const report_opts *o, json_t **out, char *err, size_t errlen)
{
	*out = NULL;
	store_counts total;
	json_t *raw = NULL;
	int rc = store_stats(s, &total, NULL, NULL);
	if (!rc)
		rc = store_report_json(s, o->set, &raw);
	if (rc) {
		natadv_errf(err, errlen, "%s", store_errmsg(s));
		return rc;
	}
	json_t *sec = json_object_get(raw, "runs"), *fail = json_object_get(raw, "failures");
	throughput(sec, o->run_id);
	json_t *r = json_pack("{s:s, s:i, s:o*, s:I, s:o*, s:O, s:{s:o*, s:o*, s:o*}, s:o*, s:O, s:o*, s:o*, s:O, s:O}",
	                      "set", o->set, "target", o->target, "urls", report_urls_json(&total),
	                      "images", (json_int_t)total.images,
	                      "funnel", funnel(json_object_get(raw, "funnel"), o->target),
	                      "discovered", json_object_get(raw, "discovered"),
	                      "failures", "reasons", failure_sums(fail, "reason", NULL, 0, REPORT_NKINDS),
	                      "errors", failure_sums(fail, "error", "reason", 0, 40),
	                      "hosts", failure_sums(fail, "host", NULL, 1, 20),
	                      "confidence", histograms(json_object_get(raw, "confidence")),
	                      "confusions", json_object_get(raw, "confusions"),
	                      "sources", by_name(json_object_get(raw, "tags"), "source"),
	                      "licenses", by_name(json_object_get(raw, "tags"), "license"),
	                      "reviewers", json_object_get(raw, "reviewers"),
	                      "runs", sec);
	json_decref(raw);
	if (!r) {
		natadv_errf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	*out = r;
	return 0;
}

/* Writes the n bytes of p to path through path.tmp-PID: written, synced,
 * renamed. */
static int write_atomic(const char *path, const char *p, size_t n, char *err, size_t errlen)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		natadv_errf(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
		return NATADV_EIO;
	}
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, p + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	int bad = done < n || fsync(fd) != 0;
	int saved = errno;
	if (close(fd) != 0 && !bad) {
		bad = 1;
		saved = errno;
	}
	if (!bad && rename(tmp, path) != 0) {
		bad = 1;
		saved = errno;
	}
	if (bad) {
		unlink(tmp);
		natadv_errf(err, errlen, "cannot write '%s': %s", path, strerror(saved));
		return NATADV_EIO;
	}
	return 0;
}

int report_write(store *s, const report_opts *o, const char *path, char *err, size_t errlen)
{
	json_t *data = NULL;
	buf page;
	buf_init(&page, (size_t)1 << 30);
	int rc = report_collect(s, o, &data, err, errlen);
	if (!rc)
		rc = report_html(s, data, o, &page, err, errlen);
	if (!rc)
		rc = write_atomic(path, page.data ? page.data : "", page.len, err, errlen);
	json_decref(data);
	buf_release(&page);
	return rc;
}
