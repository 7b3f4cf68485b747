/* svg.c — the chart writer (see svg.h). Coordinates are printed with one
 * decimal and numbers with a fixed number of decimals, so the same data
 * always gives the same bytes (the golden test relies on it). */
#include "report/svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/html.h"

#define W 760.0            /* every chart's width */
#define VH 260.0           /* a vertical chart's plot height */
#define ROW 16.0           /* a horizontal chart's row height */
#define LABEL_W 180.0      /* a horizontal chart's label column */
#define LABEL_CHARS 28     /* longer labels are cut (the <title> keeps them whole) */
#define MAX_TICKS 6
#define FONT "font-family=\"sans-serif\" font-size=\"11\""

static const char *const palette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759",
                                      "#76b7b2", "#edc948", "#b07aa1", "#9c755f"};
#define NCOLORS (sizeof palette / sizeof palette[0])

/* A writer whose first error sticks, so drawing code reads straight. */
struct w {
	buf *b;
	int rc;
};

#define P(w, ...) do { if (!(w)->rc) (w)->rc = buf_printf((w)->b, __VA_ARGS__); } while (0)

static void esc(struct w *w, const char *s)
{
	if (!w->rc)
		w->rc = html_escape(w->b, s ? s : "");
}

/* Writes s cut to at most max bytes on a UTF-8 boundary, with "…" when cut. */
static void esc_cut(struct w *w, const char *s, size_t max)
{
	s = s ? s : "";
	size_t n = strlen(s);
	if (n <= max) {
		esc(w, s);
		return;
	}
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	if (!w->rc)
		w->rc = html_escape_n(w->b, s, max);
	P(w, "\xe2\x80\xa6");
}

int svg_nice_ticks(double lo, double hi, int max_ticks, double *ticks, int cap, double *step)
{
	if (!(hi > lo))
		hi = lo + 1;
	if (max_ticks < 2)
		max_ticks = 2;
	double raw = (hi - lo) / (max_ticks - 1), mag = pow(10, floor(log10(raw))), f = raw / mag;
	double s = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
	double first = floor(lo / s + 1e-9) * s;
	int n = 0;
	for (double v = first; n < cap; v = first + n * s) {
		ticks[n++] = fabs(v) < s * 1e-9 ? 0 : v;
		if (v >= hi - s * 1e-9)
			break;
	}
	if (n < 2 && cap >= 2)
		ticks[n++] = first + s;
	*step = s;
	return n;
}

/* Decimals that show every multiple of step exactly (0 for whole steps). */
static int decimals(double step)
{
	int d = 0;
	while (d < 6 && fabs(step * pow(10, d) - floor(step * pow(10, d) + 0.5)) > 1e-6)
		d++;
	return d;
}

static void value_text(struct w *w, double v)
{
	if (v == floor(v) && fabs(v) < 1e15)
		P(w, "%.0f", v);
	else
		P(w, "%.3f", v);
}

static void open_chart(struct w *w, const char *id, const char *title, double h)
{
	P(w, "<figure class=\"chart\" data-chart=\"");
	esc(w, id);
	P(w, "\"><figcaption>");
	esc(w, title);
	P(w, "</figcaption>\n<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
	     "height=\"%.0f\" role=\"img\" " FONT ">\n", W, h, W, h);
}

static void close_chart(struct w *w)
{
	P(w, "</svg></figure>\n");
}

static void no_data(struct w *w, const char *id, const char *title)
{
	open_chart(w, id, title, 40);
	P(w, "<text class=\"empty\" x=\"%.1f\" y=\"24\" text-anchor=\"middle\" fill=\"#777\">no data</text>\n", W / 2);
	close_chart(w);
}

/* The width a legend entry takes. */
static double key_width(const char *name)
{
	size_t n = strlen(name);
	return 24 + 7 * (double)(n < LABEL_CHARS ? n : LABEL_CHARS);
}

