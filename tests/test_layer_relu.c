/* relu: shape, forward, the zero subgradient at the kink, and a gradient
 * check on inputs kept away from 0. */
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
	return gradcheck_layer_or_fail(relu_create, "relu", yaml, in);
}

static void test_relu_shape(void **state)
{
	struct layer *l = make("{}", (struct shape){ 3, 4, 5 });

	(void)state;
	assert_string_equal(l->ops->type, "relu");
	assert_int_equal(l->out.c, 3);
	assert_int_equal(l->out.h, 4);
	assert_int_equal(l->out.w, 5);
	assert_null(l->ops->params);
	assert_null(l->ops->scratch_floats);
	l->ops->destroy(l);

	/* A layer with no keys can also be made with no mapping at all. */
	struct cnn_error err;
	assert_int_equal(relu_create(NULL, (struct shape){ 10, 1, 1 }, &l, &err), 0);
	assert_int_equal(l->out.c, 10);
	l->ops->destroy(l);
}

static void test_relu_rejects_keys(void **state)
{
	struct cnn_error err;
	struct layer *l;
	char buf[600];

	(void)state;
	assert_int_equal(gradcheck_make_layer(relu_create, "relu", "{alpha: 0.1}",
	                                      (struct shape){ 1, 1, 1 }, &l, &err), -1);
	assert_null(l);
	assert_non_null(strstr(cnn_error_str(&err, buf, sizeof(buf)), "relu: unknown key 'alpha'"));
}

static void test_relu_forward_backward(void **state)
{
	struct layer *l = make("{}", (struct shape){ 6, 1, 1 });
	struct layer_ctx ctx = { 0 };
	const float x[6] = { -2, -0.0f, 0, 0.5f, 3, -1e-30f };
	const float dy[6] = { 1, 2, 3, 4, 5, 6 };
	float y[6], dx[6];

	(void)state;
	l->ops->forward(l, NULL, x, y, 1, &ctx);
	const float want_y[6] = { 0, 0, 0, 0.5f, 3, 0 };
	for (int i = 0; i < 6; i++)
		assert_true(y[i] == want_y[i]);
	l->ops->backward(l, NULL, x, y, dy, dx, NULL, 1, &ctx);
	const float want_dx[6] = { 0, 0, 0, 4, 5, 0 };  /* 0 at the kink */
	for (int i = 0; i < 6; i++)
		assert_true(dx[i] == want_dx[i]);
	l->ops->backward(l, NULL, x, y, dy, NULL, NULL, 1, &ctx);  /* first layer: no-op */
	l->ops->destroy(l);
}

static void test_relu_gradcheck(void **state)
{
	struct shape in = { 2, 3, 4 };
	struct layer *l = make("{}", in);
	struct gradcheck_opts o = { .seed = 4 };
	struct gradcheck_result res;
	uint64_t rng = 8;
	int n = 3;
	size_t nin = n * shape_size(in);
	float *x = malloc(nin * sizeof(*x));

	(void)state;
	assert_non_null(x);
	/* |x| >= 0.05, far more than the 1e-3 step: no difference straddles 0. */
	for (size_t i = 0; i < nin; i++) {
		float m = test_uniform(&rng, 0.05f, 1.0f);
		x[i] = test_uniform(&rng, 0, 1) < 0.5f ? -m : m;
	}
	assert_int_equal(gradcheck_layer(l, n, x, NULL, &o, &res), 0);
	assert_int_equal(res.checked, (int)nin);
	free(x);
	l->ops->destroy(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relu_shape),
		cmocka_unit_test(test_relu_rejects_keys),
		cmocka_unit_test(test_relu_forward_backward),
		cmocka_unit_test(test_relu_gradcheck),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
