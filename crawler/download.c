/* download.c — fetching one file the user named (model weights) to disk:
 * written to a temporary name, hashed on the way, renamed when complete. */
#include "crawler/crawler.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/sha256.h"

struct dl {
	FILE *f;
	EVP_MD_CTX *md;
	int64_t bytes, max;
	int too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct dl *d = ud;
	size_t len = size * n;
	if (d->bytes + (int64_t)len > d->max) {
		d->too_big = 1;
		return 0;
	}
	if (fwrite(p, 1, len, d->f) != len || !EVP_DigestUpdate(d->md, p, len))
		return 0;
	d->bytes += (int64_t)len;
	return len;
}

int crawl_download(const char *url, const char *path, const http_opts *ho, const http_policy *policy,
                   char sha256[65], int64_t *bytes, char *err, size_t errlen)
{
	int64_t max_bytes = ho->max_bytes > 0 ? ho->max_bytes : INT64_MAX;
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.part", path);
	struct dl d = {0};
	d.max = max_bytes;
	d.f = fopen(tmp, "wb");
	if (!d.f) {
		snprintf(err, errlen, "cannot create '%s': %s", tmp, strerror(errno));
		return NATADV_EIO;
	}
	d.md = EVP_MD_CTX_new();
	http_guard guard = {policy, 0, NULL};
	CURL *e = http_easy_new(ho, &guard);
	int rc = 0;
	if (!d.md || !e || !EVP_DigestInit_ex(d.md, EVP_sha256(), NULL)) {
		snprintf(err, errlen, "out of memory");
		rc = NATADV_ENOMEM;
		goto out;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &d);
	CURLcode cc = curl_easy_perform(e);
	if (cc != CURLE_OK) {
		if (guard.refused)
			snprintf(err, errlen, "cannot download '%s': refused: host resolves to a private or loopback address "
			         "(use --allow-private)", url);
		else if (d.too_big || cc == CURLE_FILESIZE_EXCEEDED)
			snprintf(err, errlen, "cannot download '%s': larger than %lld bytes", url, (long long)max_bytes);
		else
			snprintf(err, errlen, "cannot download '%s': %s", url, curl_easy_strerror(cc));
		rc = NATADV_ENET;
		goto out;
	}
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned int dn = 0;
	EVP_DigestFinal_ex(d.md, dig, &dn);
	hex_encode(dig, dn, sha256);
	if (bytes)
		*bytes = d.bytes;
	if (fflush(d.f) != 0 || fsync(fileno(d.f)) != 0) {
		snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
		rc = NATADV_EIO;
	}
out:
	if (d.f && fclose(d.f) != 0 && !rc) {
		snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
		rc = NATADV_EIO;
	}
	if (!rc && rename(tmp, path) != 0) {
		snprintf(err, errlen, "cannot rename '%s': %s", tmp, strerror(errno));
		rc = NATADV_EIO;
	}
	if (rc)
		unlink(tmp);
	if (e)
		curl_easy_cleanup(e);
	EVP_MD_CTX_free(d.md);
	return rc;
}
