/* report_load: a run_result read back from a run folder, for `cnnrun
 * report` and `cnnrun compare`. metrics.json and history.csv are required;
 * batches.csv and mistakes.bin are optional (older runs, or runs whose
 * files were pruned, still get a report without those pictures). */
#include <errno.h>
#include <float.h>
#include <stdint.h>
#include <sys/stat.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/report.h"
#include "report/json_read.h"
#include "io/fileio.h"

/* A run folder is untrusted input (copied, shared, edited): every number is
 * checked (finite, an integer where it counts, within range) and sizes are
 * bounded before anything is drawn from them. */
#define REPORT_MAX_FILE ((size_t)64 << 20)    /* bytes of metrics.json, history.csv, batches.csv */
#define REPORT_MAX_CLASSES 1000
#define REPORT_MAX_COUNT 1e12                 /* one confusion cell; k * k of them still fit int64 */
#define REPORT_MAX_EPOCHS 100000              /* train.epochs' own bound */

struct report_loaded {
	struct json_value doc;
	struct run_result r;
	struct confusion confusion;
	struct epoch_record *history;
	const char **class_names;   /* (k), into doc */
	float *batch_loss;
	struct mistakes mistakes;
};

void report_loaded_free(struct report_loaded *l)
{
	if (!l)
		return;
	json_free(&l->doc);
	confusion_free(&l->confusion);
	free(l->history);
	free(l->class_names);
	free(l->batch_loss);
	mistakes_free(&l->mistakes);
	free(l);
}

/* ------------------------------------------------------------------ */
/* metrics.json                                                         */

/* The number at key, checked: absent gives NaN (or `absent`'s error when
 * required); present, it must be a finite number in [lo, hi], and an
 * integer when whole is set. */
static int number_at(const struct json_value *doc, const char *key, double lo, double hi, bool whole,
                     bool required, const char *path, double *out, struct cnn_error *err)
{
	const struct json_value *v = json_get(doc, key);

	*out = NAN;
	if (!v && !required)
		return 0;
	if (!v)
		return cnn_errorf_plain(err, "%s: %s is missing", path, key);
	if (v->type == JSON_NULL && !required)
		return 0;
	if (v->type != JSON_NUMBER || !isfinite(v->number))
		return cnn_errorf_plain(err, "%s: %s is not a number", path, key);
	if (v->number < lo || v->number > hi || (whole && v->number != floor(v->number)))
		return cnn_errorf_plain(err, "%s: %s is %g, not %s in [%g, %g]", path, key, v->number,
		                        whole ? "an integer" : "a number", lo, hi);
	*out = v->number;
	return 0;
}

static int load_confusion(struct report_loaded *l, const char *path, struct cnn_error *err)
{
	const struct json_value *rows = json_get(&l->doc, "test.confusion");
	const struct json_value *per_class = json_get(&l->doc, "test.per_class");
	int k;

	if (!rows)
		return 0;   /* a run without a test set */
	k = rows->type == JSON_ARRAY ? rows->n : 0;
	if (k > REPORT_MAX_CLASSES)
		return cnn_errorf_plain(err, "%s: test.confusion has %d classes, more than %d", path, k,
		                        REPORT_MAX_CLASSES);
	if (k < 1 || confusion_init(&l->confusion, k))
		return cnn_errorf_plain(err, "%s: test.confusion is not a matrix", path);
	for (int i = 0; i < k; i++) {
		const struct json_value *row = json_item(rows, i);

		if (!row || row->type != JSON_ARRAY || row->n != k)
			return cnn_errorf_plain(err, "%s: test.confusion row %d does not have %d counts",
			                        path, i, k);
		for (int j = 0; j < k; j++) {
			const struct json_value *v = json_item(row, j);

			if (v->type != JSON_NUMBER || !(v->number >= 0) || v->number > REPORT_MAX_COUNT ||
			    v->number != floor(v->number))
				return cnn_errorf_plain(err, "%s: test.confusion[%d][%d] is not a count (an integer "
				                        "in [0, %g])", path, i, j, REPORT_MAX_COUNT);
			l->confusion.m[(size_t)i * (size_t)k + (size_t)j] = (int64_t)v->number;
		}
	}
	l->r.test_confusion = &l->confusion;
	/* Class names, as the run printed them. */
	l->class_names = calloc((size_t)k, sizeof *l->class_names);
	if (!l->class_names)
		return cnn_errorf_plain(err, "out of memory");
	for (int i = 0; i < k; i++) {
		const struct json_value *c = json_member(json_item(per_class, i), "class");

		l->class_names[i] = c && c->type == JSON_STRING ? c->string : NULL;
	}
	l->r.class_names = l->class_names;
	return 0;
}

