/* Single images, for datasets of image files and `cnnrun predict`: PNG
 * (grey, RGB, palette, with or without alpha, 1 to 16 bits), JPEG (through
 * libjpeg-turbo) and binary PGM/PPM (P5/P6, 8 or 16 bits), decoded into
 * 8-bit grey or RGB, and fitted to a network's input (channels converted,
 * size changed). Anything else is refused with a message naming the file. */
#ifndef CNN_IMAGE_H
#define CNN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "util/shape.h"

/* How an image whose size differs from the input's is made to fit. */
enum data_resize { RESIZE_NONE, RESIZE_BILINEAR };

struct image {
	int width, height;
	int channels;       /* 1 grey or 3 RGB (alpha is dropped) */
	uint8_t *pixels;    /* (height, width, channels), 0..255 (scaled from the file's depth) */
};

/* Images larger than this many pixels are refused from their header, before
 * anything is decoded: a small file claiming a huge image (a decompression
 * bomb) costs nothing. */
#define IMAGE_MAX_PIXELS ((size_t)1 << 26)

/* Reads path and decodes it by its first bytes (not its name). */
int image_load(const char *path, struct image *out, struct cnn_error *err);

/* Decodes an image in memory; messages are positioned at `name`. */
int image_decode(const void *data, size_t len, const char *name, struct image *out,
                 struct cnn_error *err);

void image_free(struct image *img);

/* Decoding many files on one thread (predict): a reader keeps the file
 * buffer, zlib's state and the pixel buffers from one image to the next.
 * One reader per thread. */
struct image_reader;
struct image_reader *image_reader_new(void);   /* NULL when out of memory */
void image_reader_free(struct image_reader *r);
/* image_load through r: out->pixels belongs to r and lasts until r's next
 * load (do not image_free it). Returns 0, -1, or FILE_IS_FOLDER (io/fileio.h)
 * when path is a folder (err filled as for -1). */
int image_reader_load(struct image_reader *r, const char *path, struct image *out,
                      struct cnn_error *err);
/* image_decode through r, out->pixels r's as above. */
int image_reader_decode(struct image_reader *r, const void *data, size_t len, const char *name,
                        struct image *out, struct cnn_error *err);

/* Converts img to `want` channels (grey to RGB by copying, RGB to grey by
 * ITU-R BT.601 luma) and, with RESIZE_BILINEAR, to want's height and width
 * (bilinear, pixel centres aligned as OpenCV's and PyTorch's
 * align_corners=False). out gets (want.c, want.h, want.w) bytes, channel
 * planes as struct dataset holds them. With RESIZE_NONE a different size is
 * refused, naming `name`. want.c must be 1 or 3. */
int image_fit(const struct image *img, struct shape want, enum data_resize resize, uint8_t *out,
              const char *name, struct cnn_error *err);

/* Internal to the decoders (src/io/image*.c). */
int image_check_size(size_t w, size_t h, const char *name, struct cnn_error *err);
int image_alloc(struct image *out, size_t w, size_t h, int channels, const char *name,
                struct cnn_error *err);
int image_decode_jpeg(const unsigned char *d, size_t len, const char *name, struct image *out,
                      struct cnn_error *err);

#endif
