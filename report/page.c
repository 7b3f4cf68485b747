/* page.c — the report's HTML page, drawn from report_collect's object alone:
 * inline CSS, inline SVG charts (svg.c), tables whose numbers carry
 * data-json="path/in/the/json" (so a test can hold the page against
 * report --json), and small inline JPEG thumbnails as data URIs. No script,
 * nothing fetched; every text from outside goes through html_escape. */
#include "report/report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "common/fmt.h"
#include "common/html.h"
#include "image/image.h"
#include "report/svg.h"

#define THUMB_SHORT 96
#define THUMB_LONG 160
#define THUMB_QUALITY 75
#define BLOB_READ_MAX (256u << 20)

static const char CSS[] =
	"body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:0 16px 40px;color:#222}"
	"h1{margin:16px 0 4px}h2{border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}"
	".cards{display:flex;flex-wrap:wrap;gap:8px}.card{border:1px solid #ddd;border-radius:6px;padding:6px 12px}"
	".card b{display:block;font-size:20px}.empty{background:#fff6d8;border:1px solid #e8d48b;padding:8px 16px}"
	"figure{margin:12px 0}figcaption{font-weight:600;margin-bottom:4px}svg{max-width:100%;height:auto}"
	"table{border-collapse:collapse;margin:8px 0}td,th{border-bottom:1px solid #eee;padding:2px 8px;"
	"text-align:left;vertical-align:top}td.n{text-align:right;font-variant-numeric:tabular-nums}"
	"details{margin:8px 0}code{background:#f3f3f3;padding:0 3px}figure.example{display:inline-block;width:170px;"
	"margin:0 6px 6px 0;font-size:11px;overflow-wrap:anywhere}figure.example figcaption{font-weight:normal}"
	"img.thumb{display:block}";

/* The page being written; the first error sticks. */
struct pg {
	buf *b;
	int rc;
	store *s;
	img_ctx *img;
	const report_opts *o;
	char *err;
	size_t errlen;
};

