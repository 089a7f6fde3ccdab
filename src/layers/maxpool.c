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
 * The common 2x2 window with stride 2 has its own loops: windows do not
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

#include "layers/layers.h"

struct maxpool {
	struct layer base;
	int pool, stride;
};

static const struct maxpool *maxpool_of(const struct layer *l)
{
	return (const struct maxpool *)l;
}

static float max2(float a, float b)
{
	return b > a ? b : a;   /* as the general loop: a NaN first element stays */
}

#ifdef __SSE2__
#include <emmintrin.h>

/* Four windows of two rows: the even and odd columns of each row. SSE
 * rather than AVX: four windows fit the 12- and 4-wide rows of small nets
 * without a scalar tail, and the shuffles stay within one register. */
struct quad {
	__m128 e0, o0, e1, o1;
};

static struct quad load_quad(const float *r0, const float *r1)
{
	__m128 a0 = _mm_loadu_ps(r0), a1 = _mm_loadu_ps(r0 + 4);
	__m128 b0 = _mm_loadu_ps(r1), b1 = _mm_loadu_ps(r1 + 4);

	return (struct quad){ _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0)),
	                      _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1)),
	                      _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)),
	                      _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1)) };
}

/* Writes even and odd columns back interleaved. */
static void store_pairs(float *d, __m128 even, __m128 odd)
{
	_mm_storeu_ps(d, _mm_unpacklo_ps(even, odd));
	_mm_storeu_ps(d + 4, _mm_unpackhi_ps(even, odd));
}
#endif

/* x as the pooling reads it: relu_value(x) with relu_out (see the top). */
static inline float in_value(float x, bool relu)
{
	return relu ? relu_value(x) : x;
}

#ifdef __SSE2__
/* _mm_max_ps(x, 0) is x > 0 ? x : 0, relu_value(x) (NaN and -0 give +0) */
static inline struct quad relu_quad(struct quad q, bool relu)
{
	if (relu) {
		__m128 z = _mm_setzero_ps();
		q = (struct quad){ _mm_max_ps(q.e0, z), _mm_max_ps(q.o0, z), _mm_max_ps(q.e1, z),
		                   _mm_max_ps(q.o1, z) };
	}
	return q;
}
#endif

/* 2x2/2 over one (h, w) plane; a last odd row or column is dropped. */
static inline void pool2_forward(const float *x, int wd, float *y, int oh, int ow, bool relu)
{
	for (int oy = 0; oy < oh; oy++) {
		const float *r0 = x + (size_t)2 * oy * wd, *r1 = r0 + wd;
		float *yr = y + (size_t)oy * ow;
		int ox = 0;
#ifdef __SSE2__
		/* _mm_max_ps(b, a) is b > a ? b : a, the scalar max2(a, b) */
		for (; ox + 4 <= ow; ox += 4) {
			struct quad q = relu_quad(load_quad(r0 + 2 * ox, r1 + 2 * ox), relu);
			__m128 m = _mm_max_ps(q.o0, q.e0);
			m = _mm_max_ps(q.e1, m);
			_mm_storeu_ps(yr + ox, _mm_max_ps(q.o1, m));
		}
#endif
		for (; ox < ow; ox++)
			yr[ox] = max2(max2(max2(in_value(r0[2 * ox], relu), in_value(r0[2 * ox + 1], relu)),
			                   in_value(r1[2 * ox], relu)),
			              in_value(r1[2 * ox + 1], relu));
	}
}

/* dy goes to the first of the four (row-major) equal to the max, or to the
 * first if none is (a NaN max), as in the general loop; the other three and
 * any dropped odd row or column get 0. With relu, x is read as relu(x) and
 * dy as 0 where y <= 0: relu's backward after this one's. */
