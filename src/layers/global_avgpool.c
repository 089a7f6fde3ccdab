/* global_avgpool: the mean of each channel's whole plane.
 *
 *   y[i][c] = 1/(h*w) * sum_{u < h, v < w} x[i][c][u][v]
 *
 * NCHW: x (n, c, h, w), y (n, c, 1, 1), so a dense layer or the loss can
 * follow directly. No parameters, no keys.
 *
 * Gradients: backward OVERWRITES dx = dy[i][c] / (h*w) at every position of
 * plane (i, c). The sum runs in float over one plane at a time: planes are
 * small (a few hundred values) next to what float's 24 bits carry. */
#include <stdio.h>

#include "layers/layers.h"

static void global_avgpool_forward(const struct layer *l, const float *w, const float *x,
                                   float *y, int n, const struct layer_ctx *ctx)
{
	size_t planes = (size_t)n * l->in.c, area = (size_t)l->in.h * l->in.w;
	float scale = 1.0f / (float)area;

	(void)w;
	(void)ctx;
	for (size_t p = 0; p < planes; p++) {
		const float *xp = x + p * area;   /* (h, w) */
		float s = 0.0f;
		for (size_t i = 0; i < area; i++)
			s += xp[i];
		y[p] = s * scale;
	}
}

static void global_avgpool_backward(const struct layer *l, const float *w, const float *x,
                                    const float *y, const float *dy, float *dx, float *dw,
                                    int n, const struct layer_ctx *ctx)
{
	size_t planes = (size_t)n * l->in.c, area = (size_t)l->in.h * l->in.w;
	float scale = 1.0f / (float)area;

	(void)w;
	(void)x;
	(void)y;
	(void)dw;
	(void)ctx;
	if (!dx)
		return;
	for (size_t p = 0; p < planes; p++) {
		float *dxp = dx + p * area;   /* (h, w) */
		float g = dy[p] * scale;
		for (size_t i = 0; i < area; i++)
			dxp[i] = g;
	}
}

static void global_avgpool_describe(const struct layer *l, char *buf, size_t len)
{
	snprintf(buf, len, "mean of %dx%d", l->in.h, l->in.w);
}

static const struct layer_ops global_avgpool_ops = {
	.type = "global_avgpool",
	.forward = global_avgpool_forward,
	.backward = global_avgpool_backward,
	.describe = global_avgpool_describe,
	.destroy = layer_free_plain,
};

int global_avgpool_create(struct cfg_node *args, struct shape in, struct layer **out,
                          struct cnn_error *err)
{
	struct cnn_loc at = args ? args->loc : (struct cnn_loc){ 0 };
	return layer_new_plain(&global_avgpool_ops, in, (struct shape){ in.c, 1, 1 }, at, out, err);
}
