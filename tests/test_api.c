/* The public API (include/cnnrun.h): loading a checkpoint and its errors,
 * the queries, and predictions that equal the runner's (eval's network and
 * `cnnrun predict`) bit for bit, at batch 1 and 1000, from raw pixels or
 * normalised input, and from 4 threads at once. */
#define _GNU_SOURCE /* sched_getaffinity */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
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

#include "cnnrun.h"

#include "build_helpers.h"
#include "net/net_checkpoint.h"
#include "runner/runner.h"
#include "runner/common.h"
#include "testutil.h"

#define N_IMAGES 1000
#define EVAL_BATCH 16

/* Three channels, so the layout (n, c, h, w) is tested; every layer kind
 * whose evaluation differs from training (batchnorm, dropout); each way of
 * computing a convolution (im2col + GEMM, direct, 1x1 as a plain GEMM);
 * class names and standard normalisation. */
static const char colour_yaml[] =
	"name: api-test\n"
	"seed: 3\n"
	"data:\n"
	"  format: idx\n"
	"  train: {images: none, labels: none}\n"
	"  test: {images: none, labels: none}\n"
	"  classes: [cat, dog, bird, fish]\n"
	"  normalize: standard\n"
	"  mean: 33.5\n"
	"  std: 78.25\n"
	"input: [3, 10, 10]\n"
	"layers:\n"
	"  - {type: conv, filters: 5, kernel_size: 3, algorithm: im2col}\n"
	"  - {type: batchnorm}\n"
	"  - {type: relu}\n"
	"  - {type: maxpool, pool_size: 2}\n"
	"  - {type: conv, filters: 6, kernel_size: 3, padding: same, algorithm: direct}\n"
	"  - {type: tanh}\n"
	"  - {type: conv, filters: 5, kernel_size: 1, algorithm: im2col}\n"
	"  - {type: avgpool, pool_size: 2}\n"
	"  - {type: flatten}\n"
	"  - {type: dropout, rate: 0.5}\n"
	"  - {type: dense, units: 4}\n"
	"optimizer: {type: sgd, lr: 0.1}\n"
	"train: {batch: 16, threads: 2}\n";

/* MNIST-shaped, for `cnnrun predict` (grayscale images) and default names. */
static const char mnist_yaml[] =
	"name: api-mnist\n"
	"data: {dataset: mnist, path: data/mnist}\n"
	"input: [1, 28, 28]\n"
	"layers:\n"
	"  - {type: conv, filters: 3, kernel_size: 5}\n"
	"  - {type: relu}\n"
	"  - {type: maxpool, pool_size: 2}\n"
	"  - {type: flatten}\n"
	"  - {type: dense, units: 10}\n"
	"optimizer: {type: adam, lr: 0.001}\n"
	"train: {batch: 8, threads: 1}\n";

static struct {
	char *dir;
	char colour[1024], mnist[1024];
	float *pixels;     /* (N_IMAGES, 3, 10, 10) integers in [0, 255] */
	float *normalised; /* (N_IMAGES, 3, 10, 10) the same, (v - mean) / std as the config says */
} world;

/* A checkpoint of net_yaml's network with random (not initial) weights, so
 * that batchnorm's running statistics are not the trivial 0 and 1, saved
 * with saved_yaml as its config. */
static void write_checkpoint_as(const char *net_yaml, const char *saved_yaml, const char *path,
                                uint64_t seed)
{
	struct cfg_doc doc;
	struct model_config cfg;
	struct net *net;
	struct cnn_error err;
	char msg[1024];
	if (bh_build(net_yaml, &doc, &cfg, msg, sizeof msg))
		fail_msg("%s", msg);
	if (net_create(cfg.layers, cfg.n_layers, cfg.input, 4, 1, seed, &net, &err))
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	cfg.layers = NULL;
	cfg.n_layers = 0;
	for (int i = 0; i < net->n_param_tensors; i++) {
		const struct net_param *p = &net->param_tensors[i];
		bool var = strstr(p->name, "running_var") != NULL;
		for (size_t j = 0; j < p->spec.n; j++)
			net->params[p->offset + j] = var ? test_uniform(&seed, 0.5f, 2.0f)
			                                 : test_uniform(&seed, -0.6f, 0.6f);
	}
	struct checkpoint state = { .config_text = (char *)saved_yaml, .best_val_accuracy = NAN };
	if (checkpoint_save(path, net, NULL, &state, &err))
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	net_free(net);
	model_config_free(&cfg);
	cfg_free(&doc);
}

