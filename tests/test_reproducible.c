/* The same bits on every x86-64 CPU: a short training run (a conv + dense
 * network whose products all go through cnn_gemm, Adam, on a generated
 * batch) must end with exactly the pinned loss and weights, whichever CPU
 * runs it and whichever kernel OpenBLAS or the fixed-order GEMM would pick.
 *
 * tests/CMakeLists.txt runs this program several times: as it is, with
 * OPENBLAS_CORETYPE=Haswell and =SkylakeX (OpenBLAS's kernels, which sum in
 * different orders; the run checks that OpenBLAS took the forced kernel),
 * and with CNN_GEMM_PATH=portable, avx2 and avx512 (cnnrun's own paths).
 * Each must print the pinned bits, so all of them print the same.
 *
 * When a change is meant to change the bits (another initialisation, a
 * kernel that sums in another order), run this test, check the new figures
 * on a second CPU kind if one is at hand, and update PINNED_* below. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cblas.h>
#include <cmocka.h>

#include "net/net.h"
#include "optim/optim.h"
#include "build_helpers.h"
#include "kernels/gemm_fixed.h"
#include "testutil.h"
#include "util/hash.h"

/* The loss summed over the batch at the last step, and FNV-1a of the
 * final parameters' bytes. */
#define PINNED_LOSS "0x1.1e237f47bb3e1p-7"
#define PINNED_PARAMS_FNV UINT64_C(0x4c047e41994da5b1)

/* Both convolutions through im2col (cnnrun's direct kernels are fixed-order
 * too, but this test is about the GEMM), two dense layers. */
static const char config[] =
	"name: pinned\n"
	"data: {dataset: mnist}\n"
	"input: [1, 28, 28]\n"
	"layers:\n"
	"  - {type: conv, filters: 6, kernel_size: 5, stride: 2, algorithm: im2col}\n"
	"  - {type: relu}\n"
	"  - {type: maxpool, pool_size: 2}\n"
	"  - {type: conv, filters: 20, kernel_size: 3, padding: same, algorithm: im2col}\n"
	"  - {type: relu}\n"
	"  - {type: flatten}\n"
	"  - {type: dense, units: 33}\n"
	"  - {type: relu}\n"
	"  - {type: dense, units: 10}\n"
	"optimizer: {type: adam, lr: 0.01}\n";

enum { BATCH = 24, STEPS = 12, THREADS = 2 };

/* Class k: a bright 6x6 block at one of ten places, on faint noise. */
static void make_batch(float *x, int *labels, uint64_t *rng)
{
	for (int i = 0; i < BATCH; i++) {
		float *img = x + (size_t)i * 28 * 28;   /* (28, 28) */
		int k = i % 10, top = 2 + 12 * (k / 5), left = 1 + 5 * (k % 5);

		labels[i] = k;
		for (int p = 0; p < 28 * 28; p++)
			img[p] = test_uniform(rng, 0, 0.3f);
		for (int r = 0; r < 6; r++)
			for (int c = 0; c < 6; c++)
				img[(top + r) * 28 + left + c] += 1.0f;
	}
}


/* OpenBLAS must have taken the kernel the environment forces, or the
 * registrations that force one would test nothing. */
static void check_forced_openblas_core(void)
{
	const char *want = getenv("OPENBLAS_CORETYPE");
	const char *got = openblas_get_corename();

	if (!want)
		return;
	print_message("OPENBLAS_CORETYPE=%s: OpenBLAS runs its %s kernels\n", want, got);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	/* OpenBLAS may refuse AVX-512 kernels on a CPU without AVX-512 */
	if (strcasecmp(want, "SkylakeX") == 0 && !__builtin_cpu_supports("avx512f"))
		return;
#endif
	if (strcasecmp(want, got) != 0)
		fail_msg("OPENBLAS_CORETYPE=%s but OpenBLAS reports core %s", want, got);
}

static void check_forced_gemm_path(void)
{
	const char *want = getenv("CNN_GEMM_PATH");

	print_message("cnnrun's GEMM takes its %s path\n", gemm_fixed_path());
	if (want && strcmp(want, gemm_fixed_path()) != 0)
		print_message("(this CPU lacks the %s path CNN_GEMM_PATH asks for)\n", want);
}

static void short_run_gives_the_pinned_bits(void **state)
{
	struct net *net = bh_net(config, BATCH, THREADS, 2026);
	struct optim opt;
	struct cnn_error err;
	int labels[BATCH];
	uint64_t rng = 15;
	double loss = 0;
	int correct;
	char got[64];

	(void)state;
	check_forced_openblas_core();
	check_forced_gemm_path();
	assert_int_equal(optim_create(&opt,
	                              &(struct optim_config){ .type = "adam", .lr = 0.01,
	                                                      .beta1 = 0.9, .beta2 = 0.999,
	                                                      .eps = 1e-8 },
	                              net->n_params, net->param_tensors, net->n_param_tensors,
	                              &err),
	                 0);
	for (int s = 0; s < STEPS; s++) {
		make_batch(net->x, labels, &rng);
		net_train_step(net, labels, BATCH, &loss, &correct);
		optim_step(&opt, net->params, net->grads);
	}
	uint64_t h = fnv1a_bytes(FNV1A_OFFSET, net->params, net->n_params * sizeof(*net->params));
	snprintf(got, sizeof(got), "%a", loss);
	print_message("after %d steps: loss %s (%.9g), %d/%d correct, parameters' FNV-1a 0x%016llx\n",
	              STEPS, got, loss, correct, BATCH, (unsigned long long)h);
	if (strcmp(got, PINNED_LOSS) != 0 || h != PINNED_PARAMS_FNV)
		fail_msg("the bits changed: loss %s (pinned %s), parameters 0x%016llx (pinned "
		         "0x%016llx); if that is meant, update PINNED_* in tests/test_reproducible.c",
		         got, PINNED_LOSS, (unsigned long long)h,
		         (unsigned long long)PINNED_PARAMS_FNV);
	optim_free(&opt);
	net_free(net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(short_run_gives_the_pinned_bits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
