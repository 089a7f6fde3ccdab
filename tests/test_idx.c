/* IDX reading, MNIST loading and dataset operations, on small files the tests
 * write themselves (raw and gzipped) into a temporary folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/data.h"
#include "util/error.h"
#include "testutil.h"

struct fixture {
	char *dir;
	struct cnn_error err;
	char msg[1024];
	char expect[2048];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	f->dir = test_tmpdir();
	if (!f->dir) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	test_rmdir(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* An IDX image in memory: header for `ndim` dims, then `len` bytes of data
 * (which need not match the dims: that is what some tests are about).
 * Data byte i is (i * 7 + 3) & 0xff so misplaced bytes show. */
struct blob {
	unsigned char buf[4096];
	size_t len;
};

static void make_idx(struct blob *b, int type, int ndim, const uint32_t *dims, size_t len)
{
	unsigned char *p = b->buf;
	*p++ = 0;
	*p++ = 0;
	*p++ = (unsigned char)type;
	*p++ = (unsigned char)ndim;
	for (int i = 0; i < ndim; i++) {
		*p++ = (unsigned char)(dims[i] >> 24);
		*p++ = (unsigned char)(dims[i] >> 16);
		*p++ = (unsigned char)(dims[i] >> 8);
		*p++ = (unsigned char)dims[i];
	}
	assert_true((size_t)(p - b->buf) + len <= sizeof b->buf);
	for (size_t i = 0; i < len; i++)
		*p++ = (unsigned char)((i * 7 + 3) & 0xff);
	b->len = (size_t)(p - b->buf);
}

static char *write_blob(const char *dir, const char *name, const struct blob *b)
{
	char *path = test_write_file(dir, name, b->buf, b->len);
	assert_non_null(path);
	return path;
}

static char *write_gz(const char *dir, const char *name, const void *data, size_t len)
{
	size_t plen = strlen(dir) + strlen(name) + 2;
	char *path = malloc(plen);
	assert_non_null(path);
	snprintf(path, plen, "%s/%s", dir, name);
	gzFile gz = gzopen(path, "wb");
	assert_non_null(gz);
	assert_int_equal(gzwrite(gz, data, (unsigned)len), (int)len);
	assert_int_equal(gzclose(gz), Z_OK);
	return path;
}

/* Loads `path` expecting failure; returns the formatted message. */
static const char *idx_fail(struct fixture *f, const char *path, int ndim)
{
	uint8_t *data = (uint8_t *)f; /* must be reset to NULL on failure */
	int dims[3];
	assert_int_equal(idx_load(path, ndim, &data, dims, &f->err), -1);
	assert_null(data);
	return cnn_error_str(&f->err, f->msg, sizeof f->msg);
}

static const char *expect(struct fixture *f, const char *path, const char *msg)
{
	snprintf(f->expect, sizeof f->expect, "%s: %s", path, msg);
	return f->expect;
}

/* ---- idx_load: good files ---- */

static void check_good(const char *path)
{
	struct cnn_error err;
	uint8_t *data = NULL;
	int dims[3] = { 0 };

	assert_int_equal(idx_load(path, 3, &data, dims, &err), 0);
	assert_int_equal(dims[0], 2);
	assert_int_equal(dims[1], 3);
	assert_int_equal(dims[2], 4);
	for (int i = 0; i < 24; i++)
		assert_int_equal(data[i], (i * 7 + 3) & 0xff);
	free(data);
}

static void test_idx_good_raw(void **state)
{
	struct fixture *f = *state;
	struct blob b;
	make_idx(&b, 0x08, 3, (uint32_t[]){ 2, 3, 4 }, 24);
	char *path = write_blob(f->dir, "good", &b);
	check_good(path);
	free(path);
}

static void test_idx_good_gz(void **state)
{
	struct fixture *f = *state;
	struct blob b;
	make_idx(&b, 0x08, 3, (uint32_t[]){ 2, 3, 4 }, 24);
	char *path = write_gz(f->dir, "good.gz", b.buf, b.len);
	check_good(path);
	free(path);
}

static void test_idx_labels_dims(void **state)
{
	struct fixture *f = *state;
	struct blob b;
	uint8_t *data = NULL;
	int dims[3] = { 0 };

	make_idx(&b, 0x08, 1, (uint32_t[]){ 5 }, 5);
	char *path = write_blob(f->dir, "labels", &b);
	assert_int_equal(idx_load(path, 1, &data, dims, &f->err), 0);
	/* Unused dims are 1, so the product is the element count. */
	assert_int_equal(dims[0], 5);
	assert_int_equal(dims[1], 1);
	assert_int_equal(dims[2], 1);
	assert_int_equal(data[4], 31);
	free(data);
	free(path);
}

