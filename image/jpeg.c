/* jpeg.c — JPEG through libjpeg-turbo: a cheap 1/8-scale pass that still
 * entropy-decodes every scan (validation + dHash; jpeg_walk.c does the same
 * faster for the common files), and a full decode with PIL's settings and
 * PIL's CMYK handling (scorer input). */
#include <ctype.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "common/err.h"
#include "image/img_internal.h"
#include "image/jpeg_walk.h"

/* A progressive file may hold any number of scans, each re-walking the
 * coefficients; real encoders use about ten. Caps a CPU-time bomb. */
#define JPEG_MAX_SCANS 500

typedef struct jerr_mgr {
	struct jpeg_error_mgr pub;
	struct jpeg_progress_mgr prog;
	jmp_buf jb;
	int code;
	char msg[JMSG_LENGTH_MAX + 32];
} jerr_mgr;

/* Turns "Corrupt JPEG data: premature end of data segment" into the
 * module's style: "corrupt jpeg: premature end of data segment". */
static void set_msg(jerr_mgr *je, j_common_ptr ci)
{
	char text[JMSG_LENGTH_MAX];
	const char *prefix = "Corrupt JPEG data: ";
	int code = je->pub.msg_code;
	text[0] = '\0';
	(*ci->err->format_message)(ci, text);
	const char *s = text;
	if (strncmp(s, prefix, strlen(prefix)) == 0)
		s += strlen(prefix);
	if (code == JERR_NO_BACKING_STORE) {
		je->code = NATADV_ETOOBIG;
		snprintf(je->msg, sizeof je->msg,
		         "image too large: jpeg decoding needs more than %u mb", IMG_JPEG_MAX_MEMORY >> 20);
		return;
	}
	je->code = code == JERR_OUT_OF_MEMORY ? NATADV_ENOMEM : NATADV_EFORMAT;
	snprintf(je->msg, sizeof je->msg, "%s: %s",
	         code == JERR_OUT_OF_MEMORY ? "out of memory" : "corrupt jpeg", s);
	size_t n = strlen(je->msg);
	for (size_t i = 0; i < n; i++)
		je->msg[i] = (char)tolower((unsigned char)je->msg[i]);
	while (n > 0 && (je->msg[n - 1] == '.' || je->msg[n - 1] == ' '))
		je->msg[--n] = '\0';
}

static void on_error(j_common_ptr ci)
{
	jerr_mgr *je = (jerr_mgr *)ci->err;
	set_msg(je, ci);
	longjmp(je->jb, 1);
}

/* Warnings that mean the data is damaged or incomplete are errors here: a
 * half-downloaded photo decodes "fine" with a grey bottom otherwise. Notes
 * about unknown JFIF versions or Adobe transforms are not damage. */
static void on_emit(j_common_ptr ci, int level)
{
	jerr_mgr *je = (jerr_mgr *)ci->err;
	if (level >= 0)
		return;
	switch (je->pub.msg_code) {
	case JWRN_ADOBE_XFORM:
	case JWRN_JFIF_MAJOR:
	case JWRN_BOGUS_ICC:
		return;
	default:
		set_msg(je, ci);
		longjmp(je->jb, 1);
	}
}

static void on_output(j_common_ptr ci)
{
	(void)ci;  /* library code never prints */
}

static void on_progress(j_common_ptr ci)
{
	if (!ci->is_decompressor)
		return;
	j_decompress_ptr d = (j_decompress_ptr)ci;
	if (d->input_scan_number > JPEG_MAX_SCANS) {
		jerr_mgr *je = (jerr_mgr *)ci->err;
		je->code = NATADV_EFORMAT;
		snprintf(je->msg, sizeof je->msg, "corrupt jpeg: more than %d scans", JPEG_MAX_SCANS);
		longjmp(je->jb, 1);
	}
}

static void setup(struct jpeg_decompress_struct *ci, jerr_mgr *je)
{
	memset(ci, 0, sizeof *ci);
	memset(je, 0, sizeof *je);
	ci->err = jpeg_std_error(&je->pub);
	je->pub.error_exit = on_error;
	je->pub.emit_message = on_emit;
	je->pub.output_message = on_output;
	je->prog.progress_monitor = on_progress;
}

static void start(struct jpeg_decompress_struct *ci, jerr_mgr *je, const uint8_t *data,
                  size_t len)
{
	jpeg_create_decompress(ci);
	ci->mem->max_memory_to_use = IMG_JPEG_MAX_MEMORY;
	ci->progress = &je->prog;
	jpeg_mem_src(ci, data, (unsigned long)len);
	jpeg_read_header(ci, TRUE);
}

static int is_cmyk(const struct jpeg_decompress_struct *ci)
{
	return ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK;
}

