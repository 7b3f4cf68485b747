/* blob.c — the content-addressed blob store: objects/ab/cdef… holds the
 * exact bytes of an image whose XXH3-128 is abcdef…. A blob appears only
 * once completely written (an O_TMPFILE linked into place, or a temporary
 * file renamed), so a reader never sees half a blob; blob_sync makes them
 * durable before rows refer to them. */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/text.h"

int blob_path(const char *objdir, const char *hex, buf *out)
{
	if (!text_is_hex(hex, 32))
		return NATADV_EINVAL;
	return buf_printf(out, "%s/%.2s/%s", objdir, hex, hex + 2);
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *q = p;
	while (n > 0) {
		ssize_t w = write(fd, q, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

int blob_put(const char *objdir, const char *hex, const void *p, size_t n,
             char *err, size_t errlen)
{
	char path[4400], dir[4400], tmp[4400];
	if (!text_is_hex(hex, 32)) {
		snprintf(err, errlen, "bad blob name '%s'", hex);
		return NATADV_EINVAL;
	}
	snprintf(dir, sizeof dir, "%s/%.2s", objdir, hex);
	snprintf(path, sizeof path, "%s/%s", dir, hex + 2);
	struct stat sb;
	if (stat(path, &sb) == 0 && (size_t)sb.st_size == n)
		return 0; /* same hash, same length: already stored */
	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create '%s': %s", dir, strerror(errno));
		return NATADV_EIO;
	}
	/* An unnamed file in the blob's own folder, linked in once complete: a
	 * crash leaves nothing half written behind, and writers of different
	 * folders do not contend for one temporary folder's lock. */
	int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
	if (fd >= 0) {
		char proc[64];
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
		if (write_all(fd, p, n) != 0) {
			snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
			close(fd);
			return NATADV_EIO;
		}
		int rc = linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
		int e = errno;
		close(fd);
		if (rc == 0 || e == EEXIST)
			return 0; /* EEXIST: another writer stored the same bytes first */
		if (e != ENOENT && e != EPERM && e != EXDEV) {
			snprintf(err, errlen, "cannot store '%s': %s", path, strerror(e));
			return NATADV_EIO;
		}
		/* no /proc: fall through to the named temporary file */
	}
	/* The temporary name is unique per process and thread. */
	snprintf(tmp, sizeof tmp, "%s/tmp/%ld-%lx-%s", objdir, (long)getpid(),
	         (unsigned long)pthread_self(), hex);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create '%s': %s", tmp, strerror(errno));
		return NATADV_EIO;
	}
	if (write_all(fd, p, n) != 0) {
		snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return NATADV_EIO;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		snprintf(err, errlen, "cannot store '%s': %s", path, strerror(errno));
		unlink(tmp);
		return NATADV_EIO;
	}
	return 0;
}

int blob_sync(const char *objdir)
{
	int fd = open(objdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return NATADV_EIO;
	int rc = syncfs(fd) == 0 ? 0 : NATADV_EIO;
	close(fd);
	return rc;
}

int blob_clean_tmp(const char *objdir, int *n)
{
	char dir[4400], path[4700];
	snprintf(dir, sizeof dir, "%s/tmp", objdir);
	*n = 0;
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return mkdir(dir, 0777) == 0 ? 0 : NATADV_EIO;
		return NATADV_EIO;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (unlink(path) == 0)
			(*n)++;
	}
	closedir(d);
	return 0;
}