static void write_checkpoint(const char *yaml, const char *path, uint64_t seed)
{
	write_checkpoint_as(yaml, yaml, path, seed);
}

static int setup(void **state)
{
	(void)state;
	world.dir = test_tmpdir();
	snprintf(world.colour, sizeof world.colour, "%s/colour.ckpt", world.dir);
	snprintf(world.mnist, sizeof world.mnist, "%s/mnist.ckpt", world.dir);
	write_checkpoint(colour_yaml, world.colour, 11);
	write_checkpoint(mnist_yaml, world.mnist, 12);
	world.pixels = malloc((size_t)N_IMAGES * 300 * sizeof *world.pixels);
	uint64_t s = 5;
	for (size_t i = 0; i < (size_t)N_IMAGES * 300; i++)
		world.pixels[i] = floorf(test_uniform(&s, 0, 256));
	/* as dataset_batch scales bytes: through double, v * (1 / std) - mean / std */
	world.normalised = malloc((size_t)N_IMAGES * 300 * sizeof *world.normalised);
	for (size_t i = 0; i < (size_t)N_IMAGES * 300; i++)
		world.normalised[i] = (float)(world.pixels[i] * (1.0 / 78.25) + -33.5 / 78.25);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	test_rmdir(world.dir);
	free(world.dir);
	free(world.pixels);
	free(world.normalised);
	return 0;
}

static cnn_model *load(const char *path)
{
	cnn_model *m;
	char msg[CNN_ERROR_MAX];
	cnn_status s = cnn_model_load_err(path, &m, msg, sizeof msg);
	if (s != CNN_SUCCESS)
		fail_msg("%s: %s", cnn_status_str(s), msg);
	return m;
}

static void queries(void **state)
{
	(void)state;
	cnn_model *m = load(world.colour);
	int c, h, w;
	cnn_model_input_shape(m, &c, &h, &w);
	assert_int_equal(c, 3);
	assert_int_equal(h, 10);
	assert_int_equal(w, 10);
	assert_int_equal(cnn_model_input_size(m), 300);
	assert_int_equal(cnn_model_classes(m), 4);
	assert_string_equal(cnn_model_class_name(m, 0), "cat");
	assert_string_equal(cnn_model_class_name(m, 3), "fish");
	assert_null(cnn_model_class_name(m, 4));
	assert_null(cnn_model_class_name(m, -1));
	assert_string_equal(cnn_model_name(m), "api-test");
	cnn_model_free(m);

	/* no names in the config: the class numbers */
	m = load(world.mnist);
	assert_int_equal(cnn_model_classes(m), 10);
	assert_string_equal(cnn_model_class_name(m, 0), "0");
	assert_string_equal(cnn_model_class_name(m, 9), "9");
	cnn_model_free(m);
	cnn_model_free(NULL);
	assert_string_equal(cnn_version(), CNN_VERSION);
}

/* Loading `path` fails with `status` and a message containing `part`. */
static void expect_load_error(const char *path, cnn_status status, const char *part)
{
	cnn_model *m = (cnn_model *)&m;   /* not NULL, so that the reset is seen */
	char msg[CNN_ERROR_MAX];
	cnn_status s = cnn_model_load_err(path, &m, msg, sizeof msg);
	if (s != status || !strstr(msg, part))
		fail_msg("%s: got %d '%s', want %d with '%s'", path, s, msg, status, part);
	assert_null(m);
	assert_int_equal(cnn_model_load(path, &m), status);
	assert_null(m);
}

