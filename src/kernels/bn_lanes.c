/* Batch normalisation's per-channel loops (the contract, and the lane
 * structure that makes the sums' bits the same on every CPU: bn_lanes.h).
 *
 * The sums: in the portable copy, plain C over an array of 16 lanes (each
 * lane its own chain of additions, which the compiler may vectorise without
 * reordering a sum); at the AVX2 and AVX-512 levels, the 16 lanes are 4 or 2
 * registers of doubles (the vl_* helpers below) and a plane's tail is
 * loaded masked and added only to its own lanes, because the compiler's
 * loops spent more on each plane's set-up and tail than on the sums for
 * planes of 16 or 49 values. Each lane sees the same additions in the same
 * order on every path, so all give the same bits. The elementwise passes
 * are plain C at every level: the same float operations in the same order
 * (no FMA: -ffp-contract=off), vectorised by the compiler.
 *
 * Double sums: a channel holds n * h * w values (64 x 32 x 32 = 65,536 in
 * a cifar batch), each lane a sixteenth of them; in double the rounding of
 * such a sum stays near 1e-12 relative, where float lanes would reach 1e-4
 * on a long chain and leave the variance of a channel whose mean is large
 * against its spread with few correct digits. */
#include <stddef.h>
#include <stdint.h>

#include "kernels/bn_lanes.h"
#include "kernels/isa.h"
#include "kernels/relu.h"

#if CNN_ISA_LEVEL >= CNN_ISA_AVX2
#include <immintrin.h>
#endif

#if CNN_ISA_LEVEL >= CNN_ISA_AVX2
/* 16 lanes of doubles in registers: lanes 0-7 in v[0] and 8-15 in v[1]
 * (AVX-512), or 4 at a time in v[0..3] (AVX2). A run of the count < 16
 * first values of a plane (its tail) is loaded with zeros after it and
 * added to its own lanes only. */
#if CNN_ISA_LEVEL >= CNN_ISA_AVX512
#define VL_REGS 2
typedef __m512d vl_reg;
#else
#define VL_REGS 4
typedef __m256d vl_reg;
#endif
#define VL_WIDTH (BN_LANES / VL_REGS)   /* doubles per register */

struct vlanes {
	vl_reg v[VL_REGS];
};

static inline struct vlanes vl_zero(void)
{
	struct vlanes a;
	for (int r = 0; r < VL_REGS; r++)
#if CNN_ISA_LEVEL >= CNN_ISA_AVX512
		a.v[r] = _mm512_setzero_pd();
#else
		a.v[r] = _mm256_setzero_pd();
#endif
	return a;
}

#if CNN_ISA_LEVEL < CNN_ISA_AVX512
/* -1 x 16 then 0 x 16: from (16 - count) on, the load mask of count values */
static const int32_t vl_mask_words[2 * BN_LANES] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

static inline __m128i vl_mask4(int count, int r)
{
	return _mm_loadu_si128((const __m128i *)(vl_mask_words + BN_LANES - count + 4 * r));
}
#endif

/* floats p[0, count) as doubles; the lanes from count on are +0 */
static inline struct vlanes vl_load(const float *p, int count)
{
	struct vlanes a;
#if CNN_ISA_LEVEL >= CNN_ISA_AVX512
	__m512 f = count == BN_LANES ? _mm512_loadu_ps(p)
	                             : _mm512_maskz_loadu_ps((__mmask16)((1u << count) - 1), p);
	a.v[0] = _mm512_cvtps_pd(_mm512_castps512_ps256(f));
	a.v[1] = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(f), 1)));
#else
	for (int r = 0; r < VL_REGS; r++)
		a.v[r] = _mm256_cvtps_pd(count == BN_LANES ? _mm_loadu_ps(p + 4 * r)
		                                           : _mm_maskload_ps(p + 4 * r, vl_mask4(count, r)));
#endif
	return a;
}

/* dy where the fused ReLU's input (x - mean) * scale + shift is > 0, else
 * +0 (relu.c's backward, struct bn_relu), as doubles; count as vl_load */
