/* Post-training int8 quantisation (see quant.h): calibration, the integer
 * parameters, and a reference interpreter that does exactly what the
 * generated C does, so cnnrun can print the int8 model's accuracy. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "export/quant.h"

/* Largest |x| of each layer's output over the calibration images. */
static int calibrate(struct net *net, const struct dataset *d, int count, double *maxabs,
                     struct cnn_error *err)
{
	int *idx = malloc((size_t)net->batch * sizeof *idx), *labels = malloc((size_t)net->batch * sizeof *labels);
	if (!idx || !labels) {
		free(idx);
		free(labels);
		return cnn_errorf_plain(err, "out of memory");
	}
	for (int i = 0; i < net->n_layers; i++)
		maxabs[i] = 0;
	for (int start = 0; start < count; start += net->batch) {
		int n = count - start < net->batch ? count - start : net->batch;
		double loss;
		for (int j = 0; j < n; j++)
			idx[j] = start + j;
		dataset_batch(d, idx, n, net->x, labels);
		net_eval(net, labels, n, &loss, NULL, NULL);
		for (int i = 0; i < net->n_layers; i++) {
			size_t len = (size_t)n * shape_size(net->layers[i]->out);
			for (size_t k = 0; k < len; k++)
				if (fabs(net->acts[i][k]) > maxabs[i])
					maxabs[i] = fabs(net->acts[i][k]);
		}
	}
	free(idx);
	free(labels);
	return 0;
}

static float scale_of(double maxabs)
{
	return maxabs > 0 ? (float)(maxabs / 127.0) : 1.0f;
}

static int32_t round_i32(double v)
{
	if (v > 2147483647.0)
		return 2147483647;
	if (v < -2147483647.0)
		return -2147483647;
	return (int32_t)lround(v);
}

/* m = mult * 2^-shift with mult in [2^30, 2^31) and shift in [1, 62]. */
static void multiplier(double m, int32_t *mult, int8_t *shift)
{
	int e;
	double frac = frexp(m, &e);   /* m = frac * 2^e, frac in [0.5, 1) */
	long long q = llround(frac * 2147483648.0);
	if (q == 2147483648LL) {
		q /= 2;
		e++;
	}
	int s = 31 - e;
	if (m <= 0 || s > 62) {       /* too small to move any code: output 0 */
		*mult = 0;
		*shift = 1;
		return;
	}
	if (s < 1)
		s = 1;                /* a gain of 2^30 or more: saturates anyway */
	*mult = (int32_t)q;
	*shift = (int8_t)s;
}

int8_t quant_requant(int32_t acc, int32_t mult, int shift)
{
	long long p = (long long)acc * mult;
	long long r = p < 0 ? -p : p;
	r = (r + (1LL << (shift - 1))) >> shift;
	if (r > 127)
		r = 127;
	return (int8_t)(p < 0 ? -r : r);
}

int32_t quant_rescale(int32_t v, int32_t mult, int shift)
{
	long long p = (long long)v * mult;
	long long r = ((p < 0 ? -p : p) + (1LL << (shift - 1))) >> shift;
	return (int32_t)(p < 0 ? -r : r);
}

static int8_t div_round(long v, long n)
{
	return (int8_t)(v < 0 ? -((-v + n / 2) / n) : (v + n / 2) / n);
}

/* Quantises weights w (out, k) per row with bias b, for input scale s_in
 * and output scale s_out. */
static int quantise_weights(struct qstep *q, const double *w, const double *b, int out, size_t k,
                            float s_in, struct cnn_error *err)
{
	q->w = malloc((size_t)out * k);
	q->bias = malloc((size_t)out * sizeof *q->bias);
	q->mult = malloc((size_t)out * sizeof *q->mult);
	q->shift = malloc((size_t)out);
	if (!q->w || !q->bias || !q->mult || !q->shift)
		return cnn_errorf_plain(err, "out of memory");
	for (int f = 0; f < out; f++) {
		double maxw = 0;
		for (size_t j = 0; j < k; j++)
			maxw = fmax(maxw, fabs(w[(size_t)f * k + j]));
		float s_w = scale_of(maxw);
		for (size_t j = 0; j < k; j++) {
			long v = lround(w[(size_t)f * k + j] / s_w);
			q->w[(size_t)f * k + j] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
		}
		double unit = (double)s_in * s_w;
		q->bias[f] = round_i32(b[f] / unit);
		multiplier(unit / q->scale, &q->mult[f], &q->shift[f]);
	}
	return 0;
}

