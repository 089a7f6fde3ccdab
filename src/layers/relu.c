/* relu: y = max(0, x), elementwise.
 *
 * NCHW: x and y (n, c, h, w), same shape. No parameters.
 *
 * Gradients: backward OVERWRITES dx = dy where y > 0, else 0. The test is on y,
 * not x, so an in-place-style caller that kept only y still gets it right; at
 * the kink x = 0 the subgradient 0 is taken, as PyTorch and Caffe do. */

#include "layers/layers.h"

void relu_apply(float *y, size_t count)
{
	for (size_t i = 0; i < count; i++)
		y[i] = relu_value(y[i]);
}

void relu_mask(const float *y, const float *dy, float *dx, size_t count)
{
	/* dy is read whatever y is, so the choice is a select the compiler
	 * vectorises with SSE2; read only where y > 0, it vectorises only with
	 * masked loads (AVX-512) and is a mispredicted branch elsewhere */
	for (size_t i = 0; i < count; i++) {
		float d = dy[i];
		dx[i] = y[i] > 0.0f ? d : 0.0f;
	}
}

static void relu_forward(const struct layer *l, const float *w, const float *x, float *y,
                         int n, const struct layer_ctx *ctx)
{
	size_t count = (size_t)n * shape_size(l->in);

	(void)w;
	(void)ctx;
	for (size_t i = 0; i < count; i++)
		y[i] = relu_value(x[i]);
}

static void relu_backward(const struct layer *l, const float *w, const float *x,
                          const float *y, const float *dy, float *dx, float *dw, int n,
                          const struct layer_ctx *ctx)
{
	(void)w;
	(void)x;
	(void)dw;
	(void)ctx;
	if (dx)
		relu_mask(y, dy, dx, (size_t)n * shape_size(l->in));
}

/* dx is dy where the input was positive: about half the units of a layer
 * with He-initialised weights, an assumption rather than a bound. */
static double relu_dx_density(const struct layer *l, double dy_density)
{
	(void)l;
	return 0.5 * dy_density;
}

static const struct layer_ops relu_ops = {
	.type = "relu",
	.forward = relu_forward,
	.backward = relu_backward,
	.dx_density = relu_dx_density,
	.destroy = layer_free_plain,
	.inplace = true,
};

int relu_create(struct cfg_node *args, struct shape in, struct layer **out,
                struct cnn_error *err)
{
	struct cnn_loc at = args ? args->loc : (struct cnn_loc){ 0 };
	return layer_new_plain(&relu_ops, in, in, at, out, err);
}
