/* Finite-difference gradient checking; see gradcheck.h for the method. */
#include "gradcheck.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include <cmocka.h>

#define GRADCHECK_MAX_REPORTS 8
/* Written into dw before backward and subtracted afterwards: backward must add. */
#define GRADCHECK_DW_FILL 0.25f
/* Written into dx and scratch before each call: backward must overwrite dx and
 * a layer must not rely on zeroed scratch. */
#define GRADCHECK_GARBAGE 7.5e3f

struct gradcheck_run {
	const struct layer *l;
	int n;
	float *xs[LAYER_MAX_INPUTS];   /* (n, in shape k) each */
	float *w;        /* (nparams) */
	float *y;        /* (n, out) */
	const float *r;  /* (n, out): dL/dy */
	float *scratch;  /* (scratch_floats(l, n)) */
	size_t nscratch;
	size_t nout;
};

void gradcheck_forward(const struct layer *l, const float *w, const float *const *xs, float *y,
                       int n, const struct layer_ctx *ctx)
{
	if (l->ops->forward_multi)
		l->ops->forward_multi(l, w, xs, y, n, ctx);
	else
		l->ops->forward(l, w, xs[0], y, n, ctx);
}

void gradcheck_backward(const struct layer *l, const float *w, const float *const *xs,
                        const float *y, const float *dy, float *const *dxs, float *dw, int n,
                        const struct layer_ctx *ctx)
{
	if (l->ops->backward_multi)
		l->ops->backward_multi(l, w, xs, y, dy, dxs, dw, n, ctx);
	else
		l->ops->backward(l, w, xs[0], y, dy, dxs[0], dw, n, ctx);
}

size_t gradcheck_param_count(const struct layer *l)
{
	struct param_spec specs[LAYER_MAX_PARAMS];
	size_t total = 0;

	if (!l->ops->params)
		return 0;
	int np = l->ops->params(l, specs);
	for (int i = 0; i < np; i++)
		total += specs[i].n;
	return total;
}

static void gradcheck_fill(float *p, size_t n, float v)
{
	for (size_t i = 0; i < n; i++)
		p[i] = v;
}

/* L = sum(y * r) for the current x and w. */
static double gradcheck_loss(struct gradcheck_run *run)
{
	struct layer_ctx ctx = { .scratch = run->scratch, .train = true };
	double loss = 0.0;

	gradcheck_fill(run->scratch, run->nscratch, GRADCHECK_GARBAGE);
	gradcheck_forward(run->l, run->w, (const float *const *)run->xs, run->y, run->n, &ctx);
	for (size_t i = 0; i < run->nout; i++)
		loss += (double)run->y[i] * (double)run->r[i];
	return loss;
}

/* Nudges *p both ways and compares the slope of L with `analytic`. Returns 1
 * on a mismatch, 0 otherwise. */
static int gradcheck_one(struct gradcheck_run *run, float *p, double analytic,
                         const struct gradcheck_opts *o, struct gradcheck_result *res,
                         const char *what, size_t idx)
{
	float orig = *p;
	double lp, lm, l0 = 0.0;

	*p = (float)(orig + o->eps);
	double step_p = (double)*p - orig;   /* the step float actually took */
	lp = gradcheck_loss(run);
	*p = (float)(orig - o->eps);
	double step_m = orig - (double)*p;
	lm = gradcheck_loss(run);
	if (o->skip_kinks) {
		*p = orig;
		l0 = gradcheck_loss(run);
	}
	*p = orig;

	double numeric = (lp - lm) / (step_p + step_m);
	if (o->skip_kinks) {
		double dp = (lp - l0) / step_p, dm = (l0 - lm) / step_m;
		double s = fmax(1.0, fmax(fabs(dp), fabs(dm)));
		if (fabs(dp - dm) > o->tol * s) {
			res->skipped++;
			return 0;
		}
	}

	double scale = fmax(1.0, fmax(fabs(numeric), fabs(analytic)));
	double e = fabs(numeric - analytic) / scale;
	res->checked++;
	if (e > res->max_err)
		res->max_err = e;
	if (e <= o->tol)
		return 0;
	if (res->failed < GRADCHECK_MAX_REPORTS)
		fprintf(stderr, "gradcheck %s: %s[%zu]: numeric %.6g, analytic %.6g (scaled error %.3g > %.3g)\n",
		        run->l->ops->type, what, idx, numeric, analytic, e, o->tol);
	return 1;
}

