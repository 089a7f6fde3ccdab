/* net_pin_threads: when it pins (a run that takes every allowed CPU, no
 * placement of the user's), and that each thread of a team then runs on one
 * CPU of its own. Linux only; elsewhere it must refuse. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <omp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "net/net.h"
#include "testutil.h"

#ifdef __linux__
#include <sched.h>

static int allowed_cpus(void)
{
	cpu_set_t set;
	assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
	return CPU_COUNT(&set);
}

static void test_when_it_pins(void **state)
{
	(void)state;
	int n = allowed_cpus();

	assert_false(net_pin_threads(1));
	assert_false(net_pin_threads(n + 1));
	if (n > 2)
		assert_false(net_pin_threads(n - 1));   /* leaves CPUs to other runs */
	setenv("OMP_PROC_BIND", "false", 1);
	assert_false(net_pin_threads(n));          /* the user's placement wins */
	unsetenv("OMP_PROC_BIND");
	if (n < 2)
		test_skip("one CPU allowed: nothing to pin apart");
	/* A sandbox may refuse affinity calls altogether (setting the mask the
	 * process already has changes nothing where they are allowed). */
	cpu_set_t same;
	assert_int_equal(sched_getaffinity(0, sizeof same, &same), 0);
	if (sched_setaffinity(0, sizeof same, &same) != 0)
		test_skip("this sandbox refuses sched_setaffinity");

	assert_true(net_pin_threads(n));
	int single = 0, distinct = 0;
	int cpu_of[CPU_SETSIZE] = { 0 };
	#pragma omp parallel num_threads(n) reduction(+ : single)
	{
		cpu_set_t mine;
		sched_getaffinity(0, sizeof mine, &mine);
		single += CPU_COUNT(&mine) == 1;
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &mine)) {
				#pragma omp atomic
				cpu_of[c]++;
			}
	}
	assert_int_equal(single, n);
	for (int c = 0; c < CPU_SETSIZE; c++) {
		assert_true(cpu_of[c] <= 1);
		distinct += cpu_of[c];
	}
	assert_int_equal(distinct, n);
}
#else
static void test_when_it_pins(void **state)
{
	(void)state;
	assert_false(net_pin_threads(2));
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_when_it_pins),
	};
	return test_exit_status(cmocka_run_group_tests(tests, NULL, NULL));
}
