/* A sequential network (no `inputs`) must train to exactly the bits it did
 * before networks became graphs: the gradient buffers are now planned from
 * the graph instead of being two fixed ping-pong buffers, and a chain must
 * come out the same. The constants below were computed by this test built
 * against the code before that change (commit ac72cc8); a change that moves
 * them changes every sequential config's results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "net/net.h"
#include "optim/optim.h"
#include "build_helpers.h"
#include "kernels/kernels.h"
#include "testutil.h"

/* The parameters' hash after train_hash(1) and train_hash(2), from the code
 * before graphs (with cnnrun's fixed-order GEMM, and -ffp-contract=off, so
 * gcc and clang builds, and every x86-64 CPU, give these same bits), for
 * each level of the direct convolution's kernels: the portable ones
 * (CNN_ISA=baseline) sum in another order than the AVX2 ones. */
static const struct {
	const char *kernels;
	uint64_t one, two;
} pinned[] = {
	{ "avx2", 0x0f680571accc7e74u, 0xa3d27e5fb2cf492eu },
	{ "baseline", 0xc141db7c2dd85945u, 0xb47e9747a7a34e3du },
};

static const char config[] =
	"name: seq\n"
	"data: {dataset: mnist}\n"
	"input: [1, 28, 28]\n"
	"layers:\n"
	"  - {type: conv, filters: 6, kernel_size: 5}\n"
	"  - {type: batchnorm}\n"
	"  - {type: relu}\n"
	"  - {type: maxpool, pool_size: 2}\n"
	"  - {type: conv, filters: 8, kernel_size: 3, padding: same}\n"
	"  - {type: tanh}\n"
	"  - {type: avgpool, pool_size: 2}\n"
	"  - {type: flatten}\n"
	"  - {type: dropout, rate: 0.2}\n"
	"  - {type: dense, units: 32}\n"
	"  - {type: leaky_relu}\n"
	"  - {type: dense, units: 10}\n"
	"optimizer: {type: adam, lr: 0.01}\n";

static uint64_t train_hash(int threads)
{
	enum { batch = 16, steps = 12 };
	struct net *net = bh_net(config, batch, threads, 5);
	struct optim opt;
	struct cnn_error err;
	int labels[batch];
	uint64_t rng = 99;
	assert_int_equal(optim_create(&opt, &(struct optim_config){ .type = "adam", .lr = 0.01, .beta1 = 0.9,
	                                                            .beta2 = 0.999, .eps = 1e-8 },
	                              net->n_params, net->param_tensors, net->n_param_tensors, &err), 0);
	for (int s = 0; s < steps; s++) {
		double loss;
		int correct;
		for (size_t i = 0; i < (size_t)batch * 28 * 28; i++)
			net->x[i] = test_uniform(&rng, 0, 1);
		for (int i = 0; i < batch; i++)
			labels[i] = (int)test_uniform(&rng, 0, 10);
		net_train_step(net, labels, batch, &loss, &correct);
		optim_step(&opt, net->params, net->grads);
	}
	uint64_t h = test_hash_floats(net->params, net->n_params);
	optim_free(&opt);
	net_free(net);
	return h;
}

static void sequential_bits_unchanged(void **state)
{
	(void)state;
	uint64_t one = train_hash(1), two = train_hash(2);
	print_message("1 thread: 0x%016llx, 2 threads: 0x%016llx\n", (unsigned long long)one,
	              (unsigned long long)two);
	const char *kernels = cnn_kernels_name();
	for (size_t i = 0; i < sizeof pinned / sizeof pinned[0]; i++) {
		if (strcmp(pinned[i].kernels, kernels))
			continue;
		assert_true(one == pinned[i].one);
		assert_true(two == pinned[i].two);
		return;
	}
	fail_msg("no bits pinned for the %s kernels", kernels);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sequential_bits_unchanged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
