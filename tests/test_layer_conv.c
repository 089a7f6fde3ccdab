/* conv: shape inference, describe(), parameter specs, argument errors, the
 * forward pass against a direct convolution loop, and gradient checks. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/conv_direct.h"
#include "kernels/gemm_fixed.h"
#include "kernels/kernels.h"
#include "layers/layers.h"
#include "gradcheck.h"
#include "testutil.h"

static struct layer *make(const char *yaml, struct shape in)
{
	return gradcheck_layer_or_fail(conv_create, "conv", yaml, in);
}

/* The full message of a failing create, "file:line:col: msg". */
static const char *make_error(const char *yaml, struct shape in, char *buf, size_t len)
{
	struct cnn_error err;
	struct layer *l;

	if (gradcheck_make_layer(conv_create, "conv", yaml, in, &l, &err) == 0) {
		l->ops->destroy(l);
		fail_msg("%s: expected an error", yaml);
	}
	assert_null(l);
	return cnn_error_str(&err, buf, len);
}

static void check(const char *yaml, struct shape in, struct shape want, const char *desc)
{
	struct layer *l = make(yaml, in);
	char buf[128], alt[128];
	const char *direct = strstr(desc, "auto: direct");

	/* Without AVX2 and FMA, `auto` always means im2col. */
	if (direct && !conv_direct_vectorised(&(struct conv_geom){ .k = 1, .stride = 1 })) {
		snprintf(alt, sizeof(alt), "%.*sauto: im2col", (int)(direct - desc), desc);
		desc = alt;
	}

	assert_string_equal(l->ops->type, "conv");
	assert_int_equal(l->in.c, in.c);
	assert_int_equal(l->out.c, want.c);
	assert_int_equal(l->out.h, want.h);
	assert_int_equal(l->out.w, want.w);
	l->ops->describe(l, buf, sizeof(buf));
	assert_string_equal(buf, desc);
	l->ops->destroy(l);
}

static void test_conv_shapes(void **state)
{
	(void)state;
	check("{filters: 4, kernel_size: 5}", (struct shape){ 1, 28, 28 },
	      (struct shape){ 4, 24, 24 }, "5x5/1 valid, 1->4, auto: direct");
	check("{filters: 4, kernel_size: 5, padding: valid}", (struct shape){ 1, 5, 5 },
	      (struct shape){ 4, 1, 1 }, "5x5/1 valid, 1->4, auto: direct");
	check("{filters: 64, kernel_size: 5, padding: same}", (struct shape){ 32, 14, 14 },
	      (struct shape){ 64, 14, 14 }, "5x5/1 same(2,2), 32->64, auto: im2col (forward by Winograd)");
	/* Winograd's forward: not below 16 channels or a 14x14 output, not
	 * when im2col or direct is named; where `winograd` asks for it */
	check("{filters: 64, kernel_size: 5, padding: same, algorithm: im2col}",
	      (struct shape){ 32, 14, 14 }, (struct shape){ 64, 14, 14 },
	      "5x5/1 same(2,2), 32->64, im2col");
	check("{filters: 4, kernel_size: 5}", (struct shape){ 4, 12, 12 },
	      (struct shape){ 4, 8, 8 }, "5x5/1 valid, 4->4, auto: direct");
	check("{filters: 32, kernel_size: 5, padding: same}", (struct shape){ 12, 14, 14 },
	      (struct shape){ 32, 14, 14 }, "5x5/1 same(2,2), 12->32, auto: im2col");
	check("{filters: 64, kernel_size: 5, padding: same}", (struct shape){ 32, 7, 7 },
	      (struct shape){ 64, 7, 7 }, "5x5/1 same(2,2), 32->64, auto: im2col");
	check("{filters: 64, kernel_size: 5, padding: same, algorithm: winograd}",
	      (struct shape){ 32, 7, 7 }, (struct shape){ 64, 7, 7 },
	      "5x5/1 same(2,2), 32->64, winograd: im2col (forward by Winograd)");
	check("{filters: 8, kernel_size: 3, padding: 1}", (struct shape){ 3, 8, 6 },
	      (struct shape){ 8, 8, 6 }, "3x3/1 pad 1, 3->8, auto: direct");
	check("{filters: 2, kernel_size: 3, padding: 0}", (struct shape){ 1, 4, 4 },
	      (struct shape){ 2, 2, 2 }, "3x3/1 pad 0, 1->2, auto: direct");
	check("{filters: 2, kernel_size: 3, stride: 2}", (struct shape){ 1, 9, 9 },
	      (struct shape){ 2, 4, 4 }, "3x3/2 valid, 1->2, auto: im2col");
	check("{filters: 2, kernel_size: 3, stride: 2}", (struct shape){ 1, 8, 8 },
	      (struct shape){ 2, 3, 3 }, "3x3/2 valid, 1->2, auto: im2col");
	/* SAME with stride 2: out = ceil(in/2); odd total padding goes after. */
	check("{filters: 2, kernel_size: 3, stride: 2, padding: same}", (struct shape){ 1, 7, 7 },
	      (struct shape){ 2, 4, 4 }, "3x3/2 same(1,1), 1->2, auto: im2col");
	check("{filters: 2, kernel_size: 3, stride: 2, padding: same}", (struct shape){ 1, 8, 8 },
	      (struct shape){ 2, 4, 4 }, "3x3/2 same(0,1), 1->2, auto: im2col");
	check("{filters: 2, kernel_size: 3, stride: 2, padding: same}", (struct shape){ 1, 7, 8 },
	      (struct shape){ 2, 4, 4 }, "3x3/2 same(1,1;0,1), 1->2, auto: im2col");
	check("{filters: 2, kernel_size: 2, padding: same}", (struct shape){ 1, 5, 5 },
	      (struct shape){ 2, 5, 5 }, "2x2/1 same(0,1), 1->2, auto: direct");
	/* A stride larger than the kernel needs no SAME padding at all. */
	check("{filters: 1, kernel_size: 1, stride: 3, padding: same}", (struct shape){ 1, 7, 7 },
	      (struct shape){ 1, 3, 3 }, "1x1/3 same(0,0), 1->1, auto: im2col");
	check("{filters: 3, kernel_size: 1}", (struct shape){ 5, 4, 3 },
	      (struct shape){ 3, 4, 3 }, "1x1/1 valid, 5->3, auto: direct");
	check("{filters: 3, kernel_size: 3, algorithm: im2col}", (struct shape){ 1, 3, 3 },
	      (struct shape){ 3, 1, 1 }, "3x3/1 valid, 1->3, im2col");
	check("{filters: 3, kernel_size: 3, algorithm: auto}", (struct shape){ 1, 3, 3 },
	      (struct shape){ 3, 1, 1 }, "3x3/1 valid, 1->3, auto: direct");
}

