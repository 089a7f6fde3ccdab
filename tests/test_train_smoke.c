/* The whole machine on synthetic data, no files needed: a network built from
 * a YAML string learns to tell ten "digits" apart (a bright block whose
 * position is the class), its gradient agrees with finite differences along
 * a random direction (kann's check), and a seed gives the same bits twice. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "builder/builder.h"
#include "net/net.h"
#include "build_helpers.h"
#include "testutil.h"

static const char config[] =
	"name: smoke\n"
	"data: {dataset: mnist}\n"
	"input: [1, 28, 28]\n"
	"layers:\n"
	"  - {type: conv, filters: 4, kernel_size: 3, stride: 2, padding: same}\n"
	"  - {type: relu}\n"
	"  - {type: maxpool, pool_size: 2}\n"
	"  - {type: flatten}\n"
	"  - {type: dense, units: 10}\n"
	"optimizer: {type: adam, lr: 0.01}\n";

static struct net *build(int batch, int threads, uint64_t seed)
{
	return bh_net(config, batch, threads, seed);
}

/* Class k: a 6x6 block at one of ten places, on faint noise. */
static void make_batch(struct net *net, int n, uint64_t *rng, int *labels)
{
	for (int i = 0; i < n; i++) {
		float *x = net->x + (size_t)i * 28 * 28;
		int k = (int)(test_uniform(rng, 0, 10));
		labels[i] = k;
		for (int p = 0; p < 28 * 28; p++)
			x[p] = test_uniform(rng, 0, 0.2f);
		int top = 2 + 12 * (k / 5), left = 1 + 5 * (k % 5);
		for (int r = 0; r < 6; r++)
			for (int c = 0; c < 6; c++)
				x[(top + r) * 28 + left + c] = 1.0f;
	}
}

/* make_batch for bh_train_adam: ctx is the stream, carried from step to step. */
static void fill_step(struct net *net, int n, int *labels, int step, void *ctx)
{
	(void)step;
	make_batch(net, n, ctx, labels);
}

static void loss_falls_and_accuracy_rises(void **state)
{
	(void)state;
	enum { batch = 20, steps = 150 };
	struct net *net = build(batch, 2, 7);
	uint64_t rng = 12345;
	double losses[steps], first_loss = 0, last_loss = 0;
	int corrects[steps], first_correct = 0, last_correct = 0;
	bh_train_adam(net, batch, steps, fill_step, &rng, losses, corrects);
	for (int s = 0; s < 10; s++) {
		first_loss += losses[s];
		first_correct += corrects[s];
		last_loss += losses[steps - 1 - s];
		last_correct += corrects[steps - 1 - s];
	}
	print_message("first 10 batches: loss %.3f acc %.2f; last 10: loss %.3f acc %.2f\n",
	              first_loss / (10 * batch), first_correct / (10.0 * batch),
	              last_loss / (10 * batch), last_correct / (10.0 * batch));
	assert_true(last_loss < first_loss / 4);
	assert_true(last_correct >= 0.9 * 10 * batch);
	assert_true(last_correct > first_correct + 50);
	net_free(net);
}

static double mean_loss(struct net *net, const int *labels, int n)
{
	double loss;
	net_eval(net, labels, n, &loss, NULL, NULL);
	return loss / n;
}

static void gradient_matches_finite_differences_along_a_direction(void **state)
{
	(void)state;
	enum { batch = 6 };
	struct net *net = build(batch, 2, 3);
	int labels[batch];
	uint64_t rng = 99;
	make_batch(net, batch, &rng, labels);
	double loss;
	int correct;
	net_train_step(net, labels, batch, &loss, &correct);
	float *dir = malloc(net->n_params * sizeof *dir), *w0 = malloc(net->n_params * sizeof *w0);
	assert_non_null(dir);
	assert_non_null(w0);
	memcpy(w0, net->params, net->n_params * sizeof *w0);
	double analytic = 0;
	for (size_t i = 0; i < net->n_params; i++) {
		dir[i] = test_uniform(&rng, -1, 1);
		analytic += (double)dir[i] * net->grads[i];
	}
	const float eps = 1e-3f;
	for (size_t i = 0; i < net->n_params; i++)
		net->params[i] = w0[i] + eps * dir[i];
	double plus = mean_loss(net, labels, batch);
	for (size_t i = 0; i < net->n_params; i++)
		net->params[i] = w0[i] - eps * dir[i];
	double minus = mean_loss(net, labels, batch);
	double numeric = (plus - minus) / (2 * eps);
	print_message("directional derivative: analytic %.6f numeric %.6f\n", analytic, numeric);
	assert_true(fabs(analytic - numeric) <= 2e-2 * fmax(1.0, fabs(analytic)));
	free(dir);
	free(w0);
	net_free(net);
}

