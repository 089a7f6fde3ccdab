/* PGM and PNG decoding on images this test makes: PNG rows under every
 * filter type (on the first row too, and with 2 to 4 bytes a pixel), IDAT
 * split across chunks, an ancillary chunk to skip; the kinds of image that
 * are refused, each with its message; and one image reader kept over many
 * files, as predict's threads keep theirs, against image_load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "io/fileio.h"
#include "io/image.h"
#include "testutil.h"

#define NAME "digit.png"

struct buf {
	unsigned char p[8192];
	size_t len;
};

static void put(struct buf *b, const void *p, size_t n)
{
	assert_true(b->len + n <= sizeof b->p);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put_be32(struct buf *b, uint32_t v)
{
	unsigned char c[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
	                       (unsigned char)(v >> 8), (unsigned char)v };
	put(b, c, 4);
}

static void chunk(struct buf *b, const char *type, const void *data, size_t n)
{
	put_be32(b, (uint32_t)n);
	put(b, type, 4);
	put(b, data, n);
	uint32_t crc = (uint32_t)crc32(crc32(0, (const unsigned char *)type, 4), data, (uInt)n);
	put_be32(b, crc);
}

static int paeth(int a, int b, int c)
{
	int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
	return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

struct png_opts {
	int depth, color, interlace;
	int bad_filter_row;      /* > 0: that row gets filter type 5 */
};

/* A w x h grayscale PNG of px; row y uses filter type y % 5. */
static void make_png(struct buf *b, const uint8_t *px, int w, int h, const struct png_opts *o)
{
	unsigned char raw[4096], z[4096], ihdr[13];
	size_t r = 0;
	uLongf zlen = sizeof z;

	for (int y = 0; y < h; y++) {
		int type = y % 5;
		raw[r++] = (unsigned char)(o->bad_filter_row == y && y ? 5 : type);
		for (int x = 0; x < w; x++) {
			int a = x ? px[y * w + x - 1] : 0, up = y ? px[(y - 1) * w + x] : 0;
			int c = x && y ? px[(y - 1) * w + x - 1] : 0;
			int pred = type == 1 ? a : type == 2 ? up : type == 3 ? (a + up) / 2 :
			           type == 4 ? paeth(a, up, c) : 0;
			raw[r++] = (unsigned char)(px[y * w + x] - pred);
		}
	}
	assert_int_equal(compress2(z, &zlen, raw, r, 9), Z_OK);

	b->len = 0;
	put(b, "\x89PNG\r\n\x1a\n", 8);
	for (int i = 0; i < 4; i++) {
		ihdr[i] = (unsigned char)((uint32_t)w >> (24 - 8 * i));
		ihdr[4 + i] = (unsigned char)((uint32_t)h >> (24 - 8 * i));
	}
	ihdr[8] = (unsigned char)(o->depth ? o->depth : 8);
	ihdr[9] = (unsigned char)o->color;
	ihdr[10] = ihdr[11] = 0;
	ihdr[12] = (unsigned char)o->interlace;
	chunk(b, "IHDR", ihdr, 13);
	chunk(b, "tEXt", "Comment\0made by test_image", 26);
	/* two IDAT chunks: the decoder must join them */
	chunk(b, "IDAT", z, zlen / 2);
	chunk(b, "IDAT", z + zlen / 2, zlen - zlen / 2);
	chunk(b, "IEND", "", 0);
}

/* 9x7 pixels with both smooth and jumpy parts, so filters see carries. */
static void sample(uint8_t *px, int w, int h)
{
	uint64_t s = 3;
	for (int i = 0; i < w * h; i++)
		px[i] = i % 3 ? (uint8_t)(i * 37) : (uint8_t)(test_uniform(&s, 0, 256));
}

static char msg[1024];

static void expect(const struct buf *b, const char *text)
{
	struct cnn_error err = { 0 };
	struct image img;
	char want[1024];

	assert_int_equal(image_decode(b->p, b->len, NAME, &img, &err), -1);
	assert_null(img.pixels);
	snprintf(want, sizeof want, NAME ": %s", text);
	assert_string_equal(cnn_error_str(&err, msg, sizeof msg), want);
}

