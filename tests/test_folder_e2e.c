/* data: {format: folder}: a person's own colour pictures, end to end. A
 * synthetic 3-class set (a red, a green or a blue square on a noisy
 * background; PNG and JPEG, several sizes) must train with flip and crop
 * augmentation; the class names found in the folders must reach the
 * reports, the resolved config (with one mean and std per channel) and the
 * checkpoint, so that predict names the class of a colour image without
 * the data, and eval on the checkpoint reproduces the test metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <jpeglib.h>

#include "runner/runner.h"
#include "json_check.h"
#include "plot/png.h"
#include "testutil.h"

static char *dir;
static const char *const colours[] = { "red", "green", "blue" };

static void mkdirs(const char *rel)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	for (char *p = path + strlen(dir) + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0777);
			*p = '/';
		}
	mkdir(path, 0777);
}

/* (h, w, 3) pixels: noise, and a square of class k's colour somewhere. */
static void picture(uint8_t *px, int side, int k, uint64_t *rng)
{
	int at = (int)test_uniform(rng, 0, (float)side / 2), size = side / 2;
	for (int i = 0; i < side * side * 3; i++)
		px[i] = (uint8_t)test_uniform(rng, 0, 90);
	for (int y = at; y < at + size; y++)
		for (int x = at; x < at + size; x++)
			px[(y * side + x) * 3 + k] = 230;
}

static void write_jpeg(const char *path, const uint8_t *px, int side)
{
	struct jpeg_compress_struct ci;
	struct jpeg_error_mgr jerr;
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	ci.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&ci);
	jpeg_stdio_dest(&ci, f);
	ci.image_width = ci.image_height = (JDIMENSION)side;
	ci.input_components = 3;
	ci.in_color_space = JCS_RGB;
	jpeg_set_defaults(&ci);
	jpeg_set_quality(&ci, 90, TRUE);
	jpeg_start_compress(&ci, TRUE);
	while (ci.next_scanline < ci.image_height) {
		JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline * side * 3);
		jpeg_write_scanlines(&ci, &row, 1);
	}
	jpeg_finish_compress(&ci);
	jpeg_destroy_compress(&ci);
	fclose(f);
}

static void write_set(const char *split, int per_class, uint64_t *rng)
{
	uint8_t px[24 * 24 * 3];
	char rel[256], path[4300];
	for (int k = 0; k < 3; k++) {
		snprintf(rel, sizeof rel, "pics/%s/%s", split, colours[k]);
		mkdirs(rel);
		for (int i = 0; i < per_class; i++) {
			int side = i % 3 == 0 ? 24 : i % 3 == 1 ? 16 : 12;
			picture(px, side, k, rng);
			if (i % 2) {
				snprintf(path, sizeof path, "%s/%s/%03d.jpg", dir, rel, i);
				write_jpeg(path, px, side);
			} else {
				snprintf(path, sizeof path, "%s/%s/%03d.png", dir, rel, i);
				FILE *f = fopen(path, "wb");
				struct cnn_error err;
				assert_non_null(f);
				assert_int_equal(png_write(f, px, side, side, 3, &err), 0);
				fclose(f);
			}
		}
	}
}

