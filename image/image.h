/* image.h — everything about pixels: sniff a JPEG/PNG header, prove a body is
 * a complete decodable image and fingerprint it (dHash), decode to RGB exactly
 * as PIL does and apply torchvision's Resize/CenterCrop/Normalize. */
#ifndef NATADV_IMAGE_H
#define NATADV_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

typedef enum img_format {
	IMG_FORMAT_UNKNOWN = 0,
	IMG_FORMAT_JPEG,
	IMG_FORMAT_PNG,
} img_format;

typedef struct img_info {
	img_format format;
	uint32_t width, height;
	int components;   /* JPEG: 1, 3 or 4; PNG: 1 gray, 2 gray+alpha, 3 rgb/palette, 4 rgba */
	int progressive;  /* JPEG progressive or PNG Adam7 interlaced */
} img_info;

/* Limits checked from the header alone, before any pixel is decoded. */
typedef struct img_limits {
	uint32_t min_side;    /* both sides must be >= this */
	uint64_t max_pixels;  /* width * height must be <= this */
} img_limits;

#define IMG_DEFAULT_MIN_SIDE 64
#define IMG_DEFAULT_MAX_PIXELS 100000000ULL

/* libjpeg may allocate at most this much per decode. Progressive JPEGs keep
 * every DCT coefficient in memory (2 bytes per sample), so this caps them at
 * about 85 MP for 4:2:0 and 42 MP for 4:4:4; larger ones fail with
 * NATADV_ETOOBIG. */
#define IMG_JPEG_MAX_MEMORY (256u << 20)

/* Per-thread reusable scratch (row buffers, pixel buffers). Never share one
 * between threads; different contexts may be used concurrently. */
typedef struct img_ctx img_ctx;

/* Interleaved 8-bit RGB, row stride 3*width. When returned by a decode or
 * resize call, px points into the ctx and stays valid until the next call
 * that writes the same slot on that ctx (see each function). */
typedef struct img_rgb {
	uint8_t *px;
	uint32_t width, height;
} img_rgb;

/* Encodes in as a baseline JPEG (optimised Huffman tables, 4:2:0, JFIF) at
 * quality 1..100 into out (replacing its content; out owned by the caller).
 * The same pixels and quality always give the same bytes. */
int img_encode_jpeg(const img_rgb *in, int quality, buf *out, char *err, size_t errlen);

/* Decodes an image (JPEG with DCT scaling), shrinks it so its shorter side
 * is at most shorter and its longer side at most longer_max (never
 * enlarging), and encodes it as JPEG at quality into out (replacing its
 * content; out owned by the caller). Uses c's scratch. Returns 0 or the
 * codes of img_decode_rgb and img_encode_jpeg, with err set. */
int img_thumb_jpeg(img_ctx *c, const void *data, size_t len, uint32_t shorter, uint32_t longer_max, int quality,
                   buf *out, char *err, size_t errlen);

/* Returns "jpeg", "png" or "unknown" (static strings). */
const char *img_format_name(img_format f);

/* Reads only the header (JPEG markers up to SOF; PNG signature and IHDR with
 * CRC) and fills *info. Allocates nothing. Returns 0 or NATADV_EFORMAT with a
 * detail in err ("empty body", "not an image: looks like html", ...). */
int img_probe(const void *data, size_t len, img_info *info, char *err, size_t errlen);

/* Allocates an empty context; NULL on out of memory. Free with img_ctx_free. */
img_ctx *img_ctx_new(void);

/* Frees c and every buffer it holds; accepts NULL. */
void img_ctx_free(img_ctx *c);

/* Probes, checks lim (NULL means the defaults) before decoding anything, then
 * decodes the whole stream (JPEG at 1/8 scale, PNG row by row) to prove it is
 * complete and uncorrupted, and computes a 64-bit dHash into *dhash. info and
 * dhash may be NULL. Returns 0, NATADV_EFORMAT (not an image, corrupt,
 * truncated, too small), NATADV_ETOOBIG (over max_pixels or memory cap) or
 * NATADV_ENOMEM; err gets a detail. Buffers are kept in c for reuse.
 * dHash: luma (PIL's "L" weights) area-averaged into 9x8 cells; bit y*8+x is
 * set when cell (x, y) is brighter than cell (x+1, y). The same photo as PNG
 * and as JPEG q90 lands within ~4 bits; unrelated photos ~32 apart. */
int img_validate(img_ctx *c, const void *data, size_t len, const img_limits *lim,
                 img_info *info, uint64_t *dhash, char *err, size_t errlen);

/* Returns the number of differing bits between two dHashes (0..64). */
int img_hamming(uint64_t a, uint64_t b);

/* Decodes the whole image to 8-bit RGB exactly as PIL's
 * Image.open(f).convert("RGB") does (no EXIF rotation, alpha and tRNS dropped,
 * CMYK converted as PIL does, 16-bit gray clipped as PIL does). Checks lim
 * first. Holds 3 bytes per pixel in c (plus 1-2 bytes per pixel for an Adam7
 * PNG that is not RGB). out->px is owned by c and valid until the next
 * img_decode_rgb* call on c. Returns 0 or the codes of img_validate. */
int img_decode_rgb(img_ctx *c, const void *data, size_t len, const img_limits *lim,
                   img_rgb *out, char *err, size_t errlen);

/* Like img_decode_rgb, but a JPEG is decoded with libjpeg's DCT scaling to the
 * smallest size whose shorter side is still >= min_shorter (PNG is decoded at
 * full size). Faster, but not bit-exact with PIL. Same ownership. */
int img_decode_rgb_scaled(img_ctx *c, const void *data, size_t len, const img_limits *lim,
                          uint32_t min_shorter, img_rgb *out, char *err, size_t errlen);

/* torchvision Resize(shorter) on a PIL image: the shorter side becomes shorter,
 * the longer int(shorter * long / short), resampled with PIL's antialiased
 * bilinear filter (bit-exact with PIL's ImagingResample). in may be the
 * output of an img_decode_rgb* call on c, but not of img_resize_shorter
 * (NATADV_EINVAL). out->px is owned by c and valid until the next
 * img_resize_shorter call on c. Returns 0, NATADV_EINVAL or NATADV_ENOMEM. */
int img_resize_shorter(img_ctx *c, const img_rgb *in, uint32_t shorter, img_rgb *out);

/* torchvision CenterCrop(crop) + ToTensor + Normalize(mean, std): writes
 * 3*crop*crop floats, channel-major (CHW), into caller-owned chw_out. Parts of
 * the crop outside a smaller image are zero-padded before normalising, as
 * torchvision does. */
void img_center_crop_normalize(const img_rgb *in, uint32_t crop, const float mean[3],
                               const float std[3], float *chw_out);

/* The 8-bit crop that img_center_crop_normalize normalises: writes
 * crop*crop*3 interleaved RGB bytes into caller-owned rgb_out. */
void img_center_crop_rgb(const img_rgb *in, uint32_t crop, uint8_t *rgb_out);

/* Assigns group[i] for each of the n hashes so that hashes within max_dist
 * bits of each other (directly or through a chain) share a group; a group's
 * id is the smallest index in it. Uses the pigeonhole principle (max_dist+1
 * exact-match chunks) instead of comparing all pairs. max_dist is 0..32;
 * group is caller-owned (n entries). Returns 0 or NATADV_ENOMEM/EINVAL. */
int img_group_near(const uint64_t *hash, size_t n, int max_dist, size_t *group);

#endif
