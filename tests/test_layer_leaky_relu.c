/* leaky_relu: shape, describe(), the slope key (default, range, exact
 * messages), forward and backward by hand with the kink at 0, and gradient
 * checks on inputs kept away from 0. */
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
	return gradcheck_layer_or_fail(leaky_relu_create, "leaky_relu", yaml, in);
}

static const char *make_error(const char *yaml, char *buf, size_t len)
{
	struct cnn_error err;
	struct layer *l;

	if (gradcheck_make_layer(leaky_relu_create, "leaky_relu", yaml, (struct shape){ 1, 2, 2 },
	                         &l, &err) == 0) {
		l->ops->destroy(l);
		fail_msg("%s: expected an error", yaml);
	}
	assert_null(l);
	return cnn_error_str(&err, buf, len);
}

static void check(const char *yaml, const char *desc)
{
	struct layer *l = make(yaml, (struct shape){ 3, 4, 5 });
	char buf[64];

	assert_string_equal(l->ops->type, "leaky_relu");
	assert_int_equal(l->out.c, 3);
	assert_int_equal(l->out.h, 4);
	assert_int_equal(l->out.w, 5);
	assert_null(l->ops->params);
	assert_null(l->ops->scratch_floats);
	l->ops->describe(l, buf, sizeof(buf));
	assert_string_equal(buf, desc);
	l->ops->destroy(l);
}

static void test_leaky_relu_shape(void **state)
{
	(void)state;
	check("{}", "slope 0.01");
	check("{slope: 0.2}", "slope 0.2");
	check("{slope: 0}", "slope 0");
	check("{slope: 0.99}", "slope 0.99");

	struct cnn_error err;
	struct layer *l;
	char buf[64];
	assert_int_equal(leaky_relu_create(NULL, (struct shape){ 10, 1, 1 }, &l, &err), 0);
	assert_int_equal(l->out.c, 10);
	l->ops->describe(l, buf, sizeof(buf));
	assert_string_equal(buf, "slope 0.01");
	l->ops->destroy(l);
}

static void test_leaky_relu_errors(void **state)
{
	char buf[600];

	(void)state;
	assert_string_equal(make_error("{slope: 1}", buf, sizeof(buf)),
	                    "test.yaml:1:9: leaky_relu: 'slope' must be a number in [0, 1), got 1");
	assert_string_equal(make_error("{slope: 2.5}", buf, sizeof(buf)),
	                    "test.yaml:1:9: leaky_relu: 'slope' must be a number in [0, 1), got 2.5");
	assert_string_equal(make_error("{slope: -0.1}", buf, sizeof(buf)),
	                    "test.yaml:1:9: leaky_relu: 'slope' must be a number in [0, 1), got -0.1");
	assert_non_null(strstr(make_error("{slope: steep}", buf, sizeof(buf)),
	                       "test.yaml:1:9: leaky_relu: 'slope' must be a number in [0, 1"));
	assert_non_null(strstr(make_error("{slope: \"0.1\"}", buf, sizeof(buf)),
	                       "(remove the quotes)"));
	assert_non_null(strstr(make_error("{negative_slope: 0.1}", buf, sizeof(buf)),
	                       "test.yaml:1:2: leaky_relu: unknown key 'negative_slope'"));
}

static void test_leaky_relu_forward_backward(void **state)
{
	struct layer *l = make("{slope: 0.25}", (struct shape){ 6, 1, 1 });
	struct layer_ctx ctx = { 0 };
	const float x[6] = { -2, -0.0f, 0, 0.5f, 3, -4e-30f };
	const float dy[6] = { 1, 2, 3, 4, 5, 6 };
	float y[6], dx[6];

	(void)state;
	l->ops->forward(l, NULL, x, y, 1, &ctx);
	const float want_y[6] = { -0.5f, 0, 0, 0.5f, 3, -1e-30f };
	for (int i = 0; i < 6; i++)
		assert_true(y[i] == want_y[i]);
	for (int i = 0; i < 6; i++)
		dx[i] = 77;
	l->ops->backward(l, NULL, x, y, dy, dx, NULL, 1, &ctx);
	const float want_dx[6] = { 0.25f, 0.5f, 0.75f, 4, 5, 1.5f };  /* left slope at the kink */
	for (int i = 0; i < 6; i++)
		assert_true(dx[i] == want_dx[i]);
	l->ops->backward(l, NULL, x, y, dy, NULL, NULL, 1, &ctx);  /* first layer: no-op */
	l->ops->destroy(l);
}

static void gc(const char *yaml, uint64_t seed)
{
	struct shape in = { 2, 3, 4 };
	struct layer *l = make(yaml, in);
	struct gradcheck_opts o = { .seed = seed };
	struct gradcheck_result res;
	uint64_t rng = seed * 7 + 1;
	int n = 3;
	size_t nin = n * shape_size(in);
	float *x = malloc(nin * sizeof(*x));

	assert_non_null(x);
	/* |x| >= 0.05, far more than the 1e-3 step: no difference straddles 0. */
	for (size_t i = 0; i < nin; i++) {
		float m = test_uniform(&rng, 0.05f, 1.0f);
		x[i] = test_uniform(&rng, 0, 1) < 0.5f ? -m : m;
	}
	if (gradcheck_layer(l, n, x, NULL, &o, &res))
		fail_msg("%s: %d of %d gradients wrong", yaml, res.failed, res.checked);
	assert_int_equal(res.checked, (int)nin);
	free(x);
	l->ops->destroy(l);
}

static void test_leaky_relu_gradcheck(void **state)
{
	(void)state;
	gc("{}", 1);
	gc("{slope: 0.3}", 2);
	gc("{slope: 0}", 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaky_relu_shape),
		cmocka_unit_test(test_leaky_relu_errors),
		cmocka_unit_test(test_leaky_relu_forward_backward),
		cmocka_unit_test(test_leaky_relu_gradcheck),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
