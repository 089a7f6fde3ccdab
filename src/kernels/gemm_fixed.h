/* cnnrun's own sgemm, whose bits do not depend on the CPU.
 *
 * C (m, n) = op(A) (m, k) x op(B) (k, n) + beta * C, row-major and dense as
 * cnn_gemm's, computed so that every output element is one chain of fused
 * multiply-adds in the order of k:
 *
 *   c = beta == 0 ? 0 : beta == 1 ? C[i][j] : beta * C[i][j]
 *   for p = 0 .. k-1:  c = fma(alpha * A[i][p], B[p][j], c)   (alpha * A rounded once)
 *   C[i][j] = c
 *
 * An FMA rounds once, in hardware or in libm's fmaf() alike, so the result
 * is the same whichever path computes it, and fma(b, a, c) is fma(a, b, c):
 * the vector kernels spread output columns (or, for a few rows times a
 * transposed B, output rows) across the lanes and block k in order, so
 * neither the vector width, the blocking nor which operand a kernel
 * broadcasts changes a sum. OpenBLAS (cnn_gemm's other
 * backend) picks its kernel by CPU and sums k in kernel-dependent order. */
#ifndef CNN_GEMM_FIXED_H
#define CNN_GEMM_FIXED_H

#include <stdbool.h>

/* The path chosen once for this CPU: AVX-512 where the CPU has it, else
 * AVX2+FMA, else the portable loop; CNN_GEMM_PATH=portable|avx2|avx512 in
 * the environment picks one the CPU has (for tests and measurements). */
void gemm_fixed(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                const float *a, const float *b, float beta, float *c);

/* Each path by name, for the tests that compare them. gemm_fixed_avx2 and
 * gemm_fixed_avx512 return false (and compute nothing) where the CPU lacks
 * AVX2 and FMA, or AVX-512F. */
void gemm_fixed_portable(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                         const float *a, const float *b, float beta, float *c);
bool gemm_fixed_avx2(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                     const float *a, const float *b, float beta, float *c);
bool gemm_fixed_avx512(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                       const float *a, const float *b, float beta, float *c);

/* The name of the path gemm_fixed takes: "avx512", "avx2" or "portable". */
const char *gemm_fixed_path(void);

#endif
