/* shell.c — shell quoting (see shell.h). */
#include "common/shell.h"

#include <string.h>

int shell_quote(const char *s, buf *out)
{
	if (*s && !strpbrk(s, " \t\n'\"\\$`*?![]{}()<>|&;#~"))
		return buf_puts(out, s);
	int rc = buf_puts(out, "'");
	for (; *s && !rc; s++)
		rc = *s == '\'' ? buf_puts(out, "'\\''") : buf_append(out, s, 1);
	return rc ? rc : buf_puts(out, "'");
}
