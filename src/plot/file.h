/* Writing an output file so that a failure never leaves half a file in
 * place of a good one: the content goes to "path.tmp", is flushed and
 * synced, and only then renamed over path. */
#ifndef CNN_PLOT_FILE_H
#define CNN_PLOT_FILE_H

#include <stdio.h>

#include "cnn/error.h"

/* Writes one file's content to f; returns 0, or -1 with err filled (a
 * stream error need not be reported: the caller checks ferror()). */
typedef int (*plot_writer)(FILE *f, const void *ctx, struct cnn_error *err);

/* Writes path through fn. Returns 0, or -1 with the path and the reason in
 * err; the temporary file is removed on every failure. */
int plot_write_file(const char *path, plot_writer fn, const void *ctx, struct cnn_error *err);

/* "dir/name" into buf; -1 with err filled if it does not fit. */
int plot_join(char *buf, size_t len, const char *dir, const char *name, struct cnn_error *err);

#endif
