/* batchnorm: keys and parameters, gradient checks in training mode (after a
 * conv and after a dense layer, and with the fused ReLU), the normalised
 * training output, evaluation from the running statistics, after_step's
 * merge of per-thread chunks into the whole batch's statistics, the fused
 * ReLU bit for bit against batchnorm then relu, the kernels' lane-structured
 * sums against their definition at every ISA level, and in a network:
 * running statistics move, their gradient is 0, Adam leaves them alone, and
 * a seed and thread count give the same bits. */
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
#include "kernels/bn_lanes.h"
#include "kernels/dispatch.h"
#include "layers/layers.h"
#include "net/net.h"
#include "optim/optim.h"
#include "gradcheck.h"
#include "build_helpers.h"
#include "testutil.h"

static struct layer *make(const char *yaml, struct shape in)
{
	return gradcheck_layer_or_fail(batchnorm_create, "batchnorm", yaml, in);
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

/* relu_out: the derivative of relu(batchnorm(x)), kinks skipped */
static void test_batchnorm_relu_gradcheck(void **state)
{
	struct shape shapes[] = { { 3, 4, 5 }, { 6, 1, 1 } };

	(void)state;
	for (int k = 0; k < 2; k++) {
		struct layer *l = make("{}", shapes[k]);
		struct gradcheck_opts o = { .seed = 31 + (uint64_t)k, .skip_kinks = true };
		struct gradcheck_result res;
		l->relu_out = true;
		assert_int_equal(gradcheck_layer(l, 5, NULL, NULL, &o, &res), 0);
		assert_true(res.checked > (int)(5 * shape_size(shapes[k])) / 2);
		l->ops->destroy(l);
	}
}

/* Random gamma, beta, running mean and (positive) running variance. */
static void fill_params(float *w, int c, uint64_t *rng)
{
	for (int ch = 0; ch < c; ch++) {
		w[ch] = test_uniform(rng, -1.5f, 1.5f);
		w[c + ch] = test_uniform(rng, -0.5f, 0.5f);
		w[2 * c + ch] = test_uniform(rng, -0.5f, 0.5f);
		w[3 * c + ch] = test_uniform(rng, 0.2f, 2.0f);
	}
}

/* batchnorm with relu_out gives, bit for bit, what batchnorm then relu
 * give: y, dx and dw, in training and in evaluation, and evaluation in
 * place (y == x) gives the same y. In training the fused layer's backward
 * reads the statistics its forward left (as in a network) and the others
 * recompute them: the same bits, with and without the ReLU. */
static void test_batchnorm_relu_fused_bits(void **state)
{
	struct shape shapes[] = { { 3, 7, 7 }, { 2, 4, 5 }, { 5, 1, 1 }, { 4, 4, 4 } };
	struct cnn_error err;

	(void)state;
	for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
		struct shape in = shapes[k];
		enum { n = 6 };
		size_t count = n * shape_size(in), nw = 4 * (size_t)in.c;
		struct layer *fused = make("{}", in), *bn = make("{}", in), *relu;
		assert_int_equal(relu_create(NULL, in, &relu, &err), 0);
		fused->relu_out = true;
		uint64_t rng = 40 + k;
		float *x = test_random_floats(count, &rng), *dy = test_random_floats(count, &rng);
		float *yf = malloc(count * sizeof(float)), *yb = malloc(count * sizeof(float));
		float *yr = malloc(count * sizeof(float)), *dr = malloc(count * sizeof(float));
		float *dxf = malloc(count * sizeof(float)), *dxs = malloc(count * sizeof(float));
		float *w = malloc(nw * sizeof(float));
		float *dwf = calloc(nw, sizeof(float)), *dws = calloc(nw, sizeof(float));
		assert_true(yf && yb && yr && dr && dxf && dxs && w && dwf && dws);
		fill_params(w, in.c, &rng);
		dy[0] = -0.0f;
		for (int train = 0; train < 2; train++) {
			double stats[1 + 2 * 5];   /* (1 + 2c) */
			struct layer_ctx ctx = { .train = train };
			struct layer_ctx kept = { .train = train, .stats = train ? stats : NULL };
			fused->ops->forward(fused, w, x, yf, n, &kept);
			fused->ops->backward(fused, w, x, yf, dy, dxf, dwf, n, &kept);
			bn->ops->forward(bn, w, x, yb, n, &ctx);
			relu->ops->forward(relu, NULL, yb, yr, n, &ctx);
			relu->ops->backward(relu, NULL, yb, yr, dy, dr, NULL, n, &ctx);
			bn->ops->backward(bn, w, x, yb, dr, dxs, dws, n, &ctx);
			assert_memory_equal(yf, yr, count * sizeof(float));
			assert_memory_equal(dxf, dxs, count * sizeof(float));
			assert_memory_equal(dwf, dws, nw * sizeof(float));
			/* batchnorm alone, from its statistics */
			memcpy(dwf, dws, nw * sizeof(float));
			bn->ops->forward(bn, w, x, yr, n, &kept);
			bn->ops->backward(bn, w, x, yr, dr, dxf, dwf, n, &kept);
			bn->ops->backward(bn, w, x, yb, dr, dxs, dws, n, &ctx);
			assert_memory_equal(dxf, dxs, count * sizeof(float));
			assert_memory_equal(dwf, dws, nw * sizeof(float));
			bool clipped = false;
			for (size_t i = 0; i < count; i++)
				clipped |= yb[i] < 0.0f;
			assert_true(clipped);   /* the ReLU had work to do */
			if (train)
				continue;
			memcpy(yb, x, count * sizeof(float));
			fused->ops->forward(fused, w, yb, yb, n, &ctx);
			assert_memory_equal(yb, yf, count * sizeof(float));
			memcpy(yr, x, count * sizeof(float));
			bn->ops->forward(bn, w, yr, yr, n, &ctx);
			relu->ops->forward(relu, NULL, yr, yr, n, &ctx);
			assert_memory_equal(yr, yf, count * sizeof(float));
		}
		free(x), free(dy), free(yf), free(yb), free(yr), free(dr), free(dxf), free(dxs);
		free(w), free(dwf), free(dws);
		fused->ops->destroy(fused);
		bn->ops->destroy(bn);
		relu->ops->destroy(relu);
	}
}

