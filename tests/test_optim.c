/* One optimizer step against values computed by hand (Caffe's solver tests
 * do the same with least squares). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "optim/optim.h"

static void adam_two_steps(void **state)
{
	(void)state;
	struct optim o;
	struct optim_config cfg = { .type = "adam", .lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8 };
	struct cnn_error err;
	float w[2] = { 1.0f, -2.0f };
	float g1[2] = { 0.5f, -4.0f }, g2[2] = { 0.5f, 2.0f };
	assert_int_equal(optim_create(&o, &cfg, 2, NULL, 0, &err), 0);
	/* Step 1: m = 0.1 g, v = 0.001 g^2; bias-corrected m^ = g, v^ = g^2, so
	 * the step is lr * g / (|g| + eps) = lr * sign(g), whatever |g| is. */
	optim_step(&o, w, g1);
	assert_float_equal(w[0], 1.0f - 0.1f, 1e-6);
	assert_float_equal(w[1], -2.0f + 0.1f, 1e-6);
	/* Step 2, w[1]: m = 0.9 (-0.4) + 0.1 (2) = -0.16, m^ = -0.16 / 0.19;
	 * v = 0.999 (0.016) + 0.001 (4) = 0.019984, v^ = 0.019984 / 0.001999;
	 * step = 0.1 * (-0.842105) / 3.161818 = -0.0266336 -> w = -1.9 + 0.0266336. */
	optim_step(&o, w, g2);
	assert_float_equal(w[1], -1.9f + 0.0266336f, 1e-5);
	/* w[0]: the same gradient twice behaves as step 1: 0.9 - 0.1 */
	assert_float_equal(w[0], 0.8f, 1e-5);
	assert_int_equal(o.t, 2);
	optim_free(&o);
}

static void sgd_momentum_steps(void **state)
{
	(void)state;
	struct optim o;
	struct optim_config cfg = { .type = "sgd", .lr = 0.5, .momentum = 0.9 };
	struct cnn_error err;
	float w[1] = { 1.0f };
	float g[1] = { 2.0f };
	assert_int_equal(optim_create(&o, &cfg, 1, NULL, 0, &err), 0);
	optim_step(&o, w, g);  /* v = 2,   w = 1 - 0.5*2 = 0 */
	assert_float_equal(w[0], 0.0f, 1e-6);
	optim_step(&o, w, g);  /* v = 3.8, w = 0 - 0.5*3.8 = -1.9 */
	assert_float_equal(w[0], -1.9f, 1e-6);
	optim_free(&o);
}

static void plain_sgd_is_gradient_descent(void **state)
{
	(void)state;
	struct optim o;
	struct optim_config cfg = { .type = "sgd", .lr = 0.25 };
	struct cnn_error err;
	float w[3] = { 1, 2, 3 };
	float g[3] = { 4, -4, 0 };
	assert_int_equal(optim_create(&o, &cfg, 3, NULL, 0, &err), 0);
	optim_step(&o, w, g);
	assert_float_equal(w[0], 0.0f, 0);
	assert_float_equal(w[1], 3.0f, 0);
	assert_float_equal(w[2], 3.0f, 0);
	optim_free(&o);
}

static void unknown_type_is_refused(void **state)
{
	(void)state;
	struct optim o;
	struct optim_config cfg = { .type = "rmsprop", .lr = 0.1 };
	struct cnn_error err;
	assert_int_equal(optim_create(&o, &cfg, 3, NULL, 0, &err), -1);
	assert_string_equal(err.msg, "unknown optimizer 'rmsprop'");
}

/* ---- learning-rate schedules: lr_at against values computed by hand ---- */

static struct optim_config sched(const char *type, double warmup_epochs)
{
	struct optim_config c = { .type = "sgd", .lr = 0.1 };
	c.schedule.type = type;
	c.schedule.warmup_epochs = warmup_epochs;
	c.schedule.gamma = 1;
	return c;
}

static void schedule_constant(void **state)
{
	(void)state;
	struct optim_config c = sched("constant", 0);
	assert_float_equal(lr_at(&c, 0, 10, 100), 0.1, 1e-12);
	assert_float_equal(lr_at(&c, 99, 10, 100), 0.1, 1e-12);
	/* Warmup over one epoch of 10 steps: lr * (step + 1) / 10. */
	c = sched("constant", 1);
	assert_float_equal(lr_at(&c, 0, 10, 100), 0.01, 1e-12);
	assert_float_equal(lr_at(&c, 4, 10, 100), 0.05, 1e-12);
	assert_float_equal(lr_at(&c, 9, 10, 100), 0.1, 1e-12);
	assert_float_equal(lr_at(&c, 10, 10, 100), 0.1, 1e-12);
	/* A fractional warmup, 2.5 steps, ramps over ceil(2.5) = 3 steps. */
	c = sched("constant", 0.25);
	assert_float_equal(lr_at(&c, 0, 10, 100), 0.1 / 3, 1e-12);
	assert_float_equal(lr_at(&c, 2, 10, 100), 0.1, 1e-12);
	assert_float_equal(lr_at(&c, 3, 10, 100), 0.1, 1e-12);
}

