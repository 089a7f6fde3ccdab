/* Whole-file reads, inputs opened safely, and the one way cnnrun writes a
 * file.
 *
 * A file written through atomic_* appears under its name complete or not at
 * all: the bytes go to a temporary file created exclusively (mkstemp:
 * O_CREAT | O_EXCL, so it never follows a symlink planted under its name) in
 * the same folder (rename is only atomic within one file system), which is
 * flushed and fsync'ed, renamed over the target, and then the folder is
 * fsync'ed so the rename itself survives a power cut. rename() replaces a
 * symlink at the target's name rather than writing through it. A crash at
 * any point leaves the old file intact and, at worst, a temporary named
 * "<name>" ATOMIC_TMP_MARK "XXXXXX", which atomic_remove_leftovers deletes
 * when the folder is next used. Every file cnnrun writes goes through here. */
#ifndef CNN_IO_FILEIO_H
#define CNN_IO_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util/error.h"

/* What every temporary file's name holds, and nothing else's. */
#define ATOMIC_TMP_MARK ".cnnrun-tmp."

struct atomic_file {
	FILE *f;         /* write here */
	char *path;      /* the final name */
	char *tmp;       /* "<path>.cnnrun-tmp.XXXXXX" */
};

int atomic_open(struct atomic_file *a, const char *path, struct cnn_error *err);
/* Flushes, syncs, renames into place. Releases a either way. */
int atomic_commit(struct atomic_file *a, struct cnn_error *err);
/* Closes and removes the temporary file; the target is untouched. */
void atomic_abort(struct atomic_file *a);

/* Writes len bytes to path atomically. */
int atomic_write(const char *path, const void *data, size_t len, struct cnn_error *err);

/* Writes one file's content to f; returns 0, or -1 with err filled (a
 * stream error need not be reported: atomic_write_with checks ferror()). */
typedef int (*atomic_writer)(FILE *f, const void *ctx, struct cnn_error *err);

/* Writes path atomically through fn. Returns 0, or -1 with the path and the
 * reason in err; the temporary file is removed on every failure. */
int atomic_write_with(const char *path, atomic_writer fn, const void *ctx, struct cnn_error *err);

/* Removes the temporaries a killed writer left in dir (names holding
 * ATOMIC_TMP_MARK followed by mkstemp's six characters). Call it only
 * while holding the folder (its lock): another writer's live temporary
 * looks the same. Returns how many were removed. */
int atomic_remove_leftovers(const char *dir);

/* Opens an input for reading without ever blocking: O_NONBLOCK, so a FIFO
 * or a device cannot hang open(), then fstat, refusing anything but a
 * regular file by what it is ("is a FIFO", "is a folder", "is a character
 * device"), then blocking mode back for the reads. Returns the descriptor,
 * or -1 with err filled as "path: cannot open: reason" (errno is kept from
 * the failing open, so callers can tell ENOENT; a folder gives EISDIR). */
int input_open(const char *path, struct cnn_error *err);
/* The same as a stdio stream ("rb"). */
FILE *input_fopen(const char *path, struct cnn_error *err);

/* Whether a and b name the same file: by device and inode where both
 * exist, else by their resolved folders and last names. */
bool file_same(const char *a, const char *b);

/* Reads a whole regular file into *data (malloc'd, len + 1 bytes, the last
 * one NUL). Files larger than max bytes are refused before any allocation. */
int file_read_all(const char *path, size_t max, unsigned char **data, size_t *len,
                  struct cnn_error *err);

/* A buffer kept from file to file: data has cap bytes, the last file's len
 * of them read (and a NUL after them). And the last file's folder, kept
 * open: the next file in it is opened by its last name alone (openat),
 * one name looked up instead of every folder on its path. Zero-initialise;
 * file_buf_free at the end. */
struct file_buf {
	unsigned char *data;
	size_t len, cap;
	char *dir;      /* the kept folder's path (malloc'd), or NULL */
	size_t dir_len;
	int dir_fd;     /* open while dir is set */
};
void file_buf_free(struct file_buf *b);

/* What file_read_reuse returns for a folder (err filled, as for -1). */
#define FILE_IS_FOLDER (-2)

/* file_read_all into b, for many small files: open (in the kept folder),
 * fstat, one read and close (no fcntl, no allocation once b is large
 * enough). The same refusals and messages. Returns 0, -1, or
 * FILE_IS_FOLDER. */
int file_read_reuse(const char *path, size_t max, struct file_buf *b, struct cnn_error *err);

#endif
