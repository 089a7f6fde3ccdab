/* Pinning the training threads to CPUs (see net_pin_threads in net/net.h). */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include <omp.h>
#include <stdlib.h>

#include "net/net.h"

#ifdef __linux__
#include <sched.h>
#endif

bool net_pin_threads(int threads)
{
#ifdef __linux__
	/* The user's own placement (OpenMP's variables) wins. */
	if (threads < 2 || getenv("OMP_PROC_BIND") || getenv("OMP_PLACES") || getenv("GOMP_CPU_AFFINITY"))
		return false;
	/* Only a run that takes every CPU it may use: with fewer threads than
	 * CPUs, other runs (a sweep of configs, say) may want the rest, and
	 * pinning each of them to the first CPUs would stack them there. */
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof allowed, &allowed) || CPU_COUNT(&allowed) != threads)
		return false;
	int cpu[CPU_SETSIZE], n = 0;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &allowed))
			cpu[n++] = c;
	int failed = 0;
	/* libgomp keeps these threads for every later team of this size or
	 * smaller, in the same order, so each keeps its CPU. */
	#pragma omp parallel num_threads(threads) reduction(+ : failed)
	{
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(cpu[omp_get_thread_num()], &one);
		failed += sched_setaffinity(0, sizeof one, &one) != 0;   /* 0: this thread */
	}
	return failed == 0;
#else
	(void)threads;
	return false;
#endif
}
