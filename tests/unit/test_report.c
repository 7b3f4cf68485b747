/* test_report.c — the report's chart writer against golden files
 * (the .svg files in tests/golden/report/, compared byte for byte): nice axis ticks, an
 * empty chart, one bar, 200 bars, grouped and stacked bars, a histogram and
 * a timeline; and the HTML escaper every text of the page goes through.
 * NATADV_UPDATE_GOLDEN=1 rewrites the golden files (then review the diff). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/html.h"
#include "report/svg.h"
#include "tests/t.h"

#define GOLDEN "tests/golden/report/"

/* Compares b with the golden file name (or rewrites it when asked). */
static void check_golden(const char *name, buf *b)
{
	char path[256], err[256];
	snprintf(path, sizeof path, GOLDEN "%s", name);
	const char *update = getenv("NATADV_UPDATE_GOLDEN");
	if (update && strcmp(update, "1") == 0) {
		FILE *f = fopen(path, "wb");
		T_CHECK(f != NULL);
		if (f) {
			T_EQ_INT(fwrite(b->data, 1, b->len, f), b->len);
			fclose(f);
		}
		return;
	}
	buf want;
	buf_init(&want, 1 << 24);
	int rc = buf_read_file(&want, path, err, sizeof err);
	if (rc)
		fprintf(stderr, "%s (run tests from the repo root)\n", err);
	T_EQ_INT(rc, 0);
	T_EQ_INT(b->len, want.len);
	int same = b->len == want.len && memcmp(b->data, want.data, b->len) == 0;
	if (!same)
		fprintf(stderr, "%s differs from what the chart writer gives now\n", path);
	T_CHECK(same);
	buf_release(&want);
}

