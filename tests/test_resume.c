/* Checkpoints in the runner, on a small synthetic MNIST (IDX files written
 * by the test: ten "digits" that are a bright block at ten places):
 *   - training that stops (as Ctrl-C does, through run_options'
 *     stop_after_steps) and resumes gives the same bits as training
 *     straight through: at an epoch's end, mid-epoch, twice, and a finished
 *     1-epoch run extended to 2;
 *   - resuming under other layers, or past train.epochs, or from a damaged
 *     file is refused with the message users see;
 *   - best.ckpt follows validation accuracy, and is absent without it;
 *   - eval reproduces training's test metrics; predict classifies a PGM and
 *     a PNG exactly as the network does; init.from loads exported weights.
 * The network is a graph (a residual add inside a concat), so all of this
 * holds for graphs; sequential ones are the older case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "config/config.h"
#include "runner/runner.h"
#include "json_check.h"
#include "plot/png.h"
#include "runner/common.h"
#include "testutil.h"

enum { N_TRAIN = 210, N_TEST = 50, N_VAL = 40, SIDE = 28 };
/* (210 - 40) / 16: 11 batches an epoch, the last one of 10 */
enum { BATCHES = 11 };

struct world {
	char *data;        /* the synthetic dataset */
	char *straight;    /* a run of 2 epochs, straight through */
	uint8_t test_image[SIDE * SIDE];
	int test_label;
};

static struct world world;

/* ------------------------------------------------------------------ */
/* The dataset and the runs                                             */

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Class k: a 6x6 block at one of ten places, on faint noise. */
static void draw_digit(uint8_t *img, int k, uint64_t *rng)
{
	for (int p = 0; p < SIDE * SIDE; p++)
		img[p] = (uint8_t)test_uniform(rng, 0, 50);
	int top = 2 + 12 * (k / 5), left = 1 + 5 * (k % 5);
	for (int r = 0; r < 6; r++)
		for (int c = 0; c < 6; c++)
			img[(top + r) * SIDE + left + c] = 255;
}

static void write_split(const char *dir, const char *prefix, int n, uint64_t *rng)
{
	size_t ilen = 16 + (size_t)n * SIDE * SIDE, llen = 8 + (size_t)n;
	uint8_t *images = malloc(ilen), *labels = malloc(llen);
	char name[64];
	assert_non_null(images);
	assert_non_null(labels);
	put_be32(images, 0x803);
	put_be32(images + 4, (uint32_t)n);
	put_be32(images + 8, SIDE);
	put_be32(images + 12, SIDE);
	put_be32(labels, 0x801);
	put_be32(labels + 4, (uint32_t)n);
	for (int i = 0; i < n; i++) {
		int k = (int)test_uniform(rng, 0, 10);
		labels[8 + i] = (uint8_t)k;
		draw_digit(images + 16 + (size_t)i * SIDE * SIDE, k, rng);
	}
	if (!strcmp(prefix, "t10k")) {
		memcpy(world.test_image, images + 16, SIDE * SIDE);
		world.test_label = labels[8];
	}
	snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
	free(test_write_file(dir, name, images, ilen));
	snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
	free(test_write_file(dir, name, labels, llen));
	free(images);
	free(labels);
}

