/* test_discover.c — the discover module without a network: queries from
 * WordNet names, licence normalisation and filters, HTML stripping, request
 * URLs, and each source's parser on fixture bodies with the real shape of
 * its API (tests/fixtures/discover/<source>/), good and broken. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "crawler/discover.h"
#include "tests/t.h"

#define FIX "tests/fixtures/discover/"

/* Parses the fixture file with src as the answer to page (NULL = first);
 * returns the parser's code, err gets its message. */
static int parse_file(const disc_source *src, const char *name, const char *page, int page_size, disc_page *p,
                      char *err, size_t errlen)
{
	buf b;
	buf_init(&b, DISC_MAX_BODY);
	char path[256];
	snprintf(path, sizeof path, FIX "%s", name);
	int rc = buf_read_file(&b, path, err, errlen);
	T_EQ_INT(rc, 0);
	disc_req r = {"q", 0, page, page_size, DISC_LIC_DEFAULT, NULL};
	memset(p, 0, sizeof *p);
	err[0] = '\0';
	if (!rc)
		rc = src->parse(b.data ? b.data : "", b.len, &r, p, err, errlen);
	buf_release(&b);
	return rc;
}

static void check_queries(const char *names, const char *tmpl, const char *common, const char *sci)
{
	char *c = NULL, *s = NULL;
	T_EQ_INT(disc_class_queries(names, tmpl, &c, &s), 0);
	T_EQ_STR(c, common);
	if (sci)
		T_EQ_STR(s, sci);
	else
		T_CHECK(s == NULL);
	free(c);
	free(s);
}

static void test_queries(void)
{
	check_queries("goldfinch, Carduelis carduelis", NULL, "goldfinch", "Carduelis carduelis");
	check_queries("junco, snowbird", NULL, "junco", NULL);
	check_queries("robin, American robin, Turdus migratorius", NULL, "robin", "Turdus migratorius");
	check_queries("great white shark, white shark, man-eater, man-eating shark, Carcharodon carcharias", NULL,
	              "great white shark", "Carcharodon carcharias");
	check_queries("stingray", NULL, "stingray", NULL);
	check_queries("Granny Smith", NULL, "Granny Smith", NULL);
	check_queries("Siamese cat, Siamese", NULL, "Siamese cat", NULL);
	check_queries("tench, Tinca tinca", "photo of {name} in the wild", "photo of tench in the wild", "Tinca tinca");
	char *c = NULL, *s = NULL;
	T_EQ_INT(disc_class_queries("tench, Tinca tinca", "no placeholder", &c, &s), NATADV_EINVAL);
	T_EQ_INT(disc_class_queries(" , Tinca tinca", NULL, &c, &s), NATADV_EINVAL);
	T_CHECK(c == NULL && s == NULL);
}

static void check_license(const char *raw, const char *def, const char *want)
{
	char out[64];
	const char *got = disc_license_norm(raw, def, out, sizeof out);
	if (want) {
		T_EQ_STR(got, want);
	} else if (got) {
		fprintf(stderr, "'%s' normalised to '%s', expected unknown\n", raw, got);
		T_CHECK(got == NULL);
	}
}

