/* `cnnrun bench CONFIG|CKPT`: inference speed of a network, through the
 * same path as evaluation and prediction (net_predict_batch: the inference
 * plan, each thread its share of the images, `batch` at a time).
 *
 * A config gets random weights (its seed, He normal: the speed does not
 * depend on the values), a checkpoint its own. Printed one `key: value`
 * per line, so scripts (bench/run) can read it:
 *   images_per_second         throughput, n images per call on every thread
 *   latency_ms_median, _p90   one image alone (batch 1, one thread)
 *   activation_bytes          the plan's slots for `batch` images per thread,
 *                             all threads; workspace_bytes adds scratch. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/fileio.h"
#include "kernels/kernels.h"
#include "runner/common.h"
#include "util/rng.h"

/* Images per throughput call: this many batches per thread, so the
 * per-call workspace allocation is a small share of the time. */
#define BENCH_BATCHES_PER_CALL 8
/* Latency: at least this many single-image calls, however long they take. */
#define BENCH_MIN_REPEATS 20

/* A checkpoint begins with "CNNCKPT" (src/io/checkpoint.c's magic); any
 * other file is read as a config. */
static int is_checkpoint(const char *path, bool *yes, struct cnn_error *err)
{
	char head[7] = { 0 };
	FILE *f = input_fopen(path, err);
	if (!f)
		return -1;
	*yes = fread(head, 1, sizeof head, f) == sizeof head && !memcmp(head, "CNNCKPT", sizeof head);
	fclose(f);
	return 0;
}

/* The network to time: a config's layers with random weights (a training
 * network of batch 1: net_create draws them), or a checkpoint's; frozen,
 * as every network that only predicts is. */
static int bench_load(const char *path, bool ckpt, struct saved_model *m, struct cnn_error *err)
{
	if (ckpt)
		return saved_model_open(path, 1, 1, m, err);
	memset(m, 0, sizeof *m);
	if (cfg_load_file(path, &m->doc, err))
		return CNN_BAD_CONFIG;
	if (model_config_build(&m->doc, &m->cfg, err)) {
		cfg_free(&m->doc);
		return CNN_BAD_CONFIG;
	}
	struct layer **layers = m->cfg.layers;
	int n_layers = m->cfg.n_layers;
	m->cfg.layers = NULL;
	m->cfg.n_layers = 0;
	if (net_create(layers, n_layers, m->cfg.input, 1, 1, m->cfg.seed, &m->net, err) ||
	    net_freeze(m->net, err)) {
		net_free(m->net);
		model_config_free(&m->cfg);
		cfg_free(&m->doc);
		return CNN_FAILED;
	}
	return CNN_OK;
}

static void bench_free(struct saved_model *m, bool ckpt)
{
	if (ckpt) {
		saved_model_close(m);
		return;
	}
	net_free(m->net);
	model_config_free(&m->cfg);
	cfg_free(&m->doc);
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Images per second on `threads` threads, `batch` per thread at a time,
 * over calls of n images until `seconds` have passed (one call first, not
 * timed, to warm the caches and start the threads). */
static int time_throughput(const struct net *net, const float *x, int n, float *probs, int threads,
                           int batch, double seconds, double *rate, struct cnn_error *err)
{
	if (net_predict_batch(net, x, n, probs, threads, batch, err))
		return -1;
	long images = 0;
	double start = run_now(), now = start;
	do {
		if (net_predict_batch(net, x, n, probs, threads, batch, err))
			return -1;
		images += n;
		now = run_now();
	} while (now - start < seconds);
	*rate = (double)images / (now - start);
	return 0;
}

/* Median and 90th percentile of one image's time, in milliseconds. */
static int time_latency(const struct net *net, const float *x, float *probs, double seconds,
                        double *median, double *p90, struct cnn_error *err)
{
	size_t cap = 1024, n = 0;
	double *t = malloc(cap * sizeof *t);
	if (!t)
		return cnn_errorf_plain(err, "out of memory");
	double start = run_now();
	while (n < BENCH_MIN_REPEATS || run_now() - start < seconds) {
		if (n == cap) {
			double *more = realloc(t, 2 * cap * sizeof *t);
			if (!more) {
				free(t);
				return cnn_errorf_plain(err, "out of memory");
			}
			t = more;
			cap *= 2;
		}
		double t0 = run_now();
		if (net_predict_batch(net, x, 1, probs, 1, 1, err)) {
			free(t);
			return -1;
		}
		t[n++] = (run_now() - t0) * 1e3;
	}
	qsort(t, n, sizeof *t, compare_double);
	*median = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
	*p90 = t[(size_t)ceil(0.9 * (double)n) - 1];
	free(t);
	return 0;
}

int run_bench(const char *path, const struct bench_options *o, FILE *out, struct cnn_error *err)
{
	struct saved_model m;
	bool ckpt;
	if (is_checkpoint(path, &ckpt, err))
		return CNN_FAILED;
	int status = bench_load(path, ckpt, &m, err);
	if (status != CNN_OK)
		return status;
	const struct net *net = m.net;
	int threads = o->threads > 0 ? o->threads : omp_get_num_procs();
	int batch = o->batch > 0 ? o->batch : net->eval_batch;
	int n = threads * batch * BENCH_BATCHES_PER_CALL;
	size_t in = shape_size(net->input), at;
	size_t ws = net_eval_ws_floats(net->layers, net->n_layers, &net->act_plan, batch, &at), head_at;
	int head = net_predict_head_batch(net, batch, n / threads);
	if (head)   /* the head's workspace, which net_predict_batch adds */
		ws += net_eval_ws_floats(net->layers, net->n_layers, &net->act_plan, head, &head_at);
	float *x = malloc((size_t)n * in * sizeof *x);                       /* (n, c, h, w) */
	float *probs = malloc((size_t)n * (size_t)net->n_classes * sizeof *probs);
	double rate = 0, median = 0, p90 = 0;
	status = CNN_FAILED;
	if (!x || !probs) {
		cnn_errorf_plain(err, "out of memory for %d images", n);
		goto out;
	}
	struct rng rng;
	rng_seed(&rng, 1);
	for (size_t j = 0; j < (size_t)n * in; j++)
		x[j] = (float)rng_uniform(&rng);
	if (run_reserve_blas(threads, err) ||
	    time_throughput(net, x, n, probs, threads, batch, o->seconds, &rate, err) ||
	    time_latency(net, x, probs, o->seconds / 2, &median, &p90, err))
		goto out;
	fprintf(out, "model: %s\n", m.cfg.name);
	fprintf(out, "weights: %s\n", ckpt ? "checkpoint" : "random");
	fprintf(out, "kernels: %s\n", cnn_kernels_name());
	fprintf(out, "threads: %d\n", threads);
	fprintf(out, "batch: %d\n", batch);
	if (head)
		fprintf(out, "head: %s on, %d images at a time\n", net->layers[net->head_from]->name, head);
	else
		fprintf(out, "head: none\n");
	fprintf(out, "images_per_second: %.0f\n", rate);
	fprintf(out, "latency_ms_median: %.4f\n", median);
	fprintf(out, "latency_ms_p90: %.4f\n", p90);
	fprintf(out, "activation_floats_per_image: %zu\n", net->act_plan.per_sample);
	fprintf(out, "activation_bytes: %zu\n", at * sizeof(float) * (size_t)threads);
	fprintf(out, "workspace_bytes: %zu\n", ws * sizeof(float) * (size_t)threads);
	status = CNN_OK;
out:
	free(x);
	free(probs);
	bench_free(&m, ckpt);
	return status;
}
