/* The Winograd F(2x2, 5x5) forward (src/kernels/conv_winograd.c):
 *  - close to a double-precision direct convolution on random inputs: odd
 *    and even sizes (tile counts that leave a last row or column of tiles
 *    cut in half), padding valid, same and explicit, channel and filter
 *    counts below, at and past the 16 of a vector, several images a call;
 *  - the same bits at every kernel level this CPU runs, and the same bits
 *    whether the images come in one call or one at a time (threads split
 *    a batch between calls);
 *  - pinned bits at the level CNN_ISA picks (run once per level). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/conv_winograd.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "testutil.h"

/* Error allowed against the exact sum, relative to the sum of the
 * magnitudes of its terms, |b| + sum |w x| (which bounds the rounding of
 * any order of summation): 2^-15, 512 units of float's 2^-24. Summing the
 * 25c products directly in float may err by up to 25c * 2^-24 of it (4.8e-5
 * for lenet's conv2, 32 channels); Winograd's transforms add rounding
 * amplified by their coefficients (B^T's up to 5 per axis, G's fractions,
 * A^T's up to 2 per axis), which these cases put near 3.7e-6 (printed): the
 * bound leaves a factor of about 8 for other inputs, and still fails an
 * error of a wrong coefficient or a lost term by orders of magnitude. */
#define WINO_TOL (1.0 / 32768)

struct wcase {
	int c, h, w, filters, pt, pb, pl, pr, n;
};

static float *fill(size_t n, uint64_t *rng)
{
	float *p = malloc((n ? n : 1) * sizeof(*p));

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = test_uniform(rng, -1.0f, 1.0f);
	return p;
}

static struct conv_geom geom_of(const struct wcase *t)
{
	return (struct conv_geom){ t->c, t->h, t->w, t->filters, 5, 1, t->pt, t->pl,
	                           t->h + t->pt + t->pb - 4, t->w + t->pl + t->pr - 4 };
}

/* ref (n, filters, oh, ow) = the exact sum in double; mag the sum of the
 * magnitudes of its terms */
static void direct_double(const struct conv_geom *g, int n, const float *w, const float *b,
                          const float *x, double *ref, double *mag)
{
	size_t o = 0;

	for (int i = 0; i < n; i++)
		for (int f = 0; f < g->filters; f++)
			for (int oy = 0; oy < g->oh; oy++)
				for (int ox = 0; ox < g->ow; ox++, o++) {
					double s = b[f], m = fabs((double)b[f]);

					for (int c = 0; c < g->c; c++)
						for (int ki = 0; ki < 5; ki++)
							for (int kj = 0; kj < 5; kj++) {
								int iy = oy - g->pad_top + ki, ix = ox - g->pad_left + kj;
								if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
									continue;
								double p = (double)w[((size_t)(f * g->c + c) * 5 + ki) * 5 + kj] *
								           x[(((size_t)i * g->c + c) * g->h + iy) * g->w + ix];
								s += p;
								m += fabs(p);
							}
					ref[o] = s;
					mag[o] = m;
				}
}

/* pool2's rule (kernels/pool2.c) written out: b > a ? b : a */
static float max2(float a, float b)
{
	return b > a ? b : a;
}

/* p (n, filters, oh/2, ow/2) = the 2x2/2 max-pooling of y, each value
 * read through relu_value when relu: what the forward's fold must give */
static void pool_ref(const struct conv_geom *g, int n, const float *y, bool relu, float *p)
{
	int ph = g->oh / 2, pw = g->ow / 2;

	for (int i = 0; i < n * g->filters; i++)
		for (int r = 0; r < ph; r++)
			for (int c = 0; c < pw; c++) {
				const float *w0 = y + ((size_t)i * g->oh + 2 * r) * g->ow + 2 * c;
				float v[4] = { w0[0], w0[1], w0[g->ow], w0[g->ow + 1] };

				for (int k = 0; relu && k < 4; k++)
					v[k] = v[k] > 0.0f ? v[k] : 0.0f;
				p[((size_t)i * ph + r) * pw + c] = max2(max2(max2(v[0], v[1]), v[2]), v[3]);
			}
}

/* With an even output, the folded pooling (and ReLU) at every level, with
 * the filters transformed per call and beforehand: pool2's bits on y. */
