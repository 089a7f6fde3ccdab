/* The ReLU rule, in one place for the relu layer and every layer or kernel
 * that fuses a ReLU (layer.h's relu_out): the kernels rank below the
 * layers, so the rule lives here, where both can include it. */
#ifndef CNN_KERNELS_RELU_H
#define CNN_KERNELS_RELU_H

#include <stdbool.h>

/* max(0, v); NaN and -0 give +0. */
static inline float relu_value(float v)
{
	return v > 0.0f ? v : 0.0f;
}

/* v as a layer with a fused ReLU reads or writes it: relu_value(v) when
 * fused is set, v itself otherwise. */
static inline float relu_if(float v, bool fused)
{
	return fused ? relu_value(v) : v;
}

#endif
