/* text.h — checks of the short identifiers natadv reads from files it did
 * not write (manifests, checksum lists, class lists, blob names). */
#ifndef NATADV_TEXT_H
#define NATADV_TEXT_H

#include <stddef.h>

/* Returns 1 when s is exactly n lower-case hex digits (a hash as natadv
 * writes it), else 0. */
int text_is_hex(const char *s, size_t n);
/* Returns 1 when s is a WordNet id as ImageNet writes it ('n' and 8
 * digits, e.g. "n01498041"), else 0. */
int text_is_wnid(const char *s);

#endif
