/* The JSON reader used by `cnnrun report` and `cnnrun compare`: values,
 * escapes, paths, and errors that say where (file:line:col). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "report/json_read.h"
#include "testutil.h"

static void parse_ok(const char *text, struct json_value *v)
{
	struct cnn_error err = { 0 };

	if (json_parse(text, strlen(text), "t.json", v, &err))
		fail_msg("%s: %s", text, err.msg);
}

static void parse_fails(const char *text, int line, int col, const char *what)
{
	struct cnn_error err = { 0 };
	struct json_value v;

	if (json_parse(text, strlen(text), "t.json", &v, &err) == 0)
		fail_msg("accepted: %s", text);
	assert_string_equal(err.loc.file, "t.json");
	if (line)
		assert_int_equal(err.loc.line, line);
	if (col)
		assert_int_equal(err.loc.col, col);
	if (!strstr(err.msg, what))
		fail_msg("%s: message '%s' lacks '%s'", text, err.msg, what);
	/* a failed parse leaves nothing to free */
	assert_int_equal(v.type, JSON_NULL);
	assert_null(v.items);
}

static void test_values_and_paths(void **state)
{
	struct json_value v;
	double d;

	(void)state;
	parse_ok(" {\"name\": \"mnist\", \"test\": {\"accuracy\": 0.9871, \"loss\": null,\n"
	         "  \"per_class\": [{\"class\": \"0\", \"f1\": 1E2}, {\"class\": \"1\", \"f1\": -0.5e-3}],\n"
	         "  \"ok\": true, \"bad\": false, \"empty\": [], \"none\": {}}, \"n\": 0} ", &v);
	assert_int_equal(v.type, JSON_OBJECT);
	assert_string_equal(json_get_string(&v, "name"), "mnist");
	assert_true(json_get_number(&v, "test.accuracy", &d));
	assert_float_equal(d, 0.9871, 0);
	assert_true(json_get_number(&v, "test.loss", &d));   /* null reads as NaN */
	assert_true(isnan(d));
	assert_true(json_get_number(&v, "test.per_class.0.f1", &d));
	assert_float_equal(d, 100, 0);
	assert_true(json_get_number(&v, "test.per_class.1.f1", &d));
	assert_float_equal(d, -0.5e-3, 0);
	assert_string_equal(json_get_string(&v, "test.per_class.1.class"), "1");
	assert_true(json_get(&v, "test.ok")->boolean);
	assert_false(json_get(&v, "test.bad")->boolean);
	assert_int_equal(json_get(&v, "test.empty")->n, 0);
	assert_int_equal(json_get(&v, "test.none")->type, JSON_OBJECT);
	assert_true(json_get_number(&v, "n", &d));
	assert_float_equal(d, 0, 0);
	assert_ptr_equal(json_get(&v, ""), &v);
	/* absent or of another type */
	assert_null(json_get(&v, "test.per_class.2"));
	assert_null(json_get(&v, "test.per_class.x"));
	assert_null(json_get(&v, "test.per_class.-1"));
	assert_null(json_get(&v, "name.x"));
	assert_false(json_get_number(&v, "name", &d));
	assert_null(json_get_string(&v, "n"));
	assert_null(json_item(&v, 0));
	assert_null(json_member(json_get(&v, "test.empty"), "a"));
	json_free(&v);
}

static void test_strings(void **state)
{
	struct json_value v;

	(void)state;
	parse_ok("[\"a\\\"b\\\\c\\/d\\n\\t\\b\\f\\r\", \"\\u00e9\\u4e2d\\ud83d\\ude00\", \"\", "
	         "\"nul\\u0000in\", \"raw \xc3\xa9\"]", &v);
	assert_string_equal(json_item(&v, 0)->string, "a\"b\\c/d\n\t\b\f\r");
	assert_string_equal(json_item(&v, 1)->string, "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80");
	assert_string_equal(json_item(&v, 2)->string, "");
	assert_int_equal(json_item(&v, 3)->len, 6);
	assert_memory_equal(json_item(&v, 3)->string, "nul\0in", 6);
	assert_string_equal(json_item(&v, 4)->string, "raw \xc3\xa9");
	json_free(&v);

	/* the last of duplicate keys wins */
	parse_ok("{\"a\": 1, \"a\": 2}", &v);
	assert_float_equal(json_get(&v, "a")->number, 2, 0);
	json_free(&v);
}

