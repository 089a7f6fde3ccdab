/* What a run leaves behind: metrics.json, history.csv, report.md, and the
 * end-of-run text. Every file goes through atomic_write_with (a temporary
 * file, synced, renamed over "name"), so an interrupted or failed write
 * never replaces a good file with a partial one. */
#include "report/report.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/fileio.h"
#include "report/figures.h"
#include "report/json.h"

/* Larger confusion matrices are left to metrics.json: a markdown table with
 * hundreds of columns helps nobody. */
#define MD_MAX_CONFUSION_CLASSES 40
/* History tables longer than this show the first and last epochs only. */
#define MD_MAX_HISTORY_ROWS 20
/* The mistakes table lists the most confident few; the picture has them all. */
#define MD_MAX_MISTAKE_ROWS 10
/* Decimals in the text tables (scikit-learn's default of 2 hides the
 * differences that matter between good models). */
#define REPORT_DIGITS 4

/* ------------------------------------------------------------------ */
/* Shared helpers                                                       */

static const char *class_name(const struct run_result *r, int i, char *buf, size_t len)
{
	if (r->class_names && r->class_names[i])
		return r->class_names[i];
	snprintf(buf, len, "%d", i);
	return buf;
}

static int64_t confusion_correct(const struct confusion *c)
{
	int64_t n = 0;

	for (int i = 0; i < c->k; i++)
		n += c->m[(size_t)i * (size_t)c->k + (size_t)i];
	return n;
}

/* Width of the name column: the longest class name, at least "weighted avg". */
static int name_width(const struct run_result *r)
{
	int w = (int)strlen("weighted avg");

	for (int i = 0; i < r->test_confusion->k; i++) {
		char buf[16];
		int len = (int)strlen(class_name(r, i, buf, sizeof buf));

		if (len > w)
			w = len;
	}
	return w;
}

/* ------------------------------------------------------------------ */
/* metrics.json                                                         */

static void json_metrics_fields(struct json_writer *w, const struct class_metrics *m)
{
	json_key(w, "accuracy");
	json_double(w, m->accuracy);
	json_key(w, "precision");
	json_double(w, m->precision);
	json_key(w, "recall");
	json_double(w, m->recall);
	json_key(w, "f1");
	json_double(w, m->f1);
	json_key(w, "support");
	json_int(w, m->support);
}

static void json_per_class(struct json_writer *w, const struct run_result *r)
{
	const struct confusion *c = r->test_confusion;

	json_key(w, "per_class");
	json_begin_array(w);
	for (int i = 0; i < c->k; i++) {
		struct class_metrics m;
		char buf[16];

		confusion_class(c, i, &m);
		json_begin_inline_object(w);
		json_key(w, "class");
		json_string(w, class_name(r, i, buf, sizeof buf));
		json_metrics_fields(w, &m);
		json_end_object(w);
	}
	json_end_array(w);
}

static void json_confusion(struct json_writer *w, const struct confusion *c)
{
	json_key(w, "confusion");
	json_begin_array(w);
	for (int i = 0; i < c->k; i++) {
		json_begin_inline_array(w);
		for (int j = 0; j < c->k; j++)
			json_int(w, c->m[(size_t)i * (size_t)c->k + (size_t)j]);
		json_end_array(w);
	}
	json_end_array(w);
}

static void json_test(struct json_writer *w, const struct run_result *r)
{
	const struct confusion *c = r->test_confusion;
	struct class_metrics avg;

	json_key(w, "test");
	json_begin_object(w);
	json_key(w, "accuracy");
	json_double(w, r->test_accuracy);
	json_key(w, "loss");
	json_double(w, r->test_loss);
	if (r->test_epoch > 0) {
		json_key(w, "weights_epoch");
		json_int(w, r->test_epoch);
	}
	if (c) {
		json_key(w, "correct");
		json_int(w, confusion_correct(c));
		json_key(w, "samples");
		json_int(w, confusion_total(c));
		json_per_class(w, r);
		confusion_macro(c, &avg);
		json_key(w, "macro_avg");
		json_begin_inline_object(w);
		json_metrics_fields(w, &avg);
		json_end_object(w);
		confusion_weighted(c, &avg);
		json_key(w, "weighted_avg");
		json_begin_inline_object(w);
		json_metrics_fields(w, &avg);
		json_end_object(w);
		json_confusion(w, c);
	}
	json_end_object(w);
}

