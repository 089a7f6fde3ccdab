/* maxpool: shapes, describe(), errors, forward against a loop, the argmax
 * rule for ties, and gradient checks on inputs with distinct window values. */
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
	return gradcheck_layer_or_fail(maxpool_create, "maxpool", yaml, in);
}

static const char *make_error(const char *yaml, struct shape in, char *buf, size_t len)
{
	struct cnn_error err;
	struct layer *l;

	if (gradcheck_make_layer(maxpool_create, "maxpool", yaml, in, &l, &err) == 0) {
		l->ops->destroy(l);
		fail_msg("%s: expected an error", yaml);
	}
	return cnn_error_str(&err, buf, len);
}

static void check(const char *yaml, struct shape in, int oh, int ow, const char *desc)
{
	struct layer *l = make(yaml, in);
	char buf[64];

	assert_string_equal(l->ops->type, "maxpool");
	assert_int_equal(l->out.c, in.c);
	assert_int_equal(l->out.h, oh);
	assert_int_equal(l->out.w, ow);
	l->ops->describe(l, buf, sizeof(buf));
	assert_string_equal(buf, desc);
	assert_null(l->ops->params);
	assert_null(l->ops->scratch_floats);
	l->ops->destroy(l);
}

static void test_maxpool_shapes(void **state)
{
	(void)state;
	check("{pool_size: 2}", (struct shape){ 4, 24, 24 }, 12, 12, "2x2/2");
	check("{pool_size: 2}", (struct shape){ 1, 5, 7 }, 2, 3, "2x2/2");  /* floor */
	check("{pool_size: 3, stride: 2}", (struct shape){ 2, 7, 7 }, 3, 3, "3x3/2");
	check("{pool_size: 3, stride: 2}", (struct shape){ 2, 8, 9 }, 3, 4, "3x3/2");
	check("{pool_size: 2, stride: 1}", (struct shape){ 1, 3, 3 }, 2, 2, "2x2/1");
	check("{pool_size: 3}", (struct shape){ 1, 3, 3 }, 1, 1, "3x3/3");
}

static void test_maxpool_errors(void **state)
{
	char buf[600];

	(void)state;
	assert_string_equal(make_error("{pool_size: 3}", (struct shape){ 1, 2, 5 }, buf, sizeof(buf)),
	                    "test.yaml:1:1: maxpool: pool_size 3 is larger than the input 2x5");
	assert_string_equal(make_error("{pool_size: 0}", (struct shape){ 1, 2, 2 }, buf, sizeof(buf)),
	                    "test.yaml:1:13: maxpool: 'pool_size' must be an integer in [1, 65536], got 0");
	assert_string_equal(make_error("{stride: 2}", (struct shape){ 1, 2, 2 }, buf, sizeof(buf)),
	                    "test.yaml:1:1: maxpool: missing required key 'pool_size' (an integer in [1, 65536])");
	assert_string_equal(make_error("{pool_size: 2, stride: 0}", (struct shape){ 1, 2, 2 }, buf, sizeof(buf)),
	                    "test.yaml:1:24: maxpool: 'stride' must be an integer in [1, 65536], got 0");
	make_error("{pool_size: 2, padding: 1}", (struct shape){ 1, 4, 4 }, buf, sizeof(buf));
}

static void test_maxpool_forward(void **state)
{
	struct layer *l = make("{pool_size: 3, stride: 2}", (struct shape){ 2, 7, 8 });
	struct layer_ctx ctx = { 0 };
	uint64_t rng = 5;
	int n = 2;
	size_t nin = shape_size(l->in), nout = shape_size(l->out);
	float *x = malloc(n * nin * sizeof(*x)), *y = malloc(n * nout * sizeof(*y));

	(void)state;
	assert_true(x && y);
	for (size_t i = 0; i < n * nin; i++)
		x[i] = test_uniform(&rng, -1, 1);
	l->ops->forward(l, NULL, x, y, n, &ctx);
	for (int p = 0; p < n * 2; p++)
	for (int oy = 0; oy < l->out.h; oy++)
	for (int ox = 0; ox < l->out.w; ox++) {
		float m = -INFINITY;
		for (int i = 0; i < 3; i++)
			for (int j = 0; j < 3; j++)
				m = fmaxf(m, x[(size_t)p * 56 + (size_t)(oy * 2 + i) * 8 + ox * 2 + j]);
		assert_true(y[((size_t)p * l->out.h + oy) * l->out.w + ox] == m);
	}
	free(x);
	free(y);
	l->ops->destroy(l);
}

