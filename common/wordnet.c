/* wordnet.c — the one reader of WordNet's data.noun and the one rule of
 * out-of-distribution classes. A data.noun line is
 *   OFFSET LEXFILE n W_CNT(hex) {WORD LEX_ID(hex)}*W_CNT P_CNT {SYM OFFSET POS ST}*P_CNT ... | GLOSS
 * and lines starting with a space are the licence header. Only noun links
 * "@" (hypernym) and "@i" (instance hypernym) are kept; the synsets below
 * one are found by walking up from each synset, never stored.
 *
 * Invariants:
 *   1. synsets are numbered in offset order (the file's order, checked), so
 *      a wnid is found by binary search;
 *   2. every kept link names a synset of the file (checked at load);
 *   3. after wordnet_mark_in_dist, rel[i] and overlap[i] hold the rule's
 *      answer for every synset; wordnet_judge only reads them. */
#include "common/wordnet.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/err.h"

struct synset {
	uint32_t offset;
	uint32_t names;      /* into wn->text */
	uint32_t up;         /* first parent in wn->up */
	uint32_t nup;
	char wnid[10];
};

struct wordnet {
	struct synset *v;
	int n;
	size_t capv;
	uint32_t *up;        /* parent synset numbers (offsets until resolved) */
	size_t nup, capup;
	char *text;          /* every synset's names, NUL-separated */
	size_t ntext, captext;
	unsigned char *rel;  /* wordnet_relation per synset */
	int *overlap;        /* per synset, or -1 */
};

const char *wordnet_path(void)
{
	const char *p = getenv("NATADV_WORDNET");
	return p && *p ? p : WORDNET_DEFAULT_PATH;
}

void wordnet_free(wordnet *wn)
{
	if (!wn)
		return;
	free(wn->v);
	free(wn->up);
	free(wn->text);
	free(wn->rel);
	free(wn->overlap);
	free(wn);
}

int wordnet_count(const wordnet *wn)
{
	return wn->n;
}

const char *wordnet_wnid(const wordnet *wn, int i)
{
	return wn->v[i].wnid;
}

const char *wordnet_names(const wordnet *wn, int i)
{
	return wn->text + wn->v[i].names;
}

