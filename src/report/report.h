/* What a run leaves behind, in its run folder:
 *   metrics.json  machine-readable: test metrics, history, timing, resolved config
 *   history.csv   one row per epoch
 *   batches.csv   the training loss of every batch: epoch,batch,loss
 *   mistakes.bin  the most confidently misclassified test images (format below)
 *   report.md     the reference's tables, the classification report, the
 *                 confusion matrix and the pictures:
 *   loss.svg, accuracy.svg, confusion.svg, mistakes.png
 * and what it prints at the end (overall accuracy and the per-class table).
 * The first four are the data; report.md and the pictures are views of it,
 * which `cnnrun report RUN_DIR` rebuilds from those files alone. */
#ifndef CNN_REPORT_H
#define CNN_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "util/error.h"
#include "io/history.h"
#include "metrics/metrics.h"

/* One misclassified test image. */
struct mistake {
	int index;                 /* in the test set */
	int truth, pred;
	float confidence;          /* the predicted class's probability */
	uint8_t *pixels;           /* (c, h, w) of struct mistakes, 0..255 */
};

/* The `cap` most confident mistakes seen so far, most confident first; ties
 * keep the one seen first, so a run's list does not depend on timing.
 *
 * mistakes.bin holds them, all integers little-endian:
 *   "CNNMIST1"  magic, 8 bytes
 *   u32 n, c, h, w
 *   n records:  i32 index, i32 truth, i32 pred, f32 confidence (IEEE 754
 *               bits as u32), then c*h*w pixel bytes (planes, rows, columns)
 * Small (36 MNIST images: 28 KB) and enough to redraw mistakes.png without
 * the dataset. */
#define MISTAKES_DEFAULT 36
struct mistakes {
	int cap, n;
	int c, h, w;               /* image shape */
	struct mistake *items;     /* (cap), [0, n) in use */
	uint8_t *pixels;           /* (cap, c, h, w): the items' pixel slots */
};

int mistakes_init(struct mistakes *m, int cap, int c, int h, int w);  /* -1: out of memory */
void mistakes_free(struct mistakes *m);
/* Keeps the image if it is among the cap most confident mistakes so far. */
void mistakes_offer(struct mistakes *m, int index, int truth, int pred, float confidence,
                    const uint8_t *pixels);
int mistakes_write(FILE *f, const struct mistakes *m);      /* -1 on a stream error */
/* Reads mistakes.bin into a fresh *m (which mistakes_free releases). */
int mistakes_read(const char *path, struct mistakes *m, struct cnn_error *err);

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
	int test_epoch;            /* the test ran on the weights of this epoch (best validation); 0: the last */
	double eval_images_per_second;
	const struct confusion *test_confusion;
	const char *const *class_names; /* NULL: "0", "1", ... */
	/* The mean training loss of each batch, epoch after epoch:
	 * batch b of epoch e (both 0-based) at [e * batches_per_epoch + b].
	 * NULL: not recorded (no batches.csv, loss.svg from epochs only). */
	const float *batch_loss;
	int n_batch_loss, batches_per_epoch;
	const struct mistakes *mistakes;   /* NULL: none recorded */
};

/* Writes every file listed above into dir (which exists). Each file is
 * written to a temporary name and renamed, so a failure never leaves a
 * half-written file in place of a good one. */
int report_write_all(const char *dir, const struct run_result *r, struct cnn_error *err);

/* Only the views: report.md and the pictures (what `cnnrun report` redoes). */
int report_write_views(const char *dir, const struct run_result *r, struct cnn_error *err);

/* Rebuilds a run_result from a run folder's metrics.json, history.csv and,
 * when present, batches.csv and mistakes.bin; report_loaded_free releases
 * it. Missing or malformed files are errors naming the file. */
struct report_loaded;
int report_load(const char *dir, struct report_loaded **out, const struct run_result **r,
                struct cnn_error *err);
void report_loaded_free(struct report_loaded *l);

/* The end-of-run text on f: overall accuracy, the per-class one-vs-all table
 * (accuracy, precision, recall, F1, support) in the reference's layout, and
 * the macro and weighted averages. */
void report_print(FILE *f, const struct run_result *r);

#endif
