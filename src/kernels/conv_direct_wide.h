/* The direct convolution's backward pass for layers with many input
 * channels, computed channels-last (see conv_direct_wide.c). Internal to
 * src/kernels: conv_direct_backward calls it where it applies. AVX2 and
 * up only; each level's copy carries its suffix (kernels/isa.h). */
#ifndef CNN_KERNELS_CONV_DIRECT_WIDE_H
#define CNN_KERNELS_CONV_DIRECT_WIDE_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/conv_direct.h"
#include "kernels/isa.h"

/* From this many input channels the channels-last backward is used. */
#define CONV_WIDE_MIN_CHANNELS 8

/* Whether g (already on the vectorised path: stride 1, k <= 8) takes it. */
bool KERNEL_FN(conv_wide_applies)(const struct conv_geom *g);

size_t KERNEL_FN(conv_wide_scratch_floats)(const struct conv_geom *g);

/* Same contract as conv_direct_backward. */
void KERNEL_FN(conv_wide_backward)(const struct conv_geom *g, const float *w, const float *x,
                                   const float *dy, float *dx, float *dw, float *db, int n,
                                   float *scratch);

#endif
