/* The direct convolution's kernels at each instruction-set level
 * (src/kernels/dispatch.c: baseline, avx2, avx512) side by side, on the
 * convolutions of configs/mnist.yaml (batch 32) and configs/lenet.yaml
 * (batch 64), one thread's half of the batch each. Prints the thread CPU
 * time per call (the best of many calls, the levels alternating, so a
 * shared machine's load inflates them alike) and checks that the levels
 * above baseline give the same bits. docs/performance.md has a run.
 *
 *   build: cmake --build build --target cnnrun_static, then
 *          cc -std=c11 -O2 -Isrc -o kernel_levels bench/kernel_levels.c build/libcnnrun.a \
 *             $(pkg-config --libs yaml-0.1 zlib openblas libjpeg) -fopenmp -lm
 *   usage: kernel_levels [REPEATS [all]]   default 200; `all` adds the
 *          baseline level (slow: 10-40x the others) */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/dispatch.h"

struct shape_ {
	const char *where;
	struct conv_geom g;
	int n;             /* images per call: half the batch */
	double zeros;      /* fraction of dy that is zero (ReLU + max-pooling) */
};

static const struct shape_ shapes[] = {
	{ "mnist conv1 1->4 5x5 24x24", { 1, 28, 28, 4, 5, 1, 0, 0, 24, 24 }, 16, 0.85 },
	{ "mnist conv2 4->4 5x5 8x8", { 4, 12, 12, 4, 5, 1, 0, 0, 8, 8 }, 16, 0.85 },
	{ "lenet conv1 1->32 5x5 28x28", { 1, 28, 28, 32, 5, 1, 2, 2, 28, 28 }, 32, 0.85 },
	{ "lenet conv2 32->64 5x5 14x14", { 32, 14, 14, 64, 5, 1, 2, 2, 14, 14 }, 32, 0.85 },
};

static double cpu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec + 1e-9 * t.tv_nsec;
}

static uint64_t rng = 88172645463325252u;

static float uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float)(rng >> 40) / (float)(1u << 24) * 2.0f - 1.0f;
}

static float *floats(size_t n)
{
	float *p = calloc(n ? n : 1, sizeof(*p));

	if (!p)
		abort();
	return p;
}

enum { LEVELS = 3 };

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 200;
	bool all = argc > 2 && !strcmp(argv[2], "all");
	const struct cnn_kernel_ops *ops[LEVELS];

	for (int l = 0; l < LEVELS; l++)
		ops[l] = l || all ? cnn_kernels_level(cnn_isa_names[l]) : NULL;
	printf("%-30s %-8s %10s %10s %10s   (us per call, thread CPU time, best of %d)\n", "shape",
	       "pass", cnn_isa_names[0], cnn_isa_names[1], cnn_isa_names[2], reps);
	for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
		const struct conv_geom *g = &shapes[s].g;
		int n = shapes[s].n;
		size_t in = (size_t)n * g->c * g->h * g->w, out = (size_t)n * g->filters * g->oh * g->ow;
		size_t nw = (size_t)g->filters * g->c * g->k * g->k;
		float *x = floats(in), *w = floats(nw), *b = floats(g->filters), *dy = floats(out);
		float *y[LEVELS], *dx[LEVELS], *dw[LEVELS], *db[LEVELS], *scratch[LEVELS];
		double best[LEVELS][2];

		for (size_t i = 0; i < in; i++)
			x[i] = uniform();
		for (size_t i = 0; i < nw; i++)
			w[i] = uniform();
		for (size_t i = 0; i < out; i++)
			dy[i] = (uniform() + 1) / 2 < shapes[s].zeros ? 0.0f : uniform();
		for (int l = 0; l < LEVELS; l++) {
			best[l][0] = best[l][1] = 1e30;
			y[l] = floats(out);
			dx[l] = floats(in);
			dw[l] = floats(nw);
			db[l] = floats(g->filters);
			scratch[l] = ops[l] ? floats(ops[l]->conv_direct_scratch_floats(g)) : NULL;
		}
		/* every call sees the same inputs; dw and db start from 0 each time */
		for (int r = 0; r < reps; r++)
			for (int l = 0; l < LEVELS; l++) {
				if (!ops[l])
					continue;
				double t0 = cpu_now();
				ops[l]->conv_direct_forward(g, w, b, x, y[l], n, scratch[l]);
				double t1 = cpu_now();
				memset(dw[l], 0, nw * sizeof(float));
				memset(db[l], 0, g->filters * sizeof(float));
				double t2 = cpu_now();
				ops[l]->conv_direct_backward(g, w, x, dy, s % 2 ? dx[l] : NULL, dw[l], db[l], n,
				                             scratch[l]);
				double t3 = cpu_now();
				if (t1 - t0 < best[l][0])
					best[l][0] = t1 - t0;
				if (t3 - t2 < best[l][1])
					best[l][1] = t3 - t2;
			}
		for (int pass = 0; pass < 2; pass++) {
			printf("%-30s %-8s", pass ? "" : shapes[s].where,
			       pass ? (s % 2 ? "backward" : "bwd, no dx") : "forward");
			for (int l = 0; l < LEVELS; l++)
				printf(" %10.1f", ops[l] ? best[l][pass] * 1e6 : 0.0);
			printf("\n");
		}
		for (int l = 2; l < LEVELS; l++)
			if (ops[l] && ops[1] &&
			    (memcmp(y[l], y[1], out * sizeof(float)) ||
			     memcmp(dw[l], dw[1], nw * sizeof(float)) ||
			     memcmp(db[l], db[1], g->filters * sizeof(float)) ||
			     (s % 2 && memcmp(dx[l], dx[1], in * sizeof(float)))))
				printf("  DIFFERENT BITS: %s against %s\n", cnn_isa_names[l], cnn_isa_names[1]);
		for (int l = 0; l < LEVELS; l++) {
			free(y[l]);
			free(dx[l]);
			free(dw[l]);
			free(db[l]);
			free(scratch[l]);
		}
		free(x);
		free(w);
		free(b);
		free(dy);
	}
	return 0;
}
