/* The im2col convolution's backward pass (src/layers/conv.c with
 * src/kernels/conv_backward.c) gives, bit for bit, what the plain
 * formulation gives: per image dW += dy_i x col_i^T and dcol = W^T x dy_i
 * through the portable fixed-order GEMM, db[f] += the sum of dy_i[f] in
 * pixel order, dx_i = col2im(dcol) into zeros. On odd shapes, strides,
 * paddings (SAME's odd pixel included), 1x1 layers with and without
 * stride, filter counts that fill vectors partly, signed zeros in dW and dy;
 * at the level CNN_ISA chooses (CTest runs this once per level), and each
 * new kernel at every level this CPU has against the baseline's (the
 * path's gradient check is test_layer_conv's). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/conv_backward.h"
#include "kernels/dispatch.h"
#include "kernels/gemm_fixed.h"
#include "kernels/kernels.h"
#include "layers/layers.h"
#include "gradcheck.h"
#include "testutil.h"

static struct layer *make(const char *yaml, struct shape in)
{
	return gradcheck_layer_or_fail(conv_create, "conv", yaml, in);
}

/* n random floats in [-1, 1), about one in eight an exact +0 or -0. */
static float *fill(size_t n, uint64_t *rng)
{
	float *p = malloc((n ? n : 1) * sizeof(*p));

	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		float u = test_uniform(rng, 0, 1);
		p[i] = u < 0.06f ? 0.0f : u < 0.12f ? -0.0f : test_uniform(rng, -1, 1);
	}
	return p;
}

static void assert_bits(const char *what, const char *yaml, const float *want, const float *got,
                        size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (memcmp(&want[i], &got[i], sizeof(float)))
			fail_msg("%s (level %s): %s[%zu]: plain formulation %a, conv %a", yaml,
			         cnn_kernels_name(), what, i, (double)want[i], (double)got[i]);
	}
}

/* The plain formulation on n images: dw (filters, ckk) then db (filters)
 * accumulate; dx (when not NULL) is overwritten. */
static void plain_backward(const struct layer *l, int k, int stride, int pad_top, int pad_left,
                           const float *w, const float *x, const float *dy, float *dx,
                           float *dw, int n)
{
	int filters = l->out.c, ohw = l->out.h * l->out.w, ckk = l->in.c * k * k;
	size_t in_size = shape_size(l->in), out_size = shape_size(l->out);
	float *col = malloc((size_t)ckk * ohw * sizeof(*col));    /* (ckk, ohw) */
	float *dcol = malloc((size_t)ckk * ohw * sizeof(*dcol));  /* (ckk, ohw) */
	float *db = dw + (size_t)filters * ckk;

	assert_non_null(col);
	assert_non_null(dcol);
	for (int i = 0; i < n; i++) {
		const float *dyi = dy + i * out_size;
		im2col(x + i * in_size, l->in.c, l->in.h, l->in.w, k, stride, pad_top, pad_left,
		       l->out.h, l->out.w, col);
		gemm_fixed_portable(false, true, filters, ckk, ohw, 1.0f, dyi, col, 1.0f, dw);
		for (int f = 0; f < filters; f++) {
			float s = 0.0f;
			for (int j = 0; j < ohw; j++)
				s += dyi[(size_t)f * ohw + j];
			db[f] += s;
		}
		if (!dx)
			continue;
		gemm_fixed_portable(true, false, ckk, ohw, filters, 1.0f, w, dyi, 0.0f, dcol);
		memset(dx + i * in_size, 0, in_size * sizeof(*dx));
		col2im(dcol, l->in.c, l->in.h, l->in.w, k, stride, pad_top, pad_left, l->out.h,
		       l->out.w, dx + i * in_size);
	}
	free(col);
	free(dcol);
}

struct bwd_case {
	int c, h, w, filters, k, stride;
	int pad;   /* -1: same, else explicit */
	int n;
};

