/* tanh: y = tanh(x), elementwise.
 *
 * NCHW: x and y (n, c, h, w), same shape. No parameters, no keys.
 *
 * Gradients: backward OVERWRITES dx = dy * (1 - y^2), from y alone: the
 * derivative needs no second tanh, and x is not read.
 *
 * Computed as tanh |x| = -m / (2 + m) with m = exp(-2|x|) - 1 from vexp.h,
 * with the sign of x put back: m lies in [-1, 0], so nothing overflows for
 * large |x| (y is then exactly +-1), and m keeps its relative accuracy near
 * 0, where 1 - exp(-2|x|) would cancel. Unlike a call to tanhf per element,
 * the loop vectorises (it is a kernel: src/kernels/activations.c). A NaN
 * stays NaN. */
#include <math.h>

#include "layers/layers.h"
#include "kernels/dispatch.h"

static void tanh_forward(const struct layer *l, const float *w, const float *x, float *y,
                         int n, const struct layer_ctx *ctx)
{
	size_t count = (size_t)n * shape_size(l->in);

	(void)w;
	(void)ctx;
	cnn_kernels()->tanh_range(x, y, count);   /* src/kernels/activations.c */
}

static void tanh_backward(const struct layer *l, const float *w, const float *x,
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
		dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

static const struct layer_ops tanh_ops = {
	.type = "tanh",
	.dx_density = layer_density_same,
	.forward = tanh_forward,
	.backward = tanh_backward,
	.destroy = layer_free_plain,
};

int tanh_create(struct cfg_node *args, struct shape in, struct layer **out,
                struct cnn_error *err)
{
	struct cnn_loc at = args ? args->loc : (struct cnn_loc){ 0 };
	return layer_new_plain(&tanh_ops, in, in, at, out, err);
}
