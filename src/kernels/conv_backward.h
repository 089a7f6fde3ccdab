/* The im2col convolution's backward pass on a dense dy (src/layers/conv.c),
 * in the pieces that are not a GEMM. Each one computes exactly what the
 * plain formulation does, in the same order, so every level (baseline,
 * AVX2, AVX-512: src/kernels/dispatch.h) gives the same bits:
 *
 *  - the weight gradient runs as dW^T (c*k*k, filters) += col x dy^T, one
 *    FMA chain per element over the images and pixels in order, as dW +=
 *    dy x col^T would (fma is symmetric), with the filters across the
 *    vector lanes: dy^T is a plain transposed copy, and col is read from
 *    the (padded) image where im2col would have copied it from, never built;
 *  - the bias gradient is summed from the same dy^T, per filter and pixel
 *    by pixel as before, the filters across the lanes;
 *  - col2im at stride 1 writes each row of dx once, adding its (ki, kj)
 *    terms in col2im's order in registers (from one image's dcol or from
 *    its columns of a block's);
 *  - or, at stride 1 on rows about a vector wide or wider, dx comes
 *    straight from dy and W (a transposed convolution), each dcol term
 *    computed in registers as the GEMM would and added in col2im's order;
 *    where the output is the input's size (`same` padding), the vectors run
 *    along the image's pixels in memory order, several rows (and images)
 *    to a pair of vectors, so small images fill them too. */
#ifndef CNN_CONV_BACKWARD_H
#define CNN_CONV_BACKWARD_H

#include <stdbool.h>
#include <stddef.h>

/* A block of images' input as the weight gradient reads it: each image
 * zero-padded (or the input itself where it needs no padding), image i's
 * channel ci's pixel (py, px) at xp[i*is + ci*cs + py*wp + px], so that
 * im2col's entry (r, j) of image i, r = (ci*k + ki)*k + kj and j = oy*ow +
 * ox, is xp[i*is + ci*cs + (oy*stride + ki)*wp + ox*stride + kj]. */
struct conv_bwd_geom {
	int c, k, stride, oh, ow, filters;
	int wp;       /* xp's row stride */
	size_t cs;    /* xp's channel stride */
	int n;        /* images in the block */
	size_t is;    /* xp's image stride */
};

/* dwT (c*k*k, filters) += col x dyT (n*oh*ow, filters), col (c*k*k, n*oh*ow)
 * being the n images' im2col side by side, without building it: each
 * element one FMA chain over the images and their pixels in order, as
 * gemm_fixed (cnn_gemm) computes image after image the product of the
 * built col, padding zeros included. */
void conv_bwd_dw(const struct conv_bwd_geom *g, const float *xp, const float *dyT, float *dwT);

/* The input gradient at stride 1 without dcol: dx[ci][iy][ix] = the sum,
 * in col2im's order ((ki, kj) ascending, from +0), of the terms
 * dcol[(ci, ki, kj)][(oy, ox)] for oy = iy + pad_top - ki, ox = ix +
 * pad_left - kj inside the output, each computed as gemm_fixed computes
 * dcol = W^T x dy: one FMA chain over the filters in order, from +0. So dx
 * is bit for bit memset + col2im(W^T x dy) (a term outside the output
 * comes out +-0, and adding +-0 to a sum that started at +0 changes
 * nothing: such a sum is never -0). */
struct conv_bwd_dx_geom {
	int c, h, w, k, pad_top, pad_left, oh, ow, filters;
	int n;         /* images, each dy (filters, oh*ow) and dx (c, h, w) after the last */
	bool packed;   /* the scratch already holds this W packed, from an earlier
	                * call on the same W and scratch (a later block of images) */
};

/* The widest vector any level uses, in floats (scratch is sized by it). */
#define CONV_BWD_VL_MAX 16

/* The pixel-order layout (oh == h, ow == w): dy zero-padded before and
 * after each filter's plane of each image, by as many floats as a term's
 * shift reaches (conv_bwd_dx_flat_pad). */
static inline bool conv_bwd_dx_flat(const struct conv_bwd_dx_geom *g)
{
	return g->oh == g->h && g->ow == g->w && g->pad_top < g->k && g->pad_left < g->k;
}

