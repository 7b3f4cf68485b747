/* jstr.h — JSON strings of outside text (titles, authors, URLs, headers):
 * as jansson values that never fail on bytes that are not UTF-8. */
#ifndef NATADV_JSTR_H
#define NATADV_JSTR_H

#include <stddef.h>

#include "common/buf.h"

struct json_t;

/* Returns a new JSON string of the n bytes at p, each byte that is not part
 * of valid UTF-8 replaced by U+FFFD; the caller owns the reference
 * (json_decref). NULL only when out of memory. */
struct json_t *jstr_newn(const char *p, size_t n);
/* Like jstr_newn for a NUL-terminated s; JSON null when s is NULL. */
struct json_t *jstr_new(const char *s);

#endif
