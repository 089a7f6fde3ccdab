/* Confusion matrix and the per-class metrics derived from it.
 *
 * For class c, with N samples in all:
 *   TP = m[c][c]
 *   FN = row c minus TP      (true c, predicted something else)
 *   FP = column c minus TP   (predicted c, truly something else)
 *   TN = N - TP - FN - FP
 * Every ratio with a zero denominator is 0 (scikit-learn's zero_division=0),
 * so a class that is never predicted or never present reports 0, not NaN. */
#include "metrics/metrics.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

int confusion_init(struct confusion *c, int k)
{
	size_t cells;

	CNN_ASSERT(k > 0);
	c->k = 0;
	c->m = NULL;
	if (!cnn_mul_size((size_t)k, (size_t)k, &cells))
		return -1;
	c->m = calloc(cells, sizeof *c->m);
	if (!c->m)
		return -1;
	c->k = k;
	return 0;
}

void confusion_free(struct confusion *c)
{
	free(c->m);
	c->m = NULL;
	c->k = 0;
}

void confusion_clear(struct confusion *c)
{
	if (c->m)
		memset(c->m, 0, (size_t)c->k * (size_t)c->k * sizeof *c->m);
}

void confusion_add(struct confusion *c, int truth, int pred)
{
	/* Labels are checked when the data is loaded and predictions come from
	 * an argmax over k outputs, so a bad index here is a bug, not input. */
	CNN_ASSERT(truth >= 0 && truth < c->k);
	CNN_ASSERT(pred >= 0 && pred < c->k);
	c->m[(size_t)truth * (size_t)c->k + (size_t)pred]++;
}

int64_t confusion_total(const struct confusion *c)
{
	size_t cells = (size_t)c->k * (size_t)c->k;
	int64_t n = 0;

	for (size_t i = 0; i < cells; i++)
		n += c->m[i];
	return n;
}

static double ratio(int64_t num, int64_t den)
{
	return den ? (double)num / (double)den : 0.0;
}

double confusion_accuracy(const struct confusion *c)
{
	int64_t trace = 0;

	for (int i = 0; i < c->k; i++)
		trace += c->m[(size_t)i * (size_t)c->k + (size_t)i];
	return ratio(trace, confusion_total(c));
}

static int64_t row_sum(const struct confusion *c, int row)
{
	const int64_t *r = c->m + (size_t)row * (size_t)c->k;
	int64_t s = 0;

	for (int j = 0; j < c->k; j++)
		s += r[j];
	return s;
}

static int64_t col_sum(const struct confusion *c, int col)
{
	int64_t s = 0;

	for (int i = 0; i < c->k; i++)
		s += c->m[(size_t)i * (size_t)c->k + (size_t)col];
	return s;
}

/* confusion_class with the total (n) already known, so averaging over k
 * classes costs O(k^2) rather than O(k^3). */
static void class_metrics_of(const struct confusion *c, int cls, int64_t n,
                             struct class_metrics *out)
{
	int64_t tp = c->m[(size_t)cls * (size_t)c->k + (size_t)cls];
	int64_t fn = row_sum(c, cls) - tp;
	int64_t fp = col_sum(c, cls) - tp;
	int64_t tn = n - tp - fn - fp;

	out->accuracy = ratio(tp + tn, n);
	out->precision = ratio(tp, tp + fp);
	out->recall = ratio(tp, tp + fn);
	/* 2PR / (P + R) written in counts: the same value wherever P and R are
	 * defined, 0 where both are 0, and no rounding from the two divisions. */
	out->f1 = ratio(2 * tp, 2 * tp + fp + fn);
	out->support = tp + fn;
}

void confusion_class(const struct confusion *c, int cls, struct class_metrics *out)
{
	CNN_ASSERT(cls >= 0 && cls < c->k);
	class_metrics_of(c, cls, confusion_total(c), out);
}

/* Mean of the per-class metrics: every class counts once, or (weighted)
 * in proportion to its support. */
static void class_mean(const struct confusion *c, bool weighted, struct class_metrics *out)
{
	double acc = 0, p = 0, r = 0, f = 0, wsum = 0;
	int64_t support = 0, n = confusion_total(c);

	for (int i = 0; i < c->k; i++) {
		struct class_metrics m;
		double w;

		class_metrics_of(c, i, n, &m);
		w = weighted ? (double)m.support : 1.0;
		acc += w * m.accuracy;
		p += w * m.precision;
		r += w * m.recall;
		f += w * m.f1;
		wsum += w;
		support += m.support;
	}
	if (wsum == 0)
		wsum = 1; /* no samples at all: every sum is 0 too */
	out->accuracy = acc / wsum;
	out->precision = p / wsum;
	out->recall = r / wsum;
	out->f1 = f / wsum;
	out->support = support;
}

void confusion_macro(const struct confusion *c, struct class_metrics *out)
{
	class_mean(c, false, out);
}

void confusion_weighted(const struct confusion *c, struct class_metrics *out)
{
	class_mean(c, true, out);
}
