/* Networks as graphs: the add and concat layers' gradients (2 and 3
 * inputs), whole networks through a residual block, a concat and a fan-out
 * checked against finite differences, the builder's refusals with their
 * exact messages, the gradient plan, the memory estimate against what
 * net_create allocates, and determinism across runs and thread counts. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "builder/builder.h"
#include "layers/layers.h"
#include "net/memory.h"
#include "net/net.h"
#include "build_helpers.h"
#include "gradcheck.h"
#include "plot/network.h"
#include "testutil.h"
#include "xml_check.h"

/* ------------------------------------------------------------------ */
/* The layers                                                           */

static struct layer *make_multi(layer_create_multi_fn create, const char *type,
                                const struct shape *in, int n_in)
{
	struct layer_input_ref refs[LAYER_MAX_INPUTS] = { 0 };
	struct layer *l;
	struct cnn_error err;
	char msg[300];
	for (int k = 0; k < n_in; k++)
		refs[k] = (struct layer_input_ref){ .shape = in[k], .name = "x" };
	if (gradcheck_make_layer_multi(create, type, "{}", refs, n_in, &l, &err))
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	return l;
}

static void check_multi(layer_create_multi_fn create, const char *type, const struct shape *in,
                        int n_in, struct shape want)
{
	struct layer *l = make_multi(create, type, in, n_in);
	struct gradcheck_result res;
	assert_int_equal(l->n_inputs, n_in);
	assert_true(l->out.c == want.c && l->out.h == want.h && l->out.w == want.w);
	assert_int_equal(gradcheck_layer_multi(l, 3, in, NULL, NULL, NULL, &res), 0);
	size_t expect = 0;
	for (int k = 0; k < n_in; k++)
		expect += 3 * shape_size(in[k]);
	assert_int_equal(res.checked, (int)expect);   /* every element of every input */
	l->ops->destroy(l);
}

static void add_gradients(void **state)
{
	(void)state;
	const struct shape s = { 3, 4, 5 }, in[3] = { s, s, s };
	check_multi(add_create, "add", in, 2, s);
	check_multi(add_create, "add", in, 3, s);
}

static void concat_gradients(void **state)
{
	(void)state;
	const struct shape in[3] = { { 2, 4, 5 }, { 3, 4, 5 }, { 1, 4, 5 } };
	check_multi(concat_create, "concat", in, 2, (struct shape){ 5, 4, 5 });
	check_multi(concat_create, "concat", in, 3, (struct shape){ 6, 4, 5 });
}

/* concat's layout is torch.cat(dim=1): per sample, input 0's planes first. */
static void concat_layout(void **state)
{
	(void)state;
	const struct shape in[2] = { { 1, 1, 2 }, { 2, 1, 2 } };
	struct layer *l = make_multi(concat_create, "concat", in, 2);
	const float a[4] = { 1, 2, 3, 4 }, b[8] = { 5, 6, 7, 8, 9, 10, 11, 12 };
	const float *xs[2] = { a, b };
	float y[12];
	struct layer_ctx ctx = { .train = true };
	l->ops->forward_multi(l, NULL, xs, y, 2, &ctx);
	const float want[12] = { 1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12 };
	assert_memory_equal(y, want, sizeof want);
	l->ops->destroy(l);
}

/* ------------------------------------------------------------------ */
/* Whole networks                                                       */

#define HEAD "name: g\ndata: {dataset: mnist}\ninput: [1, 28, 28]\noptimizer: {type: adam}\nlayers:\n"

/* A residual block with an identity shortcut, then a strided one with a
 * 1x1 projection shortcut; tanh keeps the loss smooth for differences. */