static void check_folds(const struct conv_geom *g, int n, const float *w, const float *b,
                        const float *x, const float *y, const float *f, float *s)
{
	size_t np = (size_t)n * g->filters * (g->oh / 2) * (g->ow / 2);
	float *want = malloc(np * sizeof(float)), *got = malloc(np * sizeof(float));

	assert_non_null(want);
	assert_non_null(got);
	for (int relu = 0; relu < 2; relu++) {
		unsigned fold = CONV_WINOGRAD_POOL2 | (relu ? CONV_WINOGRAD_RELU : 0);

		pool_ref(g, n, y, relu, want);
		for (int level = 0; level < CNN_ISA_LEVELS; level++) {
			const struct cnn_kernel_ops *ops = cnn_kernels_level(cnn_isa_names[level]);

			if (!ops)
				continue;
			memset(got, 0xff, np * sizeof(float));
			ops->conv_winograd_forward(g, w, b, x, got, n, s, NULL, fold);
			assert_memory_equal(want, got, np * sizeof(float));
			memset(got, 0xff, np * sizeof(float));
			ops->conv_winograd_forward(g, NULL, NULL, x, got, n, s, f, fold);
			assert_memory_equal(want, got, np * sizeof(float));
		}
	}
	free(want);
	free(got);
}

/* Runs one case at every level; returns the largest relative error. */
static double check_case(const struct wcase *t, uint64_t seed)
{
	struct conv_geom g = geom_of(t);
	uint64_t rng = seed;
	size_t nx = (size_t)t->n * t->c * t->h * t->w, per = (size_t)t->filters * g.oh * g.ow;
	size_t ny = (size_t)t->n * per;
	float *x = fill(nx, &rng), *w = fill((size_t)t->filters * t->c * 25, &rng);
	float *b = fill((size_t)t->filters, &rng);
	float *y = malloc(ny * sizeof(*y)), *yl = malloc(ny * sizeof(*yl));
	float *s = malloc(conv_winograd_scratch_floats(&g) * sizeof(float));
	float *f = malloc(conv_winograd_filters_floats(&g) * sizeof(float));
	double *ref = malloc(ny * sizeof(*ref)), *mag = malloc(ny * sizeof(*mag)), worst = 0;
	const struct cnn_kernel_ops *base = cnn_kernels_level("baseline");

	assert_non_null(y);
	assert_non_null(yl);
	assert_non_null(s);
	assert_non_null(f);
	conv_winograd_filters(&g, w, b, f);
	assert_non_null(ref);
	assert_non_null(mag);
	assert_non_null(base);
	direct_double(&g, t->n, w, b, x, ref, mag);
	base->conv_winograd_forward(&g, w, b, x, y, t->n, s, NULL, 0);
	for (size_t i = 0; i < ny; i++) {
		double e = fabs(y[i] - ref[i]) / mag[i];
		if (!(e <= WINO_TOL))
			fail_msg("c %d, %dx%d, %d filters, pad %d,%d;%d,%d, %d images: y[%zu] = %g, "
			         "exact %g (terms' magnitude %g)", t->c, t->h, t->w, t->filters, t->pt,
			         t->pb, t->pl, t->pr, t->n, i, (double)y[i], ref[i], mag[i]);
		worst = e > worst ? e : worst;
	}
	for (int level = 0; level < CNN_ISA_LEVELS; level++) {
		const struct cnn_kernel_ops *ops = cnn_kernels_level(cnn_isa_names[level]);

		if (!ops) {
			printf("level %s: not on this CPU or build, not compared\n", cnn_isa_names[level]);
			continue;
		}
		/* one image a call, as a thread's share of a batch may be */
		memset(yl, 0xff, ny * sizeof(*yl));
		for (int i = 0; i < t->n; i++)
			ops->conv_winograd_forward(&g, w, b, x + (size_t)i * t->c * t->h * t->w,
			                           yl + (size_t)i * per, 1, s, NULL, 0);
		if (memcmp(y, yl, ny * sizeof(*y)))
			for (size_t i = 0; i < ny; i++)
				if (memcmp(&y[i], &yl[i], sizeof(float)))
					fail_msg("level %s, c %d, %dx%d, %d filters: y[%zu] = %a, baseline %a",
					         ops->name, t->c, t->h, t->w, t->filters, i, (double)yl[i],
					         (double)y[i]);
		/* every image in one call */
		memset(yl, 0xff, ny * sizeof(*yl));
		ops->conv_winograd_forward(&g, w, b, x, yl, t->n, s, NULL, 0);
		assert_memory_equal(y, yl, ny * sizeof(*y));
		/* the filters transformed once beforehand (a frozen network's),
		 * with w and b then not read: the same bits */
		memset(yl, 0xff, ny * sizeof(*yl));
		ops->conv_winograd_forward(&g, NULL, NULL, x, yl, t->n, s, f, 0);
		assert_memory_equal(y, yl, ny * sizeof(*y));
	}
	if (g.oh % 2 == 0 && g.ow % 2 == 0)
		check_folds(&g, t->n, w, b, x, y, f, s);
	free(x), free(w), free(b), free(y), free(yl), free(s), free(ref), free(mag), free(f);
	return worst;
}