static inline struct vlanes vl_load_relu(const float *dy, const float *x, const struct bn_relu *r,
                                         int count)
{
	struct vlanes a;
#if CNN_ISA_LEVEL >= CNN_ISA_AVX512
	__mmask16 m = count == BN_LANES ? (__mmask16)0xffff : (__mmask16)((1u << count) - 1);
	__m512 xv = _mm512_maskz_loadu_ps(m, x), g = _mm512_maskz_loadu_ps(m, dy);
	__m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(xv, _mm512_set1_ps(r->mean)),
	                                       _mm512_set1_ps(r->scale)),
	                         _mm512_set1_ps(r->shift));
	g = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ), g);
	a.v[0] = _mm512_cvtps_pd(_mm512_castps512_ps256(g));
	a.v[1] = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(g), 1)));
#else
	for (int q = 0; q < VL_REGS; q++) {
		__m128 xv, g;
		if (count == BN_LANES) {
			xv = _mm_loadu_ps(x + 4 * q);
			g = _mm_loadu_ps(dy + 4 * q);
		} else {
			xv = _mm_maskload_ps(x + 4 * q, vl_mask4(count, q));
			g = _mm_maskload_ps(dy + 4 * q, vl_mask4(count, q));
		}
		__m128 v = _mm_add_ps(_mm_mul_ps(_mm_sub_ps(xv, _mm_set1_ps(r->mean)),
		                                 _mm_set1_ps(r->scale)),
		                      _mm_set1_ps(r->shift));
		g = _mm_and_ps(g, _mm_cmpgt_ps(v, _mm_setzero_ps()));
		a.v[q] = _mm256_cvtps_pd(g);
	}
#endif
	return a;
}

/* acc + t in lanes [0, count); the others keep acc (no addition at all) */
static inline struct vlanes vl_add(struct vlanes acc, struct vlanes t, int count)
{
	for (int r = 0; r < VL_REGS; r++) {
#if CNN_ISA_LEVEL >= CNN_ISA_AVX512
		if (count == BN_LANES) {
			acc.v[r] = _mm512_add_pd(acc.v[r], t.v[r]);
		} else {
			int in = count - r * VL_WIDTH;   /* this register's lanes in the run */
			__mmask8 m = in >= VL_WIDTH ? (__mmask8)0xff : in <= 0 ? 0 : (__mmask8)((1u << in) - 1);
			acc.v[r] = _mm512_mask_add_pd(acc.v[r], m, acc.v[r], t.v[r]);
		}
#else
		if (count == BN_LANES)
			acc.v[r] = _mm256_add_pd(acc.v[r], t.v[r]);
		else
			acc.v[r] = _mm256_blendv_pd(acc.v[r], _mm256_add_pd(acc.v[r], t.v[r]),
			                            _mm256_castsi256_pd(_mm256_cvtepi32_epi64(vl_mask4(count, r))));
#endif
	}
	return acc;
}

static inline struct vlanes vl_sub(struct vlanes a, double m)
{
	for (int r = 0; r < VL_REGS; r++)
#if CNN_ISA_LEVEL >= CNN_ISA_AVX512
		a.v[r] = _mm512_sub_pd(a.v[r], _mm512_set1_pd(m));
#else
		a.v[r] = _mm256_sub_pd(a.v[r], _mm256_set1_pd(m));
#endif
	return a;
}

static inline struct vlanes vl_mul(struct vlanes a, struct vlanes b)
{
	for (int r = 0; r < VL_REGS; r++)
#if CNN_ISA_LEVEL >= CNN_ISA_AVX512
		a.v[r] = _mm512_mul_pd(a.v[r], b.v[r]);
#else
		a.v[r] = _mm256_mul_pd(a.v[r], b.v[r]);
#endif
	return a;
}

/* lane[0] after the fixed pairwise combination of bn_lanes.h: lane j + lane
 * j + 8, then j + 4, j + 2, j + 1 */
static inline double vl_total(struct vlanes a)
{
#if CNN_ISA_LEVEL >= CNN_ISA_AVX512
	__m512d s8 = _mm512_add_pd(a.v[0], a.v[1]);
	__m256d s4 = _mm256_add_pd(_mm512_castpd512_pd256(s8), _mm512_extractf64x4_pd(s8, 1));
#else
	__m256d s4 = _mm256_add_pd(_mm256_add_pd(a.v[0], a.v[2]), _mm256_add_pd(a.v[1], a.v[3]));
#endif
	__m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
	return _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
}

/* The runs of a plane: count values from p[at], count 16 but at the tail;
 * written with a constant count for the whole runs, so that their loads and
 * additions are unmasked. */
