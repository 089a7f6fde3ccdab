/* im2col / col2im for one image, with top/left padding given and bottom/right
 * padding implied by the output size (see kernels/kernels.h for the layout).
 *
 *   x, dx: (c, h, w)    col: (c*k*k, oh*ow)
 *
 * col2im is the exact adjoint of im2col (<col2im(y), x> == <y, im2col(x)>), so
 * the convolution's input gradient is col2im(W^T dy). It accumulates because
 * overlapping windows (stride < k) send several col entries to one pixel. */
#include "kernels/kernels.h"

#include <stdbool.h>
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/isa.h"

#if CNN_ISA_LEVEL >= CNN_ISA_AVX2
#include <immintrin.h>
#endif

/* dst[0 .. n) = src[0 .. n), reading nothing past src[n - 1]. im2col's rows
 * are short (an output row: 14 floats for lenet's second convolution) and
 * there are c * k * k * oh of them per image, so a call to memcpy or a
 * scalar loop per row costs more than the copy: 8 lanes at a time, the
 * last 8 overlapping the ones before (masked stores are slow on AMD). */
static inline void copy_row(float *dst, const float *src, int n)
{
#if CNN_ISA_LEVEL >= CNN_ISA_AVX2
	if (n >= 8) {
		for (int i = 0; i + 8 < n; i += 8)
			_mm256_storeu_ps(dst + i, _mm256_loadu_ps(src + i));
		_mm256_storeu_ps(dst + n - 8, _mm256_loadu_ps(src + n - 8));
		return;
	}
#endif
	for (int i = 0; i < n; i++)
		dst[i] = src[i];
}

/* Smallest o >= 0 with o*stride >= a. */
static int im2col_first(int a, int stride)
{
	return a <= 0 ? 0 : (a + stride - 1) / stride;
}

/* The output columns [*lo, *hi) whose input column ox*stride - pad_left + kj
 * lies inside the image; the rest read padding. Working this out once per
 * kernel column keeps the bounds test out of the inner loop. */
static void im2col_range(int w, int stride, int pad_left, int kj, int ow, int *lo, int *hi)
{
	int a = im2col_first(pad_left - kj, stride);
	int b = im2col_first(w + pad_left - kj, stride);

	if (a > ow)
		a = ow;
	if (b > ow)
		b = ow;
	if (b < a)
		b = a;
	*lo = a;
	*hi = b;
}

#if CNN_ISA_LEVEL >= CNN_ISA_AVX512
/* Images at most 16 pixels wide, stride 1 (the 14x14, 7x7 and 4x4 layers):
 * an input row is one register, and each of the k output rows it feeds is
 * that register shifted by kj - pad_left (a lane permute, zeros shifted
 * in), stored with one masked store, the padding included. The generic
 * loop below spends more on a short row's bounds than on its copy.
 * Returns false (writing nothing) where it does not apply. */
static bool im2col_narrow(const float *x, int c, int h, int w, int k, int stride, int pad_top,
                          int pad_left, int oh, int ow, float *col, size_t ld)
{
	if (stride != 1 || w > 16 || ow > 16 || k > 16)
		return false;

	const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	const __mmask16 wmask = (__mmask16)(w == 16 ? 0xffff : (1u << w) - 1);
	const __mmask16 omask = (__mmask16)(ow == 16 ? 0xffff : (1u << ow) - 1);
	__m512i idx[16];     /* output lane ox reads input lane ox + kj - pad_left ... */
	__mmask16 keep[16];  /* ... where that lies in the row */

	for (int kj = 0; kj < k; kj++) {
		__m512i src = _mm512_add_epi32(lane, _mm512_set1_epi32(kj - pad_left));
		keep[kj] = _mm512_cmpge_epi32_mask(src, _mm512_setzero_si512()) &
		           _mm512_cmplt_epi32_mask(src, _mm512_set1_epi32(w));
		idx[kj] = _mm512_and_si512(src, _mm512_set1_epi32(15));
	}
	for (int ci = 0; ci < c; ci++) {
		const float *xc = x + (size_t)ci * h * w;   /* (h, w) */
		for (int ki = 0; ki < k; ki++) {
			float *rows = col + ((size_t)ci * k + ki) * k * ld;   /* k rows of (oh, ow) */
			for (int oy = 0; oy < oh; oy++) {
				int iy = oy - pad_top + ki;
				__m512 v = _mm512_setzero_ps();

				if (iy >= 0 && iy < h)
					v = _mm512_maskz_loadu_ps(wmask, xc + (size_t)iy * w);
				for (int kj = 0; kj < k; kj++)
					_mm512_mask_storeu_ps(rows + kj * ld + (size_t)oy * ow, omask,
					                      _mm512_maskz_permutexvar_ps(keep[kj], idx[kj], v));
			}
		}
	}
	return true;
}
#endif

