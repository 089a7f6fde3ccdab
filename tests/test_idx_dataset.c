/* data: {format: idx, ...}: any single-channel IDX set with its own class
 * names. A synthetic 3-class set of 8x8 images (a row, a column or a dot)
 * must train to high accuracy, the class names must reach the reports, and
 * mismatches must be refused with positioned messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "runner/runner.h"
#include "json_check.h"
#include "testutil.h"

enum { SIDE = 8, N_TRAIN = 600, N_TEST = 150 };

static char *dir;

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* class 0: a bright row; 1: a bright column; 2: a bright dot; with noise */
static void write_split(const char *name, int n, uint64_t *rng, int label_bias)
{
	size_t ilen = 16 + (size_t)n * SIDE * SIDE, llen = 8 + (size_t)n;
	uint8_t *img = calloc(ilen, 1), *lab = calloc(llen, 1);
	assert_non_null(img);
	assert_non_null(lab);
	put_be32(img, 0x803);
	put_be32(img + 4, (uint32_t)n);
	put_be32(img + 8, SIDE);
	put_be32(img + 12, SIDE);
	put_be32(lab, 0x801);
	put_be32(lab + 4, (uint32_t)n);
	for (int i = 0; i < n; i++) {
		int k = i % 3, at = 1 + (int)test_uniform(rng, 0, SIDE - 2);
		uint8_t *p = img + 16 + (size_t)i * SIDE * SIDE;
		for (int j = 0; j < SIDE * SIDE; j++)
			p[j] = (uint8_t)test_uniform(rng, 0, 60);
		for (int j = 0; j < SIDE; j++) {
			if (k == 0)
				p[at * SIDE + j] = 255;
			else if (k == 1)
				p[j * SIDE + at] = 255;
		}
		if (k == 2)
			p[at * SIDE + at] = 255;
		lab[8 + i] = (uint8_t)(k + label_bias * (i == n - 1));
	}
	char file[64];
	snprintf(file, sizeof file, "%s-images.idx3", name);
	free(test_write_file(dir, file, img, ilen));
	snprintf(file, sizeof file, "%s-labels.idx1", name);
	free(test_write_file(dir, file, lab, llen));
	free(img);
	free(lab);
}

static int setup(void **state)
{
	(void)state;
	uint64_t rng = 42;
	dir = test_tmpdir();
	write_split("train", N_TRAIN, &rng, 0);
	write_split("test", N_TEST, &rng, 0);
	write_split("bad", 90, &rng, 1); /* its last label is 3: out of range for 3 classes */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char out[4200];
	snprintf(out, sizeof out, "%s/run", dir);
	test_rmdir(out);
	test_rmdir(dir);
	free(dir);
	return 0;
}

/* A config over the synthetic files; `input` and `classes` vary, `extra`
 * is appended to `train:`. */
static int train_with(const char *input, const char *classes, const char *train_prefix,
                      const char *extra, char *msg, size_t len)
{
	char yaml[2048], out[4200];
	snprintf(yaml, sizeof yaml,
	         "name: shapes\n"
	         "data:\n"
	         "  format: idx\n"
	         "  train: {images: %s/%s-images.idx3, labels: %s/%s-labels.idx1}\n"
	         "  test: {images: %s/test-images.idx3, labels: %s/test-labels.idx1}\n"
	         "  classes: %s\n"
	         "  validation: 60\n"
	         "input: %s\n"
	         "layers:\n"
	         "  - {type: conv, filters: 4, kernel_size: 3, padding: same}\n"
	         "  - {type: relu}\n"
	         "  - {type: maxpool, pool_size: 2}\n"
	         "  - {type: dense, units: 3}\n"
	         "optimizer: {type: adam, lr: 0.01}\n"
	         "train: {epochs: 6, batch: 16, threads: 1%s}\n",
	         dir, train_prefix, dir, train_prefix, dir, dir, classes, input, extra);
	snprintf(out, sizeof out, "%s/run", dir);
	struct cfg_doc doc;
	struct cnn_error err = { 0 };
	struct run_options opt = { .out_dir = out, .quiet = true, .overwrite = true };
	int status = CNN_BAD_CONFIG;
	if (cfg_load_string(yaml, strlen(yaml), "shapes.yaml", &doc, &err) == 0) {
		status = run_train(&doc, "shapes.yaml", &opt, &err);
		cfg_free(&doc);
	}
	cnn_error_str(&err, msg, len);
	return status;
}

