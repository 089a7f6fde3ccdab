/* Evaluation through the inference plan (net_act_plan): the same bits as
 * the training arena's evaluation (sequential and graph networks with
 * batchnorm, dropout, add and concat, on 1 and 2 threads), per-image
 * results that do not depend on the batch, the plan's slots, and a
 * residual network needing less memory to evaluate than to train. */
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
#include "net/memory.h"
#include "net/net.h"
#include "build_helpers.h"
#include "testutil.h"

#define HEAD "name: i\ndata: {dataset: mnist}\ninput: [1, 28, 28]\noptimizer: {type: adam}\nlayers:\n"

/* LeNet's shape with batchnorm and dropout: relu after conv (the pair the
 * inference path may fuse), pooling, a dense head. */
static const char sequential[] = HEAD
	"  - {type: conv, filters: 4, kernel_size: 5}\n"
	"  - {type: batchnorm}\n"
	"  - {type: relu}\n"
	"  - {type: maxpool, pool_size: 2}\n"
	"  - {type: conv, filters: 8, kernel_size: 5}\n"
	"  - {type: relu}\n"
	"  - {type: maxpool, pool_size: 2}\n"
	"  - {type: flatten}\n"
	"  - {type: dropout, rate: 0.3}\n"
	"  - {type: dense, units: 16}\n"
	"  - {type: relu}\n"
	"  - {type: dense, units: 10}\n";

/* A residual block, a concat of branches (one reading the input), fan-out,
 * batchnorm and dropout. */
static const char graph[] = HEAD
	"  - {type: conv, filters: 4, kernel_size: 3, stride: 2, padding: same, name: stem}\n"
	"  - {type: batchnorm}\n"
	"  - {type: relu, name: a}\n"
	"  - {type: conv, filters: 4, kernel_size: 3, padding: same}\n"
	"  - {type: batchnorm}\n"
	"  - {type: relu}\n"
	"  - {type: conv, filters: 4, kernel_size: 3, padding: same}\n"
	"  - {type: add, inputs: [a, -1], name: r}\n"
	"  - {type: relu, name: b}\n"
	"  - {type: conv, filters: 2, kernel_size: 1, inputs: [b], name: b1}\n"
	"  - {type: avgpool, pool_size: 2, stride: 2, inputs: [input], name: p}\n"
	"  - {type: concat, inputs: [b1, r, p, stem]}\n"
	"  - {type: dropout, rate: 0.2}\n"
	"  - {type: global_avgpool}\n"
	"  - {type: flatten}\n"
	"  - {type: dense, units: 10}\n";

enum { N = 37 };   /* not a multiple of any batch below */

/* A network a few training steps in: weights and batchnorm's running
 * statistics away from their initial values. */
static struct net *trained(const char *yaml, int threads, int *labels)
{
	struct net *net = bh_net(yaml, N, threads, 3);
	double loss;
	int correct;
	for (int step = 0; step < 3; step++) {
		bh_fill_batch(net, N, labels, 10 + (uint64_t)step);
		net_train_step(net, labels, N, &loss, &correct);
	}
	bh_fill_batch(net, N, labels, 99);
	return net;
}

/* net_eval_from's loader: copies from the inputs kept in x. */
struct copy_source {
	const float *x;
	const int *labels;
	size_t in;
};

static void copy_fill(void *ctx, int thread, int start, int count, float *x, int *labels)
{
	const struct copy_source *s = ctx;
	(void)thread;
	memcpy(x, s->x + (size_t)start * s->in, (size_t)count * s->in * sizeof *x);
	memcpy(labels, s->labels + start, (size_t)count * sizeof *labels);
}

/* The training arena's evaluation (net_eval, the path every documented
 * accuracy was measured with) against the inference plan: net_eval_from,
 * and net_predict on 1, 2 and 3 threads, bit for bit. */
