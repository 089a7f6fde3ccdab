/* MNIST from a Keras-style mnist.npz: named directly or found in the data
 * folder, members stored or deflated, and the ways such a file can be wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "io/npz.h"
#include "file_fixture.h"
#include "testutil.h"

static int setup(void **state)
{
	return file_fixture_setup(state, "mnist.npz");
}

static int teardown(void **state)
{
	return file_fixture_teardown(state);
}

/* 3 training and 2 test images of 4x5; pixel j of image i is 10 i + j
 * (test images from 100); labels 7, 0, 9 and 3, 4. */
static uint8_t x_train[3 * 4 * 5], x_test[2 * 4 * 5];
static const uint8_t y_train[3] = { 7, 0, 9 }, y_test[2] = { 3, 4 };

struct spec {
	bool compress;
	bool int64_labels;
	bool float_images;
	bool flat_images;       /* (n, 20) instead of (n, 4, 5) */
	bool drop_y_test;
	int bad_label;          /* > 0: y_train[1] becomes this */
	int short_labels;       /* y_train has this many fewer labels */
};

static void write_npz(struct file_fixture *f, const char *path, const struct spec *s)
{
	struct npz_writer *w;
	size_t xtr[3] = { 3, 4, 5 }, xte[3] = { 2, 4, 5 }, flat[2] = { 3, 20 };
	size_t ytr[1] = { 3 - (size_t)s->short_labels }, yte[1] = { 2 };
	uint8_t ytrain[3];
	int64_t ytr64[3], yte64[2];
	float xf[60];

	for (int i = 0; i < 60; i++)
		x_train[i] = (uint8_t)(10 * (i / 20) + i % 20), xf[i] = x_train[i];
	for (int i = 0; i < 40; i++)
		x_test[i] = (uint8_t)(100 + 10 * (i / 20) + i % 20);
	memcpy(ytrain, y_train, 3);
	if (s->bad_label)
		ytrain[1] = (uint8_t)s->bad_label;
	for (int i = 0; i < 3; i++)
		ytr64[i] = ytrain[i];
	for (int i = 0; i < 2; i++)
		yte64[i] = y_test[i];

	assert_ok(f, npz_writer_open(path, s->compress, &w, &f->err));
	if (s->float_images)
		assert_ok(f, npz_writer_add(w, "x_train", NPY_FLOAT32, 3, xtr, xf, &f->err));
	else if (s->flat_images)
		assert_ok(f, npz_writer_add(w, "x_train", NPY_UINT8, 2, flat, x_train, &f->err));
	else
		assert_ok(f, npz_writer_add(w, "x_train", NPY_UINT8, 3, xtr, x_train, &f->err));
	if (s->int64_labels)
		assert_ok(f, npz_writer_add(w, "y_train", NPY_INT64, 1, ytr, ytr64, &f->err));
	else
		assert_ok(f, npz_writer_add(w, "y_train", NPY_UINT8, 1, ytr, ytrain, &f->err));
	assert_ok(f, npz_writer_add(w, "x_test", NPY_UINT8, 3, xte, x_test, &f->err));
	if (!s->drop_y_test) {
		if (s->int64_labels)
			assert_ok(f, npz_writer_add(w, "y_test", NPY_INT64, 1, yte, yte64, &f->err));
		else
			assert_ok(f, npz_writer_add(w, "y_test", NPY_UINT8, 1, yte, y_test, &f->err));
	}
	assert_ok(f, npz_writer_close(w, &f->err));
}

static void check_split(const struct dataset *d, bool train)
{
	assert_int_equal(d->n, train ? 3 : 2);
	assert_int_equal(d->shape.c, 1);
	assert_int_equal(d->shape.h, 4);
	assert_int_equal(d->shape.w, 5);
	assert_int_equal(d->n_classes, 10);
	assert_memory_equal(d->images, train ? x_train : x_test, train ? 60 : 40);
	assert_memory_equal(d->labels, train ? y_train : y_test, train ? 3 : 2);
}