void KERNEL_FN(im2col)(const float *x, int c, int h, int w, int k, int stride,
                       int pad_top, int pad_left, int oh, int ow, float *col)
{
	KERNEL_FN(im2col_ld)(x, c, h, w, k, stride, pad_top, pad_left, oh, ow, col,
	                     (size_t)oh * (size_t)ow);
}

void KERNEL_FN(im2col_ld)(const float *x, int c, int h, int w, int k, int stride,
                          int pad_top, int pad_left, int oh, int ow, float *col, size_t ld)
{
#if CNN_ISA_LEVEL >= CNN_ISA_AVX512
	if (im2col_narrow(x, c, h, w, k, stride, pad_top, pad_left, oh, ow, col, ld))
		return;
#endif
	for (int ci = 0; ci < c; ci++) {
		const float *xc = x + (size_t)ci * h * w; /* (h, w) */
		for (int ki = 0; ki < k; ki++) {
			for (int kj = 0; kj < k; kj++) {
				size_t r = ((size_t)ci * k + ki) * k + kj;
				float *row = col + r * ld; /* (oh, ow) */
				int lo, hi;

				im2col_range(w, stride, pad_left, kj, ow, &lo, &hi);
				for (int oy = 0; oy < oh; oy++) {
					float *dst = row + (size_t)oy * ow;
					int iy = oy * stride - pad_top + ki;

					if (iy < 0 || iy >= h) {
						memset(dst, 0, (size_t)ow * sizeof(*dst));
						continue;
					}
					const float *xr = xc + (size_t)iy * w; /* (w) */
					int ix = lo * stride - pad_left + kj;
					for (int ox = 0; ox < lo; ox++)
						dst[ox] = 0.0f;
					if (stride == 1)
						copy_row(dst + lo, xr + ix, hi - lo);
					else
						for (int ox = lo; ox < hi; ox++, ix += stride)
							dst[ox] = xr[ix];
					for (int ox = hi; ox < ow; ox++)
						dst[ox] = 0.0f;
				}
			}
		}
	}
}

void KERNEL_FN(col2im)(const float *col, int c, int h, int w, int k, int stride,
                       int pad_top, int pad_left, int oh, int ow, float *dx)
{
	size_t ohw = (size_t)oh * (size_t)ow;

	for (int ci = 0; ci < c; ci++) {
		float *dc = dx + (size_t)ci * h * w; /* (h, w) */
		for (int ki = 0; ki < k; ki++) {
			for (int kj = 0; kj < k; kj++) {
				size_t r = ((size_t)ci * k + ki) * k + kj;
				const float *row = col + r * ohw; /* (oh, ow) */
				int lo, hi;

				im2col_range(w, stride, pad_left, kj, ow, &lo, &hi);
				for (int oy = 0; oy < oh; oy++) {
					int iy = oy * stride - pad_top + ki;

					if (iy < 0 || iy >= h)
						continue;
					const float *src = row + (size_t)oy * ow;
					float *dr = dc + (size_t)iy * w; /* (w) */
					int ix = lo * stride - pad_left + kj;
					for (int ox = lo; ox < hi; ox++, ix += stride)
						dr[ix] += src[ox];
				}
			}
		}
	}
}
