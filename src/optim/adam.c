/* Adam (Kingma & Ba), bias-corrected, and AdamW (Loshchilov & Hutter:
 * decay decoupled from the moments). State: m then v, n floats each.
 * Weight decay touches only the ranges the optimizer was given as decayed:
 *   adam   L2:        g' = g + weight_decay * w, then the moments of g'
 *   adamw  decoupled: w -= lr * weight_decay * w (old w), beside Adam's step
 *
 * The loop over the parameters is a kernel (src/kernels/adam_range.c),
 * vectorised by hand and chosen for the CPU at run time; a large network's
 * parameters are split among o->threads threads, each element updated by
 * the same operations wherever the split falls. */
#include <math.h>
#include <omp.h>
#include <stdbool.h>

#include "optim/optim.h"
#include "kernels/dispatch.h"

/* Below this many parameters one thread updates them all: the fork and
 * join of a team would cost more than the loop. */
#define ADAM_PARALLEL_MIN 65536

typedef void adam_range_fn(const struct adam_coef *, float *, const float *, float *, float *,
                           size_t, size_t);

/* Parameters [lo, hi): k's update, kd's (with the decay) inside o's decayed
 * ranges. */
static void adam_span(const struct optim *o, adam_range_fn *adam_range, const struct adam_coef *k,
                      const struct adam_coef *kd, float *w, const float *g, float *m, float *v,
                      size_t lo, size_t hi)
{
	size_t at = lo;
	for (int r = 0; kd && r < o->n_decay && at < hi; r++) {
		size_t d0 = o->decay[r][0], d1 = d0 + o->decay[r][1];
		if (d1 <= at)
			continue;
		d0 = d0 < at ? at : d0 > hi ? hi : d0;
		d1 = d1 > hi ? hi : d1;
		adam_range(k, w, g, m, v, at, d0);
		adam_range(kd, w, g, m, v, d0, d1);
		at = d1;
	}
	adam_range(k, w, g, m, v, at, hi);
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
	adam_range_fn *adam_range = cnn_kernels()->adam_range;
	struct adam_coef kd = k;
	bool decays = o->cfg.weight_decay != 0 && o->n_decay;
	if (decoupled)
		kd.decay = (float)(o->cfg.lr * o->cfg.weight_decay);
	else
		kd.l2 = (float)o->cfg.weight_decay;
	int parts = o->threads > 1 && o->n >= ADAM_PARALLEL_MIN ? o->threads : 1;
	#pragma omp parallel for num_threads(parts) schedule(static) if (parts > 1)
	for (int p = 0; p < parts; p++) {
		/* contiguous shares, cut at multiples of 16 floats (whole vectors) */
		size_t lo = o->n / 16 * p / parts * 16, hi = o->n / 16 * (p + 1) / parts * 16;
		if (p == parts - 1)
			hi = o->n;
		adam_span(o, adam_range, &k, decays ? &kd : NULL, w, g, m, v, lo, hi);
	}
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
