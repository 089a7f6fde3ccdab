/* Axis arithmetic (nice ticks, log ticks, the log-scale choice), the
 * bitmap font, and the most-confident-mistakes list with its file. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "report/report.h"
#include "plot/canvas.h"
#include "plot/charts.h"
#include "testutil.h"

static void assert_ticks(const struct axis_ticks *t, const double *want, int n)
{
	if (t->n != n)
		fail_msg("%d ticks, expected %d (first %g, last %g)", t->n, n, t->v[0], t->v[t->n - 1]);
	for (int i = 0; i < n; i++)
		assert_float_equal(t->v[i], want[i], 1e-12);
}

static void test_nice_ticks(void **state)
{
	struct axis_ticks t;
	char label[32];

	(void)state;
	chart_nice_ticks(0, 1, 6, false, &t);
	assert_ticks(&t, (const double[]){ 0, 0.2, 0.4, 0.6, 0.8, 1 }, 6);
	assert_int_equal(t.decimals, 1);
	chart_tick_label(&t, t.v[3], label, sizeof label);
	assert_string_equal(label, "0.6");   /* not 0.6000000000000001 */

	/* accuracy near the top: the axis rounds out to whole steps */
	chart_nice_ticks(0.8712, 0.9871, 6, false, &t);
	assert_ticks(&t, (const double[]){ 0.85, 0.9, 0.95, 1 }, 4);
	assert_int_equal(t.decimals, 2);
	assert_float_equal(t.lo, 0.85, 1e-12);
	assert_float_equal(t.hi, 1, 1e-12);

	/* epochs: whole numbers only */
	chart_nice_ticks(1, 15, 8, true, &t);
	assert_ticks(&t, (const double[]){ 0, 2, 4, 6, 8, 10, 12, 14, 16 }, 9);
	assert_int_equal(t.decimals, 0);
	chart_nice_ticks(1, 3, 8, true, &t);
	assert_ticks(&t, (const double[]){ 1, 2, 3 }, 3);

	/* negative to positive: an exact zero, never "-0" */
	chart_nice_ticks(-3, 7, 6, false, &t);
	assert_ticks(&t, (const double[]){ -4, -2, 0, 2, 4, 6, 8 }, 7);
	chart_tick_label(&t, t.v[2], label, sizeof label);
	assert_string_equal(label, "0");

	/* flat, reversed and non-finite input still gives an axis */
	chart_nice_ticks(5, 5, 6, false, &t);
	assert_true(t.n >= 2 && t.lo < 5 && t.hi > 5);
	chart_nice_ticks(2, 1, 6, false, &t);
	assert_true(t.lo <= 1 && t.hi >= 2);
	chart_nice_ticks(NAN, INFINITY, 6, false, &t);
	assert_ticks(&t, (const double[]){ 0, 0.2, 0.4, 0.6, 0.8, 1 }, 6);
	chart_nice_ticks(0, 1e9, 100, false, &t);
	assert_true(t.n <= CHART_MAX_TICKS);
}

static void test_log_ticks(void **state)
{
	struct axis_ticks t;
	char label[32];

	(void)state;
	/* two decades: 1-2-5 steps, inside the padded range */
	chart_log_ticks(0.02, 2.3, &t);
	assert_true(t.log);
	assert_ticks(&t, (const double[]){ 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2 }, 7);
	assert_true(t.lo < 0.02 && t.hi > 2.3);
	chart_tick_label(&t, 0.05, label, sizeof label);
	assert_string_equal(label, "0.05");

	/* six decades: powers of ten only */
	chart_log_ticks(1e-5, 10, &t);
	assert_ticks(&t, (const double[]){ 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1, 10 }, 7);
	chart_tick_label(&t, 1e-5, label, sizeof label);
	assert_string_equal(label, "1e-05");

	/* nonsense in, an axis out */
	chart_log_ticks(0, -1, &t);
	assert_true(t.lo > 0 && t.hi > t.lo);
}

static void test_wants_log(void **state)
{
	(void)state;
	assert_true(chart_wants_log(0.1, 1));       /* one decade */
	assert_true(chart_wants_log(0.01, 2.3));
	assert_false(chart_wants_log(0.2, 1));
	assert_false(chart_wants_log(0, 5));        /* zero has no logarithm */
	assert_false(chart_wants_log(-1, 5));
	assert_false(chart_wants_log(0.1, INFINITY));
}

static void test_palette(void **state)
{
	(void)state;
	assert_string_equal(chart_color(0), chart_color(10));
	assert_string_not_equal(chart_color(0), chart_color(1));
	assert_non_null(chart_color(-1));
}