/* Ties send the whole gradient to the first maximum in row-major order, and
 * overlapping windows add up. */
static void test_maxpool_backward_ties(void **state)
{
	struct layer *l = make("{pool_size: 2, stride: 1}", (struct shape){ 1, 3, 3 });
	struct layer_ctx ctx = { 0 };
	const float x[9] = {
		1, 5, 5,
		5, 2, 0,
		0, 3, 3,
	};
	const float dy[4] = { 1, 10, 100, 1000 };
	float y[4], dx[9];

	(void)state;
	l->ops->forward(l, NULL, x, y, 1, &ctx);
	assert_true(y[0] == 5 && y[1] == 5 && y[2] == 5 && y[3] == 3);
	for (int i = 0; i < 9; i++)
		dx[i] = -1;
	l->ops->backward(l, NULL, x, y, dy, dx, NULL, 1, &ctx);
	const float want[9] = {
		0, 1 + 10, 0,
		100, 0, 0,
		0, 1000, 0,
	};
	for (int i = 0; i < 9; i++)
		assert_true(dx[i] == want[i]);
	l->ops->destroy(l);
}

/* Distinct values 0.01 apart in shuffled order: a step of 1e-3 never changes
 * which input is a window's maximum, so no check crosses a kink. */
static void spaced_input(float *x, size_t n, uint64_t *rng)
{
	for (size_t i = 0; i < n; i++)
		x[i] = 0.01f * (float)i - 0.005f * (float)n;
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)test_uniform(rng, 0, (float)i);
		if (j >= i)
			j = i - 1;
		float t = x[i - 1];
		x[i - 1] = x[j];
		x[j] = t;
	}
}

static void gc(const char *yaml, struct shape in, int n, uint64_t seed)
{
	struct layer *l = make(yaml, in);
	struct gradcheck_opts o = { .seed = seed };
	struct gradcheck_result res;
	size_t nin = (size_t)n * shape_size(in);
	float *x = malloc(nin * sizeof(*x));

	assert_non_null(x);
	spaced_input(x, nin, &seed);
	if (gradcheck_layer(l, n, x, NULL, &o, &res))
		fail_msg("%s: %d of %d gradients wrong", yaml, res.failed, res.checked);
	assert_int_equal(res.checked, (int)nin);
	free(x);
	l->ops->destroy(l);
}

static void test_maxpool_gradcheck(void **state)
{
	(void)state;
	gc("{pool_size: 2}", (struct shape){ 2, 4, 6 }, 2, 1);
	gc("{pool_size: 2, stride: 2}", (struct shape){ 3, 5, 5 }, 2, 2);
	gc("{pool_size: 3, stride: 2}", (struct shape){ 2, 7, 7 }, 2, 3);   /* overlapping */
	gc("{pool_size: 3, stride: 2}", (struct shape){ 1, 8, 6 }, 3, 4);
	gc("{pool_size: 2, stride: 1}", (struct shape){ 2, 4, 4 }, 1, 5);
}

/* The checker's own kink skipping: with ties, every element is either
 * checked or skipped, and none fails. */
static void test_maxpool_gradcheck_kinks(void **state)
{
	struct layer *l = make("{pool_size: 2}", (struct shape){ 1, 4, 4 });
	struct gradcheck_opts o = { .seed = 9, .skip_kinks = true };
	struct gradcheck_result res;
	float x[16];

	(void)state;
	for (int i = 0; i < 16; i++)
		x[i] = (float)(i % 3);  /* ties in most windows */
	assert_int_equal(gradcheck_layer(l, 1, x, NULL, &o, &res), 0);
	assert_int_equal(res.checked + res.skipped, 16);
	assert_true(res.skipped > 0);
	l->ops->destroy(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maxpool_shapes),
		cmocka_unit_test(test_maxpool_errors),
		cmocka_unit_test(test_maxpool_forward),
		cmocka_unit_test(test_maxpool_backward_ties),
		cmocka_unit_test(test_maxpool_gradcheck),
		cmocka_unit_test(test_maxpool_gradcheck_kinks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
