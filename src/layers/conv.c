/* conv: 2-D convolution (cross-correlation, as in every framework), square
 * kernel, one stride for both axes, zero padding.
 *
 *   y[i][f][oy][ox] = b[f] + sum_{c,ki,kj} W[f][c][ki][kj] *
 *                     x[i][c][oy*stride - pad_top + ki][ox*stride - pad_left + kj]
 *
 * NCHW: x (n, in.c, h, w), y (n, filters, oh, ow); W (filters, in.c, k, k) as
 * PyTorch stores it, b (filters), both in one run of the flat parameter array.
 * Two algorithms, chosen per layer by `algorithm:` (auto | im2col | direct |
 * winograd):
 *  - im2col: forward puts a block of images through im2col side by side and
 *    one product, y_i = W (filters, c*k*k) x col_i (c*k*k, oh*ow) for every
 *    image of the block (src/kernels/conv_gemm.c, the bits of the fixed-order
 *    sgemm from the bias); backward computes what two sgemms and col2im
 *    per image would, bit for bit, without building col
 *    (conv_backward_im2col, kernels/conv_backward.h).
 *  - direct: src/kernels/conv_direct.c, no col matrix; wins where the GEMM
 *    would be only a few rows tall (few filters) over a short K (few
 *    channels, small kernels), which is where sgemm runs far below its peak.
 * `auto` picks direct when the vectorised direct path applies (stride 1,
 * k <= 8) and either c*k*k*filters is small or at most half of dy is
 * expected to be non-zero (ReLU, max-pooling or dropout after the layer: the
 * builder says so through plan()); the rule and its measurements are in
 * docs/performance.md. The forward pass of a 5x5 stride-1 layer with
 * enough channels and filters runs by Winograd F(2x2, 5x5) instead under
 * `auto` (conv_winograd_auto), or wherever `algorithm: winograd` asks
 * (backward then as auto's); explicit im2col or direct keep their own
 * forward. Padding `same` is TensorFlow/ONNX SAME_UPPER: the
 * output is ceil(in/stride) and an odd pixel of padding goes at the
 * bottom/right, so the padding is kept per side.
 *
 * Gradients (Caffe's convention): backward ADDS dW += dy_i x col_i^T and
 * db += sum of dy_i over pixels, and OVERWRITES dx_i = col2im(W^T x dy_i);
 * dx is NULL for the first layer and then skipped. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/conv_backward.h"
#include "kernels/conv_direct.h"
#include "kernels/conv_gemm.h"
#include "kernels/conv_winograd.h"
#include "kernels/kernels.h"
#include "layers/layers.h"

enum conv_padding { CONV_VALID, CONV_SAME, CONV_EXPLICIT };
enum conv_algo { CONV_AUTO, CONV_IM2COL, CONV_DIRECT, CONV_WINOGRAD };

static const char *const conv_padding_names[] = { "valid", "same", NULL };
static const char *const conv_algo_names[] = { "auto", "im2col", "direct", "winograd", NULL };
_Static_assert(sizeof(conv_algo_names) / sizeof(conv_algo_names[0]) == CONV_WINOGRAD + 2,
               "conv_algo_names must name every enum conv_algo, then NULL");

/* `auto` takes direct up to this many multiply-adds per output pixel
 * (filters * c * k * k), or whatever the width when at most this fraction
 * of dy is expected to be non-zero: direct's sparse backward wins when dy
 * is at most half non-zero and loses when it is dense (the measurements:
 * docs/performance.md, "The choices, and why"). */
#define CONV_AUTO_DIRECT_MACS 512
#define CONV_AUTO_SPARSE_DY 0.5
/* direct runs its forward pass through im2col + GEMM from this many filters */
#define CONV_GEMM_FORWARD_FILTERS 16
/* `auto` runs the forward pass of a 5x5 stride-1 layer by Winograd
 * F(2x2, 5x5) (kernels/conv_winograd.h: 36 products per 2x2 outputs and
 * channel instead of 100) from this many input channels and filters and
 * an output this many pixels high and wide. The transforms cost per
 * channel and per filter what the products save only once both counts
 * are large, and on a smaller output the tiles' padding (a 7x7 output
 * computes 8x8) and the per-image copies eat the rest (measured side by
 * side with the GEMM forward: docs/performance.md). Below them, e.g.
 * mnist.yaml's 1 -> 4 and 4 -> 4 layers or inception-mnist's 8 -> 16 and
 * 12 -> 32, the GEMM or direct forward stays. */