static void check_same_bits(const char *yaml, int threads)
{
	int labels[N], labels2[N], pred[N], pred2[N];
	float old[N * 10], now[N * 10];
	double loss, loss2;
	struct cnn_error err;
	struct net *net = trained(yaml, threads, labels);
	net_eval(net, labels, N, &loss, pred, old);

	float *x = malloc((size_t)N * shape_size(net->input) * sizeof *x);
	assert_non_null(x);
	memcpy(x, net->x, (size_t)N * shape_size(net->input) * sizeof *x);
	struct copy_source src = { x, labels, shape_size(net->input) };
	struct net_input in = { copy_fill, &src };
	memset(net->x, 0, (size_t)N * shape_size(net->input) * sizeof *x);   /* not read */
	net_eval_from(net, &in, labels2, N, &loss2, pred2, now);
	assert_memory_equal(labels, labels2, sizeof labels);
	assert_memory_equal(pred, pred2, sizeof pred);
	assert_memory_equal(old, now, sizeof old);
	/* the plan sums the loss sample by sample in order; the arena, each
	 * thread's chunk and then the chunks: the same sum on one thread */
	if (threads == 1)
		assert_true(loss == loss2);
	else
		assert_true(fabs(loss - loss2) <= 1e-12 * fabs(loss));

	for (int t = 1; t <= 3; t++) {
		memset(now, 0, sizeof now);
		assert_int_equal(net_predict(net, x, N, now, t, &err), 0);
		assert_memory_equal(old, now, sizeof old);
	}
	free(x);
	net_free(net);
}

static void sequential_same_bits(void **state)
{
	(void)state;
	check_same_bits(sequential, 1);
	check_same_bits(sequential, 2);
}

static void graph_same_bits(void **state)
{
	(void)state;
	check_same_bits(graph, 1);
	check_same_bits(graph, 2);
}

/* The evaluation loss does not depend on the thread count either: one
 * network's weights in networks planned for 1, 2 and 3 threads. */
static void loss_same_for_any_threads(void **state)
{
	(void)state;
	int labels[N], labels2[N];
	float p1[N * 10], p2[N * 10];
	double l1, l2;
	struct net *one = trained(graph, 1, labels);
	struct copy_source src = { one->x, labels, shape_size(one->input) };
	struct net_input in = { copy_fill, &src };
	net_eval_from(one, &in, labels2, N, &l1, NULL, p1);
	for (int t = 2; t <= 3; t++) {
		struct net *other = bh_net(graph, N, t, 3);
		memcpy(other->params, one->params, one->n_params * sizeof *one->params);
		net_eval_from(other, &in, labels2, N, &l2, NULL, p2);
		assert_true(l1 == l2);
		assert_memory_equal(p1, p2, sizeof p1);
		net_free(other);
	}
	net_free(one);
}

/* Each image's probabilities are the same whatever batch and thread count
 * evaluate it: the layers handle images one by one or, in a matrix product,
 * sum each element over k alone in a fixed order. */
static void batch_does_not_matter(void **state)
{
	(void)state;
	const char *yamls[] = { sequential, graph };
	for (int c = 0; c < 2; c++) {
		int labels[N];
		float first[N * 10], now[N * 10];
		struct cnn_error err;
		struct net *net = trained(yamls[c], 1, labels);
		assert_int_equal(net_predict_batch(net, net->x, N, first, 1, 1, &err), 0);
		const int batches[] = { 2, 5, 16, N, 256 };
		for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++)
			for (int t = 1; t <= 2; t++) {
				memset(now, 0, sizeof now);
				assert_int_equal(net_predict_batch(net, net->x, N, now, t, batches[b], &err), 0);
				assert_memory_equal(first, now, sizeof now);
			}
		/* and alone, image by image */
		for (int i = 0; i < N; i += 9) {
			assert_int_equal(net_predict(net, net->x + (size_t)i * 784, 1, now, 1, &err), 0);
			assert_memory_equal(first + i * 10, now, 10 * sizeof *now);
		}
		net_free(net);
	}
}

/* lenet's shape with a Winograd conv2 (whose evaluation folds the relu and
 * maxpool after it into its output) after a conv1 that cannot fold. */
static const char winograd_net[] = HEAD
	"  - {type: conv, filters: 16, kernel_size: 5, padding: same}\n"
	"  - {type: relu}\n"
	"  - {type: maxpool, pool_size: 2}\n"
	"  - {type: conv, filters: 24, kernel_size: 5, padding: same, algorithm: winograd}\n"
	"  - {type: relu}\n"
	"  - {type: maxpool, pool_size: 2}\n"
	"  - {type: flatten}\n"
	"  - {type: dense, units: 10}\n";

/* The pooling fold (net_plan_acts's folds): planned for conv2's maxpool only,
 * and the inference plan's probabilities are the training arena's, which
 * never folds, bit for bit. An odd output does not fold. */
