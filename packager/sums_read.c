/* sums_read.c — the one reader of a release's SHA256SUMS (the file
 * pkg_sha256sums writes, in sha256sum's format). A line that is not a hash
 * and a safe relative path is kept by its number, so verify can report it
 * and rebuild can ignore it. */
#include "packager/packager.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/err.h"

void pkg_sums_release(pkg_sums *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].path);
	free(s->v);
	free(s->bad);
	memset(s, 0, sizeof *s);
}

/* Adds one "<64 hex><space><space or *><path>" line, or notes it as bad. */
static int sums_line(pkg_sums *s, const char *line, size_t len, long no, size_t *cap, size_t *capbad)
{
	int ok = len >= 67 && strspn(line, "0123456789abcdef") >= 64 && line[64] == ' ' &&
	         (line[65] == ' ' || line[65] == '*');
	char *path = ok ? strndup(line + 66, len - 66) : NULL;
	if (ok && !path)
		return NATADV_ENOMEM;
	if (path && (strlen(path) != len - 66 || !pkg_path_is_safe(path))) {
		free(path);
		path = NULL;
		ok = 0;
	}
	if (!ok) {
		long *b = array_grow(s->bad, s->nbad, capbad, sizeof *b);
		if (!b)
			return NATADV_ENOMEM;
		s->bad = b;
		s->bad[s->nbad++] = no;
		return 0;
	}
	pkg_sum *v = array_grow(s->v, s->n, cap, sizeof *v);
	if (!v) {
		free(path);
		return NATADV_ENOMEM;
	}
	s->v = v;
	pkg_sum *e = &s->v[s->n++];
	e->line = no;
	e->path = path;
	memcpy(e->sha256, line, 64);
	e->sha256[64] = '\0';
	return 0;
}

int pkg_sums_read(const char *path, pkg_sums *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	struct stat sb;
	if (stat(path, &sb) != 0 && errno == ENOENT) {
		natadv_errf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return NATADV_ENOTFOUND;
	}
	buf b;
	buf_init(&b, PKG_SUMS_MAX_BYTES);
	int rc = buf_read_file(&b, path, err, errlen);
	const char *text = rc ? "" : buf_cstr(&b);
	size_t cap = 0, capbad = 0;
	long no = 0;
	for (const char *p = text; !rc && *p;) {
		size_t n = strcspn(p, "\n");
		no++;
		if (n)
			rc = sums_line(s, p, n, no, &cap, &capbad);
		p += n;
		if (*p)
			p++;
	}
	if (rc == NATADV_ENOMEM)
		natadv_errf(err, errlen, "cannot read '%s': out of memory", path);
	buf_release(&b);
	if (rc)
		pkg_sums_release(s);
	return rc;
}

const pkg_sum *pkg_sums_find(const pkg_sums *s, const char *rel_path)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].path, rel_path) == 0)
			return &s->v[i];
	return NULL;
}
