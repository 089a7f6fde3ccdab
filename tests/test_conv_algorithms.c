/* conv's two algorithms agree: im2col + GEMM and the direct convolution give
 * the same y, dw, db and dx on random shapes, strides and paddings (SAME with
 * stride 2 included), on dense dy and on the sparse dy that ReLU and
 * max-pooling leave; and the direct one passes the gradient check on its own.
 * Shapes cover both of direct's paths: the vectorised one (stride 1, k <= 8,
 * with AVX2) and the portable one. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "layers/layers.h"
#include "gradcheck.h"
#include "testutil.h"

static struct layer *make(const char *yaml, struct shape in)
{
	return gradcheck_layer_or_fail(conv_create, "conv", yaml, in);
}

static float *alloc_fill(size_t n, uint64_t *rng, float lo, float hi)
{
	float *p = malloc((n ? n : 1) * sizeof(*p));

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = test_uniform(rng, lo, hi);
	return p;
}

/* |a - b| <= 1e-4 * max(1, |a|, |b|) elementwise. */
static void assert_close(const char *what, const char *yaml, const float *a, const float *b,
                         size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double scale = fmax(1.0, fmax(fabs(a[i]), fabs(b[i])));
		if (fabs((double)a[i] - b[i]) > 1e-4 * scale)
			fail_msg("%s: %s[%zu]: im2col %g, direct %g", yaml, what, i, a[i], b[i]);
	}
}

/* Runs forward and backward of both algorithms on the same x, w and dy;
 * `sparsity` is the fraction of dy set to zero. */
static void compare(const char *config, struct shape in, int n, double sparsity, uint64_t seed)
{
	char ya[200], yb[200];
	uint64_t rng = seed;

	snprintf(ya, sizeof(ya), "{%s, algorithm: im2col}", config);
	snprintf(yb, sizeof(yb), "{%s, algorithm: direct}", config);
	struct layer *a = make(ya, in), *b = make(yb, in);
	assert_int_equal(a->out.c, b->out.c);
	assert_int_equal(a->out.h, b->out.h);
	assert_int_equal(a->out.w, b->out.w);

	size_t nin = shape_size(in) * n, nout = shape_size(a->out) * n;
	size_t np = gradcheck_param_count(a);
	size_t sa = a->ops->scratch_floats(a, n), sb = b->ops->scratch_floats(b, n);
	float *x = alloc_fill(nin, &rng, -1, 1), *w = alloc_fill(np, &rng, -1, 1);
	float *dy = alloc_fill(nout, &rng, -1, 1);
	float *ya_ = alloc_fill(nout, &rng, 0, 1), *yb_ = alloc_fill(nout, &rng, 0, 1);
	float *dxa = alloc_fill(nin, &rng, 0, 1), *dxb = alloc_fill(nin, &rng, 0, 1);
	float *dwa = alloc_fill(np, &rng, 0, 0), *dwb = malloc(np * sizeof(float) + 1);
	/* Garbage scratch: neither algorithm may rely on it being zero. */
	float *scra = alloc_fill(sa, &rng, -1e3f, 1e3f), *scrb = alloc_fill(sb, &rng, -1e3f, 1e3f);

	assert_non_null(dwb);
	for (size_t i = 0; i < nout; i++)
		if (test_uniform(&rng, 0, 1) < sparsity)
			dy[i] = 0.0f;
	/* dw accumulates: start both from the same non-zero fill. */
	for (size_t i = 0; i < np; i++)
		dwa[i] = dwb[i] = 0.25f;

	struct layer_ctx ca = { .scratch = scra, .train = true }, cb = { .scratch = scrb, .train = true };
	a->ops->forward(a, w, x, ya_, n, &ca);
	b->ops->forward(b, w, x, yb_, n, &cb);
	assert_close("y", yb, ya_, yb_, nout);
	a->ops->backward(a, w, x, ya_, dy, dxa, dwa, n, &ca);
	b->ops->backward(b, w, x, yb_, dy, dxb, dwb, n, &cb);
	assert_close("dw/db", yb, dwa, dwb, np);
	assert_close("dx", yb, dxa, dxb, nin);
	/* Without dx (a first layer) the parameter gradients are the same. */
	for (size_t i = 0; i < np; i++)
		dwb[i] = 0.25f;
	b->ops->backward(b, w, x, yb_, dy, NULL, dwb, n, &cb);
	assert_close("dw/db without dx", yb, dwa, dwb, np);

	free(x);
	free(w);
	free(dy);
	free(ya_);
	free(yb_);
	free(dxa);
	free(dxb);
	free(dwa);
	free(dwb);
	free(scra);
	free(scrb);
	a->ops->destroy(a);
	b->ops->destroy(b);
}

