/* verify.c — pkg_verify: a release folder or tar against its SHA256SUMS and
 * manifest.jsonl. Every listed file must be there with its hash (and the
 * manifest's size), nothing unlisted may be there (an extra entry inside
 * the release folder shifts the labels loaders give), README.txt must be
 * there. Problems are collected, deduplicated and reported sorted by path. */
#include "packager/packager.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/err.h"
#include "common/sha256.h"
#include "packager/pkg_internal.h"

#define MAX_MEMBER_BYTES ((size_t)1 << 31)

typedef struct entry {
	char *path;
	char sha256[65];
	int64_t bytes;     /* the file's size (manifest); -1 when not given */
	int line;          /* where it is listed */
	int seen;
} entry;

typedef struct list {
	entry *v;
	size_t n, cap;
} list;

typedef struct problem {
	char *path;
	const char *kind;
} problem;

typedef struct vctx {
	problem *v;
	size_t n, cap;
	int oom;
	list sums, manifest;
	char **wnids;        /* class folders named by classes.tsv, sorted */
	size_t nwnids;
	char folder[512];
	int readme_seen;
	int have_manifest;   /* manifest.jsonl was there to read */
} vctx;

static void add_problem(vctx *c, const char *kind, const char *path)
{
	problem *v = array_grow(c->v, c->n, &c->cap, sizeof *v);
	if (!v) {
		c->oom = 1;
		return;
	}
	c->v = v;
	char *p = strdup(path);
	if (!p) {
		c->oom = 1;
		return;
	}
	c->v[c->n++] = (problem){p, kind};
}

static int list_add(list *l, const char *path, const char *sha, int64_t bytes)
{
	entry *v = array_grow(l->v, l->n, &l->cap, sizeof *v);
	if (!v)
		return NATADV_ENOMEM;
	l->v = v;
	entry *e = &l->v[l->n];
	if (!(e->path = strdup(path)))
		return NATADV_ENOMEM;
	snprintf(e->sha256, sizeof e->sha256, "%s", sha);
	e->bytes = bytes;
	e->line = 0;
	e->seen = 0;
	l->n++;
	return 0;
}

static void list_release(list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const entry *)a)->path, ((const entry *)b)->path);
}

static entry *list_find(const list *l, const char *path)
{
	entry key = {.path = (char *)path};
	return l->n ? bsearch(&key, l->v, l->n, sizeof *l->v, cmp_entry) : NULL;
}

/* Sorts a list by path; a path listed twice is a malformed line (the
 * later one, which is dropped). */
static void sort_unique(vctx *c, list *l, const char *name)
{
	if (l->n)
		qsort(l->v, l->n, sizeof *l->v, cmp_entry);
	size_t o = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (o && !strcmp(l->v[o - 1].path, l->v[i].path)) {
			char where[64];
			int a = l->v[o - 1].line, b = l->v[i].line;
			snprintf(where, sizeof where, "%s:%d", name, a > b ? a : b);
			add_problem(c, "malformed", where);
			free(l->v[i].path);
			continue;
		}
		l->v[o++] = l->v[i];
	}
	l->n = o;
}

/* Whether dir/name exists; its path goes to path. */
static int exists_in(const char *dir, const char *name, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s", dir, name);
	struct stat sb;
	return !(stat(path, &sb) != 0 && errno == ENOENT);
}

/* Notes "malformed: FILE:LINE" (or FILE alone for line 0). */
static void add_malformed(vctx *c, const char *file, long line)
{
	char where[64];
	if (line > 0)
		snprintf(where, sizeof where, "%s:%ld", file, line);
	else
		snprintf(where, sizeof where, "%s", file);
	add_problem(c, "malformed", where);
}

/* SHA256SUMS (required): its entries, and each line that is none. */
static int load_sums(vctx *c, const char *dir, char *err, size_t errlen)
{
	char path[4400];
	snprintf(path, sizeof path, "%s/SHA256SUMS", dir);
	pkg_sums sums;
	int rc = pkg_sums_read(path, &sums, err, errlen);
	if (rc == NATADV_ENOTFOUND)
		natadv_errf(err, errlen, "no SHA256SUMS in '%s': not a release", dir);
	for (size_t i = 0; !rc && i < sums.nbad; i++)
		add_malformed(c, "SHA256SUMS", sums.bad[i]);
	for (size_t i = 0; !rc && i < sums.n; i++) {
		if (list_add(&c->sums, sums.v[i].path, sums.v[i].sha256, -1) != 0)
			c->oom = 1;
		else
			c->sums.v[c->sums.n - 1].line = (int)sums.v[i].line;
	}
	pkg_sums_release(&sums);
	if (!rc)
		sort_unique(c, &c->sums, "SHA256SUMS");
	return rc;
}

