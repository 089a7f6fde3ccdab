/* dropout: keys, the identity in evaluation, a gradient check in training
 * (the mask is fixed by the context), the fraction dropped, and a mask that
 * depends on (step, layer, global sample, element) only: not on how the
 * batch is split among threads, and the same when a step is repeated. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "builder/builder.h"
#include "layers/layers.h"
#include "net/net.h"
#include "gradcheck.h"
#include "build_helpers.h"
#include "testutil.h"

static struct layer *make(const char *yaml, struct shape in)
{
	return gradcheck_layer_or_fail(dropout_create, "dropout", yaml, in);
}

static void expect_error(const char *yaml, const char *want)
{
	struct cnn_error err;
	struct layer *l;
	char buf[600];

	assert_int_equal(gradcheck_make_layer(dropout_create, "dropout", yaml,
	                                      (struct shape){ 4, 1, 1 }, &l, &err), -1);
	assert_null(l);
	const char *got = cnn_error_str(&err, buf, sizeof(buf));
	if (!strstr(got, want))
		fail_msg("%s: got '%s', want '%s'", yaml, got, want);
}

static void test_dropout_keys(void **state)
{
	struct layer *l = make("{rate: 0.25}", (struct shape){ 3, 4, 5 });
	char buf[64];

	(void)state;
	assert_string_equal(l->ops->type, "dropout");
	assert_true(l->out.c == 3 && l->out.h == 4 && l->out.w == 5);
	assert_null(l->ops->params);
	assert_null(l->ops->scratch_floats);
	assert_null(l->ops->after_step);
	l->ops->describe(l, buf, sizeof(buf));
	assert_string_equal(buf, "rate 0.25");
	l->ops->destroy(l);

	expect_error("{}", "dropout: missing required key 'rate'");
	expect_error("{rate: 1}", "test.yaml:1:8: dropout: 'rate' must be a number in [0, 1), got 1");
	expect_error("{rate: -0.5}", "dropout: 'rate' must be a number in [0, 1), got -0.5");
	expect_error("{rate: half}", "dropout:");
	expect_error("{rate: 0.5, p: 0.5}", "dropout: unknown key 'p'");
}

static void test_dropout_eval_is_identity(void **state)
{
	struct layer *l = make("{rate: 0.5}", (struct shape){ 2, 3, 3 });
	struct layer_ctx ctx = { .train = false, .step_seed = 99, .sample0 = 4 };
	enum { n = 3, count = n * 18 };
	float x[count], y[count], dx[count];
	uint64_t rng = 1;

	(void)state;
	for (int i = 0; i < count; i++)
		x[i] = test_uniform(&rng, -2, 2);
	l->ops->forward(l, NULL, x, y, n, &ctx);
	assert_memory_equal(x, y, sizeof(x));
	l->ops->backward(l, NULL, x, y, x, dx, NULL, n, &ctx);
	assert_memory_equal(x, dx, sizeof(x));
	l->ops->destroy(l);

	/* rate 0 keeps everything in training too */
	l = make("{rate: 0}", (struct shape){ 2, 3, 3 });
	ctx.train = true;
	l->ops->forward(l, NULL, x, y, n, &ctx);
	assert_memory_equal(x, y, sizeof(x));
	l->ops->destroy(l);
}

static void test_dropout_gradcheck(void **state)
{
	struct layer *l = make("{rate: 0.4}", (struct shape){ 2, 3, 4 });
	struct gradcheck_opts o = { .seed = 5 };
	struct gradcheck_result res;

	(void)state;
	assert_int_equal(gradcheck_layer(l, 3, NULL, NULL, &o, &res), 0);
	assert_int_equal(res.checked, 3 * 24);
	l->ops->destroy(l);
}

/* The fraction dropped is near rate; kept values are x / (1 - rate). */
static void test_dropout_mask_statistics(void **state)
{
	const double rate = 0.3;
	struct layer *l = make("{rate: 0.3}", (struct shape){ 8, 10, 10 });
	enum { n = 50, per = 800, count = n * per };
	float *x = malloc(count * sizeof(*x)), *y = malloc(count * sizeof(*y));
	struct layer_ctx ctx = { .train = true, .step_seed = 12345, .layer = 2 };
	int dropped = 0, first_dropped = 0;

	(void)state;
	assert_true(x && y);
	for (int i = 0; i < count; i++)
		x[i] = 1.0f + (float)(i % 7);
	l->ops->forward(l, NULL, x, y, n, &ctx);
	for (int i = 0; i < count; i++) {
		if (y[i] == 0.0f) {
			dropped++;
			first_dropped += i < per;
		} else {
			assert_float_equal(y[i], x[i] / (1 - rate), 1e-5 * y[i]);
		}
	}
	/* 40000 Bernoulli(0.3) draws: the standard deviation is 0.0023 */
	double frac = (double)dropped / count;
	if (fabs(frac - rate) > 0.01)
		fail_msg("dropped %.4f of the values, want %.2f", frac, rate);
	assert_true(first_dropped > per / 5 && first_dropped < per * 2 / 5);
	free(x);
	free(y);
	l->ops->destroy(l);
}

