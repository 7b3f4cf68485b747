/* report.h — natadv report: one self-contained HTML page (inline CSS and
 * SVG, no script, nothing fetched) with what a build found, kept and threw
 * away, and the same numbers as one JSON object. The numbers come from
 * store_report_json (SQL aggregates) and store_stats; the page is drawn from
 * the JSON object alone, so page and --json cannot disagree. */
#ifndef NATADV_REPORT_H
#define NATADV_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "store/store.h"

struct json_t;

/* The kinds of failure of a url, in the page's order (store/report.c
 * sorts the crawler's messages into them). */
extern const char *const report_kinds[];
#define REPORT_NKINDS 9

/* Bins of the confidence histograms over [0, 1]. */
#define REPORT_BINS 20

typedef struct report_opts {
	const char *set;    /* class set the funnel, proposals and reviews are of */
	int target;         /* accepted images wanted per class (the funnel's shortfall) */
	int thumbs;         /* example thumbnails per confusion on the page (0: none) */
	int64_t run_id;     /* the run making the report, left out of the runs (0: none) */
} report_opts;

/* The "urls" object of both stats --json and report --json: total, pending,
 * fetched, failed, opted_out of k. A new reference (NULL when out of memory). */
struct json_t *report_urls_json(const store_counts *k);

/* Reads every number of the report into *out (a new object the caller owns:
 * json_decref). NATADV_ENOTFOUND for an unknown set; err says why. */
int report_collect(store *s, const report_opts *o, struct json_t **out, char *err, size_t errlen);

/* Appends the HTML page of data (report_collect's object) to out; reads the
 * example images' blobs from s for the thumbnails. 0 or an error code with
 * err set. */
int report_html(store *s, const struct json_t *data, const report_opts *o, buf *out, char *err, size_t errlen);

/* report_collect + report_html, written to path through a temporary file
 * beside it, synced and renamed (a reader never sees half a page). */
int report_write(store *s, const report_opts *o, const char *path, char *err, size_t errlen);

#endif
