/* Adam's update over a range of the flat parameter array (the maths:
 * src/optim/adam.c).
 *
 * The loop is written out with AVX at the AVX2 level: compilers keep sqrtf()
 * scalar because it may set errno, and the update is then a fifth of a
 * training step on the small networks. The vector path does the same
 * operations in the same order (no contraction into FMAs, which C11 mode
 * does not do in the scalar loop either), so every level gives the same
 * bits. */
#include <math.h>

#include "kernels/dispatch.h"
#include "kernels/isa.h"

#if CNN_ISA_LEVEL >= CNN_ISA_AVX2
#include <immintrin.h>
#endif

/* The decayed form: kept apart so that the undecayed loop below stays the
 * exact operations it always was. */
static void adam_range_decay(const struct adam_coef *k, float *w, const float *g, float *m, float *v,
                             size_t lo, size_t hi)
{
	size_t i = lo;
#if CNN_ISA_LEVEL >= CNN_ISA_AVX2
	const __m256 b1 = _mm256_set1_ps(k->b1), b2 = _mm256_set1_ps(k->b2);
	const __m256 c1 = _mm256_set1_ps(k->c1), c2 = _mm256_set1_ps(k->c2);
	const __m256 step = _mm256_set1_ps(k->step), eps = _mm256_set1_ps(k->eps);
	const __m256 l2 = _mm256_set1_ps(k->l2), decay = _mm256_set1_ps(k->decay);
	for (; i + 8 <= hi; i += 8) {
		__m256 wi = _mm256_loadu_ps(w + i);
		__m256 gi = _mm256_add_ps(_mm256_loadu_ps(g + i), _mm256_mul_ps(l2, wi));
		__m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(c1, gi));
		__m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)),
		                          _mm256_mul_ps(_mm256_mul_ps(c2, gi), gi));
		__m256 upd = _mm256_div_ps(_mm256_mul_ps(step, mi), _mm256_add_ps(_mm256_sqrt_ps(vi), eps));
		_mm256_storeu_ps(m + i, mi);
		_mm256_storeu_ps(v + i, vi);
		_mm256_storeu_ps(w + i, _mm256_sub_ps(_mm256_sub_ps(wi, upd), _mm256_mul_ps(decay, wi)));
	}
#endif
	for (; i < hi; i++) {
		float wi = w[i], gi = g[i] + k->l2 * wi;
		m[i] = k->b1 * m[i] + k->c1 * gi;
		v[i] = k->b2 * v[i] + k->c2 * gi * gi;
		w[i] = wi - k->step * m[i] / (sqrtf(v[i]) + k->eps) - k->decay * wi;
	}
}

void KERNEL_FN(adam_range)(const struct adam_coef *k, float *w, const float *g, float *m,
                           float *v, size_t lo, size_t hi)
{
	if (k->l2 != 0 || k->decay != 0) {
		adam_range_decay(k, w, g, m, v, lo, hi);
		return;
	}
	size_t i = lo;
#if CNN_ISA_LEVEL >= CNN_ISA_AVX2
	const __m256 b1 = _mm256_set1_ps(k->b1), b2 = _mm256_set1_ps(k->b2);
	const __m256 c1 = _mm256_set1_ps(k->c1), c2 = _mm256_set1_ps(k->c2);
	const __m256 step = _mm256_set1_ps(k->step), eps = _mm256_set1_ps(k->eps);
	for (; i + 8 <= hi; i += 8) {
		__m256 gi = _mm256_loadu_ps(g + i);
		__m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(c1, gi));
		__m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)),
		                          _mm256_mul_ps(_mm256_mul_ps(c2, gi), gi));
		__m256 upd = _mm256_div_ps(_mm256_mul_ps(step, mi), _mm256_add_ps(_mm256_sqrt_ps(vi), eps));
		_mm256_storeu_ps(m + i, mi);
		_mm256_storeu_ps(v + i, vi);
		_mm256_storeu_ps(w + i, _mm256_sub_ps(_mm256_loadu_ps(w + i), upd));
	}
#endif
	for (; i < hi; i++) {
		m[i] = k->b1 * m[i] + k->c1 * g[i];
		v[i] = k->b2 * v[i] + k->c2 * g[i] * g[i];
		w[i] -= k->step * m[i] / (sqrtf(v[i]) + k->eps);
	}
}
