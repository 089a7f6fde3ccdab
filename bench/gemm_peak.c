/* The machine's practical GEMM peak: one large square sgemm through the same
 * OpenBLAS cnnrun links, on 1 and on N threads, best of several runs.
 * bench/run builds and runs it; its GFLOP/s are the yardstick for the
 * fraction of peak each network reaches.
 *
 *   usage: gemm_peak [SIZE [THREADS...]]     default 2048, threads 1 2 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double best_gflops(int n, const float *a, const float *b, float *c, int reps)
{
	double best = 0;

	for (int r = 0; r < reps; r++) {
		double t0 = now();
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n,
		            0.0f, c, n);
		double g = 2.0 * n * n * (double)n / (now() - t0) / 1e9;
		if (g > best)
			best = g;
	}
	return best;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2048;
	size_t nn = (size_t)n * (size_t)n;
	float *a = malloc(nn * sizeof(*a)), *b = malloc(nn * sizeof(*b)), *c = malloc(nn * sizeof(*c));

	if (n < 1 || !a || !b || !c) {
		fprintf(stderr, "gemm_peak: bad size or out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < nn; i++) {
		a[i] = (float)(i % 7) * 0.25f - 0.75f;
		b[i] = (float)(i % 5) * 0.5f - 1.0f;
	}
	int nthreads = argc > 2 ? argc - 2 : 2;
	for (int i = 0; i < nthreads; i++) {
		int t = argc > 2 ? atoi(argv[2 + i]) : i + 1;
		openblas_set_num_threads(t);
		best_gflops(n, a, b, c, 1); /* warm up: page in, start the threads */
		printf("sgemm %dx%dx%d, %d thread%s: %.1f GFLOP/s\n", n, n, n, t, t == 1 ? "" : "s",
		       best_gflops(n, a, b, c, 5));
	}
	free(a);
	free(b);
	free(c);
	return 0;
}
