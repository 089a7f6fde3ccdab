/* The generic runner: trains and evaluates whatever network a config
 * describes, prints progress and results, and writes the run folder. */
#ifndef CNN_RUNNER_H
#define CNN_RUNNER_H

#include <stdbool.h>
#include <stdio.h>

#include "builder/builder.h"
#include "config/config.h"
#include "data/data.h"
#include "util/error.h"
#include "util/status.h"
#include "net/net.h"


struct dist;

struct run_options {
	const char *out_dir;    /* NULL: runs/<name>, or the checkpoint's folder when resuming */
	bool quiet;             /* only the final results */
	bool verbose;           /* per-layer forward/backward times after each epoch */
	const char *resume;     /* a checkpoint to continue from; NULL: start afresh */
	bool overwrite;         /* replace a run that already lives in the folder (else refused) */
	/* For tests: behave as if interrupted (SIGINT) after this many
	 * training steps in this call; 0: never. */
	long stop_after_steps;
	/* For tests: send this process SIGTERM as the first validation (1) or
	 * the final test evaluation (2) starts; 0: never. */
	int stop_in_eval;
	/* Training across ranks (docs/distributed.md); NULL: one process.
	 * Rank 0 alone prints and writes; failures are agreed on (dist_agree). */
	struct dist *dist;
};

/* Builds the network from doc, trains it, evaluates it on the test set and
 * writes the run folder: last.ckpt after every epoch (and every
 * train.checkpoint_every batches), best.ckpt when validation accuracy
 * improves. SIGINT or SIGTERM finishes the current batch, saves last.ckpt
 * and returns CNN_INTERRUPTED with err saying how to resume.
 * With opt->resume, continues the checkpoint's run bit for bit; the
 * checkpoint must have the same input, layers, seed, data.validation and
 * train.batch as doc (else CNN_BAD_CONFIG, naming the first difference).
 * Returns CNN_OK, CNN_BAD_CONFIG (err is positioned in the config),
 * CNN_INTERRUPTED or CNN_FAILED. */
int run_train(struct cfg_doc *doc, const char *config_path, const struct run_options *opt,
              struct cnn_error *err);

/* `cnnrun eval CKPT`: rebuilds the checkpoint's network from the config it
 * holds, evaluates it on the test set of data_path (NULL: the config's
 * data.path), prints the final report on out and writes metrics.json,
 * report.md and the rest of a run's report files into out_dir (NULL:
 * the checkpoint's folder + "/eval"). */
int run_eval(const char *ckpt, const char *data_path, const char *out_dir, FILE *out,
             struct cnn_error *err);

/* How predict fits an image to the network (--preprocess). */
enum predict_preprocess {
	PREPROCESS_NONE,    /* channels converted, resized as data.resize says */
	PREPROCESS_MNIST    /* a photo of one digit made like MNIST's (io/image_mnist.h) */
};

struct predict_options {
	bool json;                          /* one JSON object per line */
	enum predict_preprocess preprocess;
	const char *list;                   /* a file of image paths, one a line ("-": stdin); or NULL */
	int threads;                        /* 0: every core (omp_get_num_procs) */
};

/* `cnnrun predict CKPT IMAGE|FOLDER... [--list FILE]`: classifies each
 * PNG, JPEG, PGM or PPM image (a folder: every such file under it, in
 * name order) and prints its top classes, one line per image in that
 * order ("digit.png: 7 (0.9981), ..."), or one JSON object per line.
 * Images are decoded and classified in batches on o->threads threads; the
 * output does not depend on their number. An image that cannot be read or
 * has the wrong size is reported on diag and skipped; the result is then
 * CNN_FAILED (err holds a count). --preprocess mnist on a model whose input
 * is not [1, 28, 28] is CNN_BAD_CONFIG. */
int run_predict_with(const char *ckpt, const char *const *images, int n,
                     const struct predict_options *o, FILE *out, FILE *diag, struct cnn_error *err);

/* run_predict_with without preprocessing or a list. */
int run_predict(const char *ckpt, const char *const *images, int n, bool json, FILE *out,
                FILE *diag, struct cnn_error *err);

/* `cnnrun export CKPT`: the checkpoint's parameters as NumPy arrays in
 * PyTorch's layouts (npz, see docs/formats.md), the model as ONNX (onnx),
 * and/or as standalone C99 source PREFIX.h and PREFIX.c in c_dir (float,
 * or int8 quantised); see docs/embedding.md. NULL: not that output. An
 * output that names the checkpoint itself is refused. */
struct export_options {
	const char *npz, *onnx, *c_dir;
	const char *prefix;     /* --prefix: the C names' prefix; NULL: the config's name */
	bool int8;              /* --int8: quantise the C export */
};
int run_export(const char *ckpt, const struct export_options *o, FILE *out, struct cnn_error *err);

/* `cnnrun summary`: the layer table, totals and the memory plan. */
/* `cnnrun bench CONFIG|CKPT`: inference images/s on `threads` threads (0:
 * every core) at `batch` images per thread (0: the network's eval_batch),
 * batch-1 latency, and the inference plan's memory, measured over about
 * `seconds`; one `key: value` per line (src/runner/bench.c). */
struct bench_options {
	int threads, batch;
	double seconds;
};
int run_bench(const char *path, const struct bench_options *o, FILE *out, struct cnn_error *err);

int run_summary(struct cfg_doc *doc, const char *svg_path, FILE *out, struct cnn_error *err);

/* Standardises train, val and test (either may be NULL) as the config's
 * data.normalize says, computing mean and std from train if not given and
 * recording them in the config tree, so a checkpoint carries them. */
void run_normalize(struct data_config *d, struct dataset *train, struct dataset *val,
                   struct dataset *test);

/* Records the class names found in the data (a folder's subfolders, CIFAR's
 * names file) as data.classes, unless the config gave them. */
void run_record_classes(struct data_config *d);

/* The memory estimate, one line. */
void print_memory(FILE *f, const struct mem_estimate *m, double limit);

/* `cnnrun report RUN_DIR`: rebuilds report.md and the pictures of a run
 * folder from its metrics.json, history.csv, batches.csv and mistakes.bin;
 * says what it wrote on out. */
int run_report(const char *dir, FILE *out, struct cnn_error *err);

/* `cnnrun compare RUN_DIR...`: a table of the n runs (config, parameters,
 * epochs, training time, test accuracy, macro F1) on out, and their
 * validation accuracy curves in one chart at svg_path. */
int run_compare(const char *const *dirs, int n, const char *svg_path, FILE *out,
                struct cnn_error *err);

/* The layer table (also printed when training starts). */
void print_layer_table(FILE *f, const struct net *net, int batch);

#endif