#define CONV_WINOGRAD_MIN_CHANNELS 16
#define CONV_WINOGRAD_MIN_FILTERS 16
#define CONV_WINOGRAD_MIN_SIDE 14
/* im2col's weight gradient takes this many pixels per pass, whole images
 * (resnet-mnist's 4x4 and 7x7 layers: 16 and 5 images) */
#define CONV_BWD_BLOCK_PIXELS 256

struct conv {
	struct layer base;
	int filters, k, stride;
	enum conv_padding padding;  /* as written, for describe() */
	int pad_top, pad_bottom, pad_left, pad_right;
	enum conv_algo requested;   /* as written: auto may be settled by plan() */
	enum conv_algo algo;        /* resolved, for backward: im2col or direct */
	int ckk;                    /* in.c * k * k: rows of col, columns of W */
	int ohw;                    /* out.h * out.w: columns of col */
	bool direct;                /* 1x1, stride 1, no padding: x already is col */
	struct conv_geom geom;      /* for the direct algorithm */
	bool gemm_forward;          /* direct: forward pass through im2col + GEMM */
	bool winograd;              /* forward pass by Winograd F(2x2, 5x5) */
	float *wino_filters;        /* (conv_winograd_filters_floats) kept by freeze, or NULL */
};

static const struct conv *conv_of(const struct layer *l)
{
	return (const struct conv *)l;
}

/* The forward pass multiplies a block of images at once, their im2col
 * matrices side by side: enough images for this many columns (the
 * kernel's last vector, up to 15 lanes computed for nothing, is then a
 * small share), and no more than fits this many bytes, L2's share. */
#define CONV_FORWARD_MIN_COLS 768
#define CONV_FORWARD_MAX_BYTES (1024 * 1024)

/* Images per forward block, for a call on n images. */
static int conv_forward_block(const struct conv *cv, int n)
{
	size_t per_image = (size_t)cv->ckk * (size_t)cv->ohw * sizeof(float);
	size_t nb = (CONV_FORWARD_MIN_COLS + (size_t)cv->ohw - 1) / (size_t)cv->ohw;

	if (nb * per_image > CONV_FORWARD_MAX_BYTES)
		nb = CONV_FORWARD_MAX_BYTES / per_image;
	if (nb < 1)
		nb = 1;
	return n < 1 ? 1 : nb < (size_t)n ? (int)nb : n;
}

/* The layer's input as conv_gemm's fused path reads it. */
static struct conv_gemm_image conv_image(const struct layer *l, const struct conv *cv,
                                         const float *x)
{
	return (struct conv_gemm_image){ x, l->in.c, l->in.h, l->in.w, cv->k, cv->stride,
	                                 cv->pad_top, cv->pad_left, l->out.h, l->out.w };
}

/* Forward builds col panel by panel from x (images up to 32 wide, on
 * AVX-512): no col matrix through L2. */
static bool conv_forward_fused(const struct layer *l, const struct conv *cv)
{
	struct conv_gemm_image im = conv_image(l, cv, NULL);

	return conv_gemm_fused_applies(&im);
}

/* col (ckk, ld): the nb images of x side by side, image i in columns
 * [i*ohw, (i+1)*ohw), then zeros up to the next multiple of 16 (the
 * kernel's last vector reads them). */
static void conv_forward_col(const struct layer *l, const struct conv *cv, const float *x,
                             int nb, float *col, size_t ld)
{
	size_t in_size = shape_size(l->in), ohw = (size_t)cv->ohw;
	size_t ncol = (size_t)nb * ohw, pad = (ncol + 15) / 16 * 16 - ncol;

	for (int i = 0; i < nb; i++) {
		const float *xi = x + (size_t)i * in_size;   /* (c, h, w) */
		float *ci = col + (size_t)i * ohw;           /* (ckk, ld) from column i*ohw */

		if (cv->direct) {
			/* 1x1, stride 1, no padding: the image already is its col */
			for (int r = 0; r < cv->ckk; r++)
				memcpy(ci + (size_t)r * ld, xi + (size_t)r * ohw, ohw * sizeof(*ci));
		} else {
			im2col_ld(xi, l->in.c, l->in.h, l->in.w, cv->k, cv->stride, cv->pad_top,
			          cv->pad_left, l->out.h, l->out.w, ci, ld);
		}
	}
	for (int r = 0; pad && r < cv->ckk; r++)
		memset(col + (size_t)r * ld + ncol, 0, pad * sizeof(*col));
}