static void test_conv_params(void **state)
{
	struct layer *l = make("{filters: 6, kernel_size: 5, algorithm: im2col}",
	                       (struct shape){ 3, 32, 32 });
	struct param_spec p[LAYER_MAX_PARAMS];

	(void)state;
	assert_int_equal(l->ops->params(l, p), 2);
	assert_string_equal(p[0].name, "weight");
	assert_int_equal(p[0].n, 6 * 3 * 5 * 5);
	assert_int_equal(p[0].ndim, 4);
	assert_int_equal(p[0].dims[0], 6);
	assert_int_equal(p[0].dims[1], 3);
	assert_int_equal(p[0].dims[2], 5);
	assert_int_equal(p[0].dims[3], 5);
	assert_int_equal(p[0].fan_in, 3 * 5 * 5);
	assert_true(p[0].decay);
	assert_string_equal(p[1].name, "bias");
	assert_int_equal(p[1].n, 6);
	assert_int_equal(p[1].ndim, 1);
	assert_int_equal(p[1].dims[0], 6);
	assert_int_equal(p[1].fan_in, 0);
	assert_false(p[1].decay);
	/* backward's dcol, dy^T and dW^T of one image at least */
	assert_true(l->ops->scratch_floats(l, 16) >= 75 * 28 * 28 + (28 * 28 + 75) * 6);
	assert_true(l->ops->flops(l) == 2.0 * 6 * 75 * 28 * 28);
	l->ops->destroy(l);
}