static void test_font(void **state)
{
	const char *must = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.,:%->/()?_+=!'";

	(void)state;
	for (const char *p = must; *p; p++)
		if (!font_glyph(*p))
			fail_msg("no glyph for '%c'", *p);
	/* every glyph differs from every other */
	for (const char *p = must; *p; p++)
		for (const char *q = p + 1; *q; q++)
			if (!memcmp(font_glyph(*p), font_glyph(*q), FONT_H))
				fail_msg("'%c' and '%c' look the same", *p, *q);
	assert_ptr_equal(font_glyph('a'), font_glyph('A'));
	assert_non_null(font_glyph(' '));
	assert_null(font_glyph('~'));
	assert_null(font_glyph(200));
	assert_null(font_glyph(-3));
	assert_int_equal(font_text_width("", 2), 0);
	assert_int_equal(font_text_width("abc", 2), (3 * FONT_ADVANCE - 1) * 2);
	/* glyph bits stay within the 5 columns */
	for (int c = 0; c < 128; c++) {
		const uint8_t *g = font_glyph(c);

		for (int r = 0; g && r < FONT_H; r++)
			assert_int_equal(g[r] & ~0x1f, 0);
	}
}

static void test_mistakes_keep_most_confident(void **state)
{
	const float conf[] = { 0.5f, 0.9f, 0.7f, 0.95f, 0.1f, 0.9f };
	struct mistakes m;
	uint8_t px[2];

	(void)state;
	assert_int_equal(mistakes_init(&m, 3, 1, 1, 2), 0);
	for (int i = 0; i < 6; i++) {
		px[0] = (uint8_t)i;
		px[1] = (uint8_t)(100 + i);
		mistakes_offer(&m, i, i % 3, (i + 1) % 3, conf[i], px);
	}
	assert_int_equal(m.n, 3);
	/* most confident first; of two equal ones, the one seen first */
	assert_int_equal(m.items[0].index, 3);
	assert_int_equal(m.items[1].index, 1);
	assert_int_equal(m.items[2].index, 5);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(m.items[i].pixels[0], m.items[i].index);
		assert_int_equal(m.items[i].pixels[1], 100 + m.items[i].index);
		assert_int_equal(m.items[i].truth, m.items[i].index % 3);
	}
	mistakes_free(&m);

	assert_int_equal(mistakes_init(&m, 0, 1, 1, 1), 0);
	mistakes_offer(&m, 0, 0, 1, 0.9f, px);
	assert_int_equal(m.n, 0);
	mistakes_free(&m);
}

static void test_mistakes_file(void **state)
{
	char *dir = test_tmpdir(), path[4096];
	struct cnn_error err = { 0 };
	struct mistakes m, back;
	uint8_t px[3 * 2 * 4];
	FILE *f;

	(void)state;
	assert_non_null(dir);
	assert_int_equal(mistakes_init(&m, 4, 3, 2, 4), 0);
	for (int i = 0; i < 3; i++) {
		for (size_t j = 0; j < sizeof px; j++)
			px[j] = (uint8_t)(i * 31 + (int)j);
		mistakes_offer(&m, 1000 + i, i, 9 - i, 0.5f + 0.125f * (float)i, px);
	}
	snprintf(path, sizeof path, "%s/mistakes.bin", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(mistakes_write(f, &m), 0);
	fclose(f);
	assert_int_equal(mistakes_read(path, &back, &err), 0);
	assert_int_equal(back.n, 3);
	assert_int_equal(back.c, 3);
	assert_int_equal(back.h, 2);
	assert_int_equal(back.w, 4);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(back.items[i].index, m.items[i].index);
		assert_int_equal(back.items[i].truth, m.items[i].truth);
		assert_int_equal(back.items[i].pred, m.items[i].pred);
		assert_true(back.items[i].confidence == m.items[i].confidence);
		assert_memory_equal(back.items[i].pixels, m.items[i].pixels, sizeof px);
	}
	mistakes_free(&back);

	/* truncated: an error naming the file, nothing leaked */
	assert_int_equal(truncate(path, 8 + 16 + 16 + 10), 0);
	assert_int_equal(mistakes_read(path, &back, &err), -1);
	assert_non_null(strstr(err.msg, "truncated"));
	assert_non_null(strstr(err.msg, path));
	/* not ours */
	f = fopen(path, "wb");
	fputs("PK\x03\x04 something else entirely", f);
	fclose(f);
	assert_int_equal(mistakes_read(path, &back, &err), -1);
	assert_non_null(strstr(err.msg, "not a cnnrun mistakes file"));
	mistakes_free(&m);
	test_rmdir(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nice_ticks),
		cmocka_unit_test(test_log_ticks),
		cmocka_unit_test(test_wants_log),
		cmocka_unit_test(test_palette),
		cmocka_unit_test(test_font),
		cmocka_unit_test(test_mistakes_keep_most_confident),
		cmocka_unit_test(test_mistakes_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