/* Rows the legend of n series takes (it wraps at the chart's width). */
static int legend_rows(const char *const *series, size_t n)
{
	double x = 8;
	int rows = 1;
	for (size_t i = 0; i < n; i++) {
		if (x > 8 && x + key_width(series[i]) > W) {
			rows++;
			x = 8;
		}
		x += key_width(series[i]);
	}
	return rows;
}

/* The top of the plot: below the legend when there is one. */
static double plot_top(const char *const *series, size_t n)
{
	return n > 1 ? 14 + 16 * (double)legend_rows(series, n) : 10;
}

static void legend(struct w *w, const char *const *series, size_t n)
{
	double x = 8, y = 16;
	for (size_t i = 0; i < n; i++) {
		if (x > 8 && x + key_width(series[i]) > W) {
			y += 16;
			x = 8;
		}
		P(w, "<rect class=\"key\" x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/>", x, y - 9,
		  palette[i % NCOLORS]);
		P(w, "<text x=\"%.1f\" y=\"%.1f\">", x + 14, y);
		esc_cut(w, series[i], LABEL_CHARS);
		P(w, "</text>\n");
		x += key_width(series[i]);
	}
}

/* One bar: a rect with its label and value as a tooltip. */
static void mark(struct w *w, double x, double y, double bw, double bh, size_t color, const char *label,
                 const char *series, double v)
{
	P(w, "<rect class=\"mark\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>", x, y,
	  bw, bh, palette[color % NCOLORS]);
	esc(w, label);
	if (series) {
		P(w, " (");
		esc(w, series);
		P(w, ")");
	}
	P(w, ": ");
	value_text(w, v);
	P(w, "</title></rect>\n");
}

/* The largest bar: a category's sum when stacked, else its largest value. */
static double bars_max(const svg_bars *c)
{
	double max = 0;
	for (size_t i = 0; i < c->n; i++) {
		double sum = 0;
		for (size_t k = 0; k < c->nseries; k++) {
			double v = c->values[i * c->nseries + k];
			v = v > 0 ? v : 0;
			sum = c->stacked ? sum + v : (v > sum ? v : sum);
		}
		max = sum > max ? sum : max;
	}
	return max;
}

/* Grid lines and tick labels of a value axis from a0 to a1 (pixels) on the
 * x axis (horizontal charts) or the y axis, spanning c0..c1 across. */
static void value_axis(struct w *w, const double *ticks, int nt, double step, int horiz, double a0, double a1,
                       double c0, double c1)
{
	int d = decimals(step);
	double top = ticks[nt - 1];
	for (int i = 0; i < nt; i++) {
		double p = a0 + (a1 - a0) * ticks[i] / top;
		if (horiz)
			P(w, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
			     "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.*f</text>\n",
			  p, c0, p, c1, p, c1 + 13, d, ticks[i]);
		else
			P(w, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
			     "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n",
			  c0, p, c1, p, c0 - 4, p + 4, d, ticks[i]);
	}
}

static void bars_horizontal(struct w *w, const svg_bars *c, const double *ticks, int nt, double step, double top)
{
	double x0 = LABEL_W, x1 = W - 24, y0 = top, y1 = top + ROW * (double)c->n;
	value_axis(w, ticks, nt, step, 1, x0, x1, y0, y1);
	double scale = (x1 - x0) / ticks[nt - 1];
	for (size_t i = 0; i < c->n; i++) {
		double y = y0 + ROW * (double)i;
		P(w, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\"><title>", x0 - 6, y + 12);
		esc(w, c->labels[i]);
		P(w, "</title>");
		esc_cut(w, c->labels[i], LABEL_CHARS);
		P(w, "</text>\n");
		double at = x0, band = (ROW - 4) / (c->stacked ? 1 : (double)c->nseries);
		for (size_t k = 0; k < c->nseries; k++) {
			double v = c->values[i * c->nseries + k];
			v = v > 0 ? v : 0;
			double yy = y + 2 + (c->stacked ? 0 : band * (double)k);
			if (v > 0)
				mark(w, at, yy, v * scale, band, k, c->labels[i], c->nseries > 1 ? c->series[k] : NULL, v);
			if (c->stacked)
				at += v * scale;
		}
	}
	if (c->value_label) {
		P(w, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (x0 + x1) / 2, y1 + 28);
		esc(w, c->value_label);
		P(w, "</text>\n");
	}
}