static void test_licenses(void)
{
	check_license("CC BY-SA 4.0", NULL, "cc-by-sa-4.0");
	check_license("CC BY 3.0 DE", NULL, "cc-by-3.0-de");
	check_license("CC BY-SA 2.5,2.0,1.0", NULL, "cc-by-sa-2.5");
	check_license("by 2.0", NULL, "cc-by-2.0");
	check_license("by-nc-sa 4.0", NULL, "cc-by-nc-sa-4.0");
	check_license("cc-by", "4.0", "cc-by-4.0");
	check_license("cc-by-nd", NULL, "cc-by-nd");
	check_license("cc0", "4.0", "cc0-1.0");
	check_license("CC0", NULL, "cc0-1.0");
	check_license("cc0 1.0", NULL, "cc0-1.0");
	check_license("Public domain", NULL, "pdm");
	check_license("pdm 1.0", NULL, "pdm");
	check_license("https://creativecommons.org/licenses/by-sa/3.0/", NULL, "cc-by-sa-3.0");
	check_license("http://creativecommons.org/publicdomain/zero/1.0/", NULL, "cc0-1.0");
	check_license("all rights reserved", NULL, "all-rights-reserved");
	check_license("sampling+ 1.0", NULL, NULL);
	check_license("GFDL", NULL, NULL);
	check_license("CC BY-SA 4.0 and more", NULL, NULL);
	check_license("by-sa-4.0-x", NULL, NULL);
	check_license("", NULL, NULL);
	check_license(NULL, NULL, NULL);
	T_EQ_INT(disc_license_family("cc-by-sa-4.0"), DISC_LIC_BY_SA);
	T_EQ_INT(disc_license_family("cc-by-2.0"), DISC_LIC_BY);
	T_EQ_INT(disc_license_family("cc-by"), DISC_LIC_BY);
	T_EQ_INT(disc_license_family("cc-by-nc-sa-2.0"), DISC_LIC_BY_NC_SA);
	T_EQ_INT(disc_license_family("cc-by-3.0-de"), DISC_LIC_BY);
	T_EQ_INT(disc_license_family("cc0-1.0"), DISC_LIC_CC0);
	T_EQ_INT(disc_license_family("pdm"), DISC_LIC_PDM);
	T_EQ_INT(disc_license_family("all-rights-reserved"), 0);
	T_EQ_INT(disc_license_family("cc-bysa"), 0);
	T_EQ_INT(disc_license_family(NULL), 0);
	unsigned m;
	char err[256];
	T_EQ_INT(disc_license_parse("cc0,pdm,by,by-sa", &m, err, sizeof err), 0);
	T_EQ_INT(m, DISC_LIC_DEFAULT);
	T_EQ_INT(disc_license_parse(" CC-BY-NC , by-nd", &m, err, sizeof err), 0);
	T_EQ_INT(m, DISC_LIC_BY_NC | DISC_LIC_BY_ND);
	T_EQ_INT(disc_license_parse("all", &m, err, sizeof err), 0);
	T_EQ_INT(m, 0xff);
	T_EQ_INT(disc_license_parse("by,gpl", &m, err, sizeof err), NATADV_EINVAL);
	T_CHECK(strstr(err, "unknown licence 'gpl'") != NULL);
	T_EQ_INT(disc_license_parse("", &m, err, sizeof err), NATADV_EINVAL);
}

static void check_strip(const char *html, const char *want)
{
	buf b;
	buf_init(&b, 4096);
	T_EQ_INT(disc_strip_html(html, &b), 0);
	T_EQ_STR(buf_cstr(&b), want);
	buf_release(&b);
}

static void test_strip_html(void)
{
	check_strip("<a href=\"//commons.wikimedia.org/wiki/User:X\" title=\"User:X\">Jane Doe</a>", "Jane Doe");
	check_strip("  Jane&#160;&amp;\n <b>Jo</b>hn &lt;x&gt; ", "Jane & John <x>");
	check_strip("Caf&#xE9; &#233;t&eacute;", "Caf\xc3\xa9 \xc3\xa9t&eacute;");
	check_strip("a<br>b<br/>c", "a b c");
	check_strip("unclosed <span class=", "unclosed");
	check_strip("&#0; &#99999999;", "\xef\xbf\xbd \xef\xbf\xbd");
	check_strip("", "");
}

