/* Image decoding for datasets and `cnnrun predict`: PNG, PGM/PPM here,
 * JPEG in image_jpeg.c.
 *
 * PNG (RFC 2083 / ISO 15948): an 8-byte signature, then chunks of u32
 * big-endian length, 4-byte type, data and a CRC-32 over type and data.
 * IHDR comes first; PLTE holds a palette's colours; the IDAT chunks together
 * are one zlib stream holding, per row, a filter-type byte and the row's
 * filtered bytes (pixels packed at 1, 2 or 4 bits, or 1 or 2 bytes per
 * sample, big-endian); IEND ends the file. Every chunk's CRC is checked.
 * Alpha is dropped (the colour as stored is kept), 16-bit samples are
 * rounded to 8 bits, palettes are expanded to RGB. */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <libdeflate.h>
#include <zlib.h>

#include "io/image.h"
#include "io/bytes.h"
#include "io/fileio.h"
#include "util/crc32.h"

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

int image_check_size(size_t w, size_t h, const char *name, struct cnn_error *err)
{
	if (w == 0 || h == 0)
		return cnn_errorf(err, at_file(name), "image is empty (%zux%zu)", w, h);
	if (w > IMAGE_MAX_PIXELS || h > IMAGE_MAX_PIXELS / w)
		return cnn_errorf(err, at_file(name), "image of %zux%zu pixels is too large "
		                  "(at most %zu pixels)", w, h, IMAGE_MAX_PIXELS);
	return 0;
}

int image_alloc(struct image *out, size_t w, size_t h, int channels, const char *name,
                struct cnn_error *err)
{
	if (image_check_size(w, h, name, err))
		return -1;
	out->pixels = malloc(w * h * (size_t)channels);
	if (!out->pixels)
		return cnn_errorf(err, at_file(name), "out of memory");
	out->width = (int)w;
	out->height = (int)h;
	out->channels = channels;
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

/* P5 (grey) and P6 (RGB): maxval up to 255 one byte per sample, up to
 * 65535 two bytes, big-endian (netpbm). */
static int decode_pnm(const unsigned char *d, size_t len, const char *name, struct image *out,
                      struct cnn_error *err)
{
	const unsigned char *p = d + 2, *end = d + len;
	const int channels = d[1] == '6' ? 3 : 1;
	const char *kind = channels == 3 ? "PPM" : "PGM";
	size_t w, h, maxval;

