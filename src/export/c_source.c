/* Standalone C99 source for a trained network: PREFIX.h declares
 *   void PREFIX_predict(const float *input, float *probs);
 * and PREFIX.c defines it with the weights as `static const` arrays (which a
 * microcontroller toolchain leaves in flash), one plain function per layer
 * with its sizes as constants, and every buffer static: no malloc, only
 * libm. input is the image's raw pixel values (0..255) as floats, (C, H, W)
 * row-major; the model's normalisation is the first step of predict.
 *
 * Activation memory: each layer's output is a tensor that lives from the
 * step that writes it to the last step that reads it; tensors whose lives
 * do not overlap share a buffer ("arena"). The plan below assigns them in
 * order, each to the free arena it grows least (a chain needs two; a graph
 * more, as a tensor read by an add or concat further on stays alive until
 * that last reader). add and concat steps take their inputs as separate
 * pointers (x0, x1, ...), in the order of the layer's inputs. flatten
 * and dropout produce no tensor of their own: the next layer reads their
 * input (dropout is the identity in inference, flatten only a reshape).
 *
 * The float export computes what cnnrun's float network computes, in a
 * plain summation order; the int8 one (quant.h) exactly what quant.c does. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"
#include "export/quant.h"
#include "io/fileio.h"

/* One step of the generated predict: a layer (float) or a quant step. */
struct cstep {
	const struct layer *l;  /* float: the layer; int8: the (first) layer it computes */
	const struct qstep *q;  /* int8 only */
	int n_in;               /* how many inputs: 1, or 2.. for add and concat */
	int in[LAYER_MAX_INPUTS]; /* the steps whose outputs it reads; -1: the input */
	size_t in_size[LAYER_MAX_INPUTS]; /* elements of each */
	bool alias;             /* no code: its output is its input's tensor */
	size_t out_size;        /* elements */
	char id[40];            /* the layer's name as a C identifier */
	int tensor;             /* its output's tensor (an alias: its input's) */
};

struct plan {
	int n_steps;
	struct cstep *steps;
	int n_tensors;          /* tensor 0 is the normalised input */
	int *arena;             /* [tensor] */
	size_t *arena_size;     /* [arenas] elements */
	int n_arenas;
};

struct gen {
	const struct export_model *m;
	const struct quant_model *q;
	const char *prefix;
	FILE *c;
	size_t flash;
};

/* ---- the memory plan ---- */

static int plan_build(struct plan *p, struct cnn_error *err)
{
	int n = p->n_steps, nt = 1;
	int *start = calloc((size_t)n + 1, sizeof *start), *end = calloc((size_t)n + 1, sizeof *end);
	size_t *size = calloc((size_t)n + 1, sizeof *size);
	int *arena_end = calloc((size_t)n + 1, sizeof *arena_end);
	p->arena = calloc((size_t)n + 1, sizeof *p->arena);
	p->arena_size = calloc((size_t)n + 1, sizeof *p->arena_size);
	int rc = -1;
	if (!start || !end || !size || !arena_end || !p->arena || !p->arena_size) {
		cnn_errorf_plain(err, "out of memory");
		goto out;
	}
	/* tensor 0, the input, is written at time 0; step s runs at time s + 1 */
	size[0] = shape_size(p->steps[0].l->in);
	for (int s = 0; s < n; s++) {
		struct cstep *st = &p->steps[s];
		int in = 0;
		/* every input lives until its last reader (an add's shortcut
		 * stays alive through the whole branch beside it) */
		for (int k = 0; k < st->n_in; k++) {
			in = st->in[k] < 0 ? 0 : p->steps[st->in[k]].tensor;
			if (end[in] < s + 1)
				end[in] = s + 1;
		}
		if (st->alias) {
			st->tensor = in;
			continue;
		}
		st->tensor = nt;
		start[nt] = end[nt] = s + 1;
		size[nt++] = st->out_size;
	}
	end[p->steps[n - 1].tensor] = n + 1;   /* the softmax reads the logits */
	p->n_tensors = nt;
	p->n_arenas = 0;
	for (int t = 0; t < nt; t++) {
		int best = -1;
		size_t best_growth = 0;
		for (int a = 0; a < p->n_arenas; a++) {
			if (arena_end[a] >= start[t])
				continue;   /* still holds a tensor that is read at or after t's start */
			size_t growth = size[t] > p->arena_size[a] ? size[t] - p->arena_size[a] : 0;
			if (best < 0 || growth < best_growth) {
				best = a;
				best_growth = growth;
			}
		}
		if (best < 0)
			best = p->n_arenas++;
		p->arena[t] = best;
		arena_end[best] = end[t];
		if (size[t] > p->arena_size[best])
			p->arena_size[best] = size[t];
	}
	rc = 0;
out:
	free(start);
	free(end);
	free(size);
	free(arena_end);
	return rc;
}

static void plan_free(struct plan *p)
{
	free(p->steps);
	free(p->arena);
	free(p->arena_size);
}

/* ---- writing constants ---- */

static void floats(struct gen *g, const char *name, const char *shape, const float *v, size_t n)
{
	fprintf(g->c, "static const float %s[%zu] = { /* %s */", name, n, shape);
	for (size_t i = 0; i < n; i++)
		fprintf(g->c, "%s%.9ef%s", i % 6 ? " " : "\n\t", (double)v[i], i + 1 < n ? "," : "");
	fputs("\n};\n", g->c);
	g->flash += n * sizeof(float);
}

