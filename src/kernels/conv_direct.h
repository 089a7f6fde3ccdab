/* Direct convolution: no im2col matrix, for layers with few channels and
 * small kernels, where the GEMM of im2col would be a few rows tall and run far
 * below the machine's peak (see docs/performance.md).
 *
 *   y[f][oy][ox] = b[f] + sum_{c,ki,kj} w[f][c][ki][kj] *
 *                  x[c][oy*stride - pad_top + ki][ox*stride - pad_left + kj]
 *
 * Same layouts and conventions as the im2col path in src/layers/conv.c:
 * x (n, c, h, w), y (n, filters, oh, ow), w (filters, c, k, k), b (filters);
 * backward ADDS into dw and db and OVERWRITES dx (skipped when dx is NULL).
 *
 * On a CPU with AVX2 and FMA (chosen at run time: src/kernels/dispatch.h),
 * stride 1 and k <= 8 take a vectorised path: 4 output channels at a time
 * held in registers, 8 output pixels per register; the
 * weight gradient visits only the positions where dy is non-zero (after ReLU
 * and max-pooling, most are zero), and so does the input gradient when dy is
 * sparse (each non-zero scatters its window of weights); when dy is dense it
 * is the forward kernel run on the zero-padded dy with the weights flipped
 * and transposed. From 8 input channels the backward pass runs channels-last
 * instead (src/kernels/conv_direct_wide.c), with every lane of every FMA in
 * use.
 * With AVX-512 (CNN_ISA=avx512) the forward runs 16 pixels per register
 * where that pays, with the AVX2 path's bits (docs/design.md, "Kernel
 * levels").
 * Everything else, and every CPU without AVX2 (or CNN_ISA=baseline), takes
 * a portable path of plain loops over output rows that compilers vectorise
 * for stride 1. */
#ifndef CNN_CONV_DIRECT_H
#define CNN_CONV_DIRECT_H

#include <stdbool.h>
#include <stddef.h>

struct conv_geom {
	int c, h, w;             /* input, per image */
	int filters, k, stride;
	int pad_top, pad_left;   /* bottom/right padding follows from oh and ow */
	int oh, ow;              /* output, per image */
};

/* Whether this CPU's kernels and this shape take the vectorised path. */
bool conv_direct_vectorised(const struct conv_geom *g);

/* Scratch floats that one forward or backward call needs (any batch size). */
size_t conv_direct_scratch_floats(const struct conv_geom *g);

void conv_direct_forward(const struct conv_geom *g, const float *w, const float *b,
                         const float *x, float *y, int n, float *scratch);

void conv_direct_backward(const struct conv_geom *g, const float *w, const float *x,
                          const float *dy, float *dx, float *dw, float *db, int n,
                          float *scratch);

#endif
