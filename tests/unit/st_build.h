/* st_build.h — writes safetensors files in memory for the tests, including
 * deliberately broken ones: the caller gives each tensor's header fields,
 * and may override its data_offsets or append raw header text. */
#ifndef NATADV_ST_BUILD_H
#define NATADV_ST_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

typedef struct stb_tensor {
	const char *name;
	const char *dtype;     /* as the format spells it: "F32" */
	int ndim;
	int64_t shape[10];     /* more than ST_MAX_DIMS, for bad files */
	const void *data;      /* nbytes to copy, or NULL to leave zeros */
	size_t nbytes;
	int lie;               /* write begin/end below instead of the truth */
	long long begin, end;
	size_t offset;         /* out: where the data starts in the file */
} stb_tensor;

/* Returns a malloc'd file of the n tensors laid out back to back, with
 * extra_json inserted as more header members (or NULL) and trailing bytes
 * of zeros after the data; *size gets its length. */
static unsigned char *stb_build(stb_tensor *t, size_t n, const char *extra_json,
                                size_t trailing, size_t *size)
{
	buf h;
	size_t off = 0, hlen, total;
	unsigned char *out = NULL;

	buf_init(&h, (size_t)1 << 30);
	buf_puts(&h, "{");
	for (size_t i = 0; i < n; i++) {
		long long b = (long long)off, e = (long long)(off + t[i].nbytes);

		if (t[i].lie)
			b = t[i].begin, e = t[i].end;
		buf_printf(&h, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "",
		           t[i].name, t[i].dtype);
		for (int d = 0; d < t[i].ndim; d++)
			buf_printf(&h, "%s%lld", d ? "," : "", (long long)t[i].shape[d]);
		buf_printf(&h, "],\"data_offsets\":[%lld,%lld]}", b, e);
		off += t[i].nbytes;
	}
	if (extra_json)
		buf_printf(&h, "%s%s", n ? "," : "", extra_json);
	buf_puts(&h, "}");
	while (h.len % 8)
		buf_puts(&h, " ");
	hlen = h.len;
	total = 8 + hlen + off + trailing;
	out = calloc(total ? total : 1, 1);
	if (!out)
		goto done;
	for (int i = 0; i < 8; i++)
		out[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
	memcpy(out + 8, h.data, hlen);
	off = 8 + hlen;
	for (size_t i = 0; i < n; i++) {
		t[i].offset = off;
		if (t[i].data)
			memcpy(out + off, t[i].data, t[i].nbytes);
		off += t[i].nbytes;
	}
	*size = total;
done:
	buf_release(&h);
	return out;
}

#endif