static void ints(struct gen *g, const char *type, const char *name, const char *shape,
                 const void *v, size_t n, size_t elem)
{
	fprintf(g->c, "static const %s %s[%zu] = { /* %s */", type, name, n, shape);
	for (size_t i = 0; i < n; i++) {
		long x = elem == 1 ? ((const int8_t *)v)[i] : (long)((const int32_t *)v)[i];
		fprintf(g->c, "%s%ld%s", i % 12 ? " " : "\n\t", x, i + 1 < n ? "," : "");
	}
	fputs("\n};\n", g->c);
	g->flash += n * elem;
}

/* ---- float layers ---- */

static void fn_begin(struct gen *g, const struct cstep *s, const char *what, const char *type)
{
	struct shape i = s->l->in, o = s->l->out;
	fprintf(g->c, "\n/* %s: %s; x (%d, %d, %d), y (%d, %d, %d) */\n", s->l->name, what, i.c, i.h, i.w,
	        o.c, o.h, o.w);
	fprintf(g->c, "static void layer_%s(const %s *x, %s *y)\n{\n", s->id, type, type);
}

/* The head of a step with several inputs: layer_ID(x0, x1, ..., y). */
static void fn_begin_multi(struct gen *g, const struct cstep *s, const char *what, const char *type)
{
	struct shape o = s->l->out;
	fprintf(g->c, "\n/* %s: %s of %d inputs; y (%d, %d, %d) */\nstatic void layer_%s(", s->l->name, what,
	        s->n_in, o.c, o.h, o.w, s->id);
	for (int k = 0; k < s->n_in; k++)
		fprintf(g->c, "const %s *x%d, ", type, k);
	fprintf(g->c, "%s *y)\n{\n", type);
}

/* The body of a conv step. Each output plane starts at the bias and takes
 * the products of one weight at a time over the rows and columns where its
 * input pixel lies inside the image: the same sums, in the same order, as
 * the textbook loop (bias, then c, ky, kx), with the innermost loop running
 * over a row. int8 sums into acc, one int32 plane shared by all conv steps. */
static void conv_loops(struct gen *g, const char *id, struct shape in, struct shape out,
                       const struct layer_attrs *a, bool int8)
{
	FILE *c = g->c;
	bool pad_y = a->pad_top || a->pad_bottom, pad_x = a->pad_left || a->pad_right;
	const char *plane = int8 ? "conv_acc" : "yf";
	fprintf(c, "\tint f, c, ky, kx, oy, ox, oy0 = 0, oy1 = %d, ox0 = 0, ox1 = %d;\n\n", out.h, out.w);
	fprintf(c, "\tfor (f = 0; f < %d; f++) {\n", out.c);
	if (!int8)
		fprintf(c, "\t\tfloat *yf = y + f * %d;\n", out.h * out.w);
	fprintf(c, "\t\tfor (oy = 0; oy < %d; oy++)\n\t\t\t%s[oy] = %s_bias[f];\n", out.h * out.w, plane, id);
	fprintf(c, "\t\tfor (c = 0; c < %d; c++)\n\t\t\tfor (ky = 0; ky < %d; ky++) {\n", in.c, a->kernel);
	if (pad_y)   /* the output rows whose input row lies inside the image */
		fprintf(c, "\t\t\t\toy0 = ky < %d ? (%d - ky + %d) / %d : 0;\n"
		        "\t\t\t\toy1 = %d - ky < 0 ? 0 : (%d - ky) / %d + 1;\n\t\t\t\tif (oy1 > %d)\n\t\t\t\t\toy1 = %d;\n",
		        a->pad_top, a->pad_top, a->stride - 1, a->stride, in.h - 1 + a->pad_top,
		        in.h - 1 + a->pad_top, a->stride, out.h, out.h);
	fprintf(c, "\t\t\t\tfor (kx = 0; kx < %d; kx++) {\n", a->kernel);
	fprintf(c, "\t\t\t\t\t%s w = %s_weight[((f * %d + c) * %d + ky) * %d + kx];\n", int8 ? "int32_t" : "float",
	        id, in.c, a->kernel, a->kernel);
	if (pad_x)
		fprintf(c, "\t\t\t\t\tox0 = kx < %d ? (%d - kx + %d) / %d : 0;\n"
		        "\t\t\t\t\tox1 = %d - kx < 0 ? 0 : (%d - kx) / %d + 1;\n\t\t\t\t\tif (ox1 > %d)\n\t\t\t\t\t\tox1 = %d;\n",
		        a->pad_left, a->pad_left, a->stride - 1, a->stride, in.w - 1 + a->pad_left,
		        in.w - 1 + a->pad_left, a->stride, out.w, out.w);
	fprintf(c, "\t\t\t\t\tfor (oy = oy0; oy < oy1; oy++) {\n"
	        "\t\t\t\t\t\tint row = (c * %d + oy * %d + ky - %d) * %d + kx - %d;\n"
	        "\t\t\t\t\t\tfor (ox = ox0; ox < ox1; ox++)\n"
	        "\t\t\t\t\t\t\t%s[oy * %d + ox] += w * x[row + ox * %d];\n\t\t\t\t\t}\n\t\t\t\t}\n\t\t\t}\n",
	        in.h, a->stride, a->pad_top, in.w, a->pad_left, plane, out.w, a->stride);
	if (int8)
		fprintf(c, "\t\tfor (oy = 0; oy < %d; oy++)\n\t\t\ty[f * %d + oy] = requant(conv_acc[oy], %s_mult[f], %s_shift[f]);\n",
		        out.h * out.w, out.h * out.w, id, id);
	fputs("\t}\n}\n", c);
}