/* The output scale of a tensor produced by layer o: when a relu reads it,
 * only the positive part survives, so calibrate on the relu's output. */
static float out_scale(const struct net *net, int o, const double *maxabs)
{
	int in[LAYER_MAX_INPUTS];
	if (o + 1 < net->n_layers && !strcmp(net->layers[o + 1]->ops->type, "relu") &&
	    export_inputs(net, o + 1, in, LAYER_MAX_INPUTS) == 1 && in[0] == o && export_readers(net, o) == 1)
		return scale_of(maxabs[o + 1]);
	return scale_of(maxabs[o]);
}

static void bn_affine(const struct net *net, const struct layer *bn, double *a, double *b)
{
	struct layer_attrs at;
	const float *gamma = export_param(net, bn, 0, NULL), *beta = export_param(net, bn, 1, NULL);
	const float *mean = export_param(net, bn, 2, NULL), *var = export_param(net, bn, 3, NULL);
	bn->ops->attrs(bn, &at);
	for (int c = 0; c < bn->out.c; c++) {
		a[c] = gamma[c] / sqrt((double)var[c] + at.value);
		b[c] = beta[c] - mean[c] * a[c];
	}
}

/* conv or dense, with the batchnorm after it folded in when there is one. */
static int build_linear(struct quant_model *qm, struct qstep *q, const struct net *net, int i,
                        const double *maxabs, float s_in, struct cnn_error *err)
{
	const struct layer *l = net->layers[i];
	int out = l->out.c, in[LAYER_MAX_INPUTS];
	size_t k = l->param_count / (size_t)out - 1;   /* weights per output, the bias aside */
	const float *w = export_param(net, l, 0, NULL), *b = export_param(net, l, 1, NULL);
	double *wd = malloc((size_t)out * k * sizeof *wd), *bd = malloc((size_t)out * sizeof *bd);
	double *a = malloc((size_t)out * sizeof *a), *c = malloc((size_t)out * sizeof *c);
	int rc = -1;
	(void)qm;
	if (!wd || !bd || !a || !c) {
		cnn_errorf_plain(err, "out of memory");
		goto out;
	}
	for (int f = 0; f < out; f++) {
		a[f] = 1;
		c[f] = 0;
	}
	q->folded = -1;
	if (i + 1 < net->n_layers && !strcmp(net->layers[i + 1]->ops->type, "batchnorm") &&
	    export_inputs(net, i + 1, in, LAYER_MAX_INPUTS) == 1 && in[0] == i && export_readers(net, i) == 1) {
		q->folded = i + 1;
		bn_affine(net, net->layers[i + 1], a, c);
	}
	for (int f = 0; f < out; f++) {
		for (size_t j = 0; j < k; j++)
			wd[(size_t)f * k + j] = w[(size_t)f * k + j] * a[f];
		bd[f] = b[f] * a[f] + c[f];
	}
	q->scale = out_scale(net, q->folded >= 0 ? q->folded : i, maxabs);
	rc = quantise_weights(q, wd, bd, out, k, s_in, err);
out:
	free(wd);
	free(bd);
	free(a);
	free(c);
	return rc;
}

static int build_affine(struct qstep *q, const struct net *net, int i, const double *maxabs, float s_in,
                        struct cnn_error *err)
{
	const struct layer *l = net->layers[i];
	int c = l->out.c;
	double *a = malloc((size_t)c * sizeof *a), *b = malloc((size_t)c * sizeof *b);
	int rc = -1;
	if (a && b) {
		bn_affine(net, l, a, b);
		q->scale = out_scale(net, i, maxabs);
		rc = quantise_weights(q, a, b, c, 1, s_in, err);
	} else {
		cnn_errorf_plain(err, "out of memory");
	}
	free(a);
	free(b);
	return rc;
}

