/* im2col / col2im: im2col against its definition, and col2im as its
 * exact adjoint, <col2im(y), x> == <y, im2col(x)>, over strides, kernels and
 * symmetric and asymmetric (SAME_UPPER) paddings; im2col_ld at every kernel
 * level against the baseline im2col. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "testutil.h"

struct geom {
	int c, h, w, k, stride;
	int pt, pb, pl, pr;  /* padding per side */
	int oh, ow;
};

/* Fills oh/ow; false if the kernel does not fit the padded input. */
static bool geom_finish(struct geom *g)
{
	int ph = g->h + g->pt + g->pb, pw = g->w + g->pl + g->pr;

	if (g->k > ph || g->k > pw)
		return false;
	g->oh = (ph - g->k) / g->stride + 1;
	g->ow = (pw - g->k) / g->stride + 1;
	return true;
}

static void same_pad(int in, int k, int s, int *before, int *after)
{
	int out = (in + s - 1) / s;
	int total = (out - 1) * s + k - in;

	if (total < 0)
		total = 0;
	*before = total / 2;
	*after = total - total / 2;
}

/* The geometries every test walks through: kernel 1..5, stride 1..3,
 * padding 0..2 on all sides, then SAME_UPPER padding. */
static int geom_list(struct geom *out, int max)
{
	uint64_t rng = 42;
	int n = 0;

	for (int k = 1; k <= 5; k++) {
		for (int s = 1; s <= 3; s++) {
			for (int p = 0; p <= 3; p++) {
				struct geom g = {
					.c = 1 + (int)test_uniform(&rng, 0, 3),
					.h = 1 + (int)test_uniform(&rng, 0, 9),
					.w = 1 + (int)test_uniform(&rng, 0, 9),
					.k = k, .stride = s,
				};
				if (p < 3) {
					g.pt = g.pb = g.pl = g.pr = p;
				} else {
					same_pad(g.h, k, s, &g.pt, &g.pb);
					same_pad(g.w, k, s, &g.pl, &g.pr);
				}
				if (geom_finish(&g) && n < max)
					out[n++] = g;
			}
		}
	}
	return n;
}

static void test_im2col_definition(void **state)
{
	struct geom gs[128];
	int ng = geom_list(gs, 128);
	uint64_t rng = 7;

	(void)state;
	assert_true(ng > 40);
	for (int t = 0; t < ng; t++) {
		const struct geom *g = &gs[t];
		size_t ckk = (size_t)g->c * g->k * g->k, ohw = (size_t)g->oh * g->ow;
		float *x = test_random_floats((size_t)g->c * g->h * g->w, &rng);
		float *col = test_random_floats(ckk * ohw, &rng);

		im2col(x, g->c, g->h, g->w, g->k, g->stride, g->pt, g->pl, g->oh, g->ow, col);
		for (int ci = 0; ci < g->c; ci++)
		for (int ki = 0; ki < g->k; ki++)
		for (int kj = 0; kj < g->k; kj++)
		for (int oy = 0; oy < g->oh; oy++)
		for (int ox = 0; ox < g->ow; ox++) {
			int iy = oy * g->stride - g->pt + ki, ix = ox * g->stride - g->pl + kj;
			float want = 0.0f;
			if (iy >= 0 && iy < g->h && ix >= 0 && ix < g->w)
				want = x[((size_t)ci * g->h + iy) * g->w + ix];
			size_t r = ((size_t)ci * g->k + ki) * g->k + kj;
			assert_true(col[r * ohw + (size_t)oy * g->ow + ox] == want);
		}
		free(x);
		free(col);
	}
}

static void test_col2im_adjoint(void **state)
{
	struct geom gs[128];
	int ng = geom_list(gs, 128);
	uint64_t rng = 11;

	(void)state;
	for (int t = 0; t < ng; t++) {
		const struct geom *g = &gs[t];
		size_t nx = (size_t)g->c * g->h * g->w;
		size_t ncol = (size_t)g->c * g->k * g->k * g->oh * g->ow;
		float *x = test_random_floats(nx, &rng);
		float *y = test_random_floats(ncol, &rng);
		float *col = test_random_floats(ncol, &rng);
		float *dx = calloc(nx, sizeof(*dx));
		double lhs = 0, rhs = 0, mag = 0;

		assert_non_null(dx);
		im2col(x, g->c, g->h, g->w, g->k, g->stride, g->pt, g->pl, g->oh, g->ow, col);
		col2im(y, g->c, g->h, g->w, g->k, g->stride, g->pt, g->pl, g->oh, g->ow, dx);
		for (size_t i = 0; i < nx; i++) {
			lhs += (double)dx[i] * x[i];
			mag += fabs((double)dx[i] * x[i]);
		}
		for (size_t i = 0; i < ncol; i++) {
			rhs += (double)y[i] * col[i];
			mag += fabs((double)y[i] * col[i]);
		}
		if (fabs(lhs - rhs) > 1e-5 * fmax(1.0, mag))
			fail_msg("c=%d h=%d w=%d k=%d s=%d pad=(%d,%d;%d,%d): <col2im(y),x>=%.9g <y,im2col(x)>=%.9g",
			         g->c, g->h, g->w, g->k, g->stride, g->pt, g->pb, g->pl, g->pr, lhs, rhs);
		free(x);
		free(y);
		free(col);
		free(dx);
	}
}

