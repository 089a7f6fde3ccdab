/* The generic runner: trains and evaluates whatever network a config
 * describes, prints progress and results, and writes the run folder. */
#ifndef CNN_RUNNER_H
#define CNN_RUNNER_H

#include <stdbool.h>
#include <stdio.h>

#include "cnn/builder.h"
#include "cnn/config.h"
#include "cnn/error.h"
#include "cnn/net.h"

/* Exit statuses, also returned by the run functions. */
enum { CNN_OK = 0, CNN_FAILED = 1, CNN_BAD_CONFIG = 2 };

struct run_options {
	const char *out_dir;    /* NULL: runs/<name> */
	bool quiet;             /* only the final results */
	bool verbose;           /* per-layer forward/backward times after each epoch */
};

/* Builds the network from doc, trains it, evaluates it on the test set and
 * writes the run folder. Returns CNN_OK, CNN_BAD_CONFIG (err is positioned
 * in the config) or CNN_FAILED. */
int run_train(struct cfg_doc *doc, const char *config_path, const struct run_options *opt,
              struct cnn_error *err);

/* `cnnrun summary`: the layer table, totals and the memory plan. */
int run_summary(struct cfg_doc *doc, FILE *out, struct cnn_error *err);

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
