/* batchnorm: batch normalisation, per channel (after conv) or per feature
 * (after dense or flatten, whose output is (units, 1, 1)).
 *
 *   training:   y = gamma * (x - mean_B) / sqrt(var_B + eps) + beta
 *   evaluation: y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta
 *
 * mean_B and var_B (biased) are taken per channel c over the n*h*w values of
 * the samples this call is given. NCHW: x and y (n, c, h, w), same shape.
 * Parameters, in this order, each (c): weight (gamma, starts at 1), bias
 * (beta, 0), running_mean (0), running_var (1); none takes weight decay.
 * Keys: momentum (default 0.1), eps (default 1e-5).
 *
 * Threads ("ghost batches"). The network runs a training step as one
 * contiguous chunk of the batch per thread, each through every layer on its
 * own. A training forward normalises with the statistics of its own chunk,
 * so with T threads the batch is normalised as T smaller batches, as in
 * ghost batch normalisation; with one thread it is the textbook layer. The
 * result depends on the thread count, and for a given seed and thread count
 * it is bit for bit the same.
 *
 * Running statistics. running_mean and running_var live in the flat parameter
 * array, so checkpoints and exports carry them, but backward leaves their
 * gradient at 0: an optimizer does not move them (Adam's m and v stay 0, so
 * its update is 0; they take no weight decay). forward cannot write them (w
 * is const, and threads run at once), so each training forward leaves its
 * chunk's count, mean and sum of squared deviations in ctx->stats, and
 * after_step, called by the network once per step after the threads joined,
 * merges the chunks in thread order (Chan's parallel variance) into the whole
 * batch's mean and unbiased variance and moves the running values:
 *   running = (1 - momentum) * running + momentum * batch value   (PyTorch's)
 * A layer run with no ctx->stats (a test) keeps no statistics.
 *
 * Gradients (Caffe's convention): backward ADDS dgamma += sum dy * xhat and
 * dbeta += sum dy, and OVERWRITES, in training,
 *   dx = gamma / sqrt(var_B + eps) * (dy - mean(dy) - xhat * mean(dy * xhat))
 * with the means over the channel's n*h*w values and forward's mean_B and
 * var_B: those its statistics left in ctx->stats (layer.h), or recomputed
 * from x with forward's kernels where a caller keeps none (a test), the
 * same bits either way. In evaluation
 * dx = dy * gamma / sqrt(running_var + eps).
 *
 * The sums (src/kernels/bn_lanes.c, chosen per ISA like every kernel) are
 * in double, spread over 16 lanes by position in the plane and combined in
 * a fixed order, so that a config, seed and thread count give the same bits
 * on every x86-64 CPU. Per channel: forward makes three passes over x (the
 * mean; the squared deviations from it; normalise, scale and shift into y),
 * backward two (sum dy and sum dy * (x - mean) together; dx), evaluation
 * one.
 *
 * Fused ReLU (layer.relu_out, set by the network): forward ends with
 * y = relu_value(y) in its last pass, and backward reads dy as 0 where
 * y <= 0 (y then being the ReLU's output), as relu.c would have, telling
 * where from x rather than by reading y (struct bn_relu); the bits are
 * those of batchnorm followed by relu. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/bn_lanes.h"
#include "kernels/dispatch.h"
#include "layers/layers.h"

struct batchnorm {
	struct layer base;
	int c;          /* channels (features) */
	int hw;         /* h * w values per channel per sample */
	double momentum;
	double eps;
};

static const struct batchnorm *batchnorm_of(const struct layer *l)
{
	return (const struct batchnorm *)l;
}

/* Views of the layer's parameter run, each (c). */
struct bn_params {
	const float *gamma, *beta, *mean, *var;
};

static struct bn_params bn_params_of(const struct batchnorm *b, const float *w)
{
	size_t c = (size_t)b->c;
	return (struct bn_params){ w, w + c, w + 2 * c, w + 3 * c };
}

/* Channel ch of an (n, c, h, w) tensor: its first plane; the next sample's
 * is stride floats further. */
static size_t chan_off(const struct batchnorm *b, int ch)
{
	return (size_t)ch * (size_t)b->hw;
}

/* The batch mean of channel ch over its n*h*w values: a lane-structured
 * double sum (kernels/bn_lanes.h) whose bits do not depend on the CPU. The
 * squared deviations from it (M2) are a second pass of the same kind, so
 * the variance suffers no cancellation. */