static int setup(void **state)
{
	(void)state;
	uint64_t rng = 7;
	dir = test_tmpdir();
	write_set("train", 60, &rng);
	write_set("test", 20, &rng);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[4300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(dir);
	return 0;
}

static void trains_on_a_folder_of_colour_pictures(void **state)
{
	(void)state;
	char yaml[2048], out[4200], path[4300], msg[1024];
	snprintf(out, sizeof out, "%s/run", dir);
	snprintf(yaml, sizeof yaml,
	         "name: pics\n"
	         "data: {format: folder, path: %s/pics, validation: 30, normalize: standard}\n"
	         "input: [3, 16, 16]\n"
	         "layers:\n"
	         "  - {type: conv, filters: 6, kernel_size: 3, padding: same}\n"
	         "  - {type: relu}\n"
	         "  - {type: maxpool, pool_size: 4}\n"
	         "  - {type: flatten}\n"
	         "  - {type: dense, units: 3}\n"
	         "optimizer: {type: adam, lr: 0.01}\n"
	         "train: {epochs: 5, batch: 16, threads: 2, evaluate: last, augment: {flip: true, crop_padding: 2}}\n",
	         dir);
	struct cfg_doc doc;
	struct cnn_error err = { 0 };
	struct run_options opt = { .out_dir = out, .quiet = true };
	assert_int_equal(cfg_load_string(yaml, strlen(yaml), "pics.yaml", &doc, &err), 0);
	if (run_train(&doc, "pics.yaml", &opt, &err) != CNN_OK)
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	cfg_free(&doc);

	snprintf(path, sizeof path, "%s/metrics.json", out);
	char *json = test_read_file(path, NULL);
	assert_non_null(json);
	double accuracy = 0;
	assert_true(json_number_at(json, "test.accuracy", &accuracy));
	print_message("3-colour folder: test accuracy %.4f\n", accuracy);
	assert_true(accuracy >= 0.9);
	/* classes in sorted folder order */
	assert_true(json_string_at_eq(json, "test.per_class.0.class", "blue"));
	assert_true(json_string_at_eq(json, "test.per_class.2.class", "red"));
	free(json);

	/* the resolved config records the names and a mean and std per channel */
	snprintf(path, sizeof path, "%s/config.yaml", out);
	char *resolved = test_read_file(path, NULL);
	assert_non_null(resolved);
	assert_non_null(strstr(resolved, "classes: [\"blue\", \"green\", \"red\"]"));
	struct cfg_doc saved;
	assert_int_equal(cfg_load_string(resolved, strlen(resolved), "config.yaml", &saved, &err), 0);
	struct cfg_node *data = cfg_get(saved.root, "data");
	assert_int_equal(cfg_get(data, "mean")->kind, CFG_SEQ);
	assert_int_equal(cfg_get(data, "mean")->n, 3);
	assert_int_equal(cfg_get(data, "std")->n, 3);
	cfg_free(&saved);
	free(resolved);

	/* colour mistakes, when there are any */
	snprintf(path, sizeof path, "%s/mistakes.png", out);
	struct stat st;
	assert_true(accuracy == 1.0 || stat(path, &st) == 0);

	/* predict: a colour picture of another size, named by class, without the data */
	char moved[4300];
	snprintf(moved, sizeof moved, "%s/pics-away", dir);
	snprintf(path, sizeof path, "%s/pics", dir);
	assert_int_equal(rename(path, moved), 0);
	uint8_t px[24 * 24 * 3];
	uint64_t rng = 99;
	picture(px, 24, 1, &rng);
	snprintf(path, sizeof path, "%s/green.jpg", dir);
	write_jpeg(path, px, 24);
	char ckpt[4300];
	snprintf(ckpt, sizeof ckpt, "%s/last.ckpt", out);
	const char *images[] = { path };
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	assert_non_null(mem);
	if (run_predict(ckpt, images, 1, false, mem, stderr, &err) != CNN_OK)
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	fclose(mem);
	char want[4400];
	snprintf(want, sizeof want, "%s: green (", path);
	if (strncmp(text, want, strlen(want)))
		fail_msg("predict said: %s", text);
	free(text);

	/* eval with the data back: the run's test figures */
	snprintf(path, sizeof path, "%s/pics", dir);
	assert_int_equal(rename(moved, path), 0);
	snprintf(path, sizeof path, "%s/eval", out);
	FILE *null = fopen("/dev/null", "w");
	if (run_eval(ckpt, NULL, path, null, &err) != CNN_OK)
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	fclose(null);
	snprintf(path, sizeof path, "%s/eval/metrics.json", out);
	json = test_read_file(path, NULL);
	double again = 0;
	assert_true(json_number_at(json, "test.accuracy", &again));
	assert_true(again == accuracy);
	free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(trains_on_a_folder_of_colour_pictures),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