static const char residual[] = HEAD
	"  - {type: conv, filters: 3, kernel_size: 3, stride: 2, padding: same}\n"
	"  - {type: tanh, name: a}\n"
	"  - {type: conv, filters: 3, kernel_size: 3, padding: same}\n"
	"  - {type: tanh}\n"
	"  - {type: conv, filters: 3, kernel_size: 3, padding: same}\n"
	"  - {type: add, inputs: [a, -1], name: r1}\n"
	"  - {type: conv, filters: 4, kernel_size: 3, stride: 2, padding: same, name: main}\n"
	"  - {type: conv, filters: 4, kernel_size: 1, stride: 2, inputs: [r1]}\n"
	"  - {type: add, inputs: [main, -1]}\n"
	"  - {type: tanh}\n"
	"  - {type: flatten}\n"
	"  - {type: dense, units: 10}\n";

/* Branches concatenated, one of them the network's input itself. */
static const char concat_net[] = HEAD
	"  - {type: conv, filters: 2, kernel_size: 3, stride: 2, padding: same}\n"
	"  - {type: tanh, name: t}\n"
	"  - {type: conv, filters: 2, kernel_size: 1, name: b1}\n"
	"  - {type: conv, filters: 3, kernel_size: 3, padding: same, inputs: [t]}\n"
	"  - {type: tanh, name: b3}\n"
	"  - {type: avgpool, pool_size: 2, stride: 2, inputs: [input], name: p}\n"
	"  - {type: concat, inputs: [b1, b3, p, t]}\n"
	"  - {type: flatten}\n"
	"  - {type: dense, units: 10}\n";

/* One output (t) read by three layers, one of which reads it twice. */
static const char fanout[] = HEAD
	"  - {type: conv, filters: 2, kernel_size: 3, stride: 2, padding: same}\n"
	"  - {type: tanh, name: t}\n"
	"  - {type: conv, filters: 2, kernel_size: 3, padding: same, inputs: [t], name: c1}\n"
	"  - {type: sigmoid, inputs: [t], name: c2}\n"
	"  - {type: add, inputs: [t, c1, c2, t]}\n"
	"  - {type: flatten}\n"
	"  - {type: dense, units: 10}\n";

static const char sequential[] = HEAD
	"  - {type: conv, filters: 2, kernel_size: 3, stride: 2, padding: same}\n"
	"  - {type: tanh}\n"
	"  - {type: flatten}\n"
	"  - {type: dense, units: 10}\n";

static double mean_loss(struct net *net, const int *labels, int n)
{
	double loss;
	net_eval(net, labels, n, &loss, NULL, NULL);
	return loss / n;
}

/* For each layer with parameters, a random direction v in its parameters:
 * (L(w + eps v) - L(w - eps v)) / 2 eps must match grads . v. A gradient
 * that missed one path of a fan-out (the shortcut) is off by that path's
 * whole share, far outside the tolerance. */
static void check_net_gradient(const char *yaml)
{
	enum { n = 6 };
	struct net *net = bh_net(yaml, n, 2, 11);
	int labels[n];
	double loss;
	int correct;
	bh_fill_batch(net, n, labels, 3);
	net_train_step(net, labels, n, &loss, &correct);
	float *g = malloc(net->n_params * sizeof *g);
	assert_non_null(g);
	memcpy(g, net->grads, net->n_params * sizeof *g);
	uint64_t rng = 17;
	int checked = 0;
	for (int i = 0; i < net->n_layers; i++) {
		const struct layer *l = net->layers[i];
		if (!l->param_count)
			continue;
		float *w = net->params + l->param_offset;
		double *v = malloc(l->param_count * sizeof *v), norm = 0, analytic = 0;
		assert_non_null(v);
		for (size_t j = 0; j < l->param_count; j++) {
			v[j] = test_uniform(&rng, -1, 1);
			norm += v[j] * v[j];
		}
		for (size_t j = 0; j < l->param_count; j++) {
			v[j] /= sqrt(norm);
			analytic += v[j] * g[l->param_offset + j];
		}
		const double eps = 1e-2;
		float *saved = malloc(l->param_count * sizeof *saved);
		assert_non_null(saved);
		memcpy(saved, w, l->param_count * sizeof *w);
		for (size_t j = 0; j < l->param_count; j++)
			w[j] = (float)(saved[j] + eps * v[j]);
		double lp = mean_loss(net, labels, n);
		for (size_t j = 0; j < l->param_count; j++)
			w[j] = (float)(saved[j] - eps * v[j]);
		double lm = mean_loss(net, labels, n);
		memcpy(w, saved, l->param_count * sizeof *w);
		double numeric = (lp - lm) / (2 * eps);
		if (fabs(numeric - analytic) > 2e-2 * fabs(numeric) + 2e-4)
			fail_msg("%s: d loss along a random direction: numeric %.6g, analytic %.6g",
			         l->name, numeric, analytic);
		checked++;
		free(v);
		free(saved);
	}
	assert_true(checked >= 3);
	free(g);
	net_free(net);
}

