/* test_robots.c — robots.txt grouping, precedence and matching: the
 * examples of RFC 9309 and of Google's robots.txt documentation, plus the
 * awkward inputs (CRLF, BOM, comments, oversized bodies, star storms). */
#include "common/err.h"
#include "crawler/robots.h"
#include "tests/t.h"

#include <stdlib.h>
#include <time.h>

static robots *parse(const char *body, const char *agent)
{
	robots *r = NULL;
	T_EQ_INT(robots_parse(body, strlen(body), agent, &r), 0);
	T_CHECK(r != NULL);
	return r;
}

/* Allowed for a one-group file holding rules (lines separated by '\n'). */
static int allowed(const char *rules, const char *path)
{
	char body[1024];
	snprintf(body, sizeof body, "user-agent: *\n%s\n", rules);
	robots *r = parse(body, "natadv");
	int a = robots_allowed(r, path);
	robots_free(r);
	return a;
}

#define ALLOWED(rules, path) T_EQ_INT(allowed(rules, path), 1)
#define DISALLOWED(rules, path) T_EQ_INT(allowed(rules, path), 0)

/* RFC 9309 section 5.1, with each product token in turn. */
static void test_rfc_example(void)
{
	static const char body[] =
		"User-Agent: *\n"
		"Disallow: *.gif$\n"
		"Disallow: /example/\n"
		"Allow: /publications/\n"
		"\n"
		"User-Agent: foobot\n"
		"Disallow:/\n"
		"Allow:/example/page.html\n"
		"Allow:/example/allowed.gif\n"
		"\n"
		"User-Agent: barbot\n"
		"User-Agent: bazbot\n"
		"Disallow: /example/page.html\n"
		"\n"
		"User-Agent: quxbot\n"
		"\n"
		"EOF\n";
	robots *r = parse(body, "foobot");
	T_EQ_INT(robots_allowed(r, "/example/page.html"), 1);
	T_EQ_INT(robots_allowed(r, "/example/allowed.gif"), 1);
	T_EQ_INT(robots_allowed(r, "/example/other.html"), 0);
	T_EQ_INT(robots_allowed(r, "/"), 0);
	T_EQ_INT(robots_allowed(r, "/robots.txt"), 1);
	robots_free(r);

	/* Token match is case-insensitive; both lines share one group. */
	r = parse(body, "BazBot");
	T_EQ_INT(robots_allowed(r, "/example/page.html"), 0);
	T_EQ_INT(robots_allowed(r, "/example/other.html"), 1);
	T_EQ_INT(robots_allowed(r, "/x.gif"), 1);
	robots_free(r);

	/* An empty group allows everything, and the '*' group is not used. */
	r = parse(body, "quxbot");
	T_EQ_INT(robots_allowed(r, "/example/page.html"), 1);
	T_EQ_INT(robots_allowed(r, "/a.gif"), 1);
	robots_free(r);

	r = parse(body, "natadv");
	T_EQ_INT(robots_allowed(r, "/a/b.gif"), 0);
	T_EQ_INT(robots_allowed(r, "/a/b.gif?x"), 1);
	T_EQ_INT(robots_allowed(r, "/example/"), 0);
	T_EQ_INT(robots_allowed(r, "/example"), 1);
	T_EQ_INT(robots_allowed(r, "/publications/x"), 1);
	/* "/publications/" (14 octets) beats "*.gif$" (6). */
	T_EQ_INT(robots_allowed(r, "/publications/x.gif"), 1);
	robots_free(r);
}

/* Google's documented precedence table. */
static void test_precedence(void)
{
	ALLOWED("allow: /p\ndisallow: /", "/page");
	ALLOWED("allow: /folder\ndisallow: /folder", "/folder/page");
	DISALLOWED("allow: /page\ndisallow: /*.htm", "/page.htm");
	ALLOWED("allow: /page\ndisallow: /*.ph", "/page.php5");
	ALLOWED("allow: /$\ndisallow: /", "/");
	DISALLOWED("allow: /$\ndisallow: /", "/page.htm");
	/* Order in the file does not matter. */
	ALLOWED("disallow: /\nallow: /p", "/page");
	ALLOWED("disallow: /folder\nallow: /folder", "/folder/page");
}

