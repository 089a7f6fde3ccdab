/* `cnnrun compare RUN_DIR...`: one table of the runs' headline numbers on
 * stdout and one chart of their validation accuracy per epoch, to choose
 * between configs after a few runs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "runner/runner.h"

#include "plot/charts.h"
#include "io/fileio.h"
#include "runner/runfolder.h"

struct compared {
	const char *dir;
	struct report_loaded *loaded;
	const struct run_result *r;
	double *epoch, *acc;    /* the curve drawn: validation accuracy, or training's */
	bool train_only;        /* the run had no validation set */
	char label[128];
};

static void compared_free(struct compared *c, int n)
{
	for (int i = 0; i < n; i++) {
		report_loaded_free(c[i].loaded);
		free(c[i].epoch);
		free(c[i].acc);
	}
	free(c);
}

static int curve(struct compared *c)
{
	const struct run_result *r = c->r;
	int n = r->n_epochs;

	c->epoch = malloc((size_t)(n ? n : 1) * sizeof *c->epoch);
	c->acc = malloc((size_t)(n ? n : 1) * sizeof *c->acc);
	if (!c->epoch || !c->acc)
		return -1;
	c->train_only = true;
	for (int i = 0; i < n; i++)
		if (isfinite(r->history[i].val_accuracy))
			c->train_only = false;
	for (int i = 0; i < n; i++) {
		c->epoch[i] = r->history[i].epoch;
		c->acc[i] = c->train_only ? r->history[i].accuracy : r->history[i].val_accuracy;
	}
	return 0;
}

/* The config name, with the folder when two runs share a name. */
static void make_labels(struct compared *c, int n)
{
	for (int i = 0; i < n; i++) {
		const char *name = c[i].r->name ? c[i].r->name : "?";
		bool shared = false;

		for (int j = 0; j < n; j++)
			if (j != i && c[j].r->name && !strcmp(name, c[j].r->name))
				shared = true;
		snprintf(c[i].label, sizeof c[i].label, "%s%s%s%s%s", name, shared ? " (" : "",
		         shared ? c[i].dir : "", shared ? ")" : "", c[i].train_only ? " [train]" : "");
	}
}

static void print_table(FILE *out, const struct compared *c, int n)
{
	int w = (int)strlen("run");

	for (int i = 0; i < n; i++)
		w = (int)strlen(c[i].label) > w ? (int)strlen(c[i].label) : w;
	fprintf(out, "%-*s  %10s  %6s  %9s  %8s  %8s  %s\n", w, "run", "parameters", "epochs",
	        "time (s)", "test acc", "macro F1", "folder");
	for (int i = 0; i < n; i++) {
		const struct run_result *r = c[i].r;
		struct class_metrics macro = { 0 };

		if (r->test_confusion)
			confusion_macro(r->test_confusion, &macro);
		fprintf(out, "%-*s  %10ld  %6d  %9.1f  %8.4f  ", w, c[i].label, r->n_params,
		        r->n_epochs, r->train_seconds, r->test_accuracy);
		if (r->test_confusion)
			fprintf(out, "%8.4f  %s\n", macro.f1, c[i].dir);
		else
			fprintf(out, "%8s  %s\n", "-", c[i].dir);
	}
}

struct chart_ctx {
	const struct compared *c;
	int n;
};

static int draw(FILE *f, const void *ctx, struct cnn_error *err)
{
	const struct chart_ctx *cc = ctx;
	struct chart_series *s = calloc((size_t)cc->n, sizeof *s);
	char title[96];

	if (!s)
		return cnn_errorf_plain(err, "out of memory");
	for (int i = 0; i < cc->n; i++)
		s[i] = (struct chart_series){
			.label = cc->c[i].label, .x = cc->c[i].epoch, .y = cc->c[i].acc,
			.n = cc->c[i].r->n_epochs, .color = chart_color(i), .width = 2,
			.opacity = 1, .markers = true, .dashed = cc->c[i].train_only,
		};
	snprintf(title, sizeof title, "Validation accuracy of %d run%s", cc->n, cc->n == 1 ? "" : "s");
	chart_line_svg(f, &(struct line_chart){
		.title = title, .x_label = "epoch", .y_label = "validation accuracy",
		.y_scale = CHART_SCALE_LINEAR, .x_integer = true, .x_min = NAN,
		.series = s, .n_series = cc->n,
	});
	free(s);
	return 0;
}

int run_compare(const char *const *dirs, int n, const char *svg_path, FILE *out,
                struct cnn_error *err)
{
	struct compared *c = calloc((size_t)n, sizeof *c);
	int status = CNN_FAILED;

	if (!c) {
		cnn_errorf_plain(err, "out of memory");
		return CNN_FAILED;
	}
	/* The chart replaces its name: never one of the runs' own files. */
	for (int i = 0; i < n; i++)
		if (run_folder_owns(dirs[i], svg_path)) {
			cnn_errorf(err, (struct cnn_loc){ svg_path, 0, 0 }, "--out would replace a file of run "
			           "folder %s, an input of this comparison; choose another file name", dirs[i]);
			free(c);
			return CNN_BAD_CONFIG;
		}
	for (int i = 0; i < n; i++) {
		c[i].dir = dirs[i];
		if (report_load(dirs[i], &c[i].loaded, &c[i].r, err))
			goto out;
		if (curve(&c[i])) {
			cnn_errorf_plain(err, "out of memory");
			goto out;
		}
	}
	make_labels(c, n);
	print_table(out, c, n);
	if (atomic_write_with(svg_path, draw, &(struct chart_ctx){ c, n }, err))
		goto out;
	fprintf(out, "validation accuracy curves: %s\n", svg_path);
	status = CNN_OK;
out:
	compared_free(c, n);
	return status;
}
