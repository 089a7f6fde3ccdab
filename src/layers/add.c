/* add: y = x_0 + x_1 + ... + x_{k-1}, elementwise, k >= 2 inputs of one
 * shape (a residual connection: {type: add, inputs: [a, -1]}).
 *
 * NCHW: every x_j and y (n, c, h, w). No parameters.
 *
 * Gradients: dy/dx_j is the identity, so backward OVERWRITES every dx_j = dy
 * (a NULL dx_j, the network's input, is skipped). The sum runs in input
 * order, x_0 first, so the bits depend only on the order of `inputs`.
 *
 * ReLU fusion (layer.relu_out, set by the network for an add whose output
 * only a relu reads): forward ends with y = relu_value(y), and backward
 * writes dx_j = y > 0 ? dy : 0, relu's backward, instead of dy.
 *
 * Inputs of different shapes are refused, never broadcast or padded: an add
 * that silently copied the extra channels (darknet's shortcut) would change
 * the meaning of the network without a word. */
#include <stdio.h>
#include <string.h>

#include "layers/layers.h"

static void add_forward(const struct layer *l, const float *w, const float *const *xs, float *y,
                        int n, const struct layer_ctx *ctx)
{
	size_t count = (size_t)n * shape_size(l->out);

	(void)w;
	(void)ctx;
	memcpy(y, xs[0], count * sizeof *y);
	for (int j = 1; j < l->n_inputs; j++) {
		const float *x = xs[j];
		for (size_t i = 0; i < count; i++)
			y[i] += x[i];
	}
	if (l->relu_out)
		relu_apply(y, count);
}

static void add_backward(const struct layer *l, const float *w, const float *const *xs,
                         const float *y, const float *dy, float *const *dxs, float *dw, int n,
                         const struct layer_ctx *ctx)
{
	size_t count = (size_t)n * shape_size(l->out);

	(void)w;
	(void)xs;
	(void)dw;
	(void)ctx;
	for (int j = 0; j < l->n_inputs; j++) {
		if (!dxs[j])
			continue;
		if (l->relu_out)
			relu_mask(y, dy, dxs[j], count);
		else
			memcpy(dxs[j], dy, count * sizeof *dy);
	}
}

static void add_describe(const struct layer *l, char *buf, size_t len)
{
	snprintf(buf, len, "sum of %d", l->n_inputs);
}

static const struct layer_ops add_ops = {
	.type = "add",
	.forward_multi = add_forward,
	.backward_multi = add_backward,
	.dx_density = layer_density_same,
	.describe = add_describe,
	.destroy = layer_free_plain,
	.fuses_relu = true,
};

int add_create(struct cfg_node *args, const struct layer_input_ref *in, int n_in,
               struct layer **out, struct cnn_error *err)
{
	struct cnn_loc at = args ? args->loc : (struct cnn_loc){ 0 };
	char a[48], b[48];

	CNN_ASSERT(n_in >= 2 && n_in <= LAYER_MAX_INPUTS);
	for (int j = 1; j < n_in; j++) {
		struct shape s = in[j].shape, s0 = in[0].shape;
		if (s.c == s0.c && s.h == s0.h && s.w == s0.w)
			continue;
		shape_str(s, a, sizeof a);
		shape_str(s0, b, sizeof b);
		return cnn_errorf(err, in[j].loc, "add: input '%s' is %s but input '%s' is %s; "
		                  "add needs inputs of one shape (a 1x1 conv on the shortcut can match them)",
		                  in[j].name, a, in[0].name, b);
	}
	if (layer_new_plain(&add_ops, in[0].shape, in[0].shape, at, out, err))
		return -1;
	(*out)->n_inputs = n_in;
	return 0;
}