static void test_conv_errors(void **state)
{
	char buf[600];
	struct shape in = { 1, 3, 3 };

	(void)state;
	assert_string_equal(make_error("{filters: 2, kernel_size: 5}", in, buf, sizeof(buf)),
	                    "test.yaml:1:1: conv: kernel_size 5 is larger than the input 3x3 (padded 3x3)");
	assert_string_equal(make_error("{filters: 2, kernel_size: 6, padding: 1}", in, buf, sizeof(buf)),
	                    "test.yaml:1:1: conv: kernel_size 6 is larger than the input 3x3 (padded 5x5)");
	assert_string_equal(make_error("{filters: 2, kernel_size: 3, padding: 0}", (struct shape){ 1, 2, 5 },
	                               buf, sizeof(buf)),
	                    "test.yaml:1:1: conv: kernel_size 3 is larger than the input 2x5 (padded 2x5)");
	assert_string_equal(make_error("{filters: 0, kernel_size: 3}", in, buf, sizeof(buf)),
	                    "test.yaml:1:11: conv: 'filters' must be an integer in [1, 65536], got 0");
	assert_string_equal(make_error("{kernel_size: 3}", in, buf, sizeof(buf)),
	                    "test.yaml:1:1: conv: missing required key 'filters' (an integer in [1, 65536])");
	assert_string_equal(make_error("{filters: 1}", in, buf, sizeof(buf)),
	                    "test.yaml:1:1: conv: missing required key 'kernel_size' (an integer in [1, 65536])");
	assert_string_equal(make_error("{filters: 1, kernel_size: 1, padding: foo}", in, buf, sizeof(buf)),
	                    "test.yaml:1:39: conv: 'padding' must be valid, same or an integer in [0, 65536], got 'foo'");
	assert_string_equal(make_error("{filters: 1, kernel_size: 1, padding: -1}", in, buf, sizeof(buf)),
	                    "test.yaml:1:39: conv: 'padding' must be an integer in [0, 65536], got -1");
	assert_string_equal(make_error("{filters: 1, kernel_size: 1, padding: [1, 1]}", in, buf, sizeof(buf)),
	                    "test.yaml:1:39: conv: 'padding' must be valid, same or an integer in [0, 65536], got a list");
	assert_string_equal(make_error("{filters: 1, kernel_size: 1, stride: 0}", in, buf, sizeof(buf)),
	                    "test.yaml:1:38: conv: 'stride' must be an integer in [1, 65536], got 0");
	assert_string_equal(make_error("{filters: 1, kernel_size: 1, algorithm: fft}", in, buf, sizeof(buf)),
	                    "test.yaml:1:41: conv: 'algorithm' must be one of: auto, im2col, direct, winograd; got 'fft'");
	assert_string_equal(make_error("{filters: 1, kernel_size: 3, algorithm: winograd}", in, buf, sizeof(buf)),
	                    "test.yaml:1:41: conv: algorithm 'winograd' needs kernel_size 5 and stride 1, "
	                    "got kernel_size 3 and stride 1");
	/* Unknown keys are the builder's cfg_check_keys(); just that they fail. */
	make_error("{filters: 1, kernel_size: 1, num_output: 3}", in, buf, sizeof(buf));
}

/* Defaults are written back into the tree, for the resolved config. */
static void test_conv_records_defaults(void **state)
{
	const char *yaml = "{filters: 2, kernel_size: 3}";
	struct cfg_doc doc;
	struct cnn_error err;
	struct layer *l;

	(void)state;
	assert_int_equal(cfg_load_string(yaml, strlen(yaml), "test.yaml", &doc, &err), 0);
	assert_int_equal(conv_create(doc.root, (struct shape){ 1, 5, 5 }, &l, &err), 0);
	assert_int_equal(cfg_check_keys(doc.root, "conv", &err), 0);
	struct cfg_node *v = cfg_get(doc.root, "stride");
	assert_non_null(v);
	assert_string_equal(v->text, "1");
	v = cfg_get(doc.root, "padding");
	assert_non_null(v);
	assert_string_equal(v->text, "valid");
	v = cfg_get(doc.root, "algorithm");
	assert_non_null(v);
	assert_string_equal(v->text, "auto");
	l->ops->destroy(l);
	cfg_free(&doc);
}

/* SAME_UPPER padding for one axis, worked out independently of the layer. */
static void same_pad(int in, int k, int s, int *before, int *after)
{
	int out = (in + s - 1) / s;
	int total = (out - 1) * s + k - in;

	if (total < 0)
		total = 0;
	*before = total / 2;
	*after = total - *before;
}

/* A random conv config, its YAML and its padding. Returns false if the kernel
 * does not fit (then the layer must refuse it). */
struct conv_case {
	struct shape in;
	int filters, k, stride, pt, pb, pl, pr;
	char yaml[160];
};