static void fold_same_bits(void **state)
{
	(void)state;
	int labels[N];
	struct net *net = trained(winograd_net, 1, labels);
	bool on = net_fusion_enabled();   /* CNN_FUSE=0 turns folding off too */
	const int want[] = { -1, -1, -1, -1, -1, on ? 3 : -1, -1, -1 };
	assert_int_equal(net->n_layers, 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(net->act_plan.fold_into[i], want[i]);
	assert_int_equal(net->act_plan.folded[3], on ? 5 : -1);
	if (on)
		assert_int_equal(net->act_plan.slot[5], net->act_plan.slot[3]);
	net_free(net);
	check_same_bits(winograd_net, 1);
	check_same_bits(winograd_net, 2);

	static const char odd[] = HEAD
		"  - {type: conv, filters: 16, kernel_size: 4}\n"
		"  - {type: conv, filters: 16, kernel_size: 5, algorithm: winograd}\n"
		"  - {type: maxpool, pool_size: 2}\n"
		"  - {type: flatten}\n"
		"  - {type: dense, units: 10}\n";
	net = trained(odd, 1, labels);   /* 25x25 -> 21x21: the tiles are no windows */
	assert_int_equal(net->act_plan.fold_into[2], -1);
	net_free(net);
	check_same_bits(odd, 1);
}

/* Prediction's head (net->head_from): a dense layer with more than
 * NET_HEAD_MIN_PARAMS weights runs on NET_HEAD_BATCH images at once while
 * the layers before it run a few at a time; every image's probabilities
 * are still the training arena's, for any batch and thread count. */
static void check_head(const char *yaml, int want_head)
{
	int labels[N], pred[N];
	float old[N * 10], now[N * 10];
	double loss;
	struct cnn_error err;
	struct net *net = trained(yaml, 1, labels);
	assert_int_equal(net->head_from, want_head);
	net_eval(net, labels, N, &loss, pred, old);
	const int batches[] = { 1, 3, 8, 31 };
	for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++)
		for (int t = 1; t <= 2; t++) {
			memset(now, 0, sizeof now);
			assert_int_equal(net_predict_batch(net, net->x, N, now, t, batches[b], &err), 0);
			assert_memory_equal(old, now, sizeof now);
		}
	net_free(net);
}

static void head_same_bits(void **state)
{
	(void)state;
	/* 576 x 128 weights from dense1 (layer 4) on */
	check_head(HEAD
	           "  - {type: conv, filters: 4, kernel_size: 5}\n"
	           "  - {type: relu}\n"
	           "  - {type: maxpool, pool_size: 2}\n"
	           "  - {type: flatten}\n"
	           "  - {type: dense, units: 128}\n"
	           "  - {type: relu}\n"
	           "  - {type: dense, units: 10}\n", 4);
	/* the residual from a around two dense layers: the last cut with enough
	 * weights after it is before the first of them, not the second */
	check_head(HEAD
	           "  - {type: conv, filters: 4, kernel_size: 5}\n"
	           "  - {type: maxpool, pool_size: 2}\n"
	           "  - {type: flatten, name: a}\n"
	           "  - {type: dense, units: 576}\n"
	           "  - {type: relu}\n"
	           "  - {type: dense, units: 576}\n"
	           "  - {type: add, inputs: [a, -1]}\n"
	           "  - {type: dense, units: 10}\n", 3);
	/* nothing large: no head */
	check_head(sequential, -1);
}

/* A frozen network (net_freeze: what `predict`, `eval`, `bench` and the C
 * API open) keeps the Winograd forward's transformed filters instead of
 * transforming them per call: the same probabilities, bit for bit, on 1
 * and 2 threads and image by image. */
static void freeze_keeps_bits(void **state)
{
	(void)state;
	const char *yaml = winograd_net;
	int labels[N];
	float before[N * 10], now[N * 10];
	struct cnn_error err;
	struct net *net = trained(yaml, 1, labels);
	assert_int_equal(net_predict(net, net->x, N, before, 1, &err), 0);
	assert_int_equal(net_freeze(net, &err), 0);
	assert_true(net->frozen);
	for (int t = 1; t <= 2; t++) {
		memset(now, 0, sizeof now);
		assert_int_equal(net_predict(net, net->x, N, now, t, &err), 0);
		assert_memory_equal(before, now, sizeof now);
	}
	for (int i = 0; i < N; i += 7) {
		assert_int_equal(net_predict(net, net->x + (size_t)i * 784, 1, now, 1, &err), 0);
		assert_memory_equal(before + i * 10, now, 10 * sizeof *now);
	}
	/* frozen, the weights are no longer read: changing them shows it */
	const struct layer *conv2 = net->layers[3];
	for (size_t k = 0; k < conv2->param_count; k++)
		net->params[conv2->param_offset + k] = 0.0f;
	assert_int_equal(net_predict(net, net->x, N, now, 1, &err), 0);
	assert_memory_equal(before, now, sizeof now);
	net_free(net);
}