#define VL_FOR_RUNS(hw, at, count, body)                                         \
	do {                                                                     \
		size_t at;                                                       \
		for (at = 0; at + BN_LANES <= (hw); at += BN_LANES) {            \
			enum { count = BN_LANES };                               \
			body;                                                    \
		}                                                                \
		if (at < (hw)) {                                                 \
			int count = (int)((hw) - at);                            \
			body;                                                    \
		}                                                                \
	} while (0)

static double bn_sum(const float *x, int n, size_t hw, size_t stride)
{
	struct vlanes acc = vl_zero();

	for (int i = 0; i < n; i++) {
		const float *xi = x + (size_t)i * stride;
		VL_FOR_RUNS(hw, p, k, acc = vl_add(acc, vl_load(xi + p, k), k));
	}
	return vl_total(acc);
}

static double bn_sqdev(const float *x, int n, size_t hw, size_t stride, double mean)
{
	struct vlanes acc = vl_zero();

	for (int i = 0; i < n; i++) {
		const float *xi = x + (size_t)i * stride;
		VL_FOR_RUNS(hw, p, k, {
			struct vlanes d = vl_sub(vl_load(xi + p, k), mean);
			acc = vl_add(acc, vl_mul(d, d), k);
		});
	}
	return vl_total(acc);
}

static inline void grad_sums_body(const float *x, const struct bn_relu *relu, bool fused,
                                  const float *dy, int n, size_t hw, size_t stride, double mean,
                                  struct bn_grad_sums *out)
{
	struct vlanes sdy = vl_zero(), sdd = vl_zero();

	for (int i = 0; i < n; i++) {
		size_t off = (size_t)i * stride;
		VL_FOR_RUNS(hw, p, k, {
			struct vlanes d = vl_sub(vl_load(x + off + p, k), mean);
			struct vlanes g = fused ? vl_load_relu(dy + off + p, x + off + p, relu, k)
			                        : vl_load(dy + off + p, k);
			sdy = vl_add(sdy, g, k);
			sdd = vl_add(sdd, vl_mul(g, d), k);
		});
	}
	out->dy = vl_total(sdy);
	out->dy_dev = vl_total(sdd);
}

#else
/* lane[0] after the fixed pairwise combination of bn_lanes.h. */
static double lanes_total(double *lane)
{
	for (int w = BN_LANES / 2; w >= 1; w /= 2)
		for (int j = 0; j < w; j++)
			lane[j] += lane[j + w];
	return lane[0];
}

static double bn_sum(const float *x, int n, size_t hw, size_t stride)
{
	double lane[BN_LANES] = { 0 };
	size_t full = hw - hw % BN_LANES;

	for (int i = 0; i < n; i++) {
		const float *xi = x + (size_t)i * stride;
		for (size_t p = 0; p < full; p += BN_LANES)
			for (int j = 0; j < BN_LANES; j++)
				lane[j] += (double)xi[p + j];
		for (size_t j = 0; j < hw - full; j++)
			lane[j] += (double)xi[full + j];
	}
	return lanes_total(lane);
}

static double bn_sqdev(const float *x, int n, size_t hw, size_t stride, double mean)
{
	double lane[BN_LANES] = { 0 };
	size_t full = hw - hw % BN_LANES;

	for (int i = 0; i < n; i++) {
		const float *xi = x + (size_t)i * stride;
		for (size_t p = 0; p < full; p += BN_LANES)
			for (int j = 0; j < BN_LANES; j++) {
				double d = (double)xi[p + j] - mean;
				lane[j] += d * d;
			}
		for (size_t j = 0; j < hw - full; j++) {
			double d = (double)xi[full + j] - mean;
			lane[j] += d * d;
		}
	}
	return lanes_total(lane);
}

/* Value j of a run of lanes from `at`: its terms (the ReLU's input v as
 * forward's affine pass computes it, struct bn_relu). */
#define GRAD_TERMS(at, j)                                                          \
	do {                                                                       \
		double d_ = (double)x[(at) + (j)] - mean;                          \
		float dy_ = dy[(at) + (j)];                                        \
		float v_ = fused ? (x[(at) + (j)] - relu->mean) * relu->scale + relu->shift : 1.0f; \
		float g_ = v_ > 0.0f ? dy_ : 0.0f;                                 \
		sdy[j] += (double)g_;                                              \
		sdd[j] += (double)g_ * d_;                                         \
	} while (0)