static void conv_forward(const struct layer *l, const float *w, const float *x, float *y,
                         int n, const struct layer_ctx *ctx)
{
	const struct conv *cv = conv_of(l);
	const float *wt = w;                                  /* (filters, ckk) */
	const float *b = w + (size_t)cv->filters * cv->ckk;   /* (filters) */
	size_t in_size = shape_size(l->in), out_size = shape_size(l->out);
	int block = conv_forward_block(cv, n);
	float *acc = ctx->scratch;                            /* conv_gemm_acc_floats */
	float *col = acc + conv_gemm_acc_floats(cv->filters); /* (ckk, ld) */

	if (cv->winograd) {
		unsigned fold = (ctx->fold & LAYER_FOLD_POOL2 ? CONV_WINOGRAD_POOL2 : 0) |
		                (ctx->fold & LAYER_FOLD_RELU ? CONV_WINOGRAD_RELU : 0);
		conv_winograd_forward(&cv->geom, wt, b, x, y, n, ctx->scratch, cv->wino_filters, fold);
		return;
	}
	if (cv->algo == CONV_DIRECT && !cv->gemm_forward) {
		conv_direct_forward(&cv->geom, wt, b, x, y, n, ctx->scratch);
		return;
	}
	if (conv_forward_fused(l, cv)) {
		struct conv_gemm_image im = conv_image(l, cv, x);
		conv_gemm_forward_fused(cv->filters, &im, n, wt, b, y, ctx->scratch);
		return;
	}
	/* Each output element is one chain of FMAs from the bias over the
	 * weights in order (conv_gemm.h), whatever the block. */
	for (int i0 = 0; i0 < n; i0 += block) {
		int nb = n - i0 < block ? n - i0 : block;
		size_t ld = conv_gemm_ld((size_t)nb * cv->ohw);

		conv_forward_col(l, cv, x + (size_t)i0 * in_size, nb, col, ld);
		conv_gemm_forward(cv->filters, cv->ckk, cv->ohw, nb, wt, b, col, ld,
		                  y + (size_t)i0 * out_size, acc);
	}
}

/* How backward's weight gradient reads the input (kernels/conv_backward.h):
 * where im2col reads no padding and nothing past the input, the input
 * itself; else a copy zero-padded to the rows and columns im2col reads.
 * Returns the floats of that copy (0: none). */
static size_t conv_bwd_input(const struct conv *cv, struct conv_bwd_geom *g)
{
	const struct layer *l = &cv->base;
	int hp = (l->out.h - 1) * cv->stride + cv->k, wp = (l->out.w - 1) * cv->stride + cv->k;
	bool in_place = cv->pad_top == 0 && cv->pad_left == 0 && hp <= l->in.h && wp <= l->in.w;

	*g = (struct conv_bwd_geom){ l->in.c, cv->k, cv->stride, l->out.h, l->out.w, cv->filters,
	                             in_place ? l->in.w : wp,
	                             in_place ? (size_t)l->in.h * l->in.w : (size_t)hp * wp,
	                             1, in_place ? shape_size(l->in) : (size_t)l->in.c * hp * wp };
	return in_place ? 0 : (size_t)l->in.c * hp * wp;
}

/* Images whose pixels one pass of the weight gradient's tiles runs
 * through (its accumulators stay in registers across them): about
 * CONV_BWD_BLOCK_PIXELS pixels, at most n images. */
static int conv_bwd_block(const struct conv *cv, int n)
{
	int b = CONV_BWD_BLOCK_PIXELS / cv->ohw;

	b = b < n ? b : n;
	return b > 1 ? b : 1;
}

static struct conv_bwd_dx_geom conv_bwd_dx_of(const struct conv *cv)
{
	const struct layer *l = &cv->base;

	return (struct conv_bwd_dx_geom){ l->in.c, l->in.h, l->in.w, cv->k, cv->pad_top,
	                                  cv->pad_left, l->out.h, l->out.w, cv->filters, 1, false };
}

