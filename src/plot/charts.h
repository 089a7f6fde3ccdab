/* Charts drawn with the SVG writer: line charts (loss and accuracy curves,
 * run comparisons) and heat maps (confusion matrices), with the axis
 * arithmetic they share (nice ticks, the choice of a log scale). */
#ifndef CNN_PLOT_CHARTS_H
#define CNN_PLOT_CHARTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CHART_MAX_TICKS 24
/* A loss axis goes logarithmic when its largest value is at least this many
 * times its smallest: below one decade a log axis only makes the ticks
 * harder to read, above it a linear one squashes the interesting end of a
 * curve (the last epochs) into a flat line at the bottom. */
#define CHART_LOG_RATIO 10.0

/* The ticks of one axis: values, their shared number format and the axis
 * range they span (lo and hi are themselves ticks on a linear axis). */
struct axis_ticks {
	int n;
	double v[CHART_MAX_TICKS];
	double lo, hi;
	bool log;
	int decimals;           /* linear: digits after the point for every label */
};

/* Linear ticks covering [lo, hi] at a "nice" step (1, 2 or 5 times a power
 * of ten), about `target` of them (Heckbert's "Nice numbers for graph
 * labels", Graphics Gems, 1990). integer: no step below 1 (epochs). */
void chart_nice_ticks(double lo, double hi, int target, bool integer, struct axis_ticks *t);
/* Log ticks for [lo, hi], lo > 0: 1, 2, 5 times each power of ten when the
 * range spans few decades, the powers of ten alone when it spans many. The
 * axis range is [lo, hi] widened by 5% of the span on each side. */
void chart_log_ticks(double lo, double hi, struct axis_ticks *t);
/* A tick label: "0.25", "3", "1e-05". */
void chart_tick_label(const struct axis_ticks *t, double v, char *buf, size_t len);
/* Whether values in [min, max] want a log axis (see CHART_LOG_RATIO). */
bool chart_wants_log(double min, double max);

/* A colour for series i, from a palette chosen to stay apart in print and
 * for the common colour blindnesses (blue, orange, green, purple, ...). */
const char *chart_color(int i);

struct chart_series {
	const char *label;      /* NULL: not in the legend */
	const double *x, *y;    /* n points; a NaN is a gap in the line */
	int n;
	const char *color;
	double width;           /* line width, pixels; 0: no line (markers only) */
	double opacity;         /* 0 is taken as 1 */
	bool markers;           /* a dot on every point */
	bool dashed;
	/* Context (a noisy per-batch line behind its smoothed version): its
	 * lowest 2% of values do not stretch the y axis (they are clipped),
	 * and it gets no markers. */
	bool background;
};

enum chart_scale { CHART_SCALE_AUTO, CHART_SCALE_LINEAR, CHART_SCALE_LOG };

struct line_chart {
	const char *title;
	const char *x_label, *y_label;
	int width, height;      /* pixels; 0: 800 x 480 */
	enum chart_scale y_scale;  /* AUTO: log when chart_wants_log() says so */
	bool x_integer;         /* x ticks on whole numbers (epochs) */
	double x_min;           /* NaN: the data's smallest x */
	const struct chart_series *series;
	int n_series;
};

/* The whole SVG document of a line chart on f. Returns whether the y axis
 * ended up logarithmic (tests and callers may say so in captions). */
bool chart_line_svg(FILE *f, const struct line_chart *c);

struct heat_map {
	const char *title;
	const char *x_label, *y_label;   /* "predicted", "true" */
	int k;                  /* rows = columns */
	const int64_t *v;       /* (k, k): v[row * k + col] */
	const char *const *names;  /* k labels for rows and columns; NULL: 0, 1, ... */
	const char *note;       /* a line under the map; NULL: none */
};

/* A confusion matrix as a heat map, the count written in each cell when it
 * fits. Diagonal cells (right) are blue by the share of their row (the
 * true class's recall); off-diagonal cells (mistakes) are red by their
 * share of the row relative to the largest such share in the matrix, so
 * the most frequent confusion is the darkest red however rare mistakes
 * are overall. */
void chart_heat_map_svg(FILE *f, const struct heat_map *h);

#endif
