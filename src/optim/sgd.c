/* SGD with (heavy-ball) momentum, PyTorch's form: v = mu v + g; w -= lr v.
 * With momentum 0 this is plain gradient descent. */
#include "cnn/optim.h"

static void sgd_step(struct optim *o, float *w, const float *g)
{
	const float lr = (float)o->cfg.lr, mu = (float)o->cfg.momentum;
	float *v = o->state;
	for (size_t i = 0; i < o->n; i++) {
		v[i] = mu * v[i] + g[i];
		w[i] -= lr * v[i];
	}
}

const struct optim_ops optim_sgd_ops = { "sgd", 1, sgd_step };
