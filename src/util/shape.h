/* The shape of one sample, shared by layers, data and augmentation: the
 * lowest header, so that data code need not include the layer interface. */
#ifndef CNN_SHAPE_H
#define CNN_SHAPE_H

#include <stddef.h>

struct shape {
	int c, h, w; /* per sample; a flat vector of n values is (n, 1, 1) */
};

static inline size_t shape_size(struct shape s)
{
	return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

void shape_str(struct shape s, char *buf, size_t len); /* "4x24x24" or "10" */

#endif