/* manifest.jsonl when there is one: each line's file, hash and size. */
static int load_manifest(vctx *c, const char *dir, char *err, size_t errlen)
{
	char path[4400];
	if (!exists_in(dir, "manifest.jsonl", path, sizeof path))
		return 0;
	pkg_manifest *m = NULL;
	int rc = pkg_manifest_read(path, &m, err, errlen);
	if (rc)
		return rc;
	c->have_manifest = 1;
	for (int i = 0; i < m->n; i++) {
		const pkg_manifest_item *it = &m->items[i];
		if (it->error || !it->path || !it->sha256 || it->bytes < 0)
			add_malformed(c, "manifest.jsonl", it->line);
		else if (list_add(&c->manifest, it->path, it->sha256, it->bytes) != 0)
			c->oom = 1;
		else
			c->manifest.v[c->manifest.n - 1].line = (int)it->line;
	}
	pkg_manifest_free(m);
	sort_unique(c, &c->manifest, "manifest.jsonl");
	return 0;
}

/* classes.tsv when there is one: its wnids may be (empty) class folders.
 * SHA256SUMS covers the file; a malformed one is a problem of the release. */
static int load_classes(vctx *c, const char *dir, char *err, size_t errlen)
{
	char path[4400];
	if (!exists_in(dir, "classes.tsv", path, sizeof path))
		return 0;
	pkg_class_row *rows = NULL;
	int n = 0;
	long bad = 0;
	int rc = pkg_classes_read(path, &rows, &n, &bad, err, errlen);
	if (rc == NATADV_EFORMAT || rc == NATADV_ETOOBIG) {
		add_malformed(c, "classes.tsv", bad);
		return 0;
	}
	if (rc)
		return rc;
	c->wnids = calloc((size_t)n, sizeof *c->wnids);
	for (int i = 0; c->wnids && i < n; i++)
		if ((c->wnids[c->nwnids] = strdup(rows[i].wnid)) != NULL)
			c->nwnids++;
	if (!c->wnids || c->nwnids < (size_t)n)
		c->oom = 1;
	free(rows);
	if (c->nwnids)
		qsort(c->wnids, c->nwnids, sizeof *c->wnids, pkg_cmp_str);
	return 0;
}

/* Reads SHA256SUMS (required), manifest.jsonl and classes.tsv from dir and
 * finds the release folder. */
static int load_lists(vctx *c, const char *dir, char *err, size_t errlen)
{
	int rc = load_sums(c, dir, err, errlen);
	if (!rc)
		rc = load_manifest(c, dir, err, errlen);
	if (!rc)
		rc = load_classes(c, dir, err, errlen);
	if (rc)
		return rc;
	/* The folder: the first component of the manifest's paths, else the
	 * folder of the README.txt that SHA256SUMS lists. */
	const char *p = c->manifest.n ? c->manifest.v[0].path : NULL;
	for (size_t i = 0; !p && i < c->sums.n; i++) {
		const char *s = strchr(c->sums.v[i].path, '/');
		if (s && !strcmp(s, "/README.txt"))
			p = c->sums.v[i].path;
	}
	const char *slash = p ? strchr(p, '/') : NULL;
	if (!slash || (size_t)(slash - p) >= sizeof c->folder) {
		natadv_errf(err, errlen, "cannot tell the release folder of '%s': no image in manifest.jsonl and no "
		                         "README.txt in SHA256SUMS", dir);
		return NATADV_EFORMAT;
	}
	memcpy(c->folder, p, (size_t)(slash - p));
	c->folder[slash - p] = '\0';
	return c->oom ? NATADV_ENOMEM : 0;
}