static void test_png_filters(void **state)
{
	struct cnn_error err = { 0 };
	struct image img;
	struct buf b;
	uint8_t px[9 * 7];
	char *dir, *path;

	(void)state;
	sample(px, 9, 7);
	make_png(&b, px, 9, 7, &(struct png_opts){ 0 });
	assert_int_equal(image_decode(b.p, b.len, NAME, &img, &err), 0);
	assert_int_equal(img.width, 9);
	assert_int_equal(img.height, 7);
	assert_memory_equal(img.pixels, px, sizeof px);
	image_free(&img);

	/* from a file, too */
	dir = test_tmpdir();
	assert_non_null(dir);
	path = test_write_file(dir, NAME, b.p, b.len);
	assert_non_null(path);
	assert_int_equal(image_load(path, &img, &err), 0);
	assert_memory_equal(img.pixels, px, sizeof px);
	image_free(&img);
	free(path);
	test_rmdir(dir);
	free(dir);
}

static void test_png_refused(void **state)
{
	struct buf b;
	uint8_t px[9 * 7];

	(void)state;
	sample(px, 9, 7);
	make_png(&b, px, 9, 7, &(struct png_opts){ .color = 3, .depth = 16 });
	expect(&b, "bad PNG header: bit depth 16 is not allowed for color type 3 (palette)");
	make_png(&b, px, 9, 7, &(struct png_opts){ .color = 2, .depth = 4 });
	expect(&b, "bad PNG header: bit depth 4 is not allowed for color type 2 (RGB)");
	make_png(&b, px, 9, 7, &(struct png_opts){ .color = 5 });
	expect(&b, "bad PNG header: unknown color type 5");
	make_png(&b, px, 9, 7, &(struct png_opts){ .color = 3 });
	expect(&b, "bad PNG: a palette image without a palette (PLTE)");
	make_png(&b, px, 9, 7, &(struct png_opts){ .color = 2 });
	expect(&b, "bad PNG: image data is truncated or corrupt (70 of 196 bytes)");
	make_png(&b, px, 9, 7, &(struct png_opts){ .interlace = 1 });
	expect(&b, "interlaced PNG is not supported; save it without interlacing");
	make_png(&b, px, 9, 7, &(struct png_opts){ .bad_filter_row = 3 });
	expect(&b, "bad PNG: row 3 has filter type 5");
}

static void test_png_damaged(void **state)
{
	struct buf b;
	uint8_t px[9 * 7];
	size_t idat;

	(void)state;
	sample(px, 9, 7);
	make_png(&b, px, 9, 7, &(struct png_opts){ 0 });
	/* signature 8, IHDR 25, tEXt 38: the first IDAT's data is at 8 + 25 + 38 + 8 */
	idat = 8 + 25 + 38 + 8;
	assert_memory_equal(b.p + idat - 4, "IDAT", 4);
	b.p[idat + 3] ^= 0x20;
	expect(&b, "PNG chunk IDAT: CRC mismatch; the file is corrupted");
	b.p[idat + 3] ^= 0x20;

	size_t full = b.len;
	b.len = full - 12;     /* IEND gone */
	expect(&b, "truncated PNG (no IEND chunk)");
	b.len = idat + 2;      /* inside the first IDAT */
	expect(&b, "truncated PNG (chunk IDAT runs past the end of the file)");

	/* A second IHDR (signature 8, then IHDR's 25 bytes, repeated): named
	 * as such, not as an unsupported chunk. */
	struct buf twice = { 0 };
	b.len = full;
	put(&twice, b.p, 33);
	put(&twice, b.p + 8, 25);
	put(&twice, b.p + 33, b.len - 33);
	expect(&twice, "bad PNG: a second IHDR chunk (a PNG has one)");
}

