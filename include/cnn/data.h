/* Datasets: images kept as bytes (one per pixel), scaled to floats per batch.
 * MNIST's 60,000 training images take 47 MB as bytes, 188 MB as floats. */
#ifndef CNN_DATA_H
#define CNN_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "cnn/error.h"
#include "cnn/layer.h"

struct dataset {
	int n;                  /* samples */
	struct shape shape;     /* per sample, e.g. 1x28x28 */
	int n_classes;
	uint8_t *images;        /* (n, shape) bytes, 0..255 */
	uint8_t *labels;        /* (n) in [0, n_classes) */
	/* A pixel byte v becomes v / 255, or, once standardised, v * scale + offset.
	 * Zero-initialised means plain v / 255, so a dataset built by hand is right. */
	bool standardized;
	double scale, offset;
};

/* Loads MNIST's `split` ("train" or "test") from `path`, a folder holding the
 * four IDX files, raw or gzip-compressed (train-images-idx3-ubyte[.gz], ...).
 * Headers are checked against the file size, labels against n_classes (10);
 * each failure names the file and what is wrong, and a missing file says how
 * to fetch MNIST. `path` may also be a Keras-style .npz file, or a folder
 * with no IDX images but a mnist.npz (see mnist_npz_load). */
int mnist_load(const char *path, const char *split, struct dataset *out, struct cnn_error *err);

/* Loads `split` from a Keras-style mnist.npz: x_train (n, 28, 28) uint8,
 * y_train (n,) uint8 (int64 accepted), x_test, y_test; members stored or
 * deflated. A missing array is named with the ones the file has. */
int mnist_npz_load(const char *file, const char *split, struct dataset *out,
                   struct cnn_error *err);

/* A single-channel image set from an IDX pair: images (n, h, w) and labels
 * (n), each label below n_classes. Messages name the file at fault. */
int idx_pair_load(const char *images, const char *labels, int n_classes,
                  struct dataset *out, struct cnn_error *err);

/* Reads one IDX file (raw or .gz): magic 0x0000080N (ubyte), dims big-endian.
 * ndim_expected is 3 for images, 1 for labels. *data is malloc'd, dims[] filled. */
int idx_load(const char *file, int ndim_expected, uint8_t **data, int dims[3],
             struct cnn_error *err);

void dataset_free(struct dataset *d);

/* Moves the last `count` samples of `from` (in the order of `perm`, a
 * permutation of from->n) into a new dataset `to`, keeping the rest in `from`. */
int dataset_split(struct dataset *from, const int *perm, int count, struct dataset *to,
                  struct cnn_error *err);

/* Standardisation from a training set: the scale and offset that give its
 * pixels mean 0 and standard deviation 1. */
void dataset_standardize(const struct dataset *train, double *scale, double *offset);

/* x[i] = images[idx[i]] scaled as above; labels_out[i] = labels[idx[i]]. */
void dataset_batch(const struct dataset *d, const int *idx, int n, float *x, int *labels_out);

#endif