/* Backward's room for dcol and the padded dy (conv_backward_dx): one
 * image's dcol (ckk, ohw) at stride > 1; at stride 1 the larger of the
 * padded dy (of one image, or of a block's in the pixel-order layout) and a
 * block's dcol and dy side by side ((ckk + filters) x block*ohw). */
static size_t conv_bwd_dx_floats(const struct conv *cv, int n)
{
	struct conv_bwd_dx_geom dg = conv_bwd_dx_of(cv);
	size_t block = (size_t)conv_bwd_block(cv, n), dyp;

	dg.n = (int)block;
	dyp = conv_bwd_dx_scratch(&dg);
	block *= (size_t)cv->ohw * ((size_t)cv->ckk + cv->filters);
	if (cv->stride != 1)
		return (size_t)cv->ckk * cv->ohw;
	return dyp > block ? dyp : block;
}

/* xp (c, hp, wp) = the image x (c, h, w) at offset (pad_top, pad_left),
 * zeros around it (g->wp = wp, g->cs = hp * wp). */
static void conv_pad_image(const struct conv *cv, const struct conv_bwd_geom *g, const float *x,
                           float *xp)
{
	const struct shape in = cv->base.in;
	int wp = g->wp, hp = (int)(g->cs / (size_t)wp);

	memset(xp, 0, (size_t)in.c * g->cs * sizeof(*xp));
	for (int ci = 0; ci < in.c; ci++) {
		for (int iy = 0; iy < in.h && iy + cv->pad_top < hp; iy++) {
			int n = in.w < wp - cv->pad_left ? in.w : wp - cv->pad_left;
			memcpy(xp + ci * g->cs + (size_t)(iy + cv->pad_top) * wp + cv->pad_left,
			       x + ((size_t)ci * in.h + iy) * in.w, (size_t)n * sizeof(*x));
		}
	}
}

/* dx_i (c, h, w) = col2im(W^T x dy_i), overwritten, for the nb images of a
 * block from dy, dx (their first images); dcol: conv_bwd_dx_floats. At
 * stride 1 where the direct kernel declines (short rows), the block's dcol
 * (ckk, nb*ohw) comes from one product over its dy side by side (dyB), its
 * columns each the chain over the filters they always were. */
static void conv_backward_dx(const struct conv *cv, const float *wt, const float *dy, float *dx,
                             int nb, const struct conv_bwd_dx_geom *dg, float *dcol)
{
	const struct layer *l = &cv->base;
	size_t in_size = shape_size(l->in), out_size = shape_size(l->out);
	size_t ohw = (size_t)cv->ohw, np = (size_t)nb * ohw;
	float *dyB = dcol + (size_t)cv->ckk * np;   /* (filters, nb*ohw) */

	for (int b = 0; b < nb && cv->direct; b++)
		cnn_gemm(true, false, cv->ckk, cv->ohw, cv->filters, 1.0f, wt, dy + b * out_size,
		         0.0f, dx + b * in_size);
	if (cv->direct)
		return;
	struct conv_bwd_dx_geom dgb = *dg;
	dgb.n = nb;
	if (cv->stride == 1 && conv_bwd_dx_s1(&dgb, wt, dy, dx, dcol))
		return;
	/* declined (as for every block of this layer): dcol is this path's */
	if (cv->stride == 1) {
		for (int f = 0; f < cv->filters; f++)
			for (int b = 0; b < nb; b++)
				memcpy(dyB + f * np + b * ohw, dy + b * out_size + f * ohw,
				       ohw * sizeof(*dy));
		cnn_gemm(true, false, cv->ckk, (int)np, cv->filters, 1.0f, wt, dyB, 0.0f, dcol);
		for (int b = 0; b < nb; b++)
			conv_bwd_col2im_s1(dcol + b * ohw, np, l->in.c, l->in.h, l->in.w, cv->k,
			                   cv->pad_top, cv->pad_left, l->out.h, l->out.w, dx + b * in_size);
		return;
	}
	for (int b = 0; b < nb; b++) {
		cnn_gemm(true, false, cv->ckk, cv->ohw, cv->filters, 1.0f, wt, dy + b * out_size,
		         0.0f, dcol);
		memset(dx + b * in_size, 0, in_size * sizeof(*dx));
		col2im(dcol, l->in.c, l->in.h, l->in.w, cv->k, cv->stride, cv->pad_top, cv->pad_left,
		       l->out.h, l->out.w, dx + b * in_size);
	}
}