static void test_pgm(void **state)
{
	static const char hdr[] = "P5\n# made by test_image\n4 3\n255\n";
	struct cnn_error err = { 0 };
	struct image img;
	struct buf b = { .len = 0 };
	uint8_t px[12];

	(void)state;
	for (int i = 0; i < 12; i++)
		px[i] = (uint8_t)(i * 20);
	put(&b, hdr, strlen(hdr));
	put(&b, px, 12);
	assert_int_equal(image_decode(b.p, b.len, NAME, &img, &err), 0);
	assert_int_equal(img.width, 4);
	assert_int_equal(img.height, 3);
	assert_memory_equal(img.pixels, px, 12);
	image_free(&img);

	/* maxval 15: scaled so 15 is white; a pixel byte may be whitespace */
	b.len = 0;
	put(&b, "P5 2 2 15\n\x00\x07\x0f\x0a", 14);
	assert_int_equal(image_decode(b.p, b.len, NAME, &img, &err), 0);
	assert_int_equal(img.pixels[0], 0);
	assert_int_equal(img.pixels[1], 119);
	assert_int_equal(img.pixels[2], 255);
	assert_int_equal(img.pixels[3], 170);
	image_free(&img);
}

static void test_pgm_refused(void **state)
{
	struct buf b = { .len = 0 };

	(void)state;
	put(&b, "P5\n4 3\n65535\n", 13);
	expect(&b, "truncated PGM: 0 bytes of pixels, 4x3 needs 24");
	b.len = 0;
	put(&b, "P5\n4 3\n255\nabcdefghij", 21);
	expect(&b, "truncated PGM: 10 bytes of pixels, 4x3 needs 12");
	b.len = 0;
	put(&b, "P5\n4\n", 5);
	expect(&b, "bad PGM header (expected P5, width, height, maxval)");
	b.len = 0;
	put(&b, "P2\n2 1\n255\n0 255\n", 17);
	expect(&b, "ASCII PGM (P2) is not supported; save it as binary PGM (P5)");
	b.len = 0;
	put(&b, "GIF89a", 6);
	expect(&b, "not an image cnnrun reads (PNG, JPEG, binary PGM or PPM)");
	b.len = 0;
	expect(&b, "empty file (0 bytes): not an image");
	put(&b, "P3\n1 1\n255\n0 0 0\n", 17);
	expect(&b, "ASCII PPM (P3) is not supported; save it as binary PPM (P6)");
	b.len = 0;
	put(&b, "P5 0 3 255\n", 11);
	expect(&b, "image is empty (0x3)");
}

/* A PNG of the given header whose rows (filter byte included) are raw,
 * with an optional PLTE. */
static void raw_png(struct buf *b, int w, int h, int depth, int color, const uint8_t *raw, size_t n,
                    const uint8_t *plte, size_t plte_len)
{
	unsigned char z[4096], ihdr[13] = { 0 };
	uLongf zlen = sizeof z;
	assert_int_equal(compress2(z, &zlen, raw, n, 9), Z_OK);
	b->len = 0;
	put(b, "\x89PNG\r\n\x1a\n", 8);
	ihdr[3] = (unsigned char)w;
	ihdr[7] = (unsigned char)h;
	ihdr[8] = (unsigned char)depth;
	ihdr[9] = (unsigned char)color;
	chunk(b, "IHDR", ihdr, 13);
	if (plte)
		chunk(b, "PLTE", plte, plte_len);
	chunk(b, "IDAT", z, zlen);
	chunk(b, "IEND", "", 0);
}

static void decode_ok(const struct buf *b, int w, int h, int c, const uint8_t *want)
{
	struct cnn_error err = { 0 };
	struct image img;
	char m[1024];
	if (image_decode(b->p, b->len, NAME, &img, &err))
		fail_msg("%s", cnn_error_str(&err, m, sizeof m));
	assert_int_equal(img.width, w);
	assert_int_equal(img.height, h);
	assert_int_equal(img.channels, c);
	assert_memory_equal(img.pixels, want, (size_t)w * h * c);
	image_free(&img);
}

/* Every colour type, sub-byte and 16-bit depths, each against pixels
 * worked out by hand from the PNG specification. */