static void bars_vertical(struct w *w, const svg_bars *c, const double *ticks, int nt, double step, double top)
{
	double x0 = 60, x1 = W - 12, y0 = top + VH, y1 = top;
	value_axis(w, ticks, nt, step, 0, y0, y1, x0, x1);
	double band = (x1 - x0) / (double)c->n, scale = VH / ticks[nt - 1];
	double bw = band * 0.8 / (c->stacked ? 1 : (double)c->nseries);
	size_t chars = band / 6.5 < 4 ? 4 : (size_t)(band / 6.5);
	for (size_t i = 0; i < c->n; i++) {
		double x = x0 + band * (double)i, at = y0;
		for (size_t k = 0; k < c->nseries; k++) {
			double v = c->values[i * c->nseries + k];
			v = v > 0 ? v : 0;
			double xx = x + band * 0.1 + (c->stacked ? 0 : bw * (double)k);
			if (v > 0)
				mark(w, xx, at - v * scale, bw, v * scale, k, c->labels[i], c->nseries > 1 ? c->series[k] : NULL,
				     v);
			if (c->stacked)
				at -= v * scale;
		}
		P(w, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\"><title>", x + band / 2, y0 + 14);
		esc(w, c->labels[i]);
		P(w, "</title>");
		esc_cut(w, c->labels[i], chars);
		P(w, "</text>\n");
	}
	if (c->value_label) {
		P(w, "<text x=\"12\" y=\"%.1f\" transform=\"rotate(-90 12 %.1f)\" text-anchor=\"middle\">", (y0 + y1) / 2,
		  (y0 + y1) / 2);
		esc(w, c->value_label);
		P(w, "</text>\n");
	}
}

int svg_bar_chart(buf *out, const svg_bars *c)
{
	struct w w = {out, 0};
	if (c->n == 0 || c->nseries == 0) {
		no_data(&w, c->id, c->title);
		return w.rc;
	}
	double ticks[16], step;
	int nt = svg_nice_ticks(0, bars_max(c), MAX_TICKS, ticks, 16, &step);
	int whole = 1;
	for (size_t i = 0; i < c->n * c->nseries; i++)
		whole &= c->values[i] == floor(c->values[i]);
	if (whole && step < 1) /* counts: no tick between two whole numbers */
		nt = svg_nice_ticks(0, ceil(bars_max(c)) < 1 ? 1 : ceil(bars_max(c)), (int)ceil(bars_max(c)) + 1, ticks, 16,
		                    &step);
	double top = plot_top(c->series, c->nseries);
	double h = c->horizontal ? top + ROW * (double)c->n + (c->value_label ? 36 : 22) : top + VH + 24;
	open_chart(&w, c->id, c->title, h);
	if (c->nseries > 1)
		legend(&w, c->series, c->nseries);
	if (c->horizontal)
		bars_horizontal(&w, c, ticks, nt, step, top);
	else
		bars_vertical(&w, c, ticks, nt, step, top);
	close_chart(&w);
	return w.rc;
}

