/* A row-major sgemm with the leading dimensions worked out from the shapes,
 * since every product in the layers is between whole, dense matrices. */
#include "cnn/kernels.h"

#include <cblas.h>

void cnn_gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
              const float *a, const float *b, float beta, float *c)
{
	int lda = trans_a ? m : k;
	int ldb = trans_b ? k : n;

	/* BLAS rejects a leading dimension of 0 even when there is nothing to do. */
	if (m <= 0 || n <= 0)
		return;
	cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
	            trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha,
	            a, lda > 0 ? lda : 1, b, ldb > 0 ? ldb : 1, beta, c, n);
}