static double apply(const char *type, double x, double slope)
{
	if (!strcmp(type, "tanh"))
		return tanh(x);
	if (!strcmp(type, "sigmoid"))
		return 1.0 / (1.0 + exp(-x));
	return x > 0 ? x : slope * x;   /* leaky_relu */
}

static void build_table(struct qstep *q, const struct layer *l, const double *maxabs, int i, float s_in)
{
	struct layer_attrs a = { 0 };
	if (l->ops->attrs)
		l->ops->attrs(l, &a);
	q->scale = scale_of(maxabs[i]);
	for (int code = -128; code < 128; code++) {
		long v = lround(apply(l->ops->type, code * (double)s_in, a.value) / q->scale);
		q->table[code + 128] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
	}
}

static const struct {
	const char *type;
	enum qop op;
} qops[] = {
	{ "conv", Q_CONV }, { "dense", Q_DENSE }, { "batchnorm", Q_AFFINE }, { "relu", Q_RELU },
	{ "maxpool", Q_MAXPOOL }, { "avgpool", Q_AVGPOOL }, { "global_avgpool", Q_GLOBAL_AVGPOOL },
	{ "leaky_relu", Q_TABLE }, { "tanh", Q_TABLE }, { "sigmoid", Q_TABLE },
	{ "add", Q_ADD }, { "concat", Q_CONCAT }, { "flatten", Q_ALIAS }, { "dropout", Q_ALIAS },
};

/* add, concat: the output scale from calibration (after a relu that alone
 * reads it, as for a conv) and a multiplier per input from its scale. */
static int build_multi(struct qstep *q, const struct net *net, int i, const double *maxabs,
                       const float *s_in, struct cnn_error *err)
{
	q->mult = malloc((size_t)q->n_in * sizeof *q->mult);
	q->shift = malloc((size_t)q->n_in);
	if (!q->mult || !q->shift)
		return cnn_errorf_plain(err, "out of memory");
	q->scale = out_scale(net, i, maxabs);
	for (int k = 0; k < q->n_in; k++)
		multiplier((double)s_in[k] / q->scale, &q->mult[k], &q->shift[k]);
	return 0;
}

bool export_int8_handles(const char *type)
{
	for (size_t k = 0; k < sizeof qops / sizeof qops[0]; k++)
		if (!strcmp(qops[k].type, type))
			return true;
	return false;
}

static int build_steps(const struct export_model *m, struct quant_model *qm, const double *maxabs,
                       struct cnn_error *err)
{
	const struct net *net = m->net;
	int *step_of = malloc((size_t)net->n_layers * sizeof *step_of);
	if (!step_of)
		return cnn_errorf_plain(err, "out of memory");
	for (int i = 0; i < net->n_layers; i++) {
		const struct layer *l = net->layers[i];
		int ins[LAYER_MAX_INPUTS], k = 0, n_q = (int)(sizeof qops / sizeof qops[0]);
		int n_in = export_inputs(net, i, ins, LAYER_MAX_INPUTS), in = ins[0];
		float s_ins[LAYER_MAX_INPUTS];
		while (k < n_q && strcmp(qops[k].type, l->ops->type))
			k++;
		if (k == n_q) {
			free(step_of);
			return export_refuse(m, l, "int8 C", "no int8 form of this type", err);
		}
		if (!strcmp(l->ops->type, "batchnorm") && in >= 0 && qm->steps[step_of[in]].folded == i) {
			step_of[i] = step_of[in];   /* folded into the conv or dense before it */
			continue;
		}
		struct qstep *q = &qm->steps[qm->n];
		float s_in = in < 0 ? qm->in_scale : qm->steps[step_of[in]].scale;
		*q = (struct qstep){ .op = qops[k].op, .layer = i, .folded = -1, .n_in = n_in,
		                     .in_shape = l->in, .out_shape = l->out, .scale = s_in };
		for (int j = 0; j < n_in; j++) {
			q->in[j] = ins[j] < 0 ? -1 : step_of[ins[j]];
			s_ins[j] = ins[j] < 0 ? qm->in_scale : qm->steps[step_of[ins[j]]].scale;
		}
		if (l->ops->attrs)
			l->ops->attrs(l, &q->a);
		step_of[i] = qm->n++;
		int rc = 0;
		if (q->op == Q_CONV || q->op == Q_DENSE)
			rc = build_linear(qm, q, net, i, maxabs, s_in, err);
		else if (q->op == Q_AFFINE)
			rc = build_affine(q, net, i, maxabs, s_in, err);
		else if (q->op == Q_TABLE)
			build_table(q, l, maxabs, i, s_in);
		else if (q->op == Q_ADD || q->op == Q_CONCAT)
			rc = build_multi(q, net, i, maxabs, s_ins, err);
		if (rc) {
			free(step_of);
			return -1;
		}
		if (q->folded >= 0)
			q->out_shape = net->layers[q->folded]->out;
	}
	free(step_of);
	return 0;
}

