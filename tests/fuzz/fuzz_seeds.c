/* fuzz_seeds.c — libFuzzer target for the seed list reader. The first byte
 * picks the file name extension (and so the format, or sniffing); the rest
 * is written to a file in memory that is read to the end. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/err.h"
#include "crawler/seeds.h"
#include "tests/fuzz/memfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *exts[] = { ".tsv", ".csv", ".jsonl", "" };
	char path[128], err[256];
	seed_reader *r = NULL;
	seed_row row;
	int fd, rc;
	long bad = 0, last = 0;

	if (size < 1)
		return 0;
	/* A memfd plus a symlink whose name carries the extension: the data
	 * never touches disk and the link is removed before returning. */
	char target[64];
	fd = memfile_open(data + 1, size - 1, target);
	if (fd < 0)
		return 0;
	snprintf(path, sizeof path, "/tmp/natadv-fuzz-seeds-%ld%s", (long)getpid(),
	         exts[data[0] % 4]);
	unlink(path);
	if (symlink(target, path) != 0) {
		close(fd);
		return 0;
	}
	if (seed_open(path, &r, err, sizeof err) == 0) {
		for (;;) {
			rc = seed_next(r, &row, err, sizeof err);
			if (rc == 0)
				break;
			if (rc == 1) {
				if (!row.url || !row.url[0] || !row.wnid || !row.wnid[0])
					abort();
				if (row.line <= last)
					abort();
				last = row.line;
				continue;
			}
			if (rc != NATADV_EFORMAT)
				abort(); /* no real I/O errors on a memfd */
			if (++bad > 10000000)
				abort();
		}
		seed_close(r);
	}
	unlink(path);
	close(fd);
	return 0;
}