/* Splitting the batch as threads do (sample0) gives the same mask; another
 * step or another layer gives another one. */
static void test_dropout_mask_reproducible(void **state)
{
	struct layer *l = make("{rate: 0.5}", (struct shape){ 16, 1, 1 });
	enum { n = 7, per = 16, count = n * per, split = 3 };
	float x[count], whole[count], parts[count], other[count];
	struct layer_ctx ctx = { .train = true, .step_seed = 77, .layer = 1 };

	(void)state;
	for (int i = 0; i < count; i++)
		x[i] = 1.0f;
	l->ops->forward(l, NULL, x, whole, n, &ctx);
	l->ops->forward(l, NULL, x, parts, split, &ctx);
	ctx.sample0 = split;
	l->ops->forward(l, NULL, x + split * per, parts + split * per, n - split, &ctx);
	assert_memory_equal(whole, parts, sizeof(whole));

	/* backward's mask is forward's */
	float dx[count];
	ctx.sample0 = 0;
	l->ops->backward(l, NULL, x, whole, x, dx, NULL, n, &ctx);
	assert_memory_equal(whole, dx, sizeof(whole));

	ctx.step_seed = 78;
	l->ops->forward(l, NULL, x, other, n, &ctx);
	assert_memory_not_equal(whole, other, sizeof(whole));
	ctx.step_seed = 77;
	ctx.layer = 2;
	l->ops->forward(l, NULL, x, other, n, &ctx);
	assert_memory_not_equal(whole, other, sizeof(whole));
	/* each sample has its own mask */
	assert_memory_not_equal(whole, whole + per, per * sizeof(float));
	l->ops->destroy(l);
}

static const char config[] =
	"name: drop\n"
	"data: {dataset: mnist}\n"
	"input: [1, 28, 28]\n"
	"layers:\n"
	"  - {type: flatten}\n"
	"  - {type: dropout, rate: 0.5}\n"
	"  - {type: dense, units: 10}\n"
	"optimizer: {type: adam, lr: 0.01}\n";

static struct net *build(int batch, int threads, uint64_t seed)
{
	return bh_net(config, batch, threads, seed);
}

/* In a network the mask is a function of (seed, step): the runner sets
 * net->step to the global step, so a resumed run repeats the masks. */
static void test_dropout_net_step(void **state)
{
	enum { batch = 6, np = 28 * 28 * 10 + 10 };
	struct net *a = build(batch, 2, 3), *b = build(batch, 2, 3);
	int labels[batch];
	uint64_t rng = 9;
	double loss;
	int correct;
	float *g0 = malloc(np * sizeof(float));

	(void)state;
	assert_int_equal((int)a->n_params, np);
	assert_non_null(g0);
	for (int i = 0; i < batch; i++)
		labels[i] = i;
	for (size_t i = 0; i < (size_t)batch * 28 * 28; i++)
		a->x[i] = b->x[i] = test_uniform(&rng, 0, 1);
	assert_int_equal(a->step, 0);
	net_train_step(a, labels, batch, &loss, &correct);
	assert_int_equal(a->step, 1);
	memcpy(g0, a->grads, np * sizeof(float));
	net_train_step(a, labels, batch, &loss, &correct);   /* step 1: other masks */
	assert_memory_not_equal(g0, a->grads, np * sizeof(float));
	b->step = 1;                                        /* a resume at step 1 */
	net_train_step(b, labels, batch, &loss, &correct);
	assert_memory_equal(a->grads, b->grads, np * sizeof(float));
	b->step = 0;
	net_train_step(b, labels, batch, &loss, &correct);
	assert_memory_equal(g0, b->grads, np * sizeof(float));
	free(g0);
	net_free(a);
	net_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dropout_keys),
		cmocka_unit_test(test_dropout_eval_is_identity),
		cmocka_unit_test(test_dropout_gradcheck),
		cmocka_unit_test(test_dropout_mask_statistics),
		cmocka_unit_test(test_dropout_mask_reproducible),
		cmocka_unit_test(test_dropout_net_step),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