/* The definition of bn_lanes.h, written out as plainly as possible: value p
 * of each plane into lane p % BN_LANES, in plane order, then the pairwise
 * combination. term(i, p) is the value added. */
struct lane_ref {
	double lane[BN_LANES];
};

static double lane_ref_total(struct lane_ref *r)
{
	for (int w = BN_LANES / 2; w >= 1; w /= 2)
		for (int j = 0; j < w; j++)
			r->lane[j] += r->lane[j + w];
	return r->lane[0];
}

/* The sums of grad_sums, and sqdev's as sq, by the definition; relu_y:
 * the fused ReLU's output, where it is > 0 dy counts. */
static void grad_ref(const float *x, const float *relu_y, const float *dy, int n, size_t hw,
                     size_t stride, double mean, struct bn_grad_sums *out, double *sq_out)
{
	struct lane_ref sq = { { 0 } }, sdy = { { 0 } }, sdd = { { 0 } };

	for (int i = 0; i < n; i++)
		for (size_t p = 0; p < hw; p++) {
			size_t at = (size_t)i * stride + p;
			double d = (double)x[at] - mean;
			float g = relu_y && !(relu_y[at] > 0.0f) ? 0.0f : dy[at];
			sq.lane[p % BN_LANES] += d * d;
			sdy.lane[p % BN_LANES] += (double)g;
			sdd.lane[p % BN_LANES] += (double)g * d;
		}
	*sq_out = lane_ref_total(&sq);
	out->dy = lane_ref_total(&sdy);
	out->dy_dev = lane_ref_total(&sdd);
}

static double sum_ref(const float *x, int n, size_t hw, size_t stride)
{
	struct lane_ref s = { { 0 } };

	for (int i = 0; i < n; i++)
		for (size_t p = 0; p < hw; p++)
			s.lane[p % BN_LANES] += (double)x[(size_t)i * stride + p];
	return lane_ref_total(&s);
}