/* The im2col algorithm's backward pass over n images, in the bits of the
 * plain formulation (dW += dy_i x col_i^T image after image, db[f] += the
 * sum of dy_i[f] in pixel order, dx_i = col2im(W^T x dy_i)):
 * dW is carried transposed through the batch, dW^T (ckk, filters) +=
 * col_i x dy_i^T, the same FMA chains with the filters across the lanes,
 * col_i read from the (padded) image rather than built, several small
 * images' pixels in one pass (conv_bwd_block), and dW^T transposed back
 * at the end (exact copies). */
static void conv_backward_im2col(const struct conv *cv, const float *wt, const float *x,
                                 const float *dy, float *dx, float *dwt, float *db, int n,
                                 float *scratch)
{
	const struct layer *l = &cv->base;
	size_t in_size = shape_size(l->in), out_size = shape_size(l->out);
	size_t dy_size = (size_t)cv->ohw * cv->filters;
	struct conv_bwd_geom g;
	size_t pad_size = conv_bwd_input(cv, &g);
	struct conv_bwd_dx_geom dg = conv_bwd_dx_of(cv);
	int block = conv_bwd_block(cv, n);
	float *xp = scratch;                                   /* (block, c, hp, wp), if padded */
	float *dcol = xp + (size_t)block * pad_size;           /* dcol, dy side by side, or dy padded */
	float *dyT = dcol + conv_bwd_dx_floats(cv, n);         /* (block * ohw, filters) */
	float *dwT = dyT + (size_t)block * dy_size;            /* (ckk, filters) */

	conv_bwd_transpose(dwt, cv->filters, cv->ckk, dwT);
	for (int i0 = 0; i0 < n; i0 += block) {
		g.n = n - i0 < block ? n - i0 : block;
		/* dW's chains run through the block's images, one after the other */
		for (int b = 0; b < g.n; b++) {
			if (pad_size)
				conv_pad_image(cv, &g, x + (size_t)(i0 + b) * in_size, xp + b * pad_size);
			conv_bwd_transpose(dy + (size_t)(i0 + b) * out_size, cv->filters, cv->ohw,
			                   dyT + b * dy_size);
			conv_bwd_bias(dyT + b * dy_size, cv->ohw, cv->filters, db);
		}
		conv_bwd_dw(&g, pad_size ? xp : x + (size_t)i0 * in_size, dyT, dwT);
		if (dx)
			conv_backward_dx(cv, wt, dy + (size_t)i0 * out_size, dx + (size_t)i0 * in_size,
			                 g.n, &dg, dcol);
		dg.packed = true;   /* the first block's call packed W in dcol */
	}
	conv_bwd_transpose(dwT, cv->ckk, cv->filters, dwt);
}

static void conv_backward(const struct layer *l, const float *w, const float *x, const float *y,
                          const float *dy, float *dx, float *dw, int n,
                          const struct layer_ctx *ctx)
{
	const struct conv *cv = conv_of(l);
	const float *wt = w;                                  /* (filters, ckk) */
	float *dwt = dw;                                      /* (filters, ckk) */
	float *db = dw + (size_t)cv->filters * cv->ckk;       /* (filters) */

	(void)y;
	if (cv->algo == CONV_DIRECT)
		conv_direct_backward(&cv->geom, wt, x, dy, dx, dwt, db, n, ctx->scratch);
	else
		conv_backward_im2col(cv, wt, x, dy, dx, dwt, db, n, ctx->scratch);
}

static int conv_params(const struct layer *l, struct param_spec *out)
{
	const struct conv *cv = conv_of(l);

	out[0] = (struct param_spec){
		.name = "weight",
		.n = (size_t)cv->filters * cv->ckk,
		.ndim = 4,
		.dims = { cv->filters, l->in.c, cv->k, cv->k },
		.fan_in = cv->ckk,
		.decay = true,
	};
	out[1] = (struct param_spec){
		.name = "bias",
		.n = (size_t)cv->filters,
		.ndim = 1,
		.dims = { cv->filters },
		.fan_in = 0,
		.decay = false,
	};
	return 2;
}

