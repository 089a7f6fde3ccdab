/* report_write_all and report_print on a fake run, read back independently:
 * metrics.json through the strict reader in support/json_check.c, the CSV
 * and markdown as text. The test matrix is test_metrics.c's hand-computed
 * example, so the expected numbers are explained there. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "report/report.h"
#include "json_check.h"
#include "report/json.h"
#include "testutil.h"

#define EPS 1e-12

static const int64_t example[4][4] = {
	{ 5, 1, 0, 0 },
	{ 2, 3, 0, 1 },
	{ 1, 2, 0, 1 },
	{ 0, 0, 0, 0 },
};

struct fixture {
	char *dir;
	struct confusion conf;
	struct epoch_record history[3];
	struct run_result r;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);

	if (!fx || confusion_init(&fx->conf, 4))
		return -1;
	memcpy(fx->conf.m, example, sizeof example);
	fx->dir = test_tmpdir();
	if (!fx->dir)
		return -1;
	for (int i = 0; i < 3; i++) {
		fx->history[i] = (struct epoch_record){
			.epoch = i + 1,
			.loss = 1.0 / (i + 1),
			.accuracy = 0.25 * (i + 1),
			.val_loss = 0.5 / (i + 1),
			.val_accuracy = 0.2 * (i + 1),
			.seconds = 2.5,
			.images_per_second = 400,
		};
	}
	/* an epoch without validation */
	fx->history[1].val_loss = NAN;
	fx->history[1].val_accuracy = NAN;
	fx->r = (struct run_result){
		.name = "tiny",
		.config_path = "configs/tiny.yaml",
		.n_train = 1000, .n_val = 100, .n_test = 16,
		.n_params = 12345,
		.flops_per_image = 2.5e6,
		.threads = 4, .batch = 32,
		.history = fx->history, .n_epochs = 3,
		.train_seconds = 7.5, .train_images_per_second = 400,
		.test_loss = 0.6931, .test_accuracy = 0.5,
		.eval_images_per_second = 1600,
		.test_confusion = &fx->conf,
	};
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	test_rmdir(fx->dir);
	free(fx->dir);
	confusion_free(&fx->conf);
	free(fx);
	return 0;
}

static char *read_in(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return test_read_file(path, NULL);
}

/* No temporary file ("*.tmp", or the atomic writer's) is left in dir. */
static void assert_no_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if ((n >= 4 && !strcmp(e->d_name + n - 4, ".tmp")) || strstr(e->d_name, ".cnnrun-tmp."))
			fail_msg("left behind: %s/%s", dir, e->d_name);
	}
	closedir(d);
}

static void assert_json_number(const char *json, const char *path, double want)
{
	double got;

	if (!json_number_at(json, path, &got))
		fail_msg("no number at %s", path);
	assert_float_equal(got, want, EPS);
}

static void assert_contains(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("missing:\n%s\n--- in:\n%s", needle, text);
}

