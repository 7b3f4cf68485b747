/* fmt.c — number formatting (see fmt.h). */
#include "common/fmt.h"

#include <stdio.h>
#include <string.h>

const char *fmt_thousands(int64_t n, char out[32])
{
	char digits[32];
	/* unsigned magnitude: -INT64_MIN does not fit an int64_t */
	unsigned long long mag = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
	snprintf(digits, sizeof digits, "%llu", mag);
	size_t len = strlen(digits), o = 0;
	if (n < 0)
		out[o++] = '-';
	for (size_t i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	return out;
}
