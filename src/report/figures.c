/* The run folder's pictures (see figures.h): the data a run_result holds,
 * turned into chart descriptions for plot/charts.c and a raster grid for
 * plot/png.c. */
#include "report/figures.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/charts.h"
#include "io/fileio.h"
#include "plot/file.h"
#include "plot/canvas.h"
#include "plot/png.h"

/* Training is blue and validation orange in every chart. A training
 * epoch's mean is drawn at mid-epoch, where the batches it averages are
 * centred (at the epoch's end it would sit above the smoothed per-batch
 * curve, and training would look worse than validation for no reason);
 * validation is measured after the epoch and drawn at its end. */
#define COLOR_TRAIN "#1f5fbf"
#define COLOR_TRAIN_EPOCH "#0b2c66"
#define COLOR_VAL "#e8710a"

/* The smoothed batch loss averages this share of an epoch's batches
 * (centred, so the curve does not lag behind the data). */
#define SMOOTH_EPOCH_FRACTION 0.1

static const char *const files[FIG_COUNT] = {
	[FIG_LOSS] = "loss.svg",
	[FIG_ACCURACY] = "accuracy.svg",
	[FIG_CONFUSION] = "confusion.svg",
	[FIG_MISTAKES] = "mistakes.png",
};

const char *figure_file(enum figure fig)
{
	return files[fig];
}

bool figure_available(const struct run_result *r, enum figure fig)
{
	switch (fig) {
	case FIG_LOSS:
	case FIG_ACCURACY:
		return r->n_epochs > 0 && r->history;
	case FIG_CONFUSION:
		/* Past 100 classes the cells are unreadable and the file huge
		 * (a 3,000-class matrix made 800 MB): metrics.json has them. */
		return r->test_confusion && r->test_confusion->k > 0 && r->test_confusion->k <= 100;
	case FIG_MISTAKES:
		return r->mistakes && r->mistakes->n > 0;
	default:
		return false;
	}
}

static const char *run_name(const struct run_result *r)
{
	return r->name ? r->name : "(unnamed)";
}

/* ------------------------------------------------------------------ */
/* Curves                                                               */

/* x, y arrays of the curves, freed together. */
struct curves {
	double *epoch, *mid_epoch, *loss, *accuracy, *val_loss, *val_accuracy;
	double *batch_x, *batch_y, *smooth_y;
	int n_epochs, n_batches, window;
};

static void curves_free(struct curves *c)
{
	free(c->epoch);
	free(c->mid_epoch);
	free(c->loss);
	free(c->accuracy);
	free(c->val_loss);
	free(c->val_accuracy);
	free(c->batch_x);
	free(c->batch_y);
	free(c->smooth_y);
}

/* Centred moving average over `window` batches (fewer at the ends), by
 * prefix sums so it costs one pass whatever the window. */
static void smooth(const double *y, double *out, int n, int window)
{
	double *sum = malloc(((size_t)n + 1) * sizeof *sum);
	int half = window / 2;

	if (!sum) {
		memcpy(out, y, (size_t)n * sizeof *out);
		return;
	}
	sum[0] = 0;
	for (int i = 0; i < n; i++)
		sum[i + 1] = sum[i] + y[i];
	for (int i = 0; i < n; i++) {
		int lo = i - half < 0 ? 0 : i - half, hi = i + half + 1 > n ? n : i + half + 1;

		out[i] = (sum[hi] - sum[lo]) / (hi - lo);
	}
	free(sum);
}

static int batch_curves(const struct run_result *r, struct curves *c)
{
	int n = r->batch_loss ? r->n_batch_loss : 0, per = r->batches_per_epoch;

	if (n == 0 || per <= 0)
		return 0;
	c->batch_x = malloc((size_t)n * sizeof *c->batch_x);
	c->batch_y = malloc((size_t)n * sizeof *c->batch_y);
	c->smooth_y = malloc((size_t)n * sizeof *c->smooth_y);
	if (!c->batch_x || !c->batch_y || !c->smooth_y)
		return -1;
	/* Batch b of epoch e ends at e + (b + 1) / per epochs. */
	for (int i = 0; i < n; i++) {
		c->batch_x[i] = i / per + (double)(i % per + 1) / per;
		c->batch_y[i] = r->batch_loss[i];
	}
	c->window = (int)lround(per * SMOOTH_EPOCH_FRACTION);
	if (c->window < 1)
		c->window = 1;
	smooth(c->batch_y, c->smooth_y, n, c->window);
	c->n_batches = n;
	return 0;
}