static void test_build(void)
{
	buf u;
	buf_init(&u, 65536);
	disc_req r = {"goldfinch & co", 0, NULL, 20, DISC_LIC_DEFAULT, NULL};
	T_EQ_INT(disc_openverse.build("https://api.openverse.org", &r, &u), 0);
	T_EQ_STR(buf_cstr(&u), "https://api.openverse.org/v1/images/?q=goldfinch%20%26%20co"
	                       "&license=cc0%2Cpdm%2Cby%2Cby-sa&page=1&page_size=20");
	buf_reset(&u);
	r.query = "Carduelis carduelis";
	r.scientific = 1;
	r.page = "3";
	T_EQ_INT(disc_inaturalist.build("https://api.inaturalist.org", &r, &u), 0);
	T_EQ_STR(buf_cstr(&u), "https://api.inaturalist.org/v1/observations?taxon_name=Carduelis%20carduelis"
	                       "&photos=true&quality_grade=research&photo_license=cc0%2Ccc-by%2Ccc-by-sa&page=3&per_page=20");
	buf_reset(&u);
	r.page = "{\"continue\":\"gsroffset||\",\"gsroffset\":20}";
	T_EQ_INT(disc_wikimedia.build("https://commons.wikimedia.org", &r, &u), 0);
	T_CHECK(strstr(buf_cstr(&u), "gsrsearch=Carduelis%20carduelis%20filetype%3Abitmap") != NULL);
	T_CHECK(strstr(buf_cstr(&u), "&continue=gsroffset%7C%7C&gsroffset=20") != NULL);
	buf_reset(&u);
	r.page = "not json";
	T_EQ_INT(disc_wikimedia.build("https://commons.wikimedia.org", &r, &u), NATADV_EINVAL);
	buf_reset(&u);
	r.page = NULL;
	r.api_key = "s3cret";
	T_EQ_INT(disc_flickr.build("https://api.flickr.com", &r, &u), 0);
	T_CHECK(strstr(buf_cstr(&u), "api_key=s3cret") != NULL);
	T_CHECK(strstr(buf_cstr(&u), "&license=9%2C10%2C4%2C5&") != NULL);
	buf_reset(&u);
	r.api_key = NULL;
	T_EQ_INT(disc_flickr.build("https://api.flickr.com", &r, &u), 0);
	T_CHECK(strstr(buf_cstr(&u), "api_key") == NULL);
	buf_release(&u);
	T_CHECK(disc_source_find("wikimedia") == &disc_wikimedia);
	T_CHECK(disc_source_find("google") == NULL);
}

static void test_openverse(void)
{
	disc_page p;
	char err[512];
	T_EQ_INT(parse_file(&disc_openverse, "openverse/goldfinch_1.json", NULL, 2, &p, err, sizeof err), 0);
	T_EQ_INT(p.n, 3);
	T_EQ_STR(p.next, "2");
	T_EQ_STR(p.items[0].source_id, "4bc43a04-ef46-4544-a0c1-63c63f56e276");
	T_EQ_STR(p.items[0].url, "{base}/gen/101.jpg");
	T_EQ_STR(p.items[0].page_url, "https://www.flickr.com/photos/12345678@N00/3456789012");
	T_EQ_STR(p.items[0].license, "cc-by-2.0");
	T_EQ_STR(p.items[0].license_raw, "by 2.0");
	T_EQ_STR(p.items[0].author, "Ann Example");
	T_EQ_STR(p.items[0].title, "American Goldfinch on a thistle");
	T_EQ_STR(p.items[0].mime, "image/jpeg");
	T_EQ_INT(p.items[0].width, 640);
	T_EQ_INT(p.items[0].height, 480);
	T_EQ_STR(p.items[1].license, "cc-by-nc-4.0");
	T_CHECK(p.items[1].mime == NULL);
	T_CHECK(p.items[2].license == NULL);
	T_EQ_STR(p.items[2].license_raw, "sampling+ 1.0");
	T_EQ_INT(p.items[2].width, 0);
	disc_page_release(&p);
	T_EQ_INT(parse_file(&disc_openverse, "openverse/goldfinch_3.json", "3", 2, &p, err, sizeof err), 0);
	T_EQ_INT(p.n, 1);
	T_CHECK(p.next == NULL);
	disc_page_release(&p);
	T_EQ_INT(parse_file(&disc_openverse, "openverse/empty.json", NULL, 2, &p, err, sizeof err), 0);
	T_EQ_INT(p.n, 0);
	T_CHECK(p.next == NULL);
	disc_page_release(&p);
	/* Openverse serves 20 pages deep at most */
	T_EQ_INT(parse_file(&disc_openverse, "openverse/endless.json", "20", 2, &p, err, sizeof err), 0);
	T_CHECK(p.next == NULL);
	disc_page_release(&p);
	T_EQ_INT(disc_openverse.parse("", 0, &(disc_req){"q", 0, NULL, 20, 0, NULL}, &p, err, sizeof err), NATADV_EFORMAT);
	T_EQ_STR(err, "empty response");
	T_EQ_INT(disc_openverse.parse("[1]", 3, &(disc_req){"q", 0, NULL, 20, 0, NULL}, &p, err, sizeof err),
	         NATADV_EFORMAT);
	T_EQ_STR(err, "a JSON array, not an object");
	disc_page_release(&p);
}

