/* The registry (Caffe's test_layer_factory): every registered type is created
 * with minimal arguments on a 2x8x8 input, describe()d, run forward and
 * backward once on buffers of exactly the sizes it declares (so ASan catches
 * a layer that reads or writes past them), and destroyed (so LeakSanitizer
 * catches one that does not free). A new type that needs keys gets its line
 * in `minimal_args`; every other type is made from "{}". */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "layers/layer.h"
#include "gradcheck.h"
#include "testutil.h"

static const struct {
	const char *type, *yaml;
} minimal_args[] = {
	{ "conv", "{filters: 2, kernel_size: 3}" },
	{ "maxpool", "{pool_size: 2}" },
	{ "avgpool", "{pool_size: 2}" },
	{ "dense", "{units: 3}" },
	{ "dropout", "{rate: 0.5}" },
};

static const char *args_for(const char *type)
{
	for (size_t i = 0; i < sizeof minimal_args / sizeof minimal_args[0]; i++)
		if (!strcmp(minimal_args[i].type, type))
			return minimal_args[i].yaml;
	return "{}";
}

static const struct shape input = { 2, 8, 8 };

static void test_registry_lookup(void **state)
{
	int count = 0;
	const struct layer_type *types = layer_types(&count);

	(void)state;
	assert_non_null(types);
	assert_true(count >= 10);
	for (int i = 0; i < count; i++) {
		assert_non_null(types[i].name);
		assert_true(!types[i].create != !types[i].create_multi);   /* exactly one */
		assert_non_null(types[i].summary);
		assert_true(types[i].summary[0] != '\0');
		assert_ptr_equal(layer_type_find(types[i].name), &types[i]);   /* names unique */
	}
	assert_null(layer_type_find("nope"));
	assert_null(layer_type_find(""));
	assert_null(layer_type_find("Conv"));   /* case matters */
}

/* Forward then backward on n = 2 with exactly sized buffers; every output
 * and gradient must be finite. A multi-input layer gets two inputs of
 * l->in, and its second input the same values and gradient buffers as its
 * first. */
static void run_once(const struct layer *l)
{
	int n = 2;
	size_t nin = (size_t)n * shape_size(l->in), nout = (size_t)n * shape_size(l->out);
	size_t nw = gradcheck_param_count(l);
	size_t ns = l->ops->scratch_floats ? l->ops->scratch_floats(l, n) : 0;
	float *x = malloc(nin * sizeof(*x)), *dx = malloc(nin * sizeof(*dx));
	const float *xs[2] = { x, x };
	float *dxs[2] = { dx, dx };
	float *y = malloc(nout * sizeof(*y)), *dy = malloc(nout * sizeof(*dy));
	float *w = malloc((nw ? nw : 1) * sizeof(*w)), *dw = calloc(nw ? nw : 1, sizeof(*dw));
	float *scratch = malloc((ns ? ns : 1) * sizeof(*scratch));
	uint64_t rng = 3;

	assert_true(x && dx && y && dy && w && dw && scratch);
	for (size_t i = 0; i < nin; i++)
		x[i] = test_uniform(&rng, -1, 1);
	for (size_t i = 0; i < nout; i++)
		dy[i] = test_uniform(&rng, -1, 1);
	for (size_t i = 0; i < nw; i++)
		w[i] = test_uniform(&rng, -0.5f, 0.5f);

	struct layer_ctx ctx = { .scratch = ns ? scratch : NULL, .train = true };
	gradcheck_forward(l, nw ? w : NULL, xs, y, n, &ctx);
	for (size_t i = 0; i < nout; i++)
		if (!isfinite(y[i]))
			fail_msg("%s: y[%zu] = %g", l->ops->type, i, (double)y[i]);
	gradcheck_backward(l, nw ? w : NULL, xs, y, dy, dxs, nw ? dw : NULL, n, &ctx);
	for (size_t i = 0; i < nin; i++)
		if (!isfinite(dx[i]))
			fail_msg("%s: dx[%zu] = %g", l->ops->type, i, (double)dx[i]);
	for (size_t i = 0; i < nw; i++)
		if (!isfinite(dw[i]))
			fail_msg("%s: dw[%zu] = %g", l->ops->type, i, (double)dw[i]);
	ctx.train = false;
	gradcheck_forward(l, nw ? w : NULL, xs, y, n, &ctx);
	free(x);
	free(dx);
	free(y);
	free(dy);
	free(w);
	free(dw);
	free(scratch);
}

static void test_registry_creates_every_type(void **state)
{
	int count = 0;
	const struct layer_type *types = layer_types(&count);

	(void)state;
	for (int i = 0; i < count; i++) {
		const char *yaml = args_for(types[i].name);
		struct cnn_error err;
		struct layer *l;
		char buf[600];

		const struct layer_input_ref two[2] = { { .shape = input }, { .shape = input } };
		int rc = types[i].create
		       ? gradcheck_make_layer(types[i].create, types[i].name, yaml, input, &l, &err)
		       : gradcheck_make_layer_multi(types[i].create_multi, types[i].name, yaml, two, 2, &l, &err);
		if (rc)
			fail_msg("%s %s: %s (does the type need a line in minimal_args?)",
			         types[i].name, yaml, cnn_error_str(&err, buf, sizeof(buf)));
		assert_non_null(l);
		assert_non_null(l->ops);
		assert_string_equal(l->ops->type, types[i].name);
		/* one interface or the other, whole */
		assert_true(types[i].create ? l->ops->forward && l->ops->backward && !l->ops->forward_multi
		                            : l->ops->forward_multi && l->ops->backward_multi && !l->ops->forward);
		assert_true(!l->ops->backward == !l->ops->forward);
		assert_non_null(l->ops->destroy);
		assert_true(l->in.c == input.c && l->in.h == input.h && l->in.w == input.w);
		assert_true(l->out.c >= 1 && l->out.h >= 1 && l->out.w >= 1);

		if (l->ops->describe) {
			/* a full buffer, then one too small: always terminated */
			memset(buf, 'x', sizeof(buf));
			l->ops->describe(l, buf, sizeof(buf));
			assert_non_null(memchr(buf, '\0', sizeof(buf)));
			memset(buf, 'x', sizeof(buf));
			l->ops->describe(l, buf, 3);
			assert_true(strlen(buf) <= 2);
			assert_true(buf[3] == 'x');
		}
		if (l->ops->params) {
			struct param_spec specs[LAYER_MAX_PARAMS];
			int np = l->ops->params(l, specs);
			assert_true(np >= 0 && np <= LAYER_MAX_PARAMS);
			for (int k = 0; k < np; k++) {
				assert_non_null(specs[k].name);
				assert_true(specs[k].n > 0);
			}
		}
		if (l->ops->flops)
			assert_true(l->ops->flops(l) >= 0);
		run_once(l);
		l->ops->destroy(l);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_lookup),
		cmocka_unit_test(test_registry_creates_every_type),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