static int curves_build(const struct run_result *r, struct curves *c)
{
	size_t n = (size_t)r->n_epochs;

	memset(c, 0, sizeof *c);
	c->epoch = malloc(n * sizeof(double));
	c->mid_epoch = malloc(n * sizeof(double));
	c->loss = malloc(n * sizeof(double));
	c->accuracy = malloc(n * sizeof(double));
	c->val_loss = malloc(n * sizeof(double));
	c->val_accuracy = malloc(n * sizeof(double));
	if (!c->epoch || !c->mid_epoch || !c->loss || !c->accuracy || !c->val_loss || !c->val_accuracy)
		return -1;
	for (size_t i = 0; i < n; i++) {
		c->epoch[i] = r->history[i].epoch;
		c->mid_epoch[i] = r->history[i].epoch - 0.5;
		c->loss[i] = r->history[i].loss;
		c->accuracy[i] = r->history[i].accuracy;
		c->val_loss[i] = r->history[i].val_loss;
		c->val_accuracy[i] = r->history[i].val_accuracy;
	}
	c->n_epochs = r->n_epochs;
	return batch_curves(r, c);
}

static bool any_finite(const double *v, int n)
{
	for (int i = 0; i < n; i++)
		if (isfinite(v[i]))
			return true;
	return false;
}

static int draw_loss(FILE *f, const void *ctx, struct cnn_error *err)
{
	const struct run_result *r = ctx;
	struct chart_series s[4];
	struct curves c;
	char title[160], smooth_label[96];
	int n = 0;

	if (curves_build(r, &c)) {
		curves_free(&c);
		return cnn_errorf_plain(err, "out of memory drawing loss.svg");
	}
	if (c.n_batches) {
		s[n++] = (struct chart_series){
			.label = "training loss per batch", .x = c.batch_x, .y = c.batch_y,
			.n = c.n_batches, .color = COLOR_TRAIN, .width = 1, .opacity = 0.28,
			.background = true,
		};
		snprintf(smooth_label, sizeof smooth_label, "smoothed (mean of %d batches)", c.window);
		s[n++] = (struct chart_series){
			.label = smooth_label, .x = c.batch_x, .y = c.smooth_y,
			.n = c.n_batches, .color = COLOR_TRAIN, .width = 2, .opacity = 1,
		};
	}
	s[n++] = (struct chart_series){
		.label = "training loss, epoch mean (mid-epoch)", .x = c.mid_epoch, .y = c.loss,
		.n = c.n_epochs,
		.color = COLOR_TRAIN_EPOCH, .width = 1.5, .opacity = 1, .markers = true,
	};
	if (any_finite(c.val_loss, c.n_epochs))
		s[n++] = (struct chart_series){
			.label = "validation loss (end of epoch)", .x = c.epoch, .y = c.val_loss,
			.n = c.n_epochs, .color = COLOR_VAL, .width = 2, .opacity = 1,
			.markers = true,
		};
	snprintf(title, sizeof title, "%s: loss", run_name(r));
	chart_line_svg(f, &(struct line_chart){
		.title = title, .x_label = "epoch", .y_label = "loss",
		.y_scale = CHART_SCALE_AUTO, .x_integer = true, .x_min = 0,
		.series = s, .n_series = n,
	});
	curves_free(&c);
	return 0;
}

