/* Single images for `cnnrun predict`: binary PGM (P5, maxval <= 255) and
 * 8-bit grayscale PNG (color type 0, bit depth 8, not interlaced), decoded
 * into bytes, one per pixel, row after row. Other kinds are refused with a
 * message saying how to convert them. */
#ifndef CNN_IMAGE_H
#define CNN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "cnn/error.h"

struct image {
	int width, height;
	uint8_t *pixels;    /* (height, width), 0..255 (PGM values scaled from maxval) */
};

/* Images larger than this many pixels are refused before decoding. */
#define IMAGE_MAX_PIXELS ((size_t)1 << 26)

/* Reads path and decodes it by its first bytes (not its name). */
int image_load(const char *path, struct image *out, struct cnn_error *err);

/* Decodes an image in memory; messages are positioned at `name`. */
int image_decode(const void *data, size_t len, const char *name, struct image *out,
                 struct cnn_error *err);

void image_free(struct image *img);

#endif
