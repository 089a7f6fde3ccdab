/* What a run leaves behind, in its run folder:
 *   metrics.json  machine-readable: test metrics, history, timing, resolved config
 *   history.csv   one row per epoch
 *   report.md     the reference's tables, the classification report, the confusion matrix
 * and what it prints at the end (overall accuracy and the per-class table). */
#ifndef CNN_REPORT_H
#define CNN_REPORT_H

#include <stdio.h>

#include "cnn/config.h"
#include "cnn/error.h"
#include "cnn/metrics.h"

struct epoch_record {
	int epoch;                 /* 1-based */
	double loss, accuracy;     /* training, averaged over the epoch's batches */
	double val_loss, val_accuracy; /* NaN when there is no validation set */
	double seconds;            /* wall time of the epoch (training + validation) */
	double images_per_second;  /* training images / training seconds */
};

struct run_result {
	const char *name;          /* config name */
	const char *config_path;
	const struct cfg_node *config; /* resolved config (defaults filled in) */
	int n_train, n_val, n_test;
	long n_params;
	double flops_per_image;    /* forward */
	int threads, batch;
	const struct epoch_record *history;
	int n_epochs;
	double train_seconds, train_images_per_second;
	double test_loss, test_accuracy;
	double eval_images_per_second;
	const struct confusion *test_confusion;
	const char *const *class_names; /* NULL: "0", "1", ... */
};

/* Writes metrics.json, history.csv and report.md into dir (which exists).
 * Each file is written to a temporary name and renamed, so a failure never
 * leaves a half-written file in place of a good one. */
int report_write_all(const char *dir, const struct run_result *r, struct cnn_error *err);

/* The end-of-run text on f: overall accuracy, the per-class one-vs-all table
 * (accuracy, precision, recall, F1, support) in the reference's layout, and
 * the macro and weighted averages. */
void report_print(FILE *f, const struct run_result *r);

#endif
