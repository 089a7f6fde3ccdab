/* flatten: y = x, reshaped from (c, h, w) to (c*h*w, 1, 1) per sample.
 *
 * NCHW: x (n, c, h, w), y (n, c*h*w, 1, 1); the memory order is unchanged, so
 * PyTorch's nn.Flatten gives the same vector and exported dense weights line up.
 * No parameters.
 *
 * Gradients: backward OVERWRITES dx = dy. The copies keep the rule that each
 * layer writes its own output buffer, rather than aliasing its input. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "layers/layers.h"

static void flatten_forward(const struct layer *l, const float *w, const float *x, float *y,
                            int n, const struct layer_ctx *ctx)
{
	(void)w;
	(void)ctx;
	memcpy(y, x, (size_t)n * shape_size(l->in) * sizeof(*y));
}

static void flatten_backward(const struct layer *l, const float *w, const float *x,
                             const float *y, const float *dy, float *dx, float *dw, int n,
                             const struct layer_ctx *ctx)
{
	(void)w;
	(void)x;
	(void)y;
	(void)dw;
	(void)ctx;
	if (dx)
		memcpy(dx, dy, (size_t)n * shape_size(l->in) * sizeof(*dx));
}

static void flatten_describe(const struct layer *l, char *buf, size_t len)
{
	char in[48];

	shape_str(l->in, in, sizeof(in));
	snprintf(buf, len, "%s->%d", in, l->out.c);
}

static const struct layer_ops flatten_ops = {
	.type = "flatten",
	.dx_density = layer_density_same,
	.forward = flatten_forward,
	.backward = flatten_backward,
	.describe = flatten_describe,
	.destroy = layer_free_plain,
};

int flatten_create(struct cfg_node *args, struct shape in, struct layer **out,
                   struct cnn_error *err)
{
	struct cnn_loc at = args ? args->loc : (struct cnn_loc){ 0 };
	size_t size = shape_size(in);

	if (size > (size_t)INT_MAX)
		return cnn_errorf(err, at, "flatten: input %dx%dx%d has too many values",
		                  in.c, in.h, in.w);

	return layer_new_plain(&flatten_ops, in, (struct shape){ (int)size, 1, 1 }, at, out, err);
}
