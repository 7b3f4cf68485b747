/* fuzz_url.c — libFuzzer target for url_check and its helpers.
 * Besides memory errors it checks that normalisation is idempotent: a URL
 * we stored must check to itself, or the store would hold duplicates. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "crawler/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128];
	buf norm, key, again, pq;
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	buf_init(&norm, 3 * URL_MAX_LEN);
	buf_init(&key, 3 * URL_MAX_LEN);
	buf_init(&again, 3 * URL_MAX_LEN);
	buf_init(&pq, 3 * URL_MAX_LEN);
	if (url_check(s, &norm, &key, err, sizeof err) == 0) {
		if (url_check(buf_cstr(&norm), &again, NULL, err, sizeof err) != 0)
			abort();
		if (strcmp(buf_cstr(&norm), buf_cstr(&again)) != 0)
			abort();
		if (strncmp(buf_cstr(&norm), buf_cstr(&key), key.len) != 0 &&
		    !strchr(s, '@'))
			abort();
		if (url_path_and_query(buf_cstr(&norm), &pq) != 0 || pq.data[0] != '/')
			abort();
		if (url_robots(buf_cstr(&key), &pq) != 0)
			abort();
	}
	url_path_and_query(s, &pq);
	buf_release(&pq);
	buf_release(&again);
	buf_release(&key);
	buf_release(&norm);
	free(s);
	return 0;
}
