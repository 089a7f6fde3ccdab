/* cnnrun's fixed-order sgemm (src/kernels/gemm_fixed.c): the AVX2 path and
 * the portable fmaf() loop give the same bits on every shape and transpose,
 * both compute a product at all (against a double-precision sum), and
 * libm's fmaf rounds as the hardware FMA does (the portable path's claim to
 * the same bits). The convolution's forward product (conv_gemm.c): every
 * path gives, bit for bit, what gemm_fixed gives image by image from the
 * bias, on odd shapes, tails of tiles and of k blocks, and images that
 * straddle a vector. */
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
#include "kernels/conv_gemm.h"
#include "kernels/gemm_fixed.h"
#include "testutil.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_X86 1
#endif

#ifdef HAVE_X86
/* the FMA instruction on one float */
static __attribute__((target("fma"))) float fma_instruction(float a, float b, float c)
{
	return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}
#endif

static bool cpu_fma(void)
{
#ifdef HAVE_X86
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
	return false;
#endif
}

/* Says once per path, in the test's output, when this CPU cannot run it:
 * the paths it has are still compared with the contract and each other. */
static void note_missing(const char *path)
{
	static char said[64];

	if (strstr(said, path))
		return;
	print_message("this CPU lacks %s: that path is not compared here\n", path);
	strncat(said, path, sizeof(said) - strlen(said) - 2);
	strcat(said, " ");
}

typedef bool vector_fn(bool, bool, int, int, int, float, const float *, const float *, float,
                       float *);
static const struct {
	const char *name;
	vector_fn *run;
} vector_paths[] = {
	{ "avx2", gemm_fixed_avx2 },
	{ "avx512", gemm_fixed_avx512 },
};

struct case_ {
	int m, n, k;
};

/* 1, odd sizes, one less and one more than the 6 x 16 and 12 x 32 tiles and
 * the 256-deep block, and the shapes the configs produce (dense on a batch chunk,
 * lenet's conv2 and dense1). */
static const struct case_ cases[] = {
	{ 1, 1, 1 },    { 1, 17, 3 },   { 7, 1, 5 },    { 5, 15, 1 },    { 6, 16, 256 },
	{ 11, 31, 255 }, { 12, 32, 2 }, { 13, 33, 1 },  { 25, 65, 7 },
	{ 7, 17, 257 }, { 13, 33, 31 }, { 2, 9, 513 },  { 11, 47, 300 }, { 4, 10, 64 },
	{ 10, 64, 4 },  { 64, 196, 800 }, { 32, 128, 3136 }, { 128, 3136, 32 }, { 0, 5, 3 },
	{ 3, 0, 5 },    { 3, 5, 0 },
	/* 4 to 32 rows times a transposed B is computed transposed, in 8,
	 * 16 or 32 lanes: every row count up to 8, row-tile tails, C^T's
	 * chunks (512, 256, 128 columns) and A^T's blocks (1024, 512, 256
	 * deep) one past, n == m (not swapped); lenet's dense1 on an
	 * evaluation batch and on a thread's share of a training batch */
	{ 8, 9, 5 },    { 1, 13, 1025 }, { 4, 513, 1030 }, { 6, 257, 40 }, { 8, 8, 3 },
	{ 5, 25, 2049 }, { 8, 128, 3136 }, { 9, 40, 1100 }, { 16, 257, 513 }, { 15, 16, 7 },
	{ 17, 300, 9 }, { 31, 64, 257 }, { 32, 33, 600 }, { 16, 128, 3136 },
	/* whole panels with k <= m go row tile by row tile (gemm_rows_first):
	 * row-tile tails, k == m, k at the 256-deep block and one past */
	{ 25, 64, 25 }, { 40, 96, 3 }, { 300, 32, 256 }, { 300, 64, 257 }, { 13, 160, 12 },
};

/* c (m, n) in double, the product's exact-ish value for the sanity bound */
static double ref_element(bool ta, bool tb, int m, int n, int k, const float *a, const float *b,
                          int i, int j)
{
	double s = 0;

	for (int p = 0; p < k; p++) {
		double av = ta ? a[(size_t)p * m + i] : a[(size_t)i * k + p];
		double bv = tb ? b[(size_t)j * k + p] : b[(size_t)p * n + j];
		s += av * bv;
	}
	return s;
}

