/* global_avgpool: shape, describe(), no keys, forward and backward by hand,
 * and a gradient check. */
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
	return gradcheck_layer_or_fail(global_avgpool_create, "global_avgpool", yaml, in);
}

static void test_global_avgpool_shape(void **state)
{
	struct layer *l = make("{}", (struct shape){ 3, 4, 5 });
	char buf[64];

	(void)state;
	assert_string_equal(l->ops->type, "global_avgpool");
	assert_int_equal(l->out.c, 3);
	assert_int_equal(l->out.h, 1);
	assert_int_equal(l->out.w, 1);
	assert_null(l->ops->params);
	assert_null(l->ops->scratch_floats);
	l->ops->describe(l, buf, sizeof(buf));
	assert_string_equal(buf, "mean of 4x5");
	l->ops->destroy(l);

	/* No keys: it can be made with no mapping at all; a flat input passes. */
	struct cnn_error err;
	assert_int_equal(global_avgpool_create(NULL, (struct shape){ 10, 1, 1 }, &l, &err), 0);
	assert_int_equal(l->out.c, 10);
	assert_int_equal(l->out.h, 1);
	assert_int_equal(l->out.w, 1);
	l->ops->destroy(l);
}

static void test_global_avgpool_rejects_keys(void **state)
{
	struct cnn_error err;
	struct layer *l;
	char buf[600];

	(void)state;
	assert_int_equal(gradcheck_make_layer(global_avgpool_create, "global_avgpool",
	                                      "{keepdims: true}", (struct shape){ 1, 2, 2 },
	                                      &l, &err), -1);
	assert_null(l);
	assert_non_null(strstr(cnn_error_str(&err, buf, sizeof(buf)),
	                       "test.yaml:1:2: global_avgpool: unknown key 'keepdims'"));
}

static void test_global_avgpool_forward_backward(void **state)
{
	/* two samples of two 2x3 channels */
	struct layer *l = make("{}", (struct shape){ 2, 2, 3 });
	struct layer_ctx ctx = { 0 };
	const float x[24] = {
		1, 2, 3, 4, 5, 6,        -6, -6, -6, -6, -6, -6,
		0, 0, 0, 0, 0, 12,       0.5f, 0.5f, 1.5f, 1.5f, 2.5f, 2.5f,
	};
	const float dy[4] = { 6, -12, 3, 0 };
	float y[4], dx[24];

	(void)state;
	l->ops->forward(l, NULL, x, y, 2, &ctx);
	const float want_y[4] = { 3.5f, -6, 2, 1.5f };
	for (int i = 0; i < 4; i++)
		assert_float_equal(y[i], want_y[i], 1e-6);
	for (int i = 0; i < 24; i++)
		dx[i] = 99;
	l->ops->backward(l, NULL, x, y, dy, dx, NULL, 2, &ctx);
	for (int i = 0; i < 24; i++)
		assert_float_equal(dx[i], dy[i / 6] / 6, 1e-6);
	l->ops->backward(l, NULL, x, y, dy, NULL, NULL, 2, &ctx);  /* first layer: no-op */
	l->ops->destroy(l);
}

static void test_global_avgpool_gradcheck(void **state)
{
	const struct shape shapes[] = { { 2, 3, 4 }, { 3, 7, 7 }, { 4, 1, 1 }, { 1, 12, 5 } };

	(void)state;
	for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
		struct layer *l = make("{}", shapes[k]);
		struct gradcheck_opts o = { .seed = 10 + k };
		struct gradcheck_result res;
		int n = 3;

		assert_int_equal(gradcheck_layer(l, n, NULL, NULL, &o, &res), 0);
		assert_int_equal(res.checked, (int)(n * shape_size(shapes[k])));
		assert_true(res.max_err < 1e-3);
		l->ops->destroy(l);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_global_avgpool_shape),
		cmocka_unit_test(test_global_avgpool_rejects_keys),
		cmocka_unit_test(test_global_avgpool_forward_backward),
		cmocka_unit_test(test_global_avgpool_gradcheck),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
