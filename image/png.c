/* png.c — PNG through libpng, from memory: validation walks every row into
 * one reusable row buffer (Adam7 passes are hashed pixel by pixel, so no
 * whole image is ever held), and a full decode reproduces PIL's
 * convert("RGB") for every colour type and bit depth. */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <png.h>

#include "common/err.h"
#include "image/img_internal.h"

typedef struct png_io {
	const uint8_t *p;
	size_t len, pos;
	jmp_buf jb;
	int code;
	char msg[256];
} png_io;

static void on_error(png_structp png, png_const_charp m)
{
	png_io *io = png_get_error_ptr(png);
	io->code = NATADV_EFORMAT;
	if (strstr(m, "ut of memory") || strstr(m, "Insufficient memory")) {
		io->code = NATADV_ENOMEM;
		snprintf(io->msg, sizeof io->msg, "out of memory decoding png");
	} else {
		snprintf(io->msg, sizeof io->msg, "corrupt png: %s", m);
		for (char *s = io->msg; *s; s++)
			if (*s >= 'A' && *s <= 'Z')
				*s = (char)(*s + 32);
	}
	longjmp(io->jb, 1);
}

/* libpng warns about harmless things (bad sRGB profiles, unknown chunks);
 * real damage reaches on_error because CRC failures are made fatal. */
static void on_warning(png_structp png, png_const_charp m)
{
	(void)png;
	(void)m;
}

static void on_read(png_structp png, png_bytep dst, size_t n)
{
	png_io *io = png_get_io_ptr(png);
	if (n > io->len - io->pos)
		png_error(png, "truncated file");
	memcpy(dst, io->p + io->pos, n);
	io->pos += n;
}