	if (!pgm_number(&p, end, &w) || !pgm_number(&p, end, &h) || !pgm_number(&p, end, &maxval) ||
	    p >= end || !isspace(*p))
		return cnn_errorf(err, at_file(name), "bad %s header (expected P%c, width, height, "
		                  "maxval)", kind, d[1]);
	p++;    /* exactly one whitespace byte before the pixels */
	if (maxval == 0 || maxval > 65535)
		return cnn_errorf(err, at_file(name), "bad %s maxval %zu", kind, maxval);
	if (image_alloc(out, w, h, channels, name, err))
		return -1;
	const size_t n = w * h * (size_t)channels, bytes = maxval > 255 ? 2 : 1;
	if ((size_t)(end - p) / bytes < n) {
		cnn_errorf(err, at_file(name), "truncated %s: %zu bytes of pixels, %zux%zu needs %zu",
		           kind, (size_t)(end - p), w, h, n * bytes);
		image_free(out);
		return -1;
	}
	/* Values above maxval are clamped; scaling keeps maxval as white. */
	for (size_t i = 0; i < n; i++) {
		size_t v = bytes == 2 ? (size_t)p[2 * i] << 8 | p[2 * i + 1] : p[i];
		if (v > maxval)
			v = maxval;
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
	int samples;            /* per pixel: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA, 1 palette index */
	size_t row_bytes;       /* packed, without the filter byte */
	size_t bpp;             /* bytes per complete pixel, at least 1: the filters' "left" */
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
	/* the pairs the standard allows (table 11.1); depths as bit masks */
	static const struct { int color, samples; unsigned depths; } kinds[] = {
		{ 0, 1, 1u << 1 | 1u << 2 | 1u << 4 | 1u << 8 | 1u << 16 }, { 2, 3, 1u << 8 | 1u << 16 },
		{ 3, 1, 1u << 1 | 1u << 2 | 1u << 4 | 1u << 8 }, { 4, 2, 1u << 8 | 1u << 16 },
		{ 6, 4, 1u << 8 | 1u << 16 },
	};
	h->samples = 0;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		if (kinds[i].color != h->color)
			continue;
		if (h->depth > 16 || !(kinds[i].depths >> h->depth & 1))
			return cnn_errorf(err, at_file(name), "bad PNG header: bit depth %d is not allowed "
			                  "for color type %d (%s)", h->depth, h->color, png_color_name(h->color));
		h->samples = kinds[i].samples;
	}
	if (!h->samples)
		return cnn_errorf(err, at_file(name), "bad PNG header: unknown color type %d", h->color);
	if (h->interlace != 0)
		return cnn_errorf(err, at_file(name), "interlaced PNG is not supported; save it "
		                  "without interlacing");
	if (image_check_size(h->width, h->height, name, err))
		return -1;
	size_t bits = (size_t)h->samples * (size_t)h->depth;
	h->row_bytes = (h->width * bits + 7) / 8;
	h->bpp = bits < 8 ? 1 : bits / 8;
	return 0;
}

struct png_palette {
	unsigned char rgb[3 * 256];
	int n;                  /* entries */
};

/* The zlib stream of the IDAT chunks: in the file itself when there is one
 * chunk (the usual case), else their data joined in `joined`. */
struct png_idat {
	const unsigned char *data;
	size_t len;
	int chunks;
	struct bytebuf *joined;     /* emptied first; kept by a reader */
};

static int idat_add(struct png_idat *z, const unsigned char *body, size_t n)
{
	if (z->chunks++ == 0) {
		z->data = body;
		z->len = n;
		return 0;
	}
	if (z->chunks == 2) {
		z->joined->len = 0;
		bytebuf_put(z->joined, z->data, z->len);
	}
	bytebuf_put(z->joined, body, n);
	z->data = z->joined->data;
	z->len = z->joined->len;
	return z->joined->failed ? -1 : 0;
}

/* Walks the chunks: the header into *h, the IDAT data into *idat. */
static int png_chunks(const unsigned char *d, size_t len, const char *name,
                      struct png_header *h, struct png_idat *idat, struct png_palette *pal,
                      struct cnn_error *err)
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
		uint32_t want = crc32_update(crc32_update(0, hdr + 4, 4), body, n);
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
			if (idat_add(idat, body, n))
				return cnn_errorf(err, at_file(name), "out of memory");
		} else if (!strcmp(type, "IEND")) {
			break;
		} else if (!strcmp(type, "IHDR")) {
			return cnn_errorf(err, at_file(name), "bad PNG: a second IHDR chunk (a PNG has one)");
		} else if (!strcmp(type, "PLTE")) {
			if (n == 0 || n % 3 || n > 3 * 256)
				return cnn_errorf(err, at_file(name), "bad PNG: a palette of %u bytes", (unsigned)n);
			memcpy(pal->rgb, body, n);
			pal->n = (int)(n / 3);
		} else if (isupper((unsigned char)type[0])) {
			/* Critical chunks change the meaning of the pixels. */
			return cnn_errorf(err, at_file(name), "PNG chunk %s is not supported", type);
		}
	}
	if (idat->len == 0)
		return cnn_errorf(err, at_file(name), "bad PNG: no image data (IDAT)");
	if (h->color == 3 && pal->n == 0)
		return cnn_errorf(err, at_file(name), "bad PNG: a palette image without a palette (PLTE)");
	return 0;
}

/* The Paeth predictor (RFC 2083 6.6) with p - a, p - b and p - c written
 * out: the same choice, ties to a, then b. */
