/* SGD with (heavy-ball) momentum, PyTorch's form: v = mu v + g; w -= lr v.
 * With momentum 0 this is plain gradient descent. Nesterov (PyTorch's form,
 * Sutskever et al.): w -= lr (g + mu v), with the v just updated. Weight
 * decay is L2, on the decayed ranges only: g' = g + weight_decay * w. */
#include "optim/optim.h"

struct sgd_coef {
	float lr, mu, l2;
	bool nesterov;
};

static void sgd_range(const struct sgd_coef *k, float *w, const float *g, float *v, size_t lo, size_t hi)
{
	if (k->l2 == 0 && !k->nesterov) {
		for (size_t i = lo; i < hi; i++) {
			v[i] = k->mu * v[i] + g[i];
			w[i] -= k->lr * v[i];
		}
		return;
	}
	for (size_t i = lo; i < hi; i++) {
		float gi = g[i] + k->l2 * w[i];
		v[i] = k->mu * v[i] + gi;
		w[i] -= k->lr * (k->nesterov ? gi + k->mu * v[i] : v[i]);
	}
}

static void sgd_step(struct optim *o, float *w, const float *g)
{
	const struct sgd_coef k = { (float)o->cfg.lr, (float)o->cfg.momentum, 0, o->cfg.nesterov };
	float *v = o->state;
	if (o->cfg.weight_decay == 0 || !o->n_decay) {
		sgd_range(&k, w, g, v, 0, o->n);
		return;
	}
	struct sgd_coef kd = k;
	kd.l2 = (float)o->cfg.weight_decay;
	size_t at = 0;
	for (int r = 0; r < o->n_decay; r++) {
		size_t lo = o->decay[r][0], hi = lo + o->decay[r][1];
		sgd_range(&k, w, g, v, at, lo);
		sgd_range(&kd, w, g, v, lo, hi);
		at = hi;
	}
	sgd_range(&k, w, g, v, at, o->n);
}

const struct optim_ops optim_sgd_ops = { "sgd", 1, sgd_step };
