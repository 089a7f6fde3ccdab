/* Datasets: images kept as bytes (one per pixel and channel), scaled to
 * floats per batch. MNIST's 60,000 training images take 47 MB as bytes,
 * 188 MB as floats.
 *
 * Where the images come from is a data format (`data: {format: ...}`): one
 * file in src/data/ per format, holding its keys and its loader, and one line
 * in the registry (src/data/registry.c), as layers have. */
#ifndef CNN_DATA_H
#define CNN_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "io/image.h"
#include "util/error.h"
#include "util/shape.h"

/* Per-channel statistics are kept for up to this many channels: images are
 * grey (1), RGB (3) or, from IDX files, single-channel. */
#define DATA_MAX_CHANNELS 4

/* Class labels are stored as bytes. */
#define DATA_MAX_CLASSES 256

struct dataset {
	int n;                  /* samples */
	struct shape shape;     /* per sample, e.g. 1x28x28 or 3x32x32 */
	int n_classes;
	uint8_t *images;        /* (n, c, h, w) bytes, 0..255, channel planes as the network takes them */
	uint8_t *labels;        /* (n) in [0, n_classes) */
	/* A byte v of channel k becomes v / 255, or, once standardised,
	 * v * scale[k] + offset[k]. Zero-initialised means plain v / 255, so a
	 * dataset built by hand is right. */
	bool standardized;
	double scale[DATA_MAX_CHANNELS], offset[DATA_MAX_CHANNELS];
};

/* ------------------------------------------------------------------ */
/* Formats                                                              */

enum data_split { DATA_TRAIN, DATA_VAL, DATA_TEST };

/* What a loader is asked for: the config's input shape (image formats
 * convert every image to it; fixed-shape formats are checked against it by
 * the caller) and the class names, once known (n_classes 0: not yet). */
struct data_request {
	struct shape input;
	enum data_resize resize;
	int n_classes;
	const char *const *class_names;  /* (n_classes) or NULL */
	int threads;                     /* decoding threads; 0: all cores */
	bool quiet;                      /* no progress line */
};

/* What a format learns by looking at its files without decoding them. */
struct data_probe {
	long n_images;          /* train + test (+ val): 0 if unknown */
	struct shape shape;     /* formats whose images have a fixed size (IDX): theirs; else c = 0 */
	long n_train;           /* 0 if unknown */
	int n_classes;          /* 0 if unknown */
	char **class_names;     /* (n_classes) malloc'd, or NULL: numbers */
};

/* One data source as its format read it from the config; a format's own
 * struct embeds it first (as layers embed struct layer). */
struct data_source {
	const struct data_format *format;
	struct cnn_loc loc;     /* the `data` mapping */
	enum data_resize resize; /* how predict fits an image to the input (RESIZE_NONE: refuse) */
};

struct data_format {
	const char *name;       /* `format:` */
	int validation;         /* the default data.validation: training images held out */
	bool fixed_files;       /* its files are named key by key (idx): eval --data cannot replace them */
	/* Reads the format's own keys of the `data` mapping (the generic ones,
	 * validation and normalize, are the builder's). Checks nothing on disk. */
	int (*create)(struct cfg_node *map, struct data_source **out, struct cnn_error *err);
	/* Looks at the files (headers, folder listings, list files) without
	 * decoding images. -1 when it cannot (err says why): the builder then
	 * goes on with what the config says, and loading reports the error. */
	int (*probe)(const struct data_source *s, struct data_probe *p, struct cnn_error *err);
	/* Loads one split. `path` replaces the config's path (eval --data) when
	 * not NULL. DATA_VAL: returns 1 (and loads nothing) when the format has
	 * no validation files, so the runner splits them off the training set. */
	int (*load)(const struct data_source *s, enum data_split split, const char *path,
	            const struct data_request *req, struct dataset *out, struct cnn_error *err);
	void (*destroy)(struct data_source *s);
};

/* The format named `name`, or NULL; data_formats lists them all. */
const struct data_format *data_format_find(const char *name);
const struct data_format *const *data_formats(int *count);

/* Frees what data_probe holds. */
void data_probe_free(struct data_probe *p);

/* Helpers the formats share (src/data/classes.c). `classes:` as a list of
 * 2..256 distinct names (absent: *names NULL, *n 0); names are malloc'd. */
int data_read_classes(struct cfg_node *map, bool required, char ***names, int *n,
                      struct cnn_error *err);
void data_free_names(char **names, int n);
char **data_copy_names(const char *const *names, int n);
/* `resize: bilinear | none` (default bilinear). */
int data_read_resize(struct cfg_node *map, enum data_resize *out, struct cnn_error *err);
/* The destroy of formats whose source holds nothing of its own to free. */
void data_source_free(struct data_source *s);
/* The index of `name` in names, or -1. */
int data_class_index(const char *const *names, int n, const char *name);
/* path with a trailing '/' removed (messages show "dir/x", not "dir//x"). */
void data_join(char *out, size_t len, const char *dir, const char *name);

/* ------------------------------------------------------------------ */
/* MNIST and IDX (kept for their callers and tests)                     */

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

/* The dimensions of an IDX file from its header alone (raw or .gz). */
int idx_peek(const char *file, int ndim_expected, int dims[3], struct cnn_error *err);

/* Adds an IDX image file's count and shape to a probe (from its header). */
int idx_probe_images(const char *file, bool train, struct data_probe *p, struct cnn_error *err);

/* ------------------------------------------------------------------ */
/* Operations on a loaded dataset (src/data/dataset.c)                  */

/* Memory for `bytes` of images, free()-able, advised for huge pages when
 * large (training reads it at random; see src/data/idx.c). */
uint8_t *data_alloc_images(size_t bytes);

void dataset_free(struct dataset *d);

/* Moves the last `count` samples of `from` (in the order of `perm`, a
 * permutation of from->n) into a new dataset `to`, keeping the rest in `from`. */
int dataset_split(struct dataset *from, const int *perm, int count, struct dataset *to,
                  struct cnn_error *err);

/* Per-channel standardisation from a training set: the scale[k] and
 * offset[k] that give channel k's pixels mean 0 and standard deviation 1
 * over the whole set, k < shape.c (a channel that never varies: scale 1). */
void dataset_standardize(const struct dataset *train, double *scale, double *offset);

/* Channel c's map: a byte v becomes v * *scale + *offset (1/255 and 0
 * unless the set is standardised). */
void dataset_channel_map(const struct dataset *d, int c, double *scale, double *offset);

/* x[i] = images[idx[i]] scaled as above; labels_out[i] = labels[idx[i]]. */
void dataset_batch(const struct dataset *d, const int *idx, int n, float *x, int *labels_out);

#endif