static void json_history(struct json_writer *w, const struct run_result *r)
{
	json_key(w, "history");
	json_begin_array(w);
	for (int i = 0; i < r->n_epochs; i++) {
		const struct epoch_record *e = &r->history[i];

		json_begin_inline_object(w);
		json_key(w, "epoch");
		json_int(w, e->epoch);
		json_key(w, "loss");
		json_double(w, e->loss);
		json_key(w, "accuracy");
		json_double(w, e->accuracy);
		json_key(w, "val_loss");
		json_double(w, e->val_loss);
		json_key(w, "val_accuracy");
		json_double(w, e->val_accuracy);
		json_key(w, "seconds");
		json_double(w, e->seconds);
		json_key(w, "images_per_second");
		json_double(w, e->images_per_second);
		json_end_object(w);
	}
	json_end_array(w);
}

static void json_run_info(struct json_writer *w, const struct run_result *r)
{
	json_key(w, "data");
	json_begin_inline_object(w);
	json_key(w, "train");
	json_int(w, r->n_train);
	json_key(w, "validation");
	json_int(w, r->n_val);
	json_key(w, "test");
	json_int(w, r->n_test);
	json_end_object(w);

	json_key(w, "model");
	json_begin_inline_object(w);
	json_key(w, "parameters");
	json_int(w, r->n_params);
	json_key(w, "flops_per_image");
	json_double(w, r->flops_per_image);
	json_end_object(w);

	json_key(w, "train");
	json_begin_inline_object(w);
	json_key(w, "epochs");
	json_int(w, r->n_epochs);
	json_key(w, "seconds");
	json_double(w, r->train_seconds);
	json_key(w, "images_per_second");
	json_double(w, r->train_images_per_second);
	json_key(w, "threads");
	json_int(w, r->threads);
	json_key(w, "batch");
	json_int(w, r->batch);
	json_end_object(w);

	json_key(w, "eval");
	json_begin_inline_object(w);
	json_key(w, "images_per_second");
	json_double(w, r->eval_images_per_second);
	json_end_object(w);
}

static void write_metrics_json(FILE *f, const struct run_result *r)
{
	struct json_writer w;

	json_init(&w, f, 2);
	json_begin_object(&w);
	json_key(&w, "name");
	json_string(&w, r->name);
	json_key(&w, "config_path");
	json_string(&w, r->config_path);
	json_key(&w, "cnnrun_version");
	json_string(&w, CNN_VERSION);
	json_run_info(&w, r);
	json_test(&w, r);
	json_history(&w, r);
	if (r->config) {
		json_key(&w, "config");
		cfg_write_json(f, r->config, json_raw_value(&w));
	}
	json_end_object(&w);
}

/* ------------------------------------------------------------------ */
/* history.csv                                                          */

/* A CSV field: the shortest exact form, empty where there is no value. */
static void csv_double(FILE *f, double v)
{
	char buf[40];

	fputc(',', f);
	if (isfinite(v)) {
		json_format_double(buf, sizeof buf, v);
		fputs(buf, f);
	}
}

static void write_history_csv(FILE *f, const struct run_result *r)
{
	fputs("epoch,loss,accuracy,val_loss,val_accuracy,seconds,images_per_second\n", f);
	for (int i = 0; i < r->n_epochs; i++) {
		const struct epoch_record *e = &r->history[i];

		fprintf(f, "%d", e->epoch);
		csv_double(f, e->loss);
		csv_double(f, e->accuracy);
		csv_double(f, e->val_loss);
		csv_double(f, e->val_accuracy);
		csv_double(f, e->seconds);
		csv_double(f, e->images_per_second);
		fputc('\n', f);
	}
}

/* batches.csv: the loss of every training batch, for the light curve of
 * loss.svg. Six significant digits: a plot needs no more, and the file
 * stays near 20 bytes a batch. */
static void write_batches_csv(FILE *f, const struct run_result *r)
{
	int per = r->batches_per_epoch;

	fputs("epoch,batch,loss\n", f);
	for (int i = 0; i < r->n_batch_loss; i++)
		fprintf(f, "%d,%d,%.6g\n", i / per + 1, i % per + 1, (double)r->batch_loss[i]);
}

static void write_mistakes_bin(FILE *f, const struct run_result *r)
{
	mistakes_write(f, r->mistakes);
}

/* ------------------------------------------------------------------ */
/* Text tables shared by report.md and report_print                      */

/* scikit-learn's classification_report, same column layout (9-wide columns
 * after a name column at least as wide as "weighted avg"). */
