/* The PNG encoder, checked by decoding its output here: the signature, the
 * chunk layout and each chunk's CRC-32 (computed by this test's own
 * bitwise CRC, not zlib's), the IHDR fields, the zlib stream inflated by
 * zlib and its Adler-32 trailer (again computed here), and every filtered
 * row undone back to the original pixels, byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "plot/canvas.h"
#include "plot/png.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* CRC-32 as the PNG specification's annex D defines it, one bit at a time. */
static uint32_t crc32_ref(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
	}
	return c ^ 0xffffffffu;
}

/* Adler-32 (RFC 1950). */
static uint32_t adler32_ref(const uint8_t *p, size_t n)
{
	uint32_t a = 1, b = 0;

	for (size_t i = 0; i < n; i++) {
		a = (a + p[i]) % 65521;
		b = (b + a) % 65521;
	}
	return b << 16 | a;
}

static uint8_t paeth(int a, int b, int c)
{
	int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);

	return (uint8_t)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

/* Undoes any of the five PNG filters in place; returns the pixels. */
static uint8_t *unfilter(const uint8_t *raw, int w, int h, int ch)
{
	size_t stride = (size_t)w * (size_t)ch;
	uint8_t *out = malloc(stride * (size_t)h);

	assert_non_null(out);
	for (int y = 0; y < h; y++) {
		const uint8_t *in = raw + (size_t)y * (stride + 1) + 1;
		uint8_t *row = out + (size_t)y * stride, *up = y ? row - stride : NULL;
		int type = raw[(size_t)y * (stride + 1)];

		assert_in_range(type, 0, 4);
		for (size_t i = 0; i < stride; i++) {
			int a = i >= (size_t)ch ? row[i - ch] : 0, b = up ? up[i] : 0;
			int c = up && i >= (size_t)ch ? up[i - ch] : 0;
			int pred = type == 0 ? 0 : type == 1 ? a : type == 2 ? b :
			           type == 3 ? (a + b) / 2 : paeth(a, b, c);

			row[i] = (uint8_t)(in[i] + pred);
		}
	}
	return out;
}

/* Decodes png (as written by png_encode) and checks it holds pixels. */
static void assert_decodes_to(const uint8_t *png, size_t len, const uint8_t *pixels, int w, int h,
                              int ch)
{
	static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	const char *expect[] = { "IHDR", "IDAT", "IEND" };
	const uint8_t *p = png + 8, *idat = NULL;
	size_t idat_len = 0, raw_len = ((size_t)w * (size_t)ch + 1) * (size_t)h;
	uLongf got_len = raw_len;
	uint8_t *raw, *back;

	assert_true(len > 8);
	assert_memory_equal(png, sig, 8);
	for (int k = 0; k < 3; k++) {
		uint32_t n;

		assert_true((size_t)(p - png) + 12 <= len);
		n = be32(p);
		assert_true((size_t)(p - png) + 12 + n <= len);
		assert_memory_equal(p + 4, expect[k], 4);
		assert_int_equal(be32(p + 8 + n), crc32_ref(p + 4, n + 4));
		if (k == 0) {
			assert_int_equal(n, 13);
			assert_int_equal(be32(p + 8), w);
			assert_int_equal(be32(p + 12), h);
			assert_int_equal(p[16], 8);                 /* bit depth */
			assert_int_equal(p[17], ch == 1 ? 0 : 2);   /* colour type */
			assert_int_equal(p[18] | p[19] | p[20], 0);
		} else if (k == 1) {
			idat = p + 8;
			idat_len = n;
		} else {
			assert_int_equal(n, 0);
		}
		p += 12 + n;
	}
	assert_int_equal((size_t)(p - png), len);

	raw = malloc(raw_len + 1);
	assert_non_null(raw);
	assert_int_equal(uncompress(raw, &got_len, idat, (uLong)idat_len), Z_OK);
	assert_int_equal(got_len, raw_len);
	assert_int_equal(be32(idat + idat_len - 4), adler32_ref(raw, raw_len));
	back = unfilter(raw, w, h, ch);
	assert_memory_equal(back, pixels, (size_t)w * (size_t)h * (size_t)ch);
	free(back);
	free(raw);
}

static void roundtrip(int w, int h, int ch, uint32_t seed)
{
	size_t n = (size_t)w * (size_t)h * (size_t)ch, len;
	uint8_t *pixels = malloc(n), *png;
	struct cnn_error err = { 0 };

	assert_non_null(pixels);
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		/* half noise, half runs: both filter paths and both deflate modes */
		pixels[i] = i % 97 < 48 ? (uint8_t)(seed >> 24) : (uint8_t)(i / 97);
	}
	assert_int_equal(png_encode(pixels, w, h, ch, &png, &len, &err), 0);
	assert_decodes_to(png, len, pixels, w, h, ch);
	free(png);
	free(pixels);
}

static void test_roundtrip_grey(void **state)
{
	(void)state;
	roundtrip(1, 1, 1, 1);
	roundtrip(28, 28, 1, 2);
	roundtrip(257, 3, 1, 3);
}

static void test_roundtrip_rgb(void **state)
{
	(void)state;
	roundtrip(1, 1, 3, 4);
	roundtrip(31, 17, 3, 5);
	roundtrip(300, 200, 3, 6);
}

static void test_bad_arguments(void **state)
{
	struct cnn_error err = { 0 };
	uint8_t px[4] = { 0 }, *png = (uint8_t *)1;
	size_t len = 1;

	(void)state;
	assert_int_equal(png_encode(px, 0, 1, 1, &png, &len, &err), -1);
	assert_null(png);
	assert_int_equal(len, 0);
	assert_non_null(strstr(err.msg, "0x1"));
	assert_int_equal(png_encode(px, 1, 1, 2, &png, &len, &err), -1);
	assert_non_null(strstr(err.msg, "2 channels"));
}

/* A canvas with text and a scaled image, through png_write to a stream. */
static void test_canvas_to_png(void **state)
{
	static const struct rgb white = { 255, 255, 255 }, red = { 200, 0, 0 };
	const uint8_t img[4] = { 0, 255, 255, 0 };   /* 2x2 checker */
	struct canvas cv;
	struct cnn_error err = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(canvas_create(&cv, 40, 20, white), 0);
	canvas_blit(&cv, 0, 0, img, 1, 2, 2, 3);
	/* pixel (4, 1) is in the top-right block of the checker: white */
	assert_int_equal(cv.rgb[(1 * 40 + 4) * 3], 255);
	assert_int_equal(cv.rgb[(1 * 40 + 1) * 3], 0);
	assert_int_equal(font_draw(&cv, 10, 2, "7>2", 1, red), 10 + 3 * FONT_ADVANCE);
	/* the top bar of the 7 */
	assert_int_equal(cv.rgb[(2 * 40 + 10) * 3], 200);
	assert_int_equal(cv.rgb[(2 * 40 + 10) * 3 + 1], 0);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(png_write(f, cv.rgb, cv.width, cv.height, 3, &err), 0);
	fclose(f);
	assert_decodes_to((const uint8_t *)buf, len, cv.rgb, 40, 20, 3);
	free(buf);
	canvas_free(&cv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_grey),
		cmocka_unit_test(test_roundtrip_rgb),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_canvas_to_png),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
