/* sigmoid: shape, no keys, forward against double precision over the whole
 * float range (no overflow for large |x|, small outputs keep their relative
 * accuracy), backward from y, and a gradient check. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "layers/layers.h"
#include "gradcheck.h"
#include "testutil.h"

static struct layer *make(const char *yaml, struct shape in)
{
	return gradcheck_layer_or_fail(sigmoid_create, "sigmoid", yaml, in);
}

static void test_sigmoid_shape(void **state)
{
	struct layer *l = make("{}", (struct shape){ 3, 4, 5 });

	(void)state;
	assert_string_equal(l->ops->type, "sigmoid");
	assert_int_equal(l->out.c, 3);
	assert_int_equal(l->out.h, 4);
	assert_int_equal(l->out.w, 5);
	assert_null(l->ops->params);
	assert_null(l->ops->scratch_floats);
	l->ops->destroy(l);

	struct cnn_error err;
	assert_int_equal(sigmoid_create(NULL, (struct shape){ 10, 1, 1 }, &l, &err), 0);
	assert_int_equal(l->out.c, 10);
	l->ops->destroy(l);
}

static void test_sigmoid_rejects_keys(void **state)
{
	struct cnn_error err;
	struct layer *l;
	char buf[600];

	(void)state;
	assert_int_equal(gradcheck_make_layer(sigmoid_create, "sigmoid", "{temperature: 2}",
	                                      (struct shape){ 1, 1, 1 }, &l, &err), -1);
	assert_null(l);
	assert_non_null(strstr(cnn_error_str(&err, buf, sizeof(buf)),
	                       "test.yaml:1:2: sigmoid: unknown key 'temperature'"));
}

static double sigmoid_ref(double x)
{
	return 1.0 / (1.0 + exp(-x));
}

static void test_sigmoid_forward(void **state)
{
	enum { N = 13 };
	struct layer *l = make("{}", (struct shape){ N, 1, 1 });
	struct layer_ctx ctx = { 0 };
	const float x[N] = { -FLT_MAX, -1000, -87, -80, -20, -1, 0, 1e-7f, 2, 20, 89, 1000, FLT_MAX };
	float y[N];

	(void)state;
	l->ops->forward(l, NULL, x, y, 1, &ctx);
	for (int i = 0; i < N; i++) {
		double want = sigmoid_ref(x[i]);
		assert_true(isfinite(y[i]));
		assert_true(y[i] >= 0 && y[i] <= 1);
		/* relative error: tiny outputs (x = -80 gives 1.8e-35) stay accurate */
		if (want > 1e-37 && fabs(y[i] - want) > 1e-6 * want)
			fail_msg("sigmoid(%g) = %g, want %g", (double)x[i], (double)y[i], want);
	}
	assert_true(y[0] == 0 && y[1] == 0);
	assert_true(y[6] == 0.5f);
	assert_true(y[N - 1] == 1 && y[N - 2] == 1);
	l->ops->destroy(l);
}

static void test_sigmoid_backward(void **state)
{
	enum { N = 7 };
	struct layer *l = make("{}", (struct shape){ N, 1, 1 });
	struct layer_ctx ctx = { 0 };
	const float x[N] = { -1000, -3, -0.5f, 0, 0.5f, 3, 1000 };
	const float dy[N] = { 1, -2, 3, 4, 5, -6, 7 };
	float y[N], dx[N];

	(void)state;
	l->ops->forward(l, NULL, x, y, 1, &ctx);
	for (int i = 0; i < N; i++)
		dx[i] = 55;
	l->ops->backward(l, NULL, x, y, dy, dx, NULL, 1, &ctx);
	for (int i = 0; i < N; i++) {
		double s = sigmoid_ref(x[i]);
		assert_float_equal(dx[i], dy[i] * s * (1 - s), 1e-6);
	}
	assert_true(dx[3] == 1);                     /* 4 * 0.5 * 0.5 */
	assert_true(dx[0] == 0 && dx[N - 1] == 0);   /* saturated */
	l->ops->backward(l, NULL, x, y, dy, NULL, NULL, 1, &ctx);  /* first layer: no-op */
	l->ops->destroy(l);
}

static void test_sigmoid_gradcheck(void **state)
{
	struct shape in = { 2, 3, 4 };
	struct layer *l = make("{}", in);
	struct gradcheck_opts o = { .seed = 7 };
	struct gradcheck_result res;
	uint64_t rng = 13;
	int n = 3;
	size_t nin = n * shape_size(in);
	float *x = malloc(nin * sizeof(*x));

	(void)state;
	assert_non_null(x);
	for (size_t i = 0; i < nin; i++)
		x[i] = test_uniform(&rng, -5, 5);
	assert_int_equal(gradcheck_layer(l, n, x, NULL, &o, &res), 0);
	assert_int_equal(res.checked, (int)nin);
	free(x);
	l->ops->destroy(l);
}

/* A sweep against double precision: every 1/1024 over [-40, 40], and tiny
 * magnitudes 2^-126..2^-1 of both signs. The relative error stays within a
 * few float ulp (float's is 6e-8), near 0 too, where sigmoid must not cancel;
 * a NaN input gives NaN. */
static void test_sigmoid_accuracy(void **state)
{
	enum { SWEEP = 80 * 1024 + 1, TINY = 126 * 8 };
	size_t count = SWEEP + 2 * TINY + 1;
	struct layer *l = make("{}", (struct shape){ (int)count, 1, 1 });
	struct layer_ctx ctx = { 0 };
	float *x = malloc(count * sizeof(*x)), *y = malloc(count * sizeof(*y));
	double worst = 0;

	(void)state;
	assert_true(x && y);
	for (int i = 0; i < SWEEP; i++)
		x[i] = -40.0f + (float)i / 1024;
	for (int i = 0; i < TINY; i++) {
		x[SWEEP + 2 * i] = exp2f(-1.0f - (float)i / 8);
		x[SWEEP + 2 * i + 1] = -x[SWEEP + 2 * i];
	}
	x[count - 1] = NAN;
	l->ops->forward(l, NULL, x, y, 1, &ctx);
	for (size_t i = 0; i + 1 < count; i++) {
		double want = sigmoid_ref(x[i]);
		if (fabs(want) < 1e-37)
			continue;   /* below float's normal range */
		double rel = fabs(y[i] - want) / fabs(want);
		if (rel > worst)
			worst = rel;
		if (rel > 3e-7)
			fail_msg("sigmoid(%a) = %a, want %.9g (relative error %.2g)", (double)x[i],
			         (double)y[i], want, rel);
	}
	assert_true(isnan(y[count - 1]));
	printf("sigmoid: worst relative error %.2g\n", worst);
	free(x);
	free(y);
	l->ops->destroy(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigmoid_shape),
		cmocka_unit_test(test_sigmoid_rejects_keys),
		cmocka_unit_test(test_sigmoid_forward),
		cmocka_unit_test(test_sigmoid_backward),
		cmocka_unit_test(test_sigmoid_accuracy),
		cmocka_unit_test(test_sigmoid_gradcheck),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
