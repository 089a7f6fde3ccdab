/* The kernels' run-time dispatch (src/kernels/dispatch.c): which level
 * CNN_ISA chooses and which it refuses; that the level in use is the one
 * the environment asked for (CTest also runs this file with
 * CNN_ISA=baseline and =avx512); and that the levels agree: baseline and
 * AVX2 on the direct convolution within rounding (its sums run in another
 * order, with FMA), on im2col, col2im, Adam's update, tanh and sigmoid to
 * the bit; AVX-512 and AVX2 on everything to the bit. A CPU without
 * AVX-512 skips (exit 77, saying why), which CI counts as a failure. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/kernels.h"
#include "kernels/dispatch.h"
#include "testutil.h"

static void choose_ok(const char *want, unsigned cpu, int expect)
{
	struct cnn_error err = { 0 };
	int level = -1;

	if (cnn_isa_choose(want, cpu, &level, &err))
		fail_msg("CNN_ISA=%s, cpu %#x: %s", want ? want : "(unset)", cpu, err.msg);
	assert_int_equal(level, expect);
}

static void choose_fails(const char *want, unsigned cpu, const char *fmt, ...)
{
	struct cnn_error err = { 0 };
	int level = -1;
	char msg[sizeof err.msg];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	assert_int_equal(cnn_isa_choose(want, cpu, &level, &err), -1);
	assert_string_equal(err.msg, msg);
	assert_int_equal(level, -1);
}

static bool avx2_built(void)
{
	int level;

	return cnn_isa_choose("avx2", 3, &level, NULL) == 0;
}

static bool avx512_built(void)
{
	int level;

	return cnn_isa_choose("avx512", 7, &level, NULL) == 0;
}

static void test_choose(void **state)
{
	(void)state;
	assert_string_equal(cnn_isa_names[0], "baseline");
	assert_string_equal(cnn_isa_names[1], "avx2");
	assert_string_equal(cnn_isa_names[2], "avx512");
	choose_ok(NULL, 1, 0);
	choose_ok("", 1, 0);
	choose_ok("baseline", 1, 0);
	choose_ok("baseline", 3, 0);
	if (avx2_built()) {
		choose_ok(NULL, 3, 1);      /* the widest the CPU has */
		choose_ok("avx2", 3, 1);
		choose_fails("avx2", 1, "CNN_ISA=avx2: this CPU cannot run them "
		                        "(they need AVX2, FMA, BMI1/2 and POPCNT)");
		choose_ok("avx2", 7, 1);
		choose_fails("AVX2", 3, "CNN_ISA: unknown level 'AVX2' (this build has: baseline, avx2%s)",
		             avx512_built() ? ", avx512" : "");
	} else {
		choose_ok(NULL, 3, 0);
		choose_fails("avx2", 3, "CNN_ISA=avx2: this build has no avx2 kernels "
		                        "(they are compiled on x86-64 only)");
		choose_fails("avx512", 7, "CNN_ISA=avx512: this build has no avx512 kernels "
		                          "(they are compiled on x86-64 only)");
		choose_fails("avx1024", 3, "CNN_ISA: unknown level 'avx1024' (this build has: baseline)");
	}
	if (avx512_built()) {
		choose_ok(NULL, 7, 2);
		choose_ok("avx512", 7, 2);
		choose_fails("avx512", 3, "CNN_ISA=avx512: this CPU cannot run them "
		                          "(they need AVX2, FMA, BMI1/2, POPCNT and AVX-512 F/BW/DQ/VL)");
	}
}

/* The level in use is what CNN_ISA says, or the widest one there is. */
static void test_selected(void **state)
{
	const char *want = getenv("CNN_ISA");
	char line[160];

	struct cnn_error err = { 0 };

	(void)state;
	if (cnn_kernels_select(&err)) {
		/* only a level this CPU lacks; an unknown name is a failure */
		assert_non_null(strstr(err.msg, "this CPU cannot run them"));
		test_skip("%s", err.msg);
	}
	if (want && *want) {
		assert_string_equal(cnn_kernels_name(), want);
		assert_ptr_equal(cnn_kernels(), cnn_kernels_level(want));
		assert_non_null(strstr(cnn_kernels_describe(line, sizeof line), "forced by CNN_ISA"));
	} else {
		const struct cnn_kernel_ops *avx2 = cnn_kernels_level("avx2");
		const struct cnn_kernel_ops *avx512 = cnn_kernels_level("avx512");
		assert_ptr_equal(cnn_kernels(), avx512 ? avx512 : avx2 ? avx2 : cnn_kernels_level("baseline"));
	}
	assert_int_equal(strncmp(cnn_kernels_describe(line, sizeof line), cnn_kernels_name(),
	                         strlen(cnn_kernels_name())), 0);
	assert_null(cnn_kernels_level("no-such-level"));
}

