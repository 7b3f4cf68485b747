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

/* Adds urls_per_s and images_per_s to each run that finished. */
static void throughput(json_t *runs)
{
	size_t i;
	json_t *run;
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
	json_t *sec = json_object_get(raw, "runs");
	throughput(sec);
	json_t *r = json_pack("{s:s, s:i, s:o*, s:I, s:o*, s:O, s:{s:O, s:O, s:O}, s:o*, s:O, s:O, s:O, s:O, s:O}",
	                      "set", o->set, "target", o->target, "urls", report_urls_json(&total),
	                      "images", (json_int_t)total.images,
	                      "funnel", funnel(json_object_get(raw, "funnel"), o->target),
	                      "discovered", json_object_get(raw, "discovered"),
	                      "failures", "reasons", json_object_get(raw, "failure_reasons"),
	                      "errors", json_object_get(raw, "failure_errors"),
	                      "hosts", json_object_get(raw, "failure_hosts"),
	                      "confidence", histograms(json_object_get(raw, "confidence")),
	                      "confusions", json_object_get(raw, "confusions"),
	                      "sources", json_object_get(raw, "sources"),
	                      "licenses", json_object_get(raw, "licenses"),
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
