/* concat: y = [x_0; x_1; ...; x_{k-1}] along channels, k >= 2 inputs of
 * equal height and width (Inception's branches, DenseNet's growth).
 *
 * NCHW: x_j (n, c_j, h, w), y (n, c_0 + ... + c_{k-1}, h, w). Per sample,
 * y holds x_0's planes, then x_1's, and so on: PyTorch's torch.cat(dim=1).
 * No parameters.
 *
 * Gradients: backward OVERWRITES dx_j with dy's planes of input j (a NULL
 * dx_j, the network's input, is skipped). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layers.h"

struct concat {
	struct layer base;
	int c[LAYER_MAX_INPUTS];   /* channels of each input */
};

/* Floats per sample of input j. */
static size_t concat_part(const struct concat *cc, int j)
{
	return (size_t)cc->c[j] * (size_t)cc->base.out.h * (size_t)cc->base.out.w;
}

static void concat_forward(const struct layer *l, const float *w, const float *const *xs, float *y,
                           int n, const struct layer_ctx *ctx)
{
	const struct concat *cc = (const struct concat *)l;
	size_t out = shape_size(l->out);

	(void)w;
	(void)ctx;
	for (int s = 0; s < n; s++) {
		float *ys = y + (size_t)s * out;
		for (int j = 0; j < l->n_inputs; j++) {
			size_t part = concat_part(cc, j);
			memcpy(ys, xs[j] + (size_t)s * part, part * sizeof *ys);
			ys += part;
		}
	}
}

static void concat_backward(const struct layer *l, const float *w, const float *const *xs,
                            const float *y, const float *dy, float *const *dxs, float *dw, int n,
                            const struct layer_ctx *ctx)
{
	const struct concat *cc = (const struct concat *)l;
	size_t out = shape_size(l->out);

	(void)w;
	(void)xs;
	(void)y;
	(void)dw;
	(void)ctx;
	for (int s = 0; s < n; s++) {
		const float *dys = dy + (size_t)s * out;
		for (int j = 0; j < l->n_inputs; j++) {
			size_t part = concat_part(cc, j);
			if (dxs[j])
				memcpy(dxs[j] + (size_t)s * part, dys, part * sizeof *dys);
			dys += part;
		}
	}
}

static void concat_describe(const struct layer *l, char *buf, size_t len)
{
	const struct concat *cc = (const struct concat *)l;
	size_t used = 0;

	buf[0] = '\0';
	for (int j = 0; j < l->n_inputs && used < len; j++)
		used += (size_t)snprintf(buf + used, len - used, j ? "+%d" : "%d", cc->c[j]);
	if (used < len)
		snprintf(buf + used, len - used, "->%d", l->out.c);
}

static const struct layer_ops concat_ops = {
	.type = "concat",
	.forward_multi = concat_forward,
	.backward_multi = concat_backward,
	.dx_density = layer_density_same,
	.describe = concat_describe,
	.destroy = layer_free_plain,   /* one allocation, base first */
};

int concat_create(struct cfg_node *args, const struct layer_input_ref *in, int n_in,
                  struct layer **out, struct cnn_error *err)
{
	struct cnn_loc at = args ? args->loc : (struct cnn_loc){ 0 };
	char a[48], b[48];
	long channels = 0;

	CNN_ASSERT(n_in >= 2 && n_in <= LAYER_MAX_INPUTS);
	for (int j = 0; j < n_in; j++) {
		struct shape s = in[j].shape, s0 = in[0].shape;
		channels += s.c;
		if (s.h == s0.h && s.w == s0.w)
			continue;
		shape_str(s, a, sizeof a);
		shape_str(s0, b, sizeof b);
		return cnn_errorf(err, in[j].loc, "concat: input '%s' is %s but input '%s' is %s; "
		                  "concat joins channels and needs the same height and width",
		                  in[j].name, a, in[0].name, b);
	}
	if (channels * in[0].shape.h * in[0].shape.w > (1L << 26))
		return cnn_errorf(err, at, "concat: the output of %ld channels is too large", channels);
	struct concat *cc = calloc(1, sizeof *cc);
	if (!cc)
		return cnn_errorf(err, at, "concat: out of memory");
	cc->base.ops = &concat_ops;
	cc->base.in = in[0].shape;
	cc->base.out = (struct shape){ (int)channels, in[0].shape.h, in[0].shape.w };
	cc->base.n_inputs = n_in;
	for (int j = 0; j < n_in; j++)
		cc->c[j] = in[j].shape.c;
	*out = &cc->base;
	return 0;
}