static void test_inaturalist(void)
{
	disc_page p;
	char err[512];
	T_EQ_INT(parse_file(&disc_inaturalist, "inaturalist/carduelis_1.json", NULL, 2, &p, err, sizeof err), 0);
	T_EQ_INT(p.n, 3);
	T_EQ_STR(p.next, "2");
	T_EQ_STR(p.items[0].url, "{base}/api/inat-photos/260001/large.jpg");
	T_EQ_STR(p.items[1].url, "{base}/api/inat-photos/260002/large.jpeg");
	T_EQ_STR(p.items[0].source_id, "260001");
	T_EQ_STR(p.items[0].license, "cc-by-4.0");
	T_EQ_STR(p.items[0].license_raw, "cc-by");
	T_EQ_STR(p.items[1].license, "cc-by-sa-4.0");
	/* the author is the user's name; the credit the licence asks for is the
	 * photo's attribution, verbatim */
	T_EQ_STR(p.items[0].author, "Fran Field");
	T_EQ_STR(p.items[0].attribution, "(c) Fran Field, some rights reserved (CC BY)");
	T_EQ_STR(p.items[1].attribution, "(c) Fran Field, some rights reserved (CC BY-SA)");
	T_EQ_STR(p.items[0].page_url, "https://www.inaturalist.org/observations/150001");
	T_EQ_STR(p.items[0].title, "Carduelis carduelis");
	T_EQ_STR(p.items[2].license, "all-rights-reserved");
	T_CHECK(p.items[2].license_raw == NULL);
	T_EQ_STR(p.items[2].author, "birder_bo");  /* no name: the login */
	T_EQ_STR(p.items[2].attribution, "(c) birder_bo, all rights reserved");
	disc_page_release(&p);
	T_EQ_INT(parse_file(&disc_inaturalist, "inaturalist/carduelis_2.json", "2", 2, &p, err, sizeof err), 0);
	T_EQ_INT(p.n, 1);
	T_CHECK(p.next == NULL);
	T_EQ_STR(p.items[0].license, "cc0-1.0");
	T_EQ_STR(p.items[0].author, "zeroes_zoe");
	T_EQ_STR(p.items[0].attribution, "no rights reserved");
	disc_page_release(&p);
	/* at most 10,000 results of one search: page 50 of 200 is the last */
	const char *big = "{\"total_results\": 99999, \"per_page\": 200, \"results\": []}";
	T_EQ_INT(disc_inaturalist.parse(big, strlen(big), &(disc_req){"q", 0, "49", 200, 0, NULL}, &p, err, sizeof err), 0);
	T_EQ_STR(p.next, "50");
	disc_page_release(&p);
	T_EQ_INT(disc_inaturalist.parse(big, strlen(big), &(disc_req){"q", 0, "50", 200, 0, NULL}, &p, err, sizeof err), 0);
	T_CHECK(p.next == NULL);
	disc_page_release(&p);
}

