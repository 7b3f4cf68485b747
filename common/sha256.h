/* sha256.h — SHA-256 as lower-case hex, through OpenSSL's libcrypto (which
 * uses the CPU's SHA instructions where it has them). */
#ifndef NATADV_SHA256_H
#define NATADV_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* Writes n bytes as 2n lower-case hex digits + NUL into out (2n+1 bytes). */
void hex_encode(const void *p, size_t n, char *out);
/* Writes the SHA-256 of n bytes at p as 64 hex digits + NUL into hex. */
int sha256_hex(const void *p, size_t n, char hex[65]);
/* Hashes the file at path; *bytes (may be NULL) gets its size. Returns 0 or
 * NATADV_EIO with err saying why. */
int sha256_file(const char *path, char hex[65], int64_t *bytes, char *err, size_t errlen);

#endif
