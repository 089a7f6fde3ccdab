/* ReLU fusion (net.h, net_plan_fusion): which relus fuse and which must
 * not; each layer that takes a relu's work (maxpool, add, dense) gives
 * exactly the pair of layers it replaces, forward and backward, ties, NaN
 * and -0 included, and passes a gradient check so; and networks trained
 * and evaluated with fusion (the default) and without (CNN_FUSE=0) give
 * the same bits: a sequential and a graph network, on 1 and 2 threads. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "layers/layers.h"
#include "net/net.h"
#include "build_helpers.h"
#include "gradcheck.h"
#include "testutil.h"

/* ------------------------------------------------------------------ */
/* Layers with relu_out against relu and the layer, run one after the other */

static struct layer *make_add(struct shape s)
{
	struct layer_input_ref refs[2] = { { .shape = s, .name = "a" }, { .shape = s, .name = "b" } };
	struct layer *l;
	struct cnn_error err;
	char msg[300];
	if (gradcheck_make_layer_multi(add_create, "add", "{}", refs, 2, &l, &err))
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	return l;
}

/* n values with what makes the relu and the max hard: ties (a small set of
 * values), zeros of both signs, negatives, and a NaN now and then. */
static float *awkward(size_t n, uint64_t seed, bool nan)
{
	static const float pool[] = { -2.0f, -0.5f, -0.0f, 0.0f, 0.25f, 0.25f, 1.0f, 3.0f };
	float *v = malloc(n * sizeof *v);
	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		float u = test_uniform(&seed, 0, 1);
		v[i] = u < 0.5f ? pool[(int)(u * 16) % 8] : test_uniform(&seed, -1, 1);
		if (nan && u > 0.97f)
			v[i] = NAN;
	}
	return v;
}

static void same_bits(const float *a, const float *b, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(&a[i], &b[i], sizeof a[i]))
			fail_msg("%s: element %zu is %a, expected %a", what, i, (double)a[i],
			         (double)b[i]);
}

/* maxpool with relu_out against relu then maxpool: y and dx. */
static void maxpool_pair(const char *yaml, struct shape in, int n, uint64_t seed)
{
	struct layer *mp = gradcheck_layer_or_fail(maxpool_create, "maxpool", yaml, in);
	struct layer *relu = gradcheck_layer_or_fail(relu_create, "relu", "{}", in);
	size_t nx = (size_t)n * shape_size(in), ny = (size_t)n * shape_size(mp->out);
	float *x = awkward(nx, seed, true), *dy = awkward(ny, seed + 1, false);
	float *r = malloc(nx * sizeof *r), *y2 = malloc(ny * sizeof *y2), *y1 = malloc(ny * sizeof *y1);
	float *dr = malloc(nx * sizeof *dr), *dx2 = malloc(nx * sizeof *dx2), *dx1 = malloc(nx * sizeof *dx1);
	struct layer_ctx ctx = { .train = true };
	/* two layers */
	relu->ops->forward(relu, NULL, x, r, n, &ctx);
	mp->ops->forward(mp, NULL, r, y2, n, &ctx);
	mp->ops->backward(mp, NULL, r, y2, dy, dr, NULL, n, &ctx);
	relu->ops->backward(relu, NULL, x, r, dr, dx2, NULL, n, &ctx);
	/* fused */
	mp->relu_out = true;
	mp->ops->forward(mp, NULL, x, y1, n, &ctx);
	mp->ops->backward(mp, NULL, x, y1, dy, dx1, NULL, n, &ctx);
	same_bits(y1, y2, ny, yaml);
	same_bits(dx1, dx2, nx, yaml);
	free(x);
	free(dy);
	free(r);
	free(y1);
	free(y2);
	free(dr);
	free(dx1);
	free(dx2);
	mp->ops->destroy(mp);
	relu->ops->destroy(relu);
}

