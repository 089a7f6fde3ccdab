/* predict's result lines, which it builds without printf: every probability
 * as printf's "%.4f" prints it (a sample of all floats in [0, 1], the exact
 * ties, the ends, and the values no softmax gives), and whole lines, with
 * class numbers, with names and with a name too long for the line buffer,
 * byte for byte what fprintf makes of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/predict.h"

static void expect_prob(float p)
{
	char got[PREDICT_PROB_MAX], want[PREDICT_PROB_MAX];
	int n = predict_prob(got, p);
	snprintf(want, sizeof want, "%.4f", (double)p);
	if (strcmp(got, want))
		fail_msg("%a: got %s, printf prints %s", (double)p, got, want);
	assert_int_equal(n, (int)strlen(want));
}

static void test_prob_sample(void **state)
{
	(void)state;
	/* every 997th float from 0 to 1 (by bit pattern: all exponents) */
	for (uint32_t u = 0; u <= 0x3f800000u; u += 997) {
		float p;
		memcpy(&p, &u, sizeof p);
		expect_prob(p);
	}
	expect_prob(1.0f);
	expect_prob(0.0f);
	expect_prob(1e-45f);
}

/* p * 10000 exactly half-way between integers: m / 32 for odd m (10000
 * has 2^4: 625 m / 2), rounded to even as printf does; and neighbours. */
static void test_prob_ties(void **state)
{
	(void)state;
	for (int m = 1; m < 32; m += 2) {
		float p = (float)m / 32;
		expect_prob(p);
		expect_prob(nextafterf(p, 0));
		expect_prob(nextafterf(p, 1));
	}
	expect_prob(0.00005f);
	expect_prob(0.99995f);
	expect_prob(0.5f);
}

/* What no softmax gives goes through printf: signs, NaN, above 1. */
static void test_prob_other(void **state)
{
	(void)state;
	expect_prob(-0.0f);
	expect_prob(-0.25f);
	expect_prob(1.5f);
	expect_prob(12345.678f);
	expect_prob(INFINITY);
	char got[PREDICT_PROB_MAX];
	predict_prob(got, NAN);
	char want[PREDICT_PROB_MAX];
	snprintf(want, sizeof want, "%.4f", (double)NAN);
	assert_string_equal(got, want);
}

/* The line predict printed with fprintf before it built lines itself. */
static char *reference_line(const char *path, const float *probs, const int *top, int k,
                            char *const *names, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	assert_non_null(f);
	fprintf(f, "%s:", path);
	for (int i = 0; i < k; i++) {
		if (names)
			fprintf(f, "%s %s (%.4f)", i ? "," : "", names[top[i]], (double)probs[top[i]]);
		else
			fprintf(f, "%s %d (%.4f)", i ? "," : "", top[i], (double)probs[top[i]]);
	}
	fputc('\n', f);
	assert_int_equal(fclose(f), 0);
	return text;
}

static void expect_line(const char *path, const float *probs, const int *top, int k,
                        char *const *names)
{
	size_t want_len, got_len;
	char *want = reference_line(path, probs, top, k, names, &want_len), *got = NULL;
	FILE *f = open_memstream(&got, &got_len);
	assert_non_null(f);
	predict_print_text(f, path, probs, top, k, names);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(got, want);
	assert_int_equal(got_len, want_len);
	free(got);
	free(want);
}

static void test_lines(void **state)
{
	(void)state;
	const float probs[] = { 0.0001f, 0.6f, 0.03125f, 0.99994999f, 0.2999f, 1.0f, 0.0f, 1e-7f,
	                        0.5f, 0.09375f, 0.7f, 0.123456f };
	const int top[] = { 5, 3, 1 }, top12[] = { 11, 10, 9 };
	char *names[12] = { "zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
	                    "nine", "ten", "eleven" };
	expect_line("/tmp/digits/0/0003.png", probs, top, 3, NULL);
	expect_line("a.png", probs, top12, 3, NULL);
	expect_line("a.png", probs, top, 2, NULL);
	expect_line("a.png", probs, top, 1, NULL);
	expect_line("", probs, top, 0, NULL);
	expect_line("x/y.jpg", probs, top, 3, names);
	/* a line longer than the buffer: a name of 2,000 characters */
	char *long_name = malloc(2001);
	assert_non_null(long_name);
	memset(long_name, 'n', 2000);
	long_name[2000] = '\0';
	names[3] = long_name;
	expect_line("x/y.jpg", probs, top, 3, names);
	/* so is a long path */
	expect_line(long_name, probs, top, 3, NULL);
	free(long_name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prob_sample),
		cmocka_unit_test(test_prob_ties),
		cmocka_unit_test(test_prob_other),
		cmocka_unit_test(test_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
