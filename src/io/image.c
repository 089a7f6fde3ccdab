/* PGM (P5) and grayscale PNG decoding for prediction on single images.
 *
 * PNG, as far as it is needed here (RFC 2083 / ISO 15948): an 8-byte
 * signature, then chunks of u32 big-endian length, 4-byte type, data and a
 * CRC-32 over type and data. IHDR comes first; the IDAT chunks together
 * are one zlib stream holding, per row, a filter-type byte and the row's
 * filtered bytes; IEND ends the file. Every chunk's CRC is checked. */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cnn/image.h"
#include "io/bytes.h"
#include "io/fileio.h"

/* Image files for prediction are small; this stops absurd inputs early. */
#define IMAGE_MAX_FILE ((size_t)1 << 30)

static const unsigned char png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

void image_free(struct image *img)
{
	if (!img)
		return;
	free(img->pixels);
	memset(img, 0, sizeof *img);
}

static struct cnn_loc at_file(const char *name)
{
	return (struct cnn_loc){ name, 0, 0 };
}

static int alloc_pixels(struct image *out, size_t w, size_t h, const char *name,
                        struct cnn_error *err)
{
	if (w == 0 || h == 0)
		return cnn_errorf(err, at_file(name), "image is empty (%zux%zu)", w, h);
	if (w > IMAGE_MAX_PIXELS || h > IMAGE_MAX_PIXELS / w)
		return cnn_errorf(err, at_file(name), "image of %zux%zu pixels is too large "
		                  "(at most %zu pixels)", w, h, IMAGE_MAX_PIXELS);
	out->pixels = malloc(w * h);
	if (!out->pixels)
		return cnn_errorf(err, at_file(name), "out of memory");
	out->width = (int)w;
	out->height = (int)h;
	return 0;
}

/* ------------------------------------------------------------------ */
/* PGM                                                                  */

/* Skips whitespace and '#' comments (which run to the end of the line). */
static void pgm_skip(const unsigned char **p, const unsigned char *end)
{
	while (*p < end) {
		if (**p == '#') {
			while (*p < end && **p != '\n' && **p != '\r')
				(*p)++;
		} else if (isspace(**p)) {
			(*p)++;
		} else {
			break;
		}
	}
}

static bool pgm_number(const unsigned char **p, const unsigned char *end, size_t *v)
{
	pgm_skip(p, end);
	if (*p >= end || !isdigit(**p))
		return false;
	*v = 0;
	while (*p < end && isdigit(**p)) {
		if (*v > 100000000)
			return false;
		*v = *v * 10 + (size_t)(**p - '0');
		(*p)++;
	}
	return true;
}

static int decode_pgm(const unsigned char *d, size_t len, const char *name, struct image *out,
                      struct cnn_error *err)
{
	const unsigned char *p = d + 2, *end = d + len;
	size_t w, h, maxval, n;