static char *write_bytes(const char *name, const void *data, size_t len)
{
	return test_write_file(world.dir, name, data, len);
}

/* dir/name: yaml's network saved with a config where `from` (the first
 * occurrence) became `to`. */
static void write_edited(char *path, size_t len, const char *name, const char *yaml,
                         const char *from, const char *to)
{
	const char *at = strstr(yaml, from);
	assert_non_null(at);
	size_t size = strlen(yaml) - strlen(from) + strlen(to) + 1;
	char *edited = malloc(size);
	snprintf(edited, size, "%.*s%s%s", (int)(at - yaml), yaml, to, at + strlen(from));
	snprintf(path, len, "%s/%s", world.dir, name);
	write_checkpoint_as(yaml, edited, path, 1);
	free(edited);
}

static void load_errors(void **state)
{
	(void)state;
	char path[1100], msg[CNN_ERROR_MAX];
	snprintf(path, sizeof path, "%s/missing.ckpt", world.dir);
	expect_load_error(path, CNN_ERR_IO, "missing.ckpt: cannot open: No such file or directory");
	expect_load_error(world.dir, CNN_ERR_IO, "not a regular file");
	/* a FIFO is refused without being opened: opening one with no writer blocks */
	snprintf(path, sizeof path, "%s/fifo.ckpt", world.dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	expect_load_error(path, CNN_ERR_IO, "fifo.ckpt: not a regular file");
	unlink(path);

	size_t len;
	char *good = test_read_file(world.colour, &len);
	assert_non_null(good);
	char *half = write_bytes("half.ckpt", good, len / 2);
	expect_load_error(half, CNN_ERR_FORMAT, "half.ckpt: truncated: the header promises");
	static const char zip[] = "PK\3\4 not a checkpoint at all, but long enough";
	char *bad = write_bytes("magic.ckpt", zip, sizeof zip);
	expect_load_error(bad, CNN_ERR_FORMAT, "magic.ckpt: not a cnnrun checkpoint");
	good[len / 2] ^= 1;
	char *flipped = write_bytes("flipped.ckpt", good, len);
	expect_load_error(flipped, CNN_ERR_FORMAT, "corrupted: CRC mismatch");

	/* a good file whose config does not make a network: positioned */
	write_edited(path, sizeof path, "badconf.ckpt", mnist_yaml, "type: relu", "type: relo");
	expect_load_error(path, CNN_ERR_MODEL, "the config saved in this checkpoint is not usable: ");
	expect_load_error(path, CNN_ERR_MODEL, "badconf.ckpt:6:12: unknown layer type 'relo'");
	/* tensors that do not fit the config's network */
	write_edited(path, sizeof path, "mismatch.ckpt", colour_yaml, "filters: 5", "filters: 7");
	expect_load_error(path, CNN_ERR_MODEL, "7x3x3x3");

	/* arguments; a NULL or empty message buffer is allowed */
	cnn_model *m;
	assert_int_equal(cnn_model_load_err(NULL, &m, msg, sizeof msg), CNN_ERR_ARGUMENT);
	assert_null(m);
	assert_int_equal(cnn_model_load_err(world.colour, NULL, msg, sizeof msg), CNN_ERR_ARGUMENT);
	assert_int_equal(cnn_model_load_err(half, &m, NULL, 0), CNN_ERR_FORMAT);
	msg[0] = 'x';
	assert_int_equal(cnn_model_load_err(half, &m, msg, 1), CNN_ERR_FORMAT);
	assert_int_equal(msg[0], '\0');
	free(half);
	free(bad);
	free(flipped);
	free(good);
}

/* A model is not a training run: a checkpoint whose training sections
 * would now be refused (an unknown optimizer, a batch that would not fit in
 * limits.memory) still loads, in the API and in `cnnrun predict`. */
static void loads_without_the_training_sections(void **state)
{
	(void)state;
	char path[1100], msg[1024];
	write_edited(path, sizeof path, "training.ckpt", mnist_yaml,
	             "optimizer: {type: adam, lr: 0.001}\ntrain: {batch: 8, threads: 1}\n",
	             "optimizer: {type: nonesuch}\ntrain: {batch: 65536, threads: 1}\nlimits: {memory: 1KB}\n");
	struct checkpoint c;
	struct cnn_error err;
	assert_int_equal(checkpoint_load(path, &c, &err), 0);
	assert_non_null(bh_error(c.config_text, msg, sizeof msg));   /* the training builder refuses it */
	checkpoint_free(&c);

	cnn_model *m = load(path);
	float pixels[28 * 28] = { 0 }, probs[10];
	pixels[300] = 255;
	assert_int_equal(cnn_model_predict_raw(m, pixels, 1, probs), CNN_SUCCESS);
	cnn_model_free(m);

	snprintf(path + strlen(path) - strlen("training.ckpt"), 64, "dot.pgm");
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fprintf(f, "P5\n28 28\n255\n");
	for (int i = 0; i < 28 * 28; i++)
		fputc((int)pixels[i], f);
	fclose(f);
	char *text = NULL, ckpt[1100];
	size_t len = 0;
	snprintf(ckpt, sizeof ckpt, "%s/training.ckpt", world.dir);
	FILE *out = open_memstream(&text, &len);
	const char *images[] = { path };
	if (run_predict(ckpt, images, 1, false, out, stderr, &err) != CNN_OK)
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	fclose(out);
	assert_non_null(strstr(text, "dot.pgm: "));
	free(text);
}

static void statuses(void **state)
{
	(void)state;
	const char *seen[6];
	for (int s = CNN_SUCCESS; s <= CNN_ERR_MEMORY; s++) {
		seen[s] = cnn_status_str((cnn_status)s);
		assert_true(strlen(seen[s]) > 0);
		for (int t = 0; t < s; t++)
			assert_string_not_equal(seen[s], seen[t]);
	}
	assert_string_equal(cnn_status_str((cnn_status)99), "unknown status");
}

static void bad_arguments(void **state)
{
	(void)state;
	cnn_model *m = load(world.colour);
	float probs[4] = { -1, -1, -1, -1 };
	assert_int_equal(cnn_model_predict(m, world.pixels, -1, probs), CNN_ERR_ARGUMENT);
	assert_int_equal(cnn_model_predict(m, NULL, 1, probs), CNN_ERR_ARGUMENT);
	assert_int_equal(cnn_model_predict_raw(m, world.pixels, 1, NULL), CNN_ERR_ARGUMENT);
	assert_int_equal(cnn_model_predict(NULL, world.pixels, 1, probs), CNN_ERR_ARGUMENT);
	assert_int_equal(cnn_model_predict(m, NULL, 0, NULL), CNN_SUCCESS);
	assert_true(probs[0] == -1);
	cnn_model_free(m);
}

/* The pixels scaled as the runner scales a dataset's bytes. */
static float *normalised(const struct saved_model *sm)
{
	uint8_t *bytes = malloc((size_t)N_IMAGES * 300);
	uint8_t *labels = calloc(N_IMAGES, 1);
	int *idx = malloc(N_IMAGES * sizeof *idx);
	float *x = malloc((size_t)N_IMAGES * 300 * sizeof *x);
	assert_true(bytes && labels && idx && x);
	for (size_t i = 0; i < (size_t)N_IMAGES * 300; i++)
		bytes[i] = (uint8_t)world.pixels[i];
	for (int i = 0; i < N_IMAGES; i++)
		idx[i] = i;
	struct dataset d = { .n = N_IMAGES, .shape = { 3, 10, 10 }, .n_classes = 4,
	                     .images = bytes, .labels = labels };
	struct cnn_error err;
	assert_int_equal(saved_model_normalize((struct saved_model *)sm, &d, &err), 0);
	dataset_batch(&d, idx, N_IMAGES, x, NULL);
	free(bytes);
	free(labels);
	free(idx);
	return x;
}

/* What eval's network gives: batches of EVAL_BATCH on 2 threads. */
static float *eval_probs(const struct saved_model *sm, const float *x)
{
	struct net *net = sm->net;
	float *probs = malloc((size_t)N_IMAGES * 4 * sizeof *probs);
	int labels[EVAL_BATCH] = { 0 }, pred[EVAL_BATCH];
	double loss;
	assert_int_equal(net->batch, EVAL_BATCH);
	for (int i = 0; i < N_IMAGES; i += EVAL_BATCH) {
		int n = N_IMAGES - i < EVAL_BATCH ? N_IMAGES - i : EVAL_BATCH;
		memcpy(net->x, x + (size_t)i * 300, (size_t)n * 300 * sizeof *x);
		net_eval(net, labels, n, &loss, pred, probs + (size_t)i * 4);
	}
	return probs;
}

static void assert_same_bits(const float *a, const float *b, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(&a[i], &b[i], sizeof *a))
			fail_msg("%s: element %zu differs: %.9g vs %.9g", what, i, (double)a[i], (double)b[i]);
}