static void emit_conv_float(struct gen *g, const struct cstep *s)
{
	const struct layer *l = s->l;
	struct layer_attrs a;
	size_t nw, nb;
	char name[64], shape[64], what[96];
	const float *w = export_param(g->m->net, l, 0, &nw), *b = export_param(g->m->net, l, 1, &nb);
	l->ops->attrs(l, &a);
	snprintf(name, sizeof name, "%s_weight", s->id);
	snprintf(shape, sizeof shape, "(%d, %d, %d, %d)", l->out.c, l->in.c, a.kernel, a.kernel);
	floats(g, name, shape, w, nw);
	snprintf(name, sizeof name, "%s_bias", s->id);
	floats(g, name, "(filters)", b, nb);
	snprintf(what, sizeof what, "conv %dx%d/%d, padding %d %d %d %d", a.kernel, a.kernel, a.stride,
	         a.pad_top, a.pad_left, a.pad_bottom, a.pad_right);
	fn_begin(g, s, what, "float");
	conv_loops(g, s->id, l->in, l->out, &a, false);
}

static void emit_dense_float(struct gen *g, const struct cstep *s)
{
	const struct layer *l = s->l;
	size_t nw, nb, in = shape_size(l->in);
	char name[64], shape[64];
	const float *w = export_param(g->m->net, l, 0, &nw), *b = export_param(g->m->net, l, 1, &nb);
	snprintf(name, sizeof name, "%s_weight", s->id);
	snprintf(shape, sizeof shape, "(%d, %zu)", l->out.c, in);
	floats(g, name, shape, w, nw);
	snprintf(name, sizeof name, "%s_bias", s->id);
	floats(g, name, "(units)", b, nb);
	fn_begin(g, s, "dense", "float");
	fprintf(g->c, "\tint u, i;\n\n\tfor (u = 0; u < %d; u++) {\n\t\tfloat sum = %s_bias[u];\n"
	        "\t\tfor (i = 0; i < %zu; i++)\n\t\t\tsum += %s_weight[u * %zu + i] * x[i];\n"
	        "\t\ty[u] = sum;\n\t}\n}\n", l->out.c, s->id, in, s->id, in);
}

/* maxpool and avgpool: `first` starts the window's value, `step` folds in x[...]. */
static void emit_pool(struct gen *g, const struct cstep *s, const char *type, const char *acc_type,
                      const char *init, const char *step, const char *finish)
{
	const struct layer *l = s->l;
	struct layer_attrs a;
	char what[64], body[256];
	l->ops->attrs(l, &a);
	snprintf(what, sizeof what, "%s %dx%d/%d", l->ops->type, a.kernel, a.kernel, a.stride);
	fn_begin(g, s, what, type);
	fprintf(g->c, "\tint c, oy, ox, ky, kx;\n\n\tfor (c = 0; c < %d; c++)\n\t\tfor (oy = 0; oy < %d; oy++)\n"
	        "\t\t\tfor (ox = 0; ox < %d; ox++) {\n\t\t\t\t%s v = %s;\n", l->out.c, l->out.h, l->out.w,
	        acc_type, init);
	snprintf(body, sizeof body, "\t\t\t\t\t\t{\n\t\t\t\t\t\t\t%s xv = x[(c * %d + iy) * %d + ix];\n\t\t\t\t\t\t\t%s\n\t\t\t\t\t\t}\n",
	         type, l->in.h, l->in.w, step);
	fputs("\t\t\t\tfor (ky = 0; ky < ", g->c);
	fprintf(g->c, "%d; ky++) {\n\t\t\t\t\tint iy = oy * %d + ky;\n\t\t\t\t\tfor (kx = 0; kx < %d; kx++) {\n"
	        "\t\t\t\t\t\tint ix = ox * %d + kx;\n", a.kernel, a.stride, a.kernel, a.stride);
	fputs(body, g->c);
	fprintf(g->c, "\t\t\t\t\t}\n\t\t\t\t}\n\t\t\t\ty[(c * %d + oy) * %d + ox] = %s;\n\t\t\t}\n}\n",
	        l->out.h, l->out.w, finish);
}

static void emit_global_avgpool(struct gen *g, const struct cstep *s, const char *type,
                                const char *acc_type, const char *finish)
{
	const struct layer *l = s->l;
	int area = l->in.h * l->in.w;
	fn_begin(g, s, "global_avgpool", type);
	fprintf(g->c, "\tint c, p;\n\n\tfor (c = 0; c < %d; c++) {\n\t\t%s v = 0;\n"
	        "\t\tfor (p = 0; p < %d; p++)\n\t\t\tv += x[c * %d + p];\n\t\ty[c] = %s;\n\t}\n}\n",
	        l->in.c, acc_type, area, area, finish);
}

/* y[i] = expr of xv, elementwise */
static void emit_map(struct gen *g, const struct cstep *s, const char *what, const char *type,
                     const char *expr)
{
	fn_begin(g, s, what, type);
	fprintf(g->c, "\tint i;\n\n\tfor (i = 0; i < %zu; i++) {\n\t\t%s xv = x[i];\n\t\ty[i] = %s;\n\t}\n}\n",
	        shape_size(s->l->in), type, expr);
}