static bool same_bits(double a, double b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

/* One level's kernels on channel 1 of an (n, 3, hw) tensor against the
 * definition, bit for bit; the elementwise passes against the formulas. */
static void check_level(const struct bn_kernels *k, size_t hw, uint64_t seed)
{
	enum { n = 5, c = 3 };
	size_t stride = c * hw, count = n * stride;
	uint64_t rng = seed;
	float *x = test_random_floats(count, &rng), *dy = test_random_floats(count, &rng);
	float *y = malloc(count * sizeof(float)), *dx = malloc(count * sizeof(float));
	const float *x1 = x + hw, *dy1 = dy + hw;
	/* forward's affine pass, whose ReLU backward reads through bn_relu */
	const struct bn_relu affine = { 0.25f, 1.5f, -0.125f };
	assert_true(y && dx);
	for (size_t i = 0; i < count; i++)
		x[i] = 3.0f + 2.0f * x[i];   /* a mean far from 0 */

	double mean = sum_ref(x1, n, hw, stride) / (double)(n * hw), sq;
	assert_true(same_bits(k->sum(x1, n, hw, stride), sum_ref(x1, n, hw, stride)));
	struct bn_grad_sums want, got;
	for (int relu = 0; relu < 2; relu++) {
		memset(y, 0, count * sizeof(float));
		k->affine(x1, y + hw, n, hw, stride, affine.mean, affine.scale, affine.shift, relu);
		/* the ReLU's output as forward stored it says where dy counts */
		grad_ref(x1, relu ? y + hw : NULL, dy1, n, hw, stride, mean, &want, &sq);
		k->grad_sums(x1, relu ? &affine : NULL, dy1, n, hw, stride, mean, &got);
		assert_true(same_bits(got.dy, want.dy) && same_bits(got.dy_dev, want.dy_dev));
		assert_true(same_bits(k->sqdev(x1, n, hw, stride, mean), sq));

		memset(dx, 0, count * sizeof(float));
		k->dx(x1, relu ? &affine : NULL, dy1, dx + hw, n, hw, stride, 0.25f, 0.75f, 1.25f, 0.0625f, -0.5f);
		for (int i = 0; i < n; i++)
			for (size_t q = 0; q < stride; q++) {
				size_t at = (size_t)i * stride + q;
				bool mine = q >= hw && q < 2 * hw;   /* channel 1 */
				float v = (x[at] - 0.25f) * 1.5f + -0.125f;
				float yw = mine ? (relu ? relu_value(v) : v) : 0.0f;
				float g = relu && !(yw > 0.0f) ? 0.0f : dy[at];
				float xhat = (x[at] - 0.25f) * 0.75f;
				float d = 1.25f * (g - 0.0625f - xhat * -0.5f);
				assert_memory_equal(&y[at], &yw, sizeof(float));
				assert_memory_equal(&dx[at], mine ? &d : &(float){ 0.0f }, sizeof(float));
			}
	}
	/* evaluation in place */
	memcpy(y, x, count * sizeof(float));
	k->affine(y + hw, y + hw, n, hw, stride, 0.25f, 1.5f, -0.125f, true);
	for (int i = 0; i < n; i++)
		for (size_t p = 0; p < hw; p++) {
			size_t at = (size_t)i * stride + hw + p;
			float v = relu_value((x[at] - 0.25f) * 1.5f + -0.125f);
			assert_memory_equal(&y[at], &v, sizeof(float));
		}
	free(x), free(dy), free(y), free(dx);
}

/* Every level this build and CPU have gives the definition's bits, for
 * planes shorter than the lanes, a whole number of them, and with a tail
 * (resnet-mnist's 7x7 and 14x14). */
static void test_batchnorm_kernel_levels(void **state)
{
	static const size_t hws[] = { 1, 3, 16, 17, 49, 196 };
	bool missing = false;

	(void)state;
	for (int lv = 0; lv < CNN_ISA_LEVELS; lv++) {
		const struct cnn_kernel_ops *ops = cnn_kernels_level(cnn_isa_names[lv]);
		if (!ops) {
			missing = true;
			continue;
		}
		for (size_t h = 0; h < sizeof hws / sizeof hws[0]; h++)
			check_level(ops->bn, hws[h], 60 + h);
	}
	if (missing)
		test_skip("not every kernel level runs here: the others were compared");
}

/* Two passes in double: a channel whose mean is 1e4 times its spread still
 * gets its variance to float precision. */
static void test_batchnorm_variance_far_mean(void **state)
{
	enum { n = 8, hw = 50 };
	float x[n * hw];
	uint64_t rng = 77;
	const struct bn_kernels *k = cnn_kernels()->bn;

	(void)state;
	for (int i = 0; i < n * hw; i++)
		x[i] = 10000.0f + test_uniform(&rng, -1, 1);
	long double s = 0, q = 0;
	for (int i = 0; i < n * hw; i++)
		s += x[i];
	long double mu = s / (n * hw);
	for (int i = 0; i < n * hw; i++)
		q += (x[i] - mu) * (x[i] - mu);
	double mean = k->sum(x, n, hw, hw) / (n * hw);
	double m2 = k->sqdev(x, n, hw, hw, mean);
	assert_float_equal(mean, (double)mu, 1e-12 * 10000);
	assert_float_equal(m2, (double)q, 1e-9 * (double)q);
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
		cmocka_unit_test(test_batchnorm_relu_gradcheck),
		cmocka_unit_test(test_batchnorm_relu_fused_bits),
		cmocka_unit_test(test_batchnorm_kernel_levels),
		cmocka_unit_test(test_batchnorm_variance_far_mean),
	};
	return test_exit_status(cmocka_run_group_tests(tests, NULL, NULL));
}