static void residual_gradient(void **state)
{
	(void)state;
	check_net_gradient(residual);
}

static void concat_gradient(void **state)
{
	(void)state;
	check_net_gradient(concat_net);
}

static void fanout_gradient(void **state)
{
	(void)state;
	check_net_gradient(fanout);
}

/* ------------------------------------------------------------------ */
/* The gradient plan and the memory estimate                            */

static void grad_plan(void **state)
{
	(void)state;
	/* a chain alternates two slots: the ping-pong of before */
	struct net *net = bh_net(sequential, 4, 1, 1);
	assert_int_equal(net->grad_plan.n_slots, 2);
	assert_int_equal(net->grad_plan.grad_slot[3], NET_SLOT_LOGITS);
	assert_int_equal(net->grad_plan.dx_slot[0][0], NET_SLOT_NONE);   /* reads the input */
	net_free(net);

	/* t (layer 1) is read by c1, c2 and twice by the add: the add's first
	 * read of t writes t's own slot, every later read a temporary */
	net = bh_net(fanout, 4, 1, 1);
	const struct net_grad_plan *p = &net->grad_plan;
	assert_true(p->grad_slot[1] >= 0);
	assert_int_equal(p->dx_slot[4][0], p->grad_slot[1]);
	assert_false(p->dx_add[4][0]);
	assert_true(p->dx_add[4][3] && p->dx_add[3][0] && p->dx_add[2][0]);
	assert_int_not_equal(p->dx_slot[4][3], p->grad_slot[1]);
	net_free(net);
}