static void predict_equals_eval(void **state)
{
	(void)state;
	struct saved_model sm;
	struct cnn_error err;
	char msg[1024];
	if (saved_model_open(world.colour, EVAL_BATCH, 2, &sm, &err))
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	float *x = normalised(&sm), *want = eval_probs(&sm, x);
	saved_model_close(&sm);

	cnn_model *m = load(world.colour);
	size_t k = 4;
	float *all = malloc(N_IMAGES * k * sizeof *all), *one = malloc(N_IMAGES * k * sizeof *one);
	float *raw = malloc(N_IMAGES * k * sizeof *raw);
	assert_int_equal(cnn_model_predict(m, x, N_IMAGES, all), CNN_SUCCESS);
	for (int i = 0; i < N_IMAGES; i++)
		assert_int_equal(cnn_model_predict(m, x + (size_t)i * 300, 1, one + (size_t)i * k), CNN_SUCCESS);
	assert_int_equal(cnn_model_predict_raw(m, world.pixels, N_IMAGES, raw), CNN_SUCCESS);
	assert_same_bits(all, want, N_IMAGES * k, "batch 1000 vs eval");
	assert_same_bits(one, want, N_IMAGES * k, "batch 1 vs eval");
	assert_same_bits(raw, want, N_IMAGES * k, "raw pixels vs eval");
	for (int i = 0; i < N_IMAGES; i++) {
		float sum = 0;
		for (size_t j = 0; j < k; j++)
			sum += all[(size_t)i * k + j];
		assert_true(fabsf(sum - 1) < 1e-5f);
	}
	cnn_model_free(m);
	free(all);
	free(one);
	free(raw);
	free(want);
	free(x);
}