static int load_metrics(struct report_loaded *l, const char *dir, struct cnn_error *err)
{
	char path[4096];
	const struct json_value *d = &l->doc;
	struct run_result *r = &l->r;

	snprintf(path, sizeof path, "%s/metrics.json", dir);
	if (json_parse_file(path, &l->doc, err))
		return -1;
	if (l->doc.type != JSON_OBJECT || !json_get(d, "test.accuracy"))
		return cnn_errorf_plain(err, "%s: not a cnnrun metrics.json (no test.accuracy)", path);
	r->name = json_get_string(d, "name");
	r->config_path = json_get_string(d, "config_path");
	double n_train, n_val, n_test, params, threads, batch, epoch;
	const double big = 1e300;   /* any finite, non-negative figure */
	if (number_at(d, "data.train", 0, INT32_MAX, true, false, path, &n_train, err) ||
	    number_at(d, "data.validation", 0, INT32_MAX, true, false, path, &n_val, err) ||
	    number_at(d, "data.test", 0, INT32_MAX, true, false, path, &n_test, err) ||
	    number_at(d, "model.parameters", 0, 1e15, true, false, path, &params, err) ||
	    number_at(d, "model.flops_per_image", 0, big, false, false, path, &r->flops_per_image, err) ||
	    number_at(d, "train.threads", 0, 65536, true, false, path, &threads, err) ||
	    number_at(d, "train.batch", 0, 65536, true, false, path, &batch, err) ||
	    number_at(d, "train.seconds", 0, big, false, false, path, &r->train_seconds, err) ||
	    number_at(d, "train.images_per_second", 0, big, false, false, path, &r->train_images_per_second, err) ||
	    number_at(d, "eval.images_per_second", 0, big, false, false, path, &r->eval_images_per_second, err) ||
	    number_at(d, "test.accuracy", 0, 1, false, true, path, &r->test_accuracy, err) ||
	    number_at(d, "test.loss", 0, big, false, false, path, &r->test_loss, err) ||
	    number_at(d, "test.weights_epoch", 0, REPORT_MAX_EPOCHS, true, false, path, &epoch, err))
		return -1;
	/* Absent counts stay 0, as before they were checked. */
	r->n_train = isnan(n_train) ? 0 : (int)n_train;
	r->n_val = isnan(n_val) ? 0 : (int)n_val;
	r->n_test = isnan(n_test) ? 0 : (int)n_test;
	r->n_params = isnan(params) ? 0 : (long)params;
	r->threads = isnan(threads) ? 0 : (int)threads;
	r->batch = isnan(batch) ? 0 : (int)batch;
	r->test_epoch = isnan(epoch) ? 0 : (int)epoch;
	return load_confusion(l, path, err);
}

/* ------------------------------------------------------------------ */
/* CSV                                                                  */

/* Reads a whole text file; NULL (with err) if it cannot. *missing says the
 * file does not exist, for the optional ones. */
static char *slurp(const char *path, bool *missing, struct cnn_error *err)
{
	char *text = NULL;
	size_t len = 0, cap = 0, got;
	FILE *f = input_fopen(path, err);

	struct stat st;

	*missing = !f && errno == ENOENT;
	if (!f)
		return NULL;
	if (fstat(fileno(f), &st) == 0 && (unsigned long long)st.st_size > REPORT_MAX_FILE) {
		fclose(f);
		cnn_errorf_plain(err, "%s: %lld bytes, more than a run's file can hold (%zu)", path,
		                 (long long)st.st_size, REPORT_MAX_FILE);
		return NULL;
	}
	do {
		if (len + 1 >= cap) {
			char *t = realloc(text, cap = cap ? 2 * cap : 65536);

			if (!t) {
				free(text);
				fclose(f);
				cnn_errorf_plain(err, "out of memory reading %s", path);
				return NULL;
			}
			text = t;
		}
		got = fread(text + len, 1, cap - len - 1, f);
		len += got;
	} while (got > 0 && len <= REPORT_MAX_FILE);
	text[len] = '\0';
	fclose(f);
	return text;
}

/* Splits line (modified in place) at commas into at most max fields. */
static int csv_fields(char *line, char **fields, int max)
{
	int n = 0;

	for (char *p = line; n < max; p++) {
		fields[n++] = p;
		p = strchr(p, ',');
		if (!p)
			break;
		*p = '\0';
	}
	return n;
}

/* A number field; empty means "no value" (NaN). */
static int csv_number(const char *field, double *out)
{
	char *end;

	if (!*field) {
		*out = NAN;
		return 0;
	}
	*out = strtod(field, &end);
	return *end ? -1 : 0;
}

static int count_lines(const char *text)
{
	int n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n + 1;
}

#define HISTORY_COLUMNS 7

static int history_row(struct epoch_record *e, char **f, int n)
{
	double v[HISTORY_COLUMNS];

	if (n != HISTORY_COLUMNS)
		return -1;
	for (int i = 0; i < n; i++)
		if (csv_number(f[i], &v[i]))
			return -1;
	/* epoch: a count; the rest finite and non-negative, NaN (empty) allowed
	 * where a run has no value (validation columns); accuracies in [0, 1]. */
	if (!(v[0] >= 1 && v[0] <= REPORT_MAX_EPOCHS && v[0] == floor(v[0])))
		return -1;
	for (int i = 1; i < n; i++)
		if (!isnan(v[i]) && (!isfinite(v[i]) || v[i] < 0 || ((i == 2 || i == 4) && v[i] > 1)))
			return -1;
	*e = (struct epoch_record){ (int)v[0], v[1], v[2], v[3], v[4], v[5], v[6] };
	return 0;
}

