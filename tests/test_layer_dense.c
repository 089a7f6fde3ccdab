/* dense: shapes, describe(), parameter specs, errors, forward against a loop
 * and, bit for bit, against the fixed GEMM's chains whatever the batch, and
 * gradient checks. */
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
	return gradcheck_layer_or_fail(dense_create, "dense", yaml, in);
}

static const char *make_error(const char *yaml, struct shape in, char *buf, size_t len)
{
	struct cnn_error err;
	struct layer *l;

	if (gradcheck_make_layer(dense_create, "dense", yaml, in, &l, &err) == 0) {
		l->ops->destroy(l);
		fail_msg("%s: expected an error", yaml);
	}
	return cnn_error_str(&err, buf, len);
}

static void test_dense_shape_and_params(void **state)
{
	struct layer *l = make("{units: 10}", (struct shape){ 4, 5, 3 });
	struct param_spec p[LAYER_MAX_PARAMS];
	char buf[64];

	(void)state;
	assert_string_equal(l->ops->type, "dense");
	assert_int_equal(l->out.c, 10);
	assert_int_equal(l->out.h, 1);
	assert_int_equal(l->out.w, 1);
	l->ops->describe(l, buf, sizeof(buf));
	assert_string_equal(buf, "60->10");
	assert_int_equal(l->ops->params(l, p), 2);
	assert_string_equal(p[0].name, "weight");
	assert_int_equal(p[0].n, 600);
	assert_int_equal(p[0].ndim, 2);
	assert_int_equal(p[0].dims[0], 10);
	assert_int_equal(p[0].dims[1], 60);
	assert_int_equal(p[0].fan_in, 60);
	assert_true(p[0].decay);
	assert_string_equal(p[1].name, "bias");
	assert_int_equal(p[1].n, 10);
	assert_int_equal(p[1].ndim, 1);
	assert_int_equal(p[1].dims[0], 10);
	assert_int_equal(p[1].fan_in, 0);
	assert_false(p[1].decay);
	assert_true(l->ops->flops(l) == 2.0 * 600);
	l->ops->destroy(l);

	l = make("{units: 1}", (struct shape){ 784, 1, 1 });
	l->ops->describe(l, buf, sizeof(buf));
	assert_string_equal(buf, "784->1");
	l->ops->destroy(l);
}

static void test_dense_errors(void **state)
{
	char buf[600];
	struct shape in = { 8, 1, 1 };

	(void)state;
	assert_string_equal(make_error("{units: 0}", in, buf, sizeof(buf)),
	                    "test.yaml:1:9: dense: 'units' must be an integer in [1, 16777216], got 0");
	assert_string_equal(make_error("{}", in, buf, sizeof(buf)),
	                    "test.yaml:1:1: dense: missing required key 'units' (an integer in [1, 16777216])");
	assert_string_equal(make_error("{units: ten}", in, buf, sizeof(buf)),
	                    "test.yaml:1:9: dense: 'units' must be an integer in [1, 16777216], got 'ten'");
	make_error("{units: 3, out_features: 3}", in, buf, sizeof(buf));
}

static void test_dense_forward(void **state)
{
	struct layer *l = make("{units: 7}", (struct shape){ 2, 3, 2 });
	struct layer_ctx ctx = { 0 };
	uint64_t rng = 17;
	int n = 5, in = 12, units = 7;
	float w[7 * 12 + 7], x[5 * 12], y[5 * 7];

	(void)state;
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		w[i] = test_uniform(&rng, -1, 1);
	for (size_t i = 0; i < sizeof(x) / sizeof(x[0]); i++)
		x[i] = test_uniform(&rng, -1, 1);
	l->ops->forward(l, w, x, y, n, &ctx);
	for (int i = 0; i < n; i++) {
		for (int u = 0; u < units; u++) {
			double s = w[units * in + u];
			for (int j = 0; j < in; j++)
				s += (double)w[u * in + j] * x[i * in + j];
			assert_float_equal(y[i * units + u], s, 1e-5);
		}
	}
	l->ops->destroy(l);
}

/* Each output is the chain b[u], then fmaf(x[i][j], W[u][j], .) for j in
 * order (gemm_fixed.h), so a sample's outputs have the same bits whether it
 * is run alone, in an evaluation batch of a few (computed as W x^T) or in a
 * training chunk (x W^T). */
static void test_dense_forward_bits_per_batch(void **state)
{
	enum { n = 40, in = 300, units = 37 };
	/* every width of the few-rows path, and chunks past each of its tiles */
	static const int batches[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 32, 33, 40 };
	struct layer *l = make("{units: 37}", (struct shape){ 3, 10, 10 });
	struct layer_ctx ctx = { 0 };
	uint64_t rng = 23;
	float *w = test_random_floats((size_t)units * in + units, &rng); /* W (units, in), b (units) */
	float *x = test_random_floats((size_t)n * in, &rng);              /* (n, in) */
	float want[n * units], y[n * units];                               /* (n, units) */

	(void)state;
	for (int i = 0; i < n; i++) {
		for (int u = 0; u < units; u++) {
			float c = w[units * in + u];
			for (int j = 0; j < in; j++)
				c = fmaf(x[i * in + j], w[u * in + j], c);
			want[i * units + u] = c;
		}
	}
	for (size_t bi = 0; bi < sizeof(batches) / sizeof(batches[0]); bi++) {
		int batch = batches[bi];

		memset(y, 0, sizeof(y));
		for (int i0 = 0; i0 < n; i0 += batch) {
			int count = n - i0 < batch ? n - i0 : batch;
			l->ops->forward(l, w, x + i0 * in, y + i0 * units, count, &ctx);
		}
		if (memcmp(y, want, sizeof(y)) != 0)
			fail_msg("batch %d: the outputs differ from the chains", batch);
	}
	free(w);
	free(x);
	l->ops->destroy(l);
}

static void gc(const char *yaml, struct shape in, int n, uint64_t seed)
{
	struct layer *l = make(yaml, in);
	struct gradcheck_opts o = { .seed = seed };
	struct gradcheck_result res;

	if (gradcheck_layer(l, n, NULL, NULL, &o, &res))
		fail_msg("%s: %d of %d gradients wrong", yaml, res.failed, res.checked);
	assert_int_equal(res.checked, (int)(gradcheck_param_count(l) + n * shape_size(in)));
	l->ops->destroy(l);
}

static void test_dense_gradcheck(void **state)
{
	(void)state;
	gc("{units: 5}", (struct shape){ 7, 1, 1 }, 3, 1);
	gc("{units: 1}", (struct shape){ 4, 1, 1 }, 1, 2);
	gc("{units: 3}", (struct shape){ 2, 3, 4 }, 4, 3);  /* non-flat input */
	gc("{units: 16}", (struct shape){ 20, 1, 1 }, 2, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dense_shape_and_params),
		cmocka_unit_test(test_dense_errors),
		cmocka_unit_test(test_dense_forward),
		cmocka_unit_test(test_dense_forward_bits_per_batch),
		cmocka_unit_test(test_dense_gradcheck),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