/* `cnnrun predict --json` on a PGM image against predict_raw on its pixels. */
static void predict_equals_cnnrun_predict(void **state)
{
	(void)state;
	char header[32], path[1100];
	unsigned char image[15 + 28 * 28];
	float pixels[28 * 28];
	int n = snprintf(header, sizeof header, "P5\n28 28\n255\n");
	memcpy(image, header, (size_t)n);
	uint64_t s = 9;
	for (int i = 0; i < 28 * 28; i++) {
		image[n + i] = (unsigned char)(test_uniform(&s, 0, 1) < 0.2f ? 255 * test_uniform(&s, 0, 1) : 0);
		pixels[i] = image[n + i];
	}
	snprintf(path, sizeof path, "%s/digit.pgm", world.dir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(image, 1, (size_t)n + 28 * 28, f), (size_t)n + 28 * 28);
	fclose(f);

	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	const char *images[] = { path };
	struct cnn_error err;
	char msg[1024];
	if (run_predict(world.mnist, images, 1, true, out, stderr, &err) != CNN_OK)
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	fclose(out);
	const char *p = strstr(text, "\"probabilities\":");
	assert_non_null(p);
	p = strchr(p, '[') + 1;

	cnn_model *m = load(world.mnist);
	float probs[10];
	assert_int_equal(cnn_model_predict_raw(m, pixels, 1, probs), CNN_SUCCESS);
	for (int c = 0; c < 10; c++) {
		char *end;
		float printed = (float)strtod(p, &end);
		assert_true(end != p);
		assert_same_bits(&probs[c], &printed, 1, "predict_raw vs cnnrun predict");
		p = end + 1;
	}
	cnn_model_free(m);
	free(text);
}

