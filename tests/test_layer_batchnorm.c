/* batchnorm: keys and parameters, gradient checks in training mode (after a
 * conv and after a dense layer), the normalised training output, evaluation
 * from the running statistics, after_step's merge of per-thread chunks into
 * the whole batch's statistics, and in a network: running statistics move,
 * their gradient is 0, Adam leaves them alone, and a seed and thread count
 * give the same bits. */
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
#include "optim/optim.h"
#include "gradcheck.h"
#include "build_helpers.h"
#include "testutil.h"

static struct layer *make(const char *yaml, struct shape in)
{
	struct cnn_error err;
	struct layer *l;
	char buf[600];

	if (gradcheck_make_layer(batchnorm_create, "batchnorm", yaml, in, &l, &err))
		fail_msg("%s: %s", yaml, cnn_error_str(&err, buf, sizeof(buf)));
	return l;
}

static void test_batchnorm_params(void **state)
{
	struct layer *l = make("{}", (struct shape){ 3, 4, 5 });
	struct param_spec p[LAYER_MAX_PARAMS];
	static const char *const names[] = { "weight", "bias", "running_mean", "running_var" };
	static const float init[] = { 1, 0, 0, 1 };
	char buf[64];

	(void)state;
	assert_string_equal(l->ops->type, "batchnorm");
	assert_true(l->out.c == 3 && l->out.h == 4 && l->out.w == 5);
	assert_int_equal(l->ops->params(l, p), 4);
	for (int i = 0; i < 4; i++) {
		assert_string_equal(p[i].name, names[i]);
		assert_int_equal(p[i].n, 3);
		assert_int_equal(p[i].ndim, 1);
		assert_int_equal(p[i].dims[0], 3);
		assert_int_equal(p[i].fan_in, 0);
		assert_false(p[i].decay);
		assert_true(p[i].init_value == init[i]);
	}
	assert_non_null(l->ops->after_step);
	assert_int_equal(l->ops->stats_doubles(l), 7);
	l->ops->describe(l, buf, sizeof(buf));
	assert_string_equal(buf, "3 channels, momentum 0.1");
	l->ops->destroy(l);

	l = make("{momentum: 0.01, eps: 0.001}", (struct shape){ 10, 1, 1 });
	l->ops->describe(l, buf, sizeof(buf));
	assert_string_equal(buf, "10 features, momentum 0.01");
	l->ops->destroy(l);

	struct cnn_error err;
	assert_int_equal(gradcheck_make_layer(batchnorm_create, "batchnorm", "{eps: 0}",
	                                      (struct shape){ 2, 1, 1 }, &l, &err), -1);
	assert_int_equal(gradcheck_make_layer(batchnorm_create, "batchnorm", "{momentum: 2}",
	                                      (struct shape){ 2, 1, 1 }, &l, &err), -1);
	assert_int_equal(gradcheck_make_layer(batchnorm_create, "batchnorm", "{affine: false}",
	                                      (struct shape){ 2, 1, 1 }, &l, &err), -1);
	assert_non_null(strstr(cnn_error_str(&err, buf, sizeof(buf)), "batchnorm: unknown key 'affine'"));
}

static void gradcheck_shape(struct shape in, int n, uint64_t seed)
{
	struct layer *l = make("{}", in);
	struct gradcheck_opts o = { .seed = seed };
	struct gradcheck_result res;
	size_t nw = gradcheck_param_count(l);

	assert_int_equal(gradcheck_layer(l, n, NULL, NULL, &o, &res), 0);
	/* every input, gamma, beta and the two running tensors (gradient 0) */
	assert_int_equal(res.checked, (int)((size_t)n * shape_size(in) + nw));
	l->ops->destroy(l);
}

static void test_batchnorm_gradcheck_conv(void **state)
{
	(void)state;
	gradcheck_shape((struct shape){ 3, 2, 3 }, 4, 11);
}

static void test_batchnorm_gradcheck_dense(void **state)
{
	(void)state;
	gradcheck_shape((struct shape){ 5, 1, 1 }, 6, 12);
}

