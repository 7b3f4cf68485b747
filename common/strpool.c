/* strpool.c — a set of heap strings freed together. */
#include "common/strpool.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

char *strpool_own(strpool *p, char *s)
{
	if (!s)
		return NULL;
	char **v = array_grow(p->v, p->n, &p->cap, sizeof *v);
	if (!v) {
		free(s);
		return NULL;
	}
	p->v = v;
	p->v[p->n++] = s;
	return s;
}

char *strpool_dup(strpool *p, const char *s)
{
	return s ? strpool_own(p, strdup(s)) : NULL;
}

void strpool_release(strpool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	p->v = NULL;
	p->n = p->cap = 0;
}
