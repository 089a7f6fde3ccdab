/* Batch normalisation's per-channel loops (the contract, and the lane
 * structure that makes the sums' bits the same on every CPU: bn_lanes.h).
 *
 * Plain C at every level: each lane is its own chain of additions, so the
 * compiler vectorises the lane loops without reordering a sum (no
 * -ffast-math needed), 2 doubles wide for the x86-64 baseline, 4 in the
 * AVX2 copy and 8 in the AVX-512 one, and all give the same bits; the
 * elementwise passes are the same float operations in the same order at
 * every level (no FMA: the copies are compiled with -ffp-contract=off).
 *
 * Double sums: a channel holds n * h * w values (64 x 32 x 32 = 65,536 in
 * a cifar batch), each lane a sixteenth of them; in double the rounding of
 * such a sum stays near 1e-12 relative, where float lanes would reach 1e-4
 * on a long chain and leave the variance of a channel whose mean is large
 * against its spread with few correct digits. */
#include <stddef.h>

#include "kernels/bn_lanes.h"
#include "kernels/isa.h"
#include "layers/layer.h"

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

/* Value j of a run of lanes from `at`: its three terms. */
#define GRAD_TERMS(at, j)                                                          \
	do {                                                                       \
		double d_ = (double)x[(at) + (j)] - mean;                          \
		float dy_ = dy[(at) + (j)], y_ = relu ? relu_y[(at) + (j)] : 1.0f;  \
		float g_ = y_ > 0.0f ? dy_ : 0.0f;                                 \
		sq[j] += d_ * d_;                                                  \
		sdy[j] += (double)g_;                                              \
		sdd[j] += (double)g_ * d_;                                         \
	} while (0)

/* Written once for both cases; relu is a constant where it is inlined, so
 * that the compiler makes two copies without a branch in the loop. */
static inline void grad_sums_body(const float *x, const float *relu_y, bool relu, const float *dy,
                                  int n, size_t hw, size_t stride, double mean,
                                  struct bn_grad_sums *out)
{
	double sq[BN_LANES] = { 0 }, sdy[BN_LANES] = { 0 }, sdd[BN_LANES] = { 0 };
	size_t full = hw - hw % BN_LANES;

	for (int i = 0; i < n; i++) {
		size_t off = (size_t)i * stride;
		for (size_t p = 0; p < full; p += BN_LANES)
			for (int j = 0; j < BN_LANES; j++)
				GRAD_TERMS(off + p, j);
		for (size_t j = 0; j < hw - full; j++)
			GRAD_TERMS(off + full, j);
	}
	out->sq = lanes_total(sq);
	out->dy = lanes_total(sdy);
	out->dy_dev = lanes_total(sdd);
}

static void bn_grad_sums(const float *x, const float *relu_y, const float *dy, int n, size_t hw,
                         size_t stride, double mean, struct bn_grad_sums *out)
{
	if (relu_y)
		grad_sums_body(x, relu_y, true, dy, n, hw, stride, mean, out);
	else
		grad_sums_body(x, NULL, false, dy, n, hw, stride, mean, out);
}

/* One plane: y = (x - mean) * scale + shift (+ ReLU). */
static inline void affine_plane(const float *x, float *y, size_t hw, float mean, float scale,
                                float shift, bool relu)
{
	for (size_t p = 0; p < hw; p++) {
		float v = (x[p] - mean) * scale + shift;
		y[p] = relu ? relu_value(v) : v;
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

static inline void dx_body(const float *x, const float *relu_y, bool relu, const float *dy,
                           float *dx, int n, size_t hw, size_t stride, float mean, float inv_std,
                           float g, float mean_dy, float mean_dy_xhat)
{
	for (int i = 0; i < n; i++) {
		size_t off = (size_t)i * stride;
		for (size_t p = 0; p < hw; p++) {
			/* dy is read whatever y is (a select, no branch: relu.c) */
			float d = dy[off + p], ry = relu ? relu_y[off + p] : 1.0f;
			d = ry > 0.0f ? d : 0.0f;
			float xhat = (x[off + p] - mean) * inv_std;
			dx[off + p] = g * (d - mean_dy - xhat * mean_dy_xhat);
		}
	}
}

static void bn_dx(const float *x, const float *relu_y, const float *dy, float *dx, int n,
                  size_t hw, size_t stride, float mean, float inv_std, float g, float mean_dy,
                  float mean_dy_xhat)
{
	if (relu_y)
		dx_body(x, relu_y, true, dy, dx, n, hw, stride, mean, inv_std, g, mean_dy,
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
