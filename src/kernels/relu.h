/* The ReLU rule, in one place for the relu layer and every layer or kernel
 * that fuses a ReLU (layer.h's relu_out): the kernels rank below the
 * layers, so the rule lives here, where both can include it. */
#ifndef CNN_KERNELS_RELU_H
#define CNN_KERNELS_RELU_H

/* max(0, v); NaN and -0 give +0. */
static inline float relu_value(float v)
{
	return v > 0.0f ? v : 0.0f;
}

#endif
