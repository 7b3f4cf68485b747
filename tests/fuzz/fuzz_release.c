/* fuzz_release.c — libFuzzer target for the packager's readers of a
 * release (pkg_manifest_read + pkg_manifest_check, pkg_sums_read,
 * pkg_classes_read), each given the same bytes from a memfd: whatever they
 * accept must hold only what their contracts promise. */
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
#include "common/text.h"
#include "packager/packager.h"
#include "tests/fuzz/memfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void manifest(const char *path)
{
	char err[1024];
	pkg_manifest *m = NULL;
	int rc = pkg_manifest_read(path, &m, err, sizeof err);
	if (rc) {
		if (rc != NATADV_ENOMEM)
			abort(); /* a malformed line does not stop the reading */
		return;
	}
	int malformed = 0;
	long last = 0;
	for (int i = 0; i < m->n; i++) {
		const pkg_manifest_item *it = &m->items[i];
		if (it->line <= last)
			abort();
		last = it->line;
		if (it->error) {
			malformed++;
			continue;
		}
		if ((it->path && !pkg_path_is_safe(it->path)) || (it->wnid && !text_is_wnid(it->wnid)) ||
		    (it->xxh128 && !text_is_hex(it->xxh128, 32)) || (it->sha256 && !text_is_hex(it->sha256, 64)) ||
		    it->label < -1 || it->label > 1000000 || it->bytes < -1 || (it->confidence != -1 &&
		    (it->confidence < 0 || it->confidence > 1)))
			abort();
	}
	if (malformed != m->malformed || strlen(m->sha256) != 64)
		abort();
	pkg_manifest_release rel;
	if (pkg_manifest_check(m, path, &rel, err, sizeof err) == 0) {
		if (m->n < 1 || m->malformed || !rel.set || !rel.version || rel.released_unix == 0)
			abort();
		for (int i = 0; i < m->n; i++)
			if (!m->items[i].path || !m->items[i].url || !strstr(m->items[i].path, m->items[i].xxh128) ||
			    strcmp(m->items[i].set, rel.set) != 0)
				abort();
	}
	pkg_manifest_free(m);
}

static void sums(const char *path)
{
	char err[1024];
	pkg_sums s;
	int rc = pkg_sums_read(path, &s, err, sizeof err);
	if (rc && rc != NATADV_ENOMEM)
		abort();
	for (size_t i = 0; i < s.n; i++)
		if (!pkg_path_is_safe(s.v[i].path) || !text_is_hex(s.v[i].sha256, 64) || s.v[i].line < 1 ||
		    pkg_sums_find(&s, s.v[i].path) == NULL)
			abort();
	pkg_sums_release(&s);
}

static void classes(const char *path)
{
	char err[1024];
	pkg_class_row *rows = NULL;
	int n = 0;
	long bad = -1;
	int rc = pkg_classes_read(path, &rows, &n, &bad, err, sizeof err);
	if (rc) {
		if (rows || n || bad < 0 || (rc != NATADV_EFORMAT && rc != NATADV_ENOMEM))
			abort();
		return;
	}
	if (n < 1 || bad != 0)
		abort();
	for (int i = 0; i < n; i++)
		if (rows[i].label < 0 || !text_is_wnid(rows[i].wnid) || rows[i].index_1k < -1 || rows[i].line < 2)
			abort();
	free(rows);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = memfile_open(data, size, path);
	if (fd < 0)
		return 0;
	manifest(path);
	sums(path);
	classes(path);
	close(fd);
	return 0;
}
