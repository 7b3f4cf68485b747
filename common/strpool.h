/* strpool.h — a set of heap strings freed together: the strings a reader
 * or a query hands out with the struct that holds them. */
#ifndef NATADV_STRPOOL_H
#define NATADV_STRPOOL_H

#include <stddef.h>

typedef struct strpool {
	char **v;
	size_t n, cap;
} strpool;

/* Takes s (from malloc) into p and returns it, owned by p from now on; NULL
 * when s is NULL or out of memory (then s is freed). */
char *strpool_own(strpool *p, char *s);

/* Returns a copy of s owned by p; NULL when s is NULL or out of memory. */
char *strpool_dup(strpool *p, const char *s);

/* Frees every string of p and p's own array; p is empty again. NULL is fine. */
void strpool_release(strpool *p);

#endif