/* Checks one file's actual hash and size against both lists. */
static void check_file(vctx *c, const char *path, const char *sha, int64_t bytes)
{
	entry *s = list_find(&c->sums, path), *m = list_find(&c->manifest, path);
	size_t fl = strlen(c->folder);
	int in_folder = !strncmp(path, c->folder, fl) && path[fl] == '/';
	char readme[600];
	snprintf(readme, sizeof readme, "%s/README.txt", c->folder);
	if (s)
		s->seen = 1;
	if (m)
		m->seen = 1;
	if (!strcmp(path, readme))
		c->readme_seen = 1;
	if (!s && strcmp(path, "SHA256SUMS") != 0)
		add_problem(c, "extra", path);
	else if (in_folder && !m && c->have_manifest && strcmp(path, readme) != 0)
		add_problem(c, "extra", path);  /* in SHA256SUMS but no image of the manifest */
	if ((s && strcmp(s->sha256, sha) != 0) || (m && (strcmp(m->sha256, sha) != 0 || m->bytes != bytes)))
		add_problem(c, "modified", path);
}

/* A folder may exist when it holds a listed file or is a class folder. */
static void check_dir(vctx *c, const char *path)
{
	size_t len = strlen(path), fl = strlen(c->folder);
	for (size_t i = 0; i < c->sums.n; i++)
		if (!strncmp(c->sums.v[i].path, path, len))
			return;
	for (size_t i = 0; i < c->manifest.n; i++)
		if (!strncmp(c->manifest.v[i].path, path, len))
			return;
	if (len > fl + 2 && !strncmp(path, c->folder, fl) && path[fl] == '/' && !strchr(path + fl + 1, '/')[1]) {
		char w[512];
		snprintf(w, sizeof w, "%.*s", (int)(len - fl - 2), path + fl + 1);
		const char *key = w;
		if (c->nwnids && bsearch(&key, c->wnids, c->nwnids, sizeof *c->wnids, pkg_cmp_str))
			return;
	}
	add_problem(c, "extra", path);
}

/* After the walk: listed files never seen are missing. */
static void check_missing(vctx *c, const char *only_prefix)
{
	size_t pl = only_prefix ? strlen(only_prefix) : 0;
	for (size_t i = 0; i < c->sums.n; i++)
		if (!c->sums.v[i].seen && (!only_prefix || !strncmp(c->sums.v[i].path, only_prefix, pl)))
			add_problem(c, "missing", c->sums.v[i].path);
	for (size_t i = 0; i < c->manifest.n; i++)
		if (!c->manifest.v[i].seen)
			add_problem(c, "missing", c->manifest.v[i].path);
	char readme[600];
	snprintf(readme, sizeof readme, "%s/README.txt", c->folder);
	if (!c->readme_seen)
		add_problem(c, "missing", readme);
}

static int verify_dir(vctx *c, const char *dir, int *files, char *err, size_t errlen)
{
	int rc = load_lists(c, dir, err, errlen);
	if (rc)
		return rc;
	pkg_tree t = {0};
	rc = pkg_tree_walk(dir, NULL, &t, err, errlen);
	for (size_t i = 0; !rc && i < t.n; i++) {
		const pkg_node *nd = &t.v[i];
		if (nd->type == PKG_DIR) {
			check_dir(c, nd->path);
			continue;
		}
		if (nd->type != PKG_FILE) {
			add_problem(c, "extra", nd->path);
			continue;
		}
		char path[4400], sha[65];
		snprintf(path, sizeof path, "%s/%s", dir, nd->path);
		if (!strcmp(nd->path, "SHA256SUMS") || !strcmp(nd->path, PKG_REPORT_FILE))
			continue;
		rc = sha256_file(path, sha, NULL, err, errlen);
		if (!rc)
			check_file(c, nd->path, sha, nd->size);
		(*files)++;
	}
	pkg_tree_release(&t);
	if (!rc)
		check_missing(c, NULL);
	return rc;
}

