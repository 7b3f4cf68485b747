/* test_http.c — the rules crawler/http.c holds for every fetcher: the
 * private-address policy with its exceptions (--allow-private and
 * --allow-address blocks), header lookup and Retry-After reading. */
#include "common/err.h"
#include "crawler/crawler.h"
#include "crawler/http.h"
#include "tests/t.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* Whether policy p refuses a connection to the numeric address text. */
static int refused(const http_policy *p, const char *text)
{
	struct sockaddr_in in = {.sin_family = AF_INET};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
	if (inet_pton(AF_INET, text, &in.sin_addr) == 1)
		return http_addr_refused(p, &in, sizeof in);
	T_CHECK(inet_pton(AF_INET6, text, &in6.sin6_addr) == 1);
	return http_addr_refused(p, &in6, sizeof in6);
}

static void test_default_policy(void)
{
	http_policy none = {0};
	T_EQ_INT(refused(NULL, "127.0.0.1"), 1);
	T_EQ_INT(refused(&none, "10.1.2.3"), 1);
	T_EQ_INT(refused(&none, "169.254.169.254"), 1);
	T_EQ_INT(refused(&none, "::1"), 1);
	T_EQ_INT(refused(&none, "::ffff:192.168.1.1"), 1);
	T_EQ_INT(refused(&none, "fd00:ec2::254"), 1);
	T_EQ_INT(refused(&none, "93.184.216.34"), 0);
	T_EQ_INT(refused(&none, "2606:2800:220:1::1"), 0);
	http_policy any = {.allow_private = 1};
	T_EQ_INT(refused(&any, "127.0.0.1"), 0);
	T_EQ_INT(refused(&any, "169.254.169.254"), 0);
}

static void test_allow_blocks(void)
{
	http_net nets[3];
	char err[128];
	T_EQ_INT(http_net_parse("127.0.0.1", &nets[0], err, sizeof err), 0);
	T_EQ_INT(http_net_parse("10.8.0.0/16", &nets[1], err, sizeof err), 0);
	T_EQ_INT(http_net_parse("fd00::/8", &nets[2], err, sizeof err), 0);
	http_policy p = {.allow = nets, .nallow = 3};
	T_EQ_INT(refused(&p, "127.0.0.1"), 0);
	T_EQ_INT(refused(&p, "127.0.0.2"), 1);     /* exactly the block, nothing else */
	T_EQ_INT(refused(&p, "169.254.169.254"), 1);
	T_EQ_INT(refused(&p, "10.8.255.1"), 0);
	T_EQ_INT(refused(&p, "10.9.0.1"), 1);
	T_EQ_INT(refused(&p, "::ffff:127.0.0.1"), 0); /* mapped counts as IPv4 */
	T_EQ_INT(refused(&p, "::ffff:127.0.0.2"), 1);
	T_EQ_INT(refused(&p, "fd12::1"), 0);
	T_EQ_INT(refused(&p, "fe80::1"), 1);
	T_EQ_INT(refused(&p, "::1"), 1);
	T_EQ_INT(refused(&p, "93.184.216.34"), 0);  /* public stays public */
	T_EQ_INT(http_net_parse("172.16.0.0/12", &nets[0], err, sizeof err), 0);
	p.nallow = 1;
	T_EQ_INT(refused(&p, "172.31.255.255"), 0);
	T_EQ_INT(refused(&p, "172.32.0.1"), 0);     /* public */
	T_EQ_INT(refused(&p, "172.15.0.1"), 0);     /* public */
	T_EQ_INT(refused(&p, "192.168.0.1"), 1);
}

static void test_net_parse_refusals(void)
{
	http_net n;
	char err[128] = "";
	T_EQ_INT(http_net_parse("localhost", &n, err, sizeof err), NATADV_EINVAL);
	T_EQ_STR(err, "'localhost' is not an IPv4 or IPv6 address");
	T_EQ_INT(http_net_parse("", &n, err, sizeof err), NATADV_EINVAL);
	T_EQ_INT(http_net_parse("10.0.0.0/33", &n, err, sizeof err), NATADV_EINVAL);
	T_EQ_STR(err, "'10.0.0.0/33': the prefix length must be 0 to 32");
	T_EQ_INT(http_net_parse("10.0.0.0/", &n, err, sizeof err), NATADV_EINVAL);
	T_EQ_INT(http_net_parse("10.0.0.0/-1", &n, err, sizeof err), NATADV_EINVAL);
	T_EQ_INT(http_net_parse("10.0.0.1/8", &n, err, sizeof err), NATADV_EINVAL);
	T_EQ_STR(err, "'10.0.0.1/8': bits set past the /8 prefix");
	T_EQ_INT(http_net_parse("::1/129", &n, err, sizeof err), NATADV_EINVAL);
	T_EQ_INT(http_net_parse("::1/128", &n, err, sizeof err), 0);
	T_EQ_INT(n.family, AF_INET6);
	T_EQ_INT(n.bits, 128);
}

static void test_headers(void)
{
	const char *block = "HTTP/1.1 429 Too Many\r\nContent-Type: image/jpeg \r\n"
	                    "retry-after:\t120\r\nX-Empty:\r\n\r\n";
	char v[16];
	T_EQ_INT(http_header_value(block, "content-type", v, sizeof v), 1);
	T_EQ_STR(v, "image/jpeg");
	T_EQ_INT(http_header_value(block, "Retry-After", v, sizeof v), 1);
	T_EQ_STR(v, "120");
	T_EQ_INT(http_header_value(block, "x-empty", v, sizeof v), 1);
	T_EQ_STR(v, "");
	T_EQ_INT(http_header_value(block, "etag", v, sizeof v), 0);
	T_EQ_INT(http_header_value(block, "content", v, sizeof v), 0); /* a prefix is no match */
	char small[4];
	T_EQ_INT(http_header_value(block, "content-type", small, sizeof small), 1);
	T_EQ_STR(small, "ima");
}

static void test_retry_after(void)
{
	double now = 1700000000;
	T_CHECK(http_retry_after("120", now) == now + 120);
	T_CHECK(http_retry_after("0", now) == now);
	T_CHECK(http_retry_after("99999999", now) == now + HTTP_RETRY_AFTER_MAX);
	T_CHECK(http_retry_after("Tue, 14 Nov 2023 22:15:00 GMT", now) == now + 100);
	T_CHECK(http_retry_after("Wed, 01 Jan 2020 00:00:00 GMT", now) == now); /* past: now */
	T_CHECK(http_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", now) == now + HTTP_RETRY_AFTER_MAX);
	T_CHECK(http_retry_after("-5", now) < 0);
	T_CHECK(http_retry_after("soon", now) < 0);
	T_CHECK(http_retry_after("", now) < 0);
	T_CHECK(http_retry_after(NULL, now) < 0);
}

static void test_user_agent(void)
{
	/* one User-Agent with one contact URL, for every fetcher */
	crawl_opts o;
	crawl_opts_default(&o);
	T_EQ_STR(o.user_agent, HTTP_USER_AGENT);
	const char *ua = HTTP_USER_AGENT;
	T_CHECK(strncmp(ua, "natadv/" NATADV_VERSION " (+https://", strlen("natadv/" NATADV_VERSION " (+https://")) == 0);
	T_CHECK(strstr(strstr(ua, "http") + 1, "http") == NULL); /* one contact URL */
}

int main(void)
{
	T_RUN(test_default_policy);
	T_RUN(test_allow_blocks);
	T_RUN(test_net_parse_refusals);
	T_RUN(test_headers);
	T_RUN(test_retry_after);
	T_RUN(test_user_agent);
	return T_DONE();
}
