/* The forward loops of tanh and sigmoid (the maths, and why it is written
 * this way: src/layers/tanh.c, sigmoid.c and vexp.h). Kernels because the
 * loop is all arithmetic: compiled for the x86-64 baseline it runs 4 lanes
 * wide, and the AVX2 copy runs 8. Every level does the same operations in
 * the same order (no FMA), so every level gives the same bits. Compiled with
 * -fno-trapping-math (cmake/isa_kernels.cmake): the ?: selects between
 * computed floats then vectorise without masked instructions. */
#include <math.h>
#include <stddef.h>

#include "kernels/dispatch.h"
#include "kernels/isa.h"
#include "kernels/vexp.h"

void KERNEL_FN(tanh_range)(const float *x, float *y, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		float em1;
		(void)vexp_neg(-2.0f * fabsf(x[i]), &em1);
		float t = -em1 / (2.0f + em1);   /* tanh |x| */
		y[i] = x[i] < 0.0f ? -t : t;
	}
}

void KERNEL_FN(sigmoid_range)(const float *x, float *y, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		float em1;
		float e = vexp_neg(-fabsf(x[i]), &em1);
		float s = 1.0f / (1.0f + e);
		y[i] = x[i] >= 0.0f ? s : e * s;
	}
}