/* Google's documented path matching examples. */
static void test_google_paths(void)
{
	static const char *fish_yes[] = { "/fish", "/fish.html", "/fish/salmon.html",
	                                  "/fishheads", "/fishheads/yummy.html",
	                                  "/fish.php?id=anything" };
	static const char *fish_no[] = { "/Fish.asp", "/catfish", "/?id=fish", "/desert/fish" };
	for (size_t i = 0; i < sizeof fish_yes / sizeof *fish_yes; i++) {
		DISALLOWED("disallow: /fish", fish_yes[i]);
		DISALLOWED("disallow: /fish*", fish_yes[i]);
	}
	for (size_t i = 0; i < sizeof fish_no / sizeof *fish_no; i++) {
		ALLOWED("disallow: /fish", fish_no[i]);
		ALLOWED("disallow: /fish*", fish_no[i]);
	}
	DISALLOWED("disallow: /fish/", "/fish/");
	DISALLOWED("disallow: /fish/", "/fish/?id=anything");
	DISALLOWED("disallow: /fish/", "/fish/salmon.htm");
	ALLOWED("disallow: /fish/", "/fish");
	ALLOWED("disallow: /fish/", "/fish.html");
	ALLOWED("disallow: /fish/", "/animals/fish/");
	ALLOWED("disallow: /fish/", "/Fish/Salmon.asp");

	static const char *php_yes[] = { "/index.php", "/filename.php", "/folder/filename.php",
	                                 "/folder/filename.php?parameters",
	                                 "/folder/any.php.file.html", "/filename.php/" };
	for (size_t i = 0; i < sizeof php_yes / sizeof *php_yes; i++)
		DISALLOWED("disallow: /*.php", php_yes[i]);
	ALLOWED("disallow: /*.php", "/");
	ALLOWED("disallow: /*.php", "/windows.PHP");

	DISALLOWED("disallow: /*.php$", "/filename.php");
	DISALLOWED("disallow: /*.php$", "/folder/filename.php");
	ALLOWED("disallow: /*.php$", "/filename.php?parameters");
	ALLOWED("disallow: /*.php$", "/filename.php/");
	ALLOWED("disallow: /*.php$", "/filename.php5");
	ALLOWED("disallow: /*.php$", "/windows.PHP");

	DISALLOWED("disallow: /fish*.php", "/fish.php");
	DISALLOWED("disallow: /fish*.php", "/fishheads/catfish.php?parameters");
	ALLOWED("disallow: /fish*.php", "/Fish.PHP");

	/* '$' only anchors at the end; elsewhere it is a literal. */
	DISALLOWED("disallow: /a$b", "/a$b/c");
	ALLOWED("disallow: /a$b", "/ab");
	DISALLOWED("disallow: /", "/anything");
	ALLOWED("disallow:", "/anything");
	ALLOWED("disallow:   # nothing", "/anything");
	/* A query is part of what rules see. */
	DISALLOWED("disallow: /*?sessionid=", "/a/b?sessionid=1");
	ALLOWED("disallow: /*?sessionid=", "/a/b?x=1");
}

/* RFC 9309 2.2.2: percent-encoding is compared in normalised form. */
static void test_percent(void)
{
	DISALLOWED("disallow: /foo/bar?baz=quz", "/foo/bar?baz=quz");
	DISALLOWED("disallow: /foo/bar/\xE3\x83\x84", "/foo/bar/%E3%83%84");
	DISALLOWED("disallow: /foo/bar/%E3%83%84", "/foo/bar/%e3%83%84");
	DISALLOWED("disallow: /foo/bar/%e3%83%84", "/foo/bar/\xE3\x83\x84");
	DISALLOWED("disallow: /foo/bar/%62%61%7A", "/foo/bar/baz");
	DISALLOWED("disallow: /foo/bar/baz", "/foo/bar/%62%61%7A");
	DISALLOWED("disallow: /~joe", "/%7Ejoe/x");
	/* An encoded reserved character is not the character itself. */
	ALLOWED("disallow: /a/b", "/a%2Fb");
	ALLOWED("disallow: /a%2Fb", "/a/b");
	DISALLOWED("disallow: /a%2fb", "/a%2Fb");
	/* An encoded '*' is a literal star, not a wildcard. */
	ALLOWED("disallow: /a%2Ab", "/axxb");
	DISALLOWED("disallow: /a%2Ab", "/a%2ab");
	/* Spaces inside a value are encoded like the URL would be. */
	DISALLOWED("disallow: /a b", "/a%20b");
}

