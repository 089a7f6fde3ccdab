/* cnnrun's fixed-order sgemm (src/kernels/gemm_fixed.c) against OpenBLAS's
 * cblas_sgemm on one thread, on the products the configs in configs/ make:
 * per image for convolutions, per thread's share of the batch for dense
 * layers (the batch split over 2 threads). Prints microseconds per call
 * (the best of several runs) and the ratio; docs/performance.md has a run.
 * Then the convolutions' forward products as the layer runs them
 * (src/kernels/conv_gemm.c: a block of images side by side, from the bias)
 * against what it ran before, image by image: y filled with the bias, then
 * gemm_fixed (the same bits; im2col is outside both).
 *
 *   build: cc -O2 -Isrc -o gemm_shapes bench/gemm_shapes.c src/kernels/gemm_fixed.c \
 *          src/kernels/conv_gemm.c $(pkg-config --cflags --libs openblas) -lm
 *   usage: gemm_shapes [SECONDS_PER_SHAPE]     default 0.2 */
#include <cblas.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/conv_gemm.h"
#include "kernels/gemm_fixed.h"

struct shape_ {
	const char *where;   /* config and product */
	bool ta, tb;
	int m, n, k;
	float beta;
};

static const struct shape_ shapes[] = {
	{ "mnist dense fwd (4 images)", false, true, 4, 10, 64, 1 },
	{ "mnist dense dW", true, false, 10, 64, 4, 1 },
	{ "mnist dense dx", false, false, 4, 64, 10, 0 },
	{ "lenet5 conv2 fwd", false, false, 16, 100, 150, 1 },
	{ "lenet5 dense1 fwd (16)", false, true, 16, 120, 400, 1 },
	{ "lenet5 dense1 dW", true, false, 120, 400, 16, 1 },
	{ "lenet5 dense1 dx", false, false, 16, 400, 120, 0 },
	{ "lenet5 dense2 fwd", false, true, 16, 84, 120, 1 },
	{ "lenet conv1 fwd", false, false, 32, 784, 25, 1 },
	{ "lenet conv2 fwd", false, false, 64, 196, 800, 1 },
	{ "lenet dense1 fwd (32)", false, true, 32, 128, 3136, 1 },
	{ "lenet dense1 dW", true, false, 128, 3136, 32, 1 },
	{ "lenet dense1 dx", false, false, 32, 3136, 128, 0 },
	{ "lenet dense2 fwd", false, true, 32, 10, 128, 1 },
	{ "best conv1 dW (im2col)", false, true, 32, 25, 784, 1 },
	{ "best conv2 dW (im2col)", false, true, 64, 800, 196, 1 },
	{ "best conv2 dx (im2col)", true, false, 800, 196, 64, 0 },
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void blas(const struct shape_ *s, const float *a, const float *b, float *c)
{
	cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
	            s->tb ? CblasTrans : CblasNoTrans, s->m, s->n, s->k, 1.0f, a,
	            s->ta ? s->m : s->k, b, s->tb ? s->k : s->n, s->beta, c, s->n);
}

static void fixed(const struct shape_ *s, const float *a, const float *b, float *c)
{
	gemm_fixed(s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, b, s->beta, c);
}

/* best microseconds per call over rounds of calls filling `seconds` */
static double best_us(void (*f)(const struct shape_ *, const float *, const float *, float *),
                      const struct shape_ *s, const float *a, const float *b, float *c,
                      double seconds)
{
	double best = 1e30, end = now() + seconds;

	while (now() < end) {
		int calls = 0;
		double t0 = now(), t;

		do {
			f(s, a, b, c);
			calls++;
			t = now() - t0;
		} while (t < 2e-3);
		if (t / calls < best)
			best = t / calls;
	}
	return best * 1e6;
}

/* A convolution's forward product: filters x (images * pixels) x ckk. */
struct conv_shape {
	const char *where;
	int filters, ckk, ohw, images;
};

static const struct conv_shape conv_shapes[] = {
	{ "lenet conv1 (8 images)", 32, 25, 784, 8 },
	{ "lenet conv2 (8 images)", 64, 800, 196, 8 },
	{ "resnet 14x14 (16 images)", 16, 144, 196, 16 },
	{ "resnet 7x7 (16 images)", 32, 288, 49, 16 },
	{ "resnet 4x4 (16 images)", 64, 576, 16, 16 },
	{ "cifar10 stem (4 images)", 32, 27, 1024, 4 },
	{ "cifar10 32x32 (4 images)", 32, 288, 1024, 4 },
	{ "cifar10 16x16 (4 images)", 64, 576, 256, 4 },
	{ "cifar10 8x8 (4 images)", 128, 576, 64, 4 },
};

struct conv_args {
	const struct conv_shape *s;
	const float *w, *bias, *col, *col1;   /* col (ckk, ld) for the block, col1 (ckk, ohw) */
	size_t ld;
	float *y, *acc;
};