static inline int paeth(int a, int b, int c)
{
	int pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c);
	return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Undoes the per-row filters in place: raw holds height rows of 1 + row_bytes
 * bytes; "left" is the byte bpp back (the same sample of the pixel before),
 * "up" the byte above; both are 0 outside the image. One loop per filter
 * type, so the inner loops carry no per-byte branches; on the first row
 * "up" is 0, so Up is None and Paeth is Sub. */
static int png_unfilter(unsigned char *raw, const struct png_header *h, const char *name,
                        struct cnn_error *err)
{
	const size_t rb = h->row_bytes, bpp = h->bpp;   /* bpp <= rb: width >= 1 */

	for (size_t y = 0; y < h->height; y++) {
		unsigned char *row = raw + y * (rb + 1) + 1;
		const unsigned char *up = y ? row - (rb + 1) : NULL;
		int type = row[-1];
		size_t x;
		if (type > 4)
			return cnn_errorf(err, at_file(name), "bad PNG: row %zu has filter type %d", y, type);
		if (!up && (type == 2 || type == 4))
			type = type == 2 ? 0 : 1;   /* Up -> None, Paeth -> Sub */
		switch (type) {
		case 1:
			for (x = bpp; x < rb; x++)
				row[x] = (unsigned char)(row[x] + row[x - bpp]);
			break;
		case 2:
			for (x = 0; x < rb; x++)
				row[x] = (unsigned char)(row[x] + up[x]);
			break;
		case 3:
			for (x = 0; x < bpp; x++)
				row[x] = (unsigned char)(row[x] + (up ? up[x] : 0) / 2);
			if (up)
				for (; x < rb; x++)
					row[x] = (unsigned char)(row[x] + (row[x - bpp] + up[x]) / 2);
			else
				for (; x < rb; x++)
					row[x] = (unsigned char)(row[x] + row[x - bpp] / 2);
			break;
		case 4:
			for (x = 0; x < bpp; x++)   /* left and up-left are 0: the predictor is up */
				row[x] = (unsigned char)(row[x] + up[x]);
			for (; x < rb; x++)
				row[x] = (unsigned char)(row[x] + paeth(row[x - bpp], up[x], up[x - bpp]));
			break;
		default:
			break;
		}
	}
	return 0;
}

/* Sample i (0-based, in row order) of a packed row at `depth` bits. */
static unsigned png_sample(const unsigned char *row, size_t i, int depth)
{
	if (depth == 16)
		return (unsigned)row[2 * i] << 8 | row[2 * i + 1];
	if (depth == 8)
		return row[i];
	size_t bit = i * (size_t)depth;
	unsigned byte = row[bit / 8];
	return (byte >> (8 - depth - bit % 8)) & ((1u << depth) - 1);
}

/* One 8-bit row without a palette: grey and RGB as they are, alpha dropped
 * (what the general loop below does at depth 8, where v * 255 / 255 is v). */
static void png_expand8(const unsigned char *row, size_t width, int samples, int keep,
                        unsigned char *dst)
{
	if (samples == keep) {
		memcpy(dst, row, width * (size_t)keep);
		return;
	}
	for (size_t x = 0; x < width; x++)
		for (int c = 0; c < keep; c++)
			dst[(size_t)keep * x + (size_t)c] = row[(size_t)samples * x + (size_t)c];
}

/* Unfiltered rows to 8-bit grey or RGB pixels: alpha dropped, palette
 * expanded, lower depths scaled up so the largest value is 255. */