static void gradcheck_report(struct gradcheck_result *res, const struct layer *l, const char *msg)
{
	if (res->failed < GRADCHECK_MAX_REPORTS)
		fprintf(stderr, "gradcheck %s: %s\n", l->ops->type, msg);
	res->failed++;
}

int gradcheck_layer_multi(const struct layer *l, int n, const struct shape *in,
                          const float *const *x, const float *w,
                          const struct gradcheck_opts *opts, struct gradcheck_result *out)
{
	struct gradcheck_opts o = opts ? *opts : (struct gradcheck_opts){ 0 };
	struct gradcheck_result res = { 0 };
	uint64_t rng = o.seed ? o.seed : 1;
	int n_in = layer_n_inputs(l);
	size_t nin[LAYER_MAX_INPUTS];
	size_t nout = (size_t)n * shape_size(l->out);
	size_t np = gradcheck_param_count(l);
	size_t nscratch = l->ops->scratch_floats ? l->ops->scratch_floats(l, n) : 0;
	float *xs[LAYER_MAX_INPUTS] = { 0 }, *dx[LAYER_MAX_INPUTS] = { 0 }, *none[LAYER_MAX_INPUTS] = { 0 };
	bool ok = true;

	if (o.eps <= 0)
		o.eps = 1e-3;
	if (o.tol <= 0)
		o.tol = 1e-2;

	/* +1: malloc(0) may return NULL, and a layer may take a pointer anyway. */
	for (int k = 0; k < n_in; k++) {
		nin[k] = (size_t)n * shape_size(in[k]);
		xs[k] = malloc((nin[k] + 1) * sizeof(float));
		dx[k] = malloc((nin[k] + 1) * sizeof(float));
		ok = ok && xs[k] && dx[k];
	}
	float *ws = malloc((np + 1) * sizeof(float));
	float *y = malloc((nout + 1) * sizeof(float));
	float *r = malloc((nout + 1) * sizeof(float));
	float *dw = malloc((np + 1) * sizeof(float));
	float *dw2 = malloc((np + 1) * sizeof(float));
	float *scratch = malloc((nscratch + 1) * sizeof(float));
	if (!ok || !ws || !y || !r || !dw || !dw2 || !scratch) {
		fprintf(stderr, "gradcheck: out of memory\n");
		res.failed = 1;
		goto out_free;
	}

	for (int k = 0; k < n_in; k++)
		for (size_t i = 0; i < nin[k]; i++)
			xs[k][i] = x && x[k] ? x[k][i] : test_uniform(&rng, -1.0f, 1.0f);
	for (size_t i = 0; i < np; i++)
		ws[i] = w ? w[i] : test_uniform(&rng, -1.0f, 1.0f);
	for (size_t i = 0; i < nout; i++)
		r[i] = test_uniform(&rng, -1.0f, 1.0f);

	struct gradcheck_run run = {
		.l = l, .n = n, .w = ws, .y = y, .r = r,
		.scratch = scratch, .nscratch = nscratch, .nout = nout,
	};
	memcpy(run.xs, xs, sizeof xs);
	struct layer_ctx ctx = { .scratch = scratch, .train = true };

	/* Analytic gradients at (x, w). */
	gradcheck_loss(&run);
	for (int k = 0; k < n_in; k++)
		gradcheck_fill(dx[k], nin[k], GRADCHECK_GARBAGE);
	gradcheck_fill(dw, np, GRADCHECK_DW_FILL);
	gradcheck_fill(scratch, nscratch, GRADCHECK_GARBAGE);
	gradcheck_backward(l, ws, (const float *const *)xs, y, r, dx, dw, n, &ctx);
	for (size_t i = 0; i < np; i++)
		dw[i] -= GRADCHECK_DW_FILL;

	/* Inputs that are the network's input: no dx, the same dw. */
	gradcheck_fill(dw2, np, 0.0f);
	gradcheck_fill(scratch, nscratch, GRADCHECK_GARBAGE);
	gradcheck_backward(l, ws, (const float *const *)xs, y, r, none, dw2, n, &ctx);
	for (size_t i = 0; i < np; i++) {
		double scale = fmax(1.0, fabs((double)dw[i]));
		if (fabs((double)dw2[i] - dw[i]) > 1e-5 * scale) {
			gradcheck_report(&res, l, "backward with dx == NULL gives a different dw");
			break;
		}
	}

	for (size_t i = 0; i < np; i++)
		res.failed += gradcheck_one(&run, &ws[i], dw[i], &o, &res, "w", i);
	for (int k = 0; k < n_in; k++) {
		char what[16];
		snprintf(what, sizeof what, n_in > 1 ? "x%d" : "x", k);
		for (size_t i = 0; i < nin[k]; i++)
			res.failed += gradcheck_one(&run, &xs[k][i], dx[k][i], &o, &res, what, i);
	}

out_free:
	for (int k = 0; k < n_in; k++) {
		free(xs[k]);
		free(dx[k]);
	}
	free(ws);
	free(y);
	free(r);
	free(dw);
	free(dw2);
	free(scratch);
	if (out)
		*out = res;
	return res.failed;
}