static double bn_batch_mean(const struct batchnorm *b, const struct bn_kernels *k,
                            const float *x, int n, int ch)
{
	size_t hw = (size_t)b->hw;
	return k->sum(x + chan_off(b, ch), n, hw, (size_t)b->c * hw) / ((double)n * (double)hw);
}

/* 1 / sqrt(var + eps) in double (forward and backward round it to float
 * alike) */
static double bn_inv_std(const struct batchnorm *b, double var)
{
	return 1.0 / sqrt(var + b->eps);
}

static void batchnorm_forward(const struct layer *l, const float *w, const float *x, float *y,
                              int n, const struct layer_ctx *ctx)
{
	const struct batchnorm *b = batchnorm_of(l);
	const struct bn_kernels *k = cnn_kernels()->bn;
	struct bn_params p = bn_params_of(b, w);
	size_t hw = (size_t)b->hw, stride = (size_t)b->c * hw;
	double m = (double)n * (double)hw;
	double *stats = ctx->train ? ctx->stats : NULL;   /* (1 + 2c): count, means, M2s */

	if (stats)
		stats[0] = m;
	for (int ch = 0; ch < b->c; ch++) {
		const float *xc = x + chan_off(b, ch);
		double mu, var;
		if (ctx->train) {
			mu = bn_batch_mean(b, k, x, n, ch);
			double m2 = k->sqdev(xc, n, hw, stride, mu);
			var = m2 / m;
			if (stats) {
				stats[1 + ch] = mu;
				stats[1 + b->c + ch] = m2;
			}
		} else {
			mu = p.mean[ch];
			var = p.var[ch];
		}
		/* one pass: normalise, scale, shift (and the fused ReLU) */
		k->affine(xc, y + chan_off(b, ch), n, hw, stride, (float)mu,
		          p.gamma[ch] * (float)bn_inv_std(b, var), p.beta[ch], l->relu_out);
	}
}

/* With relu_out, dy is read as 0 where the fused ReLU's output is 0
 * (relu.c's backward, done by the kernels as they read dy): where forward's
 * affine value, recomputed from x with forward's float operations, is
 * <= 0, so that y need not be read. In training, mean_B and M2 come from
 * the statistics this thread's forward left in ctx->stats for the same x
 * (layer.h), or else are recomputed from x with forward's kernels: the
 * same bits either way. */
static void batchnorm_backward(const struct layer *l, const float *w, const float *x,
                               const float *y, const float *dy, float *dx, float *dw, int n,
                               const struct layer_ctx *ctx)
{
	const struct batchnorm *b = batchnorm_of(l);
	const struct bn_kernels *k = cnn_kernels()->bn;
	struct bn_params p = bn_params_of(b, w);
	float *dgamma = dw, *dbeta = dw + b->c;   /* running stats: gradient stays 0 */
	size_t hw = (size_t)b->hw, stride = (size_t)b->c * hw;
	double m = (double)n * (double)hw;
	/* (1 + 2c): count, means, M2s, when they are this call's */
	const double *stats = ctx->train && ctx->stats && ctx->stats[0] == m ? ctx->stats : NULL;

	(void)y;
	for (int ch = 0; ch < b->c; ch++) {
		size_t off = chan_off(b, ch);
		/* in evaluation the statistics are constants (the running ones);
		 * in training mean_B and var_B with forward's bits */
		double mu = p.mean[ch], var = p.var[ch];
		if (ctx->train && stats) {
			mu = stats[1 + ch];
			var = stats[1 + b->c + ch] / m;
		} else if (ctx->train) {
			mu = bn_batch_mean(b, k, x, n, ch);
			var = k->sqdev(x + off, n, hw, stride, mu) / m;
		}
		double inv_std = bn_inv_std(b, var);
		float inv_std_f = (float)inv_std, g = p.gamma[ch] * inv_std_f;
		struct bn_relu relu = { (float)mu, g, p.beta[ch] };   /* forward's affine */
		const struct bn_relu *r = l->relu_out ? &relu : NULL;
		struct bn_grad_sums s;
		k->grad_sums(x + off, r, dy + off, n, hw, stride, mu, &s);
		double sum_dy_xhat = s.dy_dev * inv_std;   /* sum dy * xhat */
		dgamma[ch] += (float)sum_dy_xhat;
		dbeta[ch] += (float)s.dy;
		if (!dx)
			continue;
		float mean_dy = ctx->train ? (float)(s.dy / m) : 0.0f;
		float mean_dy_xhat = ctx->train ? (float)(sum_dy_xhat / m) : 0.0f;
		k->dx(x + off, r, dy + off, dx + off, n, hw, stride, (float)mu, inv_std_f, g, mean_dy,
		      mean_dy_xhat);
	}
}