/* Trains a few steps; returns a copy of the parameters. */
static float *train_copy(int threads, size_t *n)
{
	enum { batch = 16 };
	struct net *net = build(batch, threads, 11);
	uint64_t rng = 5;
	bh_train_adam(net, batch, 20, fill_step, &rng, NULL, NULL);
	float *copy = bh_params_copy(net, n);
	net_free(net);
	return copy;
}

static void same_seed_and_threads_give_the_same_bits(void **state)
{
	(void)state;
	size_t n1, n2, n3;
	float *a = train_copy(2, &n1), *b = train_copy(2, &n2), *c = train_copy(1, &n3);
	assert_int_equal(n1, n2);
	assert_memory_equal(a, b, n1 * sizeof *a);
	/* one thread sums in another order: close, not necessarily equal */
	for (size_t i = 0; i < n1; i++)
		assert_true(fabsf(a[i] - c[i]) <= 1e-3f * fmaxf(1.0f, fabsf(a[i])));
	free(a);
	free(b);
	free(c);
}

/* A batch source for net_train_step_from: sample i of the batch is the
 * block image of class (i * 3 + offset) % 10; records which threads asked
 * for which samples. */
struct block_source {
	int offset;
	int asked[64];      /* times each sample was filled */
	int thread_of[64];
};

static void fill_blocks(void *ctx, int thread, int start, int count, float *x, int *labels)
{
	struct block_source *s = ctx;
	for (int i = 0; i < count; i++) {
		int k = ((start + i) * 3 + s->offset) % 10, top = 2 + 12 * (k / 5), left = 1 + 5 * (k % 5);
		float *img = x + (size_t)i * 28 * 28;
		for (int p = 0; p < 28 * 28; p++)
			img[p] = (float)((p * 7 + start + i) % 13) / 65.0f;
		for (int r = 0; r < 6; r++)
			for (int c = 0; c < 6; c++)
				img[(top + r) * 28 + left + c] = 1.0f;
		labels[i] = k;
		s->asked[start + i]++;
		s->thread_of[start + i] = thread;
	}
}

/* Loading inside the step (each thread its own samples) gives the bits of
 * loading first and stepping after, for training and evaluation. */
static void step_from_a_source_matches_filling_first(void **state)
{
	(void)state;
	enum { batch = 7 };
	struct net *a = build(batch, 2, 5), *b = build(batch, 2, 5);
	struct block_source src = { .offset = 4 };
	struct net_input in = { fill_blocks, &src };
	int labels_a[batch], labels_b[batch];
	double loss_a, loss_b;
	int correct_a, correct_b;

	/* a: filled by hand, through the same function, before the step */
	fill_blocks(&src, 0, 0, batch, a->x, labels_a);
	memset(src.asked, 0, sizeof src.asked);
	net_train_step(a, labels_a, batch, &loss_a, &correct_a);
	net_train_step_from(b, &in, labels_b, batch, &loss_b, &correct_b);
	for (int i = 0; i < batch; i++) {
		assert_int_equal(src.asked[i], 1);
		assert_int_equal(src.thread_of[i], i < batch / 2 ? 0 : 1);   /* chunk_of's split */
		assert_int_equal(labels_b[i], labels_a[i]);
	}
	assert_memory_equal(a->x, b->x, (size_t)batch * 28 * 28 * sizeof(float));
	assert_true(loss_a == loss_b);
	assert_int_equal(correct_a, correct_b);
	assert_memory_equal(a->grads, b->grads, a->n_params * sizeof(float));

	int pred_a[batch], pred_b[batch];
	src.offset = 1;
	fill_blocks(&src, 0, 0, batch, a->x, labels_a);
	net_eval(a, labels_a, batch, &loss_a, pred_a, NULL);
	net_eval_from(b, &in, labels_b, batch, &loss_b, pred_b, NULL);
	assert_true(loss_a == loss_b);
	assert_memory_equal(pred_a, pred_b, sizeof pred_a);
	assert_memory_equal(labels_a, labels_b, sizeof labels_a);
	net_free(a);
	net_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(loss_falls_and_accuracy_rises),
		cmocka_unit_test(step_from_a_source_matches_filling_first),
		cmocka_unit_test(gradient_matches_finite_differences_along_a_direction),
		cmocka_unit_test(same_seed_and_threads_give_the_same_bits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