/* The configs' layers: lenet's conv2, inception-mnist's and smaller. */
static void test_config_shapes(void **state)
{
	static const struct wcase cases[] = {
		{ 32, 14, 14, 64, 2, 2, 2, 2, 3 },   /* lenet, mnist-best conv2 */
		{ 16, 14, 14, 32, 2, 2, 2, 2, 2 },
		{ 1, 28, 28, 32, 2, 2, 2, 2, 2 },    /* a first layer */
		{ 4, 12, 12, 4, 0, 0, 0, 0, 3 },     /* mnist.yaml's conv2 shape */
	};
	double worst = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double e = check_case(&cases[i], 100 + i);
		worst = e > worst ? e : worst;
	}
	printf("config shapes: largest error %.3g of the terms' magnitude (allowed %.3g)\n", worst,
	       WINO_TOL);
}

/* Random shapes: sizes from the kernel's 5 up, odd and even, every padding. */
static void test_random_shapes(void **state)
{
	uint64_t rng = 7;
	double worst = 0;

	(void)state;
	for (int k = 0; k < 40; k++) {
		struct wcase t;
		int kind = (int)test_uniform(&rng, 0, 3);   /* valid, same, explicit */

		t.c = 1 + (int)test_uniform(&rng, 0, 40);
		t.filters = 1 + (int)test_uniform(&rng, 0, 70);
		t.n = 1 + (int)test_uniform(&rng, 0, 4);
		t.pt = t.pb = t.pl = t.pr = kind == 1 ? 2 : kind == 2 ? (int)test_uniform(&rng, 0, 4) : 0;
		t.h = (kind == 0 ? 5 : 1) + (int)test_uniform(&rng, 0, 14);
		t.w = (kind == 0 ? 5 : 1) + (int)test_uniform(&rng, 0, 18);
		if (t.h + t.pt + t.pb < 5)
			t.h = 5;
		if (t.w + t.pl + t.pr < 5)
			t.w = 5;
		double e = check_case(&t, 1000 + (uint64_t)k);
		worst = e > worst ? e : worst;
	}
	printf("random shapes: largest error %.3g of the terms' magnitude (allowed %.3g)\n", worst,
	       WINO_TOL);
}

/* The bits themselves, through the level CNN_ISA chooses (CTest runs this
 * under each): lenet's conv2 on two images, hashed. A change of these bits
 * changes every network that takes the Winograd forward (lenet, mnist-best). */
#define WINO_PINNED_HASH 0xef1ce170a7489c72ull

static void test_pinned_bits(void **state)
{
	struct wcase t = { 32, 14, 14, 64, 2, 2, 2, 2, 2 };
	struct conv_geom g = geom_of(&t);
	uint64_t rng = 2024;
	size_t ny = (size_t)t.n * t.filters * g.oh * g.ow;
	float *x = test_random_floats((size_t)t.n * t.c * t.h * t.w, &rng);
	float *w = test_random_floats((size_t)t.filters * t.c * 25, &rng);
	float *b = test_random_floats((size_t)t.filters, &rng);
	float *y = malloc(ny * sizeof(*y));
	float *s = malloc(conv_winograd_scratch_floats(&g) * sizeof(float));
	float *f = malloc(conv_winograd_filters_floats(&g) * sizeof(float));
	uint64_t hash;

	const char *want = getenv("CNN_ISA");

	(void)state;
	if (want && *want && strcmp(want, cnn_kernels_name()))
		test_skip("CNN_ISA=%s: this CPU or build lacks that level", want);
	assert_non_null(y);
	assert_non_null(s);
	assert_non_null(f);
	conv_winograd_forward(&g, w, b, x, y, t.n, s, NULL, 0);
	hash = test_hash_floats(y, ny);
	if (hash != WINO_PINNED_HASH)
		fail_msg("level %s: hash 0x%llxull, pinned 0x%llxull", cnn_kernels_name(),
		         (unsigned long long)hash, (unsigned long long)WINO_PINNED_HASH);
	conv_winograd_filters(&g, w, b, f);
	conv_winograd_forward(&g, NULL, NULL, x, y, t.n, s, f, 0);
	hash = test_hash_floats(y, ny);
	if (hash != WINO_PINNED_HASH)
		fail_msg("level %s, filters prepared: hash 0x%llxull, pinned 0x%llxull",
		         cnn_kernels_name(), (unsigned long long)hash,
		         (unsigned long long)WINO_PINNED_HASH);
	free(x), free(w), free(b), free(y), free(s), free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_shapes),
		cmocka_unit_test(test_random_shapes),
		cmocka_unit_test(test_pinned_bits),
	};

	return test_exit_status(cmocka_run_group_tests(tests, NULL, NULL));
}
