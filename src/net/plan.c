/* The memory plans made from the graph: backward's gradient buffers
 * (struct net_grad_plan) and evaluation's activations (struct
 * net_act_plan). See net.h for what each says and docs/design.md for why. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "net/net.h"

/* ------------------------------------------------------------------ */
/* ReLU fusion (see net.h) */

bool net_fusion_enabled(void)
{
	static const char *const off[] = { "0", "off", "no", "false" };
	const char *v = getenv("CNN_FUSE");
	for (size_t i = 0; v && i < sizeof off / sizeof off[0]; i++)
		if (!strcasecmp(v, off[i]))
			return false;
	return true;
}

static bool is_relu(const struct layer *l)
{
	return !strcmp(l->ops->type, "relu") && layer_n_inputs(l) == 1;
}

/* Whether layer `from`'s output is read by a layer strictly between a and b. */
static bool read_between(struct layer *const *layers, int from, int a, int b)
{
	for (int j = a + 1; j < b; j++)
		for (int k = 0; k < layer_n_inputs(layers[j]); k++)
			if (layer_input(layers[j], j, k) == from)
				return true;
	return false;
}

/* The layer that takes relu r's work, or -1. readers[1 + j]: how many
 * inputs read activation j; reader[1 + j]: the last of them. */
static int fuse_target(struct layer *const *layers, int n_layers, const int *into, int r,
                       const int *readers, const int *reader)
{
	int q = layer_input(layers[r], r, 0);
	if (r == n_layers - 1 || (q != LAYER_INPUT_NET && into[q] >= 0))
		return -1;
	/* before its one reader c, which commutes with it: c must not move
	 * the relu's input's gradient sum to another place in its order */
	int c = readers[1 + r] == 1 ? reader[1 + r] : -1;
	if (c >= 0) {
		const struct layer_ops *ops = layers[c]->ops;
		if (ops->fuses_relu && ops->commutes_with_relu && layer_n_inputs(layers[c]) == 1 &&
		    !read_between(layers, q, r, c))
			return c;
	}
	/* after its producer q, read by the relu alone. A layer that commutes
	 * fuses only the relu before it: its relu_out computes f(relu(x)),
	 * which differs from relu(f(x)) where x holds a NaN. */
	if (q != LAYER_INPUT_NET && readers[1 + q] == 1 && layers[q]->ops->fuses_relu &&
	    !layers[q]->ops->commutes_with_relu)
		return q;
	return -1;
}

int net_plan_fusion(struct layer *const *layers, int n_layers, bool enabled, int *into,
                    struct cnn_error *err)
{
	for (int i = 0; i < n_layers; i++)
		into[i] = -1;
	if (!enabled)
		return 0;
	int *readers = calloc((size_t)n_layers + 1, sizeof *readers);   /* [1 + n] */
	int *reader = calloc((size_t)n_layers + 1, sizeof *reader);     /* [1 + n] */
	if (!readers || !reader) {
		free(readers);
		free(reader);
		return cnn_errorf_plain(err, "out of memory");
	}
	for (int i = 0; i < n_layers; i++)
		for (int k = 0; k < layer_n_inputs(layers[i]); k++) {
			readers[1 + layer_input(layers[i], i, k)]++;
			reader[1 + layer_input(layers[i], i, k)] = i;
		}
	for (int i = 0; i < n_layers; i++)
		if (is_relu(layers[i]))
			into[i] = fuse_target(layers, n_layers, into, i, readers, reader);
	free(readers);
	free(reader);
	return 0;
}

int *net_fusion_now(struct layer *const *layers, int n_layers, struct cnn_error *err)
{
	int *into = malloc((size_t)(n_layers > 0 ? n_layers : 1) * sizeof *into);
	if (!into) {
		cnn_errorf_plain(err, "out of memory");
		return NULL;
	}
	if (net_plan_fusion(layers, n_layers, net_fusion_enabled(), into, err)) {
		free(into);
		return NULL;
	}
	return into;
}

/* ------------------------------------------------------------------ */
/* Backward's gradient slots */

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
 * chain alternates between two slots: the ping-pong buffers of before.
 * The graph is the fused one (net_plan_fusion as the environment says): a
 * fused relu has no gradient of its own. */
