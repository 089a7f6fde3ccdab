/* avgpool: shapes, describe(), errors with exact messages, forward against a
 * plain loop, backward by hand (overlapping windows, a dropped edge), and
 * gradient checks. The layer is linear, so there are no kinks to avoid. */
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
	return gradcheck_layer_or_fail(avgpool_create, "avgpool", yaml, in);
}

static const char *make_error(const char *yaml, struct shape in, char *buf, size_t len)
{
	struct cnn_error err;
	struct layer *l;

	if (gradcheck_make_layer(avgpool_create, "avgpool", yaml, in, &l, &err) == 0) {
		l->ops->destroy(l);
		fail_msg("%s: expected an error", yaml);
	}
	assert_null(l);
	return cnn_error_str(&err, buf, len);
}

static void check(const char *yaml, struct shape in, int oh, int ow, const char *desc)
{
	struct layer *l = make(yaml, in);
	char buf[64];

	assert_string_equal(l->ops->type, "avgpool");
	assert_int_equal(l->out.c, in.c);
	assert_int_equal(l->out.h, oh);
	assert_int_equal(l->out.w, ow);
	l->ops->describe(l, buf, sizeof(buf));
	assert_string_equal(buf, desc);
	assert_null(l->ops->params);
	assert_null(l->ops->scratch_floats);
	l->ops->destroy(l);
}

static void test_avgpool_shapes(void **state)
{
	(void)state;
	check("{pool_size: 2}", (struct shape){ 4, 24, 24 }, 12, 12, "2x2/2");
	check("{pool_size: 2}", (struct shape){ 1, 5, 7 }, 2, 3, "2x2/2");  /* floor */
	check("{pool_size: 3, stride: 2}", (struct shape){ 2, 7, 7 }, 3, 3, "3x3/2");
	check("{pool_size: 3, stride: 2}", (struct shape){ 2, 8, 9 }, 3, 4, "3x3/2");
	check("{pool_size: 2, stride: 1}", (struct shape){ 1, 3, 3 }, 2, 2, "2x2/1");
	check("{pool_size: 3}", (struct shape){ 1, 3, 3 }, 1, 1, "3x3/3");
	check("{pool_size: 1}", (struct shape){ 2, 3, 4 }, 3, 4, "1x1/1");
}

static void test_avgpool_errors(void **state)
{
	char buf[600];

	(void)state;
	assert_string_equal(make_error("{pool_size: 3}", (struct shape){ 1, 2, 5 }, buf, sizeof(buf)),
	                    "test.yaml:1:1: avgpool: pool_size 3 is larger than the input 2x5");
	assert_string_equal(make_error("{pool_size: 3}", (struct shape){ 1, 5, 2 }, buf, sizeof(buf)),
	                    "test.yaml:1:1: avgpool: pool_size 3 is larger than the input 5x2");
	assert_string_equal(make_error("{pool_size: 0}", (struct shape){ 1, 2, 2 }, buf, sizeof(buf)),
	                    "test.yaml:1:13: avgpool: 'pool_size' must be an integer in [1, 65536], got 0");
	assert_string_equal(make_error("{stride: 2}", (struct shape){ 1, 2, 2 }, buf, sizeof(buf)),
	                    "test.yaml:1:1: avgpool: missing required key 'pool_size' (an integer in [1, 65536])");
	assert_string_equal(make_error("{pool_size: 2, stride: 0}", (struct shape){ 1, 2, 2 }, buf, sizeof(buf)),
	                    "test.yaml:1:24: avgpool: 'stride' must be an integer in [1, 65536], got 0");
	assert_string_equal(make_error("{pool_size: 1.5}", (struct shape){ 1, 2, 2 }, buf, sizeof(buf)),
	                    "test.yaml:1:13: avgpool: 'pool_size' must be an integer in [1, 65536], got '1.5'");
	assert_non_null(strstr(make_error("{pool_size: 2, padding: 1}", (struct shape){ 1, 4, 4 },
	                                  buf, sizeof(buf)),
	                       "test.yaml:1:16: avgpool: unknown key 'padding'"));
}

