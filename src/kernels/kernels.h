/* Shared math for the layers: im2col/col2im and a row-major sgemm wrapper.
 *
 * im2col unrolls every k x k receptive field of one image into a column, so a
 * convolution becomes one matrix product W (filters, c*k*k) x col (c*k*k, oh*ow).
 * Row r = (ci*k + ki)*k + kj of col matches the PyTorch weight layout
 * (filters, c, k, k); column j = oy*ow + ox is the output pixel.
 *
 * Padding may be asymmetric (TensorFlow/ONNX SAME_UPPER puts the odd pixel at
 * the bottom/right): only the top/left padding is passed, and the bottom/right
 * padding follows from oh and ow. Pixels outside the image read as zero. */
#ifndef CNN_KERNELS_H
#define CNN_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

struct cnn_error;

/* col[(ci*k+ki)*k+kj][oy*ow+ox] = x[ci][oy*stride-pad_top+ki][ox*stride-pad_left+kj] (0 outside) */
void im2col(const float *x /* (c, h, w) */, int c, int h, int w, int k, int stride,
            int pad_top, int pad_left, int oh, int ow, float *col /* (c*k*k, oh*ow) */);

/* im2col with col's rows ld floats apart (ld >= oh*ow): several images'
 * columns side by side in one (c*k*k, ld) matrix, image i at col + i*oh*ow. */
void im2col_ld(const float *x /* (c, h, w) */, int c, int h, int w, int k, int stride,
               int pad_top, int pad_left, int oh, int ow, float *col /* (c*k*k, ld) */,
               size_t ld);

/* The adjoint of im2col: dx[ci][iy][ix] += every col entry that im2col read from it.
 * Accumulates; the caller zeroes dx. */
void col2im(const float *col /* (c*k*k, oh*ow) */, int c, int h, int w, int k, int stride,
            int pad_top, int pad_left, int oh, int ow, float *dx /* (c, h, w) */);

/* C (m, n) = alpha * op(A) (m, k) x op(B) (k, n) + beta * C, all row-major and dense:
 * A is stored (m, k), or (k, m) when trans_a; B is (k, n), or (n, k) when trans_b. */
void cnn_gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
              const float *a, const float *b, float beta, float *c);

/* Which kernels run. The vectorised ones (direct convolution, im2col,
 * Adam's update, tanh and sigmoid, 2x2 max-pooling) are compiled once per instruction-set level and one level
 * is chosen at run time (src/kernels/dispatch.c): the widest this CPU runs,
 * or the one the environment variable CNN_ISA names (baseline | avx2 | avx512).
 *
 * cnn_kernels_select makes the choice now and fails (-1, err says why) if
 * CNN_ISA names a level that is unknown or that this CPU lacks; call it
 * before anything else (the choice cannot change once a kernel has run).
 * Without it the first kernel call chooses, ignoring an impossible CNN_ISA. */
int cnn_kernels_select(struct cnn_error *err);

/* The chosen level's name: "baseline", "avx2", "avx512". */
const char *cnn_kernels_name(void);

/* One line for --version and summary: the level and why. Returns buf. */
const char *cnn_kernels_describe(char *buf, size_t len);

#endif
