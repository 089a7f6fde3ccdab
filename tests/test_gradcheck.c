/* The gradient checker itself: it passes a correct layer and catches each
 * kind of broken backward() it is meant to catch. The layer under test is a
 * made-up one, y = a * x^2 with one parameter a, broken in a chosen way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gradcheck.h"

enum sq_bug { SQ_NONE, SQ_WRONG_DX, SQ_WRONG_DW, SQ_ZEROES_DW, SQ_KEEPS_DX, SQ_USES_SCRATCH };

struct sq {
	struct layer base;
	enum sq_bug bug;
};

static void sq_forward(const struct layer *l, const float *w, const float *x, float *y,
                       int n, const struct layer_ctx *ctx)
{
	size_t count = (size_t)n * shape_size(l->in);

	(void)ctx;
	for (size_t i = 0; i < count; i++)
		y[i] = w[0] * x[i] * x[i];
}

static void sq_backward(const struct layer *l, const float *w, const float *x, const float *y,
                        const float *dy, float *dx, float *dw, int n, const struct layer_ctx *ctx)
{
	enum sq_bug bug = ((const struct sq *)l)->bug;
	size_t count = (size_t)n * shape_size(l->in);
	float da = 0.0f;

	(void)y;
	for (size_t i = 0; i < count; i++)
		da += dy[i] * x[i] * x[i];
	if (bug == SQ_WRONG_DW)
		da += 0.05f;
	if (bug == SQ_USES_SCRATCH)
		da += ctx->scratch[0];
	if (bug == SQ_ZEROES_DW)
		dw[0] = da;
	else
		dw[0] += da;
	if (!dx)
		return;
	for (size_t i = 0; i < count; i++) {
		if (bug == SQ_KEEPS_DX && i == count - 1)
			break;
		dx[i] = 2.0f * w[0] * x[i] * dy[i];
		if (bug == SQ_WRONG_DX && i == 3)
			dx[i] += 0.05f;
	}
}

static int sq_params(const struct layer *l, struct param_spec *out)
{
	(void)l;
	out[0] = (struct param_spec){ .name = "a", .n = 1, .ndim = 1, .dims = { 1 } };
	return 1;
}

static size_t sq_scratch_floats(const struct layer *l, int n)
{
	(void)l;
	(void)n;
	return 1;
}

static const struct layer_ops sq_ops = {
	.type = "sq",
	.forward = sq_forward,
	.backward = sq_backward,
	.params = sq_params,
	.scratch_floats = sq_scratch_floats,
};

static int sq_check(enum sq_bug bug, struct gradcheck_result *res)
{
	struct sq l = { .base = { .ops = &sq_ops, .in = { 2, 2, 2 }, .out = { 2, 2, 2 } }, .bug = bug };
	struct gradcheck_opts o = { .seed = 1 };

	return gradcheck_layer(&l.base, 2, NULL, NULL, &o, res);
}

static void test_gradcheck_passes_correct_layer(void **state)
{
	struct gradcheck_result res;

	(void)state;
	assert_int_equal(sq_check(SQ_NONE, &res), 0);
	assert_int_equal(res.checked, 1 + 16);
	assert_int_equal(res.skipped, 0);
	assert_true(res.max_err < 1e-3);
}

static void test_gradcheck_catches_bugs(void **state)
{
	struct gradcheck_result res;

	(void)state;
	assert_true(sq_check(SQ_WRONG_DX, &res) > 0);
	assert_true(sq_check(SQ_WRONG_DW, &res) > 0);
	assert_true(sq_check(SQ_ZEROES_DW, &res) > 0);
	assert_true(sq_check(SQ_KEEPS_DX, &res) > 0);
	assert_true(sq_check(SQ_USES_SCRATCH, &res) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gradcheck_passes_correct_layer),
		cmocka_unit_test(test_gradcheck_catches_bugs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
