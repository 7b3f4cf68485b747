/* sha256.c — SHA-256 of memory and of files via libcrypto's EVP interface. */
#include "common/sha256.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"

void hex_encode(const void *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *d = p;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

int sha256_hex(const void *p, size_t n, char hex[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dn = 0;
	if (!EVP_Digest(p, n, d, &dn, EVP_sha256(), NULL))
		return NATADV_ENOMEM;
	hex_encode(d, dn, hex);
	return 0;
}

int sha256_file(const char *path, char hex[65], int64_t *bytes, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return NATADV_EIO;
	}
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) ? 0 : NATADV_ENOMEM;
	unsigned char chunk[1 << 16];
	int64_t total = 0;
	size_t n;
	while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		total += (int64_t)n;
		if (!EVP_DigestUpdate(md, chunk, n))
			rc = NATADV_ENOMEM;
	}
	if (!rc && ferror(f)) {
		rc = NATADV_EIO;
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
	}
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dn = 0;
	if (!rc && !EVP_DigestFinal_ex(md, d, &dn))
		rc = NATADV_ENOMEM;
	if (!rc) {
		hex_encode(d, dn, hex);
		if (bytes)
			*bytes = total;
	} else if (rc == NATADV_ENOMEM) {
		snprintf(err, errlen, "out of memory");
	}
	EVP_MD_CTX_free(md);
	fclose(f);
	return rc;
}
