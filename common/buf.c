/* buf.c — bounded growable byte buffer. */
#include "buf.h"
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void buf_release(buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void buf_reset(buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

int buf_reserve(buf *b, size_t n)
{
	if (n > b->max || b->len > b->max - n)
		return NATADV_ETOOBIG;
	size_t need = b->len + n + 1; /* room for the NUL */
	if (need <= b->cap)
		return 0;
	/* Double for small appends; a large reservation is taken exactly. */
	size_t cap = b->cap ? b->cap : 256;
	cap = cap <= ((size_t)-1) / 2 && cap * 2 >= need ? cap * 2 : need;
	char *p = realloc(b->data, cap);
	if (!p)
		return NATADV_ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_append(buf *b, const void *p, size_t n)
{
	int rc = buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_puts(buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_printf(buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NATADV_EINVAL;
	if ((size_t)n < sizeof small)
		return buf_append(b, small, (size_t)n);
	int rc = buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

const char *buf_cstr(buf *b)
{
	return b->data ? b->data : "";
}

int buf_read_file(buf *b, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		natadv_errf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return NATADV_EIO;
	}
	buf_reset(b);
	char chunk[65536];
	size_t n;
	int rc = 0;
	while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
		rc = buf_append(b, chunk, n);
	if (!rc && ferror(f))
		rc = NATADV_EIO;
	fclose(f);
	if (rc)
		natadv_errf(err, errlen, "cannot read '%s': %s", path, rc == NATADV_EIO ? "read error" : natadv_strerror(rc));
	return rc;
}

void *array_grow(void *v, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return v;
	size_t c = *cap ? *cap * 2 : 64;
	void *nv = realloc(v, c * size);
	if (nv)
		*cap = c;
	return nv;
}
