/* probe.c — identify a body from its first bytes without decoding: walk JPEG
 * markers to the frame header, or check the PNG signature and IHDR (with its
 * CRC). Also names the usual non-images a crawler gets instead of a photo. */
#include <string.h>

#include "common/err.h"
#include "image/img_internal.h"

static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Bitwise CRC-32: the header is 17 bytes, so a table would cost more than it
 * saves and would be either global state or per-call setup. */
static uint32_t crc32_bytes(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return crc ^ 0xffffffffu;
}

static int ci_prefix(const uint8_t *p, size_t len, const char *s)
{
	size_t n = strlen(s);
	if (len < n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = p[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (uint8_t)(ch + 32);
		if (ch != (uint8_t)s[i])
			return 0;
	}
	return 1;
}

static int contains(const uint8_t *p, size_t len, const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(p + i, s, n) == 0)
			return 1;
	return 0;
}

/* Names what the body looks like when it is not a JPEG or PNG, because
 * "unknown signature" alone does not tell a crawler operator that the
 * server sent an error page. */
static int probe_other(const uint8_t *p, size_t len, char *err, size_t errlen)
{
	size_t i = 0;
	if (len >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		i = 3;
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	const uint8_t *q = p + i;
	size_t n = len - i;
	if (len >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0))
		natadv_errf(err, errlen, "unsupported image format: gif");
	else if (len >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
		natadv_errf(err, errlen, "unsupported image format: webp");
	else if (len >= 12 && memcmp(p + 4, "ftyp", 4) == 0 &&
	         (memcmp(p + 8, "avif", 4) == 0 || memcmp(p + 8, "heic", 4) == 0 ||
	          memcmp(p + 8, "mif1", 4) == 0))
		natadv_errf(err, errlen, "unsupported image format: avif/heif");
	else if (len >= 4 && (memcmp(p, "II*", 4) == 0 || memcmp(p, "MM\0*", 4) == 0))
		natadv_errf(err, errlen, "unsupported image format: tiff");
	else if (len >= 2 && p[0] == 'B' && p[1] == 'M')
		natadv_errf(err, errlen, "unsupported image format: bmp");
	else if (len >= 2 && p[0] == 0xff && p[1] == 0xd8)
		natadv_errf(err, errlen, len < 3 ? "truncated header" : "corrupt jpeg: no marker after start of image");
	else if (ci_prefix(q, n, "<!doctype html") || ci_prefix(q, n, "<html") ||
	         ci_prefix(q, n, "<head") || ci_prefix(q, n, "<body") ||
	         ci_prefix(q, n, "<!--") || ci_prefix(q, n, "<meta") ||
	         ci_prefix(q, n, "<title"))
		natadv_errf(err, errlen, "not an image: looks like html");
	else if (ci_prefix(q, n, "<svg") ||
	         (ci_prefix(q, n, "<?xml") && contains(q, n < 4096 ? n : 4096, "<svg")))
		natadv_errf(err, errlen, "unsupported image format: svg");
	else if (ci_prefix(q, n, "<?xml"))
		natadv_errf(err, errlen, "not an image: looks like xml");
	else if (n > 0 && q[0] == '<')
		natadv_errf(err, errlen, "not an image: looks like html");
	else if (n > 0 && (q[0] == '{' || q[0] == '['))
		natadv_errf(err, errlen, "not an image: looks like json");
	else
		natadv_errf(err, errlen, "not an image: unknown signature");
	return NATADV_EFORMAT;
}

static int probe_png(const uint8_t *p, size_t len, img_info *info, char *err, size_t errlen)
{
	/* signature, length, "IHDR", 13 bytes of data, CRC */
	if (len < 8 + 8 + 13 + 4) {
		natadv_errf(err, errlen, "truncated header");
		return NATADV_EFORMAT;
	}
	if (be32(p + 8) != 13 || memcmp(p + 12, "IHDR", 4) != 0) {
		natadv_errf(err, errlen, "corrupt png: first chunk is not ihdr");
		return NATADV_EFORMAT;
	}
	const uint8_t *h = p + 16;
	if (crc32_bytes(p + 12, 17) != be32(p + 29)) {
		natadv_errf(err, errlen, "corrupt png: ihdr crc mismatch");
		return NATADV_EFORMAT;
	}
	uint32_t w = be32(h), hh = be32(h + 4);
	int depth = h[8], ctype = h[9];
	if (w == 0 || hh == 0 || w > 0x7fffffffu || hh > 0x7fffffffu) {
		natadv_errf(err, errlen, "corrupt png: bad dimensions %ux%u", w, hh);
		return NATADV_EFORMAT;
	}
	int comps = 0, ok = 0;
	switch (ctype) {
	case 0: comps = 1; ok = depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16; break;
	case 2: comps = 3; ok = depth == 8 || depth == 16; break;
	case 3: comps = 3; ok = depth == 1 || depth == 2 || depth == 4 || depth == 8; break;
	case 4: comps = 2; ok = depth == 8 || depth == 16; break;
	case 6: comps = 4; ok = depth == 8 || depth == 16; break;
	default: break;
	}
	if (!ok) {
		natadv_errf(err, errlen, "corrupt png: bad color type %d with bit depth %d", ctype, depth);
		return NATADV_EFORMAT;
	}
	if (h[10] != 0 || h[11] != 0 || h[12] > 1) {
		natadv_errf(err, errlen, "corrupt png: bad compression, filter or interlace method");
		return NATADV_EFORMAT;
	}
	info->format = IMG_FORMAT_PNG;
	info->width = w;
	info->height = hh;
	info->components = comps;
	info->progressive = h[12];
	return 0;
}

static int probe_jpeg(const uint8_t *p, size_t len, img_info *info, char *err, size_t errlen)
{
	size_t i = 2;
	for (;;) {
		if (i >= len)
			goto truncated;
		if (p[i] != 0xff) {
			natadv_errf(err, errlen, "corrupt jpeg: expected a marker at offset %zu", i);
			return NATADV_EFORMAT;
		}
		while (i < len && p[i] == 0xff)
			i++;
		if (i >= len)
			goto truncated;
		int m = p[i++];
		if (m == 0xd9) {
			natadv_errf(err, errlen, "corrupt jpeg: end of image before frame header");
			return NATADV_EFORMAT;
		}
		if (m == 0x01 || (m >= 0xd0 && m <= 0xd7))
			continue;  /* standalone markers carry no length */
		if (m == 0x00 || m == 0xd8) {
			natadv_errf(err, errlen, "corrupt jpeg: bad marker 0x%02x before frame header", m);
			return NATADV_EFORMAT;
		}
		if (i + 2 > len)
			goto truncated;
		size_t seg = (size_t)p[i] << 8 | p[i + 1];
		if (seg < 2) {
			natadv_errf(err, errlen, "corrupt jpeg: bad segment length %zu", seg);
			return NATADV_EFORMAT;
		}
		if (m == 0xda) {
			natadv_errf(err, errlen, "corrupt jpeg: scan before frame header");
			return NATADV_EFORMAT;
		}
		int is_sof = m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc;
		if (!is_sof) {
			i += seg;
			continue;
		}
		if (i + 8 > len)
			goto truncated;
		const uint8_t *s = p + i + 2;
		if (m == 0xc3 || m == 0xc7 || m == 0xcb || m == 0xcf) {
			natadv_errf(err, errlen, "unsupported jpeg: lossless");
			return NATADV_EFORMAT;
		}
		if (m == 0xc5 || m == 0xc6 || m == 0xcd || m == 0xce) {
			natadv_errf(err, errlen, "unsupported jpeg: hierarchical");
			return NATADV_EFORMAT;
		}
		if (s[0] != 8) {
			natadv_errf(err, errlen, "unsupported jpeg: %d-bit samples", s[0]);
			return NATADV_EFORMAT;
		}
		uint32_t h = (uint32_t)s[1] << 8 | s[2], w = (uint32_t)s[3] << 8 | s[4];
		int nc = s[5];
		if (h == 0) {
			natadv_errf(err, errlen, "unsupported jpeg: height defined by a dnl marker");
			return NATADV_EFORMAT;
		}
		if (w == 0) {
			natadv_errf(err, errlen, "corrupt jpeg: zero width");
			return NATADV_EFORMAT;
		}
		if (nc != 1 && nc != 3 && nc != 4) {
			natadv_errf(err, errlen, "unsupported jpeg: %d components", nc);
			return NATADV_EFORMAT;
		}
		if (seg < 8 + 3 * (size_t)nc) {
			natadv_errf(err, errlen, "corrupt jpeg: frame header too short");
			return NATADV_EFORMAT;
		}
		info->format = IMG_FORMAT_JPEG;
		info->width = w;
		info->height = h;
		info->components = nc;
		info->progressive = m == 0xc2 || m == 0xca;
		return 0;
	}
truncated:
	natadv_errf(err, errlen, "truncated header");
	return NATADV_EFORMAT;
}

int img_probe(const void *data, size_t len, img_info *info, char *err, size_t errlen)
{
	const uint8_t *p = data;
	img_info tmp;
	if (!info)
		info = &tmp;
	memset(info, 0, sizeof *info);
	if (!p || len == 0) {
		natadv_errf(err, errlen, "empty body");
		return NATADV_EFORMAT;
	}
	if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return probe_jpeg(p, len, info, err, errlen);
	if (len >= 8 && memcmp(p, png_sig, 8) == 0)
		return probe_png(p, len, info, err, errlen);
	if (len < 8 && memcmp(p, png_sig, len) == 0) {
		natadv_errf(err, errlen, "truncated header");
		return NATADV_EFORMAT;
	}
	return probe_other(p, len, err, errlen);
}