static void test_png_colour_types(void **state)
{
	struct buf b;
	(void)state;
	/* 1-bit grey, 9x1: bits 1010 0101 1 -> 255 0 255 0 0 255 0 255 255 */
	static const uint8_t g1[] = { 0, 0xa5, 0x80 };
	raw_png(&b, 9, 1, 1, 0, g1, sizeof g1, NULL, 0);
	decode_ok(&b, 9, 1, 1, (const uint8_t[]){ 255, 0, 255, 0, 0, 255, 0, 255, 255 });
	/* 2-bit palette, 3x1: entries 2, 0, 1 */
	static const uint8_t pal[] = { 10, 20, 30, 40, 50, 60, 70, 80, 90 };
	static const uint8_t p2[] = { 0, 0x84 };
	raw_png(&b, 3, 1, 2, 3, p2, sizeof p2, pal, sizeof pal);
	decode_ok(&b, 3, 1, 3, (const uint8_t[]){ 70, 80, 90, 10, 20, 30, 40, 50, 60 });
	/* an index past the palette is refused */
	static const uint8_t p3[] = { 0, 0xc0 };
	raw_png(&b, 3, 1, 2, 3, p3, sizeof p3, pal, sizeof pal);
	expect(&b, "bad PNG: pixel (0, 0) uses palette entry 3 of 3");
	/* 16-bit grey + alpha, 2x1, with the Sub filter (left = 4 bytes back):
	 * grey 0x0000 and 0xffff, alpha dropped; 16 bits rounded to 8 */
	static const uint8_t ga[] = { 1, 0x00, 0x00, 0x12, 0x34, 0xff, 0xff, 0x00, 0x00 };
	raw_png(&b, 2, 1, 16, 4, ga, sizeof ga, NULL, 0);
	decode_ok(&b, 2, 1, 1, (const uint8_t[]){ 0, 255 });
	/* 16-bit RGB, 1x1: 0x8000 -> 128, 0x0101 -> 1, 0xfefe -> 254 */
	static const uint8_t rgb16[] = { 0, 0x80, 0x00, 0x01, 0x01, 0xfe, 0xfe };
	raw_png(&b, 1, 1, 16, 2, rgb16, sizeof rgb16, NULL, 0);
	decode_ok(&b, 1, 1, 3, (const uint8_t[]){ 128, 1, 254 });
	/* 8-bit RGBA, 2x1, Up filter on one row (no row above: plain) */
	static const uint8_t rgba[] = { 2, 1, 2, 3, 4, 5, 6, 7, 8 };
	raw_png(&b, 2, 1, 8, 6, rgba, sizeof rgba, NULL, 0);
	decode_ok(&b, 2, 1, 3, (const uint8_t[]){ 1, 2, 3, 5, 6, 7 });
	/* 4-bit grey, 2x1: 0xf and 0x5 -> 255 and 85 */
	static const uint8_t g4[] = { 0, 0xf5 };
	raw_png(&b, 2, 1, 4, 0, g4, sizeof g4, NULL, 0);
	decode_ok(&b, 2, 1, 1, (const uint8_t[]){ 255, 85 });
}

/* An 8-bit PNG of w x h pixels of `samples` bytes (colour type color),
 * row y filtered with type (y + shift) % 5, "left" samples bytes back. */
static void filtered_png(struct buf *b, const uint8_t *px, int w, int h, int samples, int color,
                         int shift)
{
	uint8_t raw[4096];
	size_t r = 0, stride = (size_t)w * samples;
	assert_true((stride + 1) * h <= sizeof raw);
	for (int y = 0; y < h; y++) {
		int type = (y + shift) % 5;
		raw[r++] = (uint8_t)type;
		for (size_t x = 0; x < stride; x++) {
			const uint8_t *row = px + y * stride;
			int a = x >= (size_t)samples ? row[x - samples] : 0, up = y ? row[x - stride] : 0;
			int c = x >= (size_t)samples && y ? row[x - stride - samples] : 0;
			int pred = type == 1 ? a : type == 2 ? up : type == 3 ? (a + up) / 2 :
			           type == 4 ? paeth(a, up, c) : 0;
			raw[r++] = (uint8_t)(row[x] - pred);
		}
	}
	raw_png(b, w, h, 8, color, raw, r, NULL, 0);
}

/* Every filter, on every row including the first (where "up" is 0), for
 * the 8-bit kinds with more than one byte a pixel, whose "left" is 2 to 4
 * bytes back: grey + alpha, RGB and RGBA, alpha dropped. */