static void test_metrics_json(void **state)
{
	struct fixture *fx = *state;
	struct cnn_error err = { 0 };
	char msg[128];
	char *json;

	assert_int_equal(report_write_all(fx->dir, &fx->r, &err), 0);
	json = read_in(fx->dir, "metrics.json");
	assert_non_null(json);
	if (json_check(json, msg, sizeof msg))
		fail_msg("metrics.json: %s\n%s", msg, json);

	assert_true(json_string_at_eq(json, "name", "tiny"));
	assert_true(json_string_at_eq(json, "config_path", "configs/tiny.yaml"));
	assert_json_number(json, "data.train", 1000);
	assert_json_number(json, "data.validation", 100);
	assert_json_number(json, "data.test", 16);
	assert_json_number(json, "model.parameters", 12345);
	assert_json_number(json, "model.flops_per_image", 2.5e6);
	assert_json_number(json, "train.seconds", 7.5);
	assert_json_number(json, "train.images_per_second", 400);
	assert_json_number(json, "train.threads", 4);
	assert_json_number(json, "train.batch", 32);
	assert_json_number(json, "eval.images_per_second", 1600);

	assert_json_number(json, "test.accuracy", 0.5);
	assert_json_number(json, "test.loss", 0.6931);
	assert_json_number(json, "test.correct", 8);
	assert_json_number(json, "test.samples", 16);
	assert_int_equal(json_count_at(json, "test.per_class"), 4);
	assert_true(json_string_at_eq(json, "test.per_class.0.class", "0"));
	assert_json_number(json, "test.per_class.0.accuracy", 0.75);
	assert_json_number(json, "test.per_class.0.precision", 0.625);
	assert_json_number(json, "test.per_class.0.recall", 5.0 / 6);
	assert_json_number(json, "test.per_class.0.f1", 5.0 / 7);
	assert_json_number(json, "test.per_class.0.support", 6);
	assert_true(json_string_at_eq(json, "test.per_class.3.class", "3"));
	assert_json_number(json, "test.per_class.3.accuracy", 0.875);
	assert_json_number(json, "test.per_class.3.support", 0);
	assert_json_number(json, "test.macro_avg.precision", 0.28125);
	assert_json_number(json, "test.macro_avg.recall", 1.0 / 3);
	assert_json_number(json, "test.macro_avg.f1", 17.0 / 56);
	assert_json_number(json, "test.macro_avg.accuracy", 0.75);
	assert_json_number(json, "test.weighted_avg.precision", 0.421875);
	assert_json_number(json, "test.weighted_avg.f1", 51.0 / 112);
	assert_json_number(json, "test.weighted_avg.support", 16);
	assert_int_equal(json_count_at(json, "test.confusion"), 4);
	for (int t = 0; t < 4; t++) {
		char path[64];

		snprintf(path, sizeof path, "test.confusion.%d", t);
		assert_int_equal(json_count_at(json, path), 4);
		for (int p = 0; p < 4; p++) {
			snprintf(path, sizeof path, "test.confusion.%d.%d", t, p);
			assert_json_number(json, path, (double)example[t][p]);
		}
	}

	assert_int_equal(json_count_at(json, "history"), 3);
	assert_json_number(json, "history.0.epoch", 1);
	assert_json_number(json, "history.0.val_loss", 0.5);
	assert_json_number(json, "history.2.loss", 1.0 / 3);
	assert_json_number(json, "history.2.images_per_second", 400);
	/* JSON has no NaN: an epoch without validation has nulls */
	assert_true(json_is_null_at(json, "history.1.val_loss"));
	assert_true(json_is_null_at(json, "history.1.val_accuracy"));
	assert_json_number(json, "history.1.seconds", 2.5);
	/* no config given: no key */
	assert_null(json_at(json, "config"));
	assert_no_tmp(fx->dir);
	free(json);
}

static void test_history_csv(void **state)
{
	struct fixture *fx = *state;
	struct cnn_error err = { 0 };
	char *csv;

	assert_int_equal(report_write_all(fx->dir, &fx->r, &err), 0);
	csv = read_in(fx->dir, "history.csv");
	assert_non_null(csv);
	assert_string_equal(csv,
		"epoch,loss,accuracy,val_loss,val_accuracy,seconds,images_per_second\n"
		"1,1,0.25,0.5,0.2,2.5,400\n"
		"2,0.5,0.5,,,2.5,400\n"
		/* shortest exact forms: 0.2 * 3 is not the double nearest 0.6 */
		"3,0.3333333333333333,0.75,0.16666666666666666,0.6000000000000001,2.5,400\n");
	free(csv);
}

