/* sigmoid: y = 1 / (1 + exp(-x)), elementwise (the logistic function).
 *
 * NCHW: x and y (n, c, h, w), same shape. No parameters, no keys.
 *
 * Computed from e = exp(-|x|), which lies in (0, 1] for every x, so nothing
 * overflows however large |x| is: y = 1 / (1 + e) for x >= 0 and
 * y = e / (1 + e) for x < 0. The second is a product, not 1 - 1 / (1 + e),
 * so a tiny y (x far below 0) keeps its digits instead of cancelling to 0.
 * One exp per element (vexp.h's, which vectorises); the choice is a select,
 * not a branch, and the loop runs in SIMD (a kernel:
 * src/kernels/activations.c). A NaN stays NaN.
 *
 * Gradients: backward OVERWRITES dx = dy * y * (1 - y), from y alone. */
#include <math.h>

#include "layers/layers.h"
#include "kernels/dispatch.h"

static void sigmoid_forward(const struct layer *l, const float *w, const float *x, float *y,
                            int n, const struct layer_ctx *ctx)
{
	size_t count = (size_t)n * shape_size(l->in);

	(void)w;
	(void)ctx;
	cnn_kernels()->sigmoid_range(x, y, count);   /* src/kernels/activations.c */
}

static void sigmoid_backward(const struct layer *l, const float *w, const float *x,
                             const float *y, const float *dy, float *dx, float *dw, int n,
                             const struct layer_ctx *ctx)
{
	size_t count = (size_t)n * shape_size(l->in);

	(void)w;
	(void)x;
	(void)dw;
	(void)ctx;
	if (!dx)
		return;
	for (size_t i = 0; i < count; i++)
		dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

static const struct layer_ops sigmoid_ops = {
	.type = "sigmoid",
	.dx_density = layer_density_same,
	.forward = sigmoid_forward,
	.backward = sigmoid_backward,
	.destroy = layer_free_plain,
};

int sigmoid_create(struct cfg_node *args, struct shape in, struct layer **out,
                   struct cnn_error *err)
{
	struct cnn_loc at = args ? args->loc : (struct cnn_loc){ 0 };
	return layer_new_plain(&sigmoid_ops, in, in, at, out, err);
}