static void classification_report(FILE *f, const struct run_result *r)
{
	const struct confusion *c = r->test_confusion;
	int w = name_width(r), d = REPORT_DIGITS;
	struct class_metrics m;
	char buf[16];

	fprintf(f, "%*s  %9s %9s %9s %9s\n\n", w, "", "precision", "recall", "f1-score", "support");
	for (int i = 0; i < c->k; i++) {
		confusion_class(c, i, &m);
		fprintf(f, "%*s  %9.*f %9.*f %9.*f %9lld\n", w, class_name(r, i, buf, sizeof buf),
		        d, m.precision, d, m.recall, d, m.f1, (long long)m.support);
	}
	fputc('\n', f);
	fprintf(f, "%*s  %9s %9s %9.*f %9lld\n", w, "accuracy", "", "",
	        d, confusion_accuracy(c), (long long)confusion_total(c));
	confusion_macro(c, &m);
	fprintf(f, "%*s  %9.*f %9.*f %9.*f %9lld\n", w, "macro avg",
	        d, m.precision, d, m.recall, d, m.f1, (long long)m.support);
	confusion_weighted(c, &m);
	fprintf(f, "%*s  %9.*f %9.*f %9.*f %9lld\n", w, "weighted avg",
	        d, m.precision, d, m.recall, d, m.f1, (long long)m.support);
}

static void print_class_row(FILE *f, int w, const char *name, const struct class_metrics *m)
{
	int d = REPORT_DIGITS;

	fprintf(f, "%*s  %9.*f %9.*f %9.*f %9.*f %9lld\n", w, name, d, m->accuracy,
	        d, m->precision, d, m->recall, d, m->f1, (long long)m->support);
}

/* "test accuracy: 0.9871 (9871/10000), loss 0.0412" */
static void print_accuracy_line(FILE *f, const struct run_result *r)
{
	fprintf(f, "test accuracy: %.4f", r->test_accuracy);
	if (r->test_confusion)
		fprintf(f, " (%lld/%lld)", (long long)confusion_correct(r->test_confusion),
		        (long long)confusion_total(r->test_confusion));
	fprintf(f, ", loss %.4f", r->test_loss);
	if (r->test_epoch > 0)
		fprintf(f, "; weights of epoch %d, the best validation accuracy", r->test_epoch);
	fputc('\n', f);
}

void report_print(FILE *f, const struct run_result *r)
{
	const struct confusion *c = r->test_confusion;
	struct class_metrics m;
	char buf[16];
	int w;

	print_accuracy_line(f, r);
	if (!c)
		return;
	w = name_width(r);
	fprintf(f, "\n%*s  %9s %9s %9s %9s %9s\n", w, "class", "accuracy", "precision",
	        "recall", "F1", "support");
	for (int i = 0; i < c->k; i++) {
		confusion_class(c, i, &m);
		print_class_row(f, w, class_name(r, i, buf, sizeof buf), &m);
	}
	fputc('\n', f);
	confusion_macro(c, &m);
	print_class_row(f, w, "macro avg", &m);
	confusion_weighted(c, &m);
	print_class_row(f, w, "weighted avg", &m);
	fprintf(f, "(per-class accuracy is one-vs-all: (TP + TN) / N)\n");
}

/* ------------------------------------------------------------------ */
/* report.md                                                            */

/* A table cell: '|' would end the cell and a newline the row. */
static void md_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", f);
		else if (*s == '\n' || *s == '\r')
			fputc(' ', f);
		else
			fputc(*s, f);
	}
}

static void md_double(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, " %.*f |", REPORT_DIGITS, v);
	else
		fputs(" - |", f);
}

static void md_metrics_row(FILE *f, const char *name, bool bold, const struct class_metrics *m)
{
	fputs(bold ? "| **" : "| ", f);
	md_text(f, name);
	fputs(bold ? "** |" : " |", f);
	md_double(f, m->accuracy);
	md_double(f, m->precision);
	md_double(f, m->recall);
	md_double(f, m->f1);
	fprintf(f, " %lld |\n", (long long)m->support);
}