struct worker {
	cnn_model *m;
	const float *x;
	int first, count, raw;
	float *probs;
	cnn_status status;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	/* several calls of different sizes, so the threads overlap */
	w->status = CNN_SUCCESS;
	for (int i = 0; i < w->count && w->status == CNN_SUCCESS;) {
		int n = 1 + (i % 97);
		if (n > w->count - i)
			n = w->count - i;
		const float *x = w->x + (size_t)(w->first + i) * 300;
		float *p = w->probs + (size_t)(w->first + i) * 4;
		w->status = w->raw ? cnn_model_predict_raw(w->m, x, n, p) : cnn_model_predict(w->m, x, n, p);
		i += n;
	}
	return NULL;
}

static void concurrent_equals_serial(void **state)
{
	(void)state;
	cnn_model *m = load(world.colour);
	size_t k = 4;
	float *serial = malloc(N_IMAGES * k * sizeof *serial);
	float *threaded = malloc(N_IMAGES * k * sizeof *threaded);
	assert_int_equal(cnn_model_predict_raw(m, world.pixels, N_IMAGES, serial), CNN_SUCCESS);
	for (int round = 0; round < 3; round++) {
		/* each of 4 threads runs every image; round 2 splits them */
		float *mine[4];
		pthread_t t[4];
		struct worker w[4];
		for (int i = 0; i < 4; i++) {
			mine[i] = round < 2 ? malloc(N_IMAGES * k * sizeof *mine[i]) : threaded;
			int first = round < 2 ? 0 : i * N_IMAGES / 4;
			int count = round < 2 ? N_IMAGES : (i + 1) * N_IMAGES / 4 - first;
			int raw = (i + round) % 2;
			w[i] = (struct worker){ m, raw ? world.pixels : world.normalised, first, count, raw,
			                        mine[i], CNN_ERR_MEMORY };
			assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
		}
		for (int i = 0; i < 4; i++) {
			assert_int_equal(pthread_join(t[i], NULL), 0);
			assert_int_equal(w[i].status, CNN_SUCCESS);
		}
		for (int i = 0; i < 4 && round < 2; i++) {
			assert_same_bits(mine[i], serial, N_IMAGES * k, "a thread vs serial");
			free(mine[i]);
		}
	}
	assert_same_bits(threaded, serial, N_IMAGES * k, "split over threads vs serial");
	cnn_model_free(m);
	free(serial);
	free(threaded);
}

/* Neither loading nor predicting sets OpenBLAS's thread count or the
 * calling thread's CPUs (net_create and the runner do both). */
static void no_process_state(void **state)
{
	(void)state;
	cpu_set_t before, after;
	openblas_set_num_threads(3);
	assert_int_equal(sched_getaffinity(0, sizeof before, &before), 0);
	cnn_model *m = load(world.colour);
	float probs[4 * 8];
	assert_int_equal(cnn_model_predict_raw(m, world.pixels, 8, probs), CNN_SUCCESS);
	cnn_model_free(m);
	assert_int_equal(openblas_get_num_threads(), 3);
	assert_int_equal(sched_getaffinity(0, sizeof after, &after), 0);
	assert_true(CPU_EQUAL(&before, &after));
	openblas_set_num_threads(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(queries),
		cmocka_unit_test(load_errors),
		cmocka_unit_test(loads_without_the_training_sections),
		cmocka_unit_test(statuses),
		cmocka_unit_test(bad_arguments),
		cmocka_unit_test(predict_equals_eval),
		cmocka_unit_test(predict_equals_cnnrun_predict),
		cmocka_unit_test(concurrent_equals_serial),
		cmocka_unit_test(no_process_state),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
