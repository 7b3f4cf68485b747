/* fuzz_manifest.c — libFuzzer target for the release manifest reader of
 * `natadv rebuild` (the packager's pkg_manifest_read and pkg_manifest_check
 * under it). The input is the manifest.jsonl, read from a memfd;
 * a manifest it accepts must hold only well-formed lines. */
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
#include "rebuild/rebuild.h"
#include "tests/fuzz/memfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[1024];
	int fd = memfile_open(data, size, path);
	if (fd < 0)
		return 0;
	rebuild_manifest *m = NULL;
	int rc = rebuild_manifest_read(path, &m, err, sizeof err);
	if (rc == 0) {
		if (m->n < 1 || !m->set || !m->version || m->nmembers < 1 || strlen(m->sha256) != 64)
			abort();
		for (int i = 0; i < m->n; i++) {
			const rebuild_item *it = &m->items[i];
			const pkg_manifest_item *in = it->src;
			if (!it->norm_url || !it->host || strlen(in->xxh128) != 32 || !strstr(in->path, in->xxh128) ||
			    in->confidence < 0 || in->confidence > 1 || in->line < 1 || in->error)
				abort();
		}
	} else if (rc != NATADV_EFORMAT && rc != NATADV_ENOMEM) {
		abort(); /* no real I/O errors on a memfd */
	}
	rebuild_manifest_free(m);
	close(fd);
	return 0;
}