/* The config every run starts from; `extra` lines replace keys by --set. */
static void load_config(struct cfg_doc *doc, const char *const *sets)
{
	char yaml[2048], set[4200], msg[1024];
	struct cnn_error err;
	snprintf(yaml, sizeof yaml,
	         "name: resume\n"
	         "seed: 3\n"
	         "data: {dataset: mnist, path: %s, validation: %d}\n"
	         "input: [1, 28, 28]\n"
	         "layers:\n"
	         "  - {type: conv, filters: 4, kernel_size: 5, stride: 2}\n"
	         "  - {type: relu, name: a}\n"
	         "  - {type: conv, filters: 4, kernel_size: 3, padding: same}\n"
	         "  - {type: relu, name: b}\n"
	         "  - {type: conv, filters: 4, kernel_size: 1}\n"
	         "  - {type: add, inputs: [b, -1]}\n"
	         "  - {type: concat, inputs: [a, -1]}\n"
	         "  - {type: maxpool, pool_size: 2}\n"
	         "  - {type: flatten}\n"
	         "  - {type: dense, units: 10}\n"
	         "optimizer: {type: adam, lr: 0.01}\n"
	         "train: {epochs: 2, batch: 16, threads: 2}\n",
	         world.data, N_VAL);
	if (cfg_load_string(yaml, strlen(yaml), "resume.yaml", doc, &err))
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	for (int i = 0; sets && sets[i]; i++) {
		snprintf(set, sizeof set, "%s", sets[i]);
		if (cfg_set(doc, set, &err))
			fail_msg("--set %s: %s", set, cnn_error_str(&err, msg, sizeof msg));
	}
}

/* One call of run_train; the error text (if any) into msg. */
static int train(const char *out, const char *const *sets, const char *resume, long stop_after,
                 char *msg, size_t len)
{
	struct cfg_doc doc;
	struct cnn_error err = { 0 };
	struct run_options opt = { .out_dir = out, .quiet = true, .resume = resume,
	                           .stop_after_steps = stop_after };
	load_config(&doc, sets);
	int status = run_train(&doc, "resume.yaml", &opt, &err);
	if (msg)
		cnn_error_str(&err, msg, len);
	cfg_free(&doc);
	return status;
}

static void train_ok(const char *out, const char *const *sets, const char *resume, long stop_after,
                     int want)
{
	char msg[1024] = "";
	int status = train(out, sets, resume, stop_after, msg, sizeof msg);
	if (status != want)
		fail_msg("run_train gave %d, expected %d: %s", status, want, msg);
}

static char *path_in(const char *dir, const char *name)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char *p = malloc(len);
	assert_non_null(p);
	snprintf(p, len, "%s/%s", dir, name);
	return p;
}

static bool exists(const char *dir, const char *name)
{
	struct stat st;
	char *p = path_in(dir, name);
	bool yes = stat(p, &st) == 0;
	free(p);
	return yes;
}

static void load_ckpt(const char *dir, const char *name, struct checkpoint *c)
{
	struct cnn_error err;
	char msg[1024];
	char *p = path_in(dir, name);
	if (checkpoint_load(p, c, &err))
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	free(p);
}

static double metric(const char *dir, const char *key)
{
	double v = NAN;
	char *p = path_in(dir, "metrics.json");
	char *json = test_read_file(p, NULL);
	assert_non_null(json);
	assert_true(json_number_at(json, key, &v));
	free(json);
	free(p);
	return v;
}

/* Everything but timing must be the same bits: weights, optimizer state,
 * order, counters, history and batch losses, and the test metrics. */
