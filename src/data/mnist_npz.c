/* MNIST from a Keras-style mnist.npz (keras.datasets.mnist's file, and what
 * np.savez of the same four arrays makes):
 *   x_train (60000, 28, 28) uint8   y_train (60000,) uint8
 *   x_test  (10000, 28, 28) uint8   y_test  (10000,) uint8
 * Members stored or deflated (np.savez_compressed); int64 labels, which
 * some re-exports have, are accepted too. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "io/npz.h"

#define MNIST_CLASSES 10

static const char *type_name(enum npy_type t)
{
	return t == NPY_FLOAT32 ? "float" : t == NPY_UINT8 ? "uint8" : "int64";
}

static void shape_text(const struct npy_array *a, char *buf, size_t len)
{
	size_t used = snprintf(buf, len, "(");
	for (int i = 0; i < a->ndim && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, i ? ", %zu" : "%zu", a->dims[i]);
	if (used < len)
		snprintf(buf + used, len - used, a->ndim == 1 ? ",)" : ")");
}

static int check_images(const char *file, const struct npy_array *x, struct cnn_error *err)
{
	struct cnn_loc at = { file, 0, 0 };
	char shape[128];

	shape_text(x, shape, sizeof shape);
	if (x->type != NPY_UINT8)
		return cnn_errorf(err, at, "%s holds %s values; expected uint8 pixels (0..255)",
		                  x->name, type_name(x->type));
	if (x->ndim != 3 || x->dims[0] == 0 || x->dims[0] > INT_MAX || x->dims[1] == 0 ||
	    x->dims[1] > INT_MAX || x->dims[2] == 0 || x->dims[2] > INT_MAX)
		return cnn_errorf(err, at, "%s has shape %s; expected (images, height, width)",
		                  x->name, shape);
	return 0;
}

/* Labels as bytes in [0, 10), whatever integer type they came in. */
static int take_labels(const char *file, const struct npy_array *y, size_t n, uint8_t **out,
                       struct cnn_error *err)
{
	struct cnn_loc at = { file, 0, 0 };
	char shape[128];

	shape_text(y, shape, sizeof shape);
	if (y->type == NPY_FLOAT32)
		return cnn_errorf(err, at, "%s holds float values; expected integer labels", y->name);
	if (y->ndim != 1)
		return cnn_errorf(err, at, "%s has shape %s; expected (labels,)", y->name, shape);
	if (y->dims[0] != n)
		return cnn_errorf(err, at, "%s has %zu labels, but x_%s has %zu images", y->name,
		                  y->dims[0], y->name + 2, n);
	*out = malloc(n);
	if (!*out)
		return cnn_errorf(err, at, "out of memory");
	for (size_t i = 0; i < n; i++) {
		int64_t v = y->type == NPY_UINT8 ? ((const uint8_t *)y->data)[i] :
		            ((const int64_t *)y->data)[i];
		if (v < 0 || v >= MNIST_CLASSES) {
			free(*out);
			*out = NULL;
			return cnn_errorf(err, at, "%s: label %lld at index %zu is out of range for %d classes",
			                  y->name, (long long)v, i, MNIST_CLASSES);
		}
		(*out)[i] = (uint8_t)v;
	}
	return 0;
}

int mnist_npz_load(const char *file, const char *split, struct dataset *out, struct cnn_error *err)
{
	struct npz_file z;
	struct npy_array x, y;
	char xkey[16], ykey[16];
	uint8_t *labels = NULL;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (strcmp(split, "train") && strcmp(split, "test"))
		return cnn_errorf_plain(err, "unknown MNIST split '%s' (expected 'train' or 'test')",
		                        split);
	snprintf(xkey, sizeof xkey, "x_%s", split);
	snprintf(ykey, sizeof ykey, "y_%s", split);

	if (npz_open(file, &z, err))
		return -1;
	if (npz_load(&z, xkey, &x, err))
		goto out_close;
	if (check_images(file, &x, err))
		goto out_free_x;
	if (npz_load(&z, ykey, &y, err))
		goto out_free_x;
	if (take_labels(file, &y, x.dims[0], &labels, err))
		goto out_free_y;

	out->n = (int)x.dims[0];
	out->shape = (struct shape){ 1, (int)x.dims[1], (int)x.dims[2] };
	out->n_classes = MNIST_CLASSES;
	out->images = x.data;       /* already (n, h, w) bytes: take it over */
	out->labels = labels;
	x.data = NULL;
	rc = 0;

out_free_y:
	npy_array_free(&y);
out_free_x:
	npy_array_free(&x);
out_close:
	npz_close(&z);
	return rc;
}
