/* Learnable tensors as layers declare them and as the network lays them out
 * in its flat arrays: what the optimizer and the checkpoint need to know of
 * a network, without the network itself. */
#ifndef CNN_PARAMS_H
#define CNN_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

/* One learnable tensor of a layer, as the network needs to know it. */
struct param_spec {
	const char *name;  /* "weight", "bias": the export name is "<layer>.<name>" */
	size_t n;          /* number of floats */
	int ndim;
	int dims[4];       /* PyTorch layout: conv (out, in, kh, kw), dense (out, in), bias (out) */
	int fan_in;        /* He init: N(0, sqrt(2/fan_in)); 0 means the constant init_value */
	bool decay;        /* weight decay applies (not to biases) */
	float init_value;  /* with fan_in 0: every element starts here (0 unless set:
	                    * batchnorm's gamma and running variance start at 1) */
};
#define LAYER_MAX_PARAMS 4

struct net_param {
	char name[48];           /* "conv1.weight" */
	struct param_spec spec;
	size_t offset;           /* into params/grads */
};

#endif