static void run_case(const struct case_ *cs, bool ta, bool tb, float alpha, float beta,
                     uint64_t *rng)
{
	int m = cs->m, n = cs->n, k = cs->k;
	size_t mn = (size_t)m * n;
	float *a = test_random_floats((size_t)m * k, rng);   /* (m, k) or (k, m) */
	float *b = test_random_floats((size_t)k * n, rng);   /* (k, n) or (n, k) */
	float *c0 = test_random_floats(mn, rng);             /* (m, n): C before */
	float *cp = malloc((mn ? mn : 1) * sizeof(float));
	float *cv = malloc((mn ? mn : 1) * sizeof(float));

	assert_non_null(cp);
	assert_non_null(cv);
	if (beta == 0.0f) {
		for (size_t e = 0; e < mn; e++)
			c0[e] = NAN;   /* beta 0 must not read C */
	}
	memcpy(cp, c0, mn * sizeof(float));
	memcpy(cv, c0, mn * sizeof(float));
	gemm_fixed_portable(ta, tb, m, n, k, alpha, a, b, beta, cp);
	for (int i = 0; i < m; i++) {
		for (int j = 0; j < n; j++) {
			double want = alpha * ref_element(ta, tb, m, n, k, a, b, i, j) +
			              (beta == 0.0f ? 0.0 : beta * (double)c0[(size_t)i * n + j]);
			double got = cp[(size_t)i * n + j];
			if (!(fabs(got - want) <= 1e-5 * (k + 2)))
				fail_msg("%dx%dx%d ta %d tb %d alpha %g beta %g: c[%d][%d] = %g, want %g",
				         m, n, k, ta, tb, alpha, beta, i, j, got, want);
		}
	}
	for (size_t v = 0; v < sizeof(vector_paths) / sizeof(vector_paths[0]); v++) {
		memcpy(cv, c0, mn * sizeof(float));
		if (!vector_paths[v].run(ta, tb, m, n, k, alpha, a, b, beta, cv)) {
			note_missing(vector_paths[v].name);
			continue;
		}
		if (mn && memcmp(cp, cv, mn * sizeof(float)) != 0) {
			size_t e = 0;
			while (memcmp(&cp[e], &cv[e], sizeof(float)) == 0)
				e++;
			fail_msg("%dx%dx%d ta %d tb %d alpha %g beta %g: element %zu portable %a, %s %a",
			         m, n, k, ta, tb, alpha, beta, e, cp[e], vector_paths[v].name, cv[e]);
		}
	}
	/* The public entry takes one of the two. */
	memcpy(cv, c0, mn * sizeof(float));
	cnn_gemm(ta, tb, m, n, k, alpha, a, b, beta, cv);
	assert_true(mn == 0 || memcmp(cp, cv, mn * sizeof(float)) == 0);
	free(a);
	free(b);
	free(c0);
	free(cp);
	free(cv);
}

static void paths_agree_on_every_shape_and_transpose(void **state)
{
	static const float betas[] = { 0.0f, 1.0f, 0.5f };
	uint64_t rng = 2026;

	(void)state;
	print_message("gemm_fixed takes the %s path on this CPU\n", gemm_fixed_path());
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		for (int t = 0; t < 4; t++)
			for (size_t be = 0; be < 3; be++)
				run_case(&cases[c], t & 1, t & 2, 1.0f, betas[be], &rng);
	/* alpha != 1: no caller uses one, but the contract covers it */
	run_case(&(struct case_){ 7, 19, 33 }, true, false, 0.25f, 1.0f, &rng);
}

/* The contract itself, element by element: beta * C, then k fmaf's in
 * order; B plain, and transposed (which a few rows compute as C^T). */