/* ---- idx_load: bad files ---- */

static void test_idx_truncated(void **state)
{
	struct fixture *f = *state;
	struct blob b;
	make_idx(&b, 0x08, 3, (uint32_t[]){ 2, 3, 4 }, 20);
	char *path = write_blob(f->dir, "short", &b);
	assert_string_equal(idx_fail(f, path, 3),
			    expect(f, path, "truncated: header promises 24 bytes of data, file has 20"));
	/* The message names the file through its location, as the header promises. */
	assert_string_equal(f->err.loc.file, path);
	assert_int_equal(f->err.loc.line, 0);
	free(path);
}

static void test_idx_truncated_inside_gz(void **state)
{
	struct fixture *f = *state;
	struct blob b;
	make_idx(&b, 0x08, 3, (uint32_t[]){ 2, 3, 4 }, 20);
	char *path = write_gz(f->dir, "short.gz", b.buf, b.len);
	assert_string_equal(idx_fail(f, path, 3),
			    expect(f, path, "truncated: header promises 24 bytes of data, file has 20"));
	free(path);
}

static void test_idx_truncated_gz_stream(void **state)
{
	struct fixture *f = *state;
	struct blob b;
	size_t len;

	make_idx(&b, 0x08, 3, (uint32_t[]){ 4, 10, 10 }, 400);
	char *full = write_gz(f->dir, "full.gz", b.buf, b.len);
	char *bytes = test_read_file(full, &len);
	assert_non_null(bytes);
	assert_true(len > 30);
	/* Drop the 8-byte trailer and a little deflate data. */
	char *path = test_write_file(f->dir, "cut.gz", bytes, len - 12);
	assert_non_null(path);
	assert_string_equal(idx_fail(f, path, 3),
			    expect(f, path, "truncated gzip stream (unexpected end of file)"));
	free(path);
	free(bytes);
	free(full);
}

static void test_idx_corrupt_gz(void **state)
{
	struct fixture *f = *state;
	struct blob b;
	size_t len;

	make_idx(&b, 0x08, 3, (uint32_t[]){ 4, 10, 10 }, 400);
	char *full = write_gz(f->dir, "full.gz", b.buf, b.len);
	char *bytes = test_read_file(full, &len);
	assert_non_null(bytes);
	/* Garble the deflate data after the 10-byte gzip header. */
	for (size_t i = 10; i < len - 8; i++)
		bytes[i] = (char)0xff;
	char *path = test_write_file(f->dir, "bad.gz", bytes, len);
	assert_non_null(path);
	const char *msg = idx_fail(f, path, 3);
	char prefix[1024];
	snprintf(prefix, sizeof prefix, "%s: corrupt gzip data: ", path);
	assert_memory_equal(msg, prefix, strlen(prefix));
	free(path);
	free(bytes);
	free(full);
}

static void test_idx_trailing(void **state)
{
	struct fixture *f = *state;
	struct blob b;
	make_idx(&b, 0x08, 3, (uint32_t[]){ 2, 3, 4 }, 27);
	char *path = write_blob(f->dir, "long", &b);
	assert_string_equal(idx_fail(f, path, 3),
			    expect(f, path,
				   "trailing bytes: header promises 24 bytes of data, file has 27"));
	free(path);
}

static void test_idx_bad_magic(void **state)
{
	struct fixture *f = *state;
	static const char text[] = "hello, this is not an IDX file\n";
	char *path = test_write_file(f->dir, "text", text, sizeof text - 1);
	assert_string_equal(idx_fail(f, path, 3),
			    expect(f, path, "not an IDX file: magic bytes 68 65 6c 6c, expected 00 00 08 03"));
	free(path);
}