/* The shapes the networks in configs/ use, and the edges of the tiling. */
static void test_fixed_shapes(void **state)
{
	(void)state;
	compare("filters: 4, kernel_size: 5", (struct shape){ 1, 28, 28 }, 3, 0.75, 1);
	compare("filters: 4, kernel_size: 5", (struct shape){ 4, 12, 12 }, 3, 0.75, 2);
	compare("filters: 4, kernel_size: 5", (struct shape){ 4, 12, 12 }, 2, 0.0, 3);
	compare("filters: 32, kernel_size: 5, padding: same", (struct shape){ 1, 28, 28 }, 2, 0.5, 4);
	compare("filters: 6, kernel_size: 5, padding: same", (struct shape){ 5, 14, 14 }, 2, 0.5, 5);
	compare("filters: 3, kernel_size: 3, stride: 2, padding: same", (struct shape){ 2, 7, 8 }, 2, 0.0, 6);
	compare("filters: 5, kernel_size: 4, stride: 2, padding: same", (struct shape){ 3, 9, 9 }, 2, 0.3, 7);
	compare("filters: 2, kernel_size: 1", (struct shape){ 3, 5, 17 }, 2, 0.0, 8);
	compare("filters: 7, kernel_size: 3, padding: 4", (struct shape){ 2, 6, 5 }, 2, 0.0, 9);
	compare("filters: 1, kernel_size: 8, padding: same", (struct shape){ 1, 9, 26 }, 2, 0.2, 10);
	compare("filters: 2, kernel_size: 9, padding: 1", (struct shape){ 2, 10, 11 }, 1, 0.0, 11);
	compare("filters: 9, kernel_size: 2, stride: 3, padding: 2", (struct shape){ 2, 8, 10 }, 2, 0.0, 12);
	/* From 8 input channels direct's backward runs channels-last
	 * (src/kernels/conv_direct_wide.c): lenet's second convolution, channel
	 * counts that are not a multiple of 8, 1x1 and 8x8 kernels. */
	compare("filters: 64, kernel_size: 5, padding: same", (struct shape){ 32, 14, 14 }, 2, 0.75, 13);
	compare("filters: 64, kernel_size: 5, padding: same", (struct shape){ 32, 14, 14 }, 1, 0.0, 14);
	compare("filters: 5, kernel_size: 3, padding: same", (struct shape){ 13, 9, 11 }, 3, 0.6, 15);
	compare("filters: 16, kernel_size: 1", (struct shape){ 8, 6, 7 }, 2, 0.5, 16);
	compare("filters: 3, kernel_size: 8, padding: 2", (struct shape){ 9, 10, 12 }, 2, 0.3, 17);
	compare("filters: 20, kernel_size: 4, padding: valid", (struct shape){ 40, 7, 9 }, 2, 0.9, 18);
}

/* compare() on a drawn layer with a drawn batch size and sparsity; a
 * kernel larger than the padded input is refused by the layer and skipped. */