static void test_syntax(void)
{
	/* BOM, CRLF, bare CR, comments, odd spacing and case of keys. */
	robots *r = parse("\xEF\xBB\xBF# comment\r\n"
	                  "USER-AGENT : NatAdv # us\r\n"
	                  "disallow :/private   # comment\r"
	                  "Allow:\t/private/ok\t\r\n"
	                  "sitemap: http://x/sitemap.xml\r\n"
	                  "foo: bar\r\n"
	                  "no colon line\r\n",
	                  "natadv");
	T_EQ_INT(robots_allowed(r, "/private/x"), 0);
	T_EQ_INT(robots_allowed(r, "/private/ok/y"), 1);
	T_EQ_INT(robots_allowed(r, "/public"), 1);
	robots_free(r);

	/* Rules before any user-agent belong to no group. */
	r = parse("disallow: /a\nuser-agent: *\ndisallow: /b\n", "natadv");
	T_EQ_INT(robots_allowed(r, "/a"), 1);
	T_EQ_INT(robots_allowed(r, "/b"), 0);
	robots_free(r);

	/* Product tokens: "natadv/1.0" names us, "natadv-images" does not. */
	r = parse("user-agent: natadv/1.0\ndisallow: /a\n"
	          "user-agent: natadv-images\ndisallow: /b\n"
	          "user-agent: *\ndisallow: /c\n",
	          "natadv");
	T_EQ_INT(robots_allowed(r, "/a"), 0);
	T_EQ_INT(robots_allowed(r, "/b"), 1);
	T_EQ_INT(robots_allowed(r, "/c"), 1);
	robots_free(r);

	/* Several groups for us are merged; the '*' one is then ignored. */
	r = parse("user-agent: natadv\ndisallow: /a\n"
	          "user-agent: *\ndisallow: /\n"
	          "user-agent: other\nuser-agent: NATADV\ndisallow: /b\n",
	          "natadv");
	T_EQ_INT(robots_allowed(r, "/a"), 0);
	T_EQ_INT(robots_allowed(r, "/b"), 0);
	T_EQ_INT(robots_allowed(r, "/c"), 1);
	robots_free(r);

	/* A user-agent line after rules opens a new group. */
	r = parse("user-agent: natadv\ndisallow: /a\nuser-agent: other\ndisallow: /b\n",
	          "natadv");
	T_EQ_INT(robots_allowed(r, "/b"), 1);
	robots_free(r);

	/* Blank lines do not end a group (Google). */
	r = parse("user-agent: natadv\n\ndisallow: /a\n", "natadv");
	T_EQ_INT(robots_allowed(r, "/a"), 0);
	robots_free(r);

	/* Empty and absent files allow everything. */
	r = NULL;
	T_EQ_INT(robots_parse(NULL, 0, "natadv", &r), 0);
	T_EQ_INT(robots_allowed(r, "/x"), 1);
	T_EQ_INT(robots_allowed(r, ""), 1);
	robots_free(r);
	T_EQ_INT(robots_allowed(NULL, "/x"), 1);
	robots_free(NULL);
	T_EQ_INT(robots_parse(NULL, 5, "natadv", &r), NATADV_EINVAL);
	T_EQ_INT(robots_parse("", 0, NULL, &r), NATADV_EINVAL);

	/* robots.txt itself is always allowed. */
	r = parse("user-agent: *\ndisallow: /\n", "natadv");
	T_EQ_INT(robots_allowed(r, "/robots.txt"), 1);
	T_EQ_INT(robots_allowed(r, "/robots.txt?x=1"), 1);
	T_EQ_INT(robots_allowed(r, "/robots.txt.bak"), 0);
	T_EQ_INT(robots_allowed(r, ""), 0);
	robots_free(r);

	/* A NUL byte inside the body is just another octet. */
	static const char nul[] = "user-agent: *\ndisallow: /a\0b\ndisallow: /c\n";
	r = NULL;
	T_EQ_INT(robots_parse(nul, sizeof nul - 1, "natadv", &r), 0);
	T_EQ_INT(robots_allowed(r, "/a"), 1);
	T_EQ_INT(robots_allowed(r, "/c"), 0);
	robots_free(r);
}

static void test_crawl_delay(void)
{
	robots *r = parse("user-agent: *\ncrawl-delay: 2.5\n"
	                  "user-agent: natadv\ncrawl-delay: 7\ncrawl-delay: 9\ndisallow: /x\n",
	                  "natadv");
	T_CHECK(robots_crawl_delay(r) == 7.0);
	robots_free(r);
	r = parse("user-agent: *\ncrawl-delay: 2.5\n", "natadv");
	T_CHECK(robots_crawl_delay(r) == 2.5);
	robots_free(r);
	r = parse("user-agent: *\ncrawl-delay: soon\n", "natadv");
	T_CHECK(robots_crawl_delay(r) == 0.0);
	robots_free(r);
	r = parse("user-agent: *\ncrawl-delay: -3\n", "natadv");
	T_CHECK(robots_crawl_delay(r) == 0.0);
	robots_free(r);
	r = parse("user-agent: *\ncrawl-delay: 1e300\n", "natadv");
	T_CHECK(robots_crawl_delay(r) == ROBOTS_MAX_DELAY);
	robots_free(r);
	r = parse("user-agent: *\ncrawl-delay: nan\n", "natadv");
	T_CHECK(robots_crawl_delay(r) == 0.0);
	robots_free(r);
	r = parse("user-agent: other\ncrawl-delay: 5\n", "natadv");
	T_CHECK(robots_crawl_delay(r) == 0.0);
	robots_free(r);
	T_CHECK(robots_crawl_delay(NULL) == 0.0);
}

