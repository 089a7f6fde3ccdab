/* The 2x2/2 max-pooling kernels (src/kernels/pool2.c) at every level this
 * CPU runs, bit for bit against the rule written out as a loop here (the
 * one kernels/pool2.h states): ties, NaN, -0 and +-inf in x, with and
 * without the fused ReLU, NaN and -0 in dy, odd heights and widths (the
 * dropped last row and column), and output widths on both sides of each
 * level's vector widths (4, 8, 16 windows; AVX-512 packs two output rows of
 * up to 8). Every dx element is overwritten, so dx starts as garbage. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/dispatch.h"
#include "kernels/relu.h"
#include "testutil.h"

static float in_value(float v, bool relu)
{
	return relu ? relu_value(v) : v;
}

/* y (planes, oh, ow) and dx (planes, h, w) by the rule, one window at a time. */
static void reference(const float *x, int h, int w, const float *dy, float *y, float *dx,
                      size_t planes, bool relu)
{
	int oh = h / 2, ow = w / 2;

	memset(dx, 0, planes * (size_t)h * w * sizeof(*dx));
	for (size_t p = 0; p < planes; p++)
	for (int oy = 0; oy < oh; oy++)
	for (int ox = 0; ox < ow; ox++) {
		size_t at[4], o = (p * oh + oy) * ow + ox;
		float m = 0;

		for (int i = 0; i < 4; i++) {
			at[i] = (p * h + 2 * oy + i / 2) * w + 2 * ox + i % 2;
			float v = in_value(x[at[i]], relu);
			m = i == 0 || v > m ? v : m;
		}
		y[o] = m;
		int arg = 0;   /* a NaN max equals none: the first takes dy */
		while (arg < 4 && !(in_value(x[at[arg]], relu) == m))
			arg++;
		dx[at[arg < 4 ? arg : 0]] = relu && !(m > 0) ? 0.0f : dy[o];
	}
}

/* Values that tie often, with the special ones among them. */
static float pick(uint64_t *rng)
{
	static const float v[] = { 1, 2, 2, 0.5f, -1, -3, 0, -0.0f, NAN, -NAN, INFINITY,
	                           -INFINITY, 7, 1, 2, -0.25f };
	int i = (int)test_uniform(rng, 0, 16);
	return v[i < 16 ? i : 15];
}

static int same_bits(const float *a, const float *b, size_t n, const char *what, const char *level,
                     int h, int w, size_t planes, bool relu)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t u, v;
		memcpy(&u, a + i, 4);
		memcpy(&v, b + i, 4);
		if (u != v) {
			print_error("%s level %s, %zu planes of %dx%d, relu %d: element %zu is %08x, "
			            "want %08x\n", what, level, planes, h, w, relu, i, u, v);
			return 0;
		}
	}
	return 1;
}

static void check_level(const struct cnn_kernel_ops *k, int h, int w, size_t planes,
                        uint64_t *rng)
{
	int oh = h / 2, ow = w / 2;
	size_t nin = planes * (size_t)h * w, nout = planes * (size_t)oh * ow;
	float *x = malloc(nin * sizeof(*x)), *dy = malloc(nout * sizeof(*dy));
	float *y = malloc(nout * sizeof(*y)), *dx = malloc(nin * sizeof(*dx));
	float *ry = malloc(nout * sizeof(*ry)), *rdx = malloc(nin * sizeof(*rdx));

	assert_true(x && dy && y && dx && ry && rdx);
	for (size_t i = 0; i < nin; i++)
		x[i] = pick(rng);
	for (size_t i = 0; i < nout; i++)
		dy[i] = i % 7 == 3 ? -0.0f : i % 11 == 5 ? NAN : test_uniform(rng, -1, 1);
	for (int relu = 0; relu < 2; relu++) {
		reference(x, h, w, dy, ry, rdx, planes, relu);
		for (size_t i = 0; i < nout; i++)
			y[i] = -12345.0f;
		for (size_t i = 0; i < nin; i++)
			dx[i] = -12345.0f;
		k->pool2_forward(x, h, w, y, oh, ow, planes, relu);
		k->pool2_backward(x, h, w, y, dy, dx, oh, ow, planes, relu);
		assert_true(same_bits(y, ry, nout, "y", k->name, h, w, planes, relu));
		assert_true(same_bits(dx, rdx, nin, "dx", k->name, h, w, planes, relu));
	}
	free(x);
	free(dy);
	free(y);
	free(dx);
	free(ry);
	free(rdx);
}

static void check_all(const struct cnn_kernel_ops *k)
{
	/* (h, w): lenet's two, then ow 1..20 and 33 at odd and even widths,
	 * odd and even heights, and output-row counts odd and even (AVX-512's
	 * row pairs, which run across planes) */
	static const int shapes[][2] = {
		{ 28, 28 }, { 14, 14 }, { 2, 2 }, { 3, 3 }, { 5, 7 }, { 7, 5 }, { 4, 9 },
		{ 6, 16 }, { 3, 17 }, { 2, 18 }, { 5, 19 }, { 4, 32 }, { 3, 33 }, { 2, 34 },
		{ 9, 35 }, { 4, 40 }, { 6, 41 }, { 2, 66 }, { 11, 11 }, { 24, 24 },
		{ 12, 12 }, { 2, 12 }, { 2, 10 }, { 3, 8 }, { 2, 6 }, { 2, 4 }, { 2, 30 },
	};
	uint64_t rng = 17;

	for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
		for (size_t planes = 1; planes <= 5; planes += 2)
			check_level(k, shapes[s][0], shapes[s][1], planes, &rng);
	check_level(k, 28, 28, 64, &rng);
}

static void test_pool2_baseline(void **state)
{
	(void)state;
	check_all(cnn_kernels_level("baseline"));
}

/* A wide level, where this build and CPU have it. */
static void check_named(const char *level)
{
	const struct cnn_kernel_ops *k = cnn_kernels_level(level);

	if (!k)
		test_skip("no %s kernels on this build or CPU: its pooling was not checked", level);
	else
		check_all(k);
}

static void test_pool2_avx2(void **state)
{
	(void)state;
	check_named("avx2");
}

static void test_pool2_avx512(void **state)
{
	(void)state;
	check_named("avx512");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool2_baseline),
		cmocka_unit_test(test_pool2_avx2),
		cmocka_unit_test(test_pool2_avx512),
	};
	return test_exit_status(cmocka_run_group_tests(tests, NULL, NULL));
}