static void test_png_filters_wide(void **state)
{
	static const struct { int color, samples, keep; } kinds[] = { { 4, 2, 1 }, { 2, 3, 3 }, { 6, 4, 3 } };
	uint8_t px[11 * 6 * 4], want[11 * 6 * 3];
	struct buf b;
	uint64_t s = 7;
	(void)state;
	for (size_t i = 0; i < sizeof px; i++)
		px[i] = i % 2 ? (uint8_t)test_uniform(&s, 0, 256) : (uint8_t)(i * 13);
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		int n = kinds[k].samples, keep = kinds[k].keep;
		for (int p = 0; p < 11 * 6; p++)
			memcpy(want + p * keep, px + p * n, (size_t)keep);
		for (int shift = 0; shift < 5; shift++) {
			filtered_png(&b, px, 11, 6, n, kinds[k].color, shift);
			decode_ok(&b, 11, 6, keep, want);
		}
	}
}

/* path through a reader and through image_load: the same pixels, or the
 * same message; returns the reader's status. */
static int load_both(struct image_reader *r, const char *path)
{
	struct cnn_error e1 = { 0 }, e2 = { 0 };
	struct image a, b;
	char m1[1024], m2[1024];
	int rc = image_reader_load(r, path, &a, &e1);
	int want = image_load(path, &b, &e2);
	assert_int_equal(rc != 0, want != 0);
	if (rc) {
		assert_null(a.pixels);
		assert_string_equal(cnn_error_str(&e1, m1, sizeof m1), cnn_error_str(&e2, m2, sizeof m2));
		return rc;
	}
	assert_int_equal(a.width, b.width);
	assert_int_equal(a.height, b.height);
	assert_int_equal(a.channels, b.channels);
	assert_memory_equal(a.pixels, b.pixels, (size_t)a.width * a.height * a.channels);
	image_free(&b);
	return 0;
}

/* One reader over files of every kind and size in turn (its buffers grow,
 * shrink back in use, and zlib's state is reset), each decoded as
 * image_load decodes it; a folder is told apart from other failures. */
static void test_reader(void **state)
{
	uint8_t big[60 * 50], small[9 * 7], rgb[11 * 6 * 3];
	struct buf b;
	char *dir = test_tmpdir(), *path[7];
	(void)state;
	assert_non_null(dir);
	sample(big, 60, 50);
	sample(small, 9, 7);
	for (size_t i = 0; i < sizeof rgb; i++)
		rgb[i] = (uint8_t)(i * 29);
	make_png(&b, big, 60, 50, &(struct png_opts){ 0 });
	path[0] = test_write_file(dir, "big.png", b.p, b.len);
	make_png(&b, small, 9, 7, &(struct png_opts){ 0 });
	path[1] = test_write_file(dir, "small.png", b.p, b.len);
	b.p[8 + 25 + 38 + 8 + 3] ^= 0x20;   /* the first IDAT's CRC no longer holds */
	path[2] = test_write_file(dir, "crc.png", b.p, b.len);
	filtered_png(&b, rgb, 11, 6, 3, 2, 1);
	path[3] = test_write_file(dir, "rgb.png", b.p, b.len);
	path[4] = test_write_file(dir, "grey.pgm", "P5\n2 1\n255\n\x07\x09", 13);
	path[5] = test_write_file(dir, "nope.png", "", 0);
	path[6] = test_write_file(dir, "not.png", "hello", 5);
	for (int i = 0; i < 7; i++)
		assert_non_null(path[i]);
	assert_int_equal(remove(path[5]), 0);   /* a name that is not there */

	struct image_reader *r = image_reader_new();
	assert_non_null(r);
	static const int order[] = { 1, 0, 1, 3, 4, 0, 2, 0, 5, 6, 3, 1 };
	for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
		assert_int_equal(load_both(r, path[order[k]]) == 0, order[k] < 2 || order[k] == 3 || order[k] == 4);

	/* a folder: FILE_IS_FOLDER, with the message a file's read gives */
	struct cnn_error err = { 0 };
	struct image img;
	assert_int_equal(image_reader_load(r, dir, &img, &err), FILE_IS_FOLDER);
	assert_non_null(strstr(err.msg, "is a folder, not a regular file"));
	assert_int_equal(load_both(r, dir), FILE_IS_FOLDER);
	assert_int_equal(load_both(r, path[0]), 0);
	image_reader_free(r);
	for (int i = 0; i < 7; i++)
		free(path[i]);
	test_rmdir(dir);
	free(dir);
}