static void compare_drawn(const char *cfg, struct shape in, uint64_t *rng, uint64_t seed)
{
	char yaml[200];
	struct cnn_error err;
	struct layer *l;

	snprintf(yaml, sizeof(yaml), "{%s}", cfg);
	if (gradcheck_make_layer(conv_create, "conv", yaml, in, &l, &err))
		return;
	l->ops->destroy(l);
	int n = 1 + (int)test_uniform(rng, 0, 3);
	compare(cfg, in, n, test_uniform(rng, 0, 0.9f), seed);
}

static void test_random_shapes(void **state)
{
	uint64_t rng = 2024;
	static const char *const pads[] = { "valid", "same", "0", "1", "2", "3" };

	(void)state;
	for (int t = 0; t < 200; t++) {
		struct shape in = { 1 + (int)test_uniform(&rng, 0, 5), 1 + (int)test_uniform(&rng, 0, 20),
		                    1 + (int)test_uniform(&rng, 0, 20) };
		int filters = 1 + (int)test_uniform(&rng, 0, 10);
		int k = 1 + (int)test_uniform(&rng, 0, 7);
		int stride = test_uniform(&rng, 0, 1) < 0.6f ? 1 : 2 + (int)test_uniform(&rng, 0, 2);
		const char *pad = pads[(int)test_uniform(&rng, 0, 6)];
		char cfg[160];

		snprintf(cfg, sizeof(cfg), "filters: %d, kernel_size: %d, stride: %d, padding: %s",
		         filters, k, stride, pad);
		compare_drawn(cfg, in, &rng, (uint64_t)t + 100);
	}
}

/* Wide layers (the channels-last backward) of random shapes, stride 1. */
static void test_random_wide_shapes(void **state)
{
	uint64_t rng = 4711;
	static const char *const pads[] = { "valid", "same", "1", "3" };

	(void)state;
	for (int t = 0; t < 40; t++) {
		struct shape in = { 8 + (int)test_uniform(&rng, 0, 30), 1 + (int)test_uniform(&rng, 0, 16),
		                    1 + (int)test_uniform(&rng, 0, 16) };
		int filters = 1 + (int)test_uniform(&rng, 0, 24);
		int k = 1 + (int)test_uniform(&rng, 0, 8);
		const char *pad = pads[(int)test_uniform(&rng, 0, 4)];
		char cfg[160];

		snprintf(cfg, sizeof(cfg), "filters: %d, kernel_size: %d, padding: %s", filters, k, pad);
		compare_drawn(cfg, in, &rng, (uint64_t)t + 500);
	}
}

static void test_direct_gradcheck(void **state)
{
	static const struct {
		const char *yaml;
		struct shape in;
	} cases[] = {
		{ "{filters: 4, kernel_size: 5, algorithm: direct}", { 1, 9, 9 } },
		{ "{filters: 4, kernel_size: 5, algorithm: direct}", { 4, 8, 8 } },
		{ "{filters: 5, kernel_size: 3, padding: same, algorithm: direct}", { 3, 6, 7 } },
		{ "{filters: 3, kernel_size: 3, stride: 2, padding: same, algorithm: direct}", { 2, 7, 8 } },
		{ "{filters: 2, kernel_size: 2, stride: 2, padding: 1, algorithm: direct}", { 2, 5, 5 } },
		{ "{filters: 2, kernel_size: 9, padding: same, algorithm: direct}", { 1, 9, 10 } },
		{ "{filters: 3, kernel_size: 3, padding: same, algorithm: direct}", { 9, 5, 6 } },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct layer *l = make(cases[i].yaml, cases[i].in);
		struct gradcheck_opts o = { .seed = 40 + i };
		struct gradcheck_result r;
		if (gradcheck_layer(l, 2, NULL, NULL, &o, &r))
			fail_msg("%s: %d of %d elements fail (max error %g)", cases[i].yaml, r.failed,
			         r.checked, r.max_err);
		l->ops->destroy(l);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_shapes),
		cmocka_unit_test(test_random_shapes),
		cmocka_unit_test(test_random_wide_shapes),
		cmocka_unit_test(test_direct_gradcheck),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
