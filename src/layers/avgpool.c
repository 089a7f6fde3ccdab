/* avgpool: the mean over each pool x pool window, per channel, no padding.
 *
 *   y[i][c][oy][ox] = 1/(pool*pool) * sum_{pi,pj < pool} x[i][c][oy*stride + pi][ox*stride + pj]
 *
 * NCHW: x (n, c, h, w), y (n, c, oh, ow) with oh = (h - pool)/stride + 1 (floor:
 * a partial window at the bottom/right is dropped, as in maxpool). The divisor
 * is always pool*pool, since every window lies wholly inside the input.
 * No parameters.
 *
 * Gradients: backward OVERWRITES dx; each dy is spread evenly, dy/(pool*pool),
 * over its window. With overlapping windows (stride < pool) one input collects
 * several shares; inputs in no window (a dropped edge) get 0.
 *
 * Both directions walk whole input rows, so the innermost loops run over
 * contiguous memory and vectorise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layers.h"

struct avgpool {
	struct layer base;
	int pool, stride;
};

static const struct avgpool *avgpool_of(const struct layer *l)
{
	return (const struct avgpool *)l;
}

static void avgpool_forward(const struct layer *l, const float *w, const float *x, float *y,
                            int n, const struct layer_ctx *ctx)
{
	const struct avgpool *ap = avgpool_of(l);
	int h = l->in.h, wd = l->in.w, oh = l->out.h, ow = l->out.w;
	int pool = ap->pool, stride = ap->stride;
	size_t planes = (size_t)n * l->in.c;
	float scale = 1.0f / ((float)pool * (float)pool);

	(void)w;
	(void)ctx;
	for (size_t p = 0; p < planes; p++) {
		const float *xp = x + p * h * wd;   /* (h, w) */
		float *yp = y + p * oh * ow;        /* (oh, ow) */
		for (int oy = 0; oy < oh; oy++) {
			float *yr = yp + (size_t)oy * ow;   /* (ow) */
			for (int ox = 0; ox < ow; ox++)
				yr[ox] = 0.0f;
			for (int pi = 0; pi < pool; pi++) {
				const float *xr = xp + (size_t)(oy * stride + pi) * wd;
				for (int ox = 0; ox < ow; ox++) {
					const float *win = xr + (size_t)ox * stride;
					float s = 0.0f;
					for (int pj = 0; pj < pool; pj++)
						s += win[pj];
					yr[ox] += s;
				}
			}
			for (int ox = 0; ox < ow; ox++)
				yr[ox] *= scale;
		}
	}
}

static void avgpool_backward(const struct layer *l, const float *w, const float *x,
                             const float *y, const float *dy, float *dx, float *dw, int n,
                             const struct layer_ctx *ctx)
{
	const struct avgpool *ap = avgpool_of(l);
	int h = l->in.h, wd = l->in.w, oh = l->out.h, ow = l->out.w;
	int pool = ap->pool, stride = ap->stride;
	size_t planes = (size_t)n * l->in.c;
	float scale = 1.0f / ((float)pool * (float)pool);

	(void)w;
	(void)x;
	(void)y;
	(void)dw;
	(void)ctx;
	if (!dx)
		return;
	memset(dx, 0, planes * h * wd * sizeof(*dx));
	for (size_t p = 0; p < planes; p++) {
		float *dxp = dx + p * h * wd;          /* (h, w) */
		const float *dyp = dy + p * oh * ow;   /* (oh, ow) */
		for (int oy = 0; oy < oh; oy++) {
			const float *dyr = dyp + (size_t)oy * ow;
			for (int pi = 0; pi < pool; pi++) {
				float *dxr = dxp + (size_t)(oy * stride + pi) * wd;
				for (int ox = 0; ox < ow; ox++) {
					float g = dyr[ox] * scale;
					float *win = dxr + (size_t)ox * stride;
					for (int pj = 0; pj < pool; pj++)
						win[pj] += g;
				}
			}
		}
	}
}

static void avgpool_describe(const struct layer *l, char *buf, size_t len)
{
	const struct avgpool *ap = avgpool_of(l);

	snprintf(buf, len, "%dx%d/%d", ap->pool, ap->pool, ap->stride);
}

static void avgpool_destroy(struct layer *l)
{
	free(l);
}

static void avgpool_attrs(const struct layer *l, struct layer_attrs *a)
{
	*a = (struct layer_attrs){ .kernel = avgpool_of(l)->pool, .stride = avgpool_of(l)->stride };
}

static const struct layer_ops avgpool_ops = {
	.type = "avgpool",
	.forward = avgpool_forward,
	.backward = avgpool_backward,
	.describe = avgpool_describe,
	.destroy = avgpool_destroy,
	.attrs = avgpool_attrs,
};

int avgpool_create(struct cfg_node *args, struct shape in, struct layer **out,
                   struct cnn_error *err)
{
	struct cnn_loc at = args ? args->loc : (struct cnn_loc){ 0 };
	long pool, stride;

	if (cfg_int(args, "pool_size", CFG_REQUIRED, 0, 1, 65536, &pool, "avgpool", err) ||
	    cfg_int(args, "stride", CFG_OPTIONAL, pool, 1, 65536, &stride, "avgpool", err))
		return -1;
	if (pool > in.h || pool > in.w)
		return cnn_errorf(err, at, "avgpool: pool_size %ld is larger than the input %dx%d",
		                  pool, in.h, in.w);

	struct avgpool *ap = calloc(1, sizeof(*ap));
	if (!ap)
		return cnn_errorf(err, at, "avgpool: out of memory");
	ap->base.ops = &avgpool_ops;
	ap->base.in = in;
	ap->base.out = (struct shape){ in.c, (int)((in.h - pool) / stride + 1),
	                               (int)((in.w - pool) / stride + 1) };
	ap->pool = (int)pool;
	ap->stride = (int)stride;
	*out = &ap->base;
	return 0;
}
