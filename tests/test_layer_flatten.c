/* flatten: shape, describe(), the copy both ways, and a gradient check. */
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
	return gradcheck_layer_or_fail(flatten_create, "flatten", yaml, in);
}

static void test_flatten_shape(void **state)
{
	struct layer *l = make("{}", (struct shape){ 4, 5, 5 });
	char buf[64];

	(void)state;
	assert_string_equal(l->ops->type, "flatten");
	assert_int_equal(l->out.c, 100);
	assert_int_equal(l->out.h, 1);
	assert_int_equal(l->out.w, 1);
	l->ops->describe(l, buf, sizeof(buf));
	assert_string_equal(buf, "4x5x5->100");
	assert_null(l->ops->params);
	l->ops->destroy(l);

	l = make("{}", (struct shape){ 7, 1, 1 });
	assert_int_equal(l->out.c, 7);
	l->ops->destroy(l);
}

static void test_flatten_rejects_keys(void **state)
{
	struct cnn_error err;
	struct layer *l;
	char buf[600];

	(void)state;
	assert_int_equal(gradcheck_make_layer(flatten_create, "flatten", "{start_dim: 1}",
	                                      (struct shape){ 1, 2, 2 }, &l, &err), -1);
	assert_non_null(strstr(cnn_error_str(&err, buf, sizeof(buf)), "flatten: unknown key 'start_dim'"));
}

static void test_flatten_copies(void **state)
{
	struct layer *l = make("{}", (struct shape){ 2, 2, 3 });
	struct layer_ctx ctx = { 0 };
	float x[24], y[24], dy[24], dx[24];

	(void)state;
	for (int i = 0; i < 24; i++) {
		x[i] = (float)i;
		dy[i] = (float)(100 - i);
	}
	l->ops->forward(l, NULL, x, y, 2, &ctx);
	l->ops->backward(l, NULL, x, y, dy, dx, NULL, 2, &ctx);
	for (int i = 0; i < 24; i++) {
		assert_true(y[i] == x[i]);
		assert_true(dx[i] == dy[i]);
	}
	l->ops->destroy(l);
}

static void test_flatten_gradcheck(void **state)
{
	struct layer *l = make("{}", (struct shape){ 3, 2, 4 });
	struct gradcheck_opts o = { .seed = 12 };
	struct gradcheck_result res;

	(void)state;
	assert_int_equal(gradcheck_layer(l, 2, NULL, NULL, &o, &res), 0);
	assert_int_equal(res.checked, 48);
	l->ops->destroy(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flatten_shape),
		cmocka_unit_test(test_flatten_rejects_keys),
		cmocka_unit_test(test_flatten_copies),
		cmocka_unit_test(test_flatten_gradcheck),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