/* How many times needle occurs in b. */
static int count(buf *b, const char *needle)
{
	int n = 0;
	for (const char *p = buf_cstr(b); (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void check_ticks(double lo, double hi, int max, const char *want, double want_step)
{
	double t[32], step;
	int n = svg_nice_ticks(lo, hi, max, t, 32, &step);
	char got[256] = "";
	for (int i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof got - strlen(got), "%s%g", i ? " " : "", t[i]);
	T_EQ_STR(got, want);
	T_CHECK(step == want_step);
}

static void test_ticks(void)
{
	check_ticks(0, 10, 6, "0 2 4 6 8 10", 2);
	check_ticks(0, 7, 6, "0 2 4 6 8", 2);
	check_ticks(0, 1, 6, "0 0.2 0.4 0.6 0.8 1", 0.2);
	check_ticks(0, 0, 6, "0 0.2 0.4 0.6 0.8 1", 0.2);    /* nothing: 0..1 */
	check_ticks(0, 1234567, 6, "0 500000 1e+06 1.5e+06", 500000);
	check_ticks(0, 3, 6, "0 1 2 3", 1);
	check_ticks(-3, 7, 6, "-4 -2 0 2 4 6 8", 2);
	check_ticks(0.13, 0.87, 6, "0 0.2 0.4 0.6 0.8 1", 0.2);
	check_ticks(0, 95, 6, "0 20 40 60 80 100", 20);
	check_ticks(0, 1, 11, "0 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 1", 0.1);
}

static void test_escape(void)
{
	buf b;
	buf_init(&b, 1024);
	T_EQ_INT(html_escape(&b, "<script>alert('x')</script> & \"q\"\x01\n"), 0);
	T_EQ_STR(buf_cstr(&b), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;\xef\xbf\xbd\n");
	buf_reset(&b);
	T_EQ_INT(html_escape(&b, NULL), 0);
	T_EQ_INT(b.len, 0);
	buf_release(&b);
}

static void test_empty(void)
{
	buf b;
	buf_init(&b, 1 << 20);
	svg_bars c = {.id = "empty", .title = "nothing <yet>", .n = 0, .nseries = 1};
	T_EQ_INT(svg_bar_chart(&b, &c), 0);
	svg_hist h = {.id = "hist-empty", .title = "no proposals", .lo = 0, .hi = 1, .nbins = 0, .nseries = 0};
	T_EQ_INT(svg_histogram(&b, &h), 0);
	svg_timeline t = {.id = "runs-empty", .title = "no runs", .n = 0};
	T_EQ_INT(svg_timeline_chart(&b, &t), 0);
	T_EQ_INT(count(&b, "class=\"mark\""), 0);
	T_EQ_INT(count(&b, ">no data<"), 3);
	T_EQ_INT(count(&b, "nothing &lt;yet&gt;"), 1);
	check_golden("empty.svg", &b);
	buf_release(&b);
}

static void test_one_bar(void)
{
	buf b;
	buf_init(&b, 1 << 20);
	const char *labels[] = {"<b>tench</b> & \"friends\""}, *series[] = {"images"};
	double v[] = {7};
	svg_bars c = {.id = "one", .title = "one bar", .n = 1, .labels = labels, .nseries = 1, .series = series,
	              .values = v, .value_label = "images"};
	T_EQ_INT(svg_bar_chart(&b, &c), 0);
	c.id = "one-h";
	c.horizontal = 1;
	T_EQ_INT(svg_bar_chart(&b, &c), 0);
	/* counts of 0 and 1: whole-number ticks only (0 and 1), not 0.2 steps */
	const char *two[] = {"none", "one"};
	double counts[] = {0, 1};
	svg_bars k = {.id = "counts", .title = "small counts", .n = 2, .labels = two, .nseries = 1, .series = series,
	              .values = counts, .horizontal = 1};
	size_t before = b.len;
	T_EQ_INT(svg_bar_chart(&b, &k), 0);
	T_CHECK(strstr(b.data + before, ">0.2<") == NULL);
	T_CHECK(strstr(b.data + before, "text-anchor=\"middle\">1</text>") != NULL);
	T_EQ_INT(count(&b, "class=\"mark\""), 3);
	T_EQ_INT(count(&b, "<b>"), 0);
	check_golden("one_bar.svg", &b);
	buf_release(&b);
}

static void test_200_bars(void)
{
	buf b;
	buf_init(&b, 1 << 22);
	static char names[200][64];
	const char *labels[200], *series[] = {"accepted", "proposed, undecided", "still missing"};
	static double v[600];
	for (int i = 0; i < 200; i++) {
		/* long names are cut on a character boundary (é is two bytes) */
		snprintf(names[i], sizeof names[i], "n%08d caf\xc3\xa9 class number %d of many", 1440764 + i, i);
		labels[i] = names[i];
		v[3 * i] = i % 50;
		v[3 * i + 1] = (i * 7) % 13;
		v[3 * i + 2] = i % 3 == 0 ? 0 : 50 - i % 50;
	}
	svg_bars c = {.id = "funnel", .title = "200 classes", .n = 200, .labels = labels, .nseries = 3,
	              .series = series, .values = v, .horizontal = 1, .stacked = 1, .value_label = "images"};
	T_EQ_INT(svg_bar_chart(&b, &c), 0);
	int marks = 0;
	for (int i = 0; i < 600; i++)
		marks += v[i] > 0;
	T_EQ_INT(count(&b, "class=\"mark\""), marks);
	/* the same values side by side, vertical */
	svg_bars g = c;
	g.id = "grouped";
	g.n = 12;
	g.horizontal = 0;
	g.stacked = 0;
	T_EQ_INT(svg_bar_chart(&b, &g), 0);
	check_golden("200_bars.svg", &b);
	buf_release(&b);
}

static void test_histogram_timeline(void)
{
	buf b;
	buf_init(&b, 1 << 20);
	const char *series[] = {"accepted", "rejected", "undecided"};
	double counts[60] = {0};
	for (int i = 0; i < 20; i++) {
		counts[i] = i >= 10 ? i - 9 : 0;
		counts[20 + i] = i % 4;
		counts[40 + i] = i > 15 ? 2 : 0;
	}
	svg_hist h = {.id = "confidence", .title = "confidence", .lo = 0, .hi = 1, .nbins = 20, .nseries = 3,
	              .series = series, .counts = counts, .x_label = "probability of the predicted class"};
	T_EQ_INT(svg_histogram(&b, &h), 0);
	const char *labels[] = {"#1 init", "#2 crawl", "#3 score <fast>", "#4 stats"};
	double start[] = {100, 101.5, 130, 180}, end[] = {100.2, 129, 175.25, 179}; /* the last one: a point */
	svg_timeline t = {.id = "runs", .title = "runs", .n = 4, .labels = labels, .start = start, .end = end,
	                  .x_label = "seconds since the first run"};
	T_EQ_INT(svg_timeline_chart(&b, &t), 0);
	T_EQ_INT(count(&b, "class=\"mark\""), 10 + 15 + 4 + 4);
	check_golden("histogram_timeline.svg", &b);
	buf_release(&b);
}

int main(void)
{
	T_RUN(test_ticks);
	T_RUN(test_escape);
	T_RUN(test_empty);
	T_RUN(test_one_bar);
	T_RUN(test_200_bars);
	T_RUN(test_histogram_timeline);
	return T_DONE();
}