static void md_header(FILE *f, const struct run_result *r)
{
	fputs("# cnnrun report: ", f);
	md_text(f, r->name ? r->name : "(unnamed)");
	fputs("\n\n", f);
	if (r->config_path) {
		fputs("Config: `", f);
		md_text(f, r->config_path);
		fputs("`; as resolved for this run (defaults filled in): [config.yaml](config.yaml)\n\n", f);
	} else {
		fputs("Config as resolved for this run: [config.yaml](config.yaml)\n\n", f);
	}
	fputs("## Data and model\n\n", f);
	fputs("| | |\n|---|---:|\n", f);
	fprintf(f, "| training images | %d |\n", r->n_train);
	fprintf(f, "| validation images | %d |\n", r->n_val);
	fprintf(f, "| test images | %d |\n", r->n_test);
	fprintf(f, "| parameters | %ld |\n", r->n_params);
	fprintf(f, "| forward FLOPs per image | %.0f |\n\n", r->flops_per_image);

	fputs("## Training\n\n", f);
	fprintf(f, "- epochs: %d, batch size %d, threads %d\n", r->n_epochs, r->batch, r->threads);
	fprintf(f, "- training time: %.1f s, %.0f images/s\n", r->train_seconds,
	        r->train_images_per_second);
	fprintf(f, "- evaluation: %.0f images/s\n\n", r->eval_images_per_second);
}

static void md_per_class(FILE *f, const struct run_result *r)
{
	const struct confusion *c = r->test_confusion;
	struct class_metrics m;
	char buf[16];

	fputs("### Per class\n\n", f);
	fputs("| class | accuracy (one-vs-all) | precision | recall | F1 | support |\n", f);
	fputs("|---|---:|---:|---:|---:|---:|\n", f);
	for (int i = 0; i < c->k; i++) {
		confusion_class(c, i, &m);
		md_metrics_row(f, class_name(r, i, buf, sizeof buf), false, &m);
	}
	confusion_macro(c, &m);
	md_metrics_row(f, "macro avg", true, &m);
	confusion_weighted(c, &m);
	md_metrics_row(f, "weighted avg", true, &m);
	fputs("\nOne-vs-all accuracy is (TP + TN) / N for each class. True negatives "
	      "dominate it, so it stays high even for a class the model never "
	      "predicts; recall is the per-class accuracy in the usual sense.\n\n", f);
}

static void md_confusion(FILE *f, const struct run_result *r)
{
	const struct confusion *c = r->test_confusion;
	char buf[16];

	fputs("### Confusion matrix\n\n", f);
	if (figure_available(r, FIG_CONFUSION))
		fputs("![test confusion matrix](confusion.svg)\n\n", f);
	if (c->k > MD_MAX_CONFUSION_CLASSES) {
		fprintf(f, "%d classes: see `confusion` in metrics.json.\n\n", c->k);
		return;
	}
	fputs("Rows: true class; columns: predicted class.\n\n| true \\ predicted |", f);
	for (int j = 0; j < c->k; j++) {
		fputc(' ', f);
		md_text(f, class_name(r, j, buf, sizeof buf));
		fputs(" |", f);
	}
	fputs("\n|---|", f);
	for (int j = 0; j < c->k; j++)
		fputs("---:|", f);
	fputc('\n', f);
	for (int i = 0; i < c->k; i++) {
		fputs("| **", f);
		md_text(f, class_name(r, i, buf, sizeof buf));
		fputs("** |", f);
		for (int j = 0; j < c->k; j++)
			fprintf(f, " %lld |", (long long)c->m[(size_t)i * (size_t)c->k + (size_t)j]);
		fputc('\n', f);
	}
	fputc('\n', f);
}

static void md_history_row(FILE *f, const struct epoch_record *e)
{
	fprintf(f, "| %d |", e->epoch);
	md_double(f, e->loss);
	md_double(f, e->accuracy);
	md_double(f, e->val_loss);
	md_double(f, e->val_accuracy);
	if (isfinite(e->seconds))
		fprintf(f, " %.1f |", e->seconds);
	else
		fputs(" - |", f);
	if (isfinite(e->images_per_second))
		fprintf(f, " %.0f |\n", e->images_per_second);
	else
		fputs(" - |\n", f);
}

static void md_history(FILE *f, const struct run_result *r)
{
	int n = r->n_epochs, half = MD_MAX_HISTORY_ROWS / 2;

	if (n == 0)
		return;
	fputs("## History\n\n", f);
	fputs("| epoch | loss | accuracy | val loss | val accuracy | seconds | images/s |\n", f);
	fputs("|---:|---:|---:|---:|---:|---:|---:|\n", f);
	for (int i = 0; i < n; i++) {
		if (n > MD_MAX_HISTORY_ROWS && i == half) {
			fputs("| ... | | | | | | |\n", f);
			i = n - half;
		}
		md_history_row(f, &r->history[i]);
	}
	if (n > MD_MAX_HISTORY_ROWS)
		fprintf(f, "\nFirst and last %d of %d epochs; all of them are in history.csv.\n", half, n);
	fputc('\n', f);
}

