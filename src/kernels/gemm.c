/* A row-major sgemm with the leading dimensions worked out from the shapes,
 * since every product in the layers is between whole, dense matrices.
 *
 * Every product goes through cnnrun's own fixed-order kernel (gemm_fixed.h),
 * so that a config, seed and thread count give the same bits on every
 * x86-64 CPU: OpenBLAS picks its kernel by CPU and sums in that kernel's
 * order. docs/performance.md measures what this costs. */
#include "kernels/kernels.h"

#include "gemm_fixed.h"

void cnn_gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
              const float *a, const float *b, float beta, float *c)
{
	gemm_fixed(trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
}