/* col2im adds to dx: the conv layer relies on the caller's zeroing. */
static void test_col2im_accumulates(void **state)
{
	struct geom g = { .c = 2, .h = 5, .w = 4, .k = 3, .stride = 1, .pt = 1, .pb = 1, .pl = 1, .pr = 1 };
	uint64_t rng = 3;

	(void)state;
	assert_true(geom_finish(&g));
	size_t nx = (size_t)g.c * g.h * g.w, ncol = (size_t)g.c * g.k * g.k * g.oh * g.ow;
	float *y = test_random_floats(ncol, &rng);
	float *a = calloc(nx, sizeof(*a));
	float *b = malloc(nx * sizeof(*b));
	assert_non_null(a);
	assert_non_null(b);
	for (size_t i = 0; i < nx; i++)
		b[i] = 1.0f;
	col2im(y, g.c, g.h, g.w, g.k, g.stride, g.pt, g.pl, g.oh, g.ow, a);
	col2im(y, g.c, g.h, g.w, g.k, g.stride, g.pt, g.pl, g.oh, g.ow, b);
	for (size_t i = 0; i < nx; i++)
		assert_float_equal(b[i] - 1.0f, a[i], 1e-5);
	free(y);
	free(a);
	free(b);
}

/* im2col_ld at every level: the same floats as the definition, rows ld
 * apart, nothing written between one row's end and the next row. */
static void test_im2col_ld_every_level(void **state)
{
	struct geom gs[128];
	int ng = geom_list(gs, 128);
	uint64_t rng = 31;
	int levels = 0;

	(void)state;
	for (int lv = 0; lv < CNN_ISA_LEVELS; lv++) {
		const struct cnn_kernel_ops *ops = cnn_kernels_level(cnn_isa_names[lv]);

		if (!ops)
			continue;
		levels++;
		for (int t = 0; t < ng; t++) {
			const struct geom *g = &gs[t];
			size_t ckk = (size_t)g->c * g->k * g->k, ohw = (size_t)g->oh * g->ow;
			size_t ld = ohw + 1 + (size_t)t % 5;
			float *x = test_random_floats((size_t)g->c * g->h * g->w, &rng);
			float *want = test_random_floats(ckk * ohw, &rng);   /* (ckk, ohw) */
			float *col = test_random_floats(ckk * ld, &rng);     /* (ckk, ld) */
			float *before = malloc(ckk * ld * sizeof(float));

			assert_non_null(before);
			memcpy(before, col, ckk * ld * sizeof(float));
			im2col_baseline(x, g->c, g->h, g->w, g->k, g->stride, g->pt, g->pl, g->oh,
			                g->ow, want);
			ops->im2col_ld(x, g->c, g->h, g->w, g->k, g->stride, g->pt, g->pl, g->oh, g->ow,
			               col, ld);
			for (size_t r = 0; r < ckk; r++) {
				for (size_t j = 0; j < ld; j++) {
					const float *e = j < ohw ? &want[r * ohw + j] : &before[r * ld + j];
					if (memcmp(&col[r * ld + j], e, sizeof(float)))
						fail_msg("%s: c=%d h=%d w=%d k=%d s=%d pad=(%d,%d;%d,%d) ld %zu: "
						         "col[%zu][%zu] = %g, want %g", ops->name, g->c, g->h,
						         g->w, g->k, g->stride, g->pt, g->pb, g->pl, g->pr, ld,
						         r, j, (double)col[r * ld + j], (double)*e);
				}
			}
			free(x);
			free(want);
			free(col);
			free(before);
		}
	}
	assert_true(levels >= 1);
}

/* The gemm wrapper in all four transpose combinations against a loop. */
static void test_gemm_transposes(void **state)
{
	enum { M = 3, N = 5, K = 4 };
	uint64_t rng = 5;
	float *a = test_random_floats(M * K, &rng), *b = test_random_floats(K * N, &rng);

	(void)state;
	for (int ta = 0; ta < 2; ta++) {
		for (int tb = 0; tb < 2; tb++) {
			float c[M * N];
			for (int i = 0; i < M * N; i++)
				c[i] = 1.0f;
			cnn_gemm(ta, tb, M, N, K, 2.0f, a, b, 0.5f, c);
			for (int i = 0; i < M; i++) {
				for (int j = 0; j < N; j++) {
					double s = 0;
					for (int p = 0; p < K; p++) {
						float av = ta ? a[p * M + i] : a[i * K + p];
						float bv = tb ? b[j * K + p] : b[p * N + j];
						s += (double)av * bv;
					}
					assert_float_equal(c[i * N + j], 2.0 * s + 0.5, 1e-5);
				}
			}
		}
	}
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_im2col_definition),
		cmocka_unit_test(test_col2im_adjoint),
		cmocka_unit_test(test_col2im_accumulates),
		cmocka_unit_test(test_im2col_ld_every_level),
		cmocka_unit_test(test_gemm_transposes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
