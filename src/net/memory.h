/* What a network will need in memory, worked out from its layers before
 * anything is allocated, so a config that would exhaust the machine is
 * refused with the figure and its cause instead of failing half-way. */
#ifndef CNN_MEMORY_H
#define CNN_MEMORY_H

#include "layers/layer.h"

struct mem_estimate {
	double params;        /* bytes: parameters */
	double grads;         /* gradients, one array per thread */
	double optimizer;     /* optimizer state */
	double activations;   /* input and every layer's output for a batch */
	double backward;      /* the activation gradients' slots (net_plan_grads) and dlogits */
	double scratch;       /* one per thread */
	double evaluation;    /* the inference plan's workspaces, one per thread (net_act_plan),
	                       * and the per-sample losses of one evaluation call */
	double data;          /* the dataset, as bytes */
	double total;
	int largest_layer;    /* the layer with the largest output (-1: the input) */
};

/* Doubles, so absurd configs cannot overflow the arithmetic itself. */
void mem_estimate(struct layer *const *layers, int n_layers, struct shape input, int batch,
                  int threads, int optimizer_states, double data_bytes, struct mem_estimate *out);

/* The same for an evaluation network (net_create_eval) on `threads`
 * threads: params, and in `evaluation` the inference workspaces (their
 * activations also in `activations`, their scratch in `scratch`); nothing
 * for training. */
void mem_estimate_eval(struct layer *const *layers, int n_layers, struct shape input, int threads,
                       struct mem_estimate *out);

/* Physical memory of this machine in bytes (0 if unknown). */
double mem_physical(void);

/* "512MB", "4GB", "1.5GiB", "1048576": bytes; -1 if not a size. */
double mem_parse_size(const char *s);

/* "1.2 GB", "640 kB". */
void mem_format(double bytes, char *buf, size_t len);

#endif
