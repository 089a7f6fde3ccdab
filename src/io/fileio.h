/* Private to src/io: whole-file reads and crash-safe writes.
 *
 * A file written through atomic_* appears under its name complete or not at
 * all: the bytes go to a temporary file in the same folder (rename is only
 * atomic within one file system), which is flushed and fsync'ed, renamed
 * over the target, and then the folder is fsync'ed so the rename itself
 * survives a power cut. A crash at any point leaves the old file intact. */
#ifndef CNN_IO_FILEIO_H
#define CNN_IO_FILEIO_H

#include <stddef.h>
#include <stdio.h>

#include "cnn/error.h"

struct atomic_file {
	FILE *f;         /* write here */
	char *path;      /* the final name */
	char *tmp;       /* "<path>.tmp.XXXXXX" */
};

int atomic_open(struct atomic_file *a, const char *path, struct cnn_error *err);
/* Flushes, syncs, renames into place. Releases a either way. */
int atomic_commit(struct atomic_file *a, struct cnn_error *err);
/* Closes and removes the temporary file; the target is untouched. */
void atomic_abort(struct atomic_file *a);

/* Writes len bytes to path atomically. */
int atomic_write(const char *path, const void *data, size_t len, struct cnn_error *err);

/* Reads a whole regular file into *data (malloc'd, len + 1 bytes, the last
 * one NUL). Files larger than max bytes are refused before any allocation. */
int file_read_all(const char *path, size_t max, unsigned char **data, size_t *len,
                  struct cnn_error *err);

#endif