static void test_wikimedia(void)
{
	disc_page p;
	char err[512];
	T_EQ_INT(parse_file(&disc_wikimedia, "wikimedia/goldfinch_1.json", NULL, 2, &p, err, sizeof err), 0);
	T_EQ_INT(p.n, 2);
	T_EQ_STR(p.next, "{\"continue\":\"gsroffset||\",\"gsroffset\":2}");
	/* the search's order (index), not the page ids' */
	T_EQ_STR(p.items[0].source_id, "88002");
	T_EQ_STR(p.items[0].mime, "image/svg+xml");
	T_EQ_STR(p.items[0].title, "Goldfinch range map.svg");
	T_EQ_STR(p.items[1].source_id, "88001");
	T_EQ_STR(p.items[1].url, "{base}/img/hubble_deep_field.jpg?wm=88001");
	T_EQ_STR(p.items[1].page_url, "https://commons.wikimedia.org/wiki/File:Carduelis_carduelis_close_up.jpg");
	T_EQ_STR(p.items[1].author, "Jane Doe & J. Smith");
	T_EQ_STR(p.items[1].license, "cc-by-sa-4.0");
	T_EQ_STR(p.items[1].license_raw, "CC BY-SA 4.0");
	T_EQ_STR(p.items[1].title, "Carduelis carduelis close up");
	T_EQ_INT(p.items[1].width, 3000);
	disc_page_release(&p);
	T_EQ_INT(parse_file(&disc_wikimedia, "wikimedia/goldfinch_2.json", "{}", 2, &p, err, sizeof err), 0);
	T_EQ_INT(p.n, 1);
	T_CHECK(p.next == NULL);
	T_EQ_STR(p.items[0].license, "pdm");
	T_EQ_STR(p.items[0].license_raw, "Public domain");
	T_EQ_STR(p.items[0].author, "Unknown author");
	disc_page_release(&p);
	T_EQ_INT(parse_file(&disc_wikimedia, "wikimedia/repeat.json", NULL, 2, &p, err, sizeof err), 0);
	T_EQ_STR(p.items[0].license, "cc-by-3.0-de");
	T_EQ_STR(p.items[0].author, "Museum <Natur>");
	disc_page_release(&p);
	T_EQ_INT(parse_file(&disc_wikimedia, "wikimedia/no_results.json", NULL, 2, &p, err, sizeof err), 0);
	T_EQ_INT(p.n, 0);
	T_CHECK(p.next == NULL);
	disc_page_release(&p);
}

static void test_flickr(void)
{
	disc_page p;
	char err[512];
	T_EQ_INT(parse_file(&disc_flickr, "flickr/goldfinch_1.json", NULL, 4, &p, err, sizeof err), 0);
	T_EQ_INT(p.n, 4);
	T_EQ_STR(p.next, "2");
	T_EQ_STR(p.items[0].source_id, "53012345678");
	T_EQ_STR(p.items[0].page_url, "https://www.flickr.com/photos/12345678@N01/53012345678");
	T_EQ_STR(p.items[0].license, "cc-by-2.0");
	T_EQ_STR(p.items[0].license_raw, "4");
	T_EQ_STR(p.items[0].author, "Gus Grey");
	T_EQ_INT(p.items[0].width, 1024);
	T_EQ_STR(p.items[1].license, "all-rights-reserved");
	T_EQ_INT(p.items[1].height, 768);
	T_CHECK(p.items[2].url == NULL);
	T_CHECK(p.items[3].license == NULL);
	T_EQ_STR(p.items[3].license_raw, "99");
	disc_page_release(&p);
	T_EQ_INT(parse_file(&disc_flickr, "flickr/goldfinch_2.json", "2", 4, &p, err, sizeof err), 0);
	T_EQ_INT(p.n, 1);
	T_CHECK(p.next == NULL);
	T_EQ_STR(p.items[0].license, "cc0-1.0");
	T_EQ_STR(p.items[0].license_raw, "9");
	T_EQ_STR(p.items[0].url, "{base}/img/chelsea_prog.jpg?fl=53012345690");
	T_EQ_STR(p.items[0].author, "77777777@N05");
	disc_page_release(&p);
}

