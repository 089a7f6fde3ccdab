/* Adam (Kingma & Ba), bias-corrected, and AdamW (Loshchilov & Hutter:
 * decay decoupled from the moments). State: m then v, n floats each.
 * Weight decay touches only the ranges the optimizer was given as decayed:
 *   adam   L2:        g' = g + weight_decay * w, then the moments of g'
 *   adamw  decoupled: w -= lr * weight_decay * w (old w), beside Adam's step
 *
 * The loop over the parameters is a kernel (src/kernels/adam_range.c),
 * vectorised by hand and chosen for the CPU at run time. */
#include <math.h>
#include <stdbool.h>

#include "optim/optim.h"
#include "kernels/dispatch.h"

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
	void (*adam_range)(const struct adam_coef *, float *, const float *, float *, float *,
	                   size_t, size_t) = cnn_kernels()->adam_range;

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
