/* thumb.c — small JPEG previews of a stored image, for the review page's
 * cards and the report's confusion examples. */
#include "image/img_internal.h"

#include "common/err.h"

int img_thumb_jpeg(img_ctx *c, const void *data, size_t len, uint32_t shorter, uint32_t longer_max, int quality,
                   buf *out, char *err, size_t errlen)
{
	img_rgb img;
	int rc = img_decode_rgb_scaled(c, data, len, NULL, shorter, &img, err, errlen);
	if (rc)
		return rc;
	uint32_t s = img.width < img.height ? img.width : img.height;
	uint32_t l = img.width < img.height ? img.height : img.width;
	uint64_t want = shorter;
	if ((uint64_t)l * want / s > longer_max)
		want = (uint64_t)s * longer_max / l;
	if (want < 1)
		want = 1;
	img_rgb small = img;
	if (want < s) {
		rc = img_resize_shorter(c, &img, (uint32_t)want, &small);
		if (rc) {
			natadv_errf(err, errlen, "cannot resize: %s", natadv_strerror(rc));
			return rc;
		}
	}
	buf_reset(out);
	return img_encode_jpeg(&small, quality, out, err, errlen);
}
