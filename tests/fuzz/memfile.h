/* memfile.h — fuzz targets that read a file: the input as an in-memory
 * file (memfd) that never touches disk, named by a /proc path. */
#ifndef NATADV_FUZZ_MEMFILE_H
#define NATADV_FUZZ_MEMFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

/* Writes the size bytes at data to a new memfd and its /proc/self/fd path
 * into path; returns the fd (the caller closes it), or -1. */
static inline int memfile_open(const uint8_t *data, size_t size, char path[64])
{
	int fd = memfd_create("fuzz", 0);
	if (fd < 0)
		return -1;
	if (size > 0 && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	snprintf(path, 64, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