/* The body is cut at ROBOTS_MAX_BODY, dropping the line the cut falls in. */
static void test_size_limit(void)
{
	size_t n = ROBOTS_MAX_BODY + 4096;
	char *body = malloc(n);
	T_CHECK(body != NULL);
	if (!body)
		return;
	const char head[] = "user-agent: *\ndisallow: /early\n";
	memcpy(body, head, sizeof head - 1);
	memset(body + sizeof head - 1, '#', n - (sizeof head - 1));
	/* A line ending just before the limit, and one straddling it. */
	const char before[] = "\ndisallow: /before\n";
	const char cut[] = "disallow: /c";
	size_t at = ROBOTS_MAX_BODY - (sizeof before - 1) - 5;
	memcpy(body + at, before, sizeof before - 1);
	memcpy(body + ROBOTS_MAX_BODY - 5, cut, sizeof cut - 1);
	body[ROBOTS_MAX_BODY - 5 + sizeof cut - 1] = '\n';
	const char after[] = "\ndisallow: /late\n";
	memcpy(body + n - (sizeof after - 1), after, sizeof after - 1);
	robots *r = NULL;
	T_EQ_INT(robots_parse(body, n, "natadv", &r), 0);
	T_EQ_INT(robots_allowed(r, "/early"), 0);
	T_EQ_INT(robots_allowed(r, "/before"), 0);
	T_EQ_INT(robots_allowed(r, "/c"), 1);
	T_EQ_INT(robots_allowed(r, "/late"), 1);
	robots_free(r);
	free(body);
}

/* Patterns full of stars against long paths stay fast: O(n*m), no
 * backtracking (a recursive matcher would take ages here). */
static void test_no_backtracking(void)
{
	char rules[512], path[8200];
	size_t o = 0;
	o += (size_t)snprintf(rules + o, sizeof rules - o, "disallow: /");
	for (int i = 0; i < 60; i++)
		o += (size_t)snprintf(rules + o, sizeof rules - o, "*a");
	snprintf(rules + o, sizeof rules - o, "*b$");
	path[0] = '/';
	memset(path + 1, 'a', sizeof path - 2);
	path[sizeof path - 1] = '\0';
	clock_t t0 = clock();
	ALLOWED(rules, path);
	path[sizeof path - 2] = 'b';
	DISALLOWED(rules, path);
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	T_CHECK(secs < 2.0);
	/* Runs of stars collapse. */
	DISALLOWED("disallow: /****x", "/abcx");
}

/* Reference matcher: plain recursion, fine for the short strings below. */
static int naive_match(const char *pat, const char *path)
{
	if (*pat == '\0')
		return 1;
	if (pat[0] == '$' && pat[1] == '\0')
		return *path == '\0';
	if (*pat == '*')
		return naive_match(pat + 1, path) || (*path && naive_match(pat, path + 1));
	return *path == *pat && naive_match(pat + 1, path + 1);
}

/* Random patterns over {a, b, *, $} against random paths over {a, b}: the
 * position-set matcher must agree with the reference on every pair. */
static void test_matcher_vs_reference(void)
{
	unsigned seed = 12345;
	int disagree = 0, matched = 0;
	for (int iter = 0; iter < 20000; iter++) {
		char pat[12] = "/", path[12] = "/", rules[40];
		size_t pl = 1 + (seed >> 3) % 8, ql = 1 + (seed >> 7) % 9;
		for (size_t i = 1; i < pl; i++) {
			seed = seed * 1103515245u + 12345u;
			pat[i] = "ab*$"[(seed >> 16) % 4];
		}
		pat[pl] = '\0';
		for (size_t i = 1; i < ql; i++) {
			seed = seed * 1103515245u + 12345u;
			path[i] = "ab"[(seed >> 16) % 2];
		}
		path[ql] = '\0';
		seed = seed * 1103515245u + 12345u;
		snprintf(rules, sizeof rules, "disallow: %s", pat);
		matched += naive_match(pat, path);
		if (allowed(rules, path) != !naive_match(pat, path)) {
			if (disagree++ < 5)
				fprintf(stderr, "pattern '%s' path '%s'\n", pat, path);
		}
	}
	T_EQ_INT(disagree, 0);
	/* Both outcomes are well represented, or the test proves little. */
	T_CHECK(matched > 2000 && matched < 18000);
}

int main(void)
{
	T_RUN(test_rfc_example);
	T_RUN(test_precedence);
	T_RUN(test_google_paths);
	T_RUN(test_percent);
	T_RUN(test_syntax);
	T_RUN(test_crawl_delay);
	T_RUN(test_size_limit);
	T_RUN(test_no_backtracking);
	T_RUN(test_matcher_vs_reference);
	return T_DONE();
}
