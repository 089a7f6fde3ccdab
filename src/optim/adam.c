/* Adam (Kingma & Ba), bias-corrected. State: m then v, n floats each. */
#include <math.h>

#include "cnn/optim.h"

static void adam_step(struct optim *o, float *w, const float *g)
{
	const float b1 = (float)o->cfg.beta1, b2 = (float)o->cfg.beta2;
	/* Folding both corrections into the step size and epsilon leaves one
	 * multiply-add per moment in the loop. */
	const double c1 = 1.0 - pow(o->cfg.beta1, (double)o->t);
	const double c2 = 1.0 - pow(o->cfg.beta2, (double)o->t);
	const float step = (float)(o->cfg.lr * sqrt(c2) / c1);
	const float eps_hat = (float)(o->cfg.eps * sqrt(c2));
	float *m = o->state, *v = o->state + o->n;
	for (size_t i = 0; i < o->n; i++) {
		m[i] = b1 * m[i] + (1.0f - b1) * g[i];
		v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
		w[i] -= step * m[i] / (sqrtf(v[i]) + eps_hat);
	}
}

const struct optim_ops optim_adam_ops = { "adam", 2, adam_step };