/* Written once for both cases; fused is a constant where it is inlined, so
 * that the compiler makes two copies without a branch in the loop. */
static inline void grad_sums_body(const float *x, const struct bn_relu *relu, bool fused,
                                  const float *dy, int n, size_t hw, size_t stride, double mean,
                                  struct bn_grad_sums *out)
{
	double sdy[BN_LANES] = { 0 }, sdd[BN_LANES] = { 0 };
	size_t full = hw - hw % BN_LANES;

	for (int i = 0; i < n; i++) {
		size_t off = (size_t)i * stride;
		for (size_t p = 0; p < full; p += BN_LANES)
			for (int j = 0; j < BN_LANES; j++)
				GRAD_TERMS(off + p, j);
		for (size_t j = 0; j < hw - full; j++)
			GRAD_TERMS(off + full, j);
	}
	out->dy = lanes_total(sdy);
	out->dy_dev = lanes_total(sdd);
}

#endif

static void bn_grad_sums(const float *x, const struct bn_relu *relu, const float *dy, int n,
                         size_t hw, size_t stride, double mean, struct bn_grad_sums *out)
{
	if (relu)
		grad_sums_body(x, relu, true, dy, n, hw, stride, mean, out);
	else
		grad_sums_body(x, NULL, false, dy, n, hw, stride, mean, out);
}


/* One plane: y = (x - mean) * scale + shift (+ ReLU). */
static inline void affine_plane(const float *x, float *y, size_t hw, float mean, float scale,
                                float shift, bool relu)
{
	for (size_t p = 0; p < hw; p++) {
		float v = (x[p] - mean) * scale + shift;
		y[p] = relu_if(v, relu);
	}
}

static void bn_affine(const float *x, float *y, int n, size_t hw, size_t stride, float mean,
                      float scale, float shift, bool relu)
{
	for (int i = 0; i < n; i++) {
		size_t off = (size_t)i * stride;
		/* in place, one pointer: the compiler then needs no overlap test
		 * (which y == x would fail, sending it to its scalar loop) */
		if (x == y && relu)
			affine_plane(y + off, y + off, hw, mean, scale, shift, true);
		else if (x == y)
			affine_plane(y + off, y + off, hw, mean, scale, shift, false);
		else if (relu)
			affine_plane(x + off, y + off, hw, mean, scale, shift, true);
		else
			affine_plane(x + off, y + off, hw, mean, scale, shift, false);
	}
}

static inline void dx_body(const float *x, const struct bn_relu *relu, bool fused, const float *dy,
                           float *dx, int n, size_t hw, size_t stride, float mean, float inv_std,
                           float g, float mean_dy, float mean_dy_xhat)
{
	float rmean = fused ? relu->mean : 0.0f, rscale = fused ? relu->scale : 0.0f;
	float rshift = fused ? relu->shift : 0.0f;

	for (int i = 0; i < n; i++) {
		size_t off = (size_t)i * stride;
		for (size_t p = 0; p < hw; p++) {
			/* dy is read whatever the ReLU did (a select, no branch:
			 * relu.c); its input v as forward computed it */
			float xv = x[off + p], d = dy[off + p];
			float v = fused ? (xv - rmean) * rscale + rshift : 1.0f;
			d = v > 0.0f ? d : 0.0f;
			float xhat = (xv - mean) * inv_std;
			dx[off + p] = g * (d - mean_dy - xhat * mean_dy_xhat);
		}
	}
}

static void bn_dx(const float *x, const struct bn_relu *relu, const float *dy, float *dx, int n,
                  size_t hw, size_t stride, float mean, float inv_std, float g, float mean_dy,
                  float mean_dy_xhat)
{
	if (relu)
		dx_body(x, relu, true, dy, dx, n, hw, stride, mean, inv_std, g, mean_dy,
		        mean_dy_xhat);
	else
		dx_body(x, NULL, false, dy, dx, n, hw, stride, mean, inv_std, g, mean_dy,
		        mean_dy_xhat);
}

const struct bn_kernels KERNEL_FN(bn_kernels) = {
	.sum = bn_sum,
	.sqdev = bn_sqdev,
	.grad_sums = bn_grad_sums,
	.affine = bn_affine,
	.dx = bn_dx,
};
