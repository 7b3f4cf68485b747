/* files.c — the packager's file-system helpers: a sorted walk of a tree
 * (both the tar and SHA256SUMS need the same order), durable writes, folder
 * syncs and removal of abandoned temporary folders; and SHA256SUMS itself. */
#include "packager/pkg_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/sha256.h"
#include "packager/packager.h"

int pkg_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_node(const void *a, const void *b)
{
	return strcmp(((const pkg_node *)a)->path, ((const pkg_node *)b)->path);
}

void pkg_tree_release(pkg_tree *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].path);
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
}

static int tree_add(pkg_tree *t, const char *path, int type, int64_t size)
{
	pkg_node *v = array_grow(t->v, t->n, &t->cap, sizeof *v);
	if (!v)
		return NATADV_ENOMEM;
	t->v = v;
	size_t len = strlen(path);
	char *p = malloc(len + 2);
	if (!p)
		return NATADV_ENOMEM;
	memcpy(p, path, len + 1);
	if (type == PKG_DIR) {
		p[len] = '/';
		p[len + 1] = '\0';
	}
	t->v[t->n++] = (pkg_node){p, type, size};
	return 0;
}

/* Adds the entries of root/rel (rel "" for root itself), recursively. */
static int walk(const char *root, const char *rel, pkg_tree *t, char *err, size_t errlen)
{
	char dir[4200];
	snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
	DIR *d = opendir(dir);
	if (!d) {
		natadv_errf(err, errlen, "cannot read folder '%s': %s", dir, strerror(errno));
		return NATADV_EIO;
	}
	int rc = 0;
	struct dirent *de;
	while (!rc && (de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char child[4200], full[4300];
		int n = snprintf(child, sizeof child, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		if (n < 0 || (size_t)n >= sizeof child - 2) {
			natadv_errf(err, errlen, "path too long below '%s'", dir);
			rc = NATADV_EINVAL;
			break;
		}
		snprintf(full, sizeof full, "%s/%s", root, child);
		struct stat sb;
		if (lstat(full, &sb) != 0) {
			natadv_errf(err, errlen, "cannot stat '%s': %s", full, strerror(errno));
			rc = NATADV_EIO;
			break;
		}
		int type = S_ISREG(sb.st_mode) ? PKG_FILE : S_ISDIR(sb.st_mode) ? PKG_DIR : PKG_OTHER;
		rc = tree_add(t, child, type, (int64_t)sb.st_size);
		if (rc) {
			natadv_errf(err, errlen, "out of memory");
			break;
		}
		if (type == PKG_DIR)
			rc = walk(root, child, t, err, errlen);
	}
	closedir(d);
	return rc;
}

int pkg_tree_walk(const char *root, const char *sub, pkg_tree *t, char *err, size_t errlen)
{
	int rc = 0;
	if (sub) {
		rc = tree_add(t, sub, PKG_DIR, 0);
		if (rc) {
			natadv_errf(err, errlen, "out of memory");
			return rc;
		}
	}
	rc = walk(root, sub ? sub : "", t, err, errlen);
	if (!rc && t->n)
		qsort(t->v, t->n, sizeof *t->v, cmp_node);
	return rc;
}

int pkg_write_file(const char *path, const void *p, size_t n, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		natadv_errf(err, errlen, "cannot create '%s': %s", path, strerror(errno));
		return NATADV_EIO;
	}
	const char *q = p;
	size_t left = n;
	while (left > 0) {
		ssize_t w = write(fd, q, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			natadv_errf(err, errlen, "cannot write '%s': %s", path, w < 0 ? strerror(errno) : "no space");
			close(fd);
			return NATADV_EIO;
		}
		q += w;
		left -= (size_t)w;
	}
	/* umask may have narrowed the mode; a release's files are 0644. */
	if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
		natadv_errf(err, errlen, "cannot sync '%s': %s", path, strerror(errno));
		close(fd);
		return NATADV_EIO;
	}
	if (close(fd) != 0) {
		natadv_errf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		return NATADV_EIO;
	}
	return 0;
}

int pkg_mkdir(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		natadv_errf(err, errlen, "cannot create folder '%s': %s", path, strerror(errno));
		return NATADV_EIO;
	}
	if (chmod(path, 0755) != 0) {
		natadv_errf(err, errlen, "cannot set the mode of '%s': %s", path, strerror(errno));
		return NATADV_EIO;
	}
	return 0;
}

int pkg_mkdirs(const char *path, char *err, size_t errlen)
{
	char p[4200];
	int n = snprintf(p, sizeof p, "%s", path);
	if (n < 0 || (size_t)n >= sizeof p) {
		natadv_errf(err, errlen, "path too long: '%s'", path);
		return NATADV_EINVAL;
	}
	for (char *c = p + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(p, 0777) != 0 && errno != EEXIST) {
			natadv_errf(err, errlen, "cannot create folder '%s': %s", p, strerror(errno));
			return NATADV_EIO;
		}
		*c = '/';
	}
	if (mkdir(p, 0777) != 0 && errno != EEXIST) {
		natadv_errf(err, errlen, "cannot create folder '%s': %s", p, strerror(errno));
		return NATADV_EIO;
	}
	return 0;
}

int pkg_sync_dir(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		natadv_errf(err, errlen, "cannot sync folder '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NATADV_EIO;
	}
	close(fd);
	return 0;
}

int pkg_remove_tree(const char *path)
{
	struct stat sb;
	if (lstat(path, &sb) != 0)
		return errno == ENOENT ? 0 : NATADV_EIO;
	if (!S_ISDIR(sb.st_mode))
		return unlink(path) == 0 ? 0 : NATADV_EIO;
	DIR *d = opendir(path);
	if (!d)
		return NATADV_EIO;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char child[4400];
		snprintf(child, sizeof child, "%s/%s", path, de->d_name);
		if (pkg_remove_tree(child) != 0)
			rc = NATADV_EIO;
	}
	closedir(d);
	if (rmdir(path) != 0)
		rc = NATADV_EIO;
	return rc;
}

int pkg_sha256sums(const char *dir, buf *out, char *err, size_t errlen)
{
	pkg_tree t = {0};
	int rc = pkg_tree_walk(dir, NULL, &t, err, errlen);
	for (size_t i = 0; !rc && i < t.n; i++) {
		const pkg_node *nd = &t.v[i];
		if (nd->type == PKG_DIR || !strcmp(nd->path, "SHA256SUMS"))
			continue;
		if (nd->type != PKG_FILE) {
			natadv_errf(err, errlen, "'%s/%s' is neither a file nor a folder", dir, nd->path);
			rc = NATADV_EFORMAT;
			break;
		}
		char path[4400], hex[65];
		snprintf(path, sizeof path, "%s/%s", dir, nd->path);
		rc = sha256_file(path, hex, NULL, err, errlen);
		if (!rc && buf_printf(out, "%s  %s\n", hex, nd->path) != 0) {
			natadv_errf(err, errlen, "out of memory");
			rc = NATADV_ENOMEM;
		}
	}
	pkg_tree_release(&t);
	return rc;
}