static size_t batchnorm_stats_doubles(const struct layer *l)
{
	return 1 + 2 * (size_t)batchnorm_of(l)->c;
}

static void batchnorm_after_step(const struct layer *l, float *w, const double *stats, int threads)
{
	const struct batchnorm *b = batchnorm_of(l);
	size_t c = (size_t)b->c, row = batchnorm_stats_doubles(l);
	float *run_mean = w + 2 * c, *run_var = w + 3 * c;

	for (size_t ch = 0; ch < c; ch++) {
		double count = 0, mean = 0, m2 = 0;
		for (int t = 0; t < threads; t++) {
			const double *s = stats + (size_t)t * row;
			double cb = s[0], mb = s[1 + ch], total = count + cb, delta = mb - mean;
			mean += delta * cb / total;
			m2 += s[1 + c + ch] + delta * delta * count * cb / total;
			count = total;
		}
		double var = count > 1 ? m2 / (count - 1) : 0.0;   /* unbiased, as PyTorch keeps */
		run_mean[ch] = (float)((1 - b->momentum) * run_mean[ch] + b->momentum * mean);
		run_var[ch] = (float)((1 - b->momentum) * run_var[ch] + b->momentum * var);
	}
}

static int batchnorm_params(const struct layer *l, struct param_spec *out)
{
	const struct batchnorm *b = batchnorm_of(l);
	static const char *const names[4] = { "weight", "bias", "running_mean", "running_var" };
	static const float init[4] = { 1.0f, 0.0f, 0.0f, 1.0f };

	for (int i = 0; i < 4; i++)
		out[i] = (struct param_spec){
			.name = names[i],
			.n = (size_t)b->c,
			.ndim = 1,
			.dims = { b->c },
			.fan_in = 0,
			.decay = false,
			.init_value = init[i],
		};
	return 4;
}

static double batchnorm_flops(const struct layer *l)
{
	const struct batchnorm *b = batchnorm_of(l);

	return 2.0 * b->c * (double)b->hw;   /* a multiply and an add per value */
}

static void batchnorm_describe(const struct layer *l, char *buf, size_t len)
{
	const struct batchnorm *b = batchnorm_of(l);

	snprintf(buf, len, "%d %s, momentum %g", b->c, b->hw > 1 ? "channels" : "features",
	         b->momentum);
}

static void batchnorm_destroy(struct layer *l)
{
	free(l);
}

static void batchnorm_attrs(const struct layer *l, struct layer_attrs *a)
{
	*a = (struct layer_attrs){ .value = batchnorm_of(l)->eps };
}

static const struct layer_ops batchnorm_ops = {
	.type = "batchnorm",
	.forward = batchnorm_forward,
	.backward = batchnorm_backward,
	.params = batchnorm_params,
	.flops = batchnorm_flops,
	.describe = batchnorm_describe,
	.stats_doubles = batchnorm_stats_doubles,
	.after_step = batchnorm_after_step,
	.destroy = batchnorm_destroy,
	.attrs = batchnorm_attrs,
	.inplace = true,
	.fuses_relu = true,
};

int batchnorm_create(struct cfg_node *args, struct shape in, struct layer **out,
                     struct cnn_error *err)
{
	struct cnn_loc at = args ? args->loc : (struct cnn_loc){ 0 };
	double momentum, eps;

	if (cfg_float(args, "momentum", CFG_OPTIONAL, 0.1, 0.0, 1.0, &momentum, "batchnorm", err) ||
	    cfg_float_positive(args, "eps", CFG_OPTIONAL, 1e-5, 1.0, &eps, "batchnorm", err))
		return -1;

	struct batchnorm *b = calloc(1, sizeof(*b));
	if (!b)
		return cnn_errorf(err, at, "batchnorm: out of memory");
	b->base.ops = &batchnorm_ops;
	b->base.in = in;
	b->base.out = in;
	b->c = in.c;
	b->hw = in.h * in.w;
	b->momentum = momentum;
	b->eps = eps;
	*out = &b->base;
	return 0;
}