static int png_expand(const unsigned char *raw, const struct png_header *h, const struct png_palette *pal,
                      struct image *out, const char *name, struct cnn_error *err)
{
	const unsigned maxv = (1u << h->depth) - 1;
	const int keep = out->channels;
	for (size_t y = 0; y < h->height; y++) {
		const unsigned char *row = raw + y * (h->row_bytes + 1) + 1;
		unsigned char *dst = out->pixels + y * h->width * (size_t)keep;
		if (h->depth == 8 && h->color != 3) {
			png_expand8(row, h->width, h->samples, keep, dst);
			continue;
		}
		for (size_t x = 0; x < h->width; x++) {
			if (h->color == 3) {
				unsigned k = png_sample(row, x, h->depth);
				if ((int)k >= pal->n)
					return cnn_errorf(err, at_file(name), "bad PNG: pixel (%zu, %zu) uses palette entry "
					                  "%u of %d", x, y, k, pal->n);
				memcpy(dst + 3 * x, pal->rgb + 3 * k, 3);
				continue;
			}
			for (int c = 0; c < keep; c++) {
				unsigned v = png_sample(row, x * (size_t)h->samples + (size_t)c, h->depth);
				dst[(size_t)keep * x + (size_t)c] = (unsigned char)((v * 255 + maxv / 2) / maxv);
			}
		}
	}
	return 0;
}

/* What decoding keeps from one image to the next on one thread: the file's
 * bytes, zlib's state (reset, not rebuilt, per image), and buffers that only
 * grow. image_decode uses a fresh one per call. */
struct image_reader {
	struct file_buf file;       /* the last file read */
	struct libdeflate_decompressor *fast;   /* the first try, or NULL */
	z_stream z;                 /* zlib's inflate state; valid when z_ready */
	bool z_ready;
	struct bytebuf joined;      /* IDAT chunks joined, when there are several */
	unsigned char *raw;         /* (height, 1 + row_bytes) inflated rows; raw_cap bytes */
	size_t raw_cap;
	uint8_t *px;                /* (height, width, channels) the last PNG's pixels; px_cap bytes */
	size_t px_cap;
	uint8_t *other;             /* the last JPEG/PNM's pixels (its decoder's malloc), or NULL */
};

/* The zlib stream in idat into raw, which it must fill exactly. libdeflate
 * first (one call, no streaming state); when it refuses, zlib, the
 * reference, decides and words the error with how far it got. */
static int png_inflate(struct image_reader *r, const struct png_idat *idat, unsigned char *raw,
                       size_t raw_len, const char *name, struct cnn_error *err)
{
	z_stream *s = &r->z;
	unsigned char extra;
	int rc;

	if (!r->fast)
		r->fast = libdeflate_alloc_decompressor();
	/* NULL for the size: fewer bytes than raw_len is a failure too */
	if (r->fast && libdeflate_zlib_decompress(r->fast, idat->data, idat->len, raw, raw_len,
	                                          NULL) == LIBDEFLATE_SUCCESS)
		return 0;
	if (!r->z_ready) {
		memset(s, 0, sizeof *s);
		if (inflateInit(s) != Z_OK)
			return cnn_errorf(err, at_file(name), "out of memory");
		r->z_ready = true;
	} else if (inflateReset(s) != Z_OK) {
		return cnn_errorf(err, at_file(name), "out of memory");
	}
	s->next_in = (unsigned char *)idat->data;   /* zlib does not write through it */
	s->avail_in = (uInt)idat->len;
	s->next_out = raw;
	s->avail_out = (uInt)raw_len;
	rc = inflate(s, Z_FINISH);
	size_t got = raw_len - s->avail_out;
	if ((rc == Z_BUF_ERROR || rc == Z_OK) && s->avail_out == 0) {
		/* Full: is there more than the image? */
		s->next_out = &extra;
		s->avail_out = 1;
		rc = inflate(s, Z_FINISH);
		got += 1 - s->avail_out;
	}
	if (rc != Z_STREAM_END || got != raw_len) {
		if (got < raw_len)
			return cnn_errorf(err, at_file(name), "bad PNG: image data is truncated or "
			                  "corrupt (%zu of %zu bytes)", got, raw_len);
		return cnn_errorf(err, at_file(name), "bad PNG: more image data than the "
		                  "header's size");
	}
	return 0;
}

/* Decodes into r's buffers: out->pixels is r->px. */
static int decode_png(struct image_reader *r, const unsigned char *d, size_t len, const char *name,
                      struct image *out, struct cnn_error *err)
{
	struct png_header h = { 0 };
	struct png_idat idat = { .joined = &r->joined };
	struct png_palette pal = { .n = 0 };