static int train(const char *input, const char *classes, const char *train_prefix, char *msg, size_t len)
{
	return train_with(input, classes, train_prefix, "", msg, len);
}

/* Augmentation changes training images only: evaluating the saved weights
 * with cnnrun eval, which never augments, gives the run's test metrics. */
static void augmentation_leaves_test_data_alone(void **state)
{
	(void)state;
	char msg[1024], path[4200], out[4200];
	int status = train_with("[1, 8, 8]", "[row, column, dot]", "train",
	                        ", evaluate: last, augment: {shift: 1, rotation: 10}", msg, sizeof msg);
	if (status != CNN_OK)
		fail_msg("%s", msg);
	snprintf(path, sizeof path, "%s/run/last.ckpt", dir);
	snprintf(out, sizeof out, "%s/run/eval", dir);
	struct cnn_error err = { 0 };
	FILE *null = fopen("/dev/null", "w");
	assert_non_null(null);
	if (run_eval(path, NULL, out, null, &err) != CNN_OK)
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	fclose(null);
	double trained[2], evaluated[2];
	const char *keys[2] = { "test.loss", "test.accuracy" };
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/run/metrics.json", dir);
		char *a = test_read_file(path, NULL);
		snprintf(path, sizeof path, "%s/run/eval/metrics.json", dir);
		char *b = test_read_file(path, NULL);
		assert_non_null(a);
		assert_non_null(b);
		assert_true(json_number_at(a, keys[i], &trained[i]));
		assert_true(json_number_at(b, keys[i], &evaluated[i]));
		free(a);
		free(b);
		assert_true(trained[i] == evaluated[i]);
	}
	test_rmdir(out);
}

static void trains_and_names_the_classes(void **state)
{
	(void)state;
	char msg[1024], path[4200];
	int status = train("[1, 8, 8]", "[row, column, dot]", "train", msg, sizeof msg);
	if (status != CNN_OK)
		fail_msg("%s", msg);
	snprintf(path, sizeof path, "%s/run/metrics.json", dir);
	char *json = test_read_file(path, NULL);
	assert_non_null(json);
	double accuracy = 0;
	assert_true(json_number_at(json, "test.accuracy", &accuracy));
	print_message("3-class IDX set: test accuracy %.4f\n", accuracy);
	assert_true(accuracy >= 0.9);
	assert_true(json_string_at_eq(json, "test.per_class.1.class", "column"));
	assert_int_equal(json_count_at(json, "test.confusion"), 3);
	free(json);
	snprintf(path, sizeof path, "%s/run/report.md", dir);
	char *md = test_read_file(path, NULL);
	assert_non_null(md);
	assert_non_null(strstr(md, "column"));
	free(md);
}

static void mismatches_are_refused_where_they_are(void **state)
{
	(void)state;
	char msg[1024];
	assert_int_equal(train("[1, 28, 28]", "[row, column, dot]", "train", msg, sizeof msg), CNN_BAD_CONFIG);
	assert_string_equal(msg, "shapes.yaml:8:8: 'input' is [1, 28, 28] but idx samples are [1, 8, 8]");
	assert_int_equal(train("[1, 8, 8]", "[row, column, dot]", "bad", msg, sizeof msg), CNN_FAILED);
	char expect[4300];
	snprintf(expect, sizeof expect, "%s/bad-labels.idx1: label 3 at index 89 is out of range for 3 classes", dir);
	assert_string_equal(msg, expect);
	assert_int_equal(train("[1, 8, 8]", "[row, column, row]", "train", msg, sizeof msg), CNN_BAD_CONFIG);
	assert_string_equal(msg, "shapes.yaml:6:26: data: class name 'row' is given twice");
	assert_int_equal(train("[1, 8, 8]", "[row]", "train", msg, sizeof msg), CNN_BAD_CONFIG);
	assert_string_equal(msg, "shapes.yaml:6:12: data: 'classes' must be a list of 2 to 256 class names, in label order");
	/* two class names but a last layer of 3 outputs */
	assert_int_equal(train("[1, 8, 8]", "[row, column]", "train", msg, sizeof msg), CNN_BAD_CONFIG);
	assert_non_null(strstr(msg, "the loss needs the last layer to output 2 values"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(trains_and_names_the_classes),
		cmocka_unit_test(augmentation_leaves_test_data_alone),
		cmocka_unit_test(mismatches_are_refused_where_they_are),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