int net_plan_grads(struct layer *const *layers, int n_layers, const int *into,
                   struct net_grad_plan *p, struct cnn_error *err)
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
	int rc = 0;
	for (int i = 0; i < n_layers; i++)
		p->grad_slot[i] = NET_SLOT_NONE;
	p->grad_slot[n_layers - 1] = NET_SLOT_LOGITS;
	for (int i = n_layers - 1; i >= 0 && !rc; i--) {
		const struct layer *l = layers[i];
		if (into[i] >= 0)
			continue;   /* a fused relu: no backward, its readers' gradients go to its input */
		if (p->grad_slot[i] == NET_SLOT_NONE) {
			rc = cnn_errorf(err, l->loc, "%s: the output of '%s' is never read", l->ops->type, l->name);
			break;
		}
		for (int k = 0; k < layer_n_inputs(l); k++) {
			int from = net_fused_input(layers, into, i, k);
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
	if (rc)
		net_grad_plan_free(p);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The inference plan: forward only, activations freed after their last
 * reader. See struct net_act_plan in net.h. */

/* A 2x2 maxpool with stride 2 (its own pooling rule is pool2's). */
static bool is_maxpool2(const struct layer *l)
{
	struct layer_attrs a;
	if (strcmp(l->ops->type, "maxpool") || layer_n_inputs(l) != 1 || !l->ops->attrs)
		return false;
	l->ops->attrs(l, &a);
	return a.kernel == 2 && a.stride == 2;
}

/* The plan's pooling folds (struct net_act_plan: fold_into, folded), all
 * -1 when fusion is off; readers[1 + j]: how many inputs of the fused graph
 * read activation j. */
static void plan_folds(struct layer *const *layers, int n_layers, const int *into,
                       const int *readers, struct net_act_plan *p)
{
	bool enabled = net_fusion_enabled();
	for (int i = 0; i < n_layers; i++)
		p->fold_into[i] = p->folded[i] = -1;
	for (int m = 0; enabled && m < n_layers; m++) {
		const struct layer *l = layers[m];
		if (into[m] >= 0 || !is_maxpool2(l))
			continue;
		int c = net_fused_input(layers, into, m, 0);
		if (c == LAYER_INPUT_NET || readers[1 + c] != 1)
			continue;
		const struct layer *q = layers[c];
		if (q->ops->can_fold_pool2 && q->ops->can_fold_pool2(q) && l->out.c == q->out.c &&
		    2 * l->out.h == q->out.h && 2 * l->out.w == q->out.w) {
			p->fold_into[m] = c;
			p->folded[c] = m;
		}
	}
}

void net_act_plan_free(struct net_act_plan *p)
{
	free(p->fold_into);
	free(p->folded);
	free(p->slot);
	free(p->slot_floats);
	free(p->slot_at);
	memset(p, 0, sizeof *p);
}

/* Whether layer i runs in its input's memory: an in-place layer whose one
 * input is another layer's output that nothing else reads (never the
 * network's input, which may be the caller's). */
static bool runs_in_place(struct layer *const *layers, const int *into, const int *fold, int i,
                          const int *readers)
{
	const struct layer *l = layers[i];
	int from = net_fused_input(layers, into, i, 0);
	return (l->ops->inplace || fold[i] >= 0) && layer_n_inputs(l) == 1 && from != LAYER_INPUT_NET &&
	       readers[1 + from] == 1;
}

/* Walks the layers in forward order, as evaluation runs them. The input
 * takes the first slot; each layer's output takes the lowest slot that holds
 * nothing live (its own inputs are live while it runs), and a slot grows to
 * the largest activation it ever holds. After layer i, every activation
 * whose last reader is i is dead and its slot free for the next output. The
 * last layer's output (the logits) is never freed. An in-place layer
 * (layer_ops.inplace) whose input nobody else reads takes over its input's
 * slot and runs there (y == x). The graph is the fused one (net_plan_fusion
 * as the environment says): a fused relu runs nothing and its slot is its
 * input's (which holds its output where its producer does its work). */
int net_plan_acts(struct layer *const *layers, int n_layers, const int *into, struct shape input,
                  struct net_act_plan *p, struct cnn_error *err)
{
	memset(p, 0, sizeof *p);
	size_t n = (size_t)n_layers;
	int *last = malloc((n + 1) * sizeof *last);          /* [1 + n]: [0] the input's */
	int *readers = calloc(n + 1, sizeof *readers);       /* [1 + n] */
	bool *busy = calloc(n + 2, sizeof *busy);            /* at most one slot per activation */
	p->slot = malloc(n * sizeof *p->slot);
	p->slot_floats = calloc(n + 2, sizeof *p->slot_floats);
	p->slot_at = calloc(n + 2, sizeof *p->slot_at);
	p->fold_into = malloc(n * sizeof *p->fold_into);
	p->folded = malloc(n * sizeof *p->folded);
	if (!last || !readers || !busy || !p->slot || !p->slot_floats || !p->slot_at || !p->fold_into ||
	    !p->folded) {
		free(last);
		free(readers);
		free(busy);
		net_act_plan_free(p);
		return cnn_errorf_plain(err, "out of memory");
	}
	for (int j = 0; j <= n_layers; j++)
		last[j] = -1;
	for (int i = 0; i < n_layers; i++)
		for (int k = 0; into[i] < 0 && k < layer_n_inputs(layers[i]); k++) {
			int from = net_fused_input(layers, into, i, k);
			last[1 + from] = i;
			readers[1 + from]++;
		}
	last[n_layers] = n_layers;   /* the logits outlive every layer */
	plan_folds(layers, n_layers, into, readers, p);

	p->input_slot = take_slot(busy, &p->n_slots);
	p->slot_floats[p->input_slot] = shape_size(input);
	for (int i = 0; i < n_layers; i++) {
		const struct layer *l = layers[i];
		size_t out = shape_size(l->out), touched = out;
		if (into[i] >= 0 || runs_in_place(layers, into, p->fold_into, i, readers)) {
			/* the input's slot becomes this output's: nothing to free */
			int from = into[i] >= 0 ? layer_input(l, i, 0) : net_fused_input(layers, into, i, 0);
			p->slot[i] = from == LAYER_INPUT_NET ? p->input_slot : p->slot[from];
			continue;
		}
		int s = p->slot[i] = take_slot(busy, &p->n_slots);
		if (out > p->slot_floats[s])
			p->slot_floats[s] = out;
		for (int k = 0; k < layer_n_inputs(l); k++) {
			int from = net_fused_input(layers, into, i, k);
			touched += from == LAYER_INPUT_NET ? shape_size(input) : shape_size(layers[from]->out);
		}
		if (touched > p->peak)
			p->peak = touched;
		for (int k = 0; k < layer_n_inputs(l); k++) {
			int from = net_fused_input(layers, into, i, k);
			if (last[1 + from] == i)
				busy[from == LAYER_INPUT_NET ? p->input_slot : p->slot[from]] = false;
		}
	}
	for (int s = 0; s < p->n_slots; s++) {
		p->slot_at[s] = p->per_sample;
		p->per_sample += p->slot_floats[s];
	}
	free(last);
	free(readers);
	free(busy);
	return 0;
}

int net_eval_batch_for(const struct net_act_plan *p)
{
	long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
	double budget = (l2 > 0 ? (double)l2 : 1048576.0) / 2;
	double b = p->peak ? budget / ((double)p->peak * sizeof(float)) : NET_EVAL_BATCH_MAX;
	return b < 1 ? 1 : b > NET_EVAL_BATCH_MAX ? NET_EVAL_BATCH_MAX : (int)b;
}

size_t net_eval_ws_floats(struct layer *const *layers, int n_layers, const struct net_act_plan *p,
                          int batch, size_t *scratch_at)
{
	size_t scratch = 0;
	for (int i = 0; i < n_layers; i++) {
		const struct layer *l = layers[i];
		size_t s = l->ops->scratch_floats ? l->ops->scratch_floats(l, batch) : 0;
		scratch = s > scratch ? s : scratch;
	}
	*scratch_at = (p->per_sample * (size_t)batch + 15) / 16 * 16;   /* 64 bytes aligned */
	return *scratch_at + scratch;
}
