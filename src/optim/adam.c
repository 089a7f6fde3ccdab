/* Adam (Kingma & Ba), bias-corrected, and AdamW (Loshchilov & Hutter:
 * decay decoupled from the moments). State: m then v, n floats each.
 * Weight decay touches only the ranges the optimizer was given as decayed:
 *   adam   L2:        g' = g + weight_decay * w, then the moments of g'
 *   adamw  decoupled: w -= lr * weight_decay * w (old w), beside Adam's step
 *
 * The loop is written out with AVX where available: compilers keep sqrtf()
 * scalar because it may set errno, and the update is then a fifth of a
 * training step on the small networks. The vector path does the same
 * operations in the same order (no contraction into FMAs, which C11 mode
 * does not do in the scalar loop either), so both give the same bits. */
#include <math.h>
#include <stdbool.h>

#ifdef __AVX__
#include <immintrin.h>
#endif

#include "cnn/optim.h"

struct adam_coef {
	float b1, b2, c1, c2, step, eps;   /* c1 = 1 - b1, c2 = 1 - b2 */
	float l2;                          /* adam: weight_decay, added to g */
	float decay;                       /* adamw: lr * weight_decay */
};

/* The decayed form: kept apart so that the undecayed loop below stays the
 * exact operations it always was. */
static void adam_range_decay(const struct adam_coef *k, float *w, const float *g, float *m, float *v,
                             size_t lo, size_t hi)
{
	size_t i = lo;
#ifdef __AVX__
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

static void adam_range(const struct adam_coef *k, float *w, const float *g, float *m, float *v,
                       size_t lo, size_t hi)
{
	if (k->l2 != 0 || k->decay != 0) {
		adam_range_decay(k, w, g, m, v, lo, hi);
		return;
	}
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

static void adam_update(struct optim *o, float *w, const float *g, bool decoupled)
{
	const float b1 = (float)o->cfg.beta1, b2 = (float)o->cfg.beta2;
	/* Folding both corrections into the step size and epsilon leaves one
	 * multiply-add per moment in the loop. */
	const double c1 = 1.0 - pow(o->cfg.beta1, (double)o->t);
	const double c2 = 1.0 - pow(o->cfg.beta2, (double)o->t);
	const struct adam_coef k = {
		b1, b2, 1.0f - b1, 1.0f - b2,
		(float)(o->cfg.lr * sqrt(c2) / c1), (float)(o->cfg.eps * sqrt(c2)), 0, 0,
	};
	float *m = o->state, *v = o->state + o->n;

	if (o->cfg.weight_decay == 0 || !o->n_decay) {
		adam_range(&k, w, g, m, v, 0, o->n);
		return;
	}
	struct adam_coef kd = k;
	if (decoupled)
		kd.decay = (float)(o->cfg.lr * o->cfg.weight_decay);
	else
		kd.l2 = (float)o->cfg.weight_decay;
	size_t at = 0;
	for (int r = 0; r < o->n_decay; r++) {
		size_t lo = o->decay[r][0], hi = lo + o->decay[r][1];
		adam_range(&k, w, g, m, v, at, lo);
		adam_range(&kd, w, g, m, v, lo, hi);
		at = hi;
	}
	adam_range(&k, w, g, m, v, at, o->n);
}

static void adam_step(struct optim *o, float *w, const float *g)
{
	adam_update(o, w, g, false);
}

static void adamw_step(struct optim *o, float *w, const float *g)
{
	adam_update(o, w, g, true);
}

const struct optim_ops optim_adam_ops = { "adam", 2, adam_step };
const struct optim_ops optim_adamw_ops = { "adamw", 2, adamw_step };
