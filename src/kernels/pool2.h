/* Max-pooling's common case, 2x2 windows with stride 2, over many planes
 * (src/layers/maxpool.c has the rule; this is its loop, compiled once per
 * instruction-set level and chosen at run time, kernels/dispatch.h).
 *
 * A plane is (h, w); its output (oh, ow) = (h / 2, w / 2): a last odd row or
 * column is dropped. Every level gives the same bits:
 *   y = max2(max2(max2(a, b), c), d), max2(p, q) = q > p ? q : p,
 * over the window's a b / c d read through relu_value when relu; backward
 * gives dy to the first of a, b, c, d (row-major) equal to y, or to a when
 * none is (a NaN y), 0 to the other three and to a dropped row or column,
 * and with relu reads dy as 0 where y <= 0. */
#ifndef CNN_KERNELS_POOL2_H
#define CNN_KERNELS_POOL2_H

#include <stdbool.h>
#include <stddef.h>

/* y (planes, oh, ow) = the 2x2/2 maxima of x (planes, h, w). */
void pool2_forward(const float *x, int h, int w, float *y, int oh, int ow, size_t planes,
                   bool relu);

/* dx (planes, h, w), overwritten, from x, y = pool2_forward(x) and dy
 * (planes, oh, ow). The wide levels compute each window's max again rather
 * than read y (a tenth less memory traffic; the same chain, the same bits),
 * so y must be what pool2_forward gave for this x. */
void pool2_backward(const float *x, int h, int w, const float *y, const float *dy, float *dx,
                    int oh, int ow, size_t planes, bool relu);

#endif