static void assert_same_run(const char *a, const char *b)
{
	struct checkpoint x, y;
	load_ckpt(a, "last.ckpt", &x);
	load_ckpt(b, "last.ckpt", &y);
	assert_int_equal(x.n_tensors, y.n_tensors);
	for (int i = 0; i < x.n_tensors; i++) {
		assert_string_equal(x.tensors[i].name, y.tensors[i].name);
		assert_int_equal(x.tensors[i].n, y.tensors[i].n);
		if (memcmp(x.tensors[i].data, y.tensors[i].data, x.tensors[i].n * sizeof(float)))
			fail_msg("%s differs between %s and %s", x.tensors[i].name, a, b);
	}
	assert_int_equal(x.optim_t, y.optim_t);
	assert_int_equal(x.optim_n, y.optim_n);
	assert_memory_equal(x.optim_state, y.optim_state,
	                    (size_t)x.optim_n_states * x.optim_n * sizeof(float));
	assert_memory_equal(x.rng.s, y.rng.s, sizeof x.rng.s);
	assert_int_equal(x.n_order, y.n_order);
	assert_memory_equal(x.order, y.order, (size_t)x.n_order * sizeof *x.order);
	assert_int_equal(x.epoch, y.epoch);
	assert_int_equal(x.batch, y.batch);
	assert_int_equal(x.n_batch_loss, y.n_batch_loss);
	assert_memory_equal(x.batch_loss, y.batch_loss, (size_t)x.n_batch_loss * sizeof(float));
	assert_int_equal(x.n_history, y.n_history);
	for (int i = 0; i < x.n_history; i++) {
		assert_true(x.history[i].loss == y.history[i].loss);
		assert_true(x.history[i].accuracy == y.history[i].accuracy);
		assert_true(x.history[i].val_loss == y.history[i].val_loss);
		assert_true(x.history[i].val_accuracy == y.history[i].val_accuracy);
	}
	assert_true(x.best_val_accuracy == y.best_val_accuracy);
	assert_int_equal(x.best_epoch, y.best_epoch);
	checkpoint_free(&x);
	checkpoint_free(&y);
	assert_true(metric(a, "test.loss") == metric(b, "test.loss"));
	assert_true(metric(a, "test.accuracy") == metric(b, "test.accuracy"));
}

/* SIGTERM in the first validation, then in the final test evaluation:
 * each stops at once (status 130, no results written), and a resume
 * regenerates what was not written, the same bits as a straight run. */
static void sigterm_in_evaluation_and_resume(void **state)
{
	(void)state;
	for (int when = 1; when <= 2; when++) {
		char *dir = test_tmpdir(), *ckpt = path_in(dir, "last.ckpt"), msg[1024];
		struct cfg_doc doc;
		struct cnn_error err = { 0 };
		struct run_options opt = { .out_dir = dir, .quiet = true, .stop_in_eval = when };
		load_config(&doc, NULL);
		int status = run_train(&doc, "resume.yaml", &opt, &err);
		cfg_free(&doc);
		if (status != CNN_INTERRUPTED)
			fail_msg("stop in evaluation %d: status %d: %s", when, status, cnn_error_str(&err, msg, sizeof msg));
		assert_non_null(strstr(cnn_error_str(&err, msg, sizeof msg), "terminated"));
		assert_false(exists(dir, "metrics.json"));
		assert_true(exists(dir, "last.ckpt"));
		train_ok(dir, NULL, ckpt, 0, CNN_OK);
		assert_same_run(world.straight, dir);
		free(ckpt);
		test_rmdir(dir);
		free(dir);
	}
}