static void chains_run_in_the_order_of_k(void **state)
{
	enum { m = 3, n = 21, k = 40 };
	uint64_t rng = 99;
	float a[m * k], b[k * n], c[m * n], want[m * n];

	(void)state;
	for (int tb = 0; tb < 2; tb++) {
		for (int e = 0; e < m * k; e++)
			a[e] = test_uniform(&rng, -1, 1) * (e % 7 == 0 ? 1e4f : 1.0f);
		for (int e = 0; e < k * n; e++)
			b[e] = test_uniform(&rng, -1, 1);
		for (int e = 0; e < m * n; e++)
			c[e] = want[e] = test_uniform(&rng, -1, 1);
		for (int i = 0; i < m; i++)
			for (int j = 0; j < n; j++)
				for (int p = 0; p < k; p++)
					want[i * n + j] = fmaf(a[i * k + p], tb ? b[j * k + p] : b[p * n + j],
					                       want[i * n + j]);
		cnn_gemm(false, tb, m, n, k, 1.0f, a, b, 1.0f, c);
		assert_memory_equal(c, want, sizeof(c));
	}
}

/* The portable path's fmaf comes from libm when the build lacks FMA: it must
 * round once, exactly as the instruction does. Called through a volatile
 * pointer so the compiler cannot replace it by the instruction. */
static void libm_fmaf_matches_the_instruction(void **state)
{
	float (*volatile libm_fmaf)(float, float, float) = fmaf;
	uint64_t rng = 7;

	(void)state;
	if (!cpu_fma()) {
		note_missing("fma");
		return;
	}
#ifdef HAVE_X86
	for (int t = 0; t < 200000; t++) {
		uint32_t bits[3];
		float v[3];

		/* random bit patterns: every exponent, subnormals, infinities, NaNs */
		for (int q = 0; q < 3; q++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			bits[q] = (uint32_t)(rng >> 32);
			if (t % 2)   /* half of them near each other, where rounding bites */
				bits[q] = (bits[q] & 0x807fffffu) | (0x3f000000u + ((bits[q] >> 8) & 0x01800000u));
			memcpy(&v[q], &bits[q], sizeof(float));
		}
		float hw = fma_instruction(v[0], v[1], v[2]);
		float sw = libm_fmaf(v[0], v[1], v[2]);
		if (memcmp(&hw, &sw, sizeof(float)) != 0 && !(isnan(hw) && isnan(sw)))
			fail_msg("fmaf(%a, %a, %a): libm %a, instruction %a", v[0], v[1], v[2], sw, hw);
	}
#endif
}

typedef bool conv_vector_fn(int, int, int, int, const float *, const float *, const float *,
                            size_t, float *, float *);
static const struct {
	const char *name;
	conv_vector_fn *run;
} conv_paths[] = {
	{ "avx2", conv_gemm_forward_avx2 },
	{ "avx512", conv_gemm_forward_avx512 },
};

#define CONV_GUARD 64   /* floats after y that no path may touch */

/* y (nb, filters, ohw) + guard, NaN where a path has not written */
static float *conv_y(size_t ny)
{
	float *y = malloc((ny + CONV_GUARD) * sizeof(float));

	assert_non_null(y);
	for (size_t e = 0; e < ny + CONV_GUARD; e++)
		y[e] = NAN;
	return y;
}

static void conv_compare(const char *path, const float *want, const float *got, size_t ny,
                         int filters, int ckk, int ohw, int nb)
{
	for (size_t e = 0; e < ny + CONV_GUARD; e++) {
		bool same = e < ny ? memcmp(&want[e], &got[e], sizeof(float)) == 0 : isnan(got[e]);
		if (!same)
			fail_msg("conv %d filters, ckk %d, ohw %d, %d images: %s element %zu%s: %a, want %a",
			         filters, ckk, ohw, nb, path, e, e < ny ? "" : " (past y)",
			         (double)got[e], e < ny ? (double)want[e] : (double)NAN);
	}
}