static int setup(png_structp *png, png_infop *info, png_io *io, char *err, size_t errlen)
{
	*info = NULL;
	*png = png_create_read_struct(PNG_LIBPNG_VER_STRING, io, on_error, on_warning);
	if (*png)
		*info = png_create_info_struct(*png);
	if (!*png || !*info) {
		png_destroy_read_struct(png, info, NULL);
		natadv_errf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	png_set_read_fn(*png, io, on_read);
	/* PIL refuses any chunk with a bad CRC, ancillary ones included. */
	png_set_crc_action(*png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
	return 0;
}

static void index_to_luma(png_structp png, uint8_t *row, uint32_t n, int npal,
                          const uint8_t luma[256])
{
	for (uint32_t x = 0; x < n; x++) {
		if (row[x] >= npal) {
			char m[96];
			snprintf(m, sizeof m, "palette index %d out of range (%d entries)", row[x], npal);
			png_error(png, m);
		}
		row[x] = luma[row[x]];
	}
}

/* What a pass over one PNG does once its header is read (w x h): returns 0 or
 * an error code with err set. A png_error inside it lands in read_png, which
 * frees libpng's state either way. */
typedef int (*png_body)(png_structp png, png_infop pi, uint32_t w, uint32_t h, void *arg,
                        char *err, size_t errlen);

/* Reads the PNG in data[0..len) with libpng: the header, then body. */
static int read_png(const uint8_t *data, size_t len, png_body body, void *arg, char *err,
                    size_t errlen)
{
	png_structp png;
	png_infop pi;
	png_io io;
	memset(&io, 0, sizeof io);
	io.p = data;
	io.len = len;
	int rc = setup(&png, &pi, &io, err, errlen);
	if (rc)
		return rc;
	if (setjmp(io.jb)) {
		png_destroy_read_struct(&png, &pi, NULL);
		natadv_errf(err, errlen, "%s", io.msg);
		return io.code;
	}
	png_read_info(png, pi);
	int done = body(png, pi, png_get_image_width(png, pi), png_get_image_height(png, pi), arg, err,
	                errlen);
	png_destroy_read_struct(&png, &pi, NULL);
	return done;
}

struct validate_arg {
	img_ctx *c;
	const img_info *info;
	uint64_t *dhash;
};

static int validate_body(png_structp png, png_infop pi, uint32_t w, uint32_t h, void *arg,
                         char *err, size_t errlen)
{
	struct validate_arg *a = arg;
	img_ctx *c = a->c;
	img_dhash_acc acc;
	if (w != a->info->width || h != a->info->height)
		png_error(png, "IHDR changed");
	/* Hash input only needs 8-bit gray or RGB; alpha is ignored. Palette
	 * rows stay indices, mapped to luma here, so that an index past the
	 * end of PLTE can be refused: PIL versions disagree on its colour
	 * (gray ramp in 9.x, black since), and a valid PNG never has one. */
	int palette = png_get_color_type(png, pi) == PNG_COLOR_TYPE_PALETTE;
	int npal = 0;
	uint8_t luma[256];
	if (palette) {
		png_colorp plte = NULL;
		png_get_PLTE(png, pi, &plte, &npal);
		for (int i = 0; i < npal && i < 256; i++)
			luma[i] = img_luma(plte[i].red, plte[i].green, plte[i].blue);
		png_set_packing(png);
	} else {
		png_set_expand_gray_1_2_4_to_8(png);
		png_set_strip_16(png);
	}
	png_read_update_info(png, pi);
	int nch = png_get_channels(png, pi);
	if (img_scratch_grow(&c->row, png_get_rowbytes(png, pi))) {
		natadv_errf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	img_dhash_init(&acc, w, h);
	if (png_get_interlace_type(png, pi) == PNG_INTERLACE_ADAM7) {
		/* Without png_set_interlace_handling libpng hands out each pass's
		 * reduced rows; every pixel appears in exactly one pass, so the
		 * area sums come out the same as from the assembled image. */
		for (int pass = 0; pass < 7; pass++) {
			uint32_t pw = PNG_PASS_COLS(w, pass), ph = PNG_PASS_ROWS(h, pass);
			if (pw == 0 || ph == 0)
				continue;
			for (uint32_t r = 0; r < ph; r++) {
				png_read_row(png, c->row.p, NULL);
				if (palette)
					index_to_luma(png, c->row.p, pw, npal, luma);
				img_dhash_add(&acc, PNG_ROW_FROM_PASS_ROW(r, pass),
				              PNG_PASS_START_COL(pass), 1u << PNG_PASS_COL_SHIFT(pass), pw,
				              c->row.p, nch);
			}
		}
	} else {
		for (uint32_t y = 0; y < h; y++) {
			png_read_row(png, c->row.p, NULL);
			if (palette)
				index_to_luma(png, c->row.p, w, npal, luma);
			img_dhash_add(&acc, y, 0, 1, w, c->row.p, nch);
		}
	}
	png_read_end(png, NULL);
	*a->dhash = img_dhash_finish(&acc);
	return 0;
}

int img_png_validate(img_ctx *c, const uint8_t *data, size_t len, const img_info *info,
                     uint64_t *dhash, char *err, size_t errlen)
{
	struct validate_arg a = {c, info, dhash};
	return read_png(data, len, validate_body, &a, err, errlen);
}

/* PIL's conversions to RGB, and how libpng is told to reproduce them:
 *   gray 1/2/4 bit   scaled to 0..255 (libpng's expand does the same)
 *   gray 16 bit      mode "I", and I -> RGB clips: min(v, 255)
 *   other 16 bit     the high byte (libpng's strip_16)
 *   palette          PIL's 256-entry palette starts as a gray ramp and PLTE
 *                    overwrites its first entries, so a stray index is gray
 *   alpha, tRNS      dropped (libpng's strip_alpha; tRNS is never expanded)
 * After these transforms a row is one of the layouts below. */
typedef enum row_kind { ROW_GRAY8, ROW_GRAY16, ROW_INDEX, ROW_RGB } row_kind;

static void row_to_rgb(const uint8_t *in, uint8_t *out, uint32_t w, row_kind kind,
                       const uint8_t pal[256][3])
{
	for (uint32_t x = 0; x < w; x++, out += 3) {
		switch (kind) {
		case ROW_GRAY16: {
			unsigned v = (unsigned)in[2 * x] << 8 | in[2 * x + 1];
			out[0] = out[1] = out[2] = (uint8_t)(v > 255 ? 255 : v);
			break;
		}
		case ROW_INDEX:
			out[0] = pal[in[x]][0];
			out[1] = pal[in[x]][1];
			out[2] = pal[in[x]][2];
			break;
		case ROW_GRAY8:
			out[0] = out[1] = out[2] = in[x];
			break;
		case ROW_RGB:
			memcpy(out, in + 3 * (size_t)x, 3);
			break;
		}
	}
}

struct decode_arg {
	img_ctx *c;
	img_rgb *out;
};

static int decode_body(png_structp png, png_infop pi, uint32_t w, uint32_t h, void *arg,
                       char *err, size_t errlen)
{
	struct decode_arg *a = arg;
	img_ctx *c = a->c;
	uint8_t pal[256][3];
	int ctype = png_get_color_type(png, pi), depth = png_get_bit_depth(png, pi);
	row_kind kind = ROW_RGB;
	for (int i = 0; i < 256; i++)
		pal[i][0] = pal[i][1] = pal[i][2] = (uint8_t)i;
	if (ctype == PNG_COLOR_TYPE_PALETTE) {
		png_colorp plte = NULL;
		int n = 0;
		if (png_get_PLTE(png, pi, &plte, &n) & PNG_INFO_PLTE) {
			for (int i = 0; i < n && i < 256; i++) {
				pal[i][0] = plte[i].red;
				pal[i][1] = plte[i].green;
				pal[i][2] = plte[i].blue;
			}
		}
		png_set_packing(png);
		kind = ROW_INDEX;
	} else if (ctype == PNG_COLOR_TYPE_GRAY) {
		png_set_expand_gray_1_2_4_to_8(png);
		kind = depth == 16 ? ROW_GRAY16 : ROW_GRAY8;
	} else {
		png_set_strip_16(png);
		png_set_strip_alpha(png);
		kind = ctype == PNG_COLOR_TYPE_GRAY_ALPHA ? ROW_GRAY8 : ROW_RGB;
	}
	int passes = png_set_interlace_handling(png);
	png_read_update_info(png, pi);
	size_t rowbytes = png_get_rowbytes(png, pi);
	size_t stride = (size_t)w * 3;
	if (kind == ROW_RGB && rowbytes != stride)
		png_error(png, "unexpected row size");
	if (img_scratch_grow(&c->rgb, stride * h)) {
		natadv_errf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	/* RGB rows land in the output directly. Other layouts are converted as
	 * they come, except Adam7, which needs earlier passes in place to fill
	 * a row and so keeps the whole (1 or 2 bytes/pixel) image. */
	int interlaced = passes > 1;
	int direct = kind == ROW_RGB;
	img_scratch *tmp = interlaced ? &c->raw : &c->row;
	if (!direct && img_scratch_grow(tmp, interlaced ? rowbytes * h : rowbytes)) {
		natadv_errf(err, errlen, "out of memory");
		return NATADV_ENOMEM;
	}
	for (int pass = 0; pass < passes; pass++) {
		for (uint32_t y = 0; y < h; y++) {
			uint8_t *dst = c->rgb.p + stride * y;
			uint8_t *row = direct ? dst : interlaced ? tmp->p + rowbytes * y : tmp->p;
			png_read_row(png, row, NULL);
			if (!direct && !interlaced)
				row_to_rgb(row, dst, w, kind, (const uint8_t(*)[3])pal);
		}
	}
	if (!direct && interlaced)
		for (uint32_t y = 0; y < h; y++)
			row_to_rgb(tmp->p + rowbytes * y, c->rgb.p + stride * y, w, kind,
			           (const uint8_t(*)[3])pal);
	png_read_end(png, NULL);
	a->out->px = c->rgb.p;
	a->out->width = w;
	a->out->height = h;
	return 0;
}

int img_png_decode_rgb(img_ctx *c, const uint8_t *data, size_t len, img_rgb *out,
                       char *err, size_t errlen)
{
	struct decode_arg a = {c, out};
	return read_png(data, len, decode_body, &a, err, errlen);
}