static void put(struct pg *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct pg *p, const char *fmt, ...)
{
	if (p->rc)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	p->rc = n < 0 ? NATADV_EINVAL : buf_reserve(p->b, (size_t)n + 1);
	if (p->rc)
		return;
	va_start(ap, fmt);
	vsnprintf(p->b->data + p->b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	p->b->len += (size_t)n;
}

static void esc(struct pg *p, const char *s)
{
	if (!p->rc)
		p->rc = html_escape(p->b, s ? s : "");
}

static const char *str(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

static json_int_t num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* A table cell with the number at path (printf-style) in the JSON object:
 * integers with thousands separators, reals with 3 decimals, null as "–". */
static void cell(struct pg *p, const json_t *v, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cell(struct pg *p, const json_t *v, const char *fmt, ...)
{
	char path[256], n[32];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(path, sizeof path, fmt, ap);
	va_end(ap);
	put(p, "<td class=\"n\" data-json=\"");
	esc(p, path);
	if (json_is_integer(v))
		put(p, "\">%s</td>", fmt_thousands(json_integer_value(v), n));
	else if (json_is_real(v))
		put(p, "\">%.3f</td>", json_real_value(v));
	else
		put(p, "\">\xe2\x80\x93</td>");
}

static void text_cell(struct pg *p, const char *s)
{
	put(p, "<td>");
	esc(p, s);
	put(p, "</td>");
}

static void base64(struct pg *p, const unsigned char *d, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	if (!p->rc)
		p->rc = buf_reserve(p->b, (n + 2) / 3 * 4);
	for (size_t i = 0; !p->rc && i < n; i += 3) {
		unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
		char q[4] = {tab[v >> 18 & 63], tab[v >> 12 & 63], i + 1 < n ? tab[v >> 6 & 63] : '=',
		             i + 2 < n ? tab[v & 63] : '='};
		p->rc = buf_append(p->b, q, 4);
	}
}

/* An <img> with a thumbnail of the stored image hash, or a note when it
 * cannot be read (a page is still worth having without it). */
static void thumb(struct pg *p, const char *hash)
{
	buf path, data, jpg;
	char err[256];
	buf_init(&path, 8192);
	buf_init(&data, BLOB_READ_MAX);
	buf_init(&jpg, 1 << 20);
	int rc = blob_path(store_objects_dir(p->s), hash, &path);
	if (!rc)
		rc = buf_read_file(&data, buf_cstr(&path), err, sizeof err);
	if (!rc)
		rc = img_thumb_jpeg(p->img, data.data, data.len, THUMB_SHORT, THUMB_LONG, THUMB_QUALITY, &jpg, err,
		                    sizeof err);
	if (rc) {
		put(p, "<span class=\"nothumb\">(image ");
		esc(p, hash);
		put(p, " unavailable)</span>");
	} else {
		put(p, "<img class=\"thumb\" alt=\"");
		esc(p, hash);
		put(p, "\" src=\"data:image/jpeg;base64,");
		base64(p, (const unsigned char *)jpg.data, jpg.len);
		put(p, "\">");
	}
	buf_release(&path);
	buf_release(&data);
	buf_release(&jpg);
}

/* A confusion's example: its thumbnail, its confidence, who made it and
 * under which licence, as text. */
static void example(struct pg *p, const json_t *ex)
{
	put(p, "<figure class=\"example\">");
	thumb(p, str(ex, "hash"));
	put(p, "<figcaption>%.3f \xc2\xb7 <span class=\"author\">", json_number_value(json_object_get(ex, "confidence")));
	esc(p, str(ex, "author"));
	put(p, "</span> \xc2\xb7 ");
	esc(p, str(ex, "license"));
	put(p, "<br><span class=\"url\">");
	esc(p, str(ex, "url"));
	put(p, "</span></figcaption></figure>");
}

/* Labels and values of a chart, taken from rows of a JSON array. */
struct series {
	size_t n, k;
	const char **labels;
	double *values;     /* n * k */
	char **owned;       /* labels made here, freed with the series */
};

static int series_init(struct series *s, size_t n, size_t k)
{
	s->n = n;
	s->k = k;
	s->labels = calloc(n ? n : 1, sizeof *s->labels);
	s->values = calloc(n * k + 1, sizeof *s->values);
	s->owned = calloc(n ? n : 1, sizeof *s->owned);
	return s->labels && s->values && s->owned ? 0 : NATADV_ENOMEM;
}

static void series_free(struct series *s)
{
	for (size_t i = 0; s->owned && i < s->n; i++)
		free(s->owned[i]);
	free(s->owned);
	free(s->labels);
	free(s->values);
}

/* Row i's label joined from two keys of the row: "a b" (or a alone). */
static void label2(struct series *s, size_t i, const json_t *row, const char *a, const char *sep, const char *b)
{
	const char *x = str(row, a), *y = b ? str(row, b) : "";
	size_t n = strlen(x) + strlen(sep) + strlen(y) + 1;
	s->owned[i] = malloc(n);
	if (s->owned[i])
		snprintf(s->owned[i], n, "%s%s%s", x, b ? sep : "", y);
	s->labels[i] = s->owned[i] ? s->owned[i] : x;
}

static void rows_chart_sep(struct pg *p, const char *id, const char *title, const json_t *rows, const char *key,
                           const char *key2, const char *sep, const char *const *vals, const char *const *names,
                           size_t k, int stacked, const char *value_label);

/* A bar chart of rows: label from key (or key + " " + key2), one series per
 * value key. */
static void rows_chart(struct pg *p, const char *id, const char *title, const json_t *rows, const char *key,
                       const char *key2, const char *const *vals, const char *const *names, size_t k,
                       int stacked, const char *value_label)
{
	rows_chart_sep(p, id, title, rows, key, key2, " \xe2\x86\x92 ", vals, names, k, stacked, value_label);
}

static void rows_chart_sep(struct pg *p, const char *id, const char *title, const json_t *rows, const char *key,
                           const char *key2, const char *sep, const char *const *vals, const char *const *names,
                           size_t k, int stacked, const char *value_label)
{
	struct series s;
	size_t n = json_array_size(rows);
	if (!p->rc)
		p->rc = series_init(&s, n, k);
	else
		return;
	for (size_t i = 0; !p->rc && i < n; i++) {
		const json_t *row = json_array_get(rows, i);
		label2(&s, i, row, key, sep, key2);
		for (size_t j = 0; j < k; j++)
			s.values[i * k + j] = json_number_value(json_object_get(row, vals[j]));
	}
	svg_bars c = {.id = id, .title = title, .n = n, .labels = s.labels, .nseries = k, .series = names,
	              .values = s.values, .horizontal = 1, .stacked = stacked, .value_label = value_label};
	if (!p->rc)
		p->rc = svg_bar_chart(p->b, &c);
	series_free(&s);
}

/* A table of rows: text columns then number columns (data-json paths
 * base/i/key). */
static void rows_table(struct pg *p, const char *base, const json_t *rows, const char *const *texts, size_t nt,
                       const char *const *nums, size_t nn, const char *const *heads)
{
	put(p, "<table><tr>");
	for (size_t j = 0; j < nt + nn; j++)
		put(p, "<th>%s</th>", heads[j]);
	put(p, "</tr>\n");
	size_t i;
	const json_t *row;
	json_array_foreach(rows, i, row) {
		put(p, "<tr>");
		for (size_t j = 0; j < nt; j++)
			text_cell(p, str(row, texts[j]));
		for (size_t j = 0; j < nn; j++)
			cell(p, json_object_get(row, nums[j]), "%s/%zu/%s", base, i, nums[j]);
		put(p, "</tr>\n");
	}
	put(p, "</table>\n");
}

static void card(struct pg *p, const char *label, const json_t *v, const char *path)
{
	char n[32];
	put(p, "<div class=\"card\">%s<b data-json=\"%s\">%s</b></div>", label, path,
	    fmt_thousands(json_integer_value(v), n));
}

static void page_header(struct pg *p, const json_t *d)
{
	const json_t *u = json_object_get(d, "urls");
	put(p, "<header><h1>natadv report</h1><p>class set <b class=\"set\">");
	esc(p, str(d, "set"));
	put(p, "</b>, target <span data-json=\"target\">%d</span> accepted images per class</p>"
	       "<div class=\"cards\">", (int)num(d, "target"));
	static const char *const keys[] = {"total", "pending", "fetched", "failed", "opted_out"};
	static const char *const names[] = {"urls", "pending", "fetched", "failed", "opted out"};
	for (size_t i = 0; i < 5; i++) {
		char path[64];
		snprintf(path, sizeof path, "urls/%s", keys[i]);
		card(p, names[i], json_object_get(u, keys[i]), path);
	}
	card(p, "images", json_object_get(d, "images"), "images");
	put(p, "</div></header>\n");
	json_int_t proposed = num(json_object_get(json_object_get(d, "funnel"), "total"), "proposed");
	if (num(u, "total") == 0)
		put(p, "<section class=\"empty\"><h2>Nothing crawled yet</h2><p>This workspace has no urls. Queue some "
		       "and fetch them first: <code>natadv crawl --seeds FILE</code> (or <code>natadv discover --source "
		       "inaturalist</code>, then <code>natadv crawl</code>); then <code>natadv score --model NAME</code>, "
		       "<code>natadv select --model NAME</code> and <code>natadv review --serve</code>. Run "
		       "<code>natadv report</code> again to see where the candidates went.</p></section>\n");
	else if (proposed == 0)
		put(p, "<section class=\"empty\"><h2>No proposals yet</h2><p>Score the images and select what the model "
		       "gets wrong: <code>natadv score --model NAME</code>, then <code>natadv select --model NAME "
		       "--set SET</code>.</p></section>\n");
}

/* qsort_r order of class indexes: shortfall (largest first), then label. */
static int by_shortfall(const void *a, const void *b, void *ctx)
{
	const json_t *x = json_array_get(ctx, *(const size_t *)a), *y = json_array_get(ctx, *(const size_t *)b);
	json_int_t d = num(y, "shortfall") - num(x, "shortfall");
	if (d)
		return d > 0 ? 1 : -1;
	return (num(x, "label") > num(y, "label")) - (num(x, "label") < num(y, "label"));
}

static const char *const stage_keys[] = {"discovered", "queued", "fetched", "valid", "scored",
                                         "proposed", "accepted", "released"};
#define NSTAGE (sizeof stage_keys / sizeof stage_keys[0])

/* Every class as a stacked bar (accepted, undecided, still missing to the
 * target), the class furthest from its target first. */
static void class_chart(struct pg *p, const json_t *classes, int target)
{
	static const char *const names[] = {"accepted", "proposed, undecided", "missing to the target"};
	size_t n = json_array_size(classes), *order = calloc(n ? n : 1, sizeof *order);
	struct series s;
	if (!p->rc)
		p->rc = order ? series_init(&s, n, 3) : NATADV_ENOMEM;
	if (p->rc) {
		free(order);
		return;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof *order, by_shortfall, (void *)classes);
	for (size_t i = 0; i < n; i++) {
		const json_t *row = json_array_get(classes, order[i]);
		label2(&s, i, row, "wnid", " ", "name");
		double acc = (double)num(row, "accepted");
		double und = (double)(num(row, "proposed") - num(row, "accepted") - num(row, "rejected"));
		double miss = target - acc - und;
		s.values[3 * i] = acc;
		s.values[3 * i + 1] = und;
		s.values[3 * i + 2] = miss > 0 ? miss : 0;
	}
	char title[128];
	snprintf(title, sizeof title, "Classes by shortfall from the target (%d accepted images)", target);
	svg_bars c = {.id = "classes", .title = title, .n = n, .labels = s.labels, .nseries = 3, .series = names,
	              .values = s.values, .horizontal = 1, .stacked = 1, .value_label = "images"};
	p->rc = svg_bar_chart(p->b, &c);
	series_free(&s);
	free(order);
}

static void page_funnel(struct pg *p, const json_t *d)
{
	const json_t *f = json_object_get(d, "funnel"), *total = json_object_get(f, "total");
	const json_t *classes = json_object_get(f, "classes");
	double v[NSTAGE];
	for (size_t k = 0; k < NSTAGE; k++)
		v[k] = (double)num(total, stage_keys[k]);
	static const char *const one[] = {"candidates"};
	svg_bars c = {.id = "funnel", .title = "Funnel: the classes of the set together", .n = NSTAGE,
	              .labels = (const char *const *)stage_keys, .nseries = 1, .series = one, .values = v,
	              .value_label = "candidates / images"};
	put(p, "<section id=\"funnel\"><h2>Funnel</h2><p>Candidates discovered (queued, or found by discover and not "
	       "queued) &#8594; queued &#8594; fetched (an answer with a body) &#8594; valid images after dedup "
	       "&#8594; scored &#8594; proposed by the selection in force &#8594; accepted in review &#8594; in the "
	       "latest release of the set.</p>\n");
	if (!p->rc)
		p->rc = svg_bar_chart(p->b, &c);
	put(p, "<table><tr>");
	for (size_t k = 0; k < NSTAGE; k++)
		put(p, "<th>%s</th>", stage_keys[k]);
	put(p, "<th>rejected</th></tr><tr>");
	for (size_t k = 0; k < NSTAGE; k++)
		cell(p, json_object_get(total, stage_keys[k]), "funnel/total/%s", stage_keys[k]);
	cell(p, json_object_get(total, "rejected"), "funnel/total/rejected");
	put(p, "</tr></table>\n");
	static const char *const dv[] = {"discovered", "queued"};
	rows_chart(p, "sources-discovered", "Candidates by source", json_object_get(d, "discovered"), "source", NULL,
	           dv, dv, 2, 0, "candidates");
	class_chart(p, classes, (int)num(d, "target"));
	static const char *const texts[] = {"wnid", "name"};
	static const char *const nums[] = {"discovered", "queued", "fetched", "valid", "scored", "proposed",
	                                   "accepted", "rejected", "released", "shortfall"};
	static const char *const heads[] = {"wnid", "class", "discovered", "queued", "fetched", "valid", "scored",
	                                    "proposed", "accepted", "rejected", "released", "shortfall"};
	put(p, "<details><summary>Every class</summary>\n");
	rows_table(p, "funnel/classes", classes, texts, 2, nums, 10, heads);
	put(p, "</details></section>\n");
}

static void page_failures(struct pg *p, const json_t *d)
{
	const json_t *f = json_object_get(d, "failures");
	static const char *const urls[] = {"urls"};
	put(p, "<section id=\"failures\"><h2>Why urls failed</h2><p>Urls that failed or opted out, by the reason "
	       "of their last attempt: an HTTP status, a timeout, an invalid image (the validator says why), too "
	       "small, too large, robots.txt or X-Robots-Tag, a private address.</p>\n");
	rows_chart(p, "failure-reasons", "Failed and opted-out urls by reason", json_object_get(f, "reasons"),
	           "reason", NULL, urls, urls, 1, 0, "urls");
	rows_table(p, "failures/reasons", json_object_get(f, "reasons"), (const char *const[]){"reason"}, 1, urls, 1,
	           (const char *const[]){"reason", "urls"});
	rows_chart(p, "failure-hosts", "The 20 hosts with most failures, by reason", json_object_get(f, "hosts"),
	           "host", NULL, report_kinds, report_kinds, REPORT_NKINDS, 1, "urls");
	put(p, "<h3>Most frequent messages</h3>\n");
	rows_table(p, "failures/errors", json_object_get(f, "errors"), (const char *const[]){"reason", "error"}, 2,
	           urls, 1, (const char *const[]){"reason", "message", "urls"});
	put(p, "</section>\n");
}

static void histogram(struct pg *p, const json_t *c, const char *id, const char *title,
                      const char *const *series, size_t k, const char *x_label)
{
	double counts[4 * REPORT_BINS];
	for (size_t j = 0; j < k; j++)
		for (size_t b = 0; b < REPORT_BINS; b++)
			counts[j * REPORT_BINS + b] = (double)json_integer_value(json_array_get(json_object_get(c, series[j]), b));
	svg_hist h = {.id = id, .title = title, .lo = 0, .hi = 1, .nbins = REPORT_BINS, .nseries = k,
	              .series = series, .counts = counts, .x_label = x_label};
	if (!p->rc)
		p->rc = svg_histogram(p->b, &h);
}

static void page_confidence(struct pg *p, const json_t *d)
{
	const json_t *c = json_object_get(d, "confidence");
	static const char *const dec[] = {"accepted", "rejected", "undecided"}, *const tp[] = {"true_prob"};
	put(p, "<section id=\"confidence\"><h2>Confidence</h2><p>Proposals of the selection in force.</p>\n");
	histogram(p, c, "confidence-pred", "Probability of the predicted class, by decision", dec, 3,
	          "probability of the predicted class");
	histogram(p, c, "confidence-true", "Probability of the true class", tp, 1, "probability of the true class");
	put(p, "<table><tr><th>bin</th><th>accepted</th><th>rejected</th><th>undecided</th><th>true class</th></tr>\n");
	for (size_t b = 0; b < REPORT_BINS; b++) {
		put(p, "<tr><td>%.2f&#8211;%.2f</td>", (double)b / REPORT_BINS, (double)(b + 1) / REPORT_BINS);
		for (size_t j = 0; j < 4; j++) {
			const char *key = j < 3 ? dec[j] : tp[0];
			cell(p, json_array_get(json_object_get(c, key), b), "confidence/%s/%zu", key, b);
		}
		put(p, "</tr>\n");
	}
	put(p, "</table></section>\n");
}

static void page_confusions(struct pg *p, const json_t *d)
{
	const json_t *rows = json_object_get(d, "confusions");
	static const char *const vals[] = {"proposals", "accepted"};
	put(p, "<section id=\"confusions\"><h2>Confusions</h2><p>The 30 most frequent (true class &#8594; predicted "
	       "class) pairs among the proposals, with their most confident examples.</p>\n");
	rows_chart(p, "confusions", "True class \xe2\x86\x92 predicted class", rows, "name", "pred_name", vals, vals, 2,
	           0, "proposals");
	put(p, "<table><tr><th>true class</th><th>predicted</th><th>proposals</th><th>accepted</th>"
	       "<th>examples</th></tr>\n");
	size_t i;
	const json_t *row;
	json_array_foreach(rows, i, row) {
		put(p, "<tr><td>");
		esc(p, str(row, "wnid"));
		put(p, " ");
		esc(p, str(row, "name"));
		put(p, "</td><td>");
		esc(p, str(row, "pred_wnid"));
		put(p, " ");
		esc(p, str(row, "pred_name"));
		put(p, "</td>");
		cell(p, json_object_get(row, "proposals"), "confusions/%zu/proposals", i);
		cell(p, json_object_get(row, "accepted"), "confusions/%zu/accepted", i);
		put(p, "<td>");
		const json_t *ex = json_object_get(row, "examples");
		for (size_t k = 0; k < json_array_size(ex) && (int)k < p->o->thumbs; k++)
			example(p, json_array_get(ex, k));
		put(p, "</td></tr>\n");
	}
	put(p, "</table></section>\n");
}

static void page_sources(struct pg *p, const json_t *d)
{
	static const char *const vals[] = {"images", "accepted"};
	static const char *const names[] = {"images", "accepted images"};
	static const char *const heads[] = {"name", "images", "accepted images"};
	static const char *const name[] = {"name"};
	put(p, "<section id=\"sources\"><h2>Sources and licences</h2><p>Over the set's classes, by where the url "
	       "came from and its licence: each class's images (under the first url that gave the image "
	       "that class) and the images accepted.</p>\n");
	rows_chart(p, "sources", "By source", json_object_get(d, "sources"), "name", NULL, vals, names, 2, 0,
	           "images");
	rows_table(p, "sources", json_object_get(d, "sources"), name, 1, vals, 2, heads);
	rows_chart(p, "licenses", "By licence", json_object_get(d, "licenses"), "name", NULL, vals, names, 2, 0,
	           "images");
	rows_table(p, "licenses", json_object_get(d, "licenses"), name, 1, vals, 2, heads);
	put(p, "</section>\n");
}

static void page_reviewers(struct pg *p, const json_t *d)
{
	const json_t *rows = json_object_get(d, "reviewers");
	static const char *const vals[] = {"accepts", "rejects", "undos"};
	static const char *const texts[] = {"reviewer", "mode"};
	static const char *const nums[] = {"reviews", "accepts", "rejects", "undos", "accept_rate", "median_seconds"};
	static const char *const heads[] = {"reviewer", "mode", "reviews", "accepts", "rejects", "undos",
	                                    "accept rate", "median s per decision (page)"};
	put(p, "<section id=\"reviewers\"><h2>Reviewers</h2>\n");
	rows_chart_sep(p, "reviewers", "Decisions per reviewer and mode", rows, "reviewer", "mode", ", ", vals, vals, 3,
	               1, "decisions");
	rows_table(p, "reviewers", rows, texts, 2, nums, 6, heads);
	put(p, "</section>\n");
}

static void page_runs(struct pg *p, const json_t *d)
{
	const json_t *rows = json_object_get(d, "runs");
	size_t n = json_array_size(rows);
	struct series s;
	double *end = calloc(n ? n : 1, sizeof *end);
	if (!p->rc)
		p->rc = end ? series_init(&s, n, 1) : NATADV_ENOMEM;
	if (p->rc) {
		free(end);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *row = json_array_get(rows, i);
		char id[32];
		snprintf(id, sizeof id, "#%lld ", (long long)num(row, "id"));
		s.owned[i] = malloc(strlen(id) + strlen(str(row, "command")) + 1);
		if (s.owned[i])
			snprintf(s.owned[i], strlen(id) + strlen(str(row, "command")) + 1, "%s%s", id, str(row, "command"));
		s.labels[i] = s.owned[i] ? s.owned[i] : "";
		s.values[i] = (double)num(row, "started_ms") / 1000;
		end[i] = s.values[i] + json_number_value(json_object_get(row, "seconds"));
	}
	svg_timeline t = {.id = "runs", .title = "Every command run on the workspace (the latest 300)", .n = n,
	                  .labels = s.labels, .start = s.values, .end = end, .x_label = "seconds since the first run shown"};
	put(p, "<section id=\"runs\"><h2>Runs</h2>\n");
	if (!p->rc)
		p->rc = svg_timeline_chart(p->b, &t);
	static const char *const texts[] = {"command", "started_at"};
	static const char *const nums[] = {"id", "status", "seconds", "urls", "images", "urls_per_s", "images_per_s"};
	static const char *const heads[] = {"command", "started", "run", "exit status", "seconds", "urls", "images",
	                                    "urls/s", "images/s"};
	put(p, "<details><summary>Every run shown</summary>\n");
	rows_table(p, "runs", rows, texts, 2, nums, 7, heads);
	put(p, "</details></section>\n");
	series_free(&s);
	free(end);
}


int report_html(store *s, const json_t *data, const report_opts *o, buf *out, char *err, size_t errlen)
{
	struct pg p = {.b = out, .s = s, .o = o, .err = err, .errlen = errlen, .img = img_ctx_new()};
	if (!p.img) {
		natadv_errf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	put(&p, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	        "<title>natadv report: ");
	esc(&p, str(data, "set"));
	put(&p, "</title><style>%s</style></head><body>\n", CSS);
	page_header(&p, data);
	page_funnel(&p, data);
	page_failures(&p, data);
	page_confidence(&p, data);
	page_confusions(&p, data);
	page_sources(&p, data);
	page_reviewers(&p, data);
	page_runs(&p, data);
	put(&p, "<footer><p>written by natadv %s</p></footer>\n</body></html>\n", NATADV_VERSION);
	img_ctx_free(p.img);
	if (p.rc)
		natadv_errf(err, errlen, "cannot write the report page: %s", natadv_strerror(p.rc));
	return p.rc;
}