/* Scratch of a forward call on n images: the direct kernel's, or the
 * block's col matrix. */
static size_t conv_forward_scratch(const struct conv *cv, int n)
{
	if (cv->winograd)
		return conv_winograd_scratch_floats(&cv->geom);
	if (cv->algo == CONV_DIRECT && !cv->gemm_forward)
		return conv_direct_scratch_floats(&cv->geom);
	if (conv_forward_fused(&cv->base, cv))
		return conv_gemm_fused_floats(cv->filters);
	return conv_gemm_acc_floats(cv->filters) +
	       (size_t)cv->ckk * conv_gemm_ld((size_t)conv_forward_block(cv, n) * (size_t)cv->ohw);
}

/* Scratch of a backward call on n images: the direct kernel's, or
 * conv_backward_im2col's padded images and dy^T of a block of images, dcol
 * (or the padded dy) of one, and dW^T. */
static size_t conv_backward_scratch(const struct conv *cv, int n)
{
	struct conv_bwd_geom g;
	size_t block = (size_t)conv_bwd_block(cv, n);

	if (cv->algo == CONV_DIRECT)
		return conv_direct_scratch_floats(&cv->geom);
	return block * conv_bwd_input(cv, &g) + conv_bwd_dx_floats(cv, n) +
	       (block * cv->ohw + (size_t)cv->ckk) * (size_t)cv->filters;
}

static size_t conv_scratch_floats(const struct layer *l, int n)
{
	const struct conv *cv = conv_of(l);
	size_t fwd = conv_forward_scratch(cv, n), bwd = conv_backward_scratch(cv, n);

	return fwd > bwd ? fwd : bwd;
}

static double conv_flops(const struct layer *l)
{
	const struct conv *cv = conv_of(l);

	return 2.0 * cv->filters * (double)cv->ckk * cv->ohw;
}

static void conv_describe(const struct layer *l, char *buf, size_t len)
{
	const struct conv *cv = conv_of(l);
	char pad[64];

	switch (cv->padding) {
	case CONV_VALID:
		snprintf(pad, sizeof(pad), "valid");
		break;
	case CONV_SAME:
		if (cv->pad_top == cv->pad_left && cv->pad_bottom == cv->pad_right)
			snprintf(pad, sizeof(pad), "same(%d,%d)", cv->pad_top, cv->pad_bottom);
		else
			snprintf(pad, sizeof(pad), "same(%d,%d;%d,%d)", cv->pad_top,
			         cv->pad_bottom, cv->pad_left, cv->pad_right);
		break;
	case CONV_EXPLICIT:
		snprintf(pad, sizeof(pad), "pad %d", cv->pad_top);
		break;
	}
	snprintf(buf, len, "%dx%d/%d %s, %d->%d, %s%s%s", cv->k, cv->k, cv->stride, pad,
	         l->in.c, cv->filters,
	         cv->requested == CONV_AUTO ? "auto: " : cv->requested == CONV_WINOGRAD ? "winograd: " : "",
	         conv_algo_names[cv->algo],
	         cv->winograd ? " (forward by Winograd)" : cv->gemm_forward ? " (forward by GEMM)" : "");
}

/* Where `auto` takes the Winograd forward (see CONV_WINOGRAD_MIN_*): the
 * rule depends on the layer alone, never on the CPU, so that every machine
 * computes the same bits. */
static bool conv_winograd_auto(const struct conv *cv)
{
	return cv->k == 5 && cv->stride == 1 && cv->base.in.c >= CONV_WINOGRAD_MIN_CHANNELS &&
	       cv->filters >= CONV_WINOGRAD_MIN_FILTERS && cv->base.out.h >= CONV_WINOGRAD_MIN_SIDE &&
	       cv->base.out.w >= CONV_WINOGRAD_MIN_SIDE;
}

