/* dense: a fully connected layer over the flattened input.
 *
 *   y[i][u] = b[u] + sum_j W[u][j] * x[i][j]
 *
 * NCHW: x (n, in.c, in.h, in.w) read as (n, in) with in = c*h*w, which is how
 * PyTorch's Linear sees a flattened NCHW tensor; y (n, units, 1, 1).
 * W (units, in) as PyTorch stores it, b (units). The whole batch is one sgemm.
 *
 * Gradients (Caffe's convention): backward ADDS dW += dy^T x and db += the
 * column sums of dy, and OVERWRITES dx = dy W (skipped when dx is NULL).
 *
 * ReLU fusion (layer.relu_out, set by the network for a dense layer whose
 * output only a relu reads): forward ends with y = relu_value(y); backward
 * first writes relu's backward, y > 0 ? dy : 0, into scratch (n, units)
 * and uses that as dy. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "layers/layers.h"

struct dense {
	struct layer base;
	int units;
	int in;   /* shape_size(base.in) */
};

static const struct dense *dense_of(const struct layer *l)
{
	return (const struct dense *)l;
}

static void dense_forward(const struct layer *l, const float *w, const float *x, float *y,
                          int n, const struct layer_ctx *ctx)
{
	const struct dense *d = dense_of(l);
	const float *wt = w;                           /* (units, in) */
	const float *b = w + (size_t)d->units * d->in; /* (units) */

	(void)ctx;
	/* Start from the bias so the product can accumulate onto it. */
	for (int i = 0; i < n; i++) {
		float *yi = y + (size_t)i * d->units;
		for (int u = 0; u < d->units; u++)
			yi[u] = b[u];
	}
	/* y (n, units) += x (n, in) x W^T (in, units) */
	cnn_gemm(false, true, n, d->units, d->in, 1.0f, x, wt, 1.0f, y);
	if (l->relu_out)
		relu_apply(y, (size_t)n * d->units);
}

static void dense_backward(const struct layer *l, const float *w, const float *x,
                           const float *y, const float *dy, float *dx, float *dw, int n,
                           const struct layer_ctx *ctx)
{
	const struct dense *d = dense_of(l);
	const float *wt = w;                              /* (units, in) */
	float *dwt = dw;                                  /* (units, in) */
	float *db = dw + (size_t)d->units * d->in;        /* (units) */

	if (l->relu_out) {
		float *masked = ctx->scratch;   /* (n, units) */
		relu_mask(y, dy, masked, (size_t)n * d->units);
		dy = masked;
	}
	/* dW (units, in) += dy^T (units, n) x x (n, in) */
	cnn_gemm(true, false, d->units, d->in, n, 1.0f, dy, x, 1.0f, dwt);
	for (int i = 0; i < n; i++) {
		const float *dyi = dy + (size_t)i * d->units;
		for (int u = 0; u < d->units; u++)
			db[u] += dyi[u];
	}
	/* dx (n, in) = dy (n, units) x W (units, in) */
	if (dx)
		cnn_gemm(false, false, n, d->in, d->units, 1.0f, dy, wt, 0.0f, dx);
}

static int dense_params(const struct layer *l, struct param_spec *out)
{
	const struct dense *d = dense_of(l);

	out[0] = (struct param_spec){
		.name = "weight",
		.n = (size_t)d->units * d->in,
		.ndim = 2,
		.dims = { d->units, d->in },
		.fan_in = d->in,
		.decay = true,
	};
	out[1] = (struct param_spec){
		.name = "bias",
		.n = (size_t)d->units,
		.ndim = 1,
		.dims = { d->units },
		.fan_in = 0,
		.decay = false,
	};
	return 2;
}

/* relu_out's masked dy (n, units); asked for whether or not the layer is
 * fused, so that memory estimates made before fusion hold. */
static size_t dense_scratch_floats(const struct layer *l, int n)
{
	return (size_t)n * (size_t)dense_of(l)->units;
}

static double dense_flops(const struct layer *l)
{
	const struct dense *d = dense_of(l);

	return 2.0 * d->units * (double)d->in;
}

static void dense_describe(const struct layer *l, char *buf, size_t len)
{
	const struct dense *d = dense_of(l);

	snprintf(buf, len, "%d->%d", d->in, d->units);
}

static void dense_destroy(struct layer *l)
{
	free(l);
}

static const struct layer_ops dense_ops = {
	.type = "dense",
	.forward = dense_forward,
	.backward = dense_backward,
	.params = dense_params,
	.scratch_floats = dense_scratch_floats,
	.flops = dense_flops,
	.describe = dense_describe,
	.destroy = dense_destroy,
	.fuses_relu = true,
};

int dense_create(struct cfg_node *args, struct shape in, struct layer **out,
                 struct cnn_error *err)
{
	struct cnn_loc at = args ? args->loc : (struct cnn_loc){ 0 };
	size_t nin = shape_size(in);
	long units;

	if (cfg_int(args, "units", CFG_REQUIRED, 0, 1, 1L << 24, &units, "dense", err))
		return -1;
	/* BLAS and param_spec count in int. */
	if (nin > (size_t)INT_MAX || (size_t)units * nin > (size_t)INT_MAX)
		return cnn_errorf(err, at, "dense: too large: %ld units on an input of %zu values",
		                  units, nin);

	struct dense *d = calloc(1, sizeof(*d));
	if (!d)
		return cnn_errorf(err, at, "dense: out of memory");
	d->base.ops = &dense_ops;
	d->base.in = in;
	d->base.out = (struct shape){ (int)units, 1, 1 };
	d->units = (int)units;
	d->in = (int)nin;
	*out = &d->base;
	return 0;
}
