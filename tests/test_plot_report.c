/* The run folder's pictures and the two commands that read run folders:
 * a fake run written by report_write_all, its report and pictures rebuilt
 * by `cnnrun report` from the data files alone (they must come out byte
 * for byte the same), and two runs compared by `cnnrun compare`. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "report/report.h"
#include "runner/runner.h"
#include "testutil.h"
#include "xml_check.h"

#define EPOCHS 3
#define BATCHES 10

static const char *const pictures[] = { "loss.svg", "accuracy.svg", "confusion.svg", "mistakes.png" };

struct fixture {
	char *dir;
	struct confusion conf;
	struct epoch_record history[EPOCHS];
	float batch_loss[EPOCHS * BATCHES];
	struct mistakes mistakes;
	struct run_result r;
};

static int setup(void **state)
{
	static const int64_t m[3][3] = { { 8, 1, 1 }, { 0, 9, 1 }, { 2, 0, 8 } };
	struct fixture *fx = calloc(1, sizeof *fx);
	uint8_t px[16];

	if (!fx || confusion_init(&fx->conf, 3) || mistakes_init(&fx->mistakes, 4, 1, 4, 4))
		return -1;
	memcpy(fx->conf.m, m, sizeof m);
	fx->dir = test_tmpdir();
	for (int i = 0; i < EPOCHS; i++)
		fx->history[i] = (struct epoch_record){ i + 1, 1.0 / (i + 1), 0.5 + 0.125 * i,
		                                        0.75 / (i + 1), 0.5 + 0.1 * i, 2.5, 400 };
	/* multiples of 1/64 survive batches.csv's six digits exactly */
	for (int i = 0; i < EPOCHS * BATCHES; i++)
		fx->batch_loss[i] = (float)(128 - 4 * i + (i % 3) * 2) / 64;
	for (int i = 0; i < 3; i++) {
		memset(px, (uint8_t)(60 * i), sizeof px);
		mistakes_offer(&fx->mistakes, 10 + i, i, (i + 1) % 3, 0.5f + 0.125f * (float)i, px);
	}
	fx->r = (struct run_result){
		.name = "tiny <run>", .config_path = "configs/tiny.yaml",
		.n_train = 1000, .n_val = 100, .n_test = 30, .n_params = 1234,
		.flops_per_image = 5e4, .threads = 2, .batch = 100,
		.history = fx->history, .n_epochs = EPOCHS,
		.train_seconds = 7.5, .train_images_per_second = 400,
		.test_loss = 0.5, .test_accuracy = 25.0 / 30, .eval_images_per_second = 1600,
		.test_confusion = &fx->conf,
		.batch_loss = fx->batch_loss, .n_batch_loss = EPOCHS * BATCHES,
		.batches_per_epoch = BATCHES, .mistakes = &fx->mistakes,
	};
	*state = fx;
	return fx->dir ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	test_rmdir(fx->dir);
	free(fx->dir);
	confusion_free(&fx->conf);
	mistakes_free(&fx->mistakes);
	free(fx);
	return 0;
}

static char *read_in(const char *dir, const char *name, size_t *len)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return test_read_file(path, len);
}

static void remove_in(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	assert_int_equal(unlink(path), 0);
}

static void assert_contains(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("missing: %s\n--- in:\n%.3000s", needle, text);
}

static void test_pictures_written(void **state)
{
	struct fixture *fx = *state;
	struct cnn_error err = { 0 };
	char msg[160], *md, *text, *csv;
	size_t len;

	assert_int_equal(report_write_all(fx->dir, &fx->r, &err), 0);
	for (int i = 0; i < 3; i++) {
		text = read_in(fx->dir, pictures[i], NULL);
		assert_non_null(text);
		if (xml_check(text, msg, sizeof msg))
			fail_msg("%s: %s", pictures[i], msg);
		assert_contains(text, "tiny &lt;run&gt;");
		free(text);
	}
	text = read_in(fx->dir, "mistakes.png", &len);
	assert_non_null(text);
	assert_true(len > 8 && !memcmp(text, "\x89PNG\r\n\x1a\n", 8));
	free(text);

	md = read_in(fx->dir, "report.md", NULL);
	assert_non_null(md);
	assert_contains(md, "[config.yaml](config.yaml)");
	for (int i = 0; i < 4; i++)
		assert_contains(md, pictures[i]);
	assert_contains(md, "| **macro avg** |");
	assert_contains(md, "| **weighted avg** |");
	assert_contains(md, "| 12 | 2 | 0 | 0.7500 |");   /* most confident mistake first */
	free(md);

	csv = read_in(fx->dir, "batches.csv", NULL);
	assert_non_null(csv);
	assert_contains(csv, "epoch,batch,loss\n1,1,2\n1,2,1.96875\n");
	assert_contains(csv, "\n3,10,0.25\n");
	free(csv);
}

/* A run without batches, mistakes or a confusion matrix gets the
 * pictures it can have and a report that does not link the others. */