/* Settles `auto` for the network this layer is in (see the rule above). */
static void conv_choose(struct conv *cv, double dy_density)
{
	bool vectorised = conv_direct_vectorised(&cv->geom);
	bool narrow = (long long)cv->filters * cv->ckk <= CONV_AUTO_DIRECT_MACS;

	/* `winograd` names the forward pass only: backward is auto's */
	if (cv->requested == CONV_AUTO || cv->requested == CONV_WINOGRAD)
		cv->algo = vectorised && (narrow || dy_density <= CONV_AUTO_SPARSE_DY) ? CONV_DIRECT
		                                                                      : CONV_IM2COL;
	/* Explicit im2col or direct keep their own forward pass (and its bits):
	 * the way to opt out of auto's Winograd. */
	cv->winograd = cv->requested == CONV_WINOGRAD ||
	               (cv->requested == CONV_AUTO && conv_winograd_auto(cv));
	/* From CONV_GEMM_FORWARD_FILTERS filters, GEMM's register blocking
	 * beats the direct forward kernel (4 filters per pass, the input re-read
	 * for each 4): such a layer keeps direct's sparse backward and runs
	 * forward as im2col does (measured: docs/performance.md). */
	cv->gemm_forward = !cv->winograd && cv->algo == CONV_DIRECT && vectorised &&
	                   cv->filters >= CONV_GEMM_FORWARD_FILTERS;
}

static void conv_plan(struct layer *l, double dy_density)
{
	conv_choose((struct conv *)l, dy_density);
}

static void conv_destroy(struct layer *l)
{
	free(((struct conv *)l)->wino_filters);
	free(l);
}

/* The Winograd forward's filter transform, made once for weights that no
 * longer change: at batch 8 it is a sizeable share of a call. */
static int conv_freeze(struct layer *l, const float *w)
{
	struct conv *cv = (struct conv *)l;

	if (!cv->winograd)
		return 0;
	if (!cv->wino_filters)
		cv->wino_filters = malloc(conv_winograd_filters_floats(&cv->geom) * sizeof(float));
	if (!cv->wino_filters)
		return -1;
	conv_winograd_filters(&cv->geom, w, w + (size_t)cv->filters * cv->ckk, cv->wino_filters);
	return 0;
}

/* The Winograd forward's 2x2 output tiles are pooling windows when the
 * output is even (kernels/conv_winograd.h). */
static bool conv_can_fold_pool2(const struct layer *l)
{
	const struct conv *cv = conv_of(l);

	return cv->winograd && l->out.h % 2 == 0 && l->out.w % 2 == 0;
}

static void conv_attrs(const struct layer *l, struct layer_attrs *a)
{
	const struct conv *cv = conv_of(l);

	*a = (struct layer_attrs){ .kernel = cv->k, .stride = cv->stride,
	                           .pad_top = cv->pad_top, .pad_left = cv->pad_left,
	                           .pad_bottom = cv->pad_bottom, .pad_right = cv->pad_right };
}

static const struct layer_ops conv_ops = {
	.type = "conv",
	.forward = conv_forward,
	.backward = conv_backward,
	.params = conv_params,
	.scratch_floats = conv_scratch_floats,
	.flops = conv_flops,
	.describe = conv_describe,
	.plan = conv_plan,
	.destroy = conv_destroy,
	.freeze = conv_freeze,
	.can_fold_pool2 = conv_can_fold_pool2,
	.attrs = conv_attrs,
};

/* `padding` is either a word or a number, which no single getter reads. */
static int conv_read_padding(struct cfg_node *args, enum conv_padding *kind, long *n,
                             struct cnn_error *err)
{
	struct cfg_node *v = cfg_get(args, "padding");
	long dummy;
	int idx;

	*n = 0;
	if (v && v->kind == CFG_SCALAR && !v->quoted && cfg_parse_long(v->text, &dummy) == 0) {
		*kind = CONV_EXPLICIT;
		return cfg_int(args, "padding", CFG_OPTIONAL, 0, 0, 65536, n, "conv", err);
	}
	if (v && (v->kind != CFG_SCALAR ||
	          (strcmp(v->text, "valid") != 0 && strcmp(v->text, "same") != 0)))
		return cnn_errorf(err, v->loc,
		                  "conv: 'padding' must be valid, same or an integer in [0, 65536], got %s%s%s",
		                  v->kind == CFG_SCALAR ? "'" : "",
		                  v->kind == CFG_SCALAR ? v->text :
		                  v->kind == CFG_MAP ? "a mapping" : "a list",
		                  v->kind == CFG_SCALAR ? "'" : "");
	/* Through the getter, so an absent key is recorded as `valid`. */
	if (cfg_enum(args, "padding", CFG_OPTIONAL, CONV_VALID, conv_padding_names, &idx,
	             "conv", err))
		return -1;
	*kind = idx == 1 ? CONV_SAME : CONV_VALID;
	return 0;
}

