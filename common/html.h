/* html.h — outside text (authors, titles, class names, urls, reasons) made
 * safe inside HTML and SVG: the one escaper of every page natadv writes. */
#ifndef NATADV_HTML_H
#define NATADV_HTML_H

#include <stddef.h>

#include "common/buf.h"

/* Appends the n bytes at s to out as text that is safe in HTML and XML
 * element content and in quoted attribute values: & < > " ' become
 * entities, control characters other than tab and newline become U+FFFD.
 * Returns 0 or buf_append's code. */
int html_escape_n(buf *out, const char *s, size_t n);
/* Like html_escape_n for a NUL-terminated s (NULL appends nothing). */
int html_escape(buf *out, const char *s);

#endif