static float *fill(size_t n, uint64_t *rng, float lo, float hi)
{
	float *p = malloc((n ? n : 1) * sizeof(*p));

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = test_uniform(rng, lo, hi);
	return p;
}

static float *copy(const float *src, size_t n)
{
	float *p = malloc((n ? n : 1) * sizeof(*p));

	assert_non_null(p);
	memcpy(p, src, n * sizeof(*p));
	return p;
}

/* Levels la and lb gave a and b: |a - b| <= 1e-4 * max(1, |a|, |b|)
 * elementwise, or (exact) the same bits. */
static void assert_close(const char *what, const struct conv_geom *g, const char *la,
                         const float *a, const char *lb, const float *b, size_t n, bool exact)
{
	for (size_t i = 0; i < n; i++) {
		double scale = fmax(1.0, fmax(fabs(a[i]), fabs(b[i])));
		bool ok = exact ? !memcmp(&a[i], &b[i], sizeof a[i]) :
		                  fabs((double)a[i] - b[i]) <= 1e-4 * scale;
		if (!ok)
			fail_msg("c=%d %dx%d f=%d k=%d s=%d: %s[%zu]: %s %a, %s %a", g->c, g->h, g->w,
			         g->filters, g->k, g->stride, what, i, la, a[i], lb, b[i]);
	}
}

struct run {
	float *y, *dx, *dw, *db;
};

static void run_level(const struct cnn_kernel_ops *k, const struct conv_geom *g, int n,
                      const float *w, const float *b, const float *x, const float *dy,
                      const float *dw0, const float *db0, bool want_dx, uint64_t *rng,
                      struct run *r)
{
	size_t in = (size_t)n * g->c * g->h * g->w, out = (size_t)n * g->filters * g->oh * g->ow;
	size_t nw = (size_t)g->filters * g->c * g->k * g->k;
	/* garbage scratch: no kernel may rely on it being zero */
	float *scratch = fill(k->conv_direct_scratch_floats(g), rng, -1e3f, 1e3f);

	r->y = fill(out, rng, -1, 1);
	r->dx = want_dx ? fill(in, rng, -1, 1) : NULL;
	r->dw = copy(dw0, nw);
	r->db = copy(db0, (size_t)g->filters);
	k->conv_direct_forward(g, w, b, x, r->y, n, scratch);
	k->conv_direct_backward(g, w, x, dy, r->dx, r->dw, r->db, n, scratch);
	free(scratch);
}

static void free_run(struct run *r)
{
	free(r->y);
	free(r->dx);
	free(r->dw);
	free(r->db);
}

/* Forward and backward of one geometry at two levels, within rounding or
 * (exact) to the bit; dy has `zeros` of its entries zero, as ReLU and
 * max-pooling leave it. */
static void compare_conv(const struct cnn_kernel_ops *base, const struct cnn_kernel_ops *avx2,
                         struct conv_geom g, double zeros, bool want_dx, uint64_t seed, bool exact)
{
	uint64_t rng = seed;
	int n = 3;

	g.oh = (g.h + 2 * g.pad_top - g.k) / g.stride + 1;
	g.ow = (g.w + 2 * g.pad_left - g.k) / g.stride + 1;
	size_t in = (size_t)n * g.c * g.h * g.w, out = (size_t)n * g.filters * g.oh * g.ow;
	size_t nw = (size_t)g.filters * g.c * g.k * g.k;
	float *x = fill(in, &rng, -1, 1), *w = fill(nw, &rng, -1, 1);
	float *b = fill((size_t)g.filters, &rng, -1, 1), *dy = fill(out, &rng, -1, 1);
	float *dw0 = fill(nw, &rng, -1, 1), *db0 = fill((size_t)g.filters, &rng, -1, 1);
	struct run ra, rb;

	for (size_t i = 0; i < out; i++)
		if (test_uniform(&rng, 0, 1) < zeros)
			dy[i] = 0.0f;
	run_level(base, &g, n, w, b, x, dy, dw0, db0, want_dx, &rng, &ra);
	run_level(avx2, &g, n, w, b, x, dy, dw0, db0, want_dx, &rng, &rb);
	assert_close("y", &g, base->name, ra.y, avx2->name, rb.y, out, exact);
	assert_close("dw", &g, base->name, ra.dw, avx2->name, rb.dw, nw, exact);
	assert_close("db", &g, base->name, ra.db, avx2->name, rb.db, (size_t)g.filters, exact);
	if (want_dx)
		assert_close("dx", &g, base->name, ra.dx, avx2->name, rb.dx, in, exact);
	free_run(&ra);
	free_run(&rb);
	free(x);
	free(w);
	free(b);
	free(dy);
	free(dw0);
	free(db0);
}

