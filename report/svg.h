/* svg.h — the report's charts, written by hand as inline SVG: bar charts
 * (vertical or horizontal, plain, grouped or stacked), histograms and a
 * timeline, with "nice" axis ticks. No script, nothing fetched; every text
 * goes through html_escape. Each chart is a <figure class="chart"
 * data-chart="ID"> whose data marks carry class="mark" (and a <title> with
 * the label and the value), so a test can count them. */
#ifndef NATADV_SVG_H
#define NATADV_SVG_H

#include <stddef.h>

#include "common/buf.h"

/* Ticks that cover [lo, hi] in steps of 1, 2 or 5 times a power of ten:
 * writes at most cap values (from a multiple of the step at or below lo to
 * one at or above hi) into ticks and returns how many (>= 2), with the step
 * in *step. hi <= lo is widened to lo + 1. max_ticks (>= 2) bounds the count. */
int svg_nice_ticks(double lo, double hi, int max_ticks, double *ticks, int cap, double *step);

/* A bar chart: n categories, each with nseries values. */
typedef struct svg_bars {
	const char *id;              /* data-chart attribute */
	const char *title;           /* caption (outside text allowed) */
	size_t n;                    /* categories */
	const char *const *labels;   /* n labels */
	size_t nseries;              /* >= 1; a legend is drawn when > 1 */
	const char *const *series;   /* nseries names */
	const double *values;        /* n * nseries, category by category; negative counts as 0 */
	int horizontal;              /* categories down, bars grow right */
	int stacked;                 /* series stacked; else side by side */
	const char *value_label;     /* title of the value axis; may be NULL */
} svg_bars;

/* Appends the chart to out; an empty chart (n == 0) says "no data" and has
 * no marks. Returns 0 or buf_append's code. */
int svg_bar_chart(buf *out, const svg_bars *c);

/* A histogram: nbins equal bins over [lo, hi], nseries series stacked. */
typedef struct svg_hist {
	const char *id, *title;
	double lo, hi;
	size_t nbins, nseries;
	const char *const *series;   /* nseries names */
	const double *counts;        /* nseries * nbins, series by series */
	const char *x_label;         /* may be NULL */
} svg_hist;

/* Appends the histogram to out. Returns 0 or buf_append's code. */
int svg_histogram(buf *out, const svg_hist *h);

/* A timeline: one row per item, a bar from start to end (seconds from any
 * origin; end < start is drawn as a point in time). */
typedef struct svg_timeline {
	const char *id, *title;
	size_t n;
	const char *const *labels;   /* n row labels */
	const double *start, *end;   /* n each */
	const char *x_label;         /* may be NULL */
} svg_timeline;

/* Appends the timeline to out. Returns 0 or buf_append's code. */
int svg_timeline_chart(buf *out, const svg_timeline *t);

#endif
