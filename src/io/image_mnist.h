/* A person's photo or scan of one handwritten digit made to look like an
 * MNIST digit (`cnnrun predict --preprocess mnist`), and the test that
 * tells a dark-on-light image from MNIST's light-on-dark. */
#ifndef CNN_IMAGE_MNIST_H
#define CNN_IMAGE_MNIST_H

#include <stdbool.h>
#include <stdint.h>

#include "io/image.h"
#include "util/error.h"

#define MNIST_SIDE 28   /* the output is MNIST_SIDE x MNIST_SIDE */
#define MNIST_BOX 20    /* the digit is scaled to fit MNIST_BOX x MNIST_BOX */

/* A pixel belongs to the digit's bounding box when, after inversion and
 * the background stretched to 0 and the brightest pixel to 255, it is at
 * least this bright: low enough for thin pencil strokes, high enough that
 * paper texture and shadows do not widen the box. */
#define MNIST_INK_THRESHOLD 64

/* An image whose darkest and brightest grey differ by less than this has
 * no digit to find. */
#define MNIST_MIN_CONTRAST 32

/* True when the w x h grey plane looks dark on light: the mean of its
 * outer one-pixel ring is brighter than the mean of the whole plane. Paper
 * and background fill the border, so the border shows the background's
 * shade and the ink pulls the whole image's mean towards its own. */
bool image_dark_on_light(const uint8_t *grey, int w, int h);

/* img as MNIST was made (LeCun et al.): converted to grey (BT.601 luma),
 * inverted when image_dark_on_light, the background level (the ring's
 * mean) stretched to 0 and the brightest pixel to 255, cropped to the
 * bounding box of pixels >= MNIST_INK_THRESHOLD, scaled by area averaging
 * to fit MNIST_BOX x MNIST_BOX keeping its aspect ratio, and placed in
 * out (MNIST_SIDE x MNIST_SIDE, row-major) so that its centre of mass,
 * rounded to a whole pixel shift, is at the centre (14, 14); the shift is
 * limited so that the whole box stays inside. An image without contrast
 * (blank, uniform) is an error naming `name`. */
int image_mnist_prepare(const struct image *img, uint8_t *out, const char *name,
                        struct cnn_error *err);

#endif
