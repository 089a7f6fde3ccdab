/* --preprocess mnist (io/image_mnist.c) on digits this test draws: the
 * result fits 20x20 with its centre of mass at (14, 14), dark on light and
 * light on dark give the same bytes, colour the same as grey, the aspect
 * ratio is kept; blank and one-pixel images are refused with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/image_mnist.h"

/* A w x h image of `paper`, channels 1 or 3. */
static struct image canvas(int w, int h, int channels, uint8_t paper)
{
	struct image img = { w, h, channels, malloc((size_t)w * h * channels) };
	assert_non_null(img.pixels);
	memset(img.pixels, paper, (size_t)w * h * channels);
	return img;
}

static void fill(struct image *img, int x0, int y0, int x1, int y1, uint8_t ink)
{
	for (int y = y0; y < y1; y++)
		memset(img->pixels + ((size_t)y * img->width + x0) * img->channels, ink,
		       (size_t)(x1 - x0) * img->channels);
}

/* A "7" of ink on paper, drawn 50 wide and 60 tall at (x, y): a bar along
 * the top and a stroke down the right, so its mass is off its box's centre. */
static struct image seven(int w, int h, int channels, int x, int y, uint8_t paper, uint8_t ink)
{
	struct image img = canvas(w, h, channels, paper);
	fill(&img, x, y, x + 50, y + 8, ink);
	for (int k = 0; k < 52; k++) {   /* the down stroke, leaning left */
		int cx = x + 44 - k * 20 / 52;
		fill(&img, cx - 4, y + 8 + k, cx + 4, y + 9 + k, ink);
	}
	return img;
}

/* The box of the non-zero pixels of out, and their centre of mass
 * (pixel centres at i + 0.5). */
static void measure(const uint8_t *out, int *bw, int *bh, double *cx, double *cy)
{
	int x0 = MNIST_SIDE, y0 = MNIST_SIDE, x1 = -1, y1 = -1;
	double mass = 0, mx = 0, my = 0;
	for (int y = 0; y < MNIST_SIDE; y++)
		for (int x = 0; x < MNIST_SIDE; x++) {
			uint8_t v = out[y * MNIST_SIDE + x];
			if (!v)
				continue;
			x0 = x < x0 ? x : x0;
			x1 = x > x1 ? x : x1;
			y0 = y < y0 ? y : y0;
			y1 = y > y1 ? y : y1;
			mass += v;
			mx += v * (x + 0.5);
			my += v * (y + 0.5);
		}
	assert_true(mass > 0);
	*bw = x1 - x0 + 1;
	*bh = y1 - y0 + 1;
	*cx = mx / mass;
	*cy = my / mass;
}

static void test_photo_of_a_seven(void **state)
{
	(void)state;
	/* dark ink on light paper, in the top-left corner of a 100x80 photo */
	struct image img = seven(100, 80, 1, 6, 4, 220, 30);
	uint8_t out[MNIST_SIDE * MNIST_SIDE];
	struct cnn_error err = { 0 };
	assert_true(image_dark_on_light(img.pixels, img.width, img.height));
	assert_int_equal(image_mnist_prepare(&img, out, "seven.png", &err), 0);
	int bw, bh;
	double cx, cy;
	measure(out, &bw, &bh, &cx, &cy);
	assert_true(bw <= MNIST_BOX && bh <= MNIST_BOX);
	assert_int_equal(bh, MNIST_BOX);            /* the longer side fills the box */
	assert_true(bw >= 15 && bw <= 18);           /* 50:60 kept: 16.7 */
	assert_true(fabs(cx - 14) <= 0.5 && fabs(cy - 14) <= 0.5);
	/* the mass is right of the box's centre (the down stroke), so the box is
	 * shifted left of the centred position */
	assert_int_equal(out[0], 0);
	int max = 0;
	for (int i = 0; i < MNIST_SIDE * MNIST_SIDE; i++)
		max = out[i] > max ? out[i] : max;
	assert_true(max >= 250);                     /* ink is white, as MNIST's */
	image_free(&img);
}

static void test_inverted_and_colour_alike(void **state)
{
	(void)state;
	struct image dark = seven(90, 90, 1, 30, 20, 220, 30);
	struct image light = seven(90, 90, 1, 30, 20, 35, 225);   /* 255 - each */
	struct image rgb = seven(90, 90, 3, 30, 20, 220, 30);
	uint8_t a[MNIST_SIDE * MNIST_SIDE], b[MNIST_SIDE * MNIST_SIDE], c[MNIST_SIDE * MNIST_SIDE];
	struct cnn_error err = { 0 };
	assert_false(image_dark_on_light(light.pixels, light.width, light.height));
	assert_int_equal(image_mnist_prepare(&dark, a, "dark.png", &err), 0);
	assert_int_equal(image_mnist_prepare(&light, b, "light.png", &err), 0);
	assert_int_equal(image_mnist_prepare(&rgb, c, "rgb.png", &err), 0);
	assert_memory_equal(a, b, sizeof a);
	assert_memory_equal(a, c, sizeof a);
	image_free(&dark);
	image_free(&light);
	image_free(&rgb);
}