static void test_idx_wrong_type(void **state)
{
	struct fixture *f = *state;
	struct blob b;
	make_idx(&b, 0x0d, 3, (uint32_t[]){ 1, 2, 2 }, 16);
	char *path = write_blob(f->dir, "floats", &b);
	assert_string_equal(idx_fail(f, path, 3),
			    expect(f, path, "IDX element type 0x0d (float32) is not supported; "
					    "only 0x08 (unsigned byte) is"));
	free(path);

	make_idx(&b, 0x42, 3, (uint32_t[]){ 1, 2, 2 }, 4);
	path = write_blob(f->dir, "odd", &b);
	assert_string_equal(idx_fail(f, path, 3),
			    expect(f, path, "IDX element type 0x42 (unknown) is not supported; "
					    "only 0x08 (unsigned byte) is"));
	free(path);
}

static void test_idx_wrong_ndim(void **state)
{
	struct fixture *f = *state;
	struct blob b;
	make_idx(&b, 0x08, 1, (uint32_t[]){ 5 }, 5);
	char *path = write_blob(f->dir, "labels", &b);
	assert_string_equal(idx_fail(f, path, 3),
			    expect(f, path, "expected a 3-dimensional IDX file, got a 1-dimensional one"));
	free(path);
}

static void test_idx_zero_dim(void **state)
{
	struct fixture *f = *state;
	struct blob b;
	make_idx(&b, 0x08, 3, (uint32_t[]){ 2, 0, 4 }, 0);
	char *path = write_blob(f->dir, "zero", &b);
	assert_string_equal(idx_fail(f, path, 3), expect(f, path, "dimension 1 is 0"));
	free(path);
}

static void test_idx_huge_dims(void **state)
{
	struct fixture *f = *state;
	struct blob b;
	make_idx(&b, 0x08, 3, (uint32_t[]){ 65536, 65536, 1 }, 0);
	char *path = write_blob(f->dir, "huge", &b);
	assert_string_equal(idx_fail(f, path, 3),
			    expect(f, path, "header promises more than 2147483648 bytes of data "
					    "(dimension 1 is 65536); the header is corrupt"));
	free(path);

	/* Dimensions past INT_MAX would not fit struct shape. */
	make_idx(&b, 0x08, 1, (uint32_t[]){ 0xffffffffu }, 0);
	path = write_blob(f->dir, "huge1", &b);
	assert_string_equal(idx_fail(f, path, 1),
			    expect(f, path, "header promises more than 2147483648 bytes of data "
					    "(dimension 0 is 4294967295); the header is corrupt"));
	free(path);
}

static void test_idx_empty_and_short(void **state)
{
	struct fixture *f = *state;
	char *path = test_write_file(f->dir, "empty", "", 0);
	assert_string_equal(idx_fail(f, path, 3),
			    expect(f, path, "empty file (expected an IDX header)"));
	free(path);

	path = test_write_file(f->dir, "three", "\0\0\x08", 3);
	assert_string_equal(idx_fail(f, path, 3),
			    expect(f, path, "file too short for an IDX header: 3 bytes, need 16"));
	free(path);

	path = test_write_file(f->dir, "eight", "\0\0\x08\x03\0\0\0\x02", 8);
	assert_string_equal(idx_fail(f, path, 3),
			    expect(f, path, "file too short for an IDX header: 8 bytes, need 16"));
	free(path);
}

static void test_idx_missing(void **state)
{
	struct fixture *f = *state;
	char path[1024];
	snprintf(path, sizeof path, "%s/nope", f->dir);
	assert_string_equal(idx_fail(f, path, 3),
			    expect(f, path, "cannot open: No such file or directory"));
	/* A folder is refused by what it is, before any read. */
	assert_string_equal(idx_fail(f, f->dir, 3),
			    expect(f, f->dir, "is a folder, not a regular file"));
}

/* ---- mnist_load ---- */

/* Writes an images file of n 2x3 images and a labels file holding `labels`
 * (n_labels of them) under the given names; gz picks gzip for both. */
static void write_mnist(const char *dir, const char *img_name, const char *lab_name, int n,
			const uint8_t *labels, int n_labels, int gz)
{
	struct blob b;
	char *p;

	make_idx(&b, 0x08, 3, (uint32_t[]){ (uint32_t)n, 2, 3 }, (size_t)n * 6);
	p = gz ? write_gz(dir, img_name, b.buf, b.len) : write_blob(dir, img_name, &b);
	free(p);

	make_idx(&b, 0x08, 1, (uint32_t[]){ (uint32_t)n_labels }, 0);
	memcpy(b.buf + b.len, labels, (size_t)n_labels);
	b.len += (size_t)n_labels;
	p = gz ? write_gz(dir, lab_name, b.buf, b.len) : write_blob(dir, lab_name, &b);
	free(p);
}