static int emit_batchnorm_float(struct gen *g, const struct cstep *s, struct cnn_error *err)
{
	const struct layer *l = s->l;
	struct layer_attrs a;
	size_t c, n;
	const float *gamma = export_param(g->m->net, l, 0, &c), *beta = export_param(g->m->net, l, 1, &n);
	const float *mean = export_param(g->m->net, l, 2, &n), *var = export_param(g->m->net, l, 3, &n);
	float *scale = malloc(c * sizeof *scale);
	char name[64];
	if (!scale)
		return cnn_errorf_plain(err, "out of memory");
	l->ops->attrs(l, &a);
	/* as the layer's evaluation forward: (x - mean) * (gamma / sqrt(var + eps)) + beta */
	for (size_t k = 0; k < c; k++)
		scale[k] = gamma[k] * (float)(1.0 / sqrt((double)var[k] + a.value));
	snprintf(name, sizeof name, "%s_mean", s->id);
	floats(g, name, "(channels)", mean, c);
	snprintf(name, sizeof name, "%s_scale", s->id);
	floats(g, name, "(channels): gamma / sqrt(running_var + eps)", scale, c);
	snprintf(name, sizeof name, "%s_shift", s->id);
	floats(g, name, "(channels): beta", beta, c);
	free(scale);
	int hw = l->in.h * l->in.w;
	fn_begin(g, s, "batchnorm, running statistics", "float");
	fprintf(g->c, "\tint c, p;\n\n\tfor (c = 0; c < %zu; c++)\n\t\tfor (p = 0; p < %d; p++)\n"
	        "\t\t\ty[c * %d + p] = (x[c * %d + p] - %s_mean[c]) * %s_scale[c] + %s_shift[c];\n}\n",
	        c, hw, hw, hw, s->id, s->id, s->id);
	return 0;
}

typedef int (*float_emit_fn)(struct gen *g, const struct cstep *s, struct cnn_error *err);

static int float_conv(struct gen *g, const struct cstep *s, struct cnn_error *err)
{
	(void)err;
	emit_conv_float(g, s);
	return 0;
}

static int float_dense(struct gen *g, const struct cstep *s, struct cnn_error *err)
{
	(void)err;
	emit_dense_float(g, s);
	return 0;
}

static int float_maxpool(struct gen *g, const struct cstep *s, struct cnn_error *err)
{
	(void)err;
	emit_pool(g, s, "float", "float", "-HUGE_VALF", "if (xv > v)\n\t\t\t\t\t\t\t\tv = xv;", "v");
	return 0;
}

static int float_avgpool(struct gen *g, const struct cstep *s, struct cnn_error *err)
{
	struct layer_attrs a;
	char expr[64];
	(void)err;
	s->l->ops->attrs(s->l, &a);
	/* as the layer: the window's sum times 1 / (pool * pool) in float */
	snprintf(expr, sizeof expr, "v * %.9ef", (double)(1.0f / ((float)a.kernel * (float)a.kernel)));
	emit_pool(g, s, "float", "float", "0", "v += xv;", expr);
	return 0;
}

static int float_global_avgpool(struct gen *g, const struct cstep *s, struct cnn_error *err)
{
	char expr[64];
	(void)err;
	snprintf(expr, sizeof expr, "v * %.9ef", (double)(1.0f / (float)(s->l->in.h * s->l->in.w)));
	emit_global_avgpool(g, s, "float", "float", expr);
	return 0;
}

static int float_relu(struct gen *g, const struct cstep *s, struct cnn_error *err)
{
	(void)err;
	emit_map(g, s, "relu", "float", "xv > 0.0f ? xv : 0.0f");
	return 0;
}

static int float_leaky_relu(struct gen *g, const struct cstep *s, struct cnn_error *err)
{
	struct layer_attrs a;
	char expr[96];
	(void)err;
	s->l->ops->attrs(s->l, &a);
	snprintf(expr, sizeof expr, "xv > 0.0f ? xv : %.9ef * xv", (double)(float)a.value);
	emit_map(g, s, "leaky_relu", "float", expr);
	return 0;
}

static int float_tanh(struct gen *g, const struct cstep *s, struct cnn_error *err)
{
	(void)err;
	emit_map(g, s, "tanh", "float", "tanhf(xv)");
	return 0;
}

static int float_sigmoid(struct gen *g, const struct cstep *s, struct cnn_error *err)
{
	(void)err;
	emit_map(g, s, "sigmoid", "float", "1.0f / (1.0f + expf(-xv))");
	return 0;
}

/* add: y = x0 + x1 + ..., summed in input order as the layer does. */
static int float_add(struct gen *g, const struct cstep *s, struct cnn_error *err)
{
	(void)err;
	fn_begin_multi(g, s, "add", "float");
	fprintf(g->c, "\tint i;\n\n\tfor (i = 0; i < %zu; i++)\n\t\ty[i] = x0[i]", s->out_size);
	for (int k = 1; k < s->n_in; k++)
		fprintf(g->c, " + x%d[i]", k);
	fputs(";\n}\n", g->c);
	return 0;
}

/* concat: each input's (c, h, w) block after the one before. `value` is
 * the expression of input k's element i (a %d for k). */
static void emit_concat(struct gen *g, const struct cstep *s, const char *type, const char *const *value)
{
	size_t at = 0;
	fn_begin_multi(g, s, "concat", type);
	fputs("\tint i;\n\n", g->c);
	for (int k = 0; k < s->n_in; k++) {
		fprintf(g->c, "\tfor (i = 0; i < %zu; i++)\n\t\ty[%zu + i] = %s;\n", s->in_size[k], at, value[k]);
		at += s->in_size[k];
	}
	fputs("}\n", g->c);
}

static int float_concat(struct gen *g, const struct cstep *s, struct cnn_error *err)
{
	char v[LAYER_MAX_INPUTS][16];
	const char *value[LAYER_MAX_INPUTS];
	(void)err;
	for (int k = 0; k < s->n_in; k++) {
		snprintf(v[k], sizeof v[k], "x%d[i]", k);
		value[k] = v[k];
	}
	emit_concat(g, s, "float", value);
	return 0;
}

