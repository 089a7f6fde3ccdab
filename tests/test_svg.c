/* The SVG writer and the charts drawn with it: every document must be
 * well-formed XML (support/xml_check.c, which shares no code with the
 * writer), hostile text must be escaped, and gaps must stay gaps. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plot/charts.h"
#include "plot/svg.h"
#include "xml_check.h"

/* Runs draw on a memory stream and returns what it wrote (caller frees). */
struct capture {
	char *text;
	size_t len;
	FILE *f;
};

static FILE *capture_begin(struct capture *c)
{
	c->text = NULL;
	c->len = 0;
	c->f = open_memstream(&c->text, &c->len);
	assert_non_null(c->f);
	return c->f;
}

static char *capture_end(struct capture *c)
{
	assert_int_equal(fclose(c->f), 0);
	return c->text;
}

static void assert_well_formed(const char *text)
{
	char msg[160];

	if (xml_check(text, msg, sizeof msg))
		fail_msg("not well-formed XML: %s\n%s", msg, text);
}

static void assert_contains(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("missing: %s\n--- in:\n%.4000s", needle, text);
}

/* The checker itself must reject what a browser rejects. */
static void test_xml_checker(void **state)
{
	char msg[160];

	(void)state;
	assert_int_equal(xml_check("<?xml version=\"1.0\"?>\n<a x=\"1\"><b/>t &amp; &#60;</a>\n",
	                           msg, sizeof msg), 0);
	assert_int_equal(xml_check("<a><b></a></b>", msg, sizeof msg), -1);
	assert_int_equal(xml_check("<a>x & y</a>", msg, sizeof msg), -1);
	assert_int_equal(xml_check("<a>x < y</a>", msg, sizeof msg), -1);
	assert_int_equal(xml_check("<a x=1/>", msg, sizeof msg), -1);
	assert_int_equal(xml_check("<a x=\"1\" x=\"2\"/>", msg, sizeof msg), -1);
	assert_int_equal(xml_check("<a x=\"<\"/>", msg, sizeof msg), -1);
	assert_int_equal(xml_check("<a/><b/>", msg, sizeof msg), -1);
	assert_int_equal(xml_check("<a>", msg, sizeof msg), -1);
	assert_int_equal(xml_check("<a>&nbsp;</a>", msg, sizeof msg), -1);
	assert_int_equal(xml_check("<a>\x01</a>", msg, sizeof msg), -1);
	assert_int_equal(xml_check("<a x=\"1\"y=\"2\"/>", msg, sizeof msg), -1);
}

static void test_escaping(void **state)
{
	struct capture c;
	struct svg s;
	char *text;

	(void)state;
	svg_begin(&s, capture_begin(&c), 200, 100);
	svg_text(&s, 10, 20, 12, SVG_START, "black", 0, false, "a<b & \"c\" 'd' > e\x01");
	svg_text(&s, 10, 40, 12, SVG_MIDDLE, NULL, -90, true, "</svg><script>");
	svg_end(&s);
	text = capture_end(&c);
	assert_well_formed(text);
	assert_contains(text, ">a&lt;b &amp; &quot;c&quot; &apos;d&apos; &gt; e?</text>");
	assert_contains(text, "&lt;/svg&gt;&lt;script&gt;");
	assert_contains(text, "transform=\"rotate(-90.0 10.00 40.00)\"");
	assert_contains(text, "font-weight=\"bold\"");
	assert_int_equal(xml_count_elements(text, "text"), 2);
	free(text);
}

/* A NaN splits a line into pieces; a lone point becomes a dot. */
static void test_polyline_gaps(void **state)
{
	const double x[] = { 0, 1, 2, 3, 4, 5, 6 };
	const double y[] = { 1, 2, NAN, 4, NAN, 6, 7 };
	const struct svg_stroke st = { "#123456", 2, 0.5, true };
	struct capture c;
	struct svg s;
	char *text;

	(void)state;
	svg_begin(&s, capture_begin(&c), 100, 100);
	svg_polyline(&s, x, y, 7, &st);
	svg_end(&s);
	text = capture_end(&c);
	assert_well_formed(text);
	assert_int_equal(xml_count_elements(text, "polyline"), 2);
	assert_int_equal(xml_count_elements(text, "circle"), 1);
	assert_contains(text, "points=\"0.00,1.00 1.00,2.00\"");
	assert_contains(text, "points=\"5.00,6.00 6.00,7.00\"");
	assert_contains(text, "stroke-opacity=\"0.50\"");
	assert_contains(text, "stroke-dasharray=");
	assert_null(strstr(text, "nan"));
	free(text);
}

static char *line_chart(const struct line_chart *lc, bool *log)
{
	struct capture c;

	*log = chart_line_svg(capture_begin(&c), lc);
	return capture_end(&c);
}

