/* Batch normalisation's loops over one channel (the maths and the layer:
 * src/layers/batchnorm.c), compiled once per instruction-set level
 * (src/kernels/bn_lanes.c) and reached through cnn_kernels()->bn.
 *
 * A channel is n planes of hw floats, plane i at x + i * stride (NCHW:
 * stride = c * hw, the channel's first plane at x + ch * hw).
 *
 * The sums are in double and have a fixed lane structure, so their bits do
 * not depend on the CPU or the vector width: value p of a plane (0 <= p <
 * hw) goes to lane p % BN_LANES, and each lane adds its values in order
 * (plane 0's, then plane 1's, ...; within a plane by position), starting
 * from +0. The lanes are then combined pairwise, always in this order:
 *   for (w = BN_LANES / 2; w >= 1; w /= 2)  lane[j] += lane[j + w], j < w
 * and the sum is lane[0]. A lane's additions form one chain that every
 * path does in the same order (the portable loop runs the lanes as an
 * array, an AVX2 path as 4 vectors of 4 doubles, AVX-512 as 2 of 8); a path
 * that adds +0 for a missing value (a masked tail) changes nothing, since a
 * lane that starts at +0 is never -0. */
#ifndef CNN_KERNELS_BN_LANES_H
#define CNN_KERNELS_BN_LANES_H

#include <stdbool.h>
#include <stddef.h>

#define BN_LANES 16

/* The sums of backward's one pass over a channel, each lane-structured. */
struct bn_grad_sums {
	double dy;        /* sum dy' */
	double dy_dev;    /* sum dy' * (x - mean) */
};

/* The fused ReLU as backward sees it: the ReLU's input recomputed from x
 * with forward's affine pass, v = (x - mean) * scale + shift (the same float
 * operations, so the same bits), and dy read as 0 where v <= 0, which is
 * where the ReLU's output y = relu_value(v) is <= 0 (v NaN included). So
 * backward need not read y: one stream of memory fewer. */
struct bn_relu {
	float mean, scale, shift;
};

struct bn_kernels {
	/* sum x */
	double (*sum)(const float *x, int n, size_t hw, size_t stride);
	/* sum (x - mean)^2, each term (double)x - mean, squared, then added */
	double (*sqdev)(const float *x, int n, size_t hw, size_t stride, double mean);
	/* backward's two sums in one pass; dy' is dy, or where relu is not
	 * NULL, dy where the recomputed ReLU input is > 0 and 0 elsewhere (the
	 * fused ReLU's gradient: struct bn_relu) */
	void (*grad_sums)(const float *x, const struct bn_relu *relu, const float *dy, int n,
	                  size_t hw, size_t stride, double mean, struct bn_grad_sums *out);
	/* y = (x - mean) * scale + shift, then ReLU'd (relu_value of
	 * kernels/relu.h) when relu; y may be x (evaluation in place) */
	void (*affine)(const float *x, float *y, int n, size_t hw, size_t stride, float mean,
	               float scale, float shift, bool relu);
	/* dx = g * (dy' - mean_dy - (x - mean) * inv_std * mean_dy_xhat), dy'
	 * as in grad_sums */
	void (*dx)(const float *x, const struct bn_relu *relu, const float *dy, float *dx, int n,
	           size_t hw, size_t stride, float mean, float inv_std, float g, float mean_dy,
	           float mean_dy_xhat);
};

extern const struct bn_kernels bn_kernels_baseline, bn_kernels_avx2, bn_kernels_avx512;

#endif
