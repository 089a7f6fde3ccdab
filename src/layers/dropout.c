/* dropout: inverted dropout, elementwise.
 *
 *   training:   y = x * m / (1 - rate), m = 0 with probability rate, else 1
 *   evaluation: y = x
 *
 * NCHW: x and y (n, c, h, w), same shape. No parameters. Key: rate in [0, 1).
 *
 * The mask is never stored: element e of the batch's sample s keeps its value
 * when a hash of (ctx->step_seed, ctx->layer, s, e) lies at or above
 * rate * 2^32, where s = ctx->sample0 + i is the index in the whole batch. So
 * it is the same whichever thread runs the sample, a seed and a step give the
 * same mask on every machine, and backward recomputes forward's mask.
 *
 * Gradients: backward OVERWRITES dx = dy * m / (1 - rate) (dx = dy in
 * evaluation); nothing to accumulate. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layers.h"

struct dropout {
	struct layer base;
	float rate;
	float scale;        /* 1 / (1 - rate) */
	uint32_t threshold; /* dropped when the hash's top 32 bits are below it */
};

static const struct dropout *dropout_of(const struct layer *l)
{
	return (const struct dropout *)l;
}

/* splitmix64's finaliser: every input bit reaches every output bit. */
static uint64_t dropout_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* The hash state of batch sample `sample` in this step and layer. */
static uint64_t dropout_sample_key(const struct layer_ctx *ctx, int sample)
{
	uint64_t where = ((uint64_t)(uint32_t)ctx->layer << 32) | (uint32_t)sample;
	return dropout_mix(ctx->step_seed ^ dropout_mix(where + 0x632be59bd9b4e019u));
}

static bool dropout_keep(const struct dropout *d, uint64_t key, size_t e)
{
	uint64_t h = dropout_mix(key + (uint64_t)e * 0x9e3779b97f4a7c15u);
	return (uint32_t)(h >> 32) >= d->threshold;
}

/* out = in * m * scale over n samples; both dropout directions are this. */
static void dropout_apply(const struct dropout *d, const float *in, float *out, int n,
                          const struct layer_ctx *ctx)
{
	size_t per = shape_size(d->base.in);

	if (!ctx->train || d->threshold == 0) {
		if (out != in)
			memcpy(out, in, (size_t)n * per * sizeof(*out));
		return;
	}
	for (int i = 0; i < n; i++) {
		uint64_t key = dropout_sample_key(ctx, ctx->sample0 + i);
		const float *a = in + (size_t)i * per;
		float *b = out + (size_t)i * per;
		for (size_t e = 0; e < per; e++)
			b[e] = dropout_keep(d, key, e) ? a[e] * d->scale : 0.0f;
	}
}

static void dropout_forward(const struct layer *l, const float *w, const float *x, float *y,
                            int n, const struct layer_ctx *ctx)
{
	(void)w;
	dropout_apply(dropout_of(l), x, y, n, ctx);
}

static void dropout_backward(const struct layer *l, const float *w, const float *x,
                             const float *y, const float *dy, float *dx, float *dw, int n,
                             const struct layer_ctx *ctx)
{
	(void)w;
	(void)x;
	(void)y;
	(void)dw;
	if (dx)
		dropout_apply(dropout_of(l), dy, dx, n, ctx);
}

static void dropout_describe(const struct layer *l, char *buf, size_t len)
{
	snprintf(buf, len, "rate %g", (double)dropout_of(l)->rate);
}

static void dropout_destroy(struct layer *l)
{
	free(l);
}

/* Dropped units pass no gradient. */
static double dropout_dx_density(const struct layer *l, double dy_density)
{
	return dy_density * (1.0 - (double)dropout_of(l)->rate);
}

static const struct layer_ops dropout_ops = {
	.type = "dropout",
	.forward = dropout_forward,
	.backward = dropout_backward,
	.dx_density = dropout_dx_density,
	.describe = dropout_describe,
	.destroy = dropout_destroy,
	.inplace = true,
};

int dropout_create(struct cfg_node *args, struct shape in, struct layer **out,
                   struct cnn_error *err)
{
	struct cnn_loc at = args ? args->loc : (struct cnn_loc){ 0 };
	struct cfg_node *given = cfg_get(args, "rate");
	double rate;

	/* cfg_float's range is closed; rate 1 would drop everything and divide
	 * by zero, so the half-open range is checked here first. */
	if (given && given->kind == CFG_SCALAR && !given->quoted &&
	    !cfg_parse_double(given->text, &rate) && (rate < 0.0 || rate >= 1.0))
		return cnn_errorf(err, given->loc,
		                  "dropout: 'rate' must be a number in [0, 1), got %g", rate);
	if (cfg_float(args, "rate", CFG_REQUIRED, 0.0, 0.0, 1.0, &rate, "dropout", err))
		return -1;

	struct dropout *d = calloc(1, sizeof(*d));
	if (!d)
		return cnn_errorf(err, at, "dropout: out of memory");
	d->base.ops = &dropout_ops;
	d->base.in = in;
	d->base.out = in;
	d->rate = (float)rate;
	d->scale = (float)(1.0 / (1.0 - rate));
	/* rate < 1, but a rate within 2^-33 of 1 would round up to 2^32 */
	double threshold = rate * 4294967296.0;
	d->threshold = threshold < 4294967295.0 ? (uint32_t)threshold : UINT32_MAX;
	*out = &d->base;
	return 0;
}
