/* Private to src/io: the .npy encoder that the .npz writer uses. */
#ifndef CNN_IO_NPY_H
#define CNN_IO_NPY_H

#include "io/npz.h"
#include "io/bytes.h"

/* Appends a .npy v1.0 image (magic, version, header padded so the data
 * starts at a multiple of 64, little-endian data) of count = prod(dims)
 * elements. A failure shows as b->failed. */
void npy_encode(struct bytebuf *b, enum npy_type type, int ndim, const size_t *dims,
                const void *data);

#endif