static const struct cnn_kernel_ops *need_avx2(void)
{
	const struct cnn_kernel_ops *k = cnn_kernels_level("avx2");

	if (!k)
		test_skip("no AVX2 kernels on this build or CPU: nothing to compare");
	return k;
}

/* Each test compares baseline with AVX2, then AVX2 with AVX-512: after the
 * first comparison, a CPU without AVX-512 skips the rest, saying so. */
static const struct cnn_kernel_ops *need_avx512(void)
{
	const struct cnn_kernel_ops *k = cnn_kernels_level("avx512");

	if (!k)
		test_skip("no AVX-512 (F/BW/DQ/VL) on this %s: the avx512 kernels were not compared "
		          "with the avx2 ones", avx512_built() ? "CPU" : "build");
	return k;
}

static void test_conv_levels_agree(void **state)
{
	const struct cnn_kernel_ops *base = cnn_kernels_level("baseline"), *avx2 = need_avx2();
	/* c, h, w, filters, k, stride, pad: the reference network's two
	 * convolutions, lenet's first, a wide one (the channels-last backward),
	 * odd filter and channel counts, and shapes both levels run portably */
	static const struct conv_geom shapes[] = {
		{ 1, 28, 28, 4, 5, 1, 0, 0, 0, 0 },
		{ 4, 12, 12, 4, 5, 1, 0, 0, 0, 0 },
		{ 1, 28, 28, 32, 5, 1, 2, 2, 0, 0 },
		{ 12, 10, 10, 10, 5, 1, 2, 2, 0, 0 },
		{ 3, 9, 13, 5, 3, 1, 1, 1, 0, 0 },
		{ 2, 11, 11, 3, 3, 2, 1, 1, 0, 0 },
		{ 2, 12, 12, 3, 9, 1, 0, 0, 0, 0 },
		/* the AVX-512 tiles: rows wider than 16 lanes, a single output
		 * row, rows so narrow that 16 lanes span three, 1x1, k = 8 */
		{ 2, 6, 41, 3, 5, 1, 0, 0, 0, 0 },
		{ 3, 6, 6, 6, 3, 1, 0, 0, 0, 0 },
		{ 1, 20, 20, 5, 1, 1, 0, 0, 0, 0 },
		{ 5, 9, 9, 7, 8, 1, 3, 3, 0, 0 },
		/* the AVX-512 channels-last blocks: kernel rows of an odd number
		 * of 8 lanes (c rounded to 8, 24, 40) end in a half register;
		 * rows past 12 registers run in two blocks (40 and 64 channels) */
		{ 8, 7, 9, 5, 3, 1, 1, 1, 0, 0 },
		{ 24, 9, 8, 11, 5, 1, 2, 2, 0, 0 },
		{ 37, 7, 7, 6, 5, 1, 2, 2, 0, 0 },
		{ 64, 6, 6, 9, 5, 1, 2, 2, 0, 0 },
	};

	(void)state;
	for (int pair = 0; pair < 2; pair++) {
		const struct cnn_kernel_ops *a = pair ? avx2 : base, *b = pair ? need_avx512() : avx2;
		for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
			compare_conv(a, b, shapes[i], 0.0, true, 100 + i, pair);    /* dense dy: gather */
			compare_conv(a, b, shapes[i], 0.85, true, 200 + i, pair);   /* sparse dy: scatter */
			compare_conv(a, b, shapes[i], 0.5, false, 300 + i, pair);   /* first layer: no dx */
		}
	}
}

static void test_im2col_levels_agree(void **state)
{
	/* c, h, w, k, stride, pad: rows shorter and longer than 8 floats */
	static const int shapes[][6] = {
		{ 1, 28, 28, 5, 1, 2 }, { 32, 14, 14, 5, 1, 2 }, { 2, 7, 5, 3, 1, 1 }, { 3, 9, 9, 3, 2, 1 },
	};
	const struct cnn_kernel_ops *base = cnn_kernels_level("baseline"), *avx2 = need_avx2();
	uint64_t rng = 7;

	(void)state;
	for (size_t j = 0; j < 2 * sizeof shapes / sizeof shapes[0]; j++) {
		size_t i = j % (sizeof shapes / sizeof shapes[0]);
		if (i == 0 && j) {   /* the second round: AVX2 against AVX-512 */
			base = avx2;
			avx2 = need_avx512();
		}
		int c = shapes[i][0], h = shapes[i][1], w = shapes[i][2], k = shapes[i][3];
		int s = shapes[i][4], p = shapes[i][5];
		int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
		size_t ncol = (size_t)c * k * k * oh * ow, nx = (size_t)c * h * w;
		float *x = fill(nx, &rng, -1, 1), *cola = fill(ncol, &rng, -1, 1), *colb = copy(cola, ncol);
		float *dxa = fill(nx, &rng, -1, 1), *dxb = copy(dxa, nx);

		base->im2col(x, c, h, w, k, s, p, p, oh, ow, cola);
		avx2->im2col(x, c, h, w, k, s, p, p, oh, ow, colb);
		assert_memory_equal(cola, colb, ncol * sizeof(float));
		base->col2im(cola, c, h, w, k, s, p, p, oh, ow, dxa);
		avx2->col2im(colb, c, h, w, k, s, p, p, oh, ow, dxb);
		assert_memory_equal(dxa, dxb, nx * sizeof(float));
		free(x);
		free(cola);
		free(colb);
		free(dxa);
		free(dxb);
	}
}