/* SAME_UPPER along one axis: out = ceil(in/stride), the odd pixel after. */
static void conv_same_pad(int in, int k, int stride, int *before, int *after)
{
	long long out = ((long long)in + stride - 1) / stride;
	long long total = (out - 1) * stride + k - in;

	if (total < 0)
		total = 0;
	*before = (int)(total / 2);
	*after = (int)(total - total / 2);
}

int conv_create(struct cfg_node *args, struct shape in, struct layer **out,
                struct cnn_error *err)
{
	struct cnn_loc at = args ? args->loc : (struct cnn_loc){ 0 };
	long filters, k, stride, padn;
	enum conv_padding padding;
	int algo;
	int pt, pb, pl, pr;

	if (cfg_int(args, "filters", CFG_REQUIRED, 0, 1, 65536, &filters, "conv", err) ||
	    cfg_int(args, "kernel_size", CFG_REQUIRED, 0, 1, 65536, &k, "conv", err) ||
	    cfg_int(args, "stride", CFG_OPTIONAL, 1, 1, 65536, &stride, "conv", err) ||
	    conv_read_padding(args, &padding, &padn, err) ||
	    cfg_enum(args, "algorithm", CFG_OPTIONAL, CONV_AUTO, conv_algo_names, &algo,
	             "conv", err))
		return -1;

	switch (padding) {
	case CONV_SAME:
		conv_same_pad(in.h, (int)k, (int)stride, &pt, &pb);
		conv_same_pad(in.w, (int)k, (int)stride, &pl, &pr);
		break;
	case CONV_EXPLICIT:
		pt = pb = pl = pr = (int)padn;
		break;
	default:
		pt = pb = pl = pr = 0;
		break;
	}

	if (algo == CONV_WINOGRAD && (k != 5 || stride != 1))
		return cnn_errorf(err, cfg_get(args, "algorithm")->loc,
		                  "conv: algorithm 'winograd' needs kernel_size 5 and stride 1, got "
		                  "kernel_size %ld and stride %ld", k, stride);

	long long ph = (long long)in.h + pt + pb, pw = (long long)in.w + pl + pr;
	if (k > ph || k > pw)
		return cnn_errorf(err, at,
		                  "conv: kernel_size %ld is larger than the input %dx%d (padded %lldx%lld)",
		                  k, in.h, in.w, ph, pw);

	long long oh = (ph - k) / stride + 1, ow = (pw - k) / stride + 1;
	long long ckk = (long long)in.c * k * k, ohw = oh * ow;
	/* BLAS and param_spec count in int. */
	if (ckk > INT_MAX || ohw > INT_MAX || filters * ohw > INT_MAX || filters * ckk > INT_MAX)
		return cnn_errorf(err, at,
		                  "conv: too large: %ld filters of %ldx%ldx%d on an output of %lldx%lld",
		                  filters, k, k, in.c, oh, ow);

	struct conv *cv = calloc(1, sizeof(*cv));
	if (!cv)
		return cnn_errorf(err, at, "conv: out of memory");
	cv->base.ops = &conv_ops;
	cv->base.in = in;
	cv->base.out = (struct shape){ (int)filters, (int)oh, (int)ow };
	cv->filters = (int)filters;
	cv->k = (int)k;
	cv->stride = (int)stride;
	cv->padding = padding;
	cv->pad_top = pt;
	cv->pad_bottom = pb;
	cv->pad_left = pl;
	cv->pad_right = pr;
	cv->ckk = (int)ckk;
	cv->ohw = (int)ohw;
	cv->direct = k == 1 && stride == 1 && pt == 0 && pb == 0 && pl == 0 && pr == 0;
	cv->geom = (struct conv_geom){ in.c, in.h, in.w, (int)filters, (int)k, (int)stride,
	                               pt, pl, (int)oh, (int)ow };
	cv->requested = cv->algo = (enum conv_algo)algo;
	/* Until plan() says otherwise, dy is taken as dense. */
	conv_choose(cv, 1.0);
	*out = &cv->base;
	return 0;
}