/* With gamma 1 and beta 0 each channel comes out with mean 0, variance ~1;
 * gamma and beta then scale and shift it. */
static void test_batchnorm_train_forward(void **state)
{
	struct shape in = { 2, 3, 3 };
	struct layer *l = make("{}", in);
	enum { n = 5, c = 2, hw = 9, count = n * c * hw };
	float x[count], y[count], w[4 * c] = { 2, 0.5f, -1, 3, 0, 0, 1, 1 };
	struct layer_ctx ctx = { .train = true };
	uint64_t rng = 3;

	(void)state;
	for (int i = 0; i < count; i++)
		x[i] = test_uniform(&rng, -1, 5);
	l->ops->forward(l, w, x, y, n, &ctx);
	for (int ch = 0; ch < c; ch++) {
		double sum = 0, sq = 0;
		for (int i = 0; i < n; i++)
			for (int p = 0; p < hw; p++)
				sum += y[(i * c + ch) * hw + p];
		double mean = sum / (n * hw);
		for (int i = 0; i < n; i++)
			for (int p = 0; p < hw; p++) {
				double d = y[(i * c + ch) * hw + p] - mean;
				sq += d * d;
			}
		double var = sq / (n * hw);
		assert_float_equal(mean, w[c + ch], 1e-5);
		/* var_B / (var_B + eps) is just under 1 */
		assert_float_equal(var, (double)w[ch] * w[ch], 1e-3 * w[ch] * w[ch]);
	}
	l->ops->destroy(l);
}

/* Evaluation: y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta,
 * whatever the batch holds. */
static void test_batchnorm_eval_uses_running_stats(void **state)
{
	struct layer *l = make("{eps: 0.01}", (struct shape){ 3, 1, 2 });
	enum { n = 2, c = 3, hw = 2, count = n * c * hw };
	/* gamma, beta, running_mean, running_var */
	const float w[4 * c] = { 1, 2, -0.5f, 0, 1, 0.25f, 0.5f, -1, 2, 0.99f, 3.99f, 0.24f };
	const float x[count] = { 1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6 };
	float y[count], dx[count], dy[count], dw[4 * c] = { 0 };
	struct layer_ctx ctx = { .train = false };

	(void)state;
	l->ops->forward(l, w, x, y, n, &ctx);
	for (int i = 0; i < n; i++)
		for (int ch = 0; ch < c; ch++)
			for (int p = 0; p < hw; p++) {
				int k = (i * c + ch) * hw + p;
				double want = w[ch] * (x[k] - w[2 * c + ch]) / sqrt(w[3 * c + ch] + 0.01) + w[c + ch];
				assert_float_equal(y[k], want, 1e-5 * fmax(1, fabs(want)));
				dy[k] = 1.0f;
			}
	/* one sample alone gives the same values: no batch statistics */
	float y1[count / n];
	l->ops->forward(l, w, x + c * hw, y1, 1, &ctx);
	assert_memory_equal(y1, y + c * hw, sizeof(y1));
	/* backward in evaluation: the statistics are constants */
	l->ops->backward(l, w, x, y, dy, dx, dw, n, &ctx);
	for (int ch = 0; ch < c; ch++) {
		assert_float_equal(dx[ch * hw], w[ch] / sqrt(w[3 * c + ch] + 0.01), 1e-5);
		assert_float_equal(dw[c + ch], n * hw, 0);
		assert_true(dw[2 * c + ch] == 0 && dw[3 * c + ch] == 0);
	}
	l->ops->destroy(l);
}

/* Two chunks' statistics (as two threads leave them) merge into the whole
 * batch's mean and unbiased variance. */
