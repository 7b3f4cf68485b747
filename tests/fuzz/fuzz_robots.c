/* fuzz_robots.c — libFuzzer target for the robots.txt parser and matcher.
 * The first input line is the path to test, the rest is the body; a few
 * fixed paths are asked too. Answers must be 0 or 1, never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/robots.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *fixed[] = { "/", "/robots.txt", "/a/b.gif", "/a%2Fb?x=%7e*$", "" };
	const char *nl = memchr(data, '\n', size);
	size_t plen = nl ? (size_t)(nl - (const char *)data) : 0;
	const char *body = nl ? nl + 1 : (const char *)data;
	size_t blen = size - (size_t)(body - (const char *)data);
	robots *r = NULL;
	char *path;
	size_t i;

	if (plen > 4096)
		plen = 4096;
	path = malloc(plen + 1);
	if (!path)
		return 0;
	memcpy(path, data, plen);
	path[plen] = '\0';
	if (robots_parse(body, blen, "natadv", &r) == 0) {
		if (robots_allowed(r, path) > 1)
			abort();
		for (i = 0; i < sizeof fixed / sizeof *fixed; i++)
			if (robots_allowed(r, fixed[i]) > 1)
				abort();
		if (robots_allowed(r, "/robots.txt") != 1)
			abort();
		if (robots_crawl_delay(r) < 0 || robots_crawl_delay(r) > ROBOTS_MAX_DELAY)
			abort();
		robots_free(r);
	}
	free(path);
	return 0;
}