static int verify_tar(vctx *c, const char *tar, int *files, char *err, size_t errlen)
{
	char dir[4200], name[4200], tmp[4200];
	snprintf(tmp, sizeof tmp, "%s", tar);
	snprintf(dir, sizeof dir, "%s", dirname(tmp));
	snprintf(tmp, sizeof tmp, "%s", tar);
	snprintf(name, sizeof name, "%s", basename(tmp));
	int rc = load_lists(c, dir, err, errlen);
	if (rc)
		return rc;
	if (!c->manifest.n) {
		natadv_errf(err, errlen, "no manifest.jsonl beside '%s'", tar);
		return NATADV_ENOTFOUND;
	}
	/* The tar itself, when SHA256SUMS lists it. */
	entry *self = list_find(&c->sums, name);
	if (self) {
		char sha[65];
		rc = sha256_file(tar, sha, NULL, err, errlen);
		if (rc)
			return rc;
		self->seen = 1;
		if (strcmp(self->sha256, sha) != 0)
			add_problem(c, "modified", name);
		(*files)++;
	}
	struct archive *a = archive_read_new();
	if (!a) {
		natadv_errf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	if (archive_read_open_filename(a, tar, 65536) != ARCHIVE_OK) {
		natadv_errf(err, errlen, "cannot read '%s': %s", tar, archive_error_string(a));
		archive_read_free(a);
		return NATADV_EIO;
	}
	buf data;
	buf_init(&data, MAX_MEMBER_BYTES);
	struct archive_entry *e;
	int ar;
	while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		char path[4200];
		const char *p = archive_entry_pathname(e);
		while (p && !strncmp(p, "./", 2))
			p += 2;
		int is_dir = archive_entry_filetype(e) == AE_IFDIR;
		size_t len = p ? strlen(p) : 0;
		snprintf(path, sizeof path, "%s%s", p ? p : "", is_dir && len && p[len - 1] != '/' ? "/" : "");
		if (is_dir) {
			check_dir(c, path);
			continue;
		}
		entry *s = list_find(&c->sums, path), *m = list_find(&c->manifest, path);
		if (archive_entry_filetype(e) != AE_IFREG || (s && s->seen) || (m && m->seen)) {
			add_problem(c, "extra", path);  /* a link, a device, or a second member of that name */
			continue;
		}
		buf_reset(&data);
		char blk[65536];
		la_ssize_t n;
		while ((n = archive_read_data(a, blk, sizeof blk)) > 0)
			if (buf_append(&data, blk, (size_t)n) != 0)
				break;
		if (n < 0) {
			add_problem(c, "malformed", name);
			break;
		}
		char sha[65];
		if ((rc = sha256_hex(data.data ? data.data : "", data.len, sha)) != 0) {
			natadv_errf(err, errlen, "cannot hash '%s' in '%s': out of memory", path, tar);
			break;
		}
		check_file(c, path, sha, (int64_t)data.len);
		(*files)++;
	}
	if (ar != ARCHIVE_EOF && ar != ARCHIVE_OK)
		add_problem(c, "malformed", name);
	archive_read_free(a);
	buf_release(&data);
	if (rc)
		return rc;
	/* Inside the tar only the release folder is expected. */
	char prefix[600];
	snprintf(prefix, sizeof prefix, "%s/", c->folder);
	check_missing(c, prefix);
	return 0;
}

static int cmp_problem(const void *a, const void *b)
{
	const problem *x = a, *y = b;
	int r = strcmp(x->path, y->path);
	return r ? r : strcmp(x->kind, y->kind);
}

int pkg_verify(const char *path, pkg_problem_fn cb, void *ctx, pkg_verify_result *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	struct stat sb;
	if (stat(path, &sb) != 0) {
		natadv_errf(err, errlen, "cannot verify '%s': %s", path, strerror(errno));
		return NATADV_ENOTFOUND;
	}
	vctx c = {0};
	int rc = S_ISDIR(sb.st_mode) ? verify_dir(&c, path, &r->files, err, errlen)
	                             : verify_tar(&c, path, &r->files, err, errlen);
	if (!rc && c.oom) {
		natadv_errf(err, errlen, "out of memory");
		rc = NATADV_ENOMEM;
	}
	if (!rc) {
		if (c.n)
			qsort(c.v, c.n, sizeof *c.v, cmp_problem);
		for (size_t i = 0; i < c.n; i++) {
			if (i && !cmp_problem(&c.v[i - 1], &c.v[i]))
				continue;
			const char *k = c.v[i].kind;
			r->modified += !strcmp(k, "modified");
			r->missing += !strcmp(k, "missing");
			r->extra += !strcmp(k, "extra");
			r->malformed += !strcmp(k, "malformed");
			if (cb)
				cb(ctx, k, c.v[i].path);
		}
	}
	for (size_t i = 0; i < c.n; i++)
		free(c.v[i].path);
	free(c.v);
	list_release(&c.sums);
	list_release(&c.manifest);
	for (size_t i = 0; i < c.nwnids; i++)
		free(c.wnids[i]);
	free(c.wnids);
	return rc;
}