static void conv_case(int filters, int ckk, int ohw, int nb, uint64_t *rng)
{
	size_t ncol = (size_t)nb * ohw, ld = conv_gemm_ld(ncol), ny = ncol * filters;
	float *w = test_random_floats((size_t)filters * ckk, rng);   /* (filters, ckk) */
	float *bias = test_random_floats((size_t)filters, rng);
	float *col = calloc((size_t)ckk * ld, sizeof(float));        /* (ckk, ld) */
	float *coli = malloc(((size_t)ckk * ohw + 1) * sizeof(float)); /* (ckk, ohw) */
	float *acc = malloc(conv_gemm_acc_floats(filters) * sizeof(float));
	float *want = conv_y(ny), *got = conv_y(ny);

	assert_non_null(col);
	assert_non_null(coli);
	assert_non_null(acc);
	assert_true(ld >= (ncol + 15) / 16 * 16 && ld % 16 == 0);
	for (int p = 0; p < ckk; p++)
		for (size_t j = 0; j < ncol; j++)
			col[(size_t)p * ld + j] = test_uniform(rng, -1, 1);
	/* the contract: image by image, y = bias, then gemm_fixed onto it */
	for (int i = 0; i < nb; i++) {
		float *yi = want + (size_t)i * filters * ohw;   /* (filters, ohw) */

		for (int p = 0; p < ckk; p++)
			memcpy(coli + (size_t)p * ohw, col + (size_t)p * ld + (size_t)i * ohw,
			       (size_t)ohw * sizeof(float));
		for (int f = 0; f < filters; f++)
			for (int q = 0; q < ohw; q++)
				yi[(size_t)f * ohw + q] = bias[f];
		gemm_fixed_portable(false, false, filters, ohw, ckk, 1.0f, w, coli, 1.0f, yi);
	}
	conv_gemm_forward_portable(filters, ckk, ohw, nb, w, bias, col, ld, got, acc);
	conv_compare("portable", want, got, ny, filters, ckk, ohw, nb);
	for (size_t v = 0; v < sizeof(conv_paths) / sizeof(conv_paths[0]); v++) {
		free(got);
		got = conv_y(ny);
		if (!conv_paths[v].run(filters, ckk, ohw, nb, w, bias, col, ld, got, acc)) {
			note_missing(conv_paths[v].name);
			continue;
		}
		conv_compare(conv_paths[v].name, want, got, ny, filters, ckk, ohw, nb);
	}
	free(got);
	got = conv_y(ny);
	conv_gemm_forward(filters, ckk, ohw, nb, w, bias, col, ld, got, acc);
	conv_compare("conv_gemm_forward", want, got, ny, filters, ckk, ohw, nb);
	free(w);
	free(bias);
	free(col);
	free(coli);
	free(acc);
	free(want);
	free(got);
}

static void conv_forward_paths_agree_with_gemm_fixed(void **state)
{
	/* filters around the 4- and 8-row tiles; k around the 128-deep block;
	 * images of 1 pixel, less than, exactly and more than a vector, so
	 * that vectors straddle two or more images; the configs' shapes */
	static const int shapes[][4] = {
		{ 1, 1, 1, 1 },    { 3, 5, 3, 7 },     { 4, 9, 8, 3 },     { 7, 127, 15, 5 },
		{ 8, 128, 16, 4 }, { 9, 129, 17, 3 },  { 16, 144, 49, 5 }, { 17, 257, 24, 2 },
		{ 5, 3, 1, 40 },   { 12, 33, 2, 29 },  { 32, 25, 784, 1 }, { 64, 800, 196, 2 },
		{ 16, 144, 196, 4 }, { 32, 288, 49, 16 }, { 64, 576, 16, 13 }, { 128, 576, 64, 2 },
		{ 32, 27, 1024, 1 }, { 10, 300, 50, 3 },
	};
	uint64_t rng = 515;

	(void)state;
	for (size_t t = 0; t < sizeof(shapes) / sizeof(shapes[0]); t++)
		conv_case(shapes[t][0], shapes[t][1], shapes[t][2], shapes[t][3], &rng);
}

/* The fused path (im2col built panel by panel from the images) against
 * im2col + the portable product, on the geometries it takes, strides 1-3. */