static bool conv_case_draw(struct conv_case *c, uint64_t *rng)
{
	int kind = (int)test_uniform(rng, 0, 3);
	int p = (int)test_uniform(rng, 0, 3);

	c->in = (struct shape){ 1 + (int)test_uniform(rng, 0, 3), 1 + (int)test_uniform(rng, 0, 9),
	                        1 + (int)test_uniform(rng, 0, 9) };
	c->filters = 1 + (int)test_uniform(rng, 0, 4);
	c->k = 1 + (int)test_uniform(rng, 0, 5);
	c->stride = 1 + (int)test_uniform(rng, 0, 3);
	if (kind == 0) {
		c->pt = c->pb = c->pl = c->pr = 0;
		snprintf(c->yaml, sizeof(c->yaml), "{filters: %d, kernel_size: %d, stride: %d}",
		         c->filters, c->k, c->stride);
	} else if (kind == 1) {
		same_pad(c->in.h, c->k, c->stride, &c->pt, &c->pb);
		same_pad(c->in.w, c->k, c->stride, &c->pl, &c->pr);
		snprintf(c->yaml, sizeof(c->yaml),
		         "{filters: %d, kernel_size: %d, stride: %d, padding: same}",
		         c->filters, c->k, c->stride);
	} else {
		c->pt = c->pb = c->pl = c->pr = p;
		snprintf(c->yaml, sizeof(c->yaml),
		         "{filters: %d, kernel_size: %d, stride: %d, padding: %d}",
		         c->filters, c->k, c->stride, p);
	}
	return c->k <= c->in.h + c->pt + c->pb && c->k <= c->in.w + c->pl + c->pr;
}

/* y[f][oy][ox] = b[f] + sum W[f][c][ki][kj] x[c][oy*s-pt+ki][ox*s-pl+kj], in double. */
static void conv_naive(const struct conv_case *c, int oh, int ow, const float *w,
                       const float *x, double *y)
{
	const float *b = w + (size_t)c->filters * c->in.c * c->k * c->k;

	for (int f = 0; f < c->filters; f++)
	for (int oy = 0; oy < oh; oy++)
	for (int ox = 0; ox < ow; ox++) {
		double s = b[f];
		for (int ci = 0; ci < c->in.c; ci++)
		for (int ki = 0; ki < c->k; ki++)
		for (int kj = 0; kj < c->k; kj++) {
			int iy = oy * c->stride - c->pt + ki, ix = ox * c->stride - c->pl + kj;
			if (iy < 0 || iy >= c->in.h || ix < 0 || ix >= c->in.w)
				continue;
			s += (double)w[(((size_t)f * c->in.c + ci) * c->k + ki) * c->k + kj] *
			     x[((size_t)ci * c->in.h + iy) * c->in.w + ix];
		}
		y[((size_t)f * oh + oy) * ow + ox] = s;
	}
}

static void test_conv_forward_matches_direct(void **state)
{
	uint64_t rng = 2024;
	int tested = 0, refused = 0;

	(void)state;
	for (int t = 0; t < 200; t++) {
		struct conv_case c;
		char buf[600];
		bool fits = conv_case_draw(&c, &rng);

		if (!fits) {
			make_error(c.yaml, c.in, buf, sizeof(buf));
			refused++;
			continue;
		}
		struct layer *l = make(c.yaml, c.in);
		int oh = (c.in.h + c.pt + c.pb - c.k) / c.stride + 1;
		int ow = (c.in.w + c.pl + c.pr - c.k) / c.stride + 1;
		assert_int_equal(l->out.c, c.filters);
		assert_int_equal(l->out.h, oh);
		assert_int_equal(l->out.w, ow);
		if (strstr(c.yaml, "same")) {
			assert_int_equal(oh, (c.in.h + c.stride - 1) / c.stride);
			assert_int_equal(ow, (c.in.w + c.stride - 1) / c.stride);
		}

		int n = 2;
		size_t nw = gradcheck_param_count(l), nin = shape_size(c.in), nout = shape_size(l->out);
		size_t ns = l->ops->scratch_floats(l, n);
		float *w = malloc(nw * sizeof(*w)), *x = malloc(n * nin * sizeof(*x));
		float *y = malloc(n * nout * sizeof(*y)), *scratch = malloc((ns + 1) * sizeof(float));
		double *want = malloc(nout * sizeof(*want));
		assert_true(w && x && y && scratch && want);
		for (size_t i = 0; i < nw; i++)
			w[i] = test_uniform(&rng, -1, 1);
		for (size_t i = 0; i < n * nin; i++)
			x[i] = test_uniform(&rng, -1, 1);
		for (size_t i = 0; i < ns; i++)
			scratch[i] = NAN;  /* forward must not read scratch it did not write */

		struct layer_ctx ctx = { .scratch = scratch, .train = true };
		l->ops->forward(l, w, x, y, n, &ctx);
		for (int i = 0; i < n; i++) {
			conv_naive(&c, oh, ow, w, x + i * nin, want);
			for (size_t j = 0; j < nout; j++)
				if (fabs(y[i * nout + j] - want[j]) > 1e-4 * fmax(1.0, fabs(want[j])))
					fail_msg("%s on %dx%dx%d: y[%d][%zu] = %g, want %g", c.yaml,
					         c.in.c, c.in.h, c.in.w, i, j, y[i * nout + j], want[j]);
		}
		free(w);
		free(x);
		free(y);
		free(scratch);
		free(want);
		l->ops->destroy(l);
		tested++;
	}
	assert_true(tested > 100);
	assert_true(refused > 0);
}