/* P6 and 16-bit P5, by hand. */
static void test_ppm(void **state)
{
	struct buf b = { .len = 0 };
	(void)state;
	put(&b, "P6\n2 1\n255\n\x01\x02\x03\x04\x05\x06", 17);
	decode_ok(&b, 2, 1, 3, (const uint8_t[]){ 1, 2, 3, 4, 5, 6 });
	b.len = 0;
	put(&b, "P5\n2 1\n65535\n\xff\xff\x80\x00", 18);
	decode_ok(&b, 2, 1, 1, (const uint8_t[]){ 255, 128 });
}

/* Fitting: grey to RGB, RGB to grey, and bilinear resizing by hand. */
static void test_fit(void **state)
{
	(void)state;
	uint8_t rgb[] = { 255, 0, 0, 0, 255, 0 };   /* red, green: 2x1 */
	struct image img = { 2, 1, 3, rgb };
	uint8_t out[16];
	struct cnn_error err;
	assert_int_equal(image_fit(&img, (struct shape){ 1, 1, 2 }, RESIZE_NONE, out, NAME, &err), 0);
	assert_int_equal(out[0], 76);     /* 0.299 * 255 */
	assert_int_equal(out[1], 150);    /* 0.587 * 255 */
	/* planes: R of both pixels, then G, then B */
	assert_int_equal(image_fit(&img, (struct shape){ 3, 1, 2 }, RESIZE_NONE, out, NAME, &err), 0);
	assert_memory_equal(out, ((uint8_t[]){ 255, 0, 0, 255, 0, 0 }), 6);
	/* 2x1 grey 0, 100 to 4x1: centres at -0.25, 0.25, 0.75, 1.25 of the
	 * source, clamped: 0, 25, 75, 100 */
	uint8_t grey[] = { 0, 100 };
	struct image g = { 2, 1, 1, grey };
	assert_int_equal(image_fit(&g, (struct shape){ 1, 1, 4 }, RESIZE_BILINEAR, out, NAME, &err), 0);
	assert_memory_equal(out, ((uint8_t[]){ 0, 25, 75, 100 }), 4);
	/* to 1x1: the mean of the two */
	assert_int_equal(image_fit(&g, (struct shape){ 3, 1, 1 }, RESIZE_BILINEAR, out, NAME, &err), 0);
	assert_memory_equal(out, ((uint8_t[]){ 50, 50, 50 }), 3);
	/* the same size, grey: a copy per channel */
	assert_int_equal(image_fit(&g, (struct shape){ 1, 1, 2 }, RESIZE_NONE, out, NAME, &err), 0);
	assert_memory_equal(out, grey, 2);
	assert_int_equal(image_fit(&g, (struct shape){ 3, 1, 2 }, RESIZE_NONE, out, NAME, &err), 0);
	assert_memory_equal(out, ((uint8_t[]){ 0, 100, 0, 100, 0, 100 }), 6);
	assert_int_equal(image_fit(&g, (struct shape){ 1, 1, 4 }, RESIZE_NONE, out, NAME, &err), -1);
	assert_string_equal(cnn_error_str(&err, msg, sizeof msg), NAME ": the image is 2x1 pixels, the network "
	                    "takes 4x1 (width x height); resize it first");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_png_filters),
		cmocka_unit_test(test_png_refused),
		cmocka_unit_test(test_png_damaged),
		cmocka_unit_test(test_pgm),
		cmocka_unit_test(test_pgm_refused),
		cmocka_unit_test(test_png_colour_types),
		cmocka_unit_test(test_png_filters_wide),
		cmocka_unit_test(test_reader),
		cmocka_unit_test(test_ppm),
		cmocka_unit_test(test_fit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
