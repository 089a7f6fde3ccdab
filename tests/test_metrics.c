/* Confusion-matrix metrics against a hand-computed example.
 *
 * Four classes, rows true, columns predicted (N = 16):
 *
 *	        p0  p1  p2  p3 | support
 *	   t0    5   1   0   0 |  6
 *	   t1    2   3   0   1 |  6
 *	   t2    1   2   0   1 |  4    class 2 is never predicted
 *	   t3    0   0   0   0 |  0    class 3 never occurs (but is predicted twice)
 *	   ----------------------
 *	 pred    8   6   0   2
 *
 * accuracy = trace / N = (5 + 3 + 0 + 0) / 16 = 0.5
 *
 *	class  TP FN FP TN  OvA acc        precision     recall      F1 = 2TP/(2TP+FP+FN)
 *	  0     5  1  3  7  12/16 = 0.75   5/8 = 0.625   5/6         10/14 = 5/7
 *	  1     3  3  3  7  10/16 = 0.625  3/6 = 0.5     3/6 = 0.5   6/12 = 0.5
 *	  2     0  4  0 12  12/16 = 0.75   0/0 -> 0      0/4 = 0     0/4 = 0
 *	  3     0  0  2 14  14/16 = 0.875  0/2 = 0       0/0 -> 0    0/2 = 0
 *
 * macro (plain mean over the 4 classes):
 *	accuracy  (0.75 + 0.625 + 0.75 + 0.875) / 4 = 0.75
 *	precision (0.625 + 0.5 + 0 + 0) / 4         = 0.28125
 *	recall    (5/6 + 0.5 + 0 + 0) / 4           = 1/3
 *	F1        (5/7 + 0.5 + 0 + 0) / 4           = 17/56
 * weighted (by support 6, 6, 4, 0; sum 16):
 *	accuracy  (6*0.75 + 6*0.625 + 4*0.75) / 16  = 11.25/16 = 0.703125
 *	precision (6*0.625 + 6*0.5) / 16            = 6.75/16  = 0.421875
 *	recall    (6*5/6 + 6*0.5) / 16              = 8/16     = 0.5 (= accuracy, as always)
 *	F1        (6*5/7 + 6*0.5) / 16              = (51/7)/16 = 51/112
 * The values agree with scikit-learn's classification_report(labels=[0, 1, 2, 3],
 * zero_division=0) for the same predictions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "metrics/metrics.h"

#define EPS 1e-12

static const int64_t example[4][4] = {
	{ 5, 1, 0, 0 },
	{ 2, 3, 0, 1 },
	{ 1, 2, 0, 1 },
	{ 0, 0, 0, 0 },
};

/* Fills c through confusion_add, one sample at a time, as the evaluator does. */
static void fill_example(struct confusion *c)
{
	assert_int_equal(confusion_init(c, 4), 0);
	for (int t = 0; t < 4; t++)
		for (int p = 0; p < 4; p++)
			for (int64_t n = 0; n < example[t][p]; n++)
				confusion_add(c, t, p);
}

static void check_metrics(const struct class_metrics *m, double acc, double p, double r,
                          double f1, int64_t support)
{
	assert_float_equal(m->accuracy, acc, EPS);
	assert_float_equal(m->precision, p, EPS);
	assert_float_equal(m->recall, r, EPS);
	assert_float_equal(m->f1, f1, EPS);
	assert_int_equal(m->support, support);
}

static void test_counts(void **state)
{
	struct confusion c;
	(void)state;

	fill_example(&c);
	assert_int_equal(c.k, 4);
	for (int t = 0; t < 4; t++)
		for (int p = 0; p < 4; p++)
			assert_int_equal(c.m[t * 4 + p], example[t][p]);
	assert_int_equal(confusion_total(&c), 16);
	assert_float_equal(confusion_accuracy(&c), 0.5, EPS);
	confusion_free(&c);
	assert_null(c.m);
}

static void test_per_class(void **state)
{
	struct confusion c;
	struct class_metrics m;
	(void)state;

	fill_example(&c);
	confusion_class(&c, 0, &m);
	check_metrics(&m, 0.75, 0.625, 5.0 / 6, 5.0 / 7, 6);
	confusion_class(&c, 1, &m);
	check_metrics(&m, 0.625, 0.5, 0.5, 0.5, 6);
	/* never predicted: precision 0/0 is 0, not NaN */
	confusion_class(&c, 2, &m);
	check_metrics(&m, 0.75, 0, 0, 0, 4);
	/* never present: recall 0/0 is 0; OvA accuracy still high (TN-dominated) */
	confusion_class(&c, 3, &m);
	check_metrics(&m, 0.875, 0, 0, 0, 0);
	confusion_free(&c);
}

static void test_averages(void **state)
{
	struct confusion c;
	struct class_metrics m;
	(void)state;

	fill_example(&c);
	confusion_macro(&c, &m);
	check_metrics(&m, 0.75, 0.28125, 1.0 / 3, 17.0 / 56, 16);
	confusion_weighted(&c, &m);
	check_metrics(&m, 0.703125, 0.421875, 0.5, 51.0 / 112, 16);
	/* weighted recall is overall accuracy, whatever the matrix */
	assert_float_equal(m.recall, confusion_accuracy(&c), EPS);
	confusion_free(&c);
}

static void test_clear_and_empty(void **state)
{
	struct confusion c;
	struct class_metrics m;
	(void)state;

	fill_example(&c);
	confusion_clear(&c);
	assert_int_equal(confusion_total(&c), 0);
	/* nothing seen: every ratio has a zero denominator, so all are 0 */
	assert_float_equal(confusion_accuracy(&c), 0, 0);
	confusion_class(&c, 1, &m);
	check_metrics(&m, 0, 0, 0, 0, 0);
	confusion_macro(&c, &m);
	check_metrics(&m, 0, 0, 0, 0, 0);
	confusion_weighted(&c, &m);
	check_metrics(&m, 0, 0, 0, 0, 0);
	confusion_free(&c);
}

static void test_perfect(void **state)
{
	struct confusion c;
	struct class_metrics m;
	(void)state;

	assert_int_equal(confusion_init(&c, 3), 0);
	for (int i = 0; i < 30; i++)
		confusion_add(&c, i % 3, i % 3);
	assert_float_equal(confusion_accuracy(&c), 1, EPS);
	for (int i = 0; i < 3; i++) {
		confusion_class(&c, i, &m);
		check_metrics(&m, 1, 1, 1, 1, 10);
	}
	confusion_weighted(&c, &m);
	check_metrics(&m, 1, 1, 1, 1, 30);
	confusion_free(&c);
}

static void test_single_class(void **state)
{
	struct confusion c;
	struct class_metrics m;
	(void)state;

	assert_int_equal(confusion_init(&c, 1), 0);
	confusion_add(&c, 0, 0);
	confusion_add(&c, 0, 0);
	confusion_class(&c, 0, &m);
	check_metrics(&m, 1, 1, 1, 1, 2);
	confusion_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_per_class),
		cmocka_unit_test(test_averages),
		cmocka_unit_test(test_clear_and_empty),
		cmocka_unit_test(test_perfect),
		cmocka_unit_test(test_single_class),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