static void test_report_md(void **state)
{
	struct fixture *fx = *state;
	struct cnn_error err = { 0 };
	char *md;

	assert_int_equal(report_write_all(fx->dir, &fx->r, &err), 0);
	md = read_in(fx->dir, "report.md");
	assert_non_null(md);
	assert_contains(md, "# cnnrun report: tiny\n");
	assert_contains(md, "| training images | 1000 |");
	assert_contains(md, "| test images | 16 |");
	assert_contains(md, "**Test accuracy: 0.5000** (8/16), loss 0.6931");
	/* the reference-style table, OvA accuracy named as such */
	assert_contains(md, "| class | accuracy (one-vs-all) | precision | recall | F1 | support |\n"
	                    "|---|---:|---:|---:|---:|---:|\n"
	                    "| 0 | 0.7500 | 0.6250 | 0.8333 | 0.7143 | 6 |\n");
	assert_contains(md, "| 3 | 0.8750 | 0.0000 | 0.0000 | 0.0000 | 0 |\n");
	assert_contains(md, "| **macro avg** | 0.7500 | 0.2812 | 0.3333 | 0.3036 | 16 |\n");
	assert_contains(md, "| **weighted avg** | 0.7031 | 0.4219 | 0.5000 | 0.4554 | 16 |\n");
	/* scikit-learn's layout */
	assert_contains(md, "```text\n"
	                    "              precision    recall  f1-score   support\n"
	                    "\n"
	                    "           0     0.6250    0.8333    0.7143         6\n"
	                    "           1     0.5000    0.5000    0.5000         6\n"
	                    "           2     0.0000    0.0000    0.0000         4\n"
	                    "           3     0.0000    0.0000    0.0000         0\n"
	                    "\n"
	                    "    accuracy                         0.5000        16\n"
	                    "   macro avg     0.2812    0.3333    0.3036        16\n"
	                    "weighted avg     0.4219    0.5000    0.4554        16\n"
	                    "```\n");
	/* confusion matrix with labelled axes */
	assert_contains(md, "| true \\ predicted | 0 | 1 | 2 | 3 |\n"
	                    "|---|---:|---:|---:|---:|\n"
	                    "| **0** | 5 | 1 | 0 | 0 |\n"
	                    "| **1** | 2 | 3 | 0 | 1 |\n");
	assert_contains(md, "| epoch | loss | accuracy | val loss | val accuracy | seconds | images/s |");
	assert_contains(md, "| 2 | 0.5000 | 0.5000 | - | - | 2.5 | 400 |\n");
	free(md);
}

/* Long runs: report.md shows the first and last epochs, history.csv all. */
static void test_long_history(void **state)
{
	struct fixture *fx = *state;
	struct epoch_record h[25];
	struct cnn_error err = { 0 };
	char *md, *csv;

	for (int i = 0; i < 25; i++)
		h[i] = (struct epoch_record){ i + 1, 0.5, 0.5, 0.5, 0.5, 1, 100 };
	fx->r.history = h;
	fx->r.n_epochs = 25;
	assert_int_equal(report_write_all(fx->dir, &fx->r, &err), 0);
	md = read_in(fx->dir, "report.md");
	csv = read_in(fx->dir, "history.csv");
	assert_non_null(md);
	assert_non_null(csv);
	assert_contains(md, "| 10 | 0.5000 |");
	assert_contains(md, "| ... | | | | | | |\n| 16 | 0.5000 |");
	assert_contains(md, "| 25 | 0.5000 |");
	assert_null(strstr(md, "| 11 | 0.5000 |"));
	assert_null(strstr(md, "| 15 | 0.5000 |"));
	assert_contains(md, "First and last 10 of 25 epochs");
	assert_contains(csv, "\n13,0.5,");
	free(md);
	free(csv);
}