static void check_case(const struct bwd_case *t, uint64_t seed)
{
	char yaml[200];
	struct layer_attrs a;
	uint64_t rng = seed;

	if (t->pad < 0)
		snprintf(yaml, sizeof yaml,
		         "{filters: %d, kernel_size: %d, stride: %d, padding: same, algorithm: im2col}",
		         t->filters, t->k, t->stride);
	else
		snprintf(yaml, sizeof yaml,
		         "{filters: %d, kernel_size: %d, stride: %d, padding: %d, algorithm: im2col}",
		         t->filters, t->k, t->stride, t->pad);
	struct layer *l = make(yaml, (struct shape){ t->c, t->h, t->w });
	l->ops->attrs(l, &a);

	size_t nin = shape_size(l->in) * t->n, nout = shape_size(l->out) * t->n;
	size_t np = gradcheck_param_count(l), ns = l->ops->scratch_floats(l, t->n);
	float *x = fill(nin, &rng), *w = fill(np, &rng), *dy = fill(nout, &rng);
	float *dw0 = fill(np, &rng);   /* dW and db accumulate onto this */
	float *dwa = malloc(np * sizeof(float)), *dwb = malloc(np * sizeof(float));
	float *dxa = fill(nin, &rng), *dxb = fill(nin, &rng);   /* overwritten */
	float *scratch = malloc((ns ? ns : 1) * sizeof(float));
	float *y = calloc(nout ? nout : 1, sizeof(float));

	assert_non_null(dwa);
	assert_non_null(dwb);
	assert_non_null(scratch);
	assert_non_null(y);
	/* garbage scratch: the backward pass may not rely on zeros there */
	for (size_t i = 0; i < ns; i++)
		scratch[i] = test_uniform(&rng, -1e3f, 1e3f);
	memcpy(dwa, dw0, np * sizeof(float));
	memcpy(dwb, dw0, np * sizeof(float));
	plain_backward(l, a.kernel, a.stride, a.pad_top, a.pad_left, w, x, dy, dxa, dwa, t->n);

	struct layer_ctx ctx = { .scratch = scratch, .train = true };
	l->ops->backward(l, w, x, y, dy, dxb, dwb, t->n, &ctx);
	assert_bits("dw/db", yaml, dwa, dwb, np);
	assert_bits("dx", yaml, dxa, dxb, nin);

	/* without dx (a first layer): the same parameter gradients */
	memcpy(dwb, dw0, np * sizeof(float));
	l->ops->backward(l, w, x, y, dy, NULL, dwb, t->n, &ctx);
	assert_bits("dw/db without dx", yaml, dwa, dwb, np);

	free(x);
	free(w);
	free(dy);
	free(dw0);
	free(dwa);
	free(dwb);
	free(dxa);
	free(dxb);
	free(scratch);
	free(y);
	l->ops->destroy(l);
}

/* The networks' shapes (resnet-mnist, cifar10) and the edges of the tiles:
 * filters around the vector widths (8, 16, 32), c*k*k around the tile
 * heights (6, 12), rows shorter and longer than a vector. */