	if (!pgm_number(&p, end, &w) || !pgm_number(&p, end, &h) || !pgm_number(&p, end, &maxval) ||
	    p >= end || !isspace(*p))
		return cnn_errorf(err, at_file(name), "bad PGM header (expected P5, width, height, "
		                  "maxval)");
	p++;    /* exactly one whitespace byte before the pixels */
	if (maxval == 0 || maxval > 65535)
		return cnn_errorf(err, at_file(name), "bad PGM maxval %zu", maxval);
	if (maxval > 255)
		return cnn_errorf(err, at_file(name), "16-bit PGM (maxval %zu) is not supported; "
		                  "convert to 8-bit", maxval);
	if (alloc_pixels(out, w, h, name, err))
		return -1;
	n = w * h;
	if ((size_t)(end - p) < n) {
		cnn_errorf(err, at_file(name), "truncated PGM: %zu bytes of pixels, %zux%zu needs %zu",
		           (size_t)(end - p), w, h, n);
		image_free(out);
		return -1;
	}
	/* Values above maxval are clamped; scaling keeps maxval as white. */
	for (size_t i = 0; i < n; i++) {
		size_t v = p[i] > maxval ? maxval : p[i];
		out->pixels[i] = (uint8_t)((v * 255 + maxval / 2) / maxval);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* PNG                                                                  */

static const char *png_color_name(int type)
{
	switch (type) {
	case 0: return "grayscale";
	case 2: return "RGB";
	case 3: return "palette";
	case 4: return "grayscale with alpha";
	case 6: return "RGBA";
	default: return "invalid";
	}
}

struct png_header {
	size_t width, height;
	int depth, color, interlace;
};

static int png_check_header(const unsigned char *b, const char *name, struct png_header *h,
                            struct cnn_error *err)
{
	h->width = get_be32(b);
	h->height = get_be32(b + 4);
	h->depth = b[8];
	h->color = b[9];
	h->interlace = b[12];
	if (b[10] != 0 || b[11] != 0)
		return cnn_errorf(err, at_file(name), "bad PNG header (unknown compression or "
		                  "filter method)");
	if (h->color != 0)
		return cnn_errorf(err, at_file(name), "PNG color type %d (%s) is not supported; "
		                  "convert to 8-bit grayscale", h->color, png_color_name(h->color));
	if (h->depth != 8)
		return cnn_errorf(err, at_file(name), "PNG bit depth %d is not supported; "
		                  "convert to 8-bit grayscale", h->depth);
	if (h->interlace != 0)
		return cnn_errorf(err, at_file(name), "interlaced PNG is not supported; save it "
		                  "without interlacing");
	return 0;
}

/* Walks the chunks: the header into *h, the IDAT data appended to *idat. */
static int png_chunks(const unsigned char *d, size_t len, const char *name,
                      struct png_header *h, struct bytebuf *idat, struct cnn_error *err)
{
	struct bytecur c = { d + sizeof png_sig, len - sizeof png_sig };
	const unsigned char *hdr, *body, *crc;
	bool have_header = false;

	for (;;) {
		if (!bytecur_take(&c, 8, &hdr))
			return cnn_errorf(err, at_file(name), "truncated PNG (no IEND chunk)");
		uint32_t n = get_be32(hdr);
		char type[5] = { (char)hdr[4], (char)hdr[5], (char)hdr[6], (char)hdr[7], '\0' };
		for (int i = 0; i < 4; i++)
			if (!isalpha((unsigned char)type[i]))
				return cnn_errorf(err, at_file(name), "bad PNG chunk type");
		if (!bytecur_take(&c, n, &body) || !bytecur_take(&c, 4, &crc))
			return cnn_errorf(err, at_file(name), "truncated PNG (chunk %s runs past the "
			                  "end of the file)", type);
		uint32_t want = (uint32_t)crc32(crc32(0L, hdr + 4, 4), body, n);
		if (get_be32(crc) != want)
			return cnn_errorf(err, at_file(name), "PNG chunk %s: CRC mismatch; the file is "
			                  "corrupted", type);
		if (!have_header) {
			if (strcmp(type, "IHDR") || n != 13)
				return cnn_errorf(err, at_file(name), "bad PNG: the first chunk is not IHDR");
			if (png_check_header(body, name, h, err))
				return -1;
			have_header = true;
		} else if (!strcmp(type, "IDAT")) {
			bytebuf_put(idat, body, n);
			if (idat->failed)
				return cnn_errorf(err, at_file(name), "out of memory");
		} else if (!strcmp(type, "IEND")) {
			break;
		} else if (!strcmp(type, "IHDR")) {
			return cnn_errorf(err, at_file(name), "bad PNG: a second IHDR chunk (a PNG has one)");
		} else if (isupper((unsigned char)type[0]) && strcmp(type, "PLTE")) {
			/* Critical chunks change the meaning of the pixels. */
			return cnn_errorf(err, at_file(name), "PNG chunk %s is not supported", type);
		}
	}
	if (idat->len == 0)
		return cnn_errorf(err, at_file(name), "bad PNG: no image data (IDAT)");
	return 0;
}

static int paeth(int a, int b, int c)
{
	int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
	return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Undoes the per-row filters (one byte per pixel, so "left" is x - 1) in
 * raw (height rows of 1 + width bytes) into pixels. */
static int png_unfilter(const unsigned char *raw, struct image *img, const char *name,
                        struct cnn_error *err)
{
	size_t w = (size_t)img->width;

	for (size_t y = 0; y < (size_t)img->height; y++) {
		const unsigned char *in = raw + y * (w + 1) + 1;
		unsigned char *row = img->pixels + y * w;
		const unsigned char *up = y ? row - w : NULL;
		int type = in[-1];
		for (size_t x = 0; x < w; x++) {
			int a = x ? row[x - 1] : 0, b = up ? up[x] : 0, c = x && up ? up[x - 1] : 0;
			int pred;
			switch (type) {
			case 0: pred = 0; break;
			case 1: pred = a; break;
			case 2: pred = b; break;
			case 3: pred = (a + b) / 2; break;
			case 4: pred = paeth(a, b, c); break;
			default:
				return cnn_errorf(err, at_file(name), "bad PNG: row %zu has filter type %d",
				                  y, type);
			}
			row[x] = (unsigned char)(in[x] + pred);
		}
	}
	return 0;
}

static int png_inflate(const struct bytebuf *idat, unsigned char *raw, size_t raw_len,
                       const char *name, struct cnn_error *err)
{
	z_stream s;
	unsigned char extra;
	int rc;

	memset(&s, 0, sizeof s);
	if (inflateInit(&s) != Z_OK)
		return cnn_errorf(err, at_file(name), "out of memory");
	s.next_in = idat->data;
	s.avail_in = (uInt)idat->len;
	s.next_out = raw;
	s.avail_out = (uInt)raw_len;
	rc = inflate(&s, Z_FINISH);
	size_t got = s.total_out;
	if ((rc == Z_BUF_ERROR || rc == Z_OK) && s.avail_out == 0) {
		/* Full: is there more than the image? */
		s.next_out = &extra;
		s.avail_out = 1;
		rc = inflate(&s, Z_FINISH);
		got += 1 - s.avail_out;
	}
	inflateEnd(&s);
	if (rc != Z_STREAM_END || got != raw_len) {
		if (got < raw_len)
			return cnn_errorf(err, at_file(name), "bad PNG: image data is truncated or "
			                  "corrupt (%zu of %zu bytes)", got, raw_len);
		return cnn_errorf(err, at_file(name), "bad PNG: more image data than the "
		                  "header's size");
	}
	return 0;
}

static int decode_png(const unsigned char *d, size_t len, const char *name, struct image *out,
                      struct cnn_error *err)
{
	struct png_header h = { 0 };
	struct bytebuf idat = { 0 };
	unsigned char *raw = NULL;
	int rc = -1;

	if (png_chunks(d, len, name, &h, &idat, err))
		goto out;
	if (idat.len > UINT_MAX) {
		cnn_errorf(err, at_file(name), "PNG image data is too large");
		goto out;
	}
	if (alloc_pixels(out, h.width, h.height, name, err))
		goto out;
	size_t raw_len = h.height * (h.width + 1);
	raw = malloc(raw_len);
	if (!raw) {
		cnn_errorf(err, at_file(name), "out of memory");
		goto out;
	}
	if (png_inflate(&idat, raw, raw_len, name, err) || png_unfilter(raw, out, name, err))
		goto out;
	rc = 0;
out:
	if (rc)
		image_free(out);
	free(raw);
	bytebuf_free(&idat);
	return rc;
}

/* ------------------------------------------------------------------ */

int image_decode(const void *data, size_t len, const char *name, struct image *out,
                 struct cnn_error *err)
{
	const unsigned char *d = data;

	memset(out, 0, sizeof *out);
	if (len >= sizeof png_sig && !memcmp(d, png_sig, sizeof png_sig))
		return decode_png(d, len, name, out, err);
	if (len >= 2 && d[0] == 'P' && d[1] == '5')
		return decode_pgm(d, len, name, out, err);
	if (len >= 2 && d[0] == 'P' && d[1] == '2')
		return cnn_errorf(err, at_file(name), "ASCII PGM (P2) is not supported; save it as "
		                  "binary PGM (P5)");
	return cnn_errorf(err, at_file(name), "not a binary PGM (P5) or PNG image");
}

int image_load(const char *path, struct image *out, struct cnn_error *err)
{
	unsigned char *data;
	size_t len;
	int rc;

	memset(out, 0, sizeof *out);
	if (file_read_all(path, IMAGE_MAX_FILE, &data, &len, err))
		return -1;
	rc = image_decode(data, len, path, out, err);
	free(data);
	return rc;
}