static int group_setup(void **state)
{
	(void)state;
	uint64_t rng = 2024;
	world.data = test_tmpdir();
	world.straight = test_tmpdir();
	if (!world.data || !world.straight)
		return -1;
	write_split(world.data, "train", N_TRAIN, &rng);
	write_split(world.data, "t10k", N_TEST, &rng);
	char msg[1024] = "";
	if (train(world.straight, NULL, NULL, 0, msg, sizeof msg) != CNN_OK) {
		fprintf(stderr, "the straight run failed: %s\n", msg);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	test_rmdir(world.data);
	test_rmdir(world.straight);
	free(world.data);
	free(world.straight);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Resume                                                               */

static void stop_at_epoch_end_and_resume(void **state)
{
	(void)state;
	char *dir = test_tmpdir(), msg[1024];
	struct checkpoint c;
	assert_int_equal(train(dir, NULL, NULL, BATCHES, msg, sizeof msg), CNN_INTERRUPTED);
	assert_non_null(strstr(msg, "interrupted: stopped at epoch 1, batch 11 of 11 and saved "));
	char *command = path_in(dir, "config.yaml --resume ");
	assert_non_null(strstr(msg, "; resume with: cnnrun train "));
	assert_non_null(strstr(msg, command));
	free(command);
	assert_false(exists(dir, "metrics.json"));
	load_ckpt(dir, "last.ckpt", &c);
	assert_int_equal(c.epoch, 1);
	assert_int_equal(c.batch, 0);
	assert_int_equal(c.n_history, 1);
	checkpoint_free(&c);
	char *ckpt = path_in(dir, "last.ckpt");
	train_ok(dir, NULL, ckpt, 0, CNN_OK);
	assert_same_run(world.straight, dir);
	free(ckpt);
	test_rmdir(dir);
	free(dir);
}

/* The command a stop prints resumes through RUN/config.yaml, which carries
 * the run's overrides: followed literally, with none of the original
 * --set options, it must continue the same run (it used to name the
 * user's config, and a resume from it retrained on other settings). */
static void printed_resume_command_keeps_the_overrides(void **state)
{
	(void)state;
	const char *const sets[] = { "optimizer.lr=0.02", "train.batch=12", NULL };
	char *straight = test_tmpdir(), *dir = test_tmpdir(), msg[1024];
	train_ok(straight, sets, NULL, 0, CNN_OK);
	assert_int_equal(train(dir, sets, NULL, 7, msg, sizeof msg), CNN_INTERRUPTED);
	char *config = path_in(dir, "config.yaml"), *ckpt = path_in(dir, "last.ckpt");
	struct cfg_doc doc;
	struct cnn_error err = { 0 };
	struct run_options opt = { .quiet = true, .resume = ckpt };
	if (cfg_load_file(config, &doc, &err))
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	if (run_train(&doc, config, &opt, &err) != CNN_OK)
		fail_msg("resuming with the printed command: %s", cnn_error_str(&err, msg, sizeof msg));
	cfg_free(&doc);
	assert_same_run(straight, dir);
	free(config);
	free(ckpt);
	test_rmdir(straight);
	test_rmdir(dir);
	free(straight);
	free(dir);
}

/* Stopped twice inside epochs (after 5 steps, then 10 more: epoch 2,
 * batch 4), saving every 3 batches on the way, which must not disturb
 * anything either. */
static void stop_mid_epoch_twice_and_resume(void **state)
{
	(void)state;
	const char *const sets[] = { "train.checkpoint_every=3", NULL };
	char *dir = test_tmpdir(), *ckpt = path_in(dir, "last.ckpt");
	struct checkpoint c;
	train_ok(dir, sets, NULL, 5, CNN_INTERRUPTED);
	load_ckpt(dir, "last.ckpt", &c);
	assert_int_equal(c.epoch, 0);
	assert_int_equal(c.batch, 5);
	assert_int_equal(c.seen, 5 * 16);
	assert_int_equal(c.n_batch_loss, 5);
	checkpoint_free(&c);
	train_ok(dir, sets, ckpt, 10, CNN_INTERRUPTED);
	load_ckpt(dir, "last.ckpt", &c);
	assert_int_equal(c.epoch, 1);
	assert_int_equal(c.batch, 4);
	checkpoint_free(&c);
	/* The default folder of a resume is the checkpoint's. */
	struct cfg_doc doc;
	struct cnn_error err;
	struct run_options opt = { .quiet = true, .resume = ckpt };
	load_config(&doc, sets);
	assert_int_equal(run_train(&doc, "resume.yaml", &opt, &err), CNN_OK);
	cfg_free(&doc);
	assert_same_run(world.straight, dir);
	free(ckpt);
	test_rmdir(dir);
	free(dir);
}

/* A finished 1-epoch run, resumed with train.epochs 2 (a constant learning
 * rate: a schedule over the whole run would change with the epochs). */
static void extend_a_finished_run(void **state)
{
	(void)state;
	const char *const one[] = { "train.epochs=1", NULL };
	char *dir = test_tmpdir(), *ckpt = path_in(dir, "last.ckpt");
	train_ok(dir, one, NULL, 0, CNN_OK);
	assert_true(metric(dir, "test.loss") != metric(world.straight, "test.loss"));
	train_ok(dir, NULL, ckpt, 0, CNN_OK);
	assert_same_run(world.straight, dir);
	free(ckpt);
	test_rmdir(dir);
	free(dir);
}

static void resume_refuses_other_layers(void **state)
{
	(void)state;
	const char *const wider[] = { "layers.0.filters=6", NULL };
	const char *const sgd[] = { "optimizer.type=sgd", NULL };
	const char *const batch[] = { "train.batch=8", NULL };
	char *dir = test_tmpdir(), *ckpt = path_in(world.straight, "last.ckpt"), msg[1024], want[1200];
	assert_int_equal(train(dir, wider, ckpt, 0, msg, sizeof msg), CNN_BAD_CONFIG);
	snprintf(want, sizeof want, "--set: 'layers.0.filters' is 6 here but 4 in checkpoint %s; resuming "
	         "needs the same input, layers, seed, data.validation and train.batch", ckpt);
	if (!strstr(msg, want))
		fail_msg("got: %s\nwant: %s", msg, want);
	assert_int_equal(train(dir, batch, ckpt, 0, msg, sizeof msg), CNN_BAD_CONFIG);
	assert_non_null(strstr(msg, "'train.batch' is 8 here but 16 in checkpoint"));
	assert_int_equal(train(dir, sgd, ckpt, 0, msg, sizeof msg), CNN_BAD_CONFIG);
	snprintf(want, sizeof want, "%s: checkpoint was trained with optimizer adam, the config uses sgd", ckpt);
	assert_string_equal(msg, want);
	free(ckpt);
	test_rmdir(dir);
	free(dir);
}

static void resume_refuses_past_the_epochs(void **state)
{
	(void)state;
	const char *const one[] = { "train.epochs=1", NULL };
	char *dir = test_tmpdir(), *ckpt = path_in(world.straight, "last.ckpt"), msg[1024], want[1200];
	assert_int_equal(train(dir, one, ckpt, 0, msg, sizeof msg), CNN_BAD_CONFIG);
	snprintf(want, sizeof want, "%s: the checkpoint has trained 2 epochs, more than train.epochs 1; "
	         "raise it (--epochs N) to train on, or evaluate it with `cnnrun eval %s`", ckpt, ckpt);
	assert_string_equal(msg, want);
	free(ckpt);
	test_rmdir(dir);
	free(dir);
}

static void resume_refuses_damaged_files(void **state)
{
	(void)state;
	char *dir = test_tmpdir(), msg[1024];
	size_t len;
	char *ckpt = path_in(world.straight, "last.ckpt");
	unsigned char *bytes = (unsigned char *)test_read_file(ckpt, &len);
	assert_non_null(bytes);
	bytes[len / 2] ^= 0x10;
	char *bad = test_write_file(dir, "flipped.ckpt", bytes, len);
	assert_int_equal(train(dir, NULL, bad, 0, msg, sizeof msg), CNN_FAILED);
	assert_non_null(strstr(msg, "flipped.ckpt: corrupted: CRC mismatch (stored "));
	char *cut = test_write_file(dir, "cut.ckpt", bytes, len - 100);
	assert_int_equal(train(dir, NULL, cut, 0, msg, sizeof msg), CNN_FAILED);
	assert_non_null(strstr(msg, "cut.ckpt: truncated: the header promises "));
	assert_int_equal(train(dir, NULL, "/nonexistent/last.ckpt", 0, msg, sizeof msg), CNN_FAILED);
	assert_non_null(strstr(msg, "/nonexistent/last.ckpt"));
	free(bad);
	free(cut);
	free(bytes);
	free(ckpt);
	test_rmdir(dir);
	free(dir);
}

/* ------------------------------------------------------------------ */
/* best.ckpt, eval, predict, init                                       */

static void best_checkpoint_follows_validation(void **state)
{
	(void)state;
	const char *const no_val[] = { "data.validation=0", "train.epochs=1", NULL };
	struct checkpoint best;
	load_ckpt(world.straight, "best.ckpt", &best);
	assert_true(best.best_epoch >= 1 && best.best_epoch <= 2);
	assert_int_equal(best.epoch, best.best_epoch);
	assert_true(best.best_val_accuracy == best.history[best.best_epoch - 1].val_accuracy);
	for (int i = 0; i < best.n_history; i++)
		assert_true(best.history[i].val_accuracy <= best.best_val_accuracy);
	checkpoint_free(&best);
	char *dir = test_tmpdir();
	train_ok(dir, no_val, NULL, 0, CNN_OK);
	assert_true(exists(dir, "last.ckpt"));
	assert_false(exists(dir, "best.ckpt"));
	test_rmdir(dir);
	free(dir);
}

/* With a rate so high that validation accuracy stops improving, training
 * stops `patience` epochs after the best one, and the test sees exactly
 * best.ckpt's weights (cnnrun eval on best.ckpt gives the same numbers). */
static void early_stopping_tests_the_best_weights(void **state)
{
	(void)state;
	const char *const sets[] = { "train.epochs=12", "optimizer.lr=0.2",
	                             "train.early_stopping={patience: 1}", NULL };
	char *dir = test_tmpdir();
	train_ok(dir, sets, NULL, 0, CNN_OK);
	struct checkpoint last, best;
	load_ckpt(dir, "last.ckpt", &last);
	load_ckpt(dir, "best.ckpt", &best);
	print_message("stopped after %d epochs, best %d\n", last.epoch, best.best_epoch);
	assert_true(last.epoch < 12);
	assert_int_equal(last.epoch, best.best_epoch + 1);
	assert_int_equal((int)metric(dir, "test.weights_epoch"), best.best_epoch);
	char *ckpt = path_in(dir, "best.ckpt"), *out = test_tmpdir();
	char msg[1024] = "";
	struct cnn_error err = { 0 };
	FILE *null = fopen("/dev/null", "w");
	assert_non_null(null);
	if (run_eval(ckpt, NULL, out, null, &err) != CNN_OK)
		fail_msg("eval: %s", cnn_error_str(&err, msg, sizeof msg));
	fclose(null);
	assert_true(metric(dir, "test.loss") == metric(out, "test.loss"));
	assert_true(metric(dir, "test.accuracy") == metric(out, "test.accuracy"));
	checkpoint_free(&last);
	checkpoint_free(&best);
	test_rmdir(out);
	test_rmdir(dir);
	free(out);
	free(ckpt);
	free(dir);
}

static void eval_reproduces_the_test_metrics(void **state)
{
	(void)state;
	char *out = test_tmpdir(), *ckpt = path_in(world.straight, "last.ckpt"), msg[1024];
	struct cnn_error err;
	FILE *null = fopen("/dev/null", "w");
	assert_non_null(null);
	if (run_eval(ckpt, NULL, out, null, &err) != CNN_OK)
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	assert_true(metric(out, "test.loss") == metric(world.straight, "test.loss"));
	assert_true(metric(out, "test.accuracy") == metric(world.straight, "test.accuracy"));
	assert_true(exists(out, "report.md"));
	/* A folder without the data */
	assert_int_equal(run_eval(ckpt, "/nonexistent", out, null, &err), CNN_FAILED);
	assert_string_equal(cnn_error_str(&err, msg, sizeof msg), "--data: '/nonexistent': no such file or folder");
	fclose(null);
	free(ckpt);
	test_rmdir(out);
	free(out);
}

/* What predict must print for the test image: the network's own output. */
static void expected_line(const char *ckpt, const char *path, char *line, size_t len)
{
	struct saved_model m;
	struct cnn_error err;
	char msg[1024];
	uint8_t label = 0;
	int index = 0, pred, zero = 0;
	double loss;
	float probs[10];
	if (saved_model_open(ckpt, 1, 1, &m, &err))
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	struct dataset one = { .n = 1, .shape = { 1, SIDE, SIDE }, .n_classes = 10,
	                       .images = world.test_image, .labels = &label };
	dataset_batch(&one, &index, 1, m.net->x, NULL);
	net_eval(m.net, &zero, 1, &loss, &pred, probs);
	saved_model_close(&m);
	int top[3];
	for (int i = 0; i < 3; i++) {
		top[i] = -1;
		for (int c = 0; c < 10; c++) {
			bool taken = (i > 0 && c == top[0]) || (i > 1 && c == top[1]);
			if (!taken && (top[i] < 0 || probs[c] > probs[top[i]]))
				top[i] = c;
		}
	}
	assert_int_equal(top[0], pred);
	snprintf(line, len, "%s: %d (%.4f), %d (%.4f), %d (%.4f)\n", path, top[0], (double)probs[top[0]],
	         top[1], (double)probs[top[1]], top[2], (double)probs[top[2]]);
}

static char *capture(const char *ckpt, const char *const *images, int n, bool json, int want,
                     char *diag, size_t diag_len)
{
	char *out = NULL, *dtext = NULL;
	size_t len = 0, dlen = 0;
	struct cnn_error err;
	FILE *f = open_memstream(&out, &len), *d = open_memstream(&dtext, &dlen);
	assert_non_null(f);
	assert_non_null(d);
	assert_int_equal(run_predict(ckpt, images, n, json, f, d, &err), want);
	fclose(f);
	fclose(d);
	snprintf(diag, diag_len, "%s", dtext);
	free(dtext);
	return out;
}

static void predict_reads_pgm_and_png(void **state)
{
	(void)state;
	char *dir = test_tmpdir(), *ckpt = path_in(world.straight, "last.ckpt");
	char header[32], want[1024], diag[1024];
	struct cnn_error err;
	uint8_t *png;
	size_t png_len;
	/* The same digit as PGM and as PNG */
	int hlen = snprintf(header, sizeof header, "P5\n%d %d\n255\n", SIDE, SIDE);
	uint8_t pgm[64 + SIDE * SIDE];
	memcpy(pgm, header, (size_t)hlen);
	memcpy(pgm + hlen, world.test_image, SIDE * SIDE);
	char *pgm_path = test_write_file(dir, "digit.pgm", pgm, (size_t)hlen + SIDE * SIDE);
	assert_int_equal(png_encode(world.test_image, SIDE, SIDE, 1, &png, &png_len, &err), 0);
	char *png_path = test_write_file(dir, "digit.png", png, png_len);
	free(png);
	uint8_t small[16 * 16] = { 0 };
	assert_int_equal(png_encode(small, 16, 16, 1, &png, &png_len, &err), 0);
	char *small_path = test_write_file(dir, "small.png", png, png_len);
	free(png);

	const char *both[] = { pgm_path, png_path };
	char *out = capture(ckpt, both, 2, false, CNN_OK, diag, sizeof diag);
	char expect[2048];
	expected_line(ckpt, pgm_path, want, sizeof want);
	snprintf(expect, sizeof expect, "%s", want);
	expected_line(ckpt, png_path, want, sizeof want);
	strncat(expect, want, sizeof expect - strlen(expect) - 1);
	assert_string_equal(out, expect);
	assert_string_equal(diag, "");
	free(out);

	const char *json[] = { png_path };
	out = capture(ckpt, json, 1, true, CNN_OK, diag, sizeof diag);
	assert_int_equal(json_check(out, diag, sizeof diag), 0);
	assert_true(json_string_at_eq(out, "image", png_path));
	double cls;
	assert_true(json_number_at(out, "class", &cls));
	assert_int_equal(json_count_at(out, "top"), 3);
	assert_int_equal(json_count_at(out, "probabilities"), 10);
	assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out)); /* one line */
	free(out);

	/* A wrong size is refused, and the other images still classified */
	const char *mixed[] = { small_path, pgm_path };
	out = capture(ckpt, mixed, 2, false, CNN_FAILED, diag, sizeof diag);
	snprintf(want, sizeof want, "%s: the image is 16x16 pixels, the network takes 28x28 (width x height); "
	         "resize it first (a photo or scan of a digit: add --preprocess mnist)\n", small_path);
	assert_string_equal(diag, want);
	assert_non_null(strstr(out, pgm_path));
	free(out);

	free(pgm_path);
	free(png_path);
	free(small_path);
	free(ckpt);
	test_rmdir(dir);
	free(dir);
}

