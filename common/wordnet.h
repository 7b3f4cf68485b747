/* wordnet.h — WordNet 3.0's noun synsets read at run time from data.noun
 * (Debian's wordnet-base: /usr/share/wordnet/data.noun): each synset's wnid
 * (n + its 8-digit offset, as ImageNet names classes), its lemmas and its
 * hypernym (@) and instance-hypernym (@i) links; and the one rule of which
 * synsets may serve as out-of-distribution classes (wordnet_judge). */
#ifndef NATADV_WORDNET_H
#define NATADV_WORDNET_H

#include <stddef.h>

/* Where Debian's wordnet-base puts the noun synsets. */
#define WORDNET_DEFAULT_PATH "/usr/share/wordnet/data.noun"
/* The Debian package that holds it, for messages. */
#define WORDNET_PACKAGE "wordnet-base"
/* data.noun of WordNet 3.0 is 15 MB; a file over this is refused. */
#define WORDNET_MAX_BYTES ((size_t)64 << 20)

typedef struct wordnet wordnet;

/* Returns the data.noun to read: $NATADV_WORDNET when set and not empty,
 * else WORDNET_DEFAULT_PATH (static or the environment's; not a copy). */
const char *wordnet_path(void);

/* Reads the data.noun at path into *out (free with wordnet_free). Returns 0,
 * NATADV_ENOTFOUND when there is no such file (err names the file and the
 * package to install), NATADV_EIO, NATADV_ETOOBIG, NATADV_EFORMAT ("cannot
 * read 'PATH' line N: ...") or NATADV_ENOMEM, with err set. */
int wordnet_load(const char *path, wordnet **out, char *err, size_t errlen);
/* Parses len bytes of data.noun text (name is the file name for messages);
 * same returns as wordnet_load but for NATADV_ENOTFOUND and NATADV_EIO. */
int wordnet_parse(const char *text, size_t len, const char *name, wordnet **out, char *err, size_t errlen);
/* Frees wn; accepts NULL. */
void wordnet_free(wordnet *wn);

/* Returns the number of noun synsets; they are numbered 0..count-1 in offset
 * (so wnid) order. */
int wordnet_count(const wordnet *wn);
/* Returns the number of the synset with this wnid ("n01440764"), or -1. */
int wordnet_find(const wordnet *wn, const char *wnid);
/* Returns synset i's wnid (owned by wn). */
const char *wordnet_wnid(const wordnet *wn, int i);
/* Returns synset i's lemmas as ImageNet writes class names: ", " between
 * them, '_' as a space, e.g. "tench, Tinca tinca" (owned by wn). */
const char *wordnet_names(const wordnet *wn, int i);
/* The most synsets above one wordnet_is_under looks at (WordNet 3.0's most
 * is under 100). */
#define WORDNET_MAX_ABOVE 1024
/* Returns 1 when synset i is root or below it through hypernym and
 * instance-hypernym links (among its first WORDNET_MAX_ABOVE), else 0. */
int wordnet_is_under(const wordnet *wn, int i, int root);

/* Marks the in-distribution classes (ImageNet-1K's wnids, in their order)
 * and works out every synset's relation to them; replaces an earlier
 * marking. NATADV_EINVAL (err names it) for a wnid that is no synset. */
int wordnet_mark_in_dist(wordnet *wn, const char *const *wnids, int n, char *err, size_t errlen);

/* How a synset stands to the in-distribution classes. */
typedef enum wordnet_relation {
	WORDNET_USABLE = 0,     /* none of the below: usable as an out-of-distribution class */
	WORDNET_IN_DIST,        /* an in-distribution class itself */
	WORDNET_ANCESTOR,       /* above one (e.g. cyprinid, above tench) */
	WORDNET_DESCENDANT,     /* below one (e.g. a kind of toy dog) */
} wordnet_relation;

/* The rule: synset i is usable as an out-of-distribution class iff it is not
 * an in-distribution class and neither an ancestor nor a descendant of one
 * through hypernym and instance-hypernym links (of the last marking; with
 * none, everything is usable). *overlap (may be NULL) gets the synset number
 * of the in-distribution class it overlaps (itself; the first in marking
 * order below it; the nearest above it), -1 when usable. */
wordnet_relation wordnet_judge(const wordnet *wn, int i, int *overlap);
#endif