static void maxpool_fused_is_the_pair(void **state)
{
	(void)state;
	/* the reference network's planes (the SSE loops without a tail), odd
	 * sizes (the scalar tail, dropped rows), overlapping windows */
	maxpool_pair("{pool_size: 2}", (struct shape){ 4, 24, 24 }, 3, 1);
	maxpool_pair("{pool_size: 2}", (struct shape){ 4, 8, 8 }, 3, 2);
	maxpool_pair("{pool_size: 2}", (struct shape){ 3, 7, 11 }, 2, 3);
	maxpool_pair("{pool_size: 3, stride: 2}", (struct shape){ 2, 9, 7 }, 2, 4);
	maxpool_pair("{pool_size: 2, stride: 1}", (struct shape){ 2, 5, 6 }, 2, 5);
}

/* add and dense with relu_out against the layer then relu. */
static void producer_pair(struct layer *l, int n_in, const float *w, int n, uint64_t seed)
{
	struct layer *relu = gradcheck_layer_or_fail(relu_create, "relu", "{}", l->out);
	size_t nx = (size_t)n * shape_size(l->in), ny = (size_t)n * shape_size(l->out);
	size_t scratch = l->ops->scratch_floats ? l->ops->scratch_floats(l, n) : 0;
	float *xs[2], *dx1[2], *dx2[2];
	float *y = malloc(ny * sizeof *y), *r = malloc(ny * sizeof *r), *y1 = malloc(ny * sizeof *y1);
	float *dy = awkward(ny, seed + 7, false), *dr = malloc(ny * sizeof *dr);
	size_t nw = gradcheck_param_count(l);
	float *dw1 = calloc(nw + 1, sizeof *dw1), *dw2 = calloc(nw + 1, sizeof *dw2);
	float *s = malloc((scratch + 1) * sizeof *s);
	for (int k = 0; k < n_in; k++) {
		xs[k] = awkward(nx, seed + (uint64_t)k, true);
		dx1[k] = malloc(nx * sizeof *dx1[k]);
		dx2[k] = malloc(nx * sizeof *dx2[k]);
	}
	struct layer_ctx ctx = { .train = true, .scratch = s };
	const float *const *cx = (const float *const *)xs;
	gradcheck_forward(l, w, cx, y, n, &ctx);
	relu->ops->forward(relu, NULL, y, r, n, &ctx);
	relu->ops->backward(relu, NULL, y, r, dy, dr, NULL, n, &ctx);
	gradcheck_backward(l, w, cx, y, dr, dx2, dw2, n, &ctx);
	l->relu_out = true;
	gradcheck_forward(l, w, cx, y1, n, &ctx);
	gradcheck_backward(l, w, cx, y1, dy, dx1, dw1, n, &ctx);
	l->relu_out = false;
	same_bits(y1, r, ny, l->ops->type);
	for (int k = 0; k < n_in; k++)
		same_bits(dx1[k], dx2[k], nx, l->ops->type);
	same_bits(dw1, dw2, nw, l->ops->type);
	for (int k = 0; k < n_in; k++) {
		free(xs[k]);
		free(dx1[k]);
		free(dx2[k]);
	}
	free(y);
	free(r);
	free(y1);
	free(dy);
	free(dr);
	free(dw1);
	free(dw2);
	free(s);
	relu->ops->destroy(relu);
}

static void add_dense_fused_are_the_pair(void **state)
{
	(void)state;
	struct layer *add = make_add((struct shape){ 3, 5, 7 });
	producer_pair(add, 2, NULL, 3, 11);
	add->ops->destroy(add);
	struct layer *dense = gradcheck_layer_or_fail(dense_create, "dense", "{units: 9}",
	                                              (struct shape){ 2, 3, 5 });
	uint64_t seed = 5;
	float *w = test_random_floats(gradcheck_param_count(dense), &seed);
	producer_pair(dense, 1, w, 4, 12);
	free(w);
	dense->ops->destroy(dense);
}

/* Inputs spaced away from 0 and from each other, so the finite differences
 * cross neither relu's kink nor a tie of the max; three in five negative,
 * so that many windows hold no positive value (relu's zero gradient). */