/* before: per image, y = bias, then gemm_fixed onto it */
static void conv_before(const struct conv_args *a)
{
	const struct conv_shape *s = a->s;

	for (int i = 0; i < s->images; i++) {
		float *yi = a->y + (size_t)i * s->filters * s->ohw;   /* (filters, ohw) */
		for (int f = 0; f < s->filters; f++)
			for (int q = 0; q < s->ohw; q++)
				yi[(size_t)f * s->ohw + q] = a->bias[f];
		gemm_fixed(false, false, s->filters, s->ohw, s->ckk, 1.0f, a->w, a->col1, 1.0f, yi);
	}
}

static void conv_block(const struct conv_args *a)
{
	const struct conv_shape *s = a->s;

	conv_gemm_forward(s->filters, s->ckk, s->ohw, s->images, a->w, a->bias, a->col, a->ld,
	                  a->y, a->acc);
}

static double conv_best_us(void (*f)(const struct conv_args *), const struct conv_args *a,
                           double seconds)
{
	double best = 1e30, end = now() + seconds;

	while (now() < end) {
		double t0 = now();
		f(a);
		if (now() - t0 < best)
			best = now() - t0;
	}
	return best * 1e6;
}

static int conv_table(double seconds)
{
	printf("\n%-28s %7s %6s %5s  %10s %10s %10s %10s %6s\n", "convolution forward", "filters",
	       "pixels", "ckk", "before us", "GFLOP/s", "block us", "GFLOP/s", "before/block");
	for (size_t i = 0; i < sizeof(conv_shapes) / sizeof(conv_shapes[0]); i++) {
		const struct conv_shape *s = &conv_shapes[i];
		size_t ncol = (size_t)s->images * s->ohw, ld = conv_gemm_ld(ncol);
		float *w = malloc((size_t)s->filters * s->ckk * sizeof(float));
		float *bias = malloc((size_t)s->filters * sizeof(float));
		float *col = calloc((size_t)s->ckk * ld, sizeof(float));
		float *col1 = malloc((size_t)s->ckk * s->ohw * sizeof(float));
		float *y = malloc(ncol * s->filters * sizeof(float));
		float *acc = malloc(conv_gemm_acc_floats(s->filters) * sizeof(float));
		double flop = 2.0 * s->filters * (double)s->ckk * ncol;

		if (!w || !bias || !col || !col1 || !y || !acc)
			return 1;
		for (size_t e = 0; e < (size_t)s->filters * s->ckk; e++)
			w[e] = (float)((e * 7) % 13) / 13.0f - 0.5f;
		for (int f = 0; f < s->filters; f++)
			bias[f] = 0.25f;
		for (size_t e = 0; e < (size_t)s->ckk * ld; e++)
			col[e] = e % ld < ncol ? (float)((e * 5) % 11) / 11.0f - 0.5f : 0.0f;
		for (size_t e = 0; e < (size_t)s->ckk * s->ohw; e++)
			col1[e] = (float)((e * 5) % 11) / 11.0f - 0.5f;

		struct conv_args a = { s, w, bias, col, col1, ld, y, acc };
		double tb = conv_best_us(conv_before, &a, seconds);
		double tk = conv_best_us(conv_block, &a, seconds);
		printf("%-28s %7d %6zu %5d  %10.2f %10.1f %10.2f %10.1f %6.2f\n", s->where,
		       s->filters, ncol, s->ckk, tb, flop / tb / 1e3, tk, flop / tk / 1e3, tb / tk);
		free(w);
		free(bias);
		free(col);
		free(col1);
		free(y);
		free(acc);
	}
	return 0;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 0.2;

	openblas_set_num_threads(1);
	printf("# OpenBLAS core: %s; fixed path: %s; 1 thread; best of %.1f s per shape\n",
	       openblas_get_corename(), gemm_fixed_path(), seconds);
	printf("%-28s %5s %5s %5s %3s  %10s %10s %10s %10s %6s\n", "product", "m", "n", "k", "t",
	       "blas us", "GFLOP/s", "fixed us", "GFLOP/s", "fixed/blas");
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		const struct shape_ *s = &shapes[i];
		size_t na = (size_t)s->m * s->k, nb = (size_t)s->k * s->n, nc = (size_t)s->m * s->n;
		float *a = malloc(na * sizeof(float)), *b = malloc(nb * sizeof(float));
		float *c = calloc(nc, sizeof(float));
		double flop = 2.0 * s->m * s->n * (double)s->k;

		if (!a || !b || !c)
			return 1;
		for (size_t e = 0; e < na; e++)
			a[e] = (float)((e * 7) % 13) / 13.0f - 0.5f;
		for (size_t e = 0; e < nb; e++)
			b[e] = (float)((e * 5) % 11) / 11.0f - 0.5f;
		double tb = best_us(blas, s, a, b, c, seconds);
		memset(c, 0, nc * sizeof(float));
		double tf = best_us(fixed, s, a, b, c, seconds);
		printf("%-28s %5d %5d %5d %c%c  %10.2f %10.1f %10.2f %10.1f %6.2f\n", s->where, s->m,
		       s->n, s->k, s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', tb, flop / tb / 1e3, tf,
		       flop / tf / 1e3, tf / tb);
		free(a);
		free(b);
		free(c);
	}
	return conv_table(seconds);
}