static void md_curves(FILE *f, const struct run_result *r)
{
	if (!figure_available(r, FIG_LOSS))
		return;
	fputs("## Curves\n\n![loss](loss.svg)\n\n![accuracy](accuracy.svg)\n\n", f);
	if (r->batch_loss && r->n_batch_loss)
		fputs("The light line is the training loss of each batch (batches.csv); "
		      "the dots are the epochs' means (history.csv).\n\n", f);
}

static void md_mistakes(FILE *f, const struct run_result *r)
{
	const struct mistakes *m = r->mistakes;
	char a[16], b[16];

	if (!figure_available(r, FIG_MISTAKES))
		return;
	fputs("### Most confident mistakes\n\n![most confident mistakes](mistakes.png)\n\n", f);
	fputs("| test image | true | predicted | confidence |\n|---:|---|---|---:|\n", f);
	for (int i = 0; i < m->n && i < MD_MAX_MISTAKE_ROWS; i++) {
		const struct mistake *k = &m->items[i];
		bool known = r->test_confusion && k->truth >= 0 && k->pred >= 0 &&
		             k->truth < r->test_confusion->k && k->pred < r->test_confusion->k;

		fprintf(f, "| %d | ", k->index);
		if (known) {
			md_text(f, class_name(r, k->truth, a, sizeof a));
			fputs(" | ", f);
			md_text(f, class_name(r, k->pred, b, sizeof b));
		} else {
			fprintf(f, "%d | %d", k->truth, k->pred);
		}
		fprintf(f, " | %.4f |\n", k->confidence);
	}
	if (m->n > MD_MAX_MISTAKE_ROWS)
		fprintf(f, "\nThe first %d of %d; the picture shows them all, mistakes.bin holds "
		        "their pixels.\n", MD_MAX_MISTAKE_ROWS, m->n);
	fputc('\n', f);
}

static void write_report_md(FILE *f, const struct run_result *r)
{
	md_header(f, r);
	md_curves(f, r);
	fputs("## Test results\n\n", f);
	fprintf(f, "**Test accuracy: %.4f**", r->test_accuracy);
	if (r->test_confusion)
		fprintf(f, " (%lld/%lld)", (long long)confusion_correct(r->test_confusion),
		        (long long)confusion_total(r->test_confusion));
	fprintf(f, ", loss %.4f", r->test_loss);
	if (r->test_epoch > 0)
		fprintf(f, ", with the weights of epoch %d (the best validation accuracy)", r->test_epoch);
	fputs("\n\n", f);
	if (r->test_confusion) {
		md_per_class(f, r);
		fputs("### Classification report\n\n```text\n", f);
		classification_report(f, r);
		fputs("```\n\n", f);
		md_confusion(f, r);
	}
	md_mistakes(f, r);
	md_history(f, r);
}

/* ------------------------------------------------------------------ */
/* Writing files safely                                                 */

typedef void (*report_writer)(FILE *f, const struct run_result *r);

struct report_file {
	report_writer fn;
	const struct run_result *r;
};

static int write_report_file(FILE *f, const void *ctx, struct cnn_error *err)
{
	const struct report_file *rf = ctx;

	(void)err;   /* stream errors: atomic_write_with checks ferror() */
	rf->fn(f, rf->r);
	return 0;
}

/* dir/name through the one atomic writer (io/fileio.h). */
static int write_atomic(const char *dir, const char *name, report_writer fn,
                        const struct run_result *r, struct cnn_error *err)
{
	char path[4096];
	struct report_file rf = { fn, r };

	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
		return cnn_errorf_plain(err, "path too long: %s/%s", dir, name);
	return atomic_write_with(path, write_report_file, &rf, err);
}

/* The pictures first: report.md links to them. */
int report_write_views(const char *dir, const struct run_result *r, struct cnn_error *err)
{
	return figures_write(dir, r, err) || write_atomic(dir, "report.md", write_report_md, r, err) ? -1 : 0;
}

int report_write_all(const char *dir, const struct run_result *r, struct cnn_error *err)
{
	if (write_atomic(dir, "metrics.json", write_metrics_json, r, err) ||
	    write_atomic(dir, "history.csv", write_history_csv, r, err))
		return -1;
	if (r->batch_loss && r->n_batch_loss > 0 && r->batches_per_epoch > 0 &&
	    write_atomic(dir, "batches.csv", write_batches_csv, r, err))
		return -1;
	if (r->mistakes && write_atomic(dir, "mistakes.bin", write_mistakes_bin, r, err))
		return -1;
	return report_write_views(dir, r, err);
}