static void test_line_chart(void **state)
{
	double x[50], loss[50], val[50];
	struct chart_series s[2] = {
		{ .label = "train <loss>", .x = x, .y = loss, .n = 50, .color = "#1f5fbf", .width = 2 },
		{ .label = "val & co", .x = x, .y = val, .n = 50, .color = "#e8710a", .width = 2,
		  .markers = true },
	};
	bool log;
	char *text;

	(void)state;
	for (int i = 0; i < 50; i++) {
		x[i] = i + 1;
		loss[i] = 2.3 * exp(-0.1 * i);   /* 2.3 down to 0.017: two decades */
		val[i] = i % 7 == 3 ? NAN : 2.0 * exp(-0.09 * i);
	}
	text = line_chart(&(struct line_chart){ .title = "mnist: loss \"quoted\"",
	                                        .x_label = "epoch", .y_label = "loss",
	                                        .x_integer = true, .x_min = 0,
	                                        .series = s, .n_series = 2 }, &log);
	assert_well_formed(text);
	assert_true(log);
	assert_contains(text, "mnist: loss &quot;quoted&quot;");
	assert_contains(text, ">train &lt;loss&gt;</text>");
	assert_contains(text, ">val &amp; co</text>");
	assert_contains(text, ">loss (log scale)</text>");
	assert_contains(text, ">epoch</text>");
	/* log ticks with 1-2-5 steps, and the clip that keeps lines in the frame */
	assert_contains(text, ">0.05</text>");
	assert_contains(text, ">1</text>");
	assert_contains(text, "clip-path=\"url(#clip0)\"");
	assert_null(strstr(text, "nan"));
	assert_null(strstr(text, "inf"));
	free(text);

	/* forced linear; one decade or less stays linear in AUTO too */
	for (int i = 0; i < 50; i++)
		loss[i] = 0.9 + 0.001 * i;
	text = line_chart(&(struct line_chart){ .title = "acc", .series = s, .n_series = 1,
	                                        .x_min = NAN }, &log);
	assert_well_formed(text);
	assert_false(log);
	free(text);
}

/* Empty and degenerate input still gives a valid picture. */
static void test_line_chart_degenerate(void **state)
{
	const double one_x[] = { 1 }, one_y[] = { 0.5 }, nan_y[] = { NAN };
	struct chart_series s[2] = {
		{ .label = "one", .x = one_x, .y = one_y, .n = 1, .color = "red", .width = 2,
		  .markers = true },
		{ .label = "none", .x = one_x, .y = nan_y, .n = 1, .color = "blue", .width = 2 },
	};
	bool log;
	char *text;

	(void)state;
	text = line_chart(&(struct line_chart){ .series = s, .n_series = 2, .x_min = NAN }, &log);
	assert_well_formed(text);
	assert_null(strstr(text, "nan"));
	free(text);
	text = line_chart(&(struct line_chart){ .series = s, .n_series = 0, .x_min = NAN }, &log);
	assert_well_formed(text);
	free(text);
}

static void test_heat_map(void **state)
{
	const int64_t v[9] = { 50, 2, 0, 1, 40, 9, 0, 0, 0 };
	const char *const names[] = { "cat", "dog & <wolf>", "a \"b\"" };
	struct capture c;
	char *text;

	(void)state;
	chart_heat_map_svg(capture_begin(&c), &(struct heat_map){
		.title = "confusion", .x_label = "predicted", .y_label = "true", .k = 3, .v = v,
		.names = names, .note = "note <1>" });
	text = capture_end(&c);
	assert_well_formed(text);
	assert_contains(text, "dog &amp; &lt;wolf&gt;");
	assert_contains(text, "a &quot;b&quot;");
	assert_contains(text, ">50</text>");
	assert_contains(text, ">9</text>");
	/* 9 cells + the background + the frame */
	assert_int_equal(xml_count_elements(text, "rect"), 11);
	/* the largest mistake share (row 1: 9 of 50) is the darkest red */
	assert_contains(text, "fill=\"#c62828\"");
	free(text);

	/* a class-less matrix (an empty row) and a big one without names */
	{
		int64_t big[40 * 40] = { 0 };

		for (int i = 0; i < 40; i++)
			big[i * 40 + i] = i;
		chart_heat_map_svg(capture_begin(&c), &(struct heat_map){ .k = 40, .v = big });
		text = capture_end(&c);
		assert_well_formed(text);
		assert_contains(text, ">39</text>");
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml_checker),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_polyline_gaps),
		cmocka_unit_test(test_line_chart),
		cmocka_unit_test(test_line_chart_degenerate),
		cmocka_unit_test(test_heat_map),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