static void test_fixed_shapes(void **state)
{
	static const struct bwd_case cases[] = {
		{ 16, 14, 14, 16, 3, 1, -1, 2 },   /* resnet stage 1 */
		{ 16, 14, 14, 32, 3, 2, -1, 2 },   /* stage 2's strided conv */
		{ 16, 14, 14, 32, 1, 2, 0, 2 },    /* its 1x1 projection */
		{ 32, 7, 7, 32, 3, 1, -1, 1 },
		{ 32, 7, 7, 64, 1, 2, 0, 1 },
		{ 64, 4, 4, 64, 3, 1, -1, 1 },
		{ 3, 32, 32, 32, 3, 1, -1, 1 },    /* cifar's first layer */
		{ 32, 16, 16, 64, 3, 1, -1, 1 },
		{ 4, 5, 5, 6, 1, 1, 0, 3 },        /* 1x1: x is col */
		{ 1, 28, 28, 16, 3, 1, -1, 2 },
		{ 3, 9, 11, 1, 3, 1, 1, 2 },       /* one filter */
		{ 2, 7, 13, 7, 3, 1, -1, 2 },
		{ 2, 17, 19, 9, 3, 1, 1, 2 },
		{ 1, 21, 35, 15, 5, 1, 2, 2 },     /* rows past two vectors */
		{ 2, 6, 6, 17, 3, 1, 0, 2 },       /* valid */
		{ 3, 8, 9, 31, 2, 1, -1, 2 },      /* SAME, even k: the odd pixel after */
		{ 2, 9, 9, 33, 4, 2, -1, 2 },
		{ 5, 10, 7, 40, 3, 3, 2, 2 },
		{ 1, 5, 5, 48, 5, 1, 0, 2 },       /* one output pixel */
		{ 7, 6, 5, 12, 2, 2, 0, 2 },       /* stride 2, input past the last window */
		{ 2, 3, 3, 5, 3, 1, 4, 1 },        /* more padding than input */
		{ 2, 10, 10, 5, 3, 1, 1, 5 },      /* dW's blocks of 2 images (100 pixels): 2, 2, 1 */
		{ 64, 4, 4, 64, 3, 1, -1, 19 },    /* blocks of 16 images and a rest */
		{ 3, 9, 9, 20, 3, 2, 0, 7 },       /* 16 pixels, stride 2, in place */
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_case(&cases[i], 1000 + i);
}

static void test_random_shapes(void **state)
{
	uint64_t rng = 7;

	(void)state;
	for (int t = 0; t < 120; t++) {
		struct bwd_case c;
		c.k = 1 + (int)test_uniform(&rng, 0, 5);
		c.stride = 1 + (int)test_uniform(&rng, 0, 3);
		c.pad = (int)floorf(test_uniform(&rng, -1, (float)c.k));   /* -1: same */
		c.c = 1 + (int)test_uniform(&rng, 0, 6);
		c.h = c.k + (int)test_uniform(&rng, 0, 14);
		c.w = c.k + (int)test_uniform(&rng, 0, 20);
		c.filters = 1 + (int)test_uniform(&rng, 0, 70);
		c.n = 1 + (int)test_uniform(&rng, 0, 3);
		check_case(&c, 5000 + (uint64_t)t);
	}
}

/* Each new kernel at every level this CPU runs gives the baseline's bits. */
static void test_levels_agree(void **state)
{
	const struct cnn_kernel_ops *base = cnn_kernels_level("baseline");
	uint64_t rng = 3;

	(void)state;
	assert_non_null(base);
	for (int level = 1; level < CNN_ISA_LEVELS; level++) {
		const struct cnn_kernel_ops *ops = cnn_kernels_level(cnn_isa_names[level]);
		if (!ops) {
			printf("level %s: not on this CPU or build, not compared\n", cnn_isa_names[level]);
			continue;
		}
		for (int t = 0; t < 60; t++) {
			int c = 1 + (int)test_uniform(&rng, 0, 4), k = 1 + (int)test_uniform(&rng, 0, 5);
			int stride = 1 + (int)test_uniform(&rng, 0, 2);
			int oh = 1 + (int)test_uniform(&rng, 0, 9), ow = 1 + (int)test_uniform(&rng, 0, 40);
			int filters = 1 + (int)test_uniform(&rng, 0, 80);
			int wp = (ow - 1) * stride + k + (int)test_uniform(&rng, 0, 3);
			int hp = (oh - 1) * stride + k;
			int ckk = c * k * k, ohw = oh * ow, nimg = 1 + (int)test_uniform(&rng, 0, 3);
			size_t is = (size_t)c * hp * wp + (size_t)test_uniform(&rng, 0, 5);   /* image stride */
			struct conv_bwd_geom g = { c, k, stride, oh, ow, filters, wp, (size_t)hp * wp, nimg, is };
			float *xp = fill(is * nimg, &rng), *dyT = fill((size_t)nimg * ohw * filters, &rng);
			float *dwa = fill((size_t)ckk * filters, &rng);
			float *dwb = malloc((size_t)ckk * filters * sizeof(float));
			float *ta = malloc((size_t)ohw * filters * sizeof(float));
			float *tb = malloc((size_t)ohw * filters * sizeof(float));
			float dba[80], dbb[80];

			assert_non_null(dwb);
			assert_non_null(ta);
			assert_non_null(tb);
			memcpy(dwb, dwa, (size_t)ckk * filters * sizeof(float));
			base->conv_bwd_dw(&g, xp, dyT, dwa);
			ops->conv_bwd_dw(&g, xp, dyT, dwb);
			assert_bits("conv_bwd_dw", ops->name, dwa, dwb, (size_t)ckk * filters);
			base->conv_bwd_transpose(dyT, ohw, filters, ta);
			ops->conv_bwd_transpose(dyT, ohw, filters, tb);
			assert_bits("conv_bwd_transpose", ops->name, ta, tb, (size_t)ohw * filters);
			for (int f = 0; f < filters; f++)
				dba[f] = dbb[f] = (float)f - 0.5f;
			base->conv_bwd_bias(dyT, ohw, filters, dba);
			ops->conv_bwd_bias(dyT, ohw, filters, dbb);
			assert_bits("conv_bwd_bias", ops->name, dba, dbb, (size_t)filters);

			/* col2im at stride 1 on an image the shapes above fit */
			int pt = (int)test_uniform(&rng, 0, (float)k), pl = (int)test_uniform(&rng, 0, (float)k);
			int h = oh + k - 1 - pt - (int)test_uniform(&rng, 0, (float)(k - pt));
			int w = ow + k - 1 - pl - (int)test_uniform(&rng, 0, (float)(k - pl));
			if (h >= 1 && w >= 1) {
				float *dcol = fill((size_t)ckk * ohw, &rng);
				float *dxa = calloc((size_t)c * h * w, sizeof(float));
				float *dxb = fill((size_t)c * h * w, &rng);

				assert_non_null(dxa);
				base->col2im(dcol, c, h, w, k, 1, pt, pl, oh, ow, dxa);
				ops->conv_bwd_col2im_s1(dcol, (size_t)ohw, c, h, w, k, pt, pl, oh, ow, dxb);
				assert_bits("conv_bwd_col2im_s1", ops->name, dxa, dxb, (size_t)c * h * w);
				base->conv_bwd_col2im_s1(dcol, (size_t)ohw, c, h, w, k, pt, pl, oh, ow, dxb);
				assert_bits("conv_bwd_col2im_s1 (baseline)", ops->name, dxa, dxb,
				            (size_t)c * h * w);
				free(dcol);
				free(dxa);
				free(dxb);
			}
			free(xp);
			free(dyT);
			free(dwa);
			free(dwb);
			free(ta);
			free(tb);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_shapes),
		cmocka_unit_test(test_random_shapes),
		cmocka_unit_test(test_levels_agree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