static void test_class_names_escaped(void **state)
{
	struct fixture *fx = *state;
	static const char *const names[] = { "cat", "dog \"big\"", "a|b", "tab\there" };
	struct cnn_error err = { 0 };
	char msg[128];
	char *json, *md;

	fx->r.class_names = names;
	fx->r.name = "quote\" and \\ and \x01";
	assert_int_equal(report_write_all(fx->dir, &fx->r, &err), 0);
	json = read_in(fx->dir, "metrics.json");
	md = read_in(fx->dir, "report.md");
	assert_non_null(json);
	assert_non_null(md);
	if (json_check(json, msg, sizeof msg))
		fail_msg("metrics.json: %s\n%s", msg, json);
	assert_true(json_string_at_eq(json, "name", "quote\" and \\ and \x01"));
	assert_true(json_string_at_eq(json, "test.per_class.1.class", "dog \"big\""));
	assert_true(json_string_at_eq(json, "test.per_class.3.class", "tab\there"));
	/* a '|' in a name must not split a markdown cell */
	assert_contains(md, "| a\\|b | 0.7500 |");
	assert_contains(md, "| **a\\|b** | 1 | 2 | 0 | 1 |");
	free(json);
	free(md);
}

static void test_with_config(void **state)
{
	static const char yaml[] =
		"name: tiny\n"
		"train: {epochs: 3, lr: 0.01}\n"
		"layers:\n"
		"  - {type: conv, filters: 4}\n"
		"  - type: dense\n"
		"    units: \"10\"\n";
	struct fixture *fx = *state;
	struct cnn_error err = { 0 };
	struct cfg_doc doc = { 0 };
	char msg[128];
	char *json;
	double v;

	assert_int_equal(cfg_load_string(yaml, sizeof yaml - 1, "tiny.yaml", &doc, &err), 0);
	fx->r.config = doc.root;
	assert_int_equal(report_write_all(fx->dir, &fx->r, &err), 0);
	json = read_in(fx->dir, "metrics.json");
	assert_non_null(json);
	if (json_check(json, msg, sizeof msg))
		fail_msg("metrics.json: %s\n%s", msg, json);
	assert_true(json_string_at_eq(json, "config.name", "tiny"));
	assert_true(json_number_at(json, "config.train.lr", &v));
	assert_float_equal(v, 0.01, EPS);
	assert_true(json_string_at_eq(json, "config.layers.0.type", "conv"));
	assert_true(json_number_at(json, "config.layers.0.filters", &v));
	assert_float_equal(v, 4, 0);
	assert_true(json_string_at_eq(json, "config.layers.1.units", "10"));
	/* the document goes on after the embedded config */
	assert_json_number(json, "history.2.epoch", 3);
	free(json);
	cfg_free(&doc);
}

/* A run folder is untrusted: metrics.json with confusion counts of 1e300
 * (once a signed overflow under UBSan and "0.9540 (0/0)" in release), a
 * string accuracy and 3,000 classes are refused by name. */
static void expect_load_error(const char *dir, const char *metrics, const char *want)
{
	struct cnn_error err = { 0 };
	struct report_loaded *l;
	const struct run_result *r;
	free(test_write_file(dir, "metrics.json", metrics, strlen(metrics)));
	assert_int_equal(report_load(dir, &l, &r, &err), -1);
	assert_contains(err.msg, want);
}

static void test_load_refuses_bad_numbers(void **state)
{
	struct fixture *fx = *state;
	struct cnn_error err = { 0 };
	assert_int_equal(report_write_all(fx->dir, &fx->r, &err), 0);
	expect_load_error(fx->dir, "{\"test\": {\"accuracy\": 0.954, \"confusion\": [[1e300, 0], [0, 1e300]]}}",
	                  "test.confusion[0][0] is not a count");
	expect_load_error(fx->dir, "{\"test\": {\"accuracy\": \"high\"}}", "test.accuracy is not a number");
	expect_load_error(fx->dir, "{\"test\": {\"accuracy\": 1.5}}", "test.accuracy is 1.5, not a number in [0, 1]");
	expect_load_error(fx->dir, "{\"test\": {\"accuracy\": 0.5}, \"data\": {\"train\": 2.5}}",
	                  "data.train is 2.5, not an integer");
	/* 3,000 classes: refused before any matrix or picture is made. */
	size_t cap = 3000 * 3 + 64, len = 0;
	char *big = malloc(cap);
	assert_non_null(big);
	len += (size_t)snprintf(big, cap, "{\"test\": {\"accuracy\": 0.5, \"confusion\": [");
	for (int i = 0; i < 3000; i++)
		len += (size_t)snprintf(big + len, cap - len, "%s[]", i ? "," : "");
	snprintf(big + len, cap - len, "]}}");
	expect_load_error(fx->dir, big, "test.confusion has 3000 classes, more than 1000");
	free(big);
}