static void test_batchnorm_after_step(void **state)
{
	struct shape in = { 2, 2, 2 };
	struct layer *l = make("{momentum: 0.25}", in);
	enum { n = 7, c = 2, hw = 4, count = n * c * hw, split = 3 };
	float x[count], y[count], w[4 * c] = { 1, 1, 0, 0, 0.5f, -0.5f, 2, 1 };
	double stats[2 * (1 + 2 * c)];
	uint64_t rng = 17;

	(void)state;
	for (int i = 0; i < count; i++)
		x[i] = test_uniform(&rng, -3, 4) + (i / hw % c) * 10;   /* channel 1 around 10 */
	struct layer_ctx ctx = { .train = true, .stats = stats };
	l->ops->forward(l, w, x, y, split, &ctx);
	ctx.stats = stats + 1 + 2 * c;
	l->ops->forward(l, w, x + split * c * hw, y + split * c * hw, n - split, &ctx);
	l->ops->after_step(l, w, stats, 2);
	for (int ch = 0; ch < c; ch++) {
		double sum = 0, sq = 0, m = n * hw;
		for (int i = 0; i < n; i++)
			for (int p = 0; p < hw; p++)
				sum += x[(i * c + ch) * hw + p];
		for (int i = 0; i < n; i++)
			for (int p = 0; p < hw; p++) {
				double d = x[(i * c + ch) * hw + p] - sum / m;
				sq += d * d;
			}
		const float old_mean[c] = { 0.5f, -0.5f }, old_var[c] = { 2, 1 };
		double want_mean = 0.75 * old_mean[ch] + 0.25 * sum / m;
		double want_var = 0.75 * old_var[ch] + 0.25 * sq / (m - 1);
		assert_float_equal(w[2 * c + ch], want_mean, 1e-5 * fmax(1, fabs(want_mean)));
		assert_float_equal(w[3 * c + ch], want_var, 1e-5 * want_var);
	}
	/* gamma and beta untouched */
	assert_true(w[0] == 1 && w[1] == 1 && w[2] == 0 && w[3] == 0);
	l->ops->destroy(l);
}

static const char config[] =
	"name: bn\n"
	"data: {dataset: mnist}\n"
	"input: [1, 28, 28]\n"
	"layers:\n"
	"  - {type: conv, filters: 3, kernel_size: 3, stride: 2, padding: same}\n"
	"  - {type: batchnorm}\n"
	"  - {type: relu}\n"
	"  - {type: flatten}\n"
	"  - {type: dense, units: 16}\n"
	"  - {type: batchnorm, momentum: 0.5}\n"
	"  - {type: relu}\n"
	"  - {type: dropout, rate: 0.2}\n"
	"  - {type: dense, units: 10}\n"
	"optimizer: {type: adam, lr: 0.01}\n";

static struct net *build(int batch, int threads, uint64_t seed)
{
	return bh_net(config, batch, threads, seed);
}

static void fill_batch(struct net *net, int n, uint64_t seed, int *labels)
{
	uint64_t rng = seed;
	for (size_t i = 0; i < (size_t)n * 28 * 28; i++)
		net->x[i] = test_uniform(&rng, 0, 1);
	for (int i = 0; i < n; i++)
		labels[i] = i % 10;
}

static const struct net_param *find(const struct net *net, const char *name)
{
	for (int i = 0; i < net->n_param_tensors; i++)
		if (!strcmp(net->param_tensors[i].name, name))
			return &net->param_tensors[i];
	fail_msg("no tensor %s", name);
	return NULL;
}

/* `steps` Adam steps on fixed synthetic batches, from fresh optimizer state. */
static void train(struct net *net, int steps)
{
	struct optim opt;
	struct cnn_error err;
	enum { batch = 10 };
	int labels[batch];
	double loss;
	int correct;

	assert_int_equal(optim_create(&opt, &(struct optim_config){ .type = "adam", .lr = 0.01, .beta1 = 0.9,
	                                                             .beta2 = 0.999, .eps = 1e-8 },
	                              net->n_params, net->param_tensors, net->n_param_tensors, &err), 0);
	for (int s = 0; s < steps; s++) {
		fill_batch(net, batch, 100 + (uint64_t)s, labels);
		net_train_step(net, labels, batch, &loss, &correct);
		optim_step(&opt, net->params, net->grads);
	}
	optim_free(&opt);
}

