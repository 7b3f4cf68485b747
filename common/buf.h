/* buf.h — a growable byte buffer with a hard maximum (like curl's dynbuf).
 * Buffers holding outside data (bodies, headers, lines) must never grow
 * without bound: buf_append fails with NATADV_ETOOBIG at the cap. */
#ifndef NATADV_BUF_H
#define NATADV_BUF_H

#include <stddef.h>

typedef struct buf {
	char *data;    /* NUL-terminated when len > 0 or after buf_cstr */
	size_t len;
	size_t cap;    /* allocated bytes */
	size_t max;    /* hard limit on len */
} buf;

/* Initialises b empty with hard limit max bytes; allocates nothing. */
void buf_init(buf *b, size_t max);
/* Frees b's memory and leaves it empty; accepts a zeroed buf. */
void buf_release(buf *b);
/* Sets len to 0 but keeps the allocation for reuse. */
void buf_reset(buf *b);
/* Appends n bytes; returns 0, NATADV_ETOOBIG past max, NATADV_ENOMEM. */
int buf_append(buf *b, const void *p, size_t n);
/* Appends a NUL-terminated string; same returns as buf_append. */
int buf_puts(buf *b, const char *s);
/* Appends printf-formatted text; same returns as buf_append. */
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes sure at least n more bytes fit without realloc; 0 or error code. */
int buf_reserve(buf *b, size_t n);
/* Replaces b's contents with the file at path (up to b's max). Returns 0,
 * NATADV_EIO or NATADV_ETOOBIG with err saying why ("cannot read 'p': ..."). */
int buf_read_file(buf *b, const char *path, char *err, size_t errlen);
/* Returns v (an array of elements of size bytes) with room for element n,
 * doubling *cap from 64 as needed, or NULL when out of memory (v is then
 * unchanged and still the caller's). */
void *array_grow(void *v, size_t n, size_t *cap, size_t size);
/* Returns data as a NUL-terminated string (never NULL; "" when empty). */
const char *buf_cstr(buf *b);

#endif
