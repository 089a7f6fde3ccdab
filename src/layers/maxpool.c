/* maxpool: the maximum over each pool x pool window, per channel, no padding.
 *
 *   y[i][c][oy][ox] = max_{pi,pj < pool} x[i][c][oy*stride + pi][ox*stride + pj]
 *
 * NCHW: x (n, c, h, w), y (n, c, oh, ow) with oh = (h - pool)/stride + 1 (floor:
 * a partial window at the bottom/right is dropped, as Caffe's floor mode does).
 * No parameters.
 *
 * Gradients: backward OVERWRITES dx; each dy goes to its window's argmax. The
 * argmax is found again by comparing x with y (the first position, row-major,
 * whose value equals the max), so forward stores no index buffer. With
 * overlapping windows (stride < pool) one input can collect several dy.
 *
 * The common 2x2 window with stride 2 has its own loops (kernels/pool2.c,
 * SIMD at each instruction-set level, the same bits): windows do not
 * overlap, so backward writes every dx exactly once (no memset, no scatter)
 * and both directions run branch-free over whole rows.
 *
 * ReLU fusion (layer.relu_out, set by the network): maxpool takes the relu
 * that feeds it (commutes_with_relu) and computes exactly maxpool(relu(x)),
 * the two layers it replaces: every x is read through relu_value, in both
 * directions, and dy is read as 0 where y <= 0 (where relu's backward
 * would zero the argmax's gradient). Max and relu commute, so this is also
 * relu(maxpool(x)), but for a NaN in x: relu turns it into 0 first, the
 * max after it would keep it (as the first element) or skip it, so the
 * network fuses only the relu before a maxpool, never the one after it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/pool2.h"
#include "layers/layers.h"

struct maxpool {
	struct layer base;
	int pool, stride;
};

static const struct maxpool *maxpool_of(const struct layer *l)
{
	return (const struct maxpool *)l;
}

static void maxpool_forward(const struct layer *l, const float *w, const float *x, float *y,
                            int n, const struct layer_ctx *ctx)
{
	const struct maxpool *mp = maxpool_of(l);
	int h = l->in.h, wd = l->in.w, oh = l->out.h, ow = l->out.w;
	size_t planes = (size_t)n * l->in.c;

	(void)w;
	(void)ctx;
	if (mp->pool == 2 && mp->stride == 2) {
		pool2_forward(x, h, wd, y, oh, ow, planes, l->relu_out);
		return;
	}
	for (size_t p = 0; p < planes; p++) {
		const float *xp = x + p * h * wd;   /* (h, w) */
		float *yp = y + p * oh * ow;        /* (oh, ow) */
		for (int oy = 0; oy < oh; oy++) {
			for (int ox = 0; ox < ow; ox++) {
				const float *win = xp + (size_t)oy * mp->stride * wd +
				                   (size_t)ox * mp->stride;
				float m = relu_if(win[0], l->relu_out);
				for (int pi = 0; pi < mp->pool; pi++)
					for (int pj = 0; pj < mp->pool; pj++) {
						float v = relu_if(win[(size_t)pi * wd + pj], l->relu_out);
						if (v > m)
							m = v;
					}
				yp[(size_t)oy * ow + ox] = m;
			}
		}
	}
}

static void maxpool_backward(const struct layer *l, const float *w, const float *x,
                             const float *y, const float *dy, float *dx, float *dw, int n,
                             const struct layer_ctx *ctx)
{
	const struct maxpool *mp = maxpool_of(l);
	int h = l->in.h, wd = l->in.w, oh = l->out.h, ow = l->out.w;
	size_t planes = (size_t)n * l->in.c;

	(void)w;
	(void)dw;
	(void)ctx;
	if (!dx)
		return;
	if (mp->pool == 2 && mp->stride == 2) {
		pool2_backward(x, h, wd, y, dy, dx, oh, ow, planes, l->relu_out);
		return;
	}
	memset(dx, 0, planes * h * wd * sizeof(*dx));
	for (size_t p = 0; p < planes; p++) {
		const float *xp = x + p * h * wd;   /* (h, w) */
		float *dxp = dx + p * h * wd;       /* (h, w) */
		const float *yp = y + p * oh * ow;  /* (oh, ow) */
		const float *dyp = dy + p * oh * ow;
		for (int oy = 0; oy < oh; oy++) {
			for (int ox = 0; ox < ow; ox++) {
				size_t o = (size_t)oy * ow + ox;
				size_t base = (size_t)oy * mp->stride * wd + (size_t)ox * mp->stride;
				/* A NaN max matches nothing; the first pixel then
				 * takes the gradient so it is not silently lost. */
				size_t arg = base;
				for (int pi = 0; pi < mp->pool; pi++) {
					for (int pj = 0; pj < mp->pool; pj++) {
						size_t at = base + (size_t)pi * wd + pj;
						if (relu_if(xp[at], l->relu_out) == yp[o]) {
							arg = at;
							goto found;
						}
					}
				}
found:
				/* with relu: relu's backward zeroes what reaches a
				 * non-positive input, which is y here */
				dxp[arg] += !l->relu_out || yp[o] > 0.0f ? dyp[o] : 0.0f;
			}
		}
	}
}

static void maxpool_describe(const struct layer *l, char *buf, size_t len)
{
	const struct maxpool *mp = maxpool_of(l);

	snprintf(buf, len, "%dx%d/%d", mp->pool, mp->pool, mp->stride);
}

static void maxpool_destroy(struct layer *l)
{
	free(l);
}

/* Each output's gradient goes to one input (its window's maximum): at most
 * out/in of dx is non-zero, a quarter for 2x2 pooling. */
static double maxpool_dx_density(const struct layer *l, double dy_density)
{
	return dy_density * (double)shape_size(l->out) / (double)shape_size(l->in);
}

static void maxpool_attrs(const struct layer *l, struct layer_attrs *a)
{
	*a = (struct layer_attrs){ .kernel = maxpool_of(l)->pool, .stride = maxpool_of(l)->stride };
}

static const struct layer_ops maxpool_ops = {
	.type = "maxpool",
	.forward = maxpool_forward,
	.backward = maxpool_backward,
	.dx_density = maxpool_dx_density,
	.describe = maxpool_describe,
	.destroy = maxpool_destroy,
	.attrs = maxpool_attrs,
	.fuses_relu = true,
	.commutes_with_relu = true,
};

int maxpool_create(struct cfg_node *args, struct shape in, struct layer **out,
                   struct cnn_error *err)
{
	struct cnn_loc at = args ? args->loc : (struct cnn_loc){ 0 };
	long pool, stride;

	if (cfg_int(args, "pool_size", CFG_REQUIRED, 0, 1, 65536, &pool, "maxpool", err) ||
	    cfg_int(args, "stride", CFG_OPTIONAL, pool, 1, 65536, &stride, "maxpool", err))
		return -1;
	if (pool > in.h || pool > in.w)
		return cnn_errorf(err, at, "maxpool: pool_size %ld is larger than the input %dx%d",
		                  pool, in.h, in.w);

	struct maxpool *mp = calloc(1, sizeof(*mp));
	if (!mp)
		return cnn_errorf(err, at, "maxpool: out of memory");
	mp->base.ops = &maxpool_ops;
	mp->base.in = in;
	mp->base.out = (struct shape){ in.c, (int)((in.h - pool) / stride + 1),
	                               (int)((in.w - pool) / stride + 1) };
	mp->pool = (int)pool;
	mp->stride = (int)stride;
	*out = &mp->base;
	return 0;
}
