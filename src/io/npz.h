/* NumPy interchange: .npy arrays and .npz archives (zip files of .npy
 * members), read and written without Python. Layouts: docs/formats.md.
 *
 * Reading covers what NumPy and Keras produce: members stored or deflated,
 * zip64 local headers (NumPy always writes them, with 0xFFFFFFFF sizes; the
 * central directory's sizes are used), .npy versions 1.0, 2.0 and 3.0,
 * dtypes '<f4', '<f8' (converted to float32), '|u1' and '<i8', C order.
 * Every length is checked against the file before anything is allocated,
 * and every member's CRC-32 is verified.
 *
 * Writing makes .npy v1.0 members (header padded to 64 bytes, so the data is
 * aligned), stored or deflated, with a fixed timestamp so the same arrays
 * give the same bytes; the file is written atomically. */
#ifndef CNN_NPZ_H
#define CNN_NPZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/error.h"

struct net;   /* net_export_npz / net_import_npz, src/io/net_npz.c */

/* In-memory element types. */
enum npy_type {
	NPY_FLOAT32,   /* float;   '<f4' (and '<f8', converted, when reading) */
	NPY_UINT8,     /* uint8_t; '|u1' */
	NPY_INT64,     /* int64_t; '<i8' */
};

#define NPY_MAX_DIMS 8

struct npy_array {
	char *name;                 /* the key: member name without ".npy" (NULL for a .npy file) */
	enum npy_type type;
	int ndim;                   /* 0 for a scalar */
	size_t dims[NPY_MAX_DIMS];
	size_t count;               /* product of dims; 1 for shape () */
	void *data;                 /* (count) elements of type, C order */
};

void npy_array_free(struct npy_array *a);

/* Decodes one .npy image in memory. Messages are positioned at `file` and
 * start with `member` ("x_train.npy: ") when it is not NULL. */
int npy_decode(const void *buf, size_t len, const char *file, const char *member,
               struct npy_array *out, struct cnn_error *err);

/* Reads a .npy file. */
int npy_read(const char *path, struct npy_array *out, struct cnn_error *err);

/* An open .npz: its directory is read; arrays are decoded on demand. */
struct npz_member {
	char *name;                 /* as in the zip, "x_train.npy" */
	char *key;                  /* without ".npy": "x_train" */
	uint16_t method;            /* 0 stored, 8 deflated */
	uint16_t flags;
	uint32_t crc;
	uint64_t csize, usize;      /* compressed and uncompressed sizes */
	uint64_t offset;            /* of the local header */
};

struct npz_file {
	FILE *f;
	char *path;
	uint64_t size;              /* of the file */
	int n;
	struct npz_member *members;
};

int npz_open(const char *path, struct npz_file *z, struct cnn_error *err);
/* Decodes the array `key`. A missing key is refused with the keys there are:
 * "mnist.npz has no array 'x_train' (it has: a, b)". */
int npz_load(struct npz_file *z, const char *key, struct npy_array *out, struct cnn_error *err);
void npz_close(struct npz_file *z);

/* The whole archive at once. */
struct npz_archive {
	int n;
	struct npy_array *arrays;
};

int npz_read(const char *path, struct npz_archive *out, struct cnn_error *err);
const struct npy_array *npz_find(const struct npz_archive *a, const char *key);
void npz_archive_free(struct npz_archive *a);

/* Writing: open, add arrays, close (which renames the file into place) or
 * abort (which leaves any existing file untouched). */
struct npz_writer;

/* compress: members deflated (np.savez_compressed) rather than stored (np.savez). */
int npz_writer_open(const char *path, bool compress, struct npz_writer **out,
                    struct cnn_error *err);
/* data holds count = prod(dims) elements of type, C order. The member is
 * "<key>.npy". */
int npz_writer_add(struct npz_writer *w, const char *key, enum npy_type type, int ndim,
                   const size_t *dims, const void *data, struct cnn_error *err);
int npz_writer_close(struct npz_writer *w, struct cnn_error *err);
void npz_writer_abort(struct npz_writer *w);

/* Every parameter tensor as float32 under its name, in PyTorch's layout:
 * "conv1.weight" (out, in, kh, kw), "conv1.bias" (out), "dense1.weight"
 * (out, in), "dense1.bias" (out). Stored members. */
int net_export_npz(const struct net *net, const char *path, struct cnn_error *err);

/* The reverse, for `init: {from: FILE.npz}`: the file must hold exactly the
 * net's tensors, by name, with the same shapes ('<f4' or '<f8'); otherwise
 * nothing is changed and the message names the first difference. */
int net_import_npz(struct net *net, const char *path, struct cnn_error *err);

#endif
