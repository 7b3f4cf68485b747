/* audit_resolve.c — which stored image an audit key names: a URL (as queued,
 * as a fetch ended, or in the crawler's normal form), an XXH3-128 hash or a
 * prefix of 8+ hex digits, a SHA-256, a release path (or a path ending in
 * one), a file on disk (by its content), or a release file's name. */
#include "store_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "common/err.h"
#include "common/sha256.h"

#define MAX_FILE_BYTES ((size_t)1 << 30)

static void on_found(void *ctx, const char *hash)
{
	store_audit_match *m = ctx;
	if (m->n < STORE_AUDIT_MAX_MATCHES)
		snprintf(m->hashes[m->n++], sizeof m->hashes[0], "%s", hash);
}

/* Looks key up one way; returns matches (>= 0) or a negative code. */
static int find(store *s, store_audit_by by, const char *key, store_audit_match *m)
{
	m->n = 0;
	return store_audit_find(s, by, key, STORE_AUDIT_MAX_MATCHES, on_found, m);
}

static int all_hex(const char *s)
{
	return s[strspn(s, "0123456789abcdefABCDEF")] == '\0';
}

static void lower_hex(char *s)
{
	for (; *s; s++)
		*s = (char)(*s >= 'A' && *s <= 'F' ? *s - 'A' + 'a' : *s);
}

/* XXH3-128 and SHA-256 of the file at path, as the crawler keys fetched bytes. */
static int hash_file(store *s, const char *path, char xxh[33], char sha[65])
{
	char err[512] = "";
	buf b;
	buf_init(&b, MAX_FILE_BYTES);
	int rc = buf_read_file(&b, path, err, sizeof err);
	if (!rc) {
		XXH128_canonical_t canon;
		XXH128_canonicalFromHash(&canon, XXH3_128bits(b.data, b.len));
		hex_encode(canon.digest, sizeof canon.digest, xxh);
		rc = sha256_hex(b.data, b.len, sha);
		if (rc)
			snprintf(err, sizeof err, "cannot hash '%s': %s", path, natadv_strerror(rc));
	}
	buf_release(&b);
	return rc ? store_fail(s, rc, "%s", err) : 0;
}

static int by_url(store *s, const char *key, const char *norm_url, store_audit_match *m)
{
	int n;
	m->how = "url";
	if ((n = find(s, STORE_AUDIT_URL, key, m)) != 0 || (n = find(s, STORE_AUDIT_FINAL_URL, key, m)) != 0)
		return n;
	if (!norm_url || strcmp(norm_url, key) == 0)
		return 0;
	m->how = "normalised url";
	if ((n = find(s, STORE_AUDIT_URL, norm_url, m)) != 0)
		return n;
	return find(s, STORE_AUDIT_FINAL_URL, norm_url, m);
}

/* A file on disk: its real path as a release path, then its content. */
static int by_file(store *s, const char *key, store_audit_match *m)
{
	struct stat sb;
	if (stat(key, &sb) != 0 || !S_ISREG(sb.st_mode))
		return 0;
	char real[PATH_MAX], xxh[33], sha[65];
	int n;
	if (realpath(key, real) && strcmp(real, key) != 0 && (n = find(s, STORE_AUDIT_RELEASE_PATH, real, m)) != 0)
		return n;
	if ((n = hash_file(s, key, xxh, sha)) != 0)
		return -n;
	m->how = "file content";
	if ((n = find(s, STORE_AUDIT_HASH, xxh, m)) != 0)
		return n;
	return find(s, STORE_AUDIT_SHA256, sha, m);
}

int store_audit_resolve(store *s, const char *key, const char *norm_url, store_audit_match *m)
{
	int n;
	size_t len = strlen(key);
	m->n = 0;
	m->how = "";
	if (!strncasecmp(key, "http://", 7) || !strncasecmp(key, "https://", 8))
		n = by_url(s, key, norm_url, m);
	else if (all_hex(key) && (len == 64 || (len >= 8 && len <= 32))) {
		char lower[65];
		snprintf(lower, sizeof lower, "%s", key);
		lower_hex(lower);
		m->how = len == 64 ? "sha-256" : len == 32 ? "hash" : "hash prefix";
		n = find(s, len == 64 ? STORE_AUDIT_SHA256 : STORE_AUDIT_HASH, lower, m);
	} else if (all_hex(key) && len < 8) {
		return store_fail(s, NATADV_EINVAL, "a hash prefix needs at least 8 hex digits, not '%s'", key);
	} else {
		m->how = "release path";
		n = find(s, STORE_AUDIT_RELEASE_PATH, key, m);
		if (n == 0)
			n = by_file(s, key, m);
		/* a release's file names are the content hash of the fetched bytes */
		const char *base = strrchr(key, '/');
		base = base ? base + 1 : key;
		char name[33];
		if (n == 0 && strlen(base) == 36 && strcmp(base + 32, ".jpg") == 0) {
			snprintf(name, sizeof name, "%.32s", base);
			if (all_hex(name)) {
				lower_hex(name);
				m->how = "file name";
				n = find(s, STORE_AUDIT_HASH, name, m);
			}
		}
	}
	if (n < 0)
		return -n;
	m->n = n;
	return 0;
}