/* Adam's vector loop does the scalar loop's operations in its order: the
 * same bits, with and without weight decay, over lengths that leave a tail. */
static void test_adam_levels_agree(void **state)
{
	const struct cnn_kernel_ops *base = cnn_kernels_level("baseline"), *avx2 = need_avx2();
	const struct cnn_kernel_ops *levels[] = { base, avx2, NULL };
	const struct adam_coef plain = { 0.9f, 0.999f, 0.1f, 0.001f, 1e-3f, 1e-8f, 0, 0 };
	struct adam_coef l2 = plain, decay = plain;
	const struct adam_coef *coefs[] = { &plain, &l2, &decay };
	uint64_t rng = 11;
	size_t n = 37;

	(void)state;
	l2.l2 = 1e-2f;
	decay.decay = 1e-5f;
	for (int c = 0; c < 6; c++) {
		if (c == 3) {   /* the second round: AVX2 against AVX-512 */
			levels[2] = need_avx512();
			base = levels[1];
			avx2 = levels[2];
		}
		float *g = fill(n, &rng, -1, 1);
		float *wa = fill(n, &rng, -1, 1), *ma = fill(n, &rng, -0.1f, 0.1f);
		float *va = fill(n, &rng, 0, 0.01f);
		float *wb = copy(wa, n), *mb = copy(ma, n), *vb = copy(va, n);

		for (int step = 0; step < 3; step++) {
			base->adam_range(coefs[c % 3], wa, g, ma, va, 1, n);
			avx2->adam_range(coefs[c % 3], wb, g, mb, vb, 1, n);
		}
		assert_memory_equal(wa, wb, n * sizeof(float));
		assert_memory_equal(ma, mb, n * sizeof(float));
		assert_memory_equal(va, vb, n * sizeof(float));
		free(g);
		free(wa);
		free(ma);
		free(va);
		free(wb);
		free(mb);
		free(vb);
	}
}

/* tanh and sigmoid: the same operations in SIMD at every width, over
 * ordinary values, the range where exp() underflows, zeros, infinities and
 * NaN, and a length that leaves a tail. */
static void test_activations_levels_agree(void **state)
{
	const struct cnn_kernel_ops *base = cnn_kernels_level("baseline"), *avx2 = need_avx2();
	enum { N = 1003 };
	static float x[N], ya[N], yb[N];
	uint64_t rng = 13;

	(void)state;
	for (int i = 0; i < N; i++)
		x[i] = test_uniform(&rng, -12, 12) * (i % 7 == 0 ? 10.0f : 1.0f);
	x[0] = 0.0f;
	x[1] = -0.0f;
	x[2] = INFINITY;
	x[3] = -INFINITY;
	x[4] = NAN;
	x[5] = 1e-30f;
	x[6] = -200.0f;
	for (int pair = 0; pair < 2; pair++) {
		if (pair) {   /* the second round: AVX2 against AVX-512 */
			base = avx2;
			avx2 = need_avx512();
		}
		base->tanh_range(x, ya, N);
		avx2->tanh_range(x, yb, N);
		assert_memory_equal(ya, yb, sizeof ya);
		assert_true(ya[2] == 1.0f && ya[3] == -1.0f && isnan(ya[4]));
		base->sigmoid_range(x, ya, N);
		avx2->sigmoid_range(x, yb, N);
		assert_memory_equal(ya, yb, sizeof ya);
		assert_true(ya[0] == 0.5f && ya[2] == 1.0f && ya[3] == 0.0f && isnan(ya[4]));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_choose),
		cmocka_unit_test(test_selected),
		cmocka_unit_test(test_conv_levels_agree),
		cmocka_unit_test(test_im2col_levels_agree),
		cmocka_unit_test(test_adam_levels_agree),
		cmocka_unit_test(test_activations_levels_agree),
	};
	return test_exit_status(cmocka_run_group_tests(tests, NULL, NULL));
}