/* Every broken body is refused with a message that says what is wrong. */
static void test_bad_bodies(void)
{
	static const struct {
		const disc_source *src;
		const char *file, *err;  /* err: the message's start */
	} bad[] = {
		{&disc_openverse, "openverse/goldfinch_2_truncated.json", "malformed JSON at line 12 column 25"},
		{&disc_openverse, "openverse/wrong_type.json", "'results[0].url' is a number, expected a string"},
		{&disc_openverse, "openverse/missing_results.json", "'results' missing"},
		{&disc_openverse, "openverse/detail_error.json", "openverse says: \"Request was throttled"},
		{&disc_openverse, "openverse/error_page.html", "an HTML page, not JSON"},
		{&disc_inaturalist, "inaturalist/missing_photos.json", "results[0]: 'photos' missing"},
		{&disc_inaturalist, "inaturalist/error.json", "inaturalist says: "},
		{&disc_wikimedia, "wikimedia/maxlag.json", "wikimedia says: maxlag: Waiting for 10.64.48.23: 6 seconds lagged."},
		{&disc_wikimedia, "wikimedia/missing_imageinfo.json", "query.pages[\"5\"]: 'imageinfo' missing"},
		{&disc_flickr, "flickr/invalid_key.json", "flickr says: Invalid API Key (Key has invalid format) (code 100)"},
		{&disc_flickr, "flickr/wrong_type.json", "'photos.photo' is an object, expected an array"},
		{&disc_flickr, "openverse/goldfinch_1.json", "'stat' missing"},
		{&disc_inaturalist, "flickr/goldfinch_1.json", "'results' missing"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		disc_page p;
		char err[512];
		T_EQ_INT(parse_file(bad[i].src, bad[i].file, NULL, 20, &p, err, sizeof err), NATADV_EFORMAT);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0) {
			fprintf(stderr, "%s: '%s', expected '%s...'\n", bad[i].file, err, bad[i].err);
			T_CHECK(!"the message");
		}
		disc_page_release(&p);
	}
	/* an element of the wrong type in an array */
	disc_page p = {0};
	char err[256];
	const char *body = "{\"page_count\": 1, \"results\": [\"x\"]}";
	T_EQ_INT(disc_openverse.parse(body, strlen(body), &(disc_req){"q", 0, NULL, 20, 0, NULL}, &p, err, sizeof err),
	         NATADV_EFORMAT);
	T_EQ_STR(err, "'results[0]' is a string, expected an object");
	disc_page_release(&p);
}

static void count_source(void *ctx, const store_discover_stat *d)
{
	int64_t *v = ctx;
	v[0] = d->requests;
	v[1] = d->failed;
	v[2] = d->candidates;
	v[3] = d->queued;
	v[4] = d->not_queued;
}

static void count_skip(void *ctx, const char *source, const char *reason, const char *license, int64_t n)
{
	int64_t *v = ctx;
	(void)source;
	(void)license;
	if (strcmp(reason, "licence") == 0)
		v[5] += n;
}

