/* Optimizers: plain loops over the network's flat parameter and gradient
 * arrays (llm.c's gpt2_update, kann's RMSprop), so the same step serves any
 * network, and a gradient all-reduce across processes can sit just before it.
 *
 *   sgd:   v = momentum * v + g;  w -= lr * v            (PyTorch's convention)
 *          nesterov: w -= lr * (g + momentum * v)
 *   adam:  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *          w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 *   adamw: adam, then decoupled decay: w -= lr * weight_decay * w
 * sgd and adam take weight_decay as L2 (g += weight_decay * w, before the
 * moments). Decay applies only to the tensors marked so (weights, never
 * biases). With clip_norm > 0, the whole gradient is first scaled by
 * min(1, clip_norm / ||g||), the norm over all parameters.
 */
#ifndef CNN_OPTIM_H
#define CNN_OPTIM_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "util/error.h"

/* The learning rate over training, as a function of the step:
 *   constant     lr
 *   step         lr * gamma^floor(epoch / step_epochs)
 *   exponential  lr * gamma^epoch       (epoch fractional: smooth per step)
 *   cosine       min_lr + (lr - min_lr) (1 + cos(pi * progress)) / 2
 * each after a linear warmup from lr / warmup_steps to lr over
 * warmup_epochs (progress counts from the warmup's end). */
struct lr_schedule {
	const char *type;     /* "constant", "step", "exponential", "cosine" */
	double warmup_epochs;
	double gamma;         /* step, exponential */
	int step_epochs;      /* step */
	double min_lr;        /* cosine */
};

struct optim_config {
	const char *type;     /* "adam", "adamw", "sgd" */
	double lr;            /* the base (peak) learning rate */
	double beta1, beta2, eps; /* adam, adamw */
	double momentum;          /* sgd */
	bool nesterov;            /* sgd: Nesterov momentum (needs momentum > 0) */
	double weight_decay;      /* adamw: decoupled; sgd, adam: L2 on the gradient; 0: none */
	double clip_norm;         /* global gradient norm limit; 0: no clipping */
	struct lr_schedule schedule;
};

struct net_param;

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
	int n_decay;      /* ranges of parameters that weight decay applies to */
	size_t (*decay)[2]; /* (n_decay) [offset, count], in order, not overlapping */
	double grad_norm; /* ||g|| of the last step, before clipping */
	/* OpenMP threads an elementwise update may split the parameters
	 * among (each element's arithmetic is its own, so any split gives the
	 * same bits); 0 or 1: the calling thread alone. The runner sets it to
	 * the training's thread count. */
	int threads;
};

/* Reads the `optimizer:` mapping (type and its hyperparameters). */
int optim_config_read(struct cfg_node *map, struct optim_config *out, struct cnn_error *err);
/* The learning rate for step `step` (0-based) of `total` steps. */
double lr_at(const struct optim_config *c, long step, long steps_per_epoch, long total);

/* State for n parameters laid out as the n_tensors tensors (net->param_tensors:
 * offset, spec.n, spec.decay); weight decay applies to those whose
 * spec.decay is set. tensors may be NULL (n_tensors 0): nothing decays. */
int optim_create(struct optim *o, const struct optim_config *cfg, size_t n,
                 const struct net_param *tensors, int n_tensors, struct cnn_error *err);
/* One step: clips g in place (clip_norm), then updates w. */
void optim_step(struct optim *o, float *w, float *g);
void optim_free(struct optim *o);

#endif