static void test_without_optional_data(void **state)
{
	struct fixture *fx = *state;
	struct cnn_error err = { 0 };
	char *md;

	fx->r.batch_loss = NULL;
	fx->r.mistakes = NULL;
	fx->r.test_confusion = NULL;
	assert_int_equal(report_write_all(fx->dir, &fx->r, &err), 0);
	md = read_in(fx->dir, "report.md", NULL);
	assert_non_null(md);
	assert_contains(md, "loss.svg");
	assert_null(strstr(md, "mistakes.png"));
	assert_null(strstr(md, "confusion.svg"));
	assert_null(read_in(fx->dir, "batches.csv", NULL));
	assert_null(read_in(fx->dir, "mistakes.png", NULL));
	free(md);
}

static void test_report_command_rebuilds(void **state)
{
	static const char *const views[] = { "report.md", "loss.svg", "accuracy.svg",
	                                     "confusion.svg", "mistakes.png" };
	struct fixture *fx = *state;
	struct cnn_error err = { 0 };
	char *before[5], *after, *out = NULL;
	size_t len[5], out_len = 0, n;
	FILE *f;

	assert_int_equal(report_write_all(fx->dir, &fx->r, &err), 0);
	for (int i = 0; i < 5; i++) {
		before[i] = read_in(fx->dir, views[i], &len[i]);
		assert_non_null(before[i]);
		remove_in(fx->dir, views[i]);
	}
	f = open_memstream(&out, &out_len);
	assert_int_equal(run_report(fx->dir, f, &err), CNN_OK);
	fclose(f);
	assert_contains(out, "report.md, loss.svg, accuracy.svg, confusion.svg, mistakes.png");
	free(out);
	for (int i = 0; i < 5; i++) {
		after = read_in(fx->dir, views[i], &n);
		assert_non_null(after);
		if (n != len[i] || memcmp(after, before[i], n))
			fail_msg("%s differs after `cnnrun report`:\n%.2000s\n--- was:\n%.2000s",
			         views[i], after, before[i]);
		free(after);
		free(before[i]);
	}
}

static void test_report_command_errors(void **state)
{
	struct fixture *fx = *state;
	struct cnn_error err = { 0 };
	char *path;

	assert_int_equal(run_report(fx->dir, stdout, &err), CNN_FAILED);
	assert_contains(err.loc.file ? err.loc.file : err.msg, "metrics.json");
	path = test_write_file(fx->dir, "metrics.json", "{\"test\": {\"accuracy\": 0.5,}}", 28);
	assert_int_equal(run_report(fx->dir, stdout, &err), CNN_FAILED);
	assert_string_equal(err.loc.file, path);
	assert_int_equal(err.loc.line, 1);
	free(path);
	/* good metrics, history missing */
	assert_int_equal(report_write_all(fx->dir, &fx->r, &err), 0);
	remove_in(fx->dir, "history.csv");
	assert_int_equal(run_report(fx->dir, stdout, &err), CNN_FAILED);
	assert_contains(err.loc.file ? err.loc.file : err.msg, "history.csv");
	/* a broken optional file is still an error, not silently skipped */
	assert_int_equal(report_write_all(fx->dir, &fx->r, &err), 0);
	free(test_write_file(fx->dir, "batches.csv", "epoch,batch,loss\n1,x,2\n", 23));
	assert_int_equal(run_report(fx->dir, stdout, &err), CNN_FAILED);
	assert_int_equal(err.loc.line, 2);
}

static void test_compare(void **state)
{
	struct fixture *fx = *state;
	struct cnn_error err = { 0 };
	char dir2[4096], svg[4096], msg[160], *out = NULL, *text;
	const char *dirs[2];
	size_t out_len = 0;
	FILE *f;

	snprintf(dir2, sizeof dir2, "%s/second", fx->dir);
	assert_int_equal(mkdir(dir2, 0700), 0);
	assert_int_equal(report_write_all(fx->dir, &fx->r, &err), 0);
	fx->history[1].val_accuracy = NAN;   /* a gap in one curve */
	fx->r.n_params = 99;
	assert_int_equal(report_write_all(dir2, &fx->r, &err), 0);
	dirs[0] = fx->dir;
	dirs[1] = dir2;
	snprintf(svg, sizeof svg, "%s/compare.svg", fx->dir);
	f = open_memstream(&out, &out_len);
	assert_int_equal(run_compare(dirs, 2, svg, f, &err), CNN_OK);
	fclose(f);
	/* both runs are named "tiny <run>": the folder tells them apart */
	assert_contains(out, "run");
	assert_contains(out, "macro F1");
	assert_contains(out, "(");
	assert_contains(out, "      1234       3        7.5    0.8333    0.8333");
	assert_contains(out, "        99       3");
	text = read_in(fx->dir, "compare.svg", NULL);
	assert_non_null(text);
	if (xml_check(text, msg, sizeof msg))
		fail_msg("compare.svg: %s", msg);
	assert_contains(text, "Validation accuracy of 2 runs");
	/* one line for the first run; the second, with its middle epoch
	 * missing, is two separate points, never a line across the gap */
	assert_int_equal(xml_count_elements(text, "polyline"), 1);
	free(text);
	free(out);
	remove_in(fx->dir, "compare.svg");
	test_rmdir(dir2);

	dirs[1] = "/nonexistent/run";
	assert_int_equal(run_compare(dirs, 2, svg, stdout, &err), CNN_FAILED);
	assert_contains(err.loc.file ? err.loc.file : "", "/nonexistent/run/metrics.json");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pictures_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_optional_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_command_rebuilds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_command_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compare, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