/* The float code of each type; flatten and dropout have none (aliases). */
static const struct {
	const char *type;
	float_emit_fn emit;   /* NULL: an alias, no code */
} float_emitters[] = {
	{ "conv", float_conv },
	{ "dense", float_dense },
	{ "add", float_add },
	{ "concat", float_concat },
	{ "maxpool", float_maxpool },
	{ "avgpool", float_avgpool },
	{ "global_avgpool", float_global_avgpool },
	{ "relu", float_relu },
	{ "leaky_relu", float_leaky_relu },
	{ "tanh", float_tanh },
	{ "sigmoid", float_sigmoid },
	{ "batchnorm", emit_batchnorm_float },
	{ "flatten", NULL },
	{ "dropout", NULL },
};

/* The table row of a type; -1 when the C export does not know it. */
static int float_emitter(const char *type)
{
	for (size_t k = 0; k < sizeof float_emitters / sizeof float_emitters[0]; k++)
		if (!strcmp(float_emitters[k].type, type))
			return (int)k;
	return -1;
}

bool export_c_handles(const char *type)
{
	return float_emitter(type) >= 0;
}

static int emit_float_layer(struct gen *g, const struct cstep *s, struct cnn_error *err)
{
	int k = float_emitter(s->l->ops->type);
	if (k < 0)
		return export_refuse(g->m, s->l, "C", "the C export has no code for this type", err);
	return float_emitters[k].emit ? float_emitters[k].emit(g, s, err) : 0;
}

/* Whether a layer type has no code of its own (its output is its input). */
static bool is_alias_type(const char *type)
{
	int k = float_emitter(type);
	return k >= 0 && !float_emitters[k].emit;
}

/* ---- int8 steps ---- */

static void emit_q_weights(struct gen *g, const struct cstep *s, size_t nw, const char *wshape)
{
	const struct qstep *q = s->q;
	size_t out = (size_t)q->out_shape.c;
	char name[64];
	snprintf(name, sizeof name, "%s_weight", s->id);
	ints(g, "int8_t", name, wshape, q->w, nw, 1);
	snprintf(name, sizeof name, "%s_bias", s->id);
	ints(g, "int32_t", name, "(out): in units of the input scale times the weight scale", q->bias, out, 4);
	snprintf(name, sizeof name, "%s_mult", s->id);
	ints(g, "int32_t", name, "(out): output multiplier, Q31", q->mult, out, 4);
	snprintf(name, sizeof name, "%s_shift", s->id);
	ints(g, "int8_t", name, "(out): right shift after the product", q->shift, out, 1);
}

static void emit_q_conv(struct gen *g, const struct cstep *s)
{
	const struct qstep *q = s->q;
	struct shape i = q->in_shape, o = q->out_shape;
	const struct layer_attrs *a = &q->a;
	char shape[64], what[128];
	snprintf(shape, sizeof shape, "(%d, %d, %d, %d) int8", o.c, i.c, a->kernel, a->kernel);
	emit_q_weights(g, s, (size_t)o.c * (size_t)i.c * (size_t)a->kernel * (size_t)a->kernel, shape);
	snprintf(what, sizeof what, "int8 conv %dx%d/%d, padding %d %d %d %d%s", a->kernel, a->kernel,
	         a->stride, a->pad_top, a->pad_left, a->pad_bottom, a->pad_right,
	         q->folded >= 0 ? ", batchnorm folded in" : "");
	fn_begin(g, s, what, "int8_t");
	conv_loops(g, s->id, i, o, a, true);
}

static void emit_q_dense(struct gen *g, const struct cstep *s)
{
	const struct qstep *q = s->q;
	size_t in = shape_size(q->in_shape);
	char shape[64];
	snprintf(shape, sizeof shape, "(%d, %zu) int8", q->out_shape.c, in);
	emit_q_weights(g, s, (size_t)q->out_shape.c * in, shape);
	fn_begin(g, s, q->folded >= 0 ? "int8 dense, batchnorm folded in" : "int8 dense", "int8_t");
	fprintf(g->c, "\tint u, i;\n\n\tfor (u = 0; u < %d; u++) {\n\t\tint32_t acc = %s_bias[u];\n"
	        "\t\tfor (i = 0; i < %zu; i++)\n\t\t\tacc += (int32_t)%s_weight[u * %zu + i] * x[i];\n"
	        "\t\ty[u] = requant(acc, %s_mult[u], %s_shift[u]);\n\t}\n}\n",
	        q->out_shape.c, s->id, in, s->id, in, s->id, s->id);
}

static void emit_q_affine(struct gen *g, const struct cstep *s)
{
	const struct qstep *q = s->q;
	int hw = q->in_shape.h * q->in_shape.w;
	emit_q_weights(g, s, (size_t)q->out_shape.c, "(channels) int8");
	fn_begin(g, s, "int8 batchnorm, running statistics", "int8_t");
	fprintf(g->c, "\tint c, p;\n\n\tfor (c = 0; c < %d; c++)\n\t\tfor (p = 0; p < %d; p++)\n"
	        "\t\t\ty[c * %d + p] = requant((int32_t)%s_weight[c] * x[c * %d + p] + %s_bias[c], "
	        "%s_mult[c], %s_shift[c]);\n}\n", q->out_shape.c, hw, hw, s->id, hw, s->id, s->id, s->id);
}

