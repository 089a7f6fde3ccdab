/* Optimizers: plain loops over the network's flat parameter and gradient
 * arrays (llm.c's gpt2_update, kann's RMSprop), so the same step serves any
 * network, and a gradient all-reduce across processes can sit just before it.
 *
 *   sgd:  v = momentum * v + g;  w -= lr * v             (PyTorch's convention)
 *   adam: m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *         w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 */
#ifndef CNN_OPTIM_H
#define CNN_OPTIM_H

#include <stddef.h>

#include "cnn/config.h"
#include "cnn/error.h"

struct optim_config {
	const char *type;     /* "adam", "sgd" */
	double lr;
	double beta1, beta2, eps; /* adam */
	double momentum;          /* sgd */
};

struct optim;

struct optim_ops {
	const char *type;
	int n_states;     /* state arrays of n floats each (adam: m, v; sgd: velocity) */
	void (*step)(struct optim *o, float *w, const float *g);
};

struct optim {
	const struct optim_ops *ops;
	struct optim_config cfg;
	size_t n;         /* parameters */
	long t;           /* steps taken */
	float *state;     /* (n_states, n) */
};

/* Reads the `optimizer:` mapping (type and its hyperparameters). */
int optim_config_read(struct cfg_node *map, struct optim_config *out, struct cnn_error *err);
int optim_create(struct optim *o, const struct optim_config *cfg, size_t n, struct cnn_error *err);
void optim_step(struct optim *o, float *w, const float *g);
void optim_free(struct optim *o);

#endif