static inline void conv_bwd_dx_flat_pad(const struct conv_bwd_dx_geom *g, size_t *before,
                                        size_t *plane)
{
	size_t hw = (size_t)g->h * g->w;
	size_t hwv = (hw + CONV_BWD_VL_MAX - 1) / CONV_BWD_VL_MAX * CONV_BWD_VL_MAX;

	*before = (size_t)(g->k - 1) * ((size_t)g->w + 1);
	/* before + the plane + what the last vector's lanes reach past it */
	*plane = *before + hwv + (size_t)g->pad_top * g->w + (size_t)g->pad_left;
}

/* The most channels any level's dx tile takes (a multiple of the others') */
#define CONV_BWD_DX_CB_MAX 12

/* Floats of the zero-padded dy (in either layout) that conv_bwd_dx_s1
 * needs, after its packed weights. */
static inline size_t conv_bwd_dx_dy_floats(const struct conv_bwd_dx_geom *g)
{
	size_t wq = ((size_t)g->w + CONV_BWD_VL_MAX - 1) / CONV_BWD_VL_MAX * CONV_BWD_VL_MAX;
	size_t rows = (size_t)g->filters * (size_t)(g->h + g->k - 1) * (wq + (size_t)g->k - 1);
	size_t before, plane, flat;

	if (!conv_bwd_dx_flat(g))
		return rows;
	conv_bwd_dx_flat_pad(g, &before, &plane);
	flat = (size_t)g->filters * (size_t)g->n * plane;
	return flat > rows ? flat : rows;
}

/* Floats of W packed for conv_bwd_dx_s1's tiles (channels rounded up to
 * whole tiles): the start of its scratch, whatever the images. */
static inline size_t conv_bwd_dx_packed_floats(const struct conv_bwd_dx_geom *g)
{
	size_t cq = ((size_t)g->c + CONV_BWD_DX_CB_MAX - 1) / CONV_BWD_DX_CB_MAX * CONV_BWD_DX_CB_MAX;

	return cq * (size_t)g->k * g->k * (size_t)g->filters;
}

/* Floats of conv_bwd_dx_s1's scratch: packed W, then the padded dy. */
static inline size_t conv_bwd_dx_scratch(const struct conv_bwd_dx_geom *g)
{
	return conv_bwd_dx_packed_floats(g) + conv_bwd_dx_dy_floats(g);
}

/* dx (c, h, w) of each of the g->n images from w (filters, c*k*k) and dy
 * (filters, oh*ow), as above, overwriting dx; scratch: conv_bwd_dx_scratch(g)
 * floats. Returns false, having done nothing, where this level has no such
 * kernel or it would not pay (rows much shorter than a vector, where the
 * output is not the input's size): the caller then computes dcol and
 * col2im, which give the same bits. */
bool conv_bwd_dx_s1(const struct conv_bwd_dx_geom *g, const float *w, const float *dy,
                    float *dx, float *scratch);

/* t (cols, rows) = a (rows, cols) transposed: an exact copy. */
void conv_bwd_transpose(const float *a, int rows, int cols, float *t);

/* db[f] += sum over j of dyT[j][f] (ohw, filters), summed per filter
 * in the order of j from 0, then added to db[f]: what the loop
 * `s = 0; for j: s += dy[f][j]; db[f] += s` gives. */
void conv_bwd_bias(const float *dyT, int ohw, int filters, float *db);

/* dx (c, h, w) = col2im(dcol) into a zeroed dx, for stride 1 only: every
 * dx element gets its terms in col2im's order ((ki, kj) ascending), from
 * +0, so it is bit for bit memset + col2im (kernels.h). Overwrites dx.
 * dcol's rows are ld apart: oh*ow for one image's dcol, more for one
 * image's columns of several images' dcol side by side. */
void conv_bwd_col2im_s1(const float *dcol /* (c*k*k, ld) */, size_t ld, int c, int h, int w,
                        int k, int pad_top, int pad_left, int oh, int ow,
                        float *dx /* (c, h, w) */);

#endif
