/* Adam (Kingma & Ba), bias-corrected. State: m then v, n floats each.
 *
 * The loop is written out with AVX where available: compilers keep sqrtf()
 * scalar because it may set errno, and the update is then a fifth of a
 * training step on the small networks. The vector path does the same
 * operations in the same order (no contraction into FMAs, which C11 mode
 * does not do in the scalar loop either), so both give the same bits. */
#include <math.h>

#ifdef __AVX__
#include <immintrin.h>
#endif

#include "cnn/optim.h"

struct adam_coef {
	float b1, b2, c1, c2, step, eps;   /* c1 = 1 - b1, c2 = 1 - b2 */
};

static void adam_range(const struct adam_coef *k, float *w, const float *g, float *m, float *v,
                       size_t lo, size_t hi)
{
	size_t i = lo;
#ifdef __AVX__
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

static void adam_step(struct optim *o, float *w, const float *g)
{
	const float b1 = (float)o->cfg.beta1, b2 = (float)o->cfg.beta2;
	/* Folding both corrections into the step size and epsilon leaves one
	 * multiply-add per moment in the loop. */
	const double c1 = 1.0 - pow(o->cfg.beta1, (double)o->t);
	const double c2 = 1.0 - pow(o->cfg.beta2, (double)o->t);
	const struct adam_coef k = {
		b1, b2, 1.0f - b1, 1.0f - b2,
		(float)(o->cfg.lr * sqrt(c2) / c1), (float)(o->cfg.eps * sqrt(c2)),
	};
	float *m = o->state, *v = o->state + o->n;

	adam_range(&k, w, g, m, v, 0, o->n);
}

const struct optim_ops optim_adam_ops = { "adam", 2, adam_step };
