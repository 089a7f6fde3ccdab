/* A sequential network (no `inputs`) must train to exactly the bits it did
 * before networks became graphs: the gradient buffers are now planned from
 * the graph instead of being two fixed ping-pong buffers, and a chain must
 * come out the same. The constants below were computed by this test built
 * against the code before that change (commit ac72cc8); a change that moves
 * them changes every sequential config's results.
 *
 * A second network has only `algorithm: direct` convolutions, in every
 * shape the direct kernels tell apart (the planar vectorised path with a
 * sparse and a dense input gradient, the channels-last backward, the
 * portable loops of stride 2): its bits are pinned per level too.
 *
 * tests/CMakeLists.txt runs this program with CNN_ISA=baseline, avx2 and
 * avx512: each level must give its pinned bits, and avx512 those of avx2
 * (docs/design.md, "Kernel levels"). A CPU that lacks the level asked for
 * skips, saying so (exit 77, a failure under CI). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "net/net.h"
#include "build_helpers.h"
#include "kernels/kernels.h"
#include "testutil.h"

/* The parameters' hash after train_hash(1) and train_hash(2), from the code
 * before graphs (with cnnrun's fixed-order GEMM, and -ffp-contract=off, so
 * gcc and clang builds, and every x86-64 CPU, give these same bits), for
 * each level of the direct convolution's kernels: the portable ones
 * (CNN_ISA=baseline) sum in another order than the AVX2 ones. */
struct pin {
	const char *kernels;
	uint64_t one, two;
};

/* config has a batchnorm: re-pinned when batchnorm's sums took their
 * fixed lane structure (src/kernels/bn_lanes.h), a new summation order
 * (before: avx2 0x0f680571accc7e74, 0xa3d27e5fb2cf492e; baseline
 * 0xc141db7c2dd85945, 0xb47e9747a7a34e3d). */
static const struct pin pinned[] = {
	{ "avx2", 0x77509c942026c51eu, 0xfb8b60de2e3284a4u },
	{ "avx512", 0x77509c942026c51eu, 0xfb8b60de2e3284a4u },   /* = avx2 */
	{ "baseline", 0xc47cab77893a3d79u, 0xd753341ccf747a1fu },
};

static const struct pin pinned_direct[] = {
	{ "avx2", 0xe872b6502686eb61u, 0xd17696e166924fffu },
	{ "avx512", 0xe872b6502686eb61u, 0xd17696e166924fffu },   /* = avx2 */
	{ "baseline", 0xfcbf2783a97871fdu, 0xb8852dcbd7311787u },
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

/* Layer by layer: the planar forward and a backward without dx (the
 * first layer); the planar backward scattering a sparse dy (after ReLU and
 * max-pooling); the channels-last backward (9 input channels); the planar
 * backward gathering a dense dy (after tanh); the portable loops (stride 2). */
static const char config_direct[] =
	"name: direct\n"
	"data: {dataset: mnist}\n"
	"input: [1, 28, 28]\n"
	"layers:\n"
	"  - {type: conv, filters: 5, kernel_size: 5, algorithm: direct}\n"
	"  - {type: relu}\n"
	"  - {type: maxpool, pool_size: 2}\n"
	"  - {type: conv, filters: 9, kernel_size: 3, padding: same, algorithm: direct}\n"
	"  - {type: relu}\n"
	"  - {type: maxpool, pool_size: 2}\n"
	"  - {type: conv, filters: 6, kernel_size: 5, padding: same, algorithm: direct}\n"
	"  - {type: tanh}\n"
	"  - {type: conv, filters: 6, kernel_size: 3, padding: same, algorithm: direct}\n"
	"  - {type: tanh}\n"
	"  - {type: conv, filters: 4, kernel_size: 3, stride: 2, padding: same, algorithm: direct}\n"
	"  - {type: flatten}\n"
	"  - {type: dense, units: 10}\n"
	"optimizer: {type: adam, lr: 0.01}\n";

/* bh_train_adam's batches: uniform images and labels, from one stream
 * (ctx) carried from step to step. */
static void fill_uniform(struct net *net, int n, int *labels, int step, void *ctx)
{
	uint64_t *rng = ctx;
	(void)step;
	for (size_t i = 0; i < (size_t)n * 28 * 28; i++)
		net->x[i] = test_uniform(rng, 0, 1);
	for (int i = 0; i < n; i++)
		labels[i] = (int)test_uniform(rng, 0, 10);
}

static uint64_t train_hash(const char *config, int threads)
{
	enum { batch = 16, steps = 12 };
	struct net *net = bh_net(config, batch, threads, 5);
	uint64_t rng = 99;
	bh_train_adam(net, batch, steps, fill_uniform, &rng, NULL, NULL);
	uint64_t h = test_hash_floats(net->params, net->n_params);
	net_free(net);
	return h;
}

/* config on 1 and 2 threads gives the bits pinned for the kernels in use */
static void check_pinned(const char *config, const struct pin *pins, size_t npins)
{
	struct cnn_error err = { 0 };

	if (cnn_kernels_select(&err))
		test_skip("%s", err.msg);
	uint64_t one = train_hash(config, 1), two = train_hash(config, 2);
	const char *kernels = cnn_kernels_name();
	print_message("%s kernels: 1 thread: 0x%016llx, 2 threads: 0x%016llx\n", kernels,
	              (unsigned long long)one, (unsigned long long)two);
	for (size_t i = 0; i < npins; i++) {
		if (strcmp(pins[i].kernels, kernels))
			continue;
		assert_true(one == pins[i].one);
		assert_true(two == pins[i].two);
		return;
	}
	fail_msg("no bits pinned for the %s kernels", kernels);
}

static void sequential_bits_unchanged(void **state)
{
	(void)state;
	check_pinned(config, pinned, sizeof pinned / sizeof pinned[0]);
}

static void direct_bits_pinned(void **state)
{
	(void)state;
	check_pinned(config_direct, pinned_direct, sizeof pinned_direct / sizeof pinned_direct[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sequential_bits_unchanged),
		cmocka_unit_test(direct_bits_pinned),
	};
	return test_exit_status(cmocka_run_group_tests(tests, NULL, NULL));
}