/* init.from an export of the straight run, trained with a learning rate
 * too small to move a float: the weights come back as exported. */
static void init_from_exported_weights(void **state)
{
	(void)state;
	char *dir = test_tmpdir(), *ckpt = path_in(world.straight, "last.ckpt");
	char *npz = path_in(dir, "w.npz"), msg[1024];
	struct cnn_error err;
	FILE *null = fopen("/dev/null", "w");
	assert_non_null(null);
	if (run_export(ckpt, &(struct export_options){ .npz = npz }, null, &err) != CNN_OK)
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	fclose(null);
	/* --set cannot add a mapping: init is added to the tree by hand */
	struct cfg_doc doc;
	struct run_options opt = { .out_dir = dir, .quiet = true, .overwrite = true };
	const char *const tiny[] = { "optimizer.type=sgd", "optimizer.lr=1e-30", "train.epochs=1", NULL };
	load_config(&doc, tiny);
	struct cfg_node *init = cfg_node_new(CFG_MAP, doc.root->loc);
	struct cfg_node *from = cfg_node_new(CFG_SCALAR, doc.root->loc);
	assert_non_null(init);
	assert_non_null(from);
	from->text = strdup(npz);
	assert_int_equal(cfg_map_put(init, "from", doc.root->loc, from), 0);
	assert_int_equal(cfg_map_put(doc.root, "init", doc.root->loc, init), 0);
	if (run_train(&doc, "resume.yaml", &opt, &err) != CNN_OK)
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	struct checkpoint a, b;
	load_ckpt(world.straight, "last.ckpt", &a);
	load_ckpt(dir, "last.ckpt", &b);
	for (int i = 0; i < a.n_tensors; i++)
		for (size_t j = 0; j < a.tensors[i].n; j++)
			assert_true(fabsf(a.tensors[i].data[j] - b.tensors[i].data[j]) <=
			            1e-6f * fabsf(a.tensors[i].data[j]) + 1e-20f);
	checkpoint_free(&a);
	checkpoint_free(&b);

	/* Another network refuses the file, naming the difference */
	assert_int_equal(cfg_set(&doc, "layers.0.filters=6", &err), 0);
	assert_int_equal(run_train(&doc, "resume.yaml", &opt, &err), CNN_FAILED);
	assert_non_null(strstr(cnn_error_str(&err, msg, sizeof msg), "conv1.weight"));
	cfg_free(&doc);
	free(npz);
	free(ckpt);
	test_rmdir(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(printed_resume_command_keeps_the_overrides),
		cmocka_unit_test(stop_at_epoch_end_and_resume),
		cmocka_unit_test(sigterm_in_evaluation_and_resume),
		cmocka_unit_test(stop_mid_epoch_twice_and_resume),
		cmocka_unit_test(extend_a_finished_run),
		cmocka_unit_test(resume_refuses_other_layers),
		cmocka_unit_test(resume_refuses_past_the_epochs),
		cmocka_unit_test(resume_refuses_damaged_files),
		cmocka_unit_test(best_checkpoint_follows_validation),
		cmocka_unit_test(early_stopping_tests_the_best_weights),
		cmocka_unit_test(eval_reproduces_the_test_metrics),
		cmocka_unit_test(predict_reads_pgm_and_png),
		cmocka_unit_test(init_from_exported_weights),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