/* The store side: where a query stands, candidates not queued, stats. */
static void test_store_side(void)
{
	char dir[] = "/tmp/natadv-test-discover.XXXXXX", ws[64], err[512];
	T_CHECK(mkdtemp(dir) != NULL);
	snprintf(ws, sizeof ws, "%s/ws", dir);
	store *s = NULL;
	T_EQ_INT(store_create(ws, &s, err, sizeof err), 0);
	if (!s)
		return;
	int64_t run = 0, q = 0, q2 = 0, id = 0;
	T_EQ_INT(store_run_begin(s, "discover", "test", &run), 0);
	T_EQ_INT(store_query_id(s, run, "openverse", "goldfinch", "n01531178", &q), 0);
	T_EQ_INT(store_query_id(s, run, "openverse", "goldfinch", "n01531178", &q2), 0);
	T_EQ_INT(q, q2);
	buf next;
	buf_init(&next, 1024);
	int state = -1;
	T_EQ_INT(store_api_resume(s, "openverse", "n01531178", q, &state, &next), 0);
	T_EQ_INT(state, 0);
	store_api_request a = {"openverse", q, "n01531178", "1", "http://x/?q=goldfinch", run, 1.0, 2.0, 200,
	                       "00", 2, 1, "2", "ok", NULL};
	T_EQ_INT(store_api_request_add(s, &a, &id), 0);
	a.page = "2";
	a.next_page = NULL;
	a.outcome = "retry"; /* a retried request is no place to resume from */
	T_EQ_INT(store_api_request_add(s, &a, NULL), 0);
	T_EQ_INT(store_api_resume(s, "openverse", "n01531178", q, &state, &next), 0);
	T_EQ_INT(state, 1);
	T_EQ_STR(buf_cstr(&next), "2");
	a.outcome = "failed";
	a.next_page = "";
	T_EQ_INT(store_api_request_add(s, &a, NULL), 0);
	buf_reset(&next);
	T_EQ_INT(store_api_resume(s, "openverse", "n01531178", q, &state, &next), 0);
	T_EQ_INT(state, 1);
	T_EQ_INT(next.len, 0);
	a.outcome = "ok";
	a.next_page = NULL;
	T_EQ_INT(store_api_request_add(s, &a, NULL), 0);
	T_EQ_INT(store_api_resume(s, "openverse", "n01531178", q, &state, &next), 0);
	T_EQ_INT(state, 2);
	store_candidate c = {.url = "http://a.example/1.jpg", .host = "http://a.example", .wnid = "n01531178",
	                     .source = "openverse", .query = "goldfinch", .license = "cc-by-nc-4.0",
	                     .source_id = "x1", .api_request_id = id};
	int added = -1;
	T_EQ_INT(store_discover_skip(s, run, &c, "licence", &added), 0);
	T_EQ_INT(added, 1);
	T_EQ_INT(store_discover_skip(s, run, &c, "licence", &added), 0);
	T_EQ_INT(added, 0);
	c.license = "cc-by-4.0";
	c.source_id = "x2";
	T_EQ_INT(store_candidate_add(s, run, &c, NULL, NULL), 0);
	int64_t n = 0;
	T_EQ_INT(store_discover_count(s, "openverse", "n01531178", &n), 0);
	T_EQ_INT(n, 1);
	T_EQ_INT(store_discover_count(s, "flickr", "n01531178", &n), 0);
	T_EQ_INT(n, 0);
	int64_t v[6] = {0};
	T_EQ_INT(store_discover_stats(s, count_source, count_skip, v), 0);
	T_EQ_INT(v[0], 4);
	T_EQ_INT(v[1], 1);
	T_EQ_INT(v[2], 4); /* the two ok rows, 2 candidates each */
	T_EQ_INT(v[3], 2);
	T_EQ_INT(v[4], 1);
	T_EQ_INT(v[5], 1);
	char *names = NULL;
	T_EQ_INT(store_class_names(s, "n01531178", &names), 0);
	T_EQ_STR(names, "goldfinch, Carduelis carduelis");
	free(names);
	T_EQ_INT(store_class_names(s, "n99999999", &names), NATADV_ENOTFOUND);
	buf_release(&next);
	store_close(s);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	T_EQ_INT(system(cmd), 0);
}

int main(void)
{
	T_RUN(test_queries);
	T_RUN(test_licenses);
	T_RUN(test_strip_html);
	T_RUN(test_build);
	T_RUN(test_openverse);
	T_RUN(test_inaturalist);
	T_RUN(test_wikimedia);
	T_RUN(test_flickr);
	T_RUN(test_bad_bodies);
	T_RUN(test_store_side);
	return T_DONE();
}
