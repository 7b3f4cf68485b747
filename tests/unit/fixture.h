/* fixture.h — reading a test fixture into memory, for the image tests. */
#ifndef NATADV_TESTS_FIXTURE_H
#define NATADV_TESTS_FIXTURE_H

#include <stdint.h>
#include <stdio.h>

#include "common/buf.h"

#define FIX "tests/fixtures/"

typedef struct blob {
	uint8_t *p;  /* malloc'd, the caller frees it with free() */
	size_t len;
} blob;

/* The whole file at path, or {NULL, 0} (with a hint on stderr) when it
 * cannot be read or is empty. */
static inline blob load(const char *path)
{
	blob b = {NULL, 0};
	buf f;
	char err[256];
	buf_init(&f, (size_t)1 << 30);
	int rc = buf_read_file(&f, path, err, sizeof err);
	if (rc == 0 && f.len) {
		b.p = (uint8_t *)f.data;
		b.len = f.len;
	} else {
		if (rc)
			fprintf(stderr, "%s (run tests from the repo root)\n", err);
		else
			fprintf(stderr, "'%s' is empty\n", path);
		buf_release(&f);
	}
	return b;
}

#endif