static void emit_q_table(struct gen *g, const struct cstep *s)
{
	char name[64], expr[96];
	snprintf(name, sizeof name, "%s_table", s->id);
	ints(g, "int8_t", name, "(256): output code for input code + 128", s->q->table, 256, 1);
	snprintf(expr, sizeof expr, "%s_table[xv + 128]", s->id);
	emit_map(g, s, s->l->ops->type, "int8_t", expr);
}

/* int8 add: each input brought to the output scale in int32 (rescale,
 * no clamp), summed, then clamped once. */
static void emit_q_add(struct gen *g, const struct cstep *s)
{
	const struct qstep *q = s->q;
	fn_begin_multi(g, s, "int8 add, each input rescaled to the output scale", "int8_t");
	fprintf(g->c, "\tint i;\n\n\tfor (i = 0; i < %zu; i++) {\n\t\tint32_t v = 0;\n\n", s->out_size);
	for (int k = 0; k < s->n_in; k++)
		fprintf(g->c, "\t\tv += rescale(x%d[i], %ld, %d);\n", k, (long)q->mult[k], q->shift[k]);
	fputs("\t\ty[i] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);\n\t}\n}\n", g->c);
}

static void emit_q_concat(struct gen *g, const struct cstep *s)
{
	char v[LAYER_MAX_INPUTS][64];
	const char *value[LAYER_MAX_INPUTS];
	for (int k = 0; k < s->n_in; k++) {
		snprintf(v[k], sizeof v[k], "requant(x%d[i], %ld, %d)", k, (long)s->q->mult[k], s->q->shift[k]);
		value[k] = v[k];
	}
	emit_concat(g, s, "int8_t", value);
}

static int emit_q_step(struct gen *g, const struct cstep *s, struct cnn_error *err)
{
	const struct qstep *q = s->q;
	char expr[64];
	switch (q->op) {
	case Q_CONV:
		emit_q_conv(g, s);
		break;
	case Q_DENSE:
		emit_q_dense(g, s);
		break;
	case Q_AFFINE:
		emit_q_affine(g, s);
		break;
	case Q_RELU:
		emit_map(g, s, "relu", "int8_t", "xv > 0 ? xv : 0");
		break;
	case Q_MAXPOOL:
		emit_pool(g, s, "int8_t", "int", "-128", "if (xv > v)\n\t\t\t\t\t\t\t\tv = xv;", "(int8_t)v");
		break;
	case Q_AVGPOOL:
		snprintf(expr, sizeof expr, "div_round(v, %d)", q->a.kernel * q->a.kernel);
		emit_pool(g, s, "int8_t", "int32_t", "0", "v += xv;", expr);
		break;
	case Q_GLOBAL_AVGPOOL:
		snprintf(expr, sizeof expr, "div_round(v, %d)", q->in_shape.h * q->in_shape.w);
		emit_global_avgpool(g, s, "int8_t", "int32_t", expr);
		break;
	case Q_TABLE:
		emit_q_table(g, s);
		break;
	case Q_ADD:
		emit_q_add(g, s);
		break;
	case Q_CONCAT:
		emit_q_concat(g, s);
		break;
	case Q_ALIAS:
		break;
	default:
		return export_refuse(g->m, s->l, "C", "no int8 code for this type", err);
	}
	return 0;
}

/* The int8 helpers, the same arithmetic as quant.c; each emitted only when
 * a step uses it (an unused static function would be a warning). */
static const char q_requant[] =
	"/* clamp(round(acc * mult * 2^-shift), -127, 127), rounding half away from zero */\n"
	"static int8_t requant(int32_t acc, int32_t mult, int shift)\n"
	"{\n"
	"\tint64_t p = (int64_t)acc * mult;\n"
	"\tint64_t r = p < 0 ? -p : p;\n"
	"\n"
	"\tr = (r + ((int64_t)1 << (shift - 1))) >> shift;\n"
	"\tif (r > 127)\n"
	"\t\tr = 127;\n"
	"\treturn (int8_t)(p < 0 ? -r : r);\n"
	"}\n";
static const char q_rescale[] =
	"/* round(v * mult * 2^-shift), half away from zero, not clamped */\n"
	"static int32_t rescale(int32_t v, int32_t mult, int shift)\n"
	"{\n"
	"\tint64_t p = (int64_t)v * mult;\n"
	"\tint64_t r = ((p < 0 ? -p : p) + ((int64_t)1 << (shift - 1))) >> shift;\n"
	"\n"
	"\treturn (int32_t)(p < 0 ? -r : r);\n"
	"}\n";
static const char q_div_round[] =
	"/* v / n rounded half away from zero (n > 0) */\n"
	"static int8_t div_round(int32_t v, int32_t n)\n"
	"{\n"
	"\treturn (int8_t)(v < 0 ? -((-v + n / 2) / n) : (v + n / 2) / n);\n"
	"}\n";

/* ---- the steps and the two files ---- */

static int steps_float(const struct export_model *m, struct plan *p, struct cnn_error *err)
{
	const struct net *net = m->net;
	if (!(p->steps = calloc((size_t)net->n_layers, sizeof *p->steps)))
		return cnn_errorf_plain(err, "out of memory");
	p->n_steps = net->n_layers;
	for (int i = 0; i < net->n_layers; i++) {
		struct cstep *s = &p->steps[i];
		s->n_in = export_inputs(net, i, s->in, LAYER_MAX_INPUTS);
		s->l = net->layers[i];
		s->alias = is_alias_type(s->l->ops->type);
		s->out_size = shape_size(s->l->out);
	}
	return 0;
}