static void memory_estimate_is_exact(void **state)
{
	(void)state;
	const char *configs[] = { sequential, residual, concat_net, fanout };
	for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
		for (int threads = 1; threads <= 3; threads++) {
			struct cfg_doc doc;
			struct model_config cfg;
			struct cnn_error err;
			char msg[600];
			struct net *net;
			if (bh_build(configs[c], &doc, &cfg, msg, sizeof msg))
				fail_msg("%s", msg);
			struct mem_estimate m;
			mem_estimate(cfg.layers, cfg.n_layers, cfg.input, 7, threads, 2, 0, &m);
			if (net_create(cfg.layers, cfg.n_layers, cfg.input, 7, threads, 1, &net, &err))
				fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
			cfg.layers = NULL;
			cfg.n_layers = 0;
			const double f = sizeof(float);
			assert_true(m.params == net->n_params * f);
			assert_true(m.grads == net->n_params * f * net->threads);
			assert_true(m.activations == net->arena_floats * f);
			assert_true(m.backward == (net->gbuf_floats + (size_t)net->batch * net->n_classes) * f);
			assert_true(m.scratch == net->scratch_floats * f * net->threads);
			assert_true(m.evaluation > 0);
			assert_true(m.evaluation == net->eval_ws_floats * f * net->threads +
			            NET_EVAL_STEP * sizeof(double));
			net_free(net);
			model_config_free(&cfg);
			cfg_free(&doc);
			/* an evaluation network: the inference plan's workspaces only */
			if (bh_build(configs[c], &doc, &cfg, msg, sizeof msg))
				fail_msg("%s", msg);
			mem_estimate_eval(cfg.layers, cfg.n_layers, cfg.input, threads, &m);
			if (net_create_eval(cfg.layers, cfg.n_layers, cfg.input, threads, &net, &err))
				fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
			cfg.layers = NULL;
			cfg.n_layers = 0;
			assert_null(net->arena);
			assert_null(net->grads);
			assert_true(m.params == net->n_params * f);
			assert_true(m.evaluation == net->eval_ws_floats * f * threads + NET_EVAL_STEP * sizeof(double));
			size_t slots;   /* the slots for eval_batch samples, 64-byte rounded */
			net_eval_ws_floats(net->layers, net->n_layers, &net->act_plan, net->eval_batch, &slots);
			assert_true(slots >= net->act_plan.per_sample * (size_t)net->eval_batch);
			assert_true(m.activations == (double)slots * f * threads);
			assert_true(m.total == m.params + m.evaluation);
			net_free(net);
			model_config_free(&cfg);
			cfg_free(&doc);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Determinism                                                          */

static const char residual_bn[] = HEAD
	"  - {type: conv, filters: 4, kernel_size: 3, stride: 2, padding: same}\n"
	"  - {type: batchnorm}\n"
	"  - {type: relu, name: a}\n"
	"  - {type: conv, filters: 4, kernel_size: 3, padding: same}\n"
	"  - {type: batchnorm}\n"
	"  - {type: relu}\n"
	"  - {type: conv, filters: 4, kernel_size: 3, padding: same}\n"
	"  - {type: batchnorm}\n"
	"  - {type: add, inputs: [a, -1]}\n"
	"  - {type: relu}\n"
	"  - {type: global_avgpool}\n"
	"  - {type: flatten}\n"
	"  - {type: dense, units: 10}\n";

/* bh_train_adam's batches: bh_fill_batch's, seeded by the step. */
static void fill_step(struct net *net, int n, int *labels, int step, void *ctx)
{
	(void)ctx;
	bh_fill_batch(net, n, labels, 100 + (uint64_t)step);
}

/* Trains `steps` steps; returns the parameters (malloc'd). */
static float *train(const char *yaml, int threads, int steps, size_t *n_params)
{
	enum { n = 12 };
	struct net *net = bh_net(yaml, n, threads, 4);
	bh_train_adam(net, n, steps, fill_step, NULL, NULL, NULL);
	float *w = bh_params_copy(net, n_params);
	net_free(net);
	return w;
}

static void same_bits_for_a_thread_count(void **state)
{
	(void)state;
	for (int threads = 1; threads <= 2; threads++) {
		size_t n1, n2;
		float *a = train(residual_bn, threads, 6, &n1), *b = train(residual_bn, threads, 6, &n2);
		assert_int_equal(n1, n2);
		assert_memory_equal(a, b, n1 * sizeof *a);
		free(a);
		free(b);
	}
}

/* Within one close: the documented equivalence (docs/design.md) between
 * thread counts is agreement to rounding, not bits. A chunk's size changes
 * how the BLAS kernels block their sums, and the threads' gradient arrays
 * are summed in thread order, so the two differ in the last bits; with no
 * batch statistics in the net (batchnorm's are per chunk) nothing else may. */
static void close_to(const float *a, const float *b, size_t n, double tol, const char *what)
{
	for (size_t j = 0; j < n; j++)
		if (fabs((double)a[j] - b[j]) > tol * fmax(1e-3, fabs((double)a[j])))
			fail_msg("%s[%zu]: 1 thread %.9g, 2 threads %.9g", what, j, (double)a[j], (double)b[j]);
}

static void one_and_two_threads_agree(void **state)
{
	(void)state;
	enum { n = 12 };
	struct net *one = bh_net(residual, n, 1, 4), *two = bh_net(residual, n, 2, 4);
	int labels[n];
	float p1[n * 10], p2[n * 10];
	double l1, l2;
	int c1, c2;
	assert_memory_equal(one->params, two->params, one->n_params * sizeof(float));
	bh_fill_batch(one, n, labels, 9);
	bh_fill_batch(two, n, labels, 9);
	net_eval(one, labels, n, &l1, NULL, p1);
	net_eval(two, labels, n, &l2, NULL, p2);
	close_to(p1, p2, n * 10, 1e-5, "probabilities");
	net_train_step(one, labels, n, &l1, &c1);
	net_train_step(two, labels, n, &l2, &c2);
	assert_int_equal(c1, c2);
	assert_true(fabs(l1 - l2) <= 1e-5 * fabs(l1));
	close_to(one->grads, two->grads, one->n_params, 1e-4, "grads");
	net_free(one);
	net_free(two);
}

/* ------------------------------------------------------------------ */
/* The builder's refusals                                               */

#define LAYERS_TAIL "  - {type: flatten}\n  - {type: dense, units: 10}\n"
#define STEM "  - {type: conv, filters: 4, kernel_size: 3, padding: same, name: stem}\n"

static const struct {
	const char *yaml, *msg;
} refusals[] = {
	{ HEAD STEM "  - {type: relu}\n  - {type: add, inputs: [stme, -1]}\n" LAYERS_TAIL,
	  "t.yaml:8:26: add: unknown input 'stme' (did you mean 'stem'?); inputs are earlier layers' names, "
	  "'input' or -1" },
	{ HEAD STEM "  - {type: relu, inputs: [inptu]}\n" LAYERS_TAIL,
	  "t.yaml:7:27: relu: unknown input 'inptu' (did you mean 'input'?); inputs are earlier layers' names, "
	  "'input' or -1" },
	{ HEAD STEM "  - {type: add, inputs: [later, -1]}\n  - {type: relu, name: later}\n" LAYERS_TAIL,
	  "t.yaml:7:26: add: input 'later' is layer 3, after this one (layer 2); a layer reads only layers "
	  "above it" },
	{ HEAD STEM "  - {type: relu, inputs: [me], name: me}\n" LAYERS_TAIL,
	  "t.yaml:7:27: relu: input 'me' is this layer itself; a layer reads only layers above it" },
	{ HEAD STEM "  - {type: relu, name: stem}\n" LAYERS_TAIL,
	  "t.yaml:7:24: relu: name 'stem' is already used by layer 1" },
	{ HEAD STEM "  - {type: conv, filters: 8, kernel_size: 3, padding: same}\n  - {type: add, inputs: [stem, -1]}\n"
	  LAYERS_TAIL,
	  "t.yaml:8:32: add: input 'conv2' is 8x28x28 but input 'stem' is 4x28x28; add needs inputs of one "
	  "shape (a 1x1 conv on the shortcut can match them)" },
	{ HEAD STEM "  - {type: conv, filters: 8, kernel_size: 3}\n  - {type: concat, inputs: [stem, -1]}\n" LAYERS_TAIL,
	  "t.yaml:8:35: concat: input 'conv2' is 8x26x26 but input 'stem' is 4x28x28; concat joins channels "
	  "and needs the same height and width" },
	{ HEAD STEM "  - {type: relu}\n  - {type: relu, inputs: [stem, -1]}\n" LAYERS_TAIL,
	  "t.yaml:8:33: relu: takes one input, but 'inputs' lists 2; only add and concat read several" },
	{ HEAD STEM "  - {type: relu, name: branch}\n  - {type: relu, inputs: [stem]}\n" LAYERS_TAIL,
	  "t.yaml:7:5: relu: the output of 'branch' is never read; only the last layer's may be left unread "
	  "(is an add or concat missing it?)" },
	{ HEAD STEM "  - {type: relu, inputs: [2]}\n" LAYERS_TAIL,
	  "t.yaml:7:27: relu: 'inputs' takes layer names, 'input' or -1 (the layer above), not the number 2; "
	  "give the layer a name: and use it" },
	{ HEAD STEM "  - {type: add}\n" LAYERS_TAIL,
	  "t.yaml:7:5: add: needs 'inputs', the layers it reads, e.g. inputs: [a, -1]" },
	{ HEAD STEM "  - {type: add, inputs: [stem]}\n" LAYERS_TAIL,
	  "t.yaml:7:25: add: needs at least 2 inputs, got 1" },
	{ HEAD STEM "  - {type: relu, inputs: stem}\n" LAYERS_TAIL,
	  "t.yaml:7:26: relu: 'inputs' must be a list such as [a, -1] (layer names, 'input' or -1)" },
	{ HEAD "  - {type: conv, filters: 4, kernel_size: 3, name: input}\n" LAYERS_TAIL,
	  "t.yaml:6:52: conv: the name 'input' is the network's input in 'inputs'; choose another" },
};

static void builder_refusals(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
		char buf[600];
		const char *got = bh_error(refusals[i].yaml, buf, sizeof buf);
		if (!got)
			fail_msg("case %zu accepted:\n%s", i, refusals[i].yaml);
		if (strcmp(got, refusals[i].msg))
			fail_msg("case %zu:\n  expected: %s\n  got:      %s", i, refusals[i].msg, got);
	}
}

/* The syntax of the issue: names, -1 and `input`, in list order. */
static void builder_reads_inputs(void **state)
{
	(void)state;
	struct cfg_doc doc;
	struct model_config cfg;
	char msg[600];
	if (bh_build(concat_net, &doc, &cfg, msg, sizeof msg))
		fail_msg("%s", msg);
	const struct layer *cc = cfg.layers[6];
	assert_string_equal(cc->ops->type, "concat");
	assert_int_equal(cc->n_inputs, 4);
	assert_int_equal(cc->inputs[0], 2);
	assert_int_equal(cc->inputs[1], 4);
	assert_int_equal(cc->inputs[2], 5);
	assert_int_equal(cc->inputs[3], 1);
	assert_int_equal(cfg.layers[5]->inputs[0], LAYER_INPUT_NET);
	assert_int_equal(cfg.layers[0]->inputs[0], LAYER_INPUT_NET);
	assert_int_equal(cfg.layers[2]->inputs[0], 1);   /* no inputs: the layer above */
	assert_int_equal(cc->out.c, 2 + 3 + 1 + 2);
	model_config_free(&cfg);
	cfg_free(&doc);
}

/* network.svg: well-formed, one box per layer plus the input's, and each
 * layer's name on its box. */
static void network_picture(void **state)
{
	(void)state;
	const char *configs[] = { sequential, residual, concat_net, fanout };
	for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
		struct net *net = bh_net(configs[c], 2, 1, 1);
		char *text = NULL, msg[300];
		size_t len = 0;
		struct cnn_error err;
		FILE *f = open_memstream(&text, &len);
		assert_non_null(f);
		assert_int_equal(network_svg_write(f, net, &err), 0);
		assert_int_equal(fclose(f), 0);
		if (xml_check(text, msg, sizeof msg))
			fail_msg("%s", msg);
		/* the white background, then the boxes */
		assert_int_equal(xml_count_elements(text, "rect"), 1 + 1 + net->n_layers);
		for (int i = 0; i < net->n_layers; i++) {
			char name[48];
			snprintf(name, sizeof name, ">%s<", net->layers[i]->name);
			assert_non_null(strstr(text, name));
		}
		free(text);
		net_free(net);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(add_gradients),
		cmocka_unit_test(concat_gradients),
		cmocka_unit_test(concat_layout),
		cmocka_unit_test(residual_gradient),
		cmocka_unit_test(concat_gradient),
		cmocka_unit_test(fanout_gradient),
		cmocka_unit_test(grad_plan),
		cmocka_unit_test(memory_estimate_is_exact),
		cmocka_unit_test(same_bits_for_a_thread_count),
		cmocka_unit_test(one_and_two_threads_agree),
		cmocka_unit_test(builder_refusals),
		cmocka_unit_test(builder_reads_inputs),
		cmocka_unit_test(network_picture),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
