/* leaky_relu: y = x if x > 0, else slope * x, elementwise; slope in [0, 1).
 *
 * NCHW: x and y (n, c, h, w), same shape. No parameters; key `slope`
 * (default 0.01, Keras's 0.3 and PyTorch's 0.01 differ: ours is PyTorch's).
 *
 * Gradients: backward OVERWRITES dx = dy where y > 0, else slope * dy. As in
 * relu the test is on y: for slope >= 0, y > 0 exactly when x > 0. At the
 * kink x = 0 the left slope is taken, as PyTorch does. */
#include <stdio.h>
#include <stdlib.h>

#include "layers/layers.h"

struct leaky_relu {
	struct layer base;
	float slope;
};

static const struct leaky_relu *leaky_relu_of(const struct layer *l)
{
	return (const struct leaky_relu *)l;
}

static void leaky_relu_forward(const struct layer *l, const float *w, const float *x, float *y,
                               int n, const struct layer_ctx *ctx)
{
	size_t count = (size_t)n * shape_size(l->in);
	float slope = leaky_relu_of(l)->slope;

	(void)w;
	(void)ctx;
	for (size_t i = 0; i < count; i++)
		y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}

static void leaky_relu_backward(const struct layer *l, const float *w, const float *x,
                                const float *y, const float *dy, float *dx, float *dw, int n,
                                const struct layer_ctx *ctx)
{
	size_t count = (size_t)n * shape_size(l->in);
	float slope = leaky_relu_of(l)->slope;

	(void)w;
	(void)x;
	(void)dw;
	(void)ctx;
	if (!dx)
		return;
	for (size_t i = 0; i < count; i++)
		dx[i] = y[i] > 0.0f ? dy[i] : slope * dy[i];
}

static void leaky_relu_describe(const struct layer *l, char *buf, size_t len)
{
	snprintf(buf, len, "slope %g", (double)leaky_relu_of(l)->slope);
}

static void leaky_relu_destroy(struct layer *l)
{
	free(l);
}

static void leaky_relu_attrs(const struct layer *l, struct layer_attrs *a)
{
	*a = (struct layer_attrs){ .value = leaky_relu_of(l)->slope };
}

static const struct layer_ops leaky_relu_ops = {
	.type = "leaky_relu",
	.dx_density = layer_density_same,
	.forward = leaky_relu_forward,
	.backward = leaky_relu_backward,
	.describe = leaky_relu_describe,
	.destroy = leaky_relu_destroy,
	.attrs = leaky_relu_attrs,
};

int leaky_relu_create(struct cfg_node *args, struct shape in, struct layer **out,
                      struct cnn_error *err)
{
	struct cnn_loc at = args ? args->loc : (struct cnn_loc){ 0 };
	struct cfg_node *given = cfg_get(args, "slope");
	double slope;

	/* cfg_float's range is closed, and 1 (the identity) is refused too: a
	 * number out of range is reported here, with the half-open range. */
	if (given && given->kind == CFG_SCALAR && !given->quoted &&
	    !cfg_parse_double(given->text, &slope) && (slope < 0.0 || slope >= 1.0))
		return cnn_errorf(err, given->loc,
		                  "leaky_relu: 'slope' must be a number in [0, 1), got %g", slope);
	if (cfg_float(args, "slope", CFG_OPTIONAL, 0.01, 0.0, 1.0, &slope, "leaky_relu", err))
		return -1;

	struct leaky_relu *lr = calloc(1, sizeof(*lr));
	if (!lr)
		return cnn_errorf(err, at, "leaky_relu: out of memory");
	lr->base.ops = &leaky_relu_ops;
	lr->base.in = in;
	lr->base.out = in;
	lr->slope = (float)slope;
	*out = &lr->base;
	return 0;
}