static void schedule_step(void **state)
{
	(void)state;
	/* gamma 0.1 every 2 epochs of 10 steps. */
	struct optim_config c = sched("step", 0);
	c.schedule.gamma = 0.1;
	c.schedule.step_epochs = 2;
	assert_float_equal(lr_at(&c, 0, 10, 100), 0.1, 1e-12);
	assert_float_equal(lr_at(&c, 19, 10, 100), 0.1, 1e-12);   /* epoch 1.9 */
	assert_float_equal(lr_at(&c, 20, 10, 100), 0.01, 1e-12);  /* epoch 2 */
	assert_float_equal(lr_at(&c, 45, 10, 100), 0.001, 1e-12); /* epoch 4.5 */
	/* With a one-epoch warmup; epochs still count from step 0. */
	c.schedule.warmup_epochs = 1;
	assert_float_equal(lr_at(&c, 5, 10, 100), 0.06, 1e-12);
	assert_float_equal(lr_at(&c, 10, 10, 100), 0.1, 1e-12);
	assert_float_equal(lr_at(&c, 20, 10, 100), 0.01, 1e-12);
}

static void schedule_exponential(void **state)
{
	(void)state;
	/* gamma 0.5 per epoch of 4 steps, fractional between epochs. */
	struct optim_config c = sched("exponential", 0);
	c.schedule.gamma = 0.5;
	assert_float_equal(lr_at(&c, 0, 4, 40), 0.1, 1e-12);
	assert_float_equal(lr_at(&c, 2, 4, 40), 0.1 * 0.70710678118654752, 1e-12); /* 0.5^0.5 */
	assert_float_equal(lr_at(&c, 8, 4, 40), 0.025, 1e-12);
	/* Warmup over half an epoch (2 steps): 0.05, 0.1, then the decay. */
	c.schedule.warmup_epochs = 0.5;
	assert_float_equal(lr_at(&c, 0, 4, 40), 0.05, 1e-12);
	assert_float_equal(lr_at(&c, 1, 4, 40), 0.1, 1e-12);
	assert_float_equal(lr_at(&c, 2, 4, 40), 0.1 * 0.70710678118654752, 1e-12);
}

static void schedule_cosine(void **state)
{
	(void)state;
	/* 100 steps from 0.1 down to min_lr 0.01. */
	struct optim_config c = sched("cosine", 0);
	c.schedule.min_lr = 0.01;
	assert_float_equal(lr_at(&c, 0, 10, 100), 0.1, 1e-12);
	/* quarter way: 0.01 + 0.09 (1 + cos(pi/4)) / 2 = 0.01 + 0.045 * 1.7071068 */
	assert_float_equal(lr_at(&c, 25, 10, 100), 0.0868198052, 1e-9);
	assert_float_equal(lr_at(&c, 50, 10, 100), 0.055, 1e-12);
	assert_float_equal(lr_at(&c, 100, 10, 100), 0.01, 1e-12);
	/* Warmup of 2 epochs (20 steps); the cosine spans the other 80. */
	c.schedule.warmup_epochs = 2;
	assert_float_equal(lr_at(&c, 9, 10, 100), 0.05, 1e-12);
	assert_float_equal(lr_at(&c, 20, 10, 100), 0.1, 1e-12);
	assert_float_equal(lr_at(&c, 60, 10, 100), 0.055, 1e-12);
	assert_float_equal(lr_at(&c, 100, 10, 100), 0.01, 1e-12);
}

/* ---- weight decay, Nesterov, clipping ---- */

/* Tensors laid out back to back: n[i] floats each, decay[i]. */
static int layout(struct net_param *p, const size_t *n, const bool *decay, int count)
{
	size_t at = 0;
	for (int i = 0; i < count; i++) {
		memset(&p[i], 0, sizeof p[i]);
		p[i].spec.n = n[i];
		p[i].spec.decay = decay[i];
		p[i].offset = at;
		at += n[i];
	}
	return count;
}