/* A thin upright stroke keeps its shape: 20 tall, 2 or 3 wide. */
static void test_aspect_kept(void **state)
{
	(void)state;
	struct image img = canvas(40, 100, 1, 255);
	fill(&img, 30, 10, 36, 70, 0);
	uint8_t out[MNIST_SIDE * MNIST_SIDE];
	struct cnn_error err = { 0 };
	assert_int_equal(image_mnist_prepare(&img, out, "one.png", &err), 0);
	int bw, bh;
	double cx, cy;
	measure(out, &bw, &bh, &cx, &cy);
	assert_int_equal(bh, MNIST_BOX);
	assert_int_equal(bw, 2);
	assert_true(fabs(cx - 14) <= 0.5 && fabs(cy - 14) <= 0.5);
	image_free(&img);
}

static void test_blank_refused(void **state)
{
	(void)state;
	uint8_t out[MNIST_SIDE * MNIST_SIDE];
	char buf[1024];
	for (int paper = 0; paper <= 255; paper += 255) {
		struct image img = canvas(100, 80, 1, (uint8_t)paper);
		struct cnn_error err = { 0 };
		assert_false(image_dark_on_light(img.pixels, img.width, img.height));
		assert_int_equal(image_mnist_prepare(&img, out, "white.png", &err), -1);
		assert_non_null(strstr(cnn_error_str(&err, buf, sizeof buf),
		                       "white.png: --preprocess mnist: no digit found"));
		image_free(&img);
	}
	/* faint marks on paper: below the contrast a digit needs */
	struct image img = canvas(50, 50, 1, 200);
	fill(&img, 20, 20, 30, 30, 180);
	struct cnn_error err = { 0 };
	assert_int_equal(image_mnist_prepare(&img, out, "faint.png", &err), -1);
	image_free(&img);
}

static void test_tiny_images(void **state)
{
	(void)state;
	uint8_t out[MNIST_SIDE * MNIST_SIDE];
	struct cnn_error err = { 0 };
	/* one pixel: nothing to tell ink from paper by */
	struct image one = canvas(1, 1, 1, 255);
	assert_false(image_dark_on_light(one.pixels, 1, 1));
	assert_int_equal(image_mnist_prepare(&one, out, "one.png", &err), -1);
	image_free(&one);
	/* two pixels, one lit: a 1x1 digit, grown to fill the box, centred */
	struct image two = canvas(2, 1, 1, 0);
	two.pixels[1] = 255;
	assert_int_equal(image_mnist_prepare(&two, out, "two.png", &err), 0);
	int bw, bh;
	double cx, cy;
	measure(out, &bw, &bh, &cx, &cy);
	assert_int_equal(bw, MNIST_BOX);
	assert_int_equal(bh, MNIST_BOX);
	assert_true(fabs(cx - 14) <= 0.5 && fabs(cy - 14) <= 0.5);
	assert_int_equal(out[4 * MNIST_SIDE + 4], 255);
	image_free(&two);
}

/* A digit whose mass is far off its box's centre is moved only as far as
 * keeps it whole. */
static void test_kept_inside(void **state)
{
	(void)state;
	struct image img = canvas(100, 100, 1, 0);
	fill(&img, 20, 20, 80, 24, 255);   /* a thin bar along the top ... */
	fill(&img, 78, 20, 80, 80, 255);   /* ... a thin one down the right ... */
	fill(&img, 50, 20, 80, 30, 255);   /* ... and a heavy top-right block */
	uint8_t out[MNIST_SIDE * MNIST_SIDE];
	struct cnn_error err = { 0 };
	assert_int_equal(image_mnist_prepare(&img, out, "corner.png", &err), 0);
	int bw, bh;
	double cx, cy;
	measure(out, &bw, &bh, &cx, &cy);
	assert_int_equal(bw, MNIST_BOX);
	assert_int_equal(bh, MNIST_BOX);
	assert_true(cy < 13.5);   /* not centred: that would have cut its top off */
	image_free(&img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_photo_of_a_seven),
		cmocka_unit_test(test_inverted_and_colour_alike),
		cmocka_unit_test(test_aspect_kept),
		cmocka_unit_test(test_blank_refused),
		cmocka_unit_test(test_tiny_images),
		cmocka_unit_test(test_kept_inside),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