static float *spaced(size_t n, uint64_t seed)
{
	float *v = malloc(n * sizeof *v);
	assert_non_null(v);
	for (size_t i = 0; i < n; i++)
		v[i] = (0.05f + 0.0173f * (float)i) * (i % 5 < 3 ? -1.0f : 1.0f);
	for (size_t i = n; i > 1; i--) {   /* shuffled */
		size_t j = (size_t)test_uniform(&seed, 0, (float)i) % i;
		float t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
	return v;
}

static void check_gradients(struct layer *l, const struct shape *in, int n_in, int n, uint64_t seed)
{
	struct gradcheck_opts o = { .seed = seed };
	struct gradcheck_result res;
	float *xs[2];
	for (int k = 0; k < n_in; k++)
		xs[k] = spaced((size_t)n * shape_size(in[k]), seed + (uint64_t)k);
	l->relu_out = true;
	if (gradcheck_layer_multi(l, n, in, (const float *const *)xs, NULL, &o, &res))
		fail_msg("%s with relu_out: %d of %d gradients wrong", l->ops->type, res.failed, res.checked);
	assert_int_equal(res.checked, n_in * n * (int)shape_size(in[0]) + (int)gradcheck_param_count(l));
	for (int k = 0; k < n_in; k++)
		free(xs[k]);
	l->ops->destroy(l);
}

static void fused_gradients(void **state)
{
	(void)state;
	struct shape a = { 3, 8, 8 }, b = { 2, 7, 5 }, c = { 2, 5, 6 }, s = { 2, 3, 4 }, two[2] = { s, s },
	             d = { 2, 2, 3 };
	check_gradients(gradcheck_layer_or_fail(maxpool_create, "maxpool", "{pool_size: 2}", a),
	                &a, 1, 2, 1);
	check_gradients(gradcheck_layer_or_fail(maxpool_create, "maxpool", "{pool_size: 3, stride: 2}", b),
	                &b, 1, 2, 2);
	check_gradients(gradcheck_layer_or_fail(maxpool_create, "maxpool", "{pool_size: 2, stride: 1}", c),
	                &c, 1, 2, 5);
	check_gradients(make_add(s), two, 2, 2, 3);
	check_gradients(gradcheck_layer_or_fail(dense_create, "dense", "{units: 5}", d), &d, 1, 3, 4);
}

/* ------------------------------------------------------------------ */
/* Networks with and without fusion                                    */

#define HEAD "name: f\ndata: {dataset: mnist}\ninput: [1, 28, 28]\noptimizer: {type: adam}\nlayers:\n"

/* conv relu maxpool twice (the second pool overlapping: maxpool's general
 * loop), dense relu dense. */
static const char sequential[] = HEAD
	"  - {type: conv, filters: 4, kernel_size: 5}\n"
	"  - {type: relu}\n"                                /* 1 -> maxpool 2 */
	"  - {type: maxpool, pool_size: 2}\n"
	"  - {type: conv, filters: 4, kernel_size: 3, padding: same}\n"
	"  - {type: relu}\n"                                /* 4 -> maxpool 5 */
	"  - {type: maxpool, pool_size: 3, stride: 2}\n"
	"  - {type: flatten}\n"
	"  - {type: dense, units: 12}\n"
	"  - {type: relu}\n"                                /* 8 -> dense 7 */
	"  - {type: dense, units: 10}\n";
static const int sequential_into[] = { -1, 2, -1, -1, 5, -1, -1, -1, 7, -1 };

/* A residual add and relu, and fan-out on both sides of relus:
 * a  must not fuse: its input and its output each have two readers;
 * b  fuses into the add (its only producer's reader), its output fans out;
 * e  must not fuse into its maxpool q: c0 is read by x between e and q, so
 *    q would move e's share in the sum of c0's gradient (c0 has four
 *    readers: with two, the sum's order would not matter);
 * g  fuses into its maxpool h although x is read by k too (after h);
 * the relu on the network's input fuses into its maxpool (no dx);
 * the last relu is the network's output: never fused. */
static const char graph[] = HEAD
	"  - {type: conv, filters: 4, kernel_size: 3, padding: same, name: c0}\n"   /* 0 */
	"  - {type: relu, name: a}\n"                                               /* 1 */
	"  - {type: conv, filters: 4, kernel_size: 3, padding: same}\n"             /* 2 */
	"  - {type: add, inputs: [-1, a], name: s}\n"                               /* 3 */
	"  - {type: relu, name: b}\n"                                               /* 4 */
	"  - {type: maxpool, pool_size: 2, name: p}\n"                              /* 5 */
	"  - {type: relu, inputs: [c0], name: e}\n"                                 /* 6 */
	"  - {type: conv, filters: 4, kernel_size: 3, padding: same, inputs: [c0], name: x}\n" /* 7 */
	"  - {type: maxpool, pool_size: 2, inputs: [e], name: q}\n"                 /* 8 */
	"  - {type: relu, inputs: [x], name: g}\n"                                  /* 9 */
	"  - {type: maxpool, pool_size: 2, name: h}\n"                              /* 10 */
	"  - {type: maxpool, pool_size: 2, inputs: [x], name: k}\n"                 /* 11 */
	"  - {type: maxpool, pool_size: 2, inputs: [b], name: bp}\n"                /* 12 */
	"  - {type: relu, inputs: [input], name: ri}\n"                             /* 13 */
	"  - {type: maxpool, pool_size: 2, name: pi}\n"                             /* 14 */
	"  - {type: maxpool, pool_size: 2, inputs: [c0], name: pc}\n"               /* 15 */
	"  - {type: concat, inputs: [p, q, h, k, bp, pi, pc]}\n"                    /* 16 */
	"  - {type: flatten}\n"                                                     /* 17 */
	"  - {type: dense, units: 10}\n"                                            /* 18 */
	"  - {type: relu}\n";                                                       /* 19 */
static const int graph_into[] = { -1, -1, -1, -1, 3, -1, -1, -1, -1, 10, -1, -1, -1, 14, -1,
                                  -1, -1, -1, -1, -1 };

enum { N = 13, STEPS = 4 };

/* What a network computed: every step's loss and correct count, the
 * parameters after the steps (plain SGD on the gradients), and the
 * evaluation's loss and probabilities in the arena and through the plan. */
struct outcome {
	double loss[STEPS];
	int correct[STEPS];
	float *params;
	size_t n_params;
	double eval_loss, plan_loss;
	float probs[N * 10], plan_probs[N * 10];
};

static void copy_fill(void *ctx, int thread, int start, int count, float *x, int *labels)
{
	const struct net *src = ctx;
	(void)thread;
	memcpy(x, src->x + (size_t)start * shape_size(src->input),
	       (size_t)count * shape_size(src->input) * sizeof *x);
	for (int i = 0; i < count; i++)
		labels[i] = (start + i) % 10;
}

static struct net *run(const char *yaml, bool fuse, int threads, struct outcome *o)
{
	if (!fuse)
		setenv("CNN_FUSE", "0", 1);
	struct net *net = bh_net(yaml, N, threads, 7);
	unsetenv("CNN_FUSE");
	int labels[N];
	for (int s = 0; s < STEPS; s++) {
		bh_fill_batch(net, N, labels, 100 + (uint64_t)s);
		net_train_step(net, labels, N, &o->loss[s], &o->correct[s]);
		for (size_t j = 0; j < net->n_params; j++)
			net->params[j] -= 0.05f * net->grads[j];
	}
	o->n_params = net->n_params;
	o->params = malloc(net->n_params * sizeof *o->params);
	memcpy(o->params, net->params, net->n_params * sizeof *o->params);
	bh_fill_batch(net, N, labels, 999);
	net_eval(net, labels, N, &o->eval_loss, NULL, o->probs);
	struct net_input in = { copy_fill, net };
	int plan_labels[N];
	net_eval_from(net, &in, plan_labels, N, &o->plan_loss, NULL, o->plan_probs);
	return net;
}

static void same_outcome(const char *yaml, const int *want_into, int threads)
{
	struct outcome fused, plain;
	struct net *a = run(yaml, true, threads, &fused), *b = run(yaml, false, threads, &plain);
	for (int i = 0; i < a->n_layers; i++) {
		assert_int_equal(a->fused_into[i], want_into[i]);
		assert_int_equal(b->fused_into[i], -1);
		assert_true(!b->layers[i]->relu_out);
		/* exactly the layers doing a relu's work have relu_out */
		bool does = false;
		for (int j = 0; j < a->n_layers; j++)
			does |= a->fused_into[j] == i;
		assert_true(a->layers[i]->relu_out == does);
	}
	assert_memory_equal(fused.loss, plain.loss, sizeof fused.loss);
	assert_memory_equal(fused.correct, plain.correct, sizeof fused.correct);
	assert_int_equal(fused.n_params, plain.n_params);
	same_bits(fused.params, plain.params, fused.n_params, "parameters after training");
	assert_memory_equal(&fused.eval_loss, &plain.eval_loss, sizeof fused.eval_loss);
	assert_memory_equal(&fused.plan_loss, &plain.plan_loss, sizeof fused.plan_loss);
	same_bits(fused.probs, plain.probs, sizeof fused.probs / sizeof fused.probs[0], "arena evaluation");
	same_bits(fused.plan_probs, plain.plan_probs, sizeof fused.plan_probs / sizeof fused.plan_probs[0],
	          "planned evaluation");
	/* and the plan against the arena (net_eval runs unfused in the arena) */
	same_bits(fused.plan_probs, fused.probs, sizeof fused.probs / sizeof fused.probs[0], "plan vs arena");
	/* the training was not trivial: the parameters moved */
	assert_true(fused.loss[0] != fused.loss[STEPS - 1]);
	free(fused.params);
	free(plain.params);
	net_free(a);
	net_free(b);
}

static void sequential_same_bits(void **state)
{
	(void)state;
	same_outcome(sequential, sequential_into, 1);
	same_outcome(sequential, sequential_into, 2);
}

static void graph_same_bits(void **state)
{
	(void)state;
	same_outcome(graph, graph_into, 1);
	same_outcome(graph, graph_into, 2);
}

/* The switch: CNN_FUSE=0 (or off, no, false) turns fusion off, anything
 * else leaves it on; and fusion off plans every relu as its own layer. */
static void switch_and_plan(void **state)
{
	(void)state;
	static const char *const off[] = { "0", "off", "No", "FALSE" }, *const on[] = { "1", "yes", "" };
	for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
		setenv("CNN_FUSE", off[i], 1);
		assert_false(net_fusion_enabled());
	}
	for (size_t i = 0; i < sizeof on / sizeof on[0]; i++) {
		setenv("CNN_FUSE", on[i], 1);
		assert_true(net_fusion_enabled());
	}
	unsetenv("CNN_FUSE");
	assert_true(net_fusion_enabled());
	struct net *net = bh_net(sequential, 2, 1, 1);
	int into[16];
	struct cnn_error err;
	assert_int_equal(net_plan_fusion(net->layers, net->n_layers, false, into, &err), 0);
	for (int i = 0; i < net->n_layers; i++)
		assert_int_equal(into[i], -1);
	/* a fused relu runs nothing in evaluation: it shares its input's slot */
	assert_int_equal(net->act_plan.slot[1], net->act_plan.slot[0]);
	net_free(net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(maxpool_fused_is_the_pair),
		cmocka_unit_test(add_dense_fused_are_the_pair),
		cmocka_unit_test(fused_gradients),
		cmocka_unit_test(sequential_same_bits),
		cmocka_unit_test(graph_same_bits),
		cmocka_unit_test(switch_and_plan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