static void adamw_two_steps(void **state)
{
	(void)state;
	struct optim o;
	struct optim_config cfg = { .type = "adamw", .lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
	                            .weight_decay = 0.1 };
	struct cnn_error err;
	struct net_param t[2];
	int nt = layout(t, (size_t[]){ 2, 1 }, (bool[]){ true, false }, 2);   /* weight (2), bias (1) */
	float w[3] = { 1.0f, -2.0f, 0.5f };
	float g1[3] = { 0.5f, -4.0f, 1.0f }, g2[3] = { 0.5f, 2.0f, 1.0f };
	assert_int_equal(optim_create(&o, &cfg, 3, t, nt, &err), 0);
	/* Step 1: Adam moves each by lr * sign(g) (see adam_two_steps); the
	 * weights also lose lr * wd * w = 0.01 w:
	 * w0 = 1 - 0.1 - 0.01 = 0.89, w1 = -2 + 0.1 + 0.02 = -1.88; the bias
	 * only 0.5 - 0.1 = 0.4. */
	optim_step(&o, w, g1);
	assert_float_equal(w[0], 0.89f, 1e-6);
	assert_float_equal(w[1], -1.88f, 1e-6);
	assert_float_equal(w[2], 0.4f, 1e-6);
	/* Step 2: w0 = 0.89 - 0.1 - 0.0089 = 0.7811; w1: Adam's step +0.0266336
	 * (adam_two_steps) and the decay +0.0188: -1.88 + 0.0454336 = -1.8345664. */
	optim_step(&o, w, g2);
	assert_float_equal(w[0], 0.7811f, 1e-5);
	assert_float_equal(w[1], -1.8345664f, 1e-5);
	assert_float_equal(w[2], 0.3f, 1e-5);
	optim_free(&o);
}

/* Interleaved weights and biases, with runs long enough for the vector loop:
 * with a zero gradient, Adam's step is 0, so weights shrink by lr * wd and
 * biases keep every bit. */
static void adamw_leaves_biases_alone(void **state)
{
	(void)state;
	struct optim o;
	struct optim_config cfg = { .type = "adamw", .lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
	                            .weight_decay = 0.1 };
	struct cnn_error err;
	struct net_param t[5];
	const size_t n[5] = { 10, 3, 9, 8, 2 };
	const bool decay[5] = { true, false, true, true, false };
	int nt = layout(t, n, decay, 5);
	float w[32], g[32] = { 0 };
	for (int i = 0; i < 32; i++)
		w[i] = 1.0f + (float)i;
	assert_int_equal(optim_create(&o, &cfg, 32, t, nt, &err), 0);
	assert_int_equal(o.n_decay, 2);   /* [0, 10) and [13, 30): adjacent weights merged */
	optim_step(&o, w, g);
	for (int i = 0; i < 32; i++) {
		bool is_bias = (i >= 10 && i < 13) || i >= 30;
		if (is_bias)
			assert_true(w[i] == 1.0f + (float)i);
		else
			assert_float_equal(w[i], (1.0f + (float)i) * 0.99f, 1e-5);
	}
	optim_free(&o);
}

/* Adam's weight_decay is L2: the decay enters the moments. With g = -0.05
 * and w = 1, g + 0.1 w = 0.05 turns the step's sign (lr * sign(g') on step
 * 1); the bias beside it, not decayed, steps along g. */
static void adam_l2_weight_decay(void **state)
{
	(void)state;
	struct optim o;
	struct optim_config cfg = { .type = "adam", .lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
	                            .weight_decay = 0.1 };
	struct cnn_error err;
	struct net_param t[2];
	int nt = layout(t, (size_t[]){ 1, 1 }, (bool[]){ true, false }, 2);
	float w[2] = { 1.0f, 1.0f }, g[2] = { -0.05f, -0.05f };
	assert_int_equal(optim_create(&o, &cfg, 2, t, nt, &err), 0);
	optim_step(&o, w, g);
	assert_float_equal(w[0], 0.9f, 1e-6);
	assert_float_equal(w[1], 1.1f, 1e-6);
	optim_free(&o);
}

