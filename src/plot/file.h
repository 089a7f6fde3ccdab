/* Output paths for the pictures. Files themselves are written by the one
 * atomic writer, atomic_write_with (src/io/fileio.h). */
#ifndef CNN_PLOT_FILE_H
#define CNN_PLOT_FILE_H

#include <stddef.h>

#include "util/error.h"

/* "dir/name" into buf; -1 with err filled if it does not fit. */
int plot_join(char *buf, size_t len, const char *dir, const char *name, struct cnn_error *err);

#endif