static int steps_int8(const struct export_model *m, const struct quant_model *q, struct plan *p,
                      struct cnn_error *err)
{
	if (!(p->steps = calloc((size_t)q->n, sizeof *p->steps)))
		return cnn_errorf_plain(err, "out of memory");
	p->n_steps = q->n;
	for (int i = 0; i < q->n; i++) {
		struct cstep *s = &p->steps[i];
		s->q = &q->steps[i];
		s->l = m->net->layers[s->q->layer];
		s->n_in = s->q->n_in;
		memcpy(s->in, s->q->in, sizeof s->in);
		s->alias = s->q->op == Q_ALIAS;
		s->out_size = shape_size(s->q->out_shape);
	}
	return 0;
}

/* Identifiers from the layer names, made unique. */
static void name_steps(struct plan *p)
{
	for (int i = 0; i < p->n_steps; i++) {
		struct cstep *s = &p->steps[i];
		export_identifier(s->l->name, 'l', s->id, sizeof s->id);
		for (int j = 0; j < i; j++)
			if (!strcmp(p->steps[j].id, s->id)) {
				size_t len = strlen(s->id);
				snprintf(s->id + len, sizeof s->id - len, "_%d", i);
				break;
			}
	}
}

static void write_header(FILE *h, const struct gen *g)
{
	const struct net *net = g->m->net;
	const char *P = g->prefix;
	char upper[64];
	size_t k = 0;
	for (; P[k] && k + 1 < sizeof upper; k++)
		upper[k] = (char)(P[k] >= 'a' && P[k] <= 'z' ? P[k] - 'a' + 'A' : P[k]);
	upper[k] = '\0';
	fprintf(h, "/* %s: the cnnrun model \"%s\" as plain C99 (%s), generated by\n"
	        " * `cnnrun export --c`. Needs only libm; no allocation; not reentrant\n"
	        " * (its buffers are static). */\n", P, g->m->name, g->q ? "int8 quantised" : "float");
	fprintf(h, "#ifndef %s_H\n#define %s_H\n\n", upper, upper);
	fprintf(h, "#define %s_INPUT_C %d\n#define %s_INPUT_H %d\n#define %s_INPUT_W %d\n#define %s_CLASSES %d\n\n",
	        P, net->input.c, P, net->input.h, P, net->input.w, P, net->n_classes);
	fputs("/* input: the image's raw pixel values 0..255 as floats, (C, H, W) in row\n"
	      " * order (the model's normalisation is applied inside); probs: the class\n"
	      " * probabilities. */\n", h);
	fprintf(h, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n");
	fprintf(h, "void %s_predict(const float *input, float *probs);\n", P);
	fprintf(h, "#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
}

/* A model standardised per channel: channel k's pixel v becomes
 * (float)(v * input_scale[k] + input_offset[k]), in double as cnnrun
 * computes it. ("input" is no layer's name, so no layer's array clashes.) */
static void write_norm_arrays(struct gen *g)
{
	int c = g->m->net->input.c;
	const double *v[2] = { g->m->scale, g->m->offset };
	fputs("\n/* The model's normalisation, per input channel. */\n", g->c);
	for (int a = 0; a < 2; a++) {
		fprintf(g->c, "static const double input_%s[%d] = {", a ? "offset" : "scale", c);
		for (int k = 0; k < c; k++)
			fprintf(g->c, " %.17g%s", v[a][k], k + 1 < c ? "," : " ");
		fputs("};\n", g->c);
	}
	g->flash += 2 * (size_t)c * sizeof(double);
}

/* predict: normalise (and quantise) the input, run the steps, softmax. */
static void write_predict(struct gen *g, const struct plan *p)
{
	const char *type = g->q ? "int8_t" : "float";
	size_t in = shape_size(g->m->net->input);
	if (!export_norm_uniform(g->m))
		write_norm_arrays(g);
	fputs("\n/* Activations: tensors whose lives do not overlap share an arena. */\n", g->c);
	for (int a = 0; a < p->n_arenas; a++)
		fprintf(g->c, "static %s arena%d[%zu];\n", type, a, p->arena_size[a]);
	fprintf(g->c, "\nvoid %s_predict(const float *input, float *probs)\n{\n", g->prefix);
	fprintf(g->c, "\t%s *in = arena%d;\n\tdouble z[%d], max, sum = 0;\n\tint i;\n\n", type,
	        p->arena[0], g->m->net->n_classes);
	if (export_norm_uniform(g->m))
		fprintf(g->c, "\tfor (i = 0; i < %zu; i++) {\n\t\tfloat v = (float)(input[i] * %.17g + %.17g);\n", in,
		        g->m->scale[0], g->m->offset[0]);
	else
		fprintf(g->c, "\tfor (i = 0; i < %zu; i++) {\n\t\tfloat v = (float)(input[i] * input_scale[i / %d] + "
		        "input_offset[i / %d]);\n", in, g->m->net->input.h * g->m->net->input.w,
		        g->m->net->input.h * g->m->net->input.w);
	if (g->q) {
		fprintf(g->c, "\t\tfloat t = v * %.9ef;\n\t\tint q = (int)(t < 0.0f ? t - 0.5f : t + 0.5f);\n"
		        "\t\tin[i] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);\n\t}\n",
		        (double)(1.0f / g->q->in_scale));
	} else {
		fputs("\t\tin[i] = v;\n\t}\n", g->c);
	}
	for (int s = 0; s < p->n_steps; s++) {
		const struct cstep *st = &p->steps[s];
		int in_t = st->in[0] < 0 ? 0 : p->steps[st->in[0]].tensor;
		if (st->alias) {
			fprintf(g->c, "\t/* %s: no code, the next step reads arena%d */\n", st->l->name, p->arena[in_t]);
			continue;
		}
		fprintf(g->c, "\tlayer_%s(", st->id);
		for (int k = 0; k < st->n_in; k++) {
			in_t = st->in[k] < 0 ? 0 : p->steps[st->in[k]].tensor;
			fprintf(g->c, "arena%d, ", p->arena[in_t]);
		}
		fprintf(g->c, "arena%d);\n", p->arena[st->tensor]);
	}
	int logits = p->arena[p->steps[p->n_steps - 1].tensor];
	if (g->q)
		fprintf(g->c, "\tfor (i = 0; i < %d; i++)\n\t\tz[i] = (double)((float)arena%d[i] * %.9ef);\n",
		        g->m->net->n_classes, logits, (double)g->q->steps[g->q->n - 1].scale);
	else
		fprintf(g->c, "\tfor (i = 0; i < %d; i++)\n\t\tz[i] = arena%d[i];\n", g->m->net->n_classes, logits);
	fprintf(g->c, "\t/* softmax, in double as cnnrun computes it */\n\tmax = z[0];\n"
	        "\tfor (i = 1; i < %d; i++)\n\t\tif (z[i] > max)\n\t\t\tmax = z[i];\n"
	        "\tfor (i = 0; i < %d; i++) {\n\t\tz[i] = exp(z[i] - max);\n\t\tsum += z[i];\n\t}\n"
	        "\tfor (i = 0; i < %d; i++)\n\t\tprobs[i] = (float)(z[i] / sum);\n}\n",
	        g->m->net->n_classes, g->m->net->n_classes, g->m->net->n_classes);
}

int export_c(const struct export_model *m, const struct quant_model *q, const char *dir,
             const char *prefix, struct export_footprint *fp, struct cnn_error *err)
{
	struct plan p = { 0 };
	struct gen g = { .m = m, .q = q, .prefix = prefix };
	char *ctext = NULL, *htext = NULL, path[4096];
	size_t clen = 0, hlen = 0;
	FILE *h = NULL;
	int rc = -1;

	for (size_t i = 0; i < m->net->n_params; i++)
		if (!isfinite(m->net->params[i]))
			return cnn_errorf(err, (struct cnn_loc){ m->source, 0, 0 }, "the weights hold a NaN or an "
			                  "infinity; nothing to export");
	if ((q ? steps_int8(m, q, &p, err) : steps_float(m, &p, err)) || plan_build(&p, err))
		goto out;
	for (int s = 0; s < p.n_steps; s++)
		for (int k = 0; k < p.steps[s].n_in; k++) {
			int in = p.steps[s].in[k];
			p.steps[s].in_size[k] = in < 0 ? shape_size(m->net->input) : p.steps[in].out_size;
		}
	name_steps(&p);
	if (!(g.c = open_memstream(&ctext, &clen)) || !(h = open_memstream(&htext, &hlen))) {
		cnn_errorf_plain(err, "out of memory");
		goto out;
	}
	fprintf(g.c, "/* %s.c: the cnnrun model \"%s\" (%s), generated by `cnnrun export --c`;\n"
	        " * see %s.h. */\n#include <math.h>\n%s\n#include \"%s.h\"\n", prefix, m->name,
	        q ? "int8 quantised" : "float", prefix, q ? "#include <stdint.h>\n" : "", prefix);
	size_t acc_plane = 0;
	for (int i = 0; q && i < q->n; i++) {
		size_t hw = (size_t)q->steps[i].out_shape.h * (size_t)q->steps[i].out_shape.w;
		if (q->steps[i].op == Q_CONV && hw > acc_plane)
			acc_plane = hw;
	}
	if (acc_plane)
		fprintf(g.c, "\n/* The int32 sums of one output plane of a conv, shared by all convs. */\n"
		        "static int32_t conv_acc[%zu];\n", acc_plane);
	for (int k = 0; q && k < 3; k++) {
		static const char *const helper[] = { q_requant, q_div_round, q_rescale };
		bool used = false;
		for (int i = 0; i < q->n; i++) {
			enum qop op = q->steps[i].op;
			used |= k == 0 ? op == Q_CONV || op == Q_DENSE || op == Q_AFFINE || op == Q_CONCAT
			      : k == 1 ? op == Q_AVGPOOL || op == Q_GLOBAL_AVGPOOL
			               : op == Q_ADD;
		}
		if (used)
			fprintf(g.c, "\n%s", helper[k]);
	}
	for (int s = 0; s < p.n_steps; s++) {
		if (p.steps[s].alias)
			continue;
		if (q ? emit_q_step(&g, &p.steps[s], err) : emit_float_layer(&g, &p.steps[s], err))
			goto out;
	}
	write_predict(&g, &p);
	write_header(h, &g);
	if (fclose(g.c) | fclose(h)) {
		g.c = h = NULL;
		cnn_errorf_plain(err, "out of memory");
		goto out;
	}
	g.c = h = NULL;
	snprintf(path, sizeof path, "%s/%s.h", dir, prefix);
	if (atomic_write(path, htext, hlen, err))
		goto out;
	snprintf(path, sizeof path, "%s/%s.c", dir, prefix);
	if (atomic_write(path, ctext, clen, err))
		goto out;
	fp->flash = g.flash;
	fp->ram = 0;
	for (int a = 0; a < p.n_arenas; a++)
		fp->ram += p.arena_size[a] * (q ? 1 : sizeof(float));
	fp->ram += acc_plane * 4;
	fp->arenas = p.n_arenas;
	rc = 0;
out:
	if (g.c)
		fclose(g.c);
	if (h)
		fclose(h);
	free(ctext);
	free(htext);
	plan_free(&p);
	return rc;
}