static int load_history(struct report_loaded *l, const char *dir, struct cnn_error *err)
{
	static const char header[] = "epoch,loss,accuracy,val_loss,val_accuracy,seconds,images_per_second";
	char path[4096], *text, *line, *next;
	bool missing;
	int n = 0, row = 1;

	snprintf(path, sizeof path, "%s/history.csv", dir);
	if (!(text = slurp(path, &missing, err)))
		return -1;
	l->history = calloc((size_t)count_lines(text), sizeof *l->history);
	if (!l->history) {
		free(text);
		return cnn_errorf_plain(err, "out of memory");
	}
	if (strncmp(text, header, sizeof header - 1)) {
		free(text);
		return cnn_errorf_plain(err, "%s: expected the header %s", path, header);
	}
	for (line = strchr(text, '\n'); line && *++line; line = next) {
		char *f[HISTORY_COLUMNS + 1];

		row++;
		next = strchr(line, '\n');
		if (next)
			*next = '\0';
		if (history_row(&l->history[n], f, csv_fields(line, f, HISTORY_COLUMNS + 1))) {
			free(text);
			return cnn_errorf(err, (struct cnn_loc){ path, row, 0 },
			                  "expected %d numbers per row (an epoch from 1, then finite values "
			                  "of at least 0, accuracies at most 1)", HISTORY_COLUMNS);
		}
		n++;
		if (!next)
			break;
	}
	free(text);
	l->r.history = l->history;
	l->r.n_epochs = n;
	return 0;
}

/* batches.csv: rows "epoch,batch,loss" in order; batches_per_epoch is the
 * largest batch number. */
static int load_batches(struct report_loaded *l, const char *dir, struct cnn_error *err)
{
	char path[4096], *text, *line, *next;
	bool missing;
	int n = 0, per = 0, row = 1;

	snprintf(path, sizeof path, "%s/batches.csv", dir);
	if (!(text = slurp(path, &missing, err)))
		return missing ? 0 : -1;
	l->batch_loss = malloc((size_t)count_lines(text) * sizeof *l->batch_loss);
	if (!l->batch_loss || strncmp(text, "epoch,batch,loss\n", 17)) {
		free(text);
		return cnn_errorf_plain(err, "%s: %s", path,
		                        l->batch_loss ? "expected the header epoch,batch,loss" : "out of memory");
	}
	for (line = text + 17; *line; line = next + 1) {
		char *f[4];
		double v[3];
		int k;

		row++;
		next = strchr(line, '\n');
		if (next)
			*next = '\0';
		k = csv_fields(line, f, 4);
		if (k != 3 || csv_number(f[0], &v[0]) || csv_number(f[1], &v[1]) ||
		    csv_number(f[2], &v[2]) || !(v[1] >= 1 && v[1] <= INT32_MAX && v[1] == floor(v[1])) ||
		    !(v[0] >= 1 && v[0] <= REPORT_MAX_EPOCHS) || !(isfinite(v[2]) && v[2] >= 0 && v[2] <= FLT_MAX)) {
			free(text);
			return cnn_errorf(err, (struct cnn_loc){ path, row, 0 }, "expected epoch,batch,loss");
		}
		per = (int)v[1] > per ? (int)v[1] : per;
		l->batch_loss[n++] = (float)v[2];
		if (!next)
			break;
	}
	free(text);
	l->r.batch_loss = l->batch_loss;
	l->r.n_batch_loss = n;
	l->r.batches_per_epoch = per;
	return 0;
}

static int load_mistakes(struct report_loaded *l, const char *dir, struct cnn_error *err)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/mistakes.bin", dir);
	if (access(path, F_OK) != 0)
		return 0;
	if (mistakes_read(path, &l->mistakes, err))
		return -1;
	l->r.mistakes = &l->mistakes;
	return 0;
}

int report_load(const char *dir, struct report_loaded **out, const struct run_result **r,
                struct cnn_error *err)
{
	struct report_loaded *l = calloc(1, sizeof *l);

	*out = NULL;
	*r = NULL;
	if (!l)
		return cnn_errorf_plain(err, "out of memory");
	if (strlen(dir) > 4000) {
		report_loaded_free(l);
		return cnn_errorf_plain(err, "run folder name too long");
	}
	if (load_metrics(l, dir, err) || load_history(l, dir, err) || load_batches(l, dir, err) ||
	    load_mistakes(l, dir, err)) {
		report_loaded_free(l);
		return -1;
	}
	*out = l;
	*r = &l->r;
	return 0;
}
