/* tar.c — the byte-reproducible release tar, written with libarchive.
 * Reproducible means: the entries in one order (sorted paths), and nothing
 * in a header that depends on the machine, the user or the clock — plain
 * ustar (no pax extended headers, so no atime/ctime), uid/gid 0 with names
 * "root", fixed modes, and every mtime the release time. */
#include "packager/packager.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/err.h"
#include "common/sha256.h"
#include "packager/pkg_internal.h"

/* Copies the file at path into the archive's current entry. */
static int copy_data(struct archive *a, const char *path, int64_t size, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		natadv_errf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return NATADV_EIO;
	}
	char blk[65536];
	int64_t total = 0;
	int rc = 0;
	for (;;) {
		ssize_t n = read(fd, blk, sizeof blk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			natadv_errf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
			rc = NATADV_EIO;
			break;
		}
		if (n == 0)
			break;
		total += n;
		if (total > size || archive_write_data(a, blk, (size_t)n) != n) {
			natadv_errf(err, errlen, "cannot archive '%s': %s", path,
			            total > size ? "it grew while being written" : archive_error_string(a));
			rc = NATADV_EIO;
			break;
		}
	}
	if (!rc && total != size) {
		natadv_errf(err, errlen, "cannot archive '%s': it shrank while being written", path);
		rc = NATADV_EIO;
	}
	close(fd);
	return rc;
}

static int write_entries(struct archive *a, const char *dir, const pkg_tree *t, int64_t mtime, char *err,
                         size_t errlen)
{
	struct archive_entry *e = archive_entry_new();
	if (!e) {
		natadv_errf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	int rc = 0;
	for (size_t i = 0; !rc && i < t->n; i++) {
		const pkg_node *nd = &t->v[i];
		if (nd->type == PKG_OTHER) {
			natadv_errf(err, errlen, "'%s/%s' is neither a file nor a folder", dir, nd->path);
			rc = NATADV_EFORMAT;
			break;
		}
		int is_dir = nd->type == PKG_DIR;
		archive_entry_clear(e);
		archive_entry_set_pathname(e, nd->path);
		archive_entry_set_filetype(e, is_dir ? AE_IFDIR : AE_IFREG);
		archive_entry_set_perm(e, is_dir ? 0755 : 0644);
		archive_entry_set_size(e, is_dir ? 0 : nd->size);
		archive_entry_set_mtime(e, (time_t)mtime, 0);
		archive_entry_set_uid(e, 0);
		archive_entry_set_gid(e, 0);
		archive_entry_set_uname(e, "root");
		archive_entry_set_gname(e, "root");
		if (archive_write_header(a, e) != ARCHIVE_OK) {
			natadv_errf(err, errlen, "cannot archive '%s': %s", nd->path, archive_error_string(a));
			rc = NATADV_EIO;
			break;
		}
		if (!is_dir) {
			char path[4400];
			snprintf(path, sizeof path, "%s/%s", dir, nd->path);
			rc = copy_data(a, path, nd->size, err, errlen);
		}
	}
	archive_entry_free(e);
	return rc;
}

int pkg_tar_write(const char *dir, const char *folder, const char *tar_path, int64_t mtime, char hex[65],
                  char *err, size_t errlen)
{
	pkg_tree t = {0};
	int rc = pkg_tree_walk(dir, folder, &t, err, errlen);
	if (rc)
		return rc;
	int fd = open(tar_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		natadv_errf(err, errlen, "cannot create '%s': %s", tar_path, strerror(errno));
		pkg_tree_release(&t);
		return NATADV_EIO;
	}
	struct archive *a = archive_write_new();
	if (!a) {
		natadv_errf(err, errlen, "out of memory");
		rc = NATADV_ENOMEM;
		goto out;
	}
	/* ustar, uncompressed, in 10240-byte records with the last one padded
	 * whole (libarchive would otherwise choose by the kind of file). */
	if (archive_write_set_format_ustar(a) != ARCHIVE_OK || archive_write_add_filter_none(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 10240) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 10240) != ARCHIVE_OK || archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		natadv_errf(err, errlen, "cannot write '%s': %s", tar_path, archive_error_string(a));
		rc = NATADV_EIO;
		goto out;
	}
	rc = write_entries(a, dir, &t, mtime, err, errlen);
	if (archive_write_close(a) != ARCHIVE_OK && !rc) {
		natadv_errf(err, errlen, "cannot write '%s': %s", tar_path, archive_error_string(a));
		rc = NATADV_EIO;
	}
	if (!rc && (fchmod(fd, 0644) != 0 || fsync(fd) != 0)) {
		natadv_errf(err, errlen, "cannot sync '%s': %s", tar_path, strerror(errno));
		rc = NATADV_EIO;
	}
out:
	if (a)
		archive_write_free(a);
	if (close(fd) != 0 && !rc) {
		natadv_errf(err, errlen, "cannot write '%s': %s", tar_path, strerror(errno));
		rc = NATADV_EIO;
	}
	pkg_tree_release(&t);
	if (!rc && hex)
		rc = sha256_file(tar_path, hex, NULL, err, errlen);
	return rc;
}