static void test_avgpool_forward(void **state)
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
		double s = 0;
		for (int i = 0; i < 3; i++)
			for (int j = 0; j < 3; j++)
				s += x[(size_t)p * 56 + (size_t)(oy * 2 + i) * 8 + ox * 2 + j];
		assert_float_equal(y[((size_t)p * l->out.h + oy) * l->out.w + ox], s / 9, 1e-6);
	}
	free(x);
	free(y);
	l->ops->destroy(l);
}

/* Overlapping windows add their shares; dx starts as garbage and is
 * overwritten, so no stale value survives. */
static void test_avgpool_backward_overlap(void **state)
{
	struct layer *l = make("{pool_size: 2, stride: 1}", (struct shape){ 1, 3, 3 });
	struct layer_ctx ctx = { 0 };
	const float x[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	const float dy[4] = { 4, 8, 12, 16 };
	float y[4], dx[9];

	(void)state;
	l->ops->forward(l, NULL, x, y, 1, &ctx);
	assert_true(y[0] == 3 && y[1] == 4 && y[2] == 6 && y[3] == 7);
	for (int i = 0; i < 9; i++)
		dx[i] = -1;
	l->ops->backward(l, NULL, x, y, dy, dx, NULL, 1, &ctx);
	const float want[9] = {
		1, 1 + 2, 2,
		1 + 3, 1 + 2 + 3 + 4, 2 + 4,
		3, 3 + 4, 4,
	};
	for (int i = 0; i < 9; i++)
		assert_true(dx[i] == want[i]);
	l->ops->backward(l, NULL, x, y, dy, NULL, NULL, 1, &ctx);  /* first layer: no-op */
	l->ops->destroy(l);
}

/* The last row and column fall in no window: their gradient is 0. */
static void test_avgpool_backward_dropped_edge(void **state)
{
	struct layer *l = make("{pool_size: 2}", (struct shape){ 1, 3, 3 });
	struct layer_ctx ctx = { 0 };
	const float x[9] = { 1, 2, 9, 3, 6, 9, 9, 9, 9 };
	const float dy[1] = { 8 };
	float y[1], dx[9];

	(void)state;
	l->ops->forward(l, NULL, x, y, 1, &ctx);
	assert_true(y[0] == 3);
	for (int i = 0; i < 9; i++)
		dx[i] = 123;
	l->ops->backward(l, NULL, x, y, dy, dx, NULL, 1, &ctx);
	const float want[9] = { 2, 2, 0, 2, 2, 0, 0, 0, 0 };
	for (int i = 0; i < 9; i++)
		assert_true(dx[i] == want[i]);
	l->ops->destroy(l);
}

static void gc(const char *yaml, struct shape in, int n, uint64_t seed)
{
	struct layer *l = make(yaml, in);
	struct gradcheck_opts o = { .seed = seed };
	struct gradcheck_result res;
	size_t nin = (size_t)n * shape_size(in);

	if (gradcheck_layer(l, n, NULL, NULL, &o, &res))
		fail_msg("%s: %d of %d gradients wrong", yaml, res.failed, res.checked);
	assert_int_equal(res.checked, (int)nin);
	assert_true(res.max_err < 1e-3);
	l->ops->destroy(l);
}

static void test_avgpool_gradcheck(void **state)
{
	(void)state;
	gc("{pool_size: 2}", (struct shape){ 2, 4, 6 }, 2, 1);
	gc("{pool_size: 2, stride: 2}", (struct shape){ 3, 5, 5 }, 2, 2);   /* dropped edge */
	gc("{pool_size: 3, stride: 2}", (struct shape){ 2, 7, 7 }, 2, 3);   /* overlapping */
	gc("{pool_size: 3, stride: 2}", (struct shape){ 1, 8, 6 }, 3, 4);
	gc("{pool_size: 2, stride: 1}", (struct shape){ 2, 4, 4 }, 1, 5);
	gc("{pool_size: 2, stride: 3}", (struct shape){ 1, 7, 8 }, 2, 6);   /* gaps */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_avgpool_shapes),
		cmocka_unit_test(test_avgpool_errors),
		cmocka_unit_test(test_avgpool_forward),
		cmocka_unit_test(test_avgpool_backward_overlap),
		cmocka_unit_test(test_avgpool_backward_dropped_edge),
		cmocka_unit_test(test_avgpool_gradcheck),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
