/* One optimizer step against values computed by hand (Caffe's solver tests
 * do the same with least squares). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cnn/optim.h"

static void adam_two_steps(void **state)
{
	(void)state;
	struct optim o;
	struct optim_config cfg = { .type = "adam", .lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8 };
	struct cnn_error err;
	float w[2] = { 1.0f, -2.0f };
	const float g1[2] = { 0.5f, -4.0f }, g2[2] = { 0.5f, 2.0f };
	assert_int_equal(optim_create(&o, &cfg, 2, &err), 0);
	/* Step 1: m = 0.1 g, v = 0.001 g^2; bias-corrected m^ = g, v^ = g^2, so
	 * the step is lr * g / (|g| + eps) = lr * sign(g), whatever |g| is. */
	optim_step(&o, w, g1);
	assert_float_equal(w[0], 1.0f - 0.1f, 1e-6);
	assert_float_equal(w[1], -2.0f + 0.1f, 1e-6);
	/* Step 2, w[1]: m = 0.9 (-0.4) + 0.1 (2) = -0.16, m^ = -0.16 / 0.19;
	 * v = 0.999 (0.016) + 0.001 (4) = 0.019984, v^ = 0.019984 / 0.001999;
	 * step = 0.1 * (-0.842105) / 3.161818 = -0.0266336 -> w = -1.9 + 0.0266336. */
	optim_step(&o, w, g2);
	assert_float_equal(w[1], -1.9f + 0.0266336f, 1e-5);
	/* w[0]: the same gradient twice behaves as step 1: 0.9 - 0.1 */
	assert_float_equal(w[0], 0.8f, 1e-5);
	assert_int_equal(o.t, 2);
	optim_free(&o);
}

static void sgd_momentum_steps(void **state)
{
	(void)state;
	struct optim o;
	struct optim_config cfg = { .type = "sgd", .lr = 0.5, .momentum = 0.9 };
	struct cnn_error err;
	float w[1] = { 1.0f };
	const float g[1] = { 2.0f };
	assert_int_equal(optim_create(&o, &cfg, 1, &err), 0);
	optim_step(&o, w, g);  /* v = 2,   w = 1 - 0.5*2 = 0 */
	assert_float_equal(w[0], 0.0f, 1e-6);
	optim_step(&o, w, g);  /* v = 3.8, w = 0 - 0.5*3.8 = -1.9 */
	assert_float_equal(w[0], -1.9f, 1e-6);
	optim_free(&o);
}

static void plain_sgd_is_gradient_descent(void **state)
{
	(void)state;
	struct optim o;
	struct optim_config cfg = { .type = "sgd", .lr = 0.25 };
	struct cnn_error err;
	float w[3] = { 1, 2, 3 };
	const float g[3] = { 4, -4, 0 };
	assert_int_equal(optim_create(&o, &cfg, 3, &err), 0);
	optim_step(&o, w, g);
	assert_float_equal(w[0], 0.0f, 0);
	assert_float_equal(w[1], 3.0f, 0);
	assert_float_equal(w[2], 3.0f, 0);
	optim_free(&o);
}

static void unknown_type_is_refused(void **state)
{
	(void)state;
	struct optim o;
	struct optim_config cfg = { .type = "rmsprop", .lr = 0.1 };
	struct cnn_error err;
	assert_int_equal(optim_create(&o, &cfg, 3, &err), -1);
	assert_string_equal(err.msg, "unknown optimizer 'rmsprop'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(adam_two_steps),
		cmocka_unit_test(sgd_momentum_steps),
		cmocka_unit_test(plain_sgd_is_gradient_descent),
		cmocka_unit_test(unknown_type_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
