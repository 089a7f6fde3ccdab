/* A checkpoint of a sequential network written before networks became
 * graphs (tests/data/sequential-before-graphs.ckpt.bin, by the code of commit
 * ac72cc8: conv, batchnorm, relu, maxpool, conv, relu, maxpool, flatten,
 * dense, one short epoch) still loads, and gives the same scores bit for
 * bit: OLD_PROBS_HASH was computed by this test built against that code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "runner/common.h"
#include "testutil.h"

/* the scores' hash from the code before graphs, as in test_sequential_bits.c */
#define OLD_PROBS_HASH 0x503ef9de0a36f32au

static void old_checkpoint_loads(void **state)
{
	(void)state;
	enum { n = 8 };
	struct saved_model m;
	struct cnn_error err;
	char msg[600];
	if (saved_model_open("tests/data/sequential-before-graphs.ckpt.bin", n, 1, &m, &err))
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	assert_int_equal(m.net->n_layers, 9);
	assert_int_equal(m.net->n_classes, 10);
	uint64_t rng = 21;
	for (size_t i = 0; i < (size_t)n * 28 * 28; i++)
		m.net->x[i] = test_uniform(&rng, 0, 1);
	int labels[n] = { 0 }, pred[n];
	float probs[n * 10];
	double loss;
	net_eval(m.net, labels, n, &loss, pred, probs);
	uint64_t h = test_hash_floats(probs, n * 10);
	print_message("scores hash 0x%016llx\n", (unsigned long long)h);
	assert_true(h == OLD_PROBS_HASH);
	saved_model_close(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(old_checkpoint_loads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
