/* The convolution's forward product for a block of images, with the bits
 * of gemm_fixed (gemm_fixed.h):
 *
 *   y[i][f][q] = bias[f] + sum_p W[f][p] * col[p][i*ohw + q]
 *
 * for images i < nb, filters f, pixels q < ohw, p < ckk; col holds the
 * block's im2col matrices side by side, its rows ld floats apart. Every
 * element is one chain of FMAs over p in order starting from the bias,
 * exactly as gemm_fixed(W, col, beta 1) onto y filled with the bias
 * computes it, so each path gives the same bits as gemm_fixed's.
 *
 * The layer (src/layers/conv.c) multiplies several small images at once:
 * their pixels side by side make one wide product, so the vector lanes run
 * over pixels of the whole block (a 4x4 or 7x7 image leaves no half-empty
 * tile per image), and each tile's rows are stored straight into the NCHW
 * output, a vector split where it crosses from one image into the next.
 * ld must be at least nb*ohw rounded up to a multiple of 16, and col's
 * columns from nb*ohw to that multiple must hold finite values (zeros):
 * the last vectors read them and drop their lanes. */
#ifndef CNN_CONV_GEMM_H
#define CNN_CONV_GEMM_H

#include <stdbool.h>
#include <stddef.h>

/* The row stride conv_gemm_forward wants for a block of ncol columns:
 * a multiple of 16 floats, and not of 1024 (rows 4 KB apart would all fall
 * in the same cache sets). */
size_t conv_gemm_ld(size_t ncol);

/* The floats of conv_gemm_forward's acc: partial chains between blocks of k. */
size_t conv_gemm_acc_floats(int filters);

/* The path gemm_fixed takes (CNN_GEMM_PATH chooses for both). */
void conv_gemm_forward(int filters, int ckk, int ohw, int nb, const float *w /* (filters, ckk) */,
                       const float *bias /* (filters) */, const float *col /* (ckk, ld) */,
                       size_t ld, float *y /* (nb, filters, ohw) */,
                       float *acc /* conv_gemm_acc_floats(filters) */);

/* Each path, for tests: the vector ones return false (computing nothing)
 * where the CPU lacks AVX2 and FMA, or AVX-512F. */
void conv_gemm_forward_portable(int filters, int ckk, int ohw, int nb, const float *w,
                                const float *bias, const float *col, size_t ld, float *y, float *acc);
bool conv_gemm_forward_avx2(int filters, int ckk, int ohw, int nb, const float *w,
                            const float *bias, const float *col, size_t ld, float *y, float *acc);
bool conv_gemm_forward_avx512(int filters, int ckk, int ohw, int nb, const float *w,
                              const float *bias, const float *col, size_t ld, float *y, float *acc);

/* Images at most 32 pixels wide (every convolution of the configs):
 * im2col built panel by panel in L1 from the images, instead of a col
 * matrix written to L2 and read back. x (nb, c, h, w). */
struct conv_gemm_image {
	const float *x;
	int c, h, w, k, stride, pad_top, pad_left, oh, ow;
};

/* Whether conv_gemm_forward_fused runs this geometry on this CPU: AVX-512,
 * the path gemm_fixed takes. */
bool conv_gemm_fused_applies(const struct conv_gemm_image *im);

/* Its scratch floats. */
size_t conv_gemm_fused_floats(int filters);

/* y (nb, filters, oh*ow): the bits of im2col + conv_gemm_forward, where
 * conv_gemm_fused_applies says so. */
void conv_gemm_forward_fused(int filters, const struct conv_gemm_image *im, int nb,
                             const float *w, const float *bias, float *y,
                             float *scratch /* conv_gemm_fused_floats(filters) */);

#endif