int quant_build(const struct export_model *m, struct net *net, const struct dataset *calib,
                int count, struct quant_model **out, struct cnn_error *err)
{
	struct quant_model *q = calloc(1, sizeof *q);
	double *maxabs = malloc((size_t)net->n_layers * sizeof *maxabs);
	*out = NULL;
	if (!q || !maxabs || !(q->steps = calloc((size_t)net->n_layers, sizeof *q->steps))) {
		free(maxabs);
		quant_free(q);
		return cnn_errorf_plain(err, "out of memory");
	}
	q->n_classes = net->n_classes;
	q->input = net->input;
	/* the input's range is known: the normalised values of 0 and 255, in
	 * the channel that reaches furthest (one scale for the whole tensor) */
	double in_max = 0;
	for (int c = 0; c < net->input.c; c++) {
		q->norm_scale[c] = m->scale[c];
		q->norm_offset[c] = m->offset[c];
		in_max = fmax(in_max, fmax(fabs(m->offset[c]), fabs(255.0 * m->scale[c] + m->offset[c])));
	}
	q->in_scale = scale_of(in_max);
	if (calibrate(net, calib, count, maxabs, err) || build_steps(m, q, maxabs, err)) {
		free(maxabs);
		quant_free(q);
		return -1;
	}
	free(maxabs);
	*out = q;
	return 0;
}

void quant_free(struct quant_model *q)
{
	if (!q)
		return;
	for (int i = 0; i < q->n; i++) {
		free(q->steps[i].w);
		free(q->steps[i].bias);
		free(q->steps[i].mult);
		free(q->steps[i].shift);
	}
	free(q->steps);
	free(q);
}

/* ---- the reference interpreter: the generated code's arithmetic ---- */

/* First and one-past-last output index o with 0 <= o * s + k - pad < n. */
static void inside(int k, int pad, int s, int n, int out, int *o0, int *o1)
{
	*o0 = k < pad ? (pad - k + s - 1) / s : 0;
	*o1 = n - 1 + pad - k < 0 ? 0 : (n - 1 + pad - k) / s + 1;
	if (*o1 > out)
		*o1 = out;
}

/* The generated code's loop order (c_source.c conv_loops); with integers
 * any order gives the same sums. */