static void test_missing_dir(void **state)
{
	struct fixture *fx = *state;
	struct cnn_error err = { 0 };
	char dir[4096];

	snprintf(dir, sizeof dir, "%s/no/such/dir", fx->dir);
	char msg[1024];
	assert_int_equal(report_write_all(dir, &fx->r, &err), -1);
	cnn_error_str(&err, msg, sizeof msg);
	assert_contains(msg, dir);
	assert_contains(msg, "metrics.json");
	assert_contains(msg, "No such file or directory");
	assert_no_tmp(fx->dir);
}

/* rename() over a folder fails after the temporary file is complete: the
 * temporary must not be left behind. */
static void test_rename_fails(void **state)
{
	struct fixture *fx = *state;
	struct cnn_error err = { 0 };
	char blocker[4096];

	snprintf(blocker, sizeof blocker, "%s/history.csv", fx->dir);
	assert_int_equal(mkdir(blocker, 0700), 0);
	assert_int_equal(report_write_all(fx->dir, &fx->r, &err), -1);
	assert_contains(err.msg, "cannot rename");
	assert_contains(err.msg, blocker);
	assert_no_tmp(fx->dir);
	rmdir(blocker);
}

/* A write that fails part-way (here: the file-size limit) leaves the file
 * from the previous run untouched and no temporary. */
static void test_failed_write_keeps_old(void **state)
{
	struct fixture *fx = *state;
	struct cnn_error err = { 0 };
	struct rlimit old, small;
	char *before, *after;

	assert_int_equal(report_write_all(fx->dir, &fx->r, &err), 0);
	before = read_in(fx->dir, "metrics.json");
	assert_non_null(before);
	assert_true(strlen(before) > 200);

	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 100;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	fx->r.name = "second run";
	int rc = report_write_all(fx->dir, &fx->r, &err);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);

	char msg[1024];
	assert_int_equal(rc, -1);
	cnn_error_str(&err, msg, sizeof msg);
	assert_contains(msg, "metrics.json");
	assert_contains(msg, "File too large");
	after = read_in(fx->dir, "metrics.json");
	assert_non_null(after);
	assert_string_equal(after, before);
	assert_no_tmp(fx->dir);
	free(before);
	free(after);
}

static char *print_to_string(const struct run_result *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	report_print(f, r);
	fclose(f);
	return buf;
}

static void test_print(void **state)
{
	struct fixture *fx = *state;
	char *out = print_to_string(&fx->r);

	assert_string_equal(out,
		"test accuracy: 0.5000 (8/16), loss 0.6931\n"
		"\n"
		"       class   accuracy precision    recall        F1   support\n"
		"           0     0.7500    0.6250    0.8333    0.7143         6\n"
		"           1     0.6250    0.5000    0.5000    0.5000         6\n"
		"           2     0.7500    0.0000    0.0000    0.0000         4\n"
		"           3     0.8750    0.0000    0.0000    0.0000         0\n"
		"\n"
		"   macro avg     0.7500    0.2812    0.3333    0.3036        16\n"
		"weighted avg     0.7031    0.4219    0.5000    0.4554        16\n"
		"(per-class accuracy is one-vs-all: (TP + TN) / N)\n");
	free(out);

	/* no confusion matrix: the headline only */
	fx->r.test_confusion = NULL;
	out = print_to_string(&fx->r);
	assert_string_equal(out, "test accuracy: 0.5000, loss 0.6931\n");
	free(out);
}

