/* The im2col convolution's backward pass, the parts around its GEMMs
 * (kernels/conv_backward.h says what each computes and why the bits are
 * those of the plain loops). Compiled once per level like im2col.c. */
#include "kernels/conv_backward.h"

#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/isa.h"

#if CNN_ISA_LEVEL >= CNN_ISA_AVX2
#include <immintrin.h>
#endif

#define TRANSPOSE_BLOCK 16   /* a 16 x 16 block: 1 KB read and written, in L1 */
#define BIAS_BLOCK 64        /* filters summed at once (their sums in registers) */

void KERNEL_FN(conv_bwd_transpose)(const float *a, int rows, int cols, float *t)
{
	for (int i0 = 0; i0 < rows; i0 += TRANSPOSE_BLOCK) {
		int i1 = rows - i0 < TRANSPOSE_BLOCK ? rows : i0 + TRANSPOSE_BLOCK;

		for (int j0 = 0; j0 < cols; j0 += TRANSPOSE_BLOCK) {
			int j1 = cols - j0 < TRANSPOSE_BLOCK ? cols : j0 + TRANSPOSE_BLOCK;

			for (int j = j0; j < j1; j++) {
				float *tj = t + (size_t)j * rows;   /* (rows) */
				for (int i = i0; i < i1; i++)
					tj[i] = a[(size_t)i * cols + j];
			}
		}
	}
}

void KERNEL_FN(conv_bwd_bias)(const float *dyT, int ohw, int filters, float *db)
{
	for (int f0 = 0; f0 < filters; f0 += BIAS_BLOCK) {
		int fb = filters - f0 < BIAS_BLOCK ? filters - f0 : BIAS_BLOCK;
		float s[BIAS_BLOCK] = { 0 };   /* (fb): filter f0 + f's sum so far */

		/* j outside f: each s[f] still adds the pixels in order, and the
		 * inner loop runs along a row of dy^T, across the filters. */
		for (int j = 0; j < ohw; j++) {
			const float *row = dyT + (size_t)j * filters + f0;   /* (fb) */
			for (int f = 0; f < fb; f++)
				s[f] += row[f];
		}
		for (int f = 0; f < fb; f++)
			db[f0 + f] += s[f];
	}
}

/* The lanes [lo, hi) of a chunk of dx row starting at ix0 that have a term
 * from kernel column kj: ox = ix + pad_left - kj within [0, ow), ix < w. */
static inline void col2im_lanes(int ix0, int lanes, int w, int ow, int pad_left, int kj,
                                int *lo, int *hi)
{
	int a = kj - pad_left - ix0, b = ow + kj - pad_left - ix0;

	if (b > w - ix0)
		b = w - ix0;
	if (b > lanes)
		b = lanes;
	*lo = a > 0 ? a : 0;
	*hi = b;
}

#if CNN_ISA_LEVEL >= CNN_ISA_AVX2
#if CNN_ISA_LEVEL >= CNN_ISA_AVX512
#define VL 16
typedef __m512 vec;
typedef __mmask16 vmask;
static inline vmask lanes_mask(int lo, int hi)
{
	return (vmask)(((1u << hi) - 1) & ~((1u << lo) - 1));
}
#define VZERO() _mm512_setzero_ps()
#define VADD(a, b) _mm512_add_ps(a, b)
#define VLOADM(p, m) _mm512_maskz_loadu_ps(m, p)
#define VSTORE(p, v) _mm512_storeu_ps(p, v)
#define VSTOREM(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#else
#define VL 8
typedef __m256 vec;
typedef __m256i vmask;
static inline vmask lanes_mask(int lo, int hi)
{
	__m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);

	return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(lo), lane),
	                           _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), lane));
}
#define VZERO() _mm256_setzero_ps()
#define VADD(a, b) _mm256_add_ps(a, b)
#define VLOADM(p, m) _mm256_maskload_ps(p, m)
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#define VSTOREM(p, m, v) _mm256_maskstore_ps(p, m, v)
#endif

/* VL pixels of dx's row iy of channel ci from ix0 (nx <= VL of them in the
 * image): from +0, each term in col2im's order; lanes without a term add
 * +0, which leaves a sum that started at +0 unchanged (it is never -0). */
static inline vec col2im_chunk(const float *dc, int k, int pad_top, int pad_left, int oh,
                               int ow, int w, int iy, int ix0, int nx)
{
	size_t ohw = (size_t)oh * ow;
	vec acc = VZERO();

	for (int ki = 0; ki < k; ki++) {
		int oy = iy + pad_top - ki;

		if (oy < 0 || oy >= oh)
			continue;
		for (int kj = 0; kj < k; kj++) {
			const float *src = dc + ((size_t)ki * k + kj) * ohw + (size_t)oy * ow;
			int lo, hi;

			col2im_lanes(ix0, nx, w, ow, pad_left, kj, &lo, &hi);
			if (lo >= hi)
				continue;
			/* lane l reads src[ix0 + l + pad_left - kj]; the masked-off
			 * lanes (l < lo may point before src) are not read */
			acc = VADD(acc, VLOADM(src + ix0 + pad_left - kj, lanes_mask(lo, hi)));
		}
	}
	return acc;
}

void KERNEL_FN(conv_bwd_col2im_s1)(const float *dcol, int c, int h, int w, int k, int pad_top,
                                   int pad_left, int oh, int ow, float *dx)
{
	size_t ohw = (size_t)oh * ow;

	for (int ci = 0; ci < c; ci++) {
		const float *dc = dcol + (size_t)ci * k * k * ohw;   /* (k*k, ohw) */
		for (int iy = 0; iy < h; iy++) {
			float *d = dx + ((size_t)ci * h + iy) * w;   /* (w) */

			if (w < VL) {
				vec v = col2im_chunk(dc, k, pad_top, pad_left, oh, ow, w, iy, 0, w);
				VSTOREM(d, lanes_mask(0, w), v);
				continue;
			}
			/* Whole vectors; the last one overlaps the one before
			 * rather than being masked (its pixels come out the same). */
			for (int ix0 = 0;; ix0 += VL) {
				if (ix0 > w - VL)
					ix0 = w - VL;
				VSTORE(d + ix0, col2im_chunk(dc, k, pad_top, pad_left, oh, ow, w, iy,
				                             ix0, VL));
				if (ix0 == w - VL)
					break;
			}
		}
	}
}

#else

void KERNEL_FN(conv_bwd_col2im_s1)(const float *dcol, int c, int h, int w, int k, int pad_top,
                                   int pad_left, int oh, int ow, float *dx)
{
	size_t ohw = (size_t)oh * ow;

	for (int ci = 0; ci < c; ci++) {
		const float *dc = dcol + (size_t)ci * k * k * ohw;   /* (k*k, ohw) */
		for (int iy = 0; iy < h; iy++) {
			float *d = dx + ((size_t)ci * h + iy) * w;   /* (w) */

			memset(d, 0, (size_t)w * sizeof(*d));
			/* A row at a time, its terms in col2im's order. */
			for (int ki = 0; ki < k; ki++) {
				int oy = iy + pad_top - ki;

				if (oy < 0 || oy >= oh)
					continue;
				for (int kj = 0; kj < k; kj++) {
					const float *src = dc + ((size_t)ki * k + kj) * ohw +
					                   (size_t)oy * ow;
					int lo, hi;

					col2im_lanes(0, w, w, ow, pad_left, kj, &lo, &hi);
					for (int ix = lo; ix < hi; ix++)
						d[ix] += src[ix + pad_left - kj];
				}
			}
		}
	}
}

#endif
