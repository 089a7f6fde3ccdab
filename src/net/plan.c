/* Backward's gradient buffers, planned from the graph. See net.h
 * (struct net_grad_plan) for what the plan says and docs/design.md for why. */
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

void net_grad_plan_free(struct net_grad_plan *p)
{
	free(p->grad_slot);
	free(p->dx_slot);
	free(p->dx_add);
	memset(p, 0, sizeof *p);
}

/* The lowest slot neither live nor in use by this step. */
static int take_slot(bool *busy, int *n_slots)
{
	int s = 0;
	while (s < *n_slots && busy[s])
		s++;
	if (s == *n_slots)
		(*n_slots)++;
	busy[s] = true;
	return s;
}

/* Walks the layers in backward order, as backward will, giving each
 * activation's gradient a slot from its last reader's backward (which
 * writes it) until its own layer's backward (which reads it) and then
 * freeing it: first fit, lowest slot first. A reader that is not the first
 * in backward order to write a gradient gets a temporary slot for this one
 * step, added into the gradient's own slot after its backward. A plain
 * chain alternates between two slots: the ping-pong buffers of before. */
int net_plan_grads(struct layer *const *layers, int n_layers, struct net_grad_plan *p,
                   struct cnn_error *err)
{
	memset(p, 0, sizeof *p);
	size_t n = (size_t)n_layers;
	p->grad_slot = malloc(n * sizeof *p->grad_slot);
	p->dx_slot = malloc(n * sizeof *p->dx_slot);
	p->dx_add = calloc(n, sizeof *p->dx_add);
	/* at most: every layer's gradient plus one step's temporaries */
	bool *busy = calloc(n + LAYER_MAX_INPUTS + 1, sizeof *busy);
	if (!p->grad_slot || !p->dx_slot || !p->dx_add || !busy) {
		free(busy);
		net_grad_plan_free(p);
		return cnn_errorf_plain(err, "out of memory");
	}
	for (int i = 0; i < n_layers; i++)
		p->grad_slot[i] = NET_SLOT_NONE;
	p->grad_slot[n_layers - 1] = NET_SLOT_LOGITS;
	for (int i = n_layers - 1; i >= 0; i--) {
		const struct layer *l = layers[i];
		if (p->grad_slot[i] == NET_SLOT_NONE) {
			free(busy);
			net_grad_plan_free(p);
			return cnn_errorf(err, l->loc, "%s: the output of '%s' is never read", l->ops->type, l->name);
		}
		for (int k = 0; k < layer_n_inputs(l); k++) {
			int from = layer_input(l, i, k);
			CNN_ASSERT(from >= LAYER_INPUT_NET && from < i);
			if (from == LAYER_INPUT_NET) {
				p->dx_slot[i][k] = NET_SLOT_NONE;
			} else if (p->grad_slot[from] == NET_SLOT_NONE) {
				p->dx_slot[i][k] = p->grad_slot[from] = take_slot(busy, &p->n_slots);
			} else {
				p->dx_slot[i][k] = take_slot(busy, &p->n_slots);
				p->dx_add[i][k] = true;
			}
		}
		/* after this step: its own gradient and the temporaries are done */
		if (p->grad_slot[i] >= 0)
			busy[p->grad_slot[i]] = false;
		for (int k = 0; k < layer_n_inputs(l); k++)
			if (p->dx_add[i][k])
				busy[p->dx_slot[i][k]] = false;
	}
	free(busy);
	return 0;
}