/* weight_decay 0 takes the undecayed loop: the same bits as without tensors. */
static void adam_without_decay_is_unchanged(void **state)
{
	(void)state;
	struct optim a, b;
	struct optim_config cfg = { .type = "adam", .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8 };
	struct cnn_error err;
	struct net_param t[2];
	int nt = layout(t, (size_t[]){ 13, 4 }, (bool[]){ true, false }, 2);
	float wa[17], wb[17], g[17];
	for (int i = 0; i < 17; i++) {
		wa[i] = wb[i] = 0.1f * (float)(i - 8);
		g[i] = 0.37f * (float)((i * 7) % 5) - 0.6f;
	}
	assert_int_equal(optim_create(&a, &cfg, 17, NULL, 0, &err), 0);
	assert_int_equal(optim_create(&b, &cfg, 17, t, nt, &err), 0);
	for (int s = 0; s < 3; s++) {
		optim_step(&a, wa, g);
		optim_step(&b, wb, g);
	}
	assert_memory_equal(wa, wb, sizeof wa);
	optim_free(&a);
	optim_free(&b);
}

static void sgd_nesterov_steps(void **state)
{
	(void)state;
	struct optim o;
	struct optim_config cfg = { .type = "sgd", .lr = 0.5, .momentum = 0.9, .nesterov = true };
	struct cnn_error err;
	float w[1] = { 1.0f }, g[1] = { 2.0f };
	assert_int_equal(optim_create(&o, &cfg, 1, NULL, 0, &err), 0);
	optim_step(&o, w, g);  /* v = 2;   w = 1 - 0.5 (2 + 0.9 * 2) = -0.9 */
	assert_float_equal(w[0], -0.9f, 1e-6);
	optim_step(&o, w, g);  /* v = 3.8; w = -0.9 - 0.5 (2 + 0.9 * 3.8) = -3.61 */
	assert_float_equal(w[0], -3.61f, 1e-6);
	optim_free(&o);
}

static void sgd_weight_decay_skips_biases(void **state)
{
	(void)state;
	struct optim o;
	struct optim_config cfg = { .type = "sgd", .lr = 0.1, .weight_decay = 0.5 };
	struct cnn_error err;
	struct net_param t[3];
	int nt = layout(t, (size_t[]){ 1, 1, 1 }, (bool[]){ false, true, false }, 3);
	float w[3] = { 2, 2, 2 }, g[3] = { 1, 1, 1 };
	assert_int_equal(optim_create(&o, &cfg, 3, t, nt, &err), 0);
	optim_step(&o, w, g);  /* weight: g' = 1 + 0.5 * 2 = 2 -> 2 - 0.2; biases: 2 - 0.1 */
	assert_float_equal(w[0], 1.9f, 1e-6);
	assert_float_equal(w[1], 1.8f, 1e-6);
	assert_float_equal(w[2], 1.9f, 1e-6);
	optim_free(&o);
}

static void tensors_outside_the_parameters_are_refused(void **state)
{
	(void)state;
	struct optim o;
	struct optim_config cfg = { .type = "sgd", .lr = 0.1 };
	struct cnn_error err;
	struct net_param t[2];
	int nt = layout(t, (size_t[]){ 2, 2 }, (bool[]){ true, false }, 2);
	assert_int_equal(optim_create(&o, &cfg, 3, t, nt, &err), -1);
	assert_non_null(strstr(err.msg, "outside the 3 parameters"));
}

static void clip_norm_scales_the_whole_gradient(void **state)
{
	(void)state;
	struct optim o;
	struct optim_config cfg = { .type = "sgd", .lr = 1, .clip_norm = 1 };
	struct cnn_error err;
	float w[2] = { 0, 0 }, g[2] = { 3, 4 };
	assert_int_equal(optim_create(&o, &cfg, 2, NULL, 0, &err), 0);
	optim_step(&o, w, g);  /* ||g|| = 5 > 1: g becomes (0.6, 0.8) */
	assert_float_equal(o.grad_norm, 5.0, 1e-9);
	assert_float_equal(g[0], 0.6f, 1e-6);
	assert_float_equal(g[1], 0.8f, 1e-6);
	assert_float_equal(w[0], -0.6f, 1e-6);
	assert_float_equal(w[1], -0.8f, 1e-6);
	/* A gradient inside the limit is left as it is. */
	float g2[2] = { 0.3f, -0.4f };
	optim_step(&o, w, g2);
	assert_true(g2[0] == 0.3f && g2[1] == -0.4f);
	assert_float_equal(w[0], -0.9f, 1e-6);
	assert_float_equal(w[1], -0.4f, 1e-6);
	optim_free(&o);
}

/* ---- reading the optimizer: mapping ---- */

static int read_text(const char *yaml, struct optim_config *c, char *msg, size_t len)
{
	struct cfg_doc doc;
	struct cnn_error err;
	int rc = cfg_load_string(yaml, strlen(yaml), "t.yaml", &doc, &err);
	if (!rc)
		rc = optim_config_read(doc.root, c, &err);
	if (rc)
		cnn_error_str(&err, msg, len);
	cfg_free(&doc);
	return rc;
}