	if (png_chunks(d, len, name, &h, &idat, &pal, err))
		return -1;
	if (idat.len > UINT_MAX)
		return cnn_errorf(err, at_file(name), "PNG image data is too large");
	int channels = h.samples >= 3 || h.color == 3 ? 3 : 1;
	size_t raw_len = h.height * (h.row_bytes + 1);
	if (bytes_reserve(&r->px, &r->px_cap, h.width * h.height * (size_t)channels) ||
	    bytes_reserve(&r->raw, &r->raw_cap, raw_len))
		return cnn_errorf(err, at_file(name), "out of memory");
	*out = (struct image){ (int)h.width, (int)h.height, channels, r->px };
	if (png_inflate(r, &idat, r->raw, raw_len, name, err) || png_unfilter(r->raw, &h, name, err) ||
	    png_expand(r->raw, &h, &pal, out, name, err)) {
		memset(out, 0, sizeof *out);
		return -1;
	}
	return 0;
}

struct image_reader *image_reader_new(void)
{
	return calloc(1, sizeof(struct image_reader));
}

/* What r holds, not r itself. */
static void image_reader_free_in(struct image_reader *r)
{
	if (r->fast)
		libdeflate_free_decompressor(r->fast);
	if (r->z_ready)
		inflateEnd(&r->z);
	file_buf_free(&r->file);
	bytebuf_free(&r->joined);
	free(r->raw);
	free(r->px);
	free(r->other);
}

void image_reader_free(struct image_reader *r)
{
	if (!r)
		return;
	image_reader_free_in(r);
	free(r);
}

/* ------------------------------------------------------------------ */

/* Decodes by the first bytes: a PNG into r's buffers, the others into
 * pixels their decoders allocate (r->other keeps them). */
int image_reader_decode(struct image_reader *r, const void *data, size_t len, const char *name,
                        struct image *out, struct cnn_error *err)
{
	const unsigned char *d = data;
	memset(out, 0, sizeof *out);
	free(r->other);
	r->other = NULL;
	if (len >= sizeof png_sig && !memcmp(d, png_sig, sizeof png_sig))
		return decode_png(r, d, len, name, out, err);
	int rc;
	if (len >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
		rc = image_decode_jpeg(d, len, name, out, err);
	else if (len >= 2 && d[0] == 'P' && (d[1] == '5' || d[1] == '6'))
		rc = decode_pnm(d, len, name, out, err);
	else if (len >= 2 && d[0] == 'P' && (d[1] == '2' || d[1] == '3'))
		return cnn_errorf(err, at_file(name), "ASCII %s (P%c) is not supported; save it as "
		                  "binary %s (P%c)", d[1] == '2' ? "PGM" : "PPM", d[1],
		                  d[1] == '2' ? "PGM" : "PPM", d[1] + 3);
	else if (len == 0)
		return cnn_errorf(err, at_file(name), "empty file (0 bytes): not an image");
	else
		return cnn_errorf(err, at_file(name), "not an image cnnrun reads (PNG, JPEG, binary PGM or PPM)");
	r->other = out->pixels;
	return rc;
}

int image_reader_load(struct image_reader *r, const char *path, struct image *out,
                      struct cnn_error *err)
{
	memset(out, 0, sizeof *out);
	int rc = file_read_reuse(path, IMAGE_MAX_FILE, &r->file, err);
	if (rc)
		return rc;
	return image_reader_decode(r, r->file.data, r->file.len, path, out, err);
}

/* A decode with a reader of its own, whose pixels out takes over. */
int image_decode(const void *data, size_t len, const char *name, struct image *out,
                 struct cnn_error *err)
{
	struct image_reader r = { 0 };
	int rc = image_reader_decode(&r, data, len, name, out, err);
	if (rc == 0 && out->pixels == r.px)
		r.px = NULL;
	else if (rc == 0)
		r.other = NULL;
	image_reader_free_in(&r);
	return rc;
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