static void test_mnist_good_raw(void **state)
{
	struct fixture *f = *state;
	struct dataset d;
	const uint8_t labels[] = { 7, 2, 1, 0 };

	write_mnist(f->dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", 4, labels, 4, 0);
	assert_int_equal(mnist_load(f->dir, "train", &d, &f->err), 0);
	assert_int_equal(d.n, 4);
	assert_int_equal(d.shape.c, 1);
	assert_int_equal(d.shape.h, 2);
	assert_int_equal(d.shape.w, 3);
	assert_int_equal(d.n_classes, 10);
	assert_memory_equal(d.labels, labels, 4);
	assert_int_equal(d.images[23], (23 * 7 + 3) & 0xff);
	dataset_free(&d);
	assert_null(d.images);
	assert_int_equal(d.n, 0);
}

static void test_mnist_good_gz_dotted(void **state)
{
	struct fixture *f = *state;
	struct dataset d;
	const uint8_t labels[] = { 9, 8, 3 };
	char dir[1024];

	/* A trailing slash on the folder must not matter. */
	write_mnist(f->dir, "t10k-images.idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 3, labels, 3, 1);
	snprintf(dir, sizeof dir, "%s/", f->dir);
	assert_int_equal(mnist_load(dir, "test", &d, &f->err), 0);
	assert_int_equal(d.n, 3);
	assert_memory_equal(d.labels, labels, 3);
	dataset_free(&d);
}

static void test_mnist_label_out_of_range(void **state)
{
	struct fixture *f = *state;
	struct dataset d;
	const uint8_t labels[] = { 0, 1, 2, 3, 4, 11, 10 };
	char path[1024];

	write_mnist(f->dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", 7, labels, 7, 0);
	assert_int_equal(mnist_load(f->dir, "train", &d, &f->err), -1);
	snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", f->dir);
	assert_string_equal(cnn_error_str(&f->err, f->msg, sizeof f->msg),
			    expect(f, path, "label 11 at index 5 is out of range for 10 classes"));
	assert_null(d.images);
}

static void test_mnist_count_mismatch(void **state)
{
	struct fixture *f = *state;
	struct dataset d;
	const uint8_t labels[] = { 0, 1, 2 };
	char want[2048];

	write_mnist(f->dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", 4, labels, 3, 0);
	assert_int_equal(mnist_load(f->dir, "train", &d, &f->err), -1);
	snprintf(want, sizeof want,
		 "%s/train-labels-idx1-ubyte: 3 labels, but %s/train-images-idx3-ubyte has 4 images",
		 f->dir, f->dir);
	assert_string_equal(cnn_error_str(&f->err, f->msg, sizeof f->msg), want);
}

static void test_mnist_missing(void **state)
{
	struct fixture *f = *state;
	struct dataset d;
	const uint8_t labels[] = { 0 };
	char path[1024];

	assert_int_equal(mnist_load(f->dir, "train", &d, &f->err), -1);
	snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", f->dir);
	assert_string_equal(cnn_error_str(&f->err, f->msg, sizeof f->msg),
			    expect(f, path, "not found (also tried .gz); run `make data` or "
					    "data/fetch-mnist.sh to download MNIST, or put the "
					    "four IDX files (or mnist.npz) there"));

	/* Images there, labels not: the labels file is the one named. */
	write_mnist(f->dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 1, labels, 1, 0);
	snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", f->dir);
	remove(path);
	assert_int_equal(mnist_load(f->dir, "test", &d, &f->err), -1);
	assert_string_equal(cnn_error_str(&f->err, f->msg, sizeof f->msg),
			    expect(f, path, "not found (also tried .gz); run `make data` or "
					    "data/fetch-mnist.sh to download MNIST, or put the "
					    "four IDX files (or mnist.npz) there"));
}

static void test_mnist_bad_file_named(void **state)
{
	struct fixture *f = *state;
	struct dataset d;
	struct blob b;
	const uint8_t labels[] = { 0, 1 };
	char path[1024];

	write_mnist(f->dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", 2, labels, 2, 0);
	make_idx(&b, 0x08, 3, (uint32_t[]){ 2, 2, 3 }, 10);
	free(write_blob(f->dir, "train-images-idx3-ubyte", &b));
	assert_int_equal(mnist_load(f->dir, "train", &d, &f->err), -1);
	snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", f->dir);
	assert_string_equal(cnn_error_str(&f->err, f->msg, sizeof f->msg),
			    expect(f, path, "truncated: header promises 12 bytes of data, file has 10"));
}

static void test_mnist_unknown_split(void **state)
{
	struct fixture *f = *state;
	struct dataset d;
	assert_int_equal(mnist_load(f->dir, "valid", &d, &f->err), -1);
	assert_string_equal(cnn_error_str(&f->err, f->msg, sizeof f->msg),
			    "unknown MNIST split 'valid' (expected 'train' or 'test')");
}

/* ---- dataset_split, dataset_batch ---- */

/* Five 1x1x2 samples: sample s holds bytes {10s, 10s+1} and label s. */
static void make_five(struct dataset *d)
{
	memset(d, 0, sizeof *d);
	d->n = 5;
	d->shape = (struct shape){ 1, 1, 2 };
	d->n_classes = 10;
	d->images = malloc(10);
	d->labels = malloc(5);
	assert_non_null(d->images);
	assert_non_null(d->labels);
	for (int s = 0; s < 5; s++) {
		d->images[2 * s] = (uint8_t)(10 * s);
		d->images[2 * s + 1] = (uint8_t)(10 * s + 1);
		d->labels[s] = (uint8_t)s;
	}
}

static void check_samples(const struct dataset *d, const int *want, int n)
{
	assert_int_equal(d->n, n);
	assert_int_equal(d->shape.w, 2);
	assert_int_equal(d->n_classes, 10);
	for (int i = 0; i < n; i++) {
		assert_int_equal(d->labels[i], want[i]);
		assert_int_equal(d->images[2 * i], 10 * want[i]);
		assert_int_equal(d->images[2 * i + 1], 10 * want[i] + 1);
	}
}

static void test_dataset_split(void **state)
{
	struct fixture *f = *state;
	struct dataset d, v;
	const int perm[] = { 3, 0, 4, 1, 2 };

	make_five(&d);
	assert_int_equal(dataset_split(&d, perm, 2, &v, &f->err), 0);
	check_samples(&d, (int[]){ 3, 0, 4 }, 3);
	check_samples(&v, (int[]){ 1, 2 }, 2);
	dataset_free(&d);
	dataset_free(&v);
}

/* The in-place split against a plain gather, on permutations of many
 * cycles (a random one) and one long cycle (a rotation). */
static void test_dataset_split_matches_gather(void **state)
{
	struct fixture *f = *state;
	enum { N = 257, SS = 3, COUNT = 40 };
	int perm[N];

	for (int kind = 0; kind < 2; kind++) {
		struct dataset d = { .n = N, .shape = { 1, 1, SS }, .n_classes = 256 }, v;
		uint8_t images[N * SS], labels[N];
		d.images = malloc(N * SS);
		d.labels = malloc(N);
		assert_non_null(d.images);
		assert_non_null(d.labels);
		for (int i = 0; i < N; i++) {
			for (int j = 0; j < SS; j++)
				images[i * SS + j] = d.images[i * SS + j] = (uint8_t)(i * 7 + j * 91);
			labels[i] = d.labels[i] = (uint8_t)(i * 13);
			perm[i] = kind ? (i + 100) % N : i;
		}
		uint64_t z = 12345;
		for (int i = N - 1; kind == 0 && i > 0; i--) {
			z = z * 6364136223846793005u + 1442695040888963407u;
			int j = (int)((z >> 33) % (uint64_t)(i + 1)), t = perm[i];
			perm[i] = perm[j];
			perm[j] = t;
		}
		assert_int_equal(dataset_split(&d, perm, COUNT, &v, &f->err), 0);
		assert_int_equal(d.n, N - COUNT);
		assert_int_equal(v.n, COUNT);
		for (int i = 0; i < N; i++) {
			const struct dataset *in = i < N - COUNT ? &d : &v;
			int at = i < N - COUNT ? i : i - (N - COUNT);
			assert_memory_equal(in->images + at * SS, images + perm[i] * SS, SS);
			assert_int_equal(in->labels[at], labels[perm[i]]);
		}
		dataset_free(&d);
		dataset_free(&v);
	}
}

static void test_dataset_split_edges(void **state)
{
	struct fixture *f = *state;
	struct dataset d, v;
	const int perm[] = { 4, 3, 2, 1, 0 };

	make_five(&d);
	assert_int_equal(dataset_split(&d, perm, 0, &v, &f->err), 0);
	check_samples(&d, (int[]){ 4, 3, 2, 1, 0 }, 5);
	assert_int_equal(v.n, 0);
	dataset_free(&v);

	assert_int_equal(dataset_split(&d, perm, 5, &v, &f->err), 0);
	assert_int_equal(d.n, 0);
	check_samples(&v, (int[]){ 0, 1, 2, 3, 4 }, 5);
	dataset_free(&d);
	dataset_free(&v);

	make_five(&d);
	assert_int_equal(dataset_split(&d, perm, 6, &v, &f->err), -1);
	assert_string_equal(cnn_error_str(&f->err, f->msg, sizeof f->msg),
			    "cannot split 6 samples off a dataset of 5");
	assert_int_equal(dataset_split(&d, perm, -1, &v, &f->err), -1);
	assert_string_equal(cnn_error_str(&f->err, f->msg, sizeof f->msg),
			    "cannot split -1 samples off a dataset of 5");
	check_samples(&d, (int[]){ 0, 1, 2, 3, 4 }, 5); /* untouched */
	dataset_free(&d);
}

static void test_dataset_batch(void **state)
{
	(void)state;
	struct dataset d;
	float x[6];
	int labels[3];

	make_five(&d);
	d.images[9] = 255;
	dataset_batch(&d, (int[]){ 4, 0, 2 }, 3, x, labels);
	assert_true(x[0] == 40 / 255.0f);
	assert_true(x[1] == 1.0f);
	assert_true(x[2] == 0.0f);
	assert_true(x[3] == 1 / 255.0f);
	assert_true(x[4] == 20 / 255.0f);
	assert_true(x[5] == 21 / 255.0f);
	assert_int_equal(labels[0], 4);
	assert_int_equal(labels[1], 0);
	assert_int_equal(labels[2], 2);

	/* Labels are optional (prediction needs none). */
	dataset_batch(&d, (int[]){ 1 }, 1, x, NULL);
	assert_true(x[0] == 10 / 255.0f);
	dataset_free(&d);
}

/* Every byte value, plain (1/255) and standardised per channel, comes out
 * as the one rounding of v * scale + offset worked in double: the values
 * every documented accuracy was trained on, whatever way dataset_batch
 * computes them. */
static void test_dataset_batch_every_byte(void **state)
{
	(void)state;
	struct dataset d;
	memset(&d, 0, sizeof d);
	d.n = 2;
	d.shape = (struct shape){ 2, 16, 16 };   /* two channels of 256 pixels */
	d.n_classes = 2;
	d.images = malloc(2 * 512);
	d.labels = calloc(2, 1);
	assert_non_null(d.images);
	assert_non_null(d.labels);
	for (int i = 0; i < 2 * 512; i++)
		d.images[i] = (uint8_t)(i * 7 + i / 512);   /* every value, in another order per plane */
	float *x = malloc(2 * 512 * sizeof *x);
	assert_non_null(x);
	for (int standardized = 0; standardized < 2; standardized++) {
		d.standardized = standardized;
		d.scale[0] = 1 / 78.5673;
		d.offset[0] = -0.4242;
		d.scale[1] = 1 / 12.25;
		d.offset[1] = 1.5e-3;
		dataset_batch(&d, (int[]){ 1, 0 }, 2, x, NULL);
		for (int i = 0; i < 2; i++)
			for (int j = 0; j < 512; j++) {
				int c = j / 256, v = d.images[(1 - i) * 512 + j];
				double s = standardized ? d.scale[c] : 1.0 / 255.0, o = standardized ? d.offset[c] : 0.0;
				float want = (float)(v * s + o);
				assert_memory_equal(&x[i * 512 + j], &want, sizeof want);
			}
	}
	free(x);
	dataset_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_idx_good_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idx_good_gz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idx_labels_dims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idx_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idx_truncated_inside_gz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idx_truncated_gz_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idx_corrupt_gz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idx_trailing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idx_bad_magic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idx_wrong_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idx_wrong_ndim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idx_zero_dim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idx_huge_dims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idx_empty_and_short, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idx_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mnist_good_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mnist_good_gz_dotted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mnist_label_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mnist_count_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mnist_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mnist_bad_file_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mnist_unknown_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dataset_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dataset_split_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dataset_split_matches_gather, setup, teardown),
		cmocka_unit_test(test_dataset_batch),
		cmocka_unit_test(test_dataset_batch_every_byte),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
