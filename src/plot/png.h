/* PNG encoding: 8-bit greyscale or RGB, no interlacing, one IDAT chunk
 * compressed with zlib (deflate, with zlib's Adler-32 trailer), every chunk
 * closed by its CRC-32 (PNG specification, ISO/IEC 15948). */
#ifndef CNN_PLOT_PNG_H
#define CNN_PLOT_PNG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/error.h"

/* pixels: (height, width, channels) bytes, channels 1 (grey) or 3 (RGB).
 * *out gets a malloc'd PNG file image of *len bytes. */
int png_encode(const uint8_t *pixels, int width, int height, int channels,
               uint8_t **out, size_t *len, struct cnn_error *err);

/* png_encode, written to the stream f. */
int png_write(FILE *f, const uint8_t *pixels, int width, int height, int channels,
              struct cnn_error *err);

#endif