/* PIL reads every 4-channel JPEG with rawmode "CMYK;I" (Adobe polarity,
 * inverted) and then converts with cmyk2rgb: out = nk - nk*c/255 rounded,
 * nk = 255 - k, on the inverted samples. Here on libjpeg's raw samples.
 * All four samples are read before any output is written, so out may
 * trail in within the same buffer (in-place row conversion). */
static void cmyk_row_to_rgb(const uint8_t *in, uint8_t *out, uint32_t w)
{
	for (uint32_t x = 0; x < w; x++, in += 4, out += 3) {
		int s[4] = {in[0], in[1], in[2], in[3]};
		int nk = s[3];  /* 255 - (255 - k) */
		for (int ch = 0; ch < 3; ch++) {
			int t = (255 - s[ch]) * nk + 128;
			int v = nk - (((t >> 8) + t) >> 8);
			out[ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
		}
	}
}

/* What a pass over one JPEG does once its header is read: returns 0 or an
 * error code with err set. A libjpeg error inside it lands in read_jpeg,
 * which frees the decompressor either way. */
typedef int (*jpeg_body)(struct jpeg_decompress_struct *ci, void *arg, char *err, size_t errlen);

/* Reads the JPEG in data[0..len) with libjpeg-turbo: the header, then body. */
static int read_jpeg(const uint8_t *data, size_t len, jpeg_body body, void *arg, char *err,
                     size_t errlen)
{
	struct jpeg_decompress_struct ci;
	jerr_mgr je;
	setup(&ci, &je);
	if (setjmp(je.jb)) {
		jpeg_destroy_decompress(&ci);
		natadv_errf(err, errlen, "%s", je.msg);
		return je.code;
	}
	start(&ci, &je, data, len);
	int done = body(&ci, arg, err, errlen);
	jpeg_destroy_decompress(&ci);
	return done;
}

/* Reads the next output scanline into row. */
static int read_row(struct jpeg_decompress_struct *ci, JSAMPROW row, char *err, size_t errlen)
{
	if (jpeg_read_scanlines(ci, &row, 1) != 1) {
		natadv_errf(err, errlen, "corrupt jpeg: decoder returned no rows");
		return NATADV_EFORMAT;
	}
	return 0;
}

struct validate_arg {
	img_ctx *c;
	const img_info *info;
	uint64_t *dhash;
};

static int validate_body(struct jpeg_decompress_struct *ci, void *arg, char *err, size_t errlen)
{
	struct validate_arg *a = arg;
	img_ctx *c = a->c;
	img_dhash_acc acc;
	if (ci->image_width != a->info->width || ci->image_height != a->info->height) {
		natadv_errf(err, errlen, "corrupt jpeg: frame header changed");
		return NATADV_EFORMAT;
	}
	int cmyk = is_cmyk(ci);
	ci->out_color_space = cmyk ? JCS_CMYK : JCS_GRAYSCALE;
	/* Speed, not fidelity: the hash needs 9x8 cells and the point is to
	 * walk all entropy-coded data, which scaling does not skip. */
	ci->dct_method = JDCT_IFAST;
	ci->do_fancy_upsampling = FALSE;
	ci->do_block_smoothing = FALSE;
	for (unsigned denom = 8; denom >= 1; denom /= 2) {
		ci->scale_num = 1;
		ci->scale_denom = denom;
		jpeg_calc_output_dimensions(ci);
		if (ci->output_width >= 9 && ci->output_height >= 8)
			break;
	}
	jpeg_start_decompress(ci);
	uint32_t w = ci->output_width;
	int nch = ci->output_components;
	if (img_scratch_grow(&c->row, (size_t)w * (size_t)nch)) {
		natadv_errf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	img_dhash_init(&acc, w, ci->output_height);
	while (ci->output_scanline < ci->output_height) {
		uint32_t y = ci->output_scanline;
		if (read_row(ci, c->row.p, err, errlen))
			return NATADV_EFORMAT;
		if (cmyk) {
			cmyk_row_to_rgb(c->row.p, c->row.p, w);
			img_dhash_add(&acc, y, 0, 1, w, c->row.p, 3);
		} else {
			img_dhash_add(&acc, y, 0, 1, w, c->row.p, 1);
		}
	}
	jpeg_finish_decompress(ci);
	*a->dhash = img_dhash_finish(&acc);
	return 0;
}

int img_jpeg_validate_lib(img_ctx *c, const uint8_t *data, size_t len, const img_info *info,
                          uint64_t *dhash, char *err, size_t errlen)
{
	struct validate_arg a = {c, info, dhash};
	return read_jpeg(data, len, validate_body, &a, err, errlen);
}

/* The entropy walk (jpeg_walk.c) accepts the common JPEGs at about twice
 * libjpeg-turbo's speed with the same dHash; whatever it hands over, damaged
 * files included, gets libjpeg-turbo's verdict and message. */
int img_jpeg_validate(img_ctx *c, const uint8_t *data, size_t len, const img_info *info,
                      uint64_t *dhash, char *err, size_t errlen)
{
	img_jpeg_walk_out o;
	if (img_jpeg_walk(c, data, len, &o) == 0 && o.width == info->width &&
	    o.height == info->height) {
		*dhash = o.dhash;
		return 0;
	}
	return img_jpeg_validate_lib(c, data, len, info, dhash, err, errlen);
}

struct decode_arg {
	img_ctx *c;
	uint32_t min_shorter;
	img_rgb *out;
};

static int decode_body(struct jpeg_decompress_struct *ci, void *arg, char *err, size_t errlen)
{
	struct decode_arg *a = arg;
	img_ctx *c = a->c;
	int cmyk = is_cmyk(ci);
	int gray = ci->num_components == 1;
	/* libjpeg's defaults (ISLOW, fancy upsampling) are what PIL uses. */
	ci->out_color_space = cmyk ? JCS_CMYK : gray ? JCS_GRAYSCALE : JCS_RGB;
	if (a->min_shorter) {
		for (unsigned num = 1; num <= 8; num++) {
			ci->scale_num = num;
			ci->scale_denom = 8;
			jpeg_calc_output_dimensions(ci);
			uint32_t s = ci->output_width < ci->output_height ? ci->output_width : ci->output_height;
			if (s >= a->min_shorter)
				break;
		}
	}
	jpeg_start_decompress(ci);
	uint32_t w = ci->output_width, h = ci->output_height;
	size_t stride = (size_t)w * 3;
	if (img_scratch_grow(&c->rgb, stride * h) ||
	    img_scratch_grow(&c->row, (size_t)w * 4)) {
		natadv_errf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	while (ci->output_scanline < h) {
		uint8_t *dst = c->rgb.p + stride * ci->output_scanline;
		if (read_row(ci, (cmyk || gray) ? c->row.p : dst, err, errlen))
			return NATADV_EFORMAT;
		if (cmyk) {
			cmyk_row_to_rgb(c->row.p, dst, w);
		} else if (gray) {
			for (uint32_t x = 0; x < w; x++)
				dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = c->row.p[x];
		}
	}
	jpeg_finish_decompress(ci);
	a->out->px = c->rgb.p;
	a->out->width = w;
	a->out->height = h;
	return 0;
}

int img_jpeg_decode_rgb(img_ctx *c, const uint8_t *data, size_t len, uint32_t min_shorter,
                        img_rgb *out, char *err, size_t errlen)
{
	struct decode_arg a = {c, min_shorter, out};
	return read_jpeg(data, len, decode_body, &a, err, errlen);
}

int img_encode_jpeg(const img_rgb *in, int quality, buf *out, char *err, size_t errlen)
{
	if (!in->width || !in->height || quality < 1 || quality > 100) {
		snprintf(err, errlen, "cannot encode jpeg: bad size %ux%u or quality %d", in->width, in->height,
		         quality);
		return NATADV_EINVAL;
	}
	struct jpeg_compress_struct ci;
	jerr_mgr je;
	memset(&je, 0, sizeof je);
	unsigned char *mem = NULL;
	unsigned long memlen = 0;
	ci.err = jpeg_std_error(&je.pub);
	je.pub.error_exit = on_error;
	if (setjmp(je.jb)) {
		jpeg_destroy_compress(&ci);
		free(mem);
		snprintf(err, errlen, "cannot encode jpeg: %s", je.msg);
		return je.code ? je.code : NATADV_EFORMAT;
	}
	jpeg_create_compress(&ci);
	jpeg_mem_dest(&ci, &mem, &memlen);
	ci.image_width = in->width;
	ci.image_height = in->height;
	ci.input_components = 3;
	ci.in_color_space = JCS_RGB;
	jpeg_set_defaults(&ci);
	jpeg_set_quality(&ci, quality, TRUE);
	/* Fixed settings so the same pixels give the same bytes: baseline,
	 * optimised Huffman tables, 4:2:0 as PIL writes by default, no timestamps. */
	ci.optimize_coding = TRUE;
	ci.write_JFIF_header = TRUE;
	jpeg_start_compress(&ci, TRUE);
	while (ci.next_scanline < ci.image_height) {
		JSAMPROW row = in->px + (size_t)ci.next_scanline * 3 * in->width;
		jpeg_write_scanlines(&ci, &row, 1);
	}
	jpeg_finish_compress(&ci);
	jpeg_destroy_compress(&ci);
	buf_reset(out);
	int rc = buf_append(out, mem, memlen);
	free(mem);
	if (rc)
		snprintf(err, errlen, "cannot encode jpeg: %s", natadv_strerror(rc));
	return rc;
}