/* The forward pass's bits, whatever blocks it multiplies and whichever way
 * it builds col: each image's y is the bias, then gemm_fixed of W and that
 * image's im2col, exactly (the chain the fixed GEMM defines). Batches of 1,
 * of a few and of more than one block; images the fused im2col takes (up
 * to 32 wide, strided too, outputs down to 2x2) and one it does not (40
 * wide); 1x1 layers. */
static void test_conv_forward_bits(void **state)
{
	static const struct {
		const char *yaml;
		struct shape in;
	} cases[] = {
		/* lenet's conv2 as im2col computes it (`auto` runs its forward by
		 * Winograd: test_conv_winograd.c) */
		{ "{filters: 64, kernel_size: 5, padding: same, algorithm: im2col}", { 32, 14, 14 } },
		{ "{filters: 64, kernel_size: 3, padding: same, algorithm: im2col}", { 32, 4, 4 } },
		{ "{filters: 32, kernel_size: 3, stride: 2, padding: same}", { 16, 14, 14 } },
		{ "{filters: 16, kernel_size: 1, algorithm: im2col}", { 8, 7, 7 } },
		{ "{filters: 24, kernel_size: 1, stride: 2}", { 8, 14, 14 } },
		/* 2x2 outputs: a vector's lanes fall in up to 5 images */
		{ "{filters: 24, kernel_size: 3, stride: 2, padding: same}", { 8, 4, 4 } },
		{ "{filters: 16, kernel_size: 3, padding: 1, algorithm: direct}", { 3, 32, 32 } },
		{ "{filters: 12, kernel_size: 3, padding: 1, algorithm: im2col}", { 3, 40, 36 } },
		{ "{filters: 9, kernel_size: 9, padding: 4}", { 1, 28, 28 } },
	};
	static const int batches[] = { 1, 3, 37 };
	uint64_t rng = 4242;

	(void)state;
	for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++) {
		struct layer *l = make(cases[t].yaml, cases[t].in);
		struct layer_attrs a;
		int filters = l->out.c, ohw = l->out.h * l->out.w;
		struct param_spec ps[LAYER_MAX_PARAMS];
		char how[128];

		/* A direct layer runs its forward by GEMM only where its kernels
		 * are vectorised; elsewhere (CNN_ISA=baseline) its own portable
		 * loop has its own bits, which test_conv_algorithms checks. */
		l->ops->describe(l, how, sizeof how);
		if (strstr(how, "direct") && !strstr(how, "forward by GEMM")) {
			l->ops->destroy(l);
			continue;
		}
		l->ops->params(l, ps);
		l->ops->attrs(l, &a);
		int ckk = (int)ps[0].n / filters;
		for (size_t bi = 0; bi < sizeof(batches) / sizeof(batches[0]); bi++) {
			int n = batches[bi];
			size_t nw = gradcheck_param_count(l), nin = shape_size(l->in);
			size_t nout = shape_size(l->out), ns = l->ops->scratch_floats(l, n);
			float *w = test_random_floats(nw, &rng);             /* W (filters, ckk), b */
			float *x = test_random_floats((size_t)n * nin, &rng);
			float *y = malloc((size_t)n * nout * sizeof(float));
			float *want = malloc(nout * sizeof(float));          /* (filters, ohw) */
			float *col = malloc((size_t)ckk * ohw * sizeof(float));
			float *scratch = malloc((ns + 1) * sizeof(float));
			struct layer_ctx ctx = { .scratch = scratch, .train = false };

			assert_true(y && want && col && scratch);
			l->ops->forward(l, w, x, y, n, &ctx);
			for (int i = 0; i < n; i++) {
				im2col(x + i * nin, l->in.c, l->in.h, l->in.w, a.kernel, a.stride,
				       a.pad_top, a.pad_left, l->out.h, l->out.w, col);
				for (int f = 0; f < filters; f++)
					for (int q = 0; q < ohw; q++)
						want[(size_t)f * ohw + q] = w[(size_t)filters * ckk + f];
				gemm_fixed_portable(false, false, filters, ohw, ckk, 1.0f, w, col, 1.0f, want);
				for (size_t j = 0; j < nout; j++)
					if (memcmp(&y[i * nout + j], &want[j], sizeof(float)))
						fail_msg("%s on %dx%dx%d, batch %d: y[%d][%zu] = %a, want %a",
						         cases[t].yaml, l->in.c, l->in.h, l->in.w, n, i, j,
						         (double)y[i * nout + j], (double)want[j]);
			}
			free(w);
			free(x);
			free(y);
			free(want);
			free(col);
			free(scratch);
		}
		l->ops->destroy(l);
	}
}