int svg_histogram(buf *out, const svg_hist *hg)
{
	struct w w = {out, 0};
	double max = 0;
	for (size_t b = 0; b < hg->nbins; b++) {
		double sum = 0;
		for (size_t k = 0; k < hg->nseries; k++)
			sum += hg->counts[k * hg->nbins + b] > 0 ? hg->counts[k * hg->nbins + b] : 0;
		max = sum > max ? sum : max;
	}
	if (hg->nbins == 0 || hg->nseries == 0 || !(hg->hi > hg->lo)) {
		no_data(&w, hg->id, hg->title);
		return w.rc;
	}
	double yt[16], ys, xt[16], xs, top = plot_top(hg->series, hg->nseries);
	int ny = svg_nice_ticks(0, max, MAX_TICKS, yt, 16, &ys);
	int nx = svg_nice_ticks(hg->lo, hg->hi, 11, xt, 16, &xs);
	double x0 = 60, x1 = W - 12, y0 = top + VH, sx = (x1 - x0) / (hg->hi - hg->lo), sy = VH / yt[ny - 1];
	open_chart(&w, hg->id, hg->title, top + VH + (hg->x_label ? 44 : 24));
	if (hg->nseries > 1)
		legend(&w, hg->series, hg->nseries);
	value_axis(&w, yt, ny, ys, 0, y0, top, x0, x1);
	int d = decimals(xs);
	for (int i = 0; i < nx; i++)
		if (xt[i] >= hg->lo - xs * 1e-9 && xt[i] <= hg->hi + xs * 1e-9)
			P(&w, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.*f</text>\n", x0 + (xt[i] - hg->lo) * sx,
			  y0 + 14, d, xt[i]);
	double bin = (hg->hi - hg->lo) / (double)hg->nbins;
	for (size_t b = 0; b < hg->nbins; b++) {
		double at = y0, x = x0 + bin * (double)b * sx;
		char label[64];
		snprintf(label, sizeof label, "%.3f to %.3f", hg->lo + bin * (double)b, hg->lo + bin * (double)(b + 1));
		for (size_t k = 0; k < hg->nseries; k++) {
			double v = hg->counts[k * hg->nbins + b];
			if (v > 0) {
				mark(&w, x + 0.5, at - v * sy, bin * sx - 1, v * sy, k, label, hg->series[k], v);
				at -= v * sy;
			}
		}
	}
	if (hg->x_label) {
		P(&w, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (x0 + x1) / 2, y0 + 34);
		esc(&w, hg->x_label);
		P(&w, "</text>\n");
	}
	close_chart(&w);
	return w.rc;
}

int svg_timeline_chart(buf *out, const svg_timeline *t)
{
	struct w w = {out, 0};
	if (t->n == 0) {
		no_data(&w, t->id, t->title);
		return w.rc;
	}
	double lo = t->start[0], hi = t->start[0];
	for (size_t i = 0; i < t->n; i++) {
		double e = t->end[i] > t->start[i] ? t->end[i] : t->start[i];
		lo = t->start[i] < lo ? t->start[i] : lo;
		hi = e > hi ? e : hi;
	}
	double ticks[16], step;
	int nt = svg_nice_ticks(0, hi - lo, MAX_TICKS, ticks, 16, &step);
	double top = 10, x0 = LABEL_W, x1 = W - 24, y1 = top + ROW * (double)t->n;
	double sx = (x1 - x0) / ticks[nt - 1];
	open_chart(&w, t->id, t->title, y1 + (t->x_label ? 36 : 22));
	value_axis(&w, ticks, nt, step, 1, x0, x1, top, y1);
	for (size_t i = 0; i < t->n; i++) {
		double y = top + ROW * (double)i, s = t->start[i] - lo;
		double len = t->end[i] > t->start[i] ? t->end[i] - t->start[i] : 0;
		P(&w, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", x0 - 6, y + 12);
		esc_cut(&w, t->labels[i], LABEL_CHARS);
		P(&w, "</text>\n");
		double bw = len * sx < 2 ? 2 : len * sx;
		mark(&w, x0 + s * sx, y + 3, bw, ROW - 6, 0, t->labels[i], NULL, len);
	}
	if (t->x_label) {
		P(&w, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (x0 + x1) / 2, y1 + 28);
		esc(&w, t->x_label);
		P(&w, "</text>\n");
	}
	close_chart(&w);
	return w.rc;
}
