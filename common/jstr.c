/* jstr.c — JSON strings of outside text (see jstr.h). */
#include "common/jstr.h"

#include <jansson.h>
#include <string.h>

/* Returns the length of the valid UTF-8 sequence at p (1-4; p[0] == 0 is
 * 1), or 0; reads no further than n bytes. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	if (p[0] < 0x80)
		return 1;
	size_t k = p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3
	         : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
	if (k > n)
		return 0;
	for (size_t i = 1; i < k; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if (k && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
	          (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f)))
		return 0;  /* overlong, surrogate or above U+10FFFF */
	return k;
}

json_t *jstr_newn(const char *p, size_t n)
{
	json_t *j = json_stringn(p, n);
	if (j)
		return j;
	buf b;
	buf_init(&b, n * 3 + 1);
	int rc = buf_reserve(&b, n * 3 + 1);
	for (const unsigned char *u = (const unsigned char *)p, *end = u + n; !rc && u < end;) {
		size_t k = utf8_len(u, (size_t)(end - u));
		if (k) {
			rc = buf_append(&b, u, k);
			u += k;
		} else {
			rc = buf_append(&b, "\xef\xbf\xbd", 3);
			u++;
		}
	}
	j = rc ? NULL : json_stringn(b.data ? b.data : "", b.len);
	buf_release(&b);
	return j;
}

json_t *jstr_new(const char *s)
{
	return s ? jstr_newn(s, strlen(s)) : json_null();
}
