/* The softmax cross-entropy with label smoothing: the loss on an example
 * worked by hand, its gradient against central differences, and the two
 * forms of the `loss:` key. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "build_helpers.h"
#include "losses/loss.h"

/* z = (ln 2, 0, 0): p = (1/2, 1/4, 1/4). Smoothing 0.3 over 3 classes gives
 * q = (0.7 + 0.1, 0.1, 0.1) for label 0:
 *   L = -(0.8 ln 1/2 + 0.1 ln 1/4 + 0.1 ln 1/4) = 1.2 ln 2, dL/dz = p - q.
 * For label 1, q = (0.1, 0.8, 0.1): L = 0.1 ln 2 + 0.9 (2 ln 2) = 1.9 ln 2. */
static void smoothed_loss_by_hand(void **state)
{
	(void)state;
	const float z[6] = { (float)log(2.0), 0, 0, (float)log(2.0), 0, 0 };
	const int labels[2] = { 0, 1 };
	float d[6], probs[6];
	int pred[2], correct = 0;
	double loss = softmax_xent_smooth(z, labels, 1, 3, 0.3f, 1.0f, d, pred, probs, &correct);
	assert_float_equal(loss, 1.2 * log(2.0), 1e-6);
	assert_float_equal(d[0], 0.5f - 0.8f, 1e-6);
	assert_float_equal(d[1], 0.25f - 0.1f, 1e-6);
	assert_float_equal(d[2], 0.25f - 0.1f, 1e-6);
	/* Both samples, the gradient scaled by 1/2; accuracy ignores smoothing. */
	loss = softmax_xent_smooth(z, labels, 2, 3, 0.3f, 0.5f, d, pred, probs, &correct);
	assert_float_equal(loss, (1.2 + 1.9) * log(2.0), 1e-6);
	assert_float_equal(d[3], 0.5f * (0.5f - 0.1f), 1e-6);
	assert_float_equal(d[4], 0.5f * (0.25f - 0.8f), 1e-6);
	assert_int_equal(correct, 1 + 1);   /* sample 0 from the first call, then sample 0 again */
	assert_int_equal(pred[0], 0);
	assert_int_equal(pred[1], 0);
	assert_float_equal(probs[4], 0.25f, 1e-6);
}

/* Smoothing 0 is the plain loss, to the bit. */
static void zero_smoothing_is_plain(void **state)
{
	(void)state;
	const float z[8] = { 0.3f, -1.2f, 2.5f, 0.0f, -0.7f, 0.1f, 0.9f, 1.4f };
	const int labels[2] = { 2, 0 };
	float da[8], db[8];
	double a = softmax_xent(z, labels, 2, 4, 0.5f, da, NULL, NULL, NULL);
	double b = softmax_xent_smooth(z, labels, 2, 4, 0.0f, 0.5f, db, NULL, NULL, NULL);
	assert_true(a == b);
	assert_memory_equal(da, db, sizeof da);
}

/* dlogits = scale * dL/dz, checked by central differences of the summed
 * loss (in double) at every logit of 3 samples of 5 classes. */
static void smoothed_gradient_matches_differences(void **state)
{
	(void)state;
	enum { N = 3, K = 5 };
	float z[N * K], d[N * K];
	const int labels[N] = { 4, 0, 2 };
	const float smoothing = 0.1f, scale = 1.0f / N;
	uint32_t s = 7;
	for (int i = 0; i < N * K; i++) {
		s = s * 1664525u + 1013904223u;
		z[i] = (float)(s >> 8) / (float)(1 << 24) * 6.0f - 3.0f;
	}
	softmax_xent_smooth(z, labels, N, K, smoothing, scale, d, NULL, NULL, NULL);
	double sum_d = 0;
	for (int i = 0; i < N * K; i++) {
		const float eps = 1e-2f, keep = z[i];
		z[i] = keep + eps;
		double up = softmax_xent_smooth(z, labels, N, K, smoothing, scale, NULL, NULL, NULL, NULL);
		z[i] = keep - eps;
		double down = softmax_xent_smooth(z, labels, N, K, smoothing, scale, NULL, NULL, NULL, NULL);
		z[i] = keep;
		double numeric = scale * (up - down) / (2.0 * eps);
		assert_float_equal(d[i], numeric, 2e-5);
		sum_d += d[i];
	}
	/* p and q both sum to 1, so each sample's gradient sums to 0. */
	assert_float_equal(sum_d, 0.0, 1e-6);
}

#define HEAD "data: {dataset: mnist, path: /tmp/m, validation: 0}\ninput: [1, 28, 28]\n" \
             "layers:\n  - {type: flatten}\n  - {type: dense, units: 10}\noptimizer: {type: adam}\n"

static void loss_key_forms(void **state)
{
	(void)state;
	struct cfg_doc doc;
	struct model_config cfg;
	char msg[512];
	assert_int_equal(bh_build(HEAD "loss: softmax_cross_entropy\n", &doc, &cfg, msg, sizeof msg), 0);
	assert_string_equal(cfg.loss, "softmax_cross_entropy");
	assert_true(cfg.label_smoothing == 0);
	model_config_free(&cfg);
	cfg_free(&doc);
	assert_int_equal(bh_build(HEAD, &doc, &cfg, msg, sizeof msg), 0);
	assert_string_equal(cfg.loss, "softmax_cross_entropy");
	model_config_free(&cfg);
	cfg_free(&doc);
	assert_int_equal(bh_build(HEAD "loss: {type: softmax_cross_entropy, label_smoothing: 0.1}\n",
	                          &doc, &cfg, msg, sizeof msg), 0);
	assert_string_equal(cfg.loss, "softmax_cross_entropy");
	assert_true(cfg.label_smoothing == 0.1);
	model_config_free(&cfg);
	cfg_free(&doc);
	assert_non_null(bh_error(HEAD "loss: {type: softmax_cross_entropy, label_smoothing: 1.5}\n", msg, sizeof msg));
	assert_non_null(strstr(msg, "t.yaml:7:"));
	assert_non_null(strstr(msg, "label_smoothing"));
	assert_non_null(bh_error(HEAD "loss: {label_smoothing: 0.1}\n", msg, sizeof msg));
	assert_non_null(strstr(msg, "type"));
	assert_non_null(bh_error(HEAD "loss: {type: softmax_cross_entropy, smoothing: 0.1}\n", msg, sizeof msg));
	assert_non_null(strstr(msg, "smoothing"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(smoothed_loss_by_hand),
		cmocka_unit_test(zero_smoothing_is_plain),
		cmocka_unit_test(smoothed_gradient_matches_differences),
		cmocka_unit_test(loss_key_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
