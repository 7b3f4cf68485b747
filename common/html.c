/* html.c — the HTML and XML escaper (see html.h). */
#include "common/html.h"

#include <string.h>

int html_escape_n(buf *out, const char *s, size_t n)
{
	int rc = 0;
	size_t start = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		unsigned char ch = (unsigned char)s[i];
		const char *rep = ch == '&' ? "&amp;" : ch == '<' ? "&lt;" : ch == '>' ? "&gt;"
		                : ch == '"' ? "&quot;" : ch == '\'' ? "&#39;"
		                : (ch < 0x20 && ch != '\t' && ch != '\n') || ch == 0x7f ? "\xef\xbf\xbd" : NULL;
		if (!rep)
			continue;
		rc = buf_append(out, s + start, i - start);
		if (!rc)
			rc = buf_puts(out, rep);
		start = i + 1;
	}
	if (!rc && n > start)
		rc = buf_append(out, s + start, n - start);
	return rc;
}

int html_escape(buf *out, const char *s)
{
	return s ? html_escape_n(out, s, strlen(s)) : 0;
}