static void run_conv(const struct qstep *q, const int8_t *x, int8_t *y)
{
	struct shape i = q->in_shape, o = q->out_shape;
	int k = q->a.kernel, s = q->a.stride;
	size_t hw = (size_t)o.h * (size_t)o.w;
	int32_t *acc = malloc(hw * sizeof *acc);
	CNN_ASSERT(acc);
	for (int f = 0; f < o.c; f++) {
		for (size_t p = 0; p < hw; p++)
			acc[p] = q->bias[f];
		for (int c = 0; c < i.c; c++)
			for (int ky = 0; ky < k; ky++) {
				int oy0, oy1;
				inside(ky, q->a.pad_top, s, i.h, o.h, &oy0, &oy1);
				for (int kx = 0; kx < k; kx++) {
					int32_t w = q->w[(((size_t)f * i.c + c) * k + ky) * k + kx];
					int ox0, ox1;
					inside(kx, q->a.pad_left, s, i.w, o.w, &ox0, &ox1);
					for (int oy = oy0; oy < oy1; oy++) {
						const int8_t *xr = x + ((size_t)c * i.h + (size_t)(oy * s + ky - q->a.pad_top)) * i.w;
						int32_t *ar = acc + (size_t)oy * o.w;
						int off = kx - q->a.pad_left;
						if (s == 1)   /* contiguous: vectorises */
							for (int ox = ox0; ox < ox1; ox++)
								ar[ox] += w * xr[ox + off];
						else
							for (int ox = ox0; ox < ox1; ox++)
								ar[ox] += w * xr[ox * s + off];
					}
				}
			}
		for (size_t p = 0; p < hw; p++)
			y[(size_t)f * hw + p] = quant_requant(acc[p], q->mult[f], q->shift[f]);
	}
	free(acc);
}

static void run_dense(const struct qstep *q, const int8_t *x, int8_t *y)
{
	size_t in = shape_size(q->in_shape);
	for (int u = 0; u < q->out_shape.c; u++) {
		long acc = q->bias[u];
		for (size_t i = 0; i < in; i++)
			acc += (long)q->w[(size_t)u * in + i] * x[i];
		y[u] = quant_requant((int32_t)acc, q->mult[u], q->shift[u]);
	}
}

static void run_pool(const struct qstep *q, const int8_t *x, int8_t *y, bool max)
{
	struct shape i = q->in_shape, o = q->out_shape;
	int k = q->a.kernel;
	for (int c = 0; c < o.c; c++)
		for (int oy = 0; oy < o.h; oy++)
			for (int ox = 0; ox < o.w; ox++) {
				long v = max ? -128 : 0;
				for (int ky = 0; ky < k; ky++)
					for (int kx = 0; kx < k; kx++) {
						int8_t xv = x[((size_t)c * i.h + oy * q->a.stride + ky) * i.w + ox * q->a.stride + kx];
						if (!max)
							v += xv;
						else if (xv > v)
							v = xv;
					}
				y[((size_t)c * o.h + oy) * o.w + ox] = max ? (int8_t)v : div_round(v, (long)k * k);
			}
}

/* add and concat, as emit_q_add and emit_q_concat write them */
static void run_multi(const struct qstep *q, const int8_t *const *xs, const size_t *sizes, int8_t *y)
{
	size_t n = shape_size(q->out_shape), at = 0;
	if (q->op == Q_ADD) {
		for (size_t i = 0; i < n; i++) {
			int32_t v = 0;
			for (int k = 0; k < q->n_in; k++)
				v += quant_rescale(xs[k][i], q->mult[k], q->shift[k]);
			y[i] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
		}
		return;
	}
	for (int k = 0; k < q->n_in; k++) {
		for (size_t i = 0; i < sizes[k]; i++)
			y[at + i] = quant_requant(xs[k][i], q->mult[k], q->shift[k]);
		at += sizes[k];
	}
}

static void run_step(const struct qstep *q, const int8_t *x, int8_t *y)
{
	size_t n = shape_size(q->in_shape);
	int hw = q->in_shape.h * q->in_shape.w;
	switch (q->op) {
	case Q_CONV:
		run_conv(q, x, y);
		break;
	case Q_DENSE:
		run_dense(q, x, y);
		break;
	case Q_AFFINE:
		for (int c = 0; c < q->out_shape.c; c++)
			for (int p = 0; p < hw; p++)
				y[c * hw + p] = quant_requant((int32_t)((long)q->w[c] * x[c * hw + p] + q->bias[c]),
				                              q->mult[c], q->shift[c]);
		break;
	case Q_RELU:
		for (size_t k = 0; k < n; k++)
			y[k] = x[k] > 0 ? x[k] : 0;
		break;
	case Q_MAXPOOL:
	case Q_AVGPOOL:
		run_pool(q, x, y, q->op == Q_MAXPOOL);
		break;
	case Q_GLOBAL_AVGPOOL:
		for (int c = 0; c < q->in_shape.c; c++) {
			long v = 0;
			for (int p = 0; p < hw; p++)
				v += x[c * hw + p];
			y[c] = div_round(v, hw);
		}
		break;
	case Q_TABLE:
		for (size_t k = 0; k < n; k++)
			y[k] = q->table[x[k] + 128];
		break;
	case Q_ALIAS:
		memcpy(y, x, n);
		break;
	case Q_ADD:
	case Q_CONCAT:
		CNN_ASSERT(!"run_multi computes these");
		break;
	}
}

