/* Winograd F(2x2, 5x5) forward convolution: 5x5 kernels, stride 1, any
 * padding. Each 2x2 block of outputs (a tile) comes from a 6x6 block of the
 * zero-padded input with 36 products per (filter, channel) instead of 100:
 *
 *   Y = A^T [ sum_c (G g_fc G^T) .* (B^T d_c B) ] A,   y = Y + b[f]
 *
 * on the points 0, +-1, +-2 and infinity (6x6 B^T, 6x5 G, 2x6 A^T). The
 * products are 36 small matrix products, per point xi:
 * M_xi (tiles, filters) = V_xi (tiles, c) x U_xi (c, filters).
 * The result differs from the direct sum by rounding only (bounded in
 * tests/test_conv_winograd.c against a double-precision direct sum).
 *
 * Same layouts as conv_direct.h: x (n, c, h, w), y (n, filters, oh, ow),
 * w (filters, c, 5, 5), b (filters); g->k must be 5 and g->stride 1.
 *
 * The same bits at every instruction-set level and for any split of the
 * images between calls: every output depends only on its own tile, the
 * transforms are the same plain operations in the same order at every
 * level (elementwise across lanes), and each M element is one chain of
 * FMAs over the channels c = 0, 1, ..., c-1 in order, from zero. */
#ifndef CNN_CONV_WINOGRAD_H
#define CNN_CONV_WINOGRAD_H

#include <stddef.h>

#include "kernels/conv_direct.h"

/* The scratch floats conv_winograd_forward needs (whatever n). */
size_t conv_winograd_scratch_floats(const struct conv_geom *g);

/* The filters and bias in the layout the products read (G g G^T per
 * filter and channel), for weights that no longer change: a network that
 * only predicts keeps them instead of transforming w in every call. f
 * holds conv_winograd_filters_floats(g) floats (the transformed filters,
 * the bias, then room the transform works in). The same bits as the
 * transform each forward call makes, at every level. */
size_t conv_winograd_filters_floats(const struct conv_geom *g);
void conv_winograd_filters(const struct conv_geom *g, const float *w, const float *b, float *f);

/* What the forward may fold into its output transform, for a network
 * that only predicts (net_plan_acts's folds): the 2x2/2 max-pooling that reads
 * the output, each tile's 2x2 block being one window (g->oh and g->ow even),
 * and the ReLU before it. The same bits as pool2_forward on the output:
 * max2(max2(max2(y00, y01), y10), y11), each read through relu_value. */
#define CONV_WINOGRAD_POOL2 1u
#define CONV_WINOGRAD_RELU 2u

/* y = the convolution of the n images of x, plus the bias
 * (the chosen level's copy: kernels/dispatch.h); with CONV_WINOGRAD_POOL2
 * in fold, y is pooled: (n, filters, oh / 2, ow / 2). filters: what
 * conv_winograd_filters made of w and b (which are then not read), or NULL
 * to transform w and b in this call. */
void conv_winograd_forward(const struct conv_geom *g, const float *w, const float *b,
                           const float *x, float *y, int n, float *scratch,
                           const float *filters, unsigned fold);

#endif