static void gc(const char *yaml, struct shape in, int n, uint64_t seed)
{
	struct layer *l = make(yaml, in);
	struct gradcheck_opts o = { .seed = seed };
	struct gradcheck_result res;

	if (gradcheck_layer(l, n, NULL, NULL, &o, &res))
		fail_msg("%s on %dx%dx%d: %d of %d gradients wrong (max scaled error %.3g)", yaml,
		         in.c, in.h, in.w, res.failed, res.checked, res.max_err);
	assert_true(res.checked > 0);
	l->ops->destroy(l);
}

static void test_conv_gradcheck(void **state)
{
	(void)state;
	gc("{filters: 3, kernel_size: 3}", (struct shape){ 2, 5, 6 }, 2, 1);
	gc("{filters: 2, kernel_size: 3, stride: 2}", (struct shape){ 3, 7, 7 }, 2, 2);
	gc("{filters: 2, kernel_size: 3, stride: 2}", (struct shape){ 2, 6, 8 }, 1, 3);
	gc("{filters: 4, kernel_size: 5, padding: same}", (struct shape){ 2, 6, 5 }, 2, 4);
	gc("{filters: 2, kernel_size: 3, stride: 2, padding: same}", (struct shape){ 2, 8, 7 }, 2, 5);
	gc("{filters: 2, kernel_size: 2, padding: same}", (struct shape){ 1, 5, 4 }, 2, 6);
	gc("{filters: 3, kernel_size: 3, padding: 1}", (struct shape){ 2, 4, 5 }, 2, 7);
	gc("{filters: 2, kernel_size: 3, stride: 3, padding: 2}", (struct shape){ 2, 5, 5 }, 2, 8);
	gc("{filters: 3, kernel_size: 1}", (struct shape){ 4, 3, 3 }, 3, 9);   /* no im2col */
	gc("{filters: 2, kernel_size: 1, stride: 2}", (struct shape){ 2, 5, 5 }, 2, 10);
	/* im2col's backward pass (kernels/conv_backward.h), filters past a vector */
	gc("{filters: 20, kernel_size: 3, padding: same, algorithm: im2col}",
	   (struct shape){ 2, 5, 6 }, 2, 11);
	gc("{filters: 3, kernel_size: 3, stride: 2, padding: same, algorithm: im2col}",
	   (struct shape){ 3, 7, 6 }, 2, 12);
	gc("{filters: 9, kernel_size: 1, algorithm: im2col}", (struct shape){ 4, 3, 3 }, 2, 13);
	gc("{filters: 17, kernel_size: 2, padding: 1, algorithm: im2col}",
	   (struct shape){ 1, 4, 5 }, 2, 14);
}

static void test_conv_gradcheck_random(void **state)
{
	uint64_t rng = 99;

	(void)state;
	for (int t = 0; t < 25; t++) {
		struct conv_case c;
		if (!conv_case_draw(&c, &rng))
			continue;
		gc(c.yaml, c.in, 2, (uint64_t)t + 100);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conv_shapes),
		cmocka_unit_test(test_conv_params),
		cmocka_unit_test(test_conv_errors),
		cmocka_unit_test(test_conv_records_defaults),
		cmocka_unit_test(test_conv_forward_matches_direct),
		cmocka_unit_test(test_conv_forward_bits),
		cmocka_unit_test(test_conv_gradcheck),
		cmocka_unit_test(test_conv_gradcheck_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