static void load_all_ways(struct file_fixture *f)
{
	struct dataset d;
	char slash[1100];

	assert_ok(f, mnist_npz_load(f->path, "train", &d, &f->err));
	check_split(&d, true);
	dataset_free(&d);
	assert_ok(f, mnist_npz_load(f->path, "test", &d, &f->err));
	check_split(&d, false);
	dataset_free(&d);
	/* mnist_load takes the file itself, or the folder holding it */
	assert_ok(f, mnist_load(f->path, "train", &d, &f->err));
	check_split(&d, true);
	dataset_free(&d);
	assert_ok(f, mnist_load(f->dir, "test", &d, &f->err));
	check_split(&d, false);
	dataset_free(&d);
	snprintf(slash, sizeof slash, "%s/", f->dir);
	assert_ok(f, mnist_load(slash, "train", &d, &f->err));
	check_split(&d, true);
	dataset_free(&d);
}

static void test_stored(void **state)
{
	struct file_fixture *f = *state;
	write_npz(f, f->path, &(struct spec){ 0 });
	load_all_ways(f);
}

static void test_deflated(void **state)
{
	struct file_fixture *f = *state;
	write_npz(f, f->path, &(struct spec){ .compress = true });
	load_all_ways(f);
}

static void test_int64_labels(void **state)
{
	struct file_fixture *f = *state;
	struct dataset d;

	write_npz(f, f->path, &(struct spec){ .compress = true, .int64_labels = true });
	assert_ok(f, mnist_npz_load(f->path, "train", &d, &f->err));
	check_split(&d, true);
	dataset_free(&d);
}

/* Any file name works when the path names the file. */
static void test_other_name(void **state)
{
	struct file_fixture *f = *state;
	struct dataset d;

	snprintf(f->path, sizeof f->path, "%s/digits.data", f->dir);
	write_npz(f, f->path, &(struct spec){ 0 });
	assert_ok(f, mnist_load(f->path, "test", &d, &f->err));
	check_split(&d, false);
	dataset_free(&d);
}

static void expect_error(struct file_fixture *f, const struct spec *s, const char *split,
                         const char *text)
{
	struct dataset d;
	char want[2048];

	write_npz(f, f->path, s);
	assert_int_equal(mnist_load(f->path, split, &d, &f->err), -1);
	assert_null(d.images);
	snprintf(want, sizeof want, text, f->path);
	assert_string_equal(file_fixture_msg(f), want);
}

static void test_errors(void **state)
{
	struct file_fixture *f = *state;

	expect_error(f, &(struct spec){ .drop_y_test = true }, "test",
	             "%s has no array 'y_test' (it has: x_train, y_train, x_test)");
	expect_error(f, &(struct spec){ .bad_label = 10 }, "train",
	             "%s: y_train: label 10 at index 1 is out of range for 10 classes");
	expect_error(f, &(struct spec){ .float_images = true }, "train",
	             "%s: x_train holds float values; expected uint8 pixels (0..255)");
	expect_error(f, &(struct spec){ .flat_images = true }, "train",
	             "%s: x_train has shape (3, 20); expected (images, height, width)");
	expect_error(f, &(struct spec){ .short_labels = 1 }, "train",
	             "%s: y_train has 2 labels, but x_train has 3 images");
	expect_error(f, &(struct spec){ 0 }, "valid",
	             "unknown MNIST split 'valid' (expected 'train' or 'test')%.0s");
}

static void test_missing(void **state)
{
	struct file_fixture *f = *state;
	struct dataset d;
	char want[2048];

	/* A folder with neither: the message names both kinds of file. */
	assert_int_equal(mnist_load(f->dir, "train", &d, &f->err), -1);
	snprintf(want, sizeof want, "%s/train-images-idx3-ubyte: not found (also tried .gz); run "
	         "`make data` or data/fetch-mnist.sh to download MNIST, or put the four IDX "
	         "files (or mnist.npz) there", f->dir);
	assert_string_equal(file_fixture_msg(f), want);

	/* A .npz path that is not there. */
	assert_int_equal(mnist_load(f->path, "train", &d, &f->err), -1);
	snprintf(want, sizeof want, "%s: cannot open: No such file or directory", f->path);
	assert_string_equal(file_fixture_msg(f), want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deflated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_int64_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