static int draw_accuracy(FILE *f, const void *ctx, struct cnn_error *err)
{
	const struct run_result *r = ctx;
	struct chart_series s[2];
	struct curves c;
	char title[160];
	int n = 0;

	if (curves_build(r, &c)) {
		curves_free(&c);
		return cnn_errorf_plain(err, "out of memory drawing accuracy.svg");
	}
	s[n++] = (struct chart_series){
		.label = "training accuracy, epoch mean (mid-epoch)", .x = c.mid_epoch,
		.y = c.accuracy, .n = c.n_epochs, .color = COLOR_TRAIN, .width = 2,
		.opacity = 1, .markers = true,
	};
	if (any_finite(c.val_accuracy, c.n_epochs))
		s[n++] = (struct chart_series){
			.label = "validation accuracy (end of epoch)", .x = c.epoch,
			.y = c.val_accuracy, .n = c.n_epochs, .color = COLOR_VAL, .width = 2,
			.opacity = 1, .markers = true,
		};
	snprintf(title, sizeof title, "%s: accuracy", run_name(r));
	chart_line_svg(f, &(struct line_chart){
		.title = title, .x_label = "epoch", .y_label = "accuracy",
		.y_scale = CHART_SCALE_LINEAR, .x_integer = true, .x_min = 0,
		.series = s, .n_series = n,
	});
	curves_free(&c);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Confusion matrix                                                     */

static int draw_confusion(FILE *f, const void *ctx, struct cnn_error *err)
{
	const struct run_result *r = ctx;
	const struct confusion *cm = r->test_confusion;
	int64_t correct = 0, total = confusion_total(cm);
	char title[200];

	(void)err;
	for (int i = 0; i < cm->k; i++)
		correct += cm->m[(size_t)i * (size_t)cm->k + (size_t)i];
	snprintf(title, sizeof title, "%s: test confusion matrix (accuracy %.4f, %lld/%lld)",
	         run_name(r), confusion_accuracy(cm), (long long)correct, (long long)total);
	chart_heat_map_svg(f, &(struct heat_map){
		.title = title, .x_label = "predicted class", .y_label = "true class",
		.k = cm->k, .v = cm->m, .names = r->class_names,
		.note = "Blue: share of the true class (row) predicted right. Red: mistakes, "
		        "darkest for the most frequent confusion.",
	});
	return 0;
}

/* ------------------------------------------------------------------ */
/* Mistakes grid                                                        */

#define GRID_COLS 6
#define TEXT_SCALE 2
#define LINE_H ((FONT_H + 3) * TEXT_SCALE)
#define PAD 8

static const struct rgb white = { 255, 255, 255 }, ink = { 31, 41, 55 },
	muted = { 107, 114, 128 }, wrong = { 198, 40, 40 }, right = { 30, 120, 60 },
	frame = { 200, 204, 210 };

static const char *mistake_class(const struct run_result *r, int i, char *buf, size_t len)
{
	if (r->class_names && r->test_confusion && i >= 0 && i < r->test_confusion->k &&
	    r->class_names[i])
		return r->class_names[i];
	snprintf(buf, len, "%d", i);
	return buf;
}

/* text cut to at most `chars` characters, into buf. */
static const char *fit(const char *text, int chars, char *buf, size_t len)
{
	if (text != buf)
		snprintf(buf, len, "%s", text);
	if (chars >= 0 && (size_t)chars < len)
		buf[chars] = '\0';
	return buf;
}

struct grid {
	int scale, cell_w, cell_h, cols, rows, head_h;
};

static void plan_grid(const struct mistakes *m, struct grid *g)
{
	int side = m->h > m->w ? m->h : m->w;

	/* Images at least 112 pixels across (MNIST's 28 at 4x). */
	g->scale = side >= 112 ? 1 : (112 + side - 1) / side;
	g->cell_w = m->w * g->scale + 2 * PAD;
	if (g->cell_w < 8 * FONT_ADVANCE * TEXT_SCALE + 2 * PAD)
		g->cell_w = 8 * FONT_ADVANCE * TEXT_SCALE + 2 * PAD;
	g->cell_h = m->h * g->scale + 2 * LINE_H + 2 * PAD;
	g->cols = m->n < GRID_COLS ? m->n : GRID_COLS;
	g->rows = (m->n + g->cols - 1) / g->cols;
	g->head_h = 3 * LINE_H + PAD;
}

static void draw_cell(struct canvas *im, const struct run_result *r, const struct grid *g,
                      const struct mistake *k, int x, int y)
{
	const struct mistakes *m = r->mistakes;
	int chars = (g->cell_w - 2 * PAD) / (FONT_ADVANCE * TEXT_SCALE);
	int img_w = m->w * g->scale, img_h = m->h * g->scale;
	int ix = x + (g->cell_w - img_w) / 2, ty = y + PAD + img_h + 4;
	char a[32], b[32], line[80];
	int tx;

	canvas_fill(im, ix - 1, y + PAD - 1, img_w + 2, img_h + 2, frame);
	canvas_blit(im, ix, y + PAD, k->pixels, m->c, m->h, m->w, g->scale);
	/* "7 > 2": the true class, then the predicted one in red; long
	 * names are cut so that both halves fit the cell. */
	fit(mistake_class(r, k->truth, a, sizeof a), (chars - 3) / 2, a, sizeof a);
	fit(mistake_class(r, k->pred, b, sizeof b), (chars - 3) / 2, b, sizeof b);
	snprintf(line, sizeof line, "%s > %s", a, b);
	tx = x + (g->cell_w - font_text_width(line, TEXT_SCALE)) / 2;
	tx = font_draw(im, tx, ty, a, TEXT_SCALE, right);
	tx = font_draw(im, tx, ty, " > ", TEXT_SCALE, muted);
	font_draw(im, tx, ty, b, TEXT_SCALE, wrong);
	/* Rounded down: 0.99996 shows as 99.9%, since "100.0%" would claim a
	 * certainty the softmax never reaches. */
	snprintf(line, sizeof line, "%.1f%%", floor(1000.0 * k->confidence) / 10);
	font_draw(im, x + (g->cell_w - font_text_width(line, TEXT_SCALE)) / 2, ty + LINE_H, line,
	          TEXT_SCALE, ink);
}

int figure_mistakes_image(const struct run_result *r, struct canvas *out)
{
	const struct mistakes *m = r->mistakes;
	struct grid g;
	char line[160];
	int width;

	plan_grid(m, &g);
	width = g.cols * g.cell_w + 2 * PAD;
	snprintf(line, sizeof line, "%s: the %d most confident test mistakes", run_name(r), m->n);
	if (font_text_width(line, TEXT_SCALE) + 2 * PAD > width)
		width = font_text_width(line, TEXT_SCALE) + 2 * PAD;
	if (canvas_create(out, width, g.head_h + g.rows * g.cell_h + PAD, white))
		return -1;
	font_draw(out, PAD, PAD, line, TEXT_SCALE, ink);
	font_draw(out, PAD, PAD + LINE_H, "true > predicted, confidence", TEXT_SCALE, muted);
	for (int i = 0; i < m->n; i++)
		draw_cell(out, r, &g, &m->items[i], PAD + (i % g.cols) * g.cell_w,
		          g.head_h + (i / g.cols) * g.cell_h);
	return 0;
}

static int draw_mistakes(FILE *f, const void *ctx, struct cnn_error *err)
{
	const struct run_result *r = ctx;
	struct canvas im;
	int rc;

	if (figure_mistakes_image(r, &im))
		return cnn_errorf_plain(err, "out of memory drawing mistakes.png");
	rc = png_write(f, im.rgb, im.width, im.height, 3, err);
	canvas_free(&im);
	return rc;
}

/* ------------------------------------------------------------------ */

int figures_write(const char *dir, const struct run_result *r, struct cnn_error *err)
{
	static const atomic_writer draw[FIG_COUNT] = {
		[FIG_LOSS] = draw_loss,
		[FIG_ACCURACY] = draw_accuracy,
		[FIG_CONFUSION] = draw_confusion,
		[FIG_MISTAKES] = draw_mistakes,
	};
	char path[4096];

	for (int i = 0; i < FIG_COUNT; i++) {
		if (!figure_available(r, (enum figure)i))
			continue;
		if (plot_join(path, sizeof path, dir, files[i], err) ||
		    atomic_write_with(path, draw[i], r, err))
			return -1;
	}
	return 0;
}
