/* Classification metrics from a confusion matrix (rows: true class,
 * columns: predicted class, scikit-learn's convention). Where a ratio has a
 * zero denominator (a class never predicted, or absent) it is 0, as
 * scikit-learn reports with zero_division=0. */
#ifndef CNN_METRICS_H
#define CNN_METRICS_H

#include <stdint.h>

struct confusion {
	int k;        /* classes */
	int64_t *m;   /* (k, k): m[true * k + pred] */
};

int confusion_init(struct confusion *c, int k);   /* -1 on out of memory */
void confusion_free(struct confusion *c);
void confusion_clear(struct confusion *c);
void confusion_add(struct confusion *c, int truth, int pred);
int64_t confusion_total(const struct confusion *c);
double confusion_accuracy(const struct confusion *c); /* trace / total */

struct class_metrics {
	double accuracy;   /* one-vs-all: (TP + TN) / total (the reference's column) */
	double precision;  /* TP / (TP + FP) */
	double recall;     /* TP / (TP + FN) */
	double f1;         /* 2PR / (P + R) */
	int64_t support;   /* TP + FN: true samples of the class */
};

void confusion_class(const struct confusion *c, int cls, struct class_metrics *out);
/* Unweighted mean over classes (macro) and support-weighted mean (weighted)
 * of precision, recall, F1 (accuracy field: the same means of OvA accuracy). */
void confusion_macro(const struct confusion *c, struct class_metrics *out);
void confusion_weighted(const struct confusion *c, struct class_metrics *out);

#endif