/* ---- the JSON writer itself ---- */

static char *json_to_string(void (*fn)(struct json_writer *w), int indent)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json_writer w;

	assert_non_null(f);
	json_init(&w, f, indent);
	fn(&w);
	fclose(f);
	return buf;
}

static void small_doc(struct json_writer *w)
{
	json_begin_object(w);
	json_key(w, "a");
	json_int(w, -3);
	json_key(w, "empty");
	json_begin_array(w);
	json_end_array(w);
	json_key(w, "row");
	json_begin_inline_array(w);
	json_double(w, 0.1);
	json_double(w, NAN);
	json_double(w, -INFINITY);
	json_bool(w, true);
	json_end_array(w);
	json_key(w, "o");
	json_begin_object(w);
	json_key(w, "s");
	json_string(w, "\"\\\n\x1f/");
	json_key(w, "n");
	json_string(w, NULL);
	json_end_object(w);
	json_end_object(w);
}

static void test_json_writer(void **state)
{
	char *s;
	(void)state;

	s = json_to_string(small_doc, 2);
	assert_string_equal(s,
		"{\n"
		"  \"a\": -3,\n"
		"  \"empty\": [],\n"
		"  \"row\": [0.1, null, null, true],\n"
		"  \"o\": {\n"
		"    \"s\": \"\\\"\\\\\\n\\u001f/\",\n"
		"    \"n\": null\n"
		"  }\n"
		"}\n");
	assert_int_equal(json_check(s, NULL, 0), 0);
	free(s);

	s = json_to_string(small_doc, 0);
	assert_string_equal(s, "{\"a\": -3, \"empty\": [], \"row\": [0.1, null, null, true], "
	                       "\"o\": {\"s\": \"\\\"\\\\\\n\\u001f/\", \"n\": null}}\n");
	free(s);
}

static void test_json_numbers(void **state)
{
	static const double values[] = { 0.1, 1.0 / 3, 2.0 / 3, 1e300, -1e-300, 5e-324,
	                                 123456789012345678.0, 0.5, -0.0, 1e21 };
	char buf[40];
	(void)state;

	json_format_double(buf, sizeof buf, 0.1);
	assert_string_equal(buf, "0.1");
	json_format_double(buf, sizeof buf, 400);
	assert_string_equal(buf, "400");
	json_format_double(buf, sizeof buf, NAN);
	assert_string_equal(buf, "nan");
	/* every finite double reads back exactly, and is valid JSON */
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		json_format_double(buf, sizeof buf, values[i]);
		assert_true(strtod(buf, NULL) == values[i]);
		assert_int_equal(json_check(buf, NULL, 0), 0);
	}
}

/* The checker itself must refuse what is not JSON, or the tests above prove nothing. */
static void test_json_check_refuses(void **state)
{
	static const char *const bad[] = {
		"", "{", "{\"a\" 1}", "{\"a\": 1,}", "[1 2]", "[01]", "[1.]", "[.5]",
		"nan", "[NaN]", "[inf]", "\"a\nb\"", "\"\\x\"", "{a: 1}", "[] []", "tru",
		"[1e]", "\"\\u12g4\"",
	};
	char msg[128];
	(void)state;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (json_check(bad[i], msg, sizeof msg) == 0)
			fail_msg("accepted: %s", bad[i]);
	assert_int_equal(json_check(" {\"a\": [1, -0.5e+3, \"x\", null, false, {}]} \n", msg, sizeof msg), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_metrics_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_csv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_md, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_class_names_escaped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_with_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_refuses_bad_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_write_keeps_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_print, setup, teardown),
		cmocka_unit_test(test_json_writer),
		cmocka_unit_test(test_json_numbers),
		cmocka_unit_test(test_json_check_refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