void quant_predict(const struct quant_model *q, const float *pixels, float *probs)
{
	/* Each step's output kept whole: the interpreter is for measuring, the
	 * generated code is the one that shares buffers. */
	size_t n_in = shape_size(q->input);
	int8_t **t = calloc((size_t)q->n + 1, sizeof *t);
	CNN_ASSERT(t);
	CNN_ASSERT((t[0] = malloc(n_in)));
	float inv = 1.0f / q->in_scale;
	size_t plane = (size_t)q->input.h * (size_t)q->input.w;
	for (size_t i = 0; i < n_in; i++) {
		float v = (float)(pixels[i] * q->norm_scale[i / plane] + q->norm_offset[i / plane]);
		float s = v * inv;
		int c = (int)(s < 0.0f ? s - 0.5f : s + 0.5f);
		t[0][i] = (int8_t)(c > 127 ? 127 : c < -127 ? -127 : c);
	}
	for (int s = 0; s < q->n; s++) {
		const struct qstep *st = &q->steps[s];
		CNN_ASSERT((t[s + 1] = malloc(shape_size(st->out_shape))));
		if (st->op == Q_ADD || st->op == Q_CONCAT) {
			const int8_t *xs[LAYER_MAX_INPUTS];
			size_t sizes[LAYER_MAX_INPUTS];
			for (int k = 0; k < st->n_in; k++) {
				xs[k] = t[st->in[k] + 1];
				sizes[k] = st->in[k] < 0 ? n_in : shape_size(q->steps[st->in[k]].out_shape);
			}
			run_multi(st, xs, sizes, t[s + 1]);
		} else {
			run_step(st, t[st->in[0] + 1], t[s + 1]);
		}
	}
	const int8_t *logits = t[q->n];
	float last = q->steps[q->n - 1].scale;
	double z[1024], max, sum = 0;
	CNN_ASSERT(q->n_classes <= 1024);
	for (int k = 0; k < q->n_classes; k++)
		z[k] = (double)((float)logits[k] * last);
	max = z[0];
	for (int k = 1; k < q->n_classes; k++)
		if (z[k] > max)
			max = z[k];
	for (int k = 0; k < q->n_classes; k++) {
		z[k] = exp(z[k] - max);
		sum += z[k];
	}
	for (int k = 0; k < q->n_classes; k++)
		probs[k] = (float)(z[k] / sum);
	for (int s = 0; s <= q->n; s++)
		free(t[s]);
	free(t);
}

double quant_accuracy(const struct quant_model *q, const struct dataset *d)
{
	size_t n_in = shape_size(q->input);
	long correct = 0;
	/* images are independent and the count is a sum of integers: the same
	 * result on any number of threads */
	#pragma omp parallel
	{
		float *pixels = malloc(n_in * sizeof *pixels), *probs = malloc((size_t)q->n_classes * sizeof *probs);
		CNN_ASSERT(pixels && probs);
		#pragma omp for reduction(+ : correct) schedule(dynamic, 64)
		for (int i = 0; i < d->n; i++) {
			for (size_t k = 0; k < n_in; k++)
				pixels[k] = d->images[(size_t)i * n_in + k];
			quant_predict(q, pixels, probs);
			int best = 0;
			for (int k = 1; k < q->n_classes; k++)
				if (probs[k] > probs[best])
					best = k;
			correct += best == d->labels[i];
		}
		free(pixels);
		free(probs);
	}
	return d->n ? (double)correct / d->n : NAN;
}