/* A chain needs two slots (the input's is reused once the first layer has
 * read it); a residual block keeps its input live across the block, one
 * slot more, and the concat's four inputs one each. In-place layers take
 * their input's slot. */
static void plan_slots(void **state)
{
	(void)state;
	struct net *seq = bh_net(sequential, 1, 1, 1), *g = bh_net(graph, 1, 1, 1);
	assert_int_equal(seq->act_plan.n_slots, 2);
	const struct net_act_plan *p = &g->act_plan;
	assert_true(p->n_slots >= 4);
	/* no two activations live at once share a slot: stem (0) lives until
	 * the concat (11), so nothing between takes its slot */
	for (int i = 1; i < 11; i++)
		assert_int_not_equal(p->slot[i], p->slot[0]);
	/* the add's inputs differ from its output's slot */
	assert_int_not_equal(p->slot[7], p->slot[2]);
	assert_int_not_equal(p->slot[7], p->slot[6]);
	/* the input is read by the avgpool (10) too: kept until then */
	for (int i = 0; i <= 10; i++)
		assert_int_not_equal(p->slot[i], p->input_slot);
	assert_true(p->per_sample < 784 + 4 * 14 * 14 * 10);
	/* in place: batchnorm and relu on the conv's output, which nothing else
	 * reads; not where the input has another reader (stem, read by the
	 * concat too), nor on the network's input (the caller's memory) */
	assert_int_equal(seq->act_plan.slot[1], seq->act_plan.slot[0]);
	assert_int_equal(seq->act_plan.slot[2], seq->act_plan.slot[0]);
	assert_int_not_equal(seq->act_plan.slot[3], seq->act_plan.slot[2]);
	assert_int_not_equal(p->slot[1], p->slot[0]);
	assert_int_equal(p->slot[2], p->slot[1]);
	struct net *first = bh_net(HEAD "  - {type: relu}\n  - {type: flatten}\n  - {type: dense, units: 10}\n",
	                           1, 1, 1);
	assert_int_not_equal(first->act_plan.slot[0], first->act_plan.input_slot);
	net_free(first);
	net_free(seq);
	net_free(g);
}

/* configs/resnet-mnist.yaml: evaluating needs far less than training. */
static void resnet_plan_smaller(void **state)
{
	(void)state;
	size_t len;
	char *text = test_read_file("configs/resnet-mnist.yaml", &len);
	struct cfg_doc doc;
	struct model_config cfg;
	char msg[600];
	assert_non_null(text);
	if (bh_build(text, &doc, &cfg, msg, sizeof msg))
		fail_msg("%s", msg);
	struct mem_estimate train, eval;
	struct net_act_plan plan;
	struct cnn_error err;
	int *into = net_fusion_now(cfg.layers, cfg.n_layers, &err);
	assert_non_null(into);
	assert_int_equal(net_plan_acts(cfg.layers, cfg.n_layers, into, cfg.input, &plan, &err), 0);
	free(into);
	int batch = net_eval_batch_for(&plan);
	mem_estimate(cfg.layers, cfg.n_layers, cfg.input, batch, 1, 2, 0, &train);
	mem_estimate_eval(cfg.layers, cfg.n_layers, cfg.input, 1, &eval);
	/* per sample: the plan's slots against the arena's every activation */
	assert_true(plan.per_sample * 4 < train.activations / batch);
	assert_true(eval.activations < train.activations / 4);
	assert_true(eval.total < train.total);
	print_message("resnet-mnist, batch %d: evaluation %.0f floats per sample in %d slots, "
	              "training's arena %.0f\n", batch, (double)plan.per_sample, plan.n_slots,
	              train.activations / batch / 4);
	net_act_plan_free(&plan);
	model_config_free(&cfg);
	cfg_free(&doc);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sequential_same_bits),
		cmocka_unit_test(graph_same_bits),
		cmocka_unit_test(loss_same_for_any_threads),
		cmocka_unit_test(batch_does_not_matter),
		cmocka_unit_test(freeze_keeps_bits),
		cmocka_unit_test(fold_same_bits),
		cmocka_unit_test(head_same_bits),
		cmocka_unit_test(plan_slots),
		cmocka_unit_test(resnet_plan_smaller),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
