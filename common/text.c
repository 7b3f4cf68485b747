/* text.c — identifier checks (see text.h). */
#include "common/text.h"

#include <string.h>

int text_is_hex(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

int text_is_wnid(const char *s)
{
	return s[0] == 'n' && strlen(s) == 9 && strspn(s + 1, "0123456789") == 8;
}
