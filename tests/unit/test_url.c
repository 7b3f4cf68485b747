/* test_url.c — url_check normalisation and refusals, the robots.txt helpers.
 * Expected strings are written out in full so a change in libcurl's
 * behaviour shows up here rather than as duplicate rows in the store. */
#include "common/buf.h"
#include "common/err.h"
#include "crawler/url.h"
#include "tests/t.h"

#include <stdlib.h>

static void check_ok(const char *in, const char *want_norm, const char *want_key)
{
	buf norm, key;
	char err[128] = "";
	buf_init(&norm, 16384);
	buf_init(&key, 16384);
	int rc = url_check(in, &norm, &key, err, sizeof err);
	if (rc)
		fprintf(stderr, "url_check(\"%s\"): %d %s\n", in, rc, err);
	T_EQ_INT(rc, 0);
	T_EQ_STR(buf_cstr(&norm), want_norm);
	T_EQ_STR(buf_cstr(&key), want_key);
	buf_release(&norm);
	buf_release(&key);
}

static void check_bad(const char *in, const char *want_err)
{
	buf norm;
	char err[128] = "";
	buf_init(&norm, 16384);
	T_EQ_INT(url_check(in, &norm, NULL, err, sizeof err), NATADV_EINVAL);
	T_EQ_STR(err, want_err);
	buf_release(&norm);
}

static void test_normalise(void)
{
	check_ok("http://example.com", "http://example.com/", "http://example.com");
	check_ok("HTTP://Example.COM/A/B?Q=1#frag", "http://example.com/A/B?Q=1",
	         "http://example.com");
	check_ok("https://example.com:443/x", "https://example.com/x", "https://example.com");
	check_ok("http://example.com:80/x", "http://example.com/x", "http://example.com");
	check_ok("http://example.com:8080/x", "http://example.com:8080/x",
	         "http://example.com:8080");
	check_ok("https://example.com:80/x", "https://example.com:80/x",
	         "https://example.com:80");
	check_ok("http://example.com?a=b", "http://example.com/?a=b", "http://example.com");
	check_ok("http://example.com/#top", "http://example.com/", "http://example.com");
}

static void test_unchanged(void)
{
	/* No percent-decoding, no dot-segment removal, case of path kept. */
	check_ok("http://a.example/%7Efoo/%2F%41", "http://a.example/%7Efoo/%2F%41",
	         "http://a.example");
	check_ok("http://a.example/a/../b/./c", "http://a.example/a/../b/./c",
	         "http://a.example");
	check_ok("http://a.example/p?x=%20y&z", "http://a.example/p?x=%20y&z",
	         "http://a.example");
	check_ok("http://user:pw@A.example/", "http://user:pw@a.example/", "http://a.example");
	check_ok("http://[2001:DB8::1]:8080/", "http://[2001:db8::1]:8080/",
	         "http://[2001:db8::1]:8080");
	check_ok("http://192.0.2.1/img.jpg", "http://192.0.2.1/img.jpg", "http://192.0.2.1");
}

static void test_refused(void)
{
	check_bad("ftp://example.com/x", "unsupported scheme 'ftp'");
	check_bad("FTP://example.com/x", "unsupported scheme 'ftp'");
	check_bad("mailto:someone@example.com", "unsupported scheme 'mailto'");
	check_bad("file:///etc/passwd", "unsupported scheme 'file'");
	check_bad("/relative/path", "unparseable url");
	check_bad("example.com/x", "unparseable url");
	check_bad("", "unparseable url");
	check_bad("http://", "missing host");
	check_bad("http:///path", "missing host");
	check_bad("http:/example.com/", "missing host");
	check_bad("http:example.com", "missing host");
	check_bad("http://?q", "missing host");
	check_bad("http://exa mple.com/", "url contains control characters or spaces");
	check_bad("http://example.com/a b", "url contains control characters or spaces");
	check_bad("http://example.com/\tx", "url contains control characters or spaces");
	check_bad("http://example.com/\x7f", "url contains control characters or spaces");
	check_bad("http://example.com:99999/", "unparseable url");
	check_bad("http://exa<mple.com/", "unparseable url");
	check_bad("http://a%41.example/", "unparseable url");
	check_bad("http://u%40@%%44/", "unparseable url");
	check_bad(NULL, "unparseable url");
}

static void test_length(void)
{
	size_t prefix = strlen("http://example.com/");
	char *s = malloc(URL_MAX_LEN + 2);
	T_CHECK(s != NULL);
	if (!s)
		return;
	memcpy(s, "http://example.com/", prefix);
	memset(s + prefix, 'a', URL_MAX_LEN - prefix);
	s[URL_MAX_LEN] = '\0';
	buf norm;
	char err[128] = "";
	buf_init(&norm, 16384);
	T_EQ_INT(url_check(s, &norm, NULL, err, sizeof err), 0);
	T_EQ_INT(norm.len, URL_MAX_LEN);
	s[URL_MAX_LEN] = 'a';
	s[URL_MAX_LEN + 1] = '\0';
	check_bad(s, "url too long");
	buf_release(&norm);
	free(s);
}

static void test_small_buffer(void)
{
	buf norm;
	char err[128] = "";
	buf_init(&norm, 10);
	T_EQ_INT(url_check("http://example.com/long/path", &norm, NULL, err, sizeof err),
	         NATADV_ETOOBIG);
	buf_release(&norm);
	/* A NULL or zero-length err buffer is allowed. */
	T_EQ_INT(url_check("ftp://x/", NULL, NULL, NULL, 0), NATADV_EINVAL);
}

static void test_path_and_query(void)
{
	buf out;
	buf_init(&out, 16384);
	T_EQ_INT(url_path_and_query("http://a.example/x/y?q=1&r#frag", &out), 0);
	T_EQ_STR(buf_cstr(&out), "/x/y?q=1&r");
	T_EQ_INT(url_path_and_query("http://a.example", &out), 0);
	T_EQ_STR(buf_cstr(&out), "/");
	T_EQ_INT(url_path_and_query("http://a.example?z", &out), 0);
	T_EQ_STR(buf_cstr(&out), "/?z");
	T_EQ_INT(url_path_and_query("http://a.example/%7Ea", &out), 0);
	T_EQ_STR(buf_cstr(&out), "/%7Ea");
	T_EQ_INT(url_path_and_query("not a url", &out), NATADV_EINVAL);
	buf_release(&out);
}

static void test_robots_url(void)
{
	buf out;
	buf_init(&out, 16384);
	T_EQ_INT(url_robots("https://example.com:8443", &out), 0);
	T_EQ_STR(buf_cstr(&out), "https://example.com:8443/robots.txt");
	T_EQ_INT(url_robots("", &out), NATADV_EINVAL);
	T_EQ_INT(url_robots(NULL, &out), NATADV_EINVAL);
	buf_release(&out);
}

int main(void)
{
	T_RUN(test_normalise);
	T_RUN(test_unchanged);
	T_RUN(test_refused);
	T_RUN(test_length);
	T_RUN(test_small_buffer);
	T_RUN(test_path_and_query);
	T_RUN(test_robots_url);
	return T_DONE();
}