static int find_offset(const wordnet *wn, uint32_t off)
{
	int lo = 0, hi = wn->n - 1;
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		if (wn->v[mid].offset == off)
			return mid;
		if (wn->v[mid].offset < off)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

int wordnet_find(const wordnet *wn, const char *wnid)
{
	if (!wnid || wnid[0] != 'n' || strlen(wnid) != 9 || strspn(wnid + 1, "0123456789") != 8)
		return -1;
	return find_offset(wn, (uint32_t)strtoul(wnid + 1, NULL, 10));
}

/* ---- parsing ---- */

/* A cursor over one line's space-separated fields. */
struct line {
	const char *p, *end;
};

/* Sets *f and *n to the next field; 0, or -1 at the end of the line or at '|'. */
static int next_field(struct line *l, const char **f, size_t *n)
{
	while (l->p < l->end && *l->p == ' ')
		l->p++;
	if (l->p >= l->end || *l->p == '|')
		return -1;
	*f = l->p;
	while (l->p < l->end && *l->p != ' ')
		l->p++;
	*n = (size_t)(l->p - *f);
	return 0;
}

/* Parses a field of exactly digits characters of base 10 or 16 (digits 0:
 * 1 to 8 characters) into *v; 0 or -1. */
static int field_num(struct line *l, int base, size_t digits, uint32_t *v)
{
	const char *f;
	size_t n;
	if (next_field(l, &f, &n) || n == 0 || n > 8 || (digits && n != digits))
		return -1;
	uint32_t x = 0;
	for (size_t i = 0; i < n; i++) {
		int d;
		if (f[i] >= '0' && f[i] <= '9')
			d = f[i] - '0';
		else if (base == 16 && f[i] >= 'a' && f[i] <= 'f')
			d = f[i] - 'a' + 10;
		else
			return -1;
		x = x * (uint32_t)base + (uint32_t)d;
	}
	*v = x;
	return 0;
}

static int text_put(wordnet *wn, const char *s, size_t n)
{
	if (wn->ntext + n + 1 > UINT32_MAX)
		return NATADV_ETOOBIG;
	while (wn->ntext + n + 1 > wn->captext) {
		size_t cap = wn->captext ? 2 * wn->captext : 1 << 20;
		char *t = realloc(wn->text, cap);
		if (!t)
			return NATADV_ENOMEM;
		wn->text = t;
		wn->captext = cap;
	}
	memcpy(wn->text + wn->ntext, s, n);
	wn->ntext += n;
	return 0;
}

/* Parses one synset line into a new wn->v entry; why gets the fault. */
static int parse_line(wordnet *wn, const char *p, const char *end, const char **why)
{
	struct line l = {p, end};
	uint32_t off, lex, wcnt, pcnt, x;
	const char *f;
	size_t n;
	if (field_num(&l, 10, 8, &off) || field_num(&l, 10, 2, &lex))
		return *why = "expected an 8-digit offset and a 2-digit lexicographer file", NATADV_EFORMAT;
	if (next_field(&l, &f, &n) || n != 1 || *f != 'n')
		return *why = "not a noun synset (type 'n')", NATADV_EFORMAT;
	if (wn->n && off <= wn->v[wn->n - 1].offset)
		return *why = "offsets are not in increasing order", NATADV_EFORMAT;
	if (field_num(&l, 16, 2, &wcnt) || wcnt == 0)
		return *why = "expected a 2-digit hexadecimal word count above 0", NATADV_EFORMAT;
	struct synset *v = array_grow(wn->v, (size_t)wn->n, &wn->capv, sizeof *v);
	if (!v)
		return NATADV_ENOMEM;
	wn->v = v;
	struct synset *s = &v[wn->n];
	memset(s, 0, sizeof *s);
	s->offset = off;
	snprintf(s->wnid, sizeof s->wnid, "n%08u", (unsigned)off);
	s->names = (uint32_t)wn->ntext;
	s->up = (uint32_t)wn->nup;
	int rc;
	for (uint32_t w = 0; w < wcnt; w++) {
		if (next_field(&l, &f, &n) || field_num(&l, 16, 0, &x))
			return *why = "fewer words than its word count", NATADV_EFORMAT;
		if ((w && (rc = text_put(wn, ", ", 2)) != 0) || (rc = text_put(wn, f, n)) != 0)
			return rc;
		for (size_t k = wn->ntext - n; k < wn->ntext; k++)
			if (wn->text[k] == '_')
				wn->text[k] = ' ';
	}
	if ((rc = text_put(wn, "", 0)) != 0)
		return rc;
	wn->text[wn->ntext++] = '\0';
	if (field_num(&l, 10, 3, &pcnt))
		return *why = "expected a 3-digit pointer count", NATADV_EFORMAT;
	for (uint32_t k = 0; k < pcnt; k++) {
		const char *sym;
		size_t nsym;
		uint32_t target, st;
		if (next_field(&l, &sym, &nsym) || field_num(&l, 10, 8, &target) || next_field(&l, &f, &n) || n != 1 ||
		    field_num(&l, 16, 4, &st))
			return *why = "fewer pointers than its pointer count", NATADV_EFORMAT;
		int hyper = (nsym == 1 && sym[0] == '@') || (nsym == 2 && sym[0] == '@' && sym[1] == 'i');
		if (!hyper || *f != 'n')
			continue;
		uint32_t *up = array_grow(wn->up, wn->nup, &wn->capup, sizeof *up);
		if (!up)
			return NATADV_ENOMEM;
		wn->up = up;
		up[wn->nup++] = target;
		s->nup++;
	}
	wn->n++;
	return 0;
}

/* Turns every parent offset into a synset number (invariant 2). */
static int resolve(wordnet *wn, const char *name, char *err, size_t errlen)
{
	for (int i = 0; i < wn->n; i++) {
		for (uint32_t k = 0; k < wn->v[i].nup; k++) {
			uint32_t *p = &wn->up[wn->v[i].up + k];
			int j = find_offset(wn, *p);
			if (j < 0) {
				natadv_errf(err, errlen, "cannot read '%s': synset '%s' links to 'n%08u', which is not in the file",
				            name, wn->v[i].wnid, (unsigned)*p);
				return NATADV_EFORMAT;
			}
			*p = (uint32_t)j;
		}
	}
	return 0;
}

int wordnet_parse(const char *text, size_t len, const char *name, wordnet **out, char *err, size_t errlen)
{
	*out = NULL;
	if (len > WORDNET_MAX_BYTES) {
		natadv_errf(err, errlen, "cannot read '%s': over %zu MiB", name, WORDNET_MAX_BYTES >> 20);
		return NATADV_ETOOBIG;
	}
	wordnet *wn = calloc(1, sizeof *wn);
	if (!wn) {
		natadv_errf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	const char *p = text, *end = text + len;
	long line = 0;
	int rc = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		line++;
		if (e > p && e[-1] == '\r')
			e--;
		if (e > p && *p != ' ') {
			const char *why = NULL;
			rc = parse_line(wn, p, e, &why);
			if (rc) {
				natadv_errf(err, errlen, "cannot read '%s' line %ld: %s", name, line,
				            why ? why : natadv_strerror(rc));
				goto out;
			}
		}
		p = nl ? nl + 1 : end;
	}
	if (wn->n == 0) {
		rc = NATADV_EFORMAT;
		natadv_errf(err, errlen, "cannot read '%s': no noun synsets", name);
		goto out;
	}
	rc = resolve(wn, name, err, errlen);
out:
	if (rc) {
		wordnet_free(wn);
		return rc;
	}
	*out = wn;
	return 0;
}

int wordnet_load(const char *path, wordnet **out, char *err, size_t errlen)
{
	*out = NULL;
	struct stat st;
	if (stat(path, &st) != 0) {
		int e = errno;
		natadv_errf(err, errlen, "cannot read WordNet '%s': %s (install Debian's %s, or set NATADV_WORDNET to "
		            "a WordNet 3.0 data.noun)", path, strerror(e), WORDNET_PACKAGE);
		return e == ENOENT || e == ENOTDIR ? NATADV_ENOTFOUND : NATADV_EIO;
	}
	buf b;
	buf_init(&b, WORDNET_MAX_BYTES);
	int rc = buf_read_file(&b, path, err, errlen);
	if (!rc)
		rc = wordnet_parse(b.data ? b.data : "", b.len, path, out, err, errlen);
	buf_release(&b);
	return rc;
}

/* ---- the rule ---- */

int wordnet_is_under(const wordnet *wn, int i, int root)
{
	/* The synsets above one are few (under 100 in WordNet 3.0): a bounded list
	 * of those seen, walked in order, serves as both queue and marks. */
	int seen[WORDNET_MAX_ABOVE], n = 0;
	seen[n++] = i;
	for (int h = 0; h < n; h++) {
		if (seen[h] == root)
			return 1;
		const struct synset *s = &wn->v[seen[h]];
		for (uint32_t j = 0; j < s->nup; j++) {
			int p = (int)wn->up[s->up + j], dup = 0;
			for (int k = 0; k < n && !dup; k++)
				dup = seen[k] == p;
			if (!dup && n < WORDNET_MAX_ABOVE)
				seen[n++] = p;
		}
	}
	return 0;
}

/* Breadth-first up from synset i: the nearest in-distribution synset above it
 * (not i itself), or -1. seen holds stamps; stamp is this walk's. */
static int nearest_above(const wordnet *wn, int i, const unsigned char *in, int *queue, int *seen, int stamp)
{
	int head = 0, tail = 0;
	queue[tail++] = i;
	seen[i] = stamp;
	while (head < tail) {
		const struct synset *s = &wn->v[queue[head++]];
		for (uint32_t j = 0; j < s->nup; j++) {
			int p = (int)wn->up[s->up + j];
			if (seen[p] == stamp)
				continue;
			if (in[p])
				return p;
			seen[p] = stamp;
			queue[tail++] = p;
		}
	}
	return -1;
}

int wordnet_mark_in_dist(wordnet *wn, const char *const *wnids, int n, char *err, size_t errlen)
{
	size_t m = (size_t)wn->n;
	unsigned char *in = calloc(m, 1), *rel = calloc(m, 1);
	int *overlap = malloc(sizeof(int) * m), *queue = malloc(sizeof(int) * m), *seen = calloc(m, sizeof(int));
	int rc = 0, stamp = 0;
	if (!in || !rel || !overlap || !queue || !seen) {
		rc = NATADV_ENOMEM;
		natadv_errf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < m; i++)
		overlap[i] = -1;
	for (int k = 0; k < n; k++) {
		int i = wordnet_find(wn, wnids[k]);
		if (i < 0) {
			rc = NATADV_EINVAL;
			natadv_errf(err, errlen, "in-distribution class '%s' is not a WordNet noun synset", wnids[k]);
			goto out;
		}
		in[i] = 1;
		rel[i] = WORDNET_IN_DIST;
		overlap[i] = i;
	}
	/* Ancestors: walk up from each class in the given order; the first to reach one names it. */
	for (int k = 0; k < n; k++) {
		int c = wordnet_find(wn, wnids[k]), head = 0, tail = 0;
		queue[tail++] = c;
		seen[c] = ++stamp;
		while (head < tail) {
			const struct synset *s = &wn->v[queue[head++]];
			for (uint32_t j = 0; j < s->nup; j++) {
				int p = (int)wn->up[s->up + j];
				if (seen[p] == stamp)
					continue;
				seen[p] = stamp;
				queue[tail++] = p;
				if (rel[p] == WORDNET_USABLE) {
					rel[p] = WORDNET_ANCESTOR;
					overlap[p] = c;
				}
			}
		}
	}
	/* Descendants: the nearest class above. */
	for (int i = 0; i < wn->n; i++) {
		if (rel[i] != WORDNET_USABLE)
			continue;
		int a = nearest_above(wn, i, in, queue, seen, ++stamp);
		if (a >= 0) {
			rel[i] = WORDNET_DESCENDANT;
			overlap[i] = a;
		}
	}
	free(wn->rel);
	free(wn->overlap);
	wn->rel = rel;
	wn->overlap = overlap;
	rel = NULL;
	overlap = NULL;
out:
	free(in);
	free(rel);
	free(overlap);
	free(queue);
	free(seen);
	return rc;
}

wordnet_relation wordnet_judge(const wordnet *wn, int i, int *overlap)
{
	if (overlap)
		*overlap = wn->overlap ? wn->overlap[i] : -1;
	return wn->rel ? (wordnet_relation)wn->rel[i] : WORDNET_USABLE;
}
