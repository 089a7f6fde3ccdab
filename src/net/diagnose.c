/* Where did a NaN or an infinity come from? Called after a step whose loss
 * was not finite, while that step's parameters and activations are still in
 * memory: the first place in forward order that holds one is the culprit.
 * The step ran the fused graph (net.h, net_plan_fusion): a layer doing a
 * fused relu's work holds the relu's output, whose NaNs are already 0. */
#include <math.h>
#include <stdio.h>

#include "net/net.h"

static long first_nonfinite(const float *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return (long)i;
	return -1;
}

const struct layer *net_diagnose_nonfinite(const struct net *net, int n, char *what, size_t len)
{
	if (first_nonfinite(net->x, (size_t)n * shape_size(net->input)) >= 0) {
		snprintf(what, len, "the input batch");
		return NULL;
	}
	for (int i = 0; i < net->n_layers; i++) {
		const struct layer *l = net->layers[i];
		if (first_nonfinite(net->params + l->param_offset, l->param_count) >= 0) {
			snprintf(what, len, "the parameters of %s", l->name);
			return l;
		}
		/* a fused relu's output is not stored (its producer's holds it) */
		if (net->fused_into[i] < 0 &&
		    first_nonfinite(net->acts[i], (size_t)n * shape_size(l->out)) >= 0) {
			snprintf(what, len, "the output of %s", l->name);
			return l;
		}
	}
	snprintf(what, len, "the loss (its inputs are finite, so the scores must be extreme)");
	return net->n_layers ? net->layers[net->n_layers - 1] : NULL;
}