static void test_errors(void **state)
{
	char deep[200];

	(void)state;
	parse_fails("", 1, 1, "unexpected end of input");
	parse_fails("   ", 1, 4, "unexpected end of input");
	parse_fails("{\n  \"a\": tru\n}", 2, 8, "expected a JSON value");
	parse_fails("[1, 2,]", 1, 7, "expected a JSON value");
	parse_fails("{\"a\" 1}", 1, 6, "expected ':'");
	parse_fails("{\"a\": 1,}", 1, 9, "expected a string key");
	parse_fails("[1 2]", 1, 4, "expected ',' or ']'");
	parse_fails("{\"a\": 1 \"b\": 2}", 1, 9, "expected ',' or '}'");
	parse_fails("1 2", 1, 3, "unexpected text after");
	parse_fails("01", 1, 2, "unexpected text after");
	parse_fails("1.", 1, 3, "digit after the decimal point");
	parse_fails("1e+", 1, 4, "digit in the exponent");
	parse_fails("-", 1, 2, "invalid number");
	parse_fails("+1", 1, 1, "expected a JSON value");
	parse_fails("NaN", 1, 1, "expected a JSON value");
	parse_fails("\"abc", 1, 5, "unterminated string");
	parse_fails("\"a\nb\"", 1, 3, "control character");
	parse_fails("\"\\x\"", 1, 3, "unknown escape");
	parse_fails("\"\\u12g4\"", 1, 6, "four hex digits");
	parse_fails("\"\\udc00\"", 0, 0, "unpaired low surrogate");
	parse_fails("\"\\ud800x\"", 0, 0, "high surrogate");
	parse_fails("\"\\ud800\\u0041\"", 0, 0, "high surrogate");
	memset(deep, '[', 100);
	deep[100] = '\0';
	parse_fails(deep, 1, 65, "nested too deeply");
}

/* Text that is not NUL-terminated: the length, not a NUL, ends it. */
static void test_length_bounded(void **state)
{
	struct cnn_error err = { 0 };
	struct json_value v;
	const char text[] = "[12345]trailing";

	(void)state;
	assert_int_equal(json_parse(text, 7, "t.json", &v, &err), 0);
	assert_float_equal(json_item(&v, 0)->number, 12345, 0);
	json_free(&v);
	assert_int_equal(json_parse(text, 3, "t.json", &v, &err), -1);
	assert_non_null(strstr(err.msg, "expected ',' or ']'"));
	assert_int_equal(json_parse("12", 1, "t.json", &v, &err), 0);
	assert_float_equal(v.number, 1, 0);
	json_free(&v);
}

static void test_file(void **state)
{
	char *dir = test_tmpdir(), *path;
	struct cnn_error err = { 0 };
	struct json_value v;
	const char text[] = "{\"x\": [1, 2, 3]}\n";

	(void)state;
	assert_non_null(dir);
	path = test_write_file(dir, "m.json", text, sizeof text - 1);
	assert_int_equal(json_parse_file(path, &v, &err), 0);
	assert_int_equal(json_get(&v, "x")->n, 3);
	json_free(&v);
	free(path);
	path = test_write_file(dir, "bad.json", "{\n\n  x", 6);
	assert_int_equal(json_parse_file(path, &v, &err), -1);
	assert_int_equal(err.loc.line, 3);
	assert_string_equal(err.loc.file, path);
	free(path);
	assert_int_equal(json_parse_file("/nonexistent/m.json", &v, &err), -1);
	assert_string_equal(err.loc.file, "/nonexistent/m.json");
	assert_non_null(strstr(err.msg, "cannot open: No such file"));
	test_rmdir(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values_and_paths),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_length_bounded),
		cmocka_unit_test(test_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