static inline void pool2_backward(const float *x, int h, int wd, const float *y, const float *dy,
                                  float *dx, int oh, int ow, bool relu)
{
	for (int oy = 0; oy < oh; oy++) {
		const float *r0 = x + (size_t)2 * oy * wd, *r1 = r0 + wd;
		float *d0 = dx + (size_t)2 * oy * wd, *d1 = d0 + wd;
		const float *yr = y + (size_t)oy * ow, *dyr = dy + (size_t)oy * ow;
		int ox = 0;
#ifdef __SSE2__
		for (; ox + 4 <= ow; ox += 4) {
			struct quad q = relu_quad(load_quad(r0 + 2 * ox, r1 + 2 * ox), relu);
			__m128 m = _mm_loadu_ps(yr + ox), d = _mm_loadu_ps(dyr + ox);
			if (relu)   /* y > 0 ? dy : 0 */
				d = _mm_and_ps(_mm_cmpgt_ps(m, _mm_setzero_ps()), d);
			__m128 a = _mm_cmpeq_ps(q.e0, m);
			__m128 b = _mm_andnot_ps(a, _mm_cmpeq_ps(q.o0, m));
			__m128 ab = _mm_or_ps(a, b);
			__m128 c = _mm_andnot_ps(ab, _mm_cmpeq_ps(q.e1, m));
			__m128 e = _mm_andnot_ps(_mm_or_ps(ab, c), _mm_cmpeq_ps(q.o1, m));
			__m128 first = _mm_andnot_ps(_mm_or_ps(_mm_or_ps(b, c), e), d);
			store_pairs(d0 + 2 * ox, first, _mm_and_ps(b, d));
			store_pairs(d1 + 2 * ox, _mm_and_ps(c, d), _mm_and_ps(e, d));
		}
#endif
		for (; ox < ow; ox++) {
			float m = yr[ox], d = dyr[ox];
			if (relu)
				d = m > 0.0f ? d : 0.0f;
			/* bitwise, not &&: no branches */
			int a = in_value(r0[2 * ox], relu) == m, b = in_value(r0[2 * ox + 1], relu) == m;
			int c = in_value(r1[2 * ox], relu) == m, e = in_value(r1[2 * ox + 1], relu) == m;
			b &= !a;
			c &= !(a | b);
			e &= !(a | b | c);
			d0[2 * ox] = (b | c | e) ? 0.0f : d;
			d0[2 * ox + 1] = b ? d : 0.0f;
			d1[2 * ox] = c ? d : 0.0f;
			d1[2 * ox + 1] = e ? d : 0.0f;
		}
		if (wd > 2 * ow) {
			d0[wd - 1] = 0.0f;
			d1[wd - 1] = 0.0f;
		}
	}
	if (h > 2 * oh)
		memset(dx + (size_t)2 * oh * wd, 0, (size_t)wd * sizeof(*dx));
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
		/* two copies of the loop, so neither tests relu_out inside it */
		for (size_t p = 0; l->relu_out && p < planes; p++)
			pool2_forward(x + p * h * wd, wd, y + p * oh * ow, oh, ow, true);
		for (size_t p = 0; !l->relu_out && p < planes; p++)
			pool2_forward(x + p * h * wd, wd, y + p * oh * ow, oh, ow, false);
		return;
	}
	for (size_t p = 0; p < planes; p++) {
		const float *xp = x + p * h * wd;   /* (h, w) */
		float *yp = y + p * oh * ow;        /* (oh, ow) */
		for (int oy = 0; oy < oh; oy++) {
			for (int ox = 0; ox < ow; ox++) {
				const float *win = xp + (size_t)oy * mp->stride * wd +
				                   (size_t)ox * mp->stride;
				float m = in_value(win[0], l->relu_out);
				for (int pi = 0; pi < mp->pool; pi++)
					for (int pj = 0; pj < mp->pool; pj++) {
						float v = in_value(win[(size_t)pi * wd + pj], l->relu_out);
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
		for (size_t p = 0; l->relu_out && p < planes; p++)
			pool2_backward(x + p * h * wd, h, wd, y + p * oh * ow, dy + p * oh * ow,
			               dx + p * h * wd, oh, ow, true);
		for (size_t p = 0; !l->relu_out && p < planes; p++)
			pool2_backward(x + p * h * wd, h, wd, y + p * oh * ow, dy + p * oh * ow,
			               dx + p * h * wd, oh, ow, false);
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
						if (in_value(xp[at], l->relu_out) == yp[o]) {
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