static void test_batchnorm_in_net(void **state)
{
	enum { batch = 10 };
	struct net *net = build(batch, 2, 5);
	int labels[batch];
	double loss;
	int correct;
	const struct net_param *rm = find(net, "batchnorm1.running_mean");
	const struct net_param *rv = find(net, "batchnorm1.running_var");
	const struct net_param *gamma = find(net, "batchnorm1.weight");
	struct optim opt;
	struct cnn_error err;

	(void)state;
	for (size_t j = 0; j < rm->spec.n; j++) {
		assert_true(net->params[rm->offset + j] == 0.0f);
		assert_true(net->params[rv->offset + j] == 1.0f);
		assert_true(net->params[gamma->offset + j] == 1.0f);
	}
	fill_batch(net, batch, 1, labels);
	net_train_step(net, labels, batch, &loss, &correct);
	assert_true(isfinite(loss));
	size_t run = rm->spec.n + rv->spec.n;   /* running_mean then running_var */
	float *after = malloc(run * sizeof(float));
	assert_non_null(after);
	memcpy(after, net->params + rm->offset, run * sizeof(float));
	bool moved = false;
	for (size_t j = 0; j < run; j++) {
		assert_true(net->grads[rm->offset + j] == 0.0f);
		moved |= after[j] != (j < rm->spec.n ? 0.0f : 1.0f);
	}
	assert_true(moved);
	/* Adam with a zero gradient: m and v stay 0, the update is 0 */
	assert_int_equal(optim_create(&opt, &(struct optim_config){ .type = "adam", .lr = 0.01, .beta1 = 0.9,
	                                                             .beta2 = 0.999, .eps = 1e-8 },
	                              net->n_params, net->param_tensors, net->n_param_tensors, &err), 0);
	optim_step(&opt, net->params, net->grads);
	assert_memory_equal(after, net->params + rm->offset, run * sizeof(float));
	assert_true(net->params[gamma->offset] != 1.0f);   /* gamma learns */
	optim_free(&opt);

	/* Evaluation: each sample on its own, as from the running statistics */
	float probs[batch * 10], probs1[10];
	net_eval(net, labels, batch, &loss, NULL, probs);
	for (int i = 0; i < batch; i++) {
		memmove(net->x, net->x + (size_t)i * 28 * 28, 28 * 28 * sizeof(float));
		net_eval(net, labels + i, 1, &loss, NULL, probs1);
		for (int k = 0; k < 10; k++)
			assert_float_equal(probs1[k], probs[i * 10 + k], 1e-6);
		fill_batch(net, batch, 1, labels);
	}
	free(after);
	net_free(net);
}

/* The running statistics after one step are the whole batch's, whatever the
 * thread count (up to rounding); a seed and thread count give the same bits. */
static void test_batchnorm_threads(void **state)
{
	struct net *one = build(10, 1, 5), *two = build(10, 2, 5), *again = build(10, 2, 5);
	int labels[10];
	double loss;
	int correct;

	(void)state;
	fill_batch(one, 10, 1, labels);
	fill_batch(two, 10, 1, labels);
	net_train_step(one, labels, 10, &loss, &correct);
	net_train_step(two, labels, 10, &loss, &correct);
	const struct net_param *rm = find(one, "batchnorm1.running_mean");
	for (size_t j = 0; j < 2 * rm->spec.n; j++)
		assert_float_equal(one->params[rm->offset + j], two->params[rm->offset + j], 1e-5);
	fill_batch(again, 10, 1, labels);
	net_train_step(again, labels, 10, &loss, &correct);
	train(two, 4);
	train(again, 4);
	assert_int_equal(two->n_params, again->n_params);
	assert_memory_equal(two->params, again->params, two->n_params * sizeof(float));
	net_free(one);
	net_free(two);
	net_free(again);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batchnorm_params),
		cmocka_unit_test(test_batchnorm_gradcheck_conv),
		cmocka_unit_test(test_batchnorm_gradcheck_dense),
		cmocka_unit_test(test_batchnorm_train_forward),
		cmocka_unit_test(test_batchnorm_eval_uses_running_stats),
		cmocka_unit_test(test_batchnorm_after_step),
		cmocka_unit_test(test_batchnorm_in_net),
		cmocka_unit_test(test_batchnorm_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
