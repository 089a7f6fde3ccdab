/* Data augmentation for training batches: each image is moved by a random
 * affine map (rotation, scaling, translation) and resampled bilinearly, with
 * zeros outside the original; then cropped at a random offset of up to
 * crop_padding pixels each way (the image padded with zeros and a crop of
 * its own size taken: the standard CIFAR recipe); then, with flip, mirrored
 * left to right with probability 1/2. Zeros are those of the normalised
 * input. Evaluation data is never touched.
 *
 * The draws for an image depend only on (seed, epoch, position in the
 * epoch): no generator state to carry, so a resumed run and a run on any
 * number of threads see the same images. */
#ifndef CNN_AUGMENT_H
#define CNN_AUGMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "util/shape.h"

struct augment_config {
	bool enabled;        /* any of the below non-zero */
	double shift;        /* pixels, uniform in [-shift, shift], each axis */
	double rotation;     /* degrees, uniform in [-rotation, rotation] */
	double scale;        /* relative, uniform in [1 - scale, 1 + scale] */
	bool flip;           /* horizontal mirror, half of the images */
	int crop_padding;    /* pixels: crop offset uniform in [-crop_padding, crop_padding], each axis */
};

/* Reads `train.augment` (a mapping; absent: disabled). */
int augment_config_read(struct cfg_node *train, struct augment_config *out, struct cnn_error *err);

/* Transforms n images of `shape` in x in place; sample i is the image at
 * position first + i of epoch `epoch`. Returns -1 only if out of memory. */
int augment_batch(const struct augment_config *a, float *x, int n, struct shape shape,
                  uint64_t seed, int epoch, long first);

/* augment_batch without allocating (the runner calls it from each thread):
 * scratch holds shape.h * shape.w floats. */
void augment_images(const struct augment_config *a, float *x, int n, struct shape shape,
                    uint64_t seed, int epoch, long first, float *scratch);

/* out(y, x) = in(y - ty, x - tx), bilinear, zeros outside: the translation
 * augment_images applies when there is no rotation and no scale, in float,
 * one axis then the other. in and out are (h, w) planes, not overlapping. */
void augment_translate(const float *in, float *out, int h, int w, double ty, double tx);

#endif