static void config_new_keys(void **state)
{
	(void)state;
	struct optim_config c;
	char msg[512];
	assert_int_equal(read_text("type: adamw\n", &c, msg, sizeof msg), 0);
	assert_string_equal(c.type, "adamw");
	assert_true(c.lr == 1e-3 && c.beta1 == 0.9 && c.weight_decay == 0.01 && c.clip_norm == 0);
	assert_int_equal(read_text("type: sgd\nmomentum: 0.9\nnesterov: true\nweight_decay: 5e-4\nclip_norm: 2\n",
	                           &c, msg, sizeof msg), 0);
	assert_true(c.nesterov && c.momentum == 0.9 && c.weight_decay == 5e-4 && c.clip_norm == 2);
	assert_int_equal(read_text("type: adam\n", &c, msg, sizeof msg), 0);
	assert_true(c.weight_decay == 0);
	assert_int_equal(read_text("type: sgd\nnesterov: true\n", &c, msg, sizeof msg), -1);
	assert_string_equal(msg, "t.yaml:2:11: sgd: 'nesterov: true' needs a momentum above 0 (e.g. momentum: 0.9)");
	assert_int_equal(read_text("type: adam\nnesterov: true\n", &c, msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "nesterov"));
}

/* Adam's update split among threads (optim.threads, large networks only):
 * every weight and moment the same bits as on one thread, with and without
 * decay, whose ranges the shares cut through. */
static void adam_threads_same_bits(void **state)
{
	(void)state;
	enum { N = 100003, STEPS = 3 };
	const size_t n[5] = { 40000, 3, 30001, 7, 29992 };
	const bool decay[5] = { true, false, true, false, true };
	const struct optim_config cfgs[3] = {
		{ .type = "adam", .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8 },
		{ .type = "adamw", .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.1 },
		{ .type = "adam", .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01 },
	};
	struct net_param t[5];
	int nt = layout(t, n, decay, 5);
	float *w = malloc(N * sizeof *w), *w1 = malloc(N * sizeof *w1), *g = malloc(N * sizeof *g);
	float *state1 = malloc(2 * N * sizeof *state1);
	assert_non_null(w);
	assert_non_null(w1);
	assert_non_null(g);
	assert_non_null(state1);
	for (int c = 0; c < 3; c++)
		for (int threads = 1; threads <= 3; threads++) {
			struct optim o;
			struct cnn_error err;
			uint32_t x = 12345;
			assert_int_equal(optim_create(&o, &cfgs[c], N, t, nt, &err), 0);
			o.threads = threads;
			for (int i = 0; i < N; i++)
				w[i] = (float)i / N - 0.5f;
			for (int s = 0; s < STEPS; s++) {
				for (int i = 0; i < N; i++) {
					x = x * 1664525u + 1013904223u;
					g[i] = (float)(x >> 8) / 16777216.0f - 0.5f;
				}
				optim_step(&o, w, g);
			}
			if (threads == 1) {
				memcpy(w1, w, N * sizeof *w);
				memcpy(state1, o.state, 2 * N * sizeof *state1);
			} else {
				assert_memory_equal(w, w1, N * sizeof *w);
				assert_memory_equal(o.state, state1, 2 * N * sizeof *state1);
			}
			optim_free(&o);
		}
	free(w), free(w1), free(g), free(state1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(adam_two_steps),
		cmocka_unit_test(sgd_momentum_steps),
		cmocka_unit_test(plain_sgd_is_gradient_descent),
		cmocka_unit_test(unknown_type_is_refused),
		cmocka_unit_test(schedule_constant),
		cmocka_unit_test(schedule_step),
		cmocka_unit_test(schedule_exponential),
		cmocka_unit_test(schedule_cosine),
		cmocka_unit_test(adamw_two_steps),
		cmocka_unit_test(adamw_leaves_biases_alone),
		cmocka_unit_test(adam_l2_weight_decay),
		cmocka_unit_test(adam_without_decay_is_unchanged),
		cmocka_unit_test(sgd_nesterov_steps),
		cmocka_unit_test(sgd_weight_decay_skips_biases),
		cmocka_unit_test(tensors_outside_the_parameters_are_refused),
		cmocka_unit_test(clip_norm_scales_the_whole_gradient),
		cmocka_unit_test(config_new_keys),
		cmocka_unit_test(adam_threads_same_bits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