static void conv_fused_matches_im2col(void **state)
{
	/* c, h, w, k, pad: lenet's conv2, resnet-mnist's 14x14, 7x7 and 4x4,
	 * odd sizes, kernels wider than the image's padding, k up to 32 */
	static const int geoms[][5] = {
		{ 32, 14, 14, 5, 2 }, { 16, 14, 14, 3, 1 }, { 32, 7, 7, 3, 1 }, { 64, 4, 4, 3, 1 },
		{ 3, 5, 9, 3, 0 },    { 2, 11, 6, 4, 1 },   { 1, 16, 16, 1, 0 }, { 5, 3, 3, 3, 1 },
		{ 2, 12, 12, 7, 3 },  { 1, 16, 12, 12, 2 }, { 9, 1, 1, 1, 0 },
		/* wider than one register: cifar10's 32x32 and 16x16 with padding,
		 * resnet-mnist's 9x9 stem on 28x28, odd widths */
		{ 3, 32, 32, 3, 1 },  { 4, 16, 16, 3, 1 },  { 1, 28, 28, 9, 4 }, { 2, 9, 31, 5, 2 },
		{ 2, 6, 17, 1, 0 },   { 1, 32, 32, 32, 0 },
	};
	/* stride 2 and 3 on some of them: resnet-mnist's strided 3x3 and 1x1 */
	static const int strides[] = { 1, 2, 3 };
	static const int filters[] = { 1, 8, 13, 64 };
	uint64_t rng = 616;
	int ran = 0;

	(void)state;
	for (size_t u = 0; u < 3 * sizeof(geoms) / sizeof(geoms[0]); u++) {
		size_t t = u % (sizeof(geoms) / sizeof(geoms[0]));
		int c = geoms[t][0], h = geoms[t][1], wd = geoms[t][2], k = geoms[t][3], pad = geoms[t][4];
		int st = strides[u / (sizeof(geoms) / sizeof(geoms[0]))];
		int oh = (h + 2 * pad - k) / st + 1, ow = (wd + 2 * pad - k) / st + 1;
		int ohw = oh * ow, ckk = c * k * k;
		int f = filters[u % 4], nb = 1 + (int)(u % 5);
		struct conv_gemm_image im = { NULL, c, h, wd, k, st, pad, pad, oh, ow };
		size_t in_size = (size_t)c * h * wd, ny = (size_t)nb * f * ohw;
		size_t ld = conv_gemm_ld((size_t)nb * ohw);

		if (!conv_gemm_fused_applies(&im))
			continue;
		ran++;
		float *x = test_random_floats(in_size * nb, &rng);
		float *w = test_random_floats((size_t)f * ckk, &rng);
		float *bias = test_random_floats((size_t)f, &rng);
		float *col = calloc((size_t)ckk * ld, sizeof(float));
		float *acc = malloc(conv_gemm_acc_floats(f) * sizeof(float));
		float *scratch = malloc(conv_gemm_fused_floats(f) * sizeof(float));
		float *want = conv_y(ny), *got = conv_y(ny);

		assert_non_null(col);
		assert_non_null(acc);
		assert_non_null(scratch);
		for (int i = 0; i < nb; i++)
			im2col_ld(x + i * in_size, c, h, wd, k, st, pad, pad, oh, ow, col + (size_t)i * ohw, ld);
		conv_gemm_forward_portable(f, ckk, ohw, nb, w, bias, col, ld, want, acc);
		im.x = x;
		conv_gemm_forward_fused(f, &im, nb, w, bias, got, scratch);
		conv_compare("fused", want, got, ny, f, ckk, ohw, nb);
		free(x);
		free(w);
		free(bias);
		free(col);
		free(acc);
		free(scratch);
		free(want);
		free(got);
	}
	if (!ran)
		note_missing("avx512 (the fused path)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(paths_agree_on_every_shape_and_transpose),
		cmocka_unit_test(chains_run_in_the_order_of_k),
		cmocka_unit_test(libm_fmaf_matches_the_instruction),
		cmocka_unit_test(conv_forward_paths_agree_with_gemm_fixed),
		cmocka_unit_test(conv_fused_matches_im2col),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