int gradcheck_layer(const struct layer *l, int n, const float *x, const float *w,
                    const struct gradcheck_opts *opts, struct gradcheck_result *res)
{
	const float *xs[1] = { x };
	return gradcheck_layer_multi(l, n, &l->in, x ? xs : NULL, w, opts, res);
}

/* Parses `yaml`, calls `create` on it, then checks its keys; see gradcheck.h. */
static int make_layer(layer_create_fn create, layer_create_multi_fn create_multi, const char *type,
                      const char *yaml, const struct layer_input_ref *in, int n_in,
                      struct layer **out, struct cnn_error *err)
{
	static const char file[] = "test.yaml";
	struct cfg_doc doc;
	struct layer *l = NULL;
	int rc;

	*out = NULL;
	rc = cfg_load_string(yaml, strlen(yaml), file, &doc, err);
	if (rc == 0) {
		rc = create ? create(doc.root, in[0].shape, &l, err) : create_multi(doc.root, in, n_in, &l, err);
		if (rc == 0 && cfg_check_keys(doc.root, type, err)) {
			l->ops->destroy(l);
			l = NULL;
			rc = -1;
		}
		cfg_free(&doc);
	}
	if (rc) {
		/* The location named doc's own copy of the file name. */
		if (err && err->loc.file)
			err->loc.file = file;
		return -1;
	}
	*out = l;
	return 0;
}

int gradcheck_make_layer(layer_create_fn create, const char *type, const char *yaml,
                         struct shape in, struct layer **out, struct cnn_error *err)
{
	struct layer_input_ref ref = { .shape = in };
	return make_layer(create, NULL, type, yaml, &ref, 1, out, err);
}

struct layer *gradcheck_layer_or_fail(layer_create_fn create, const char *type, const char *yaml,
                                      struct shape in)
{
	struct cnn_error err;
	struct layer *l;
	char buf[600];

	if (gradcheck_make_layer(create, type, yaml, in, &l, &err))
		fail_msg("%s: %s", yaml, cnn_error_str(&err, buf, sizeof(buf)));
	return l;
}

int gradcheck_make_layer_multi(layer_create_multi_fn create, const char *type, const char *yaml,
                               const struct layer_input_ref *in, int n_in, struct layer **out,
                               struct cnn_error *err)
{
	return make_layer(NULL, create, type, yaml, in, n_in, out, err);
}
