/* The communicator's library half (src/dist/dist.c): the one-process
 * table, the fold it must match, agreement and launcher detection. The MPI
 * half runs in tests/cli/test_mpi.sh. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "runner/runner.h"
#include "dist/dist.h"

/* chain_sum on one process is the network's in-process fold: out = p0,
 * then += p1, += p2 in order; a -0.0 in p0 survives (nothing is added to
 * +0.0 first), and the order shows in the rounding. */
static void test_local_chain_sum_is_the_left_fold(void **state)
{
	(void)state;
	float a[3] = { -0.0f, 1e8f, 1.0f }, b[3] = { -0.0f, -1e8f, 1e-8f }, c[3] = { -0.0f, 1.0f, 1e-8f };
	float *parts[3] = { a, b, c }, out[3];
	dist_local.ops->chain_sum(&dist_local, out, parts, 3, 3);
	assert_true(out[0] == 0.0f && signbit(out[0]));
	assert_true(out[1] == 1.0f);   /* 1e8 + (-1e8 + 1) would give 0 */
	assert_true(out[2] == (1.0f + 1e-8f) + 1e-8f);
	/* in place, as the network calls it (out is its first part) */
	dist_local.ops->chain_sum(&dist_local, a, parts, 3, 3);
	assert_memory_equal(a, out, sizeof out);
}

static void test_one_process_agrees_with_itself(void **state)
{
	(void)state;
	struct cnn_error err = { 0 };
	struct dist one = dist_local;
	assert_int_equal(dist_agree(NULL, CNN_BAD_CONFIG, &err), CNN_BAD_CONFIG);
	assert_int_equal(dist_agree(&one, CNN_FAILED, &err), CNN_FAILED);
	assert_int_equal(dist_agree(&one, CNN_OK, &err), CNN_OK);
	assert_true(dist_should_print(NULL));
	assert_true(dist_should_print(&one));
	assert_false(dist_parallel(&one));
	assert_int_equal(dist_check_same(&one, 42, "weights", &err), 0);
	assert_int_equal(one.ops->max_int(&one, 7), 7);
}

static void test_checksum(void **state)
{
	(void)state;
	float w[4] = { 1, 2, 3, 4 };
	uint64_t h = dist_checksum(w, sizeof w);
	assert_true(h == dist_checksum(w, sizeof w));
	w[3] = nextafterf(w[3], 5);   /* one last bit */
	assert_true(h != dist_checksum(w, sizeof w));
	assert_true(dist_checksum("", 0) == 0xcbf29ce484222325u);   /* FNV-1a's offset basis */
}

static void test_launcher_environment(void **state)
{
	(void)state;
	const char *vars[] = { "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "PMI_SIZE", "PMI_RANK",
	                       "SLURM_STEP_NUM_TASKS", "SLURM_PROCID" };
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
	assert_int_equal(dist_launcher_size(), 1);
	assert_int_equal(dist_launcher_rank(), 0);
	setenv("PMI_SIZE", "4", 1);
	setenv("PMI_RANK", "3", 1);
	assert_int_equal(dist_launcher_size(), 4);
	assert_int_equal(dist_launcher_rank(), 3);
	setenv("OMPI_COMM_WORLD_SIZE", "1", 1);   /* mpirun -np 1: one process */
	setenv("OMPI_COMM_WORLD_RANK", "0", 1);
	assert_int_equal(dist_launcher_size(), 1);
	assert_int_equal(dist_launcher_rank(), 0);
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_chain_sum_is_the_left_fold),
		cmocka_unit_test(test_one_process_agrees_with_itself),
		cmocka_unit_test(test_checksum),
		cmocka_unit_test(test_launcher_environment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
