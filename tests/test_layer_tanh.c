/* tanh: shape, no keys, forward against double precision including
 * saturation, backward from y, and a gradient check. */
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
	return gradcheck_layer_or_fail(tanh_create, "tanh", yaml, in);
}

static void test_tanh_shape(void **state)
{
	struct layer *l = make("{}", (struct shape){ 3, 4, 5 });

	(void)state;
	assert_string_equal(l->ops->type, "tanh");
	assert_int_equal(l->out.c, 3);
	assert_int_equal(l->out.h, 4);
	assert_int_equal(l->out.w, 5);
	assert_null(l->ops->params);
	assert_null(l->ops->scratch_floats);
	l->ops->destroy(l);

	struct cnn_error err;
	assert_int_equal(tanh_create(NULL, (struct shape){ 10, 1, 1 }, &l, &err), 0);
	assert_int_equal(l->out.c, 10);
	l->ops->destroy(l);
}

static void test_tanh_rejects_keys(void **state)
{
	struct cnn_error err;
	struct layer *l;
	char buf[600];

	(void)state;
	assert_int_equal(gradcheck_make_layer(tanh_create, "tanh", "{scale: 2}",
	                                      (struct shape){ 1, 1, 1 }, &l, &err), -1);
	assert_null(l);
	assert_non_null(strstr(cnn_error_str(&err, buf, sizeof(buf)),
	                       "test.yaml:1:2: tanh: unknown key 'scale'"));
}

static void test_tanh_forward_backward(void **state)
{
	enum { N = 9 };
	struct layer *l = make("{}", (struct shape){ N, 1, 1 });
	struct layer_ctx ctx = { 0 };
	const float x[N] = { -1000, -20, -1, -1e-6f, 0, 0.5f, 3, 20, 1000 };
	float dy[N], y[N], dx[N];

	(void)state;
	for (int i = 0; i < N; i++)
		dy[i] = (float)(i + 1);
	l->ops->forward(l, NULL, x, y, 1, &ctx);
	for (int i = 0; i < N; i++) {
		assert_true(isfinite(y[i]));
		assert_float_equal(y[i], tanh((double)x[i]), 1e-6);
	}
	assert_true(y[0] == -1 && y[N - 1] == 1);   /* saturated, not NaN */
	assert_true(y[4] == 0);
	for (int i = 0; i < N; i++)
		dx[i] = 55;
	l->ops->backward(l, NULL, x, y, dy, dx, NULL, 1, &ctx);
	for (int i = 0; i < N; i++)
		assert_float_equal(dx[i], dy[i] * (1 - (double)y[i] * y[i]), 1e-5);
	assert_true(dx[0] == 0 && dx[N - 1] == 0);
	assert_true(dx[4] == dy[4]);                 /* slope 1 at 0 */
	l->ops->backward(l, NULL, x, y, dy, NULL, NULL, 1, &ctx);  /* first layer: no-op */
	l->ops->destroy(l);
}

static void test_tanh_gradcheck(void **state)
{
	struct shape in = { 2, 3, 4 };
	struct layer *l = make("{}", in);
	struct gradcheck_opts o = { .seed = 6 };
	struct gradcheck_result res;
	uint64_t rng = 12;
	int n = 3;
	size_t nin = n * shape_size(in);
	float *x = malloc(nin * sizeof(*x));

	(void)state;
	assert_non_null(x);
	for (size_t i = 0; i < nin; i++)
		x[i] = test_uniform(&rng, -3, 3);
	assert_int_equal(gradcheck_layer(l, n, x, NULL, &o, &res), 0);
	assert_int_equal(res.checked, (int)nin);
	free(x);
	l->ops->destroy(l);
}

/* A sweep against double precision: every 1/1024 over [-40, 40], and tiny
 * magnitudes 2^-126..2^-1 of both signs. The relative error stays within a
 * few float ulp (float's is 6e-8), near 0 too, where tanh must not cancel;
 * a NaN input gives NaN. */
static void test_tanh_accuracy(void **state)
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
		double want = tanh((double)x[i]);
		if (fabs(want) < 1e-37)
			continue;   /* below float's normal range */
		double rel = fabs(y[i] - want) / fabs(want);
		if (rel > worst)
			worst = rel;
		if (rel > 3e-7)
			fail_msg("tanh(%a) = %a, want %.9g (relative error %.2g)", (double)x[i],
			         (double)y[i], want, rel);
	}
	assert_true(isnan(y[count - 1]));
	printf("tanh: worst relative error %.2g\n", worst);
	free(x);
	free(y);
	l->ops->destroy(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tanh_shape),
		cmocka_unit_test(test_tanh_rejects_keys),
		cmocka_unit_test(test_tanh_forward_backward),
		cmocka_unit_test(test_tanh_accuracy),
		cmocka_unit_test(test_tanh_gradcheck),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
