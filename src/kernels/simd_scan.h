/* AVX2 helpers shared by the direct convolution's kernels. Header-only and
 * static: each kernel file gets its own inlined copy. */
#ifndef CNN_KERNELS_SIMD_SCAN_H
#define CNN_KERNELS_SIMD_SCAN_H

#include <immintrin.h>

/* Lanes [0, n) of a mask, n in [0, 8]. */
static inline __m256i lane_mask(int n)
{
	static const int mask[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };

	return _mm256_loadu_si256((const __m256i *)(const void *)(mask + 8 - n));
}

/* The non-zero entries of one dy plane (oh, ow), as offsets oy * pw + ox
 * into a padded input plane of width pw; returns their count and adds their
 * sum to *sum. A plane after ReLU and max-pooling is mostly zeros: one
 * compare and movemask per 8 pixels finds the few that are not. */
static inline int find_nonzero(const float *d, int oh, int ow, int pw, int *pos, float *val,
                               float *sum)
{
	int nnz = 0;
	float s = 0.0f;

	for (int oy = 0; oy < oh; oy++) {
		const float *dr = d + (size_t)oy * ow;
		for (int ox = 0; ox < ow; ox += 8) {
			int len = ow - ox < 8 ? ow - ox : 8;
			__m256 v = len == 8 ? _mm256_loadu_ps(dr + ox) :
			           _mm256_maskload_ps(dr + ox, lane_mask(len));
			unsigned bits = (unsigned)_mm256_movemask_ps(
				_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NEQ_UQ));
			while (bits) {
				int l = __builtin_ctz(bits);
				bits &= bits - 1;
				pos[nnz] = oy * pw + ox + l;
				val[nnz] = dr[ox + l];
				s += dr[ox + l];
				nnz++;
			}
		}
	}
	*sum += s;
	return nnz;
}

#endif
