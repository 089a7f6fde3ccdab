/* Line charts and heat maps (see charts.h). The layout is fixed margins
 * around a plot area; everything in data units goes through one mapping,
 * struct frame, so axes, grid lines and curves always agree. */
#include "plot/charts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/svg.h"

#define FONT_TITLE 16
#define FONT_LABEL 13
#define FONT_TICK 12
/* An estimate of a sans-serif character's width at FONT_TICK: SVG cannot
 * measure text, so label widths are guessed from their lengths. */
#define CHAR_W(size) (0.6 * (size))

#define INK "#1f2937"
#define MUTED "#4b5563"
#define GRID "#e5e7eb"
#define FRAME "#9ca3af"

/* ------------------------------------------------------------------ */
/* Ticks                                                                */

/* The nice number (1, 2, 5 or 10 times a power of ten) near x: the nearest
 * one if round, else the smallest one >= x. */
static double nice_number(double x, bool round)
{
	double e = floor(log10(x)), f = x / pow(10, e), nf;

	if (round)
		nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
	else
		nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
	return nf * pow(10, e);
}

void chart_nice_ticks(double lo, double hi, int target, bool integer, struct axis_ticks *t)
{
	double step, first, last;

	if (!isfinite(lo) || !isfinite(hi)) {
		lo = 0;
		hi = 1;
	}
	if (hi < lo) {
		double tmp = lo;
		lo = hi;
		hi = tmp;
	}
	/* A flat series still needs an axis with some height. */
	if (hi - lo < 1e-12 * (fabs(lo) + fabs(hi)) || hi == lo) {
		double pad = lo != 0 ? fabs(lo) * 0.1 : 1;
		lo -= pad;
		hi += pad;
	}
	if (target < 2)
		target = 2;
	step = nice_number(nice_number(hi - lo, false) / (target - 1), true);
	if (integer && step < 1)
		step = 1;
	first = floor(lo / step) * step;
	last = ceil(hi / step) * step;
	/* Rounding can make the count exceed the array; a coarser step fixes it. */
	while ((last - first) / step + 1.5 > CHART_MAX_TICKS) {
		step = nice_number(step * 1.5, false);
		first = floor(lo / step) * step;
		last = ceil(hi / step) * step;
	}
	t->log = false;
	t->n = (int)floor((last - first) / step + 0.5) + 1;
	for (int i = 0; i < t->n; i++) {
		double v = first + i * step;

		/* 0.1 + 2 * 0.1 is not 0.3: snap to the step's grid, and
		 * keep -0 from printing as "-0.0". */
		v = round(v / step) * step;
		t->v[i] = fabs(v) < step * 1e-9 ? 0 : v;
	}
	t->lo = t->v[0];
	t->hi = t->v[t->n - 1];
	t->decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
}

void chart_log_ticks(double lo, double hi, struct axis_ticks *t)
{
	static const double mantissas[] = { 1, 2, 5 };
	double llo, lhi, pad;
	bool fine;

	if (!(lo > 0) || !isfinite(hi) || hi <= lo) {
		if (!(lo > 0))
			lo = 1e-3;
		if (!(hi > lo))
			hi = lo * 10;
	}
	llo = log10(lo);
	lhi = log10(hi);
	pad = 0.05 * (lhi - llo);
	t->log = true;
	t->decimals = 0;
	t->lo = pow(10, llo - pad);
	t->hi = pow(10, lhi + pad);
	/* Up to three decades, 1-2-5 gives 4 to 10 labels; beyond, too many. */
	fine = lhi - llo <= 3;
	t->n = 0;
	for (int e = (int)floor(llo - pad); e <= (int)ceil(lhi + pad); e++) {
		for (int m = 0; m < (fine ? 3 : 1); m++) {
			double v = mantissas[m] * pow(10, e);

			if (v >= t->lo * (1 - 1e-9) && v <= t->hi * (1 + 1e-9) && t->n < CHART_MAX_TICKS)
				t->v[t->n++] = v;
		}
	}
}

void chart_tick_label(const struct axis_ticks *t, double v, char *buf, size_t len)
{
	if (t->log)
		snprintf(buf, len, "%g", v);
	else
		snprintf(buf, len, "%.*f", t->decimals, v);
}

bool chart_wants_log(double min, double max)
{
	return min > 0 && isfinite(max) && max / min >= CHART_LOG_RATIO;
}

const char *chart_color(int i)
{
	static const char *const palette[] = {
		"#1f5fbf", "#e8710a", "#1e8e3e", "#8e44ad", "#d62728",
		"#00838f", "#a0522d", "#c2185b", "#5f6368", "#7cb342",
	};
	int n = (int)(sizeof palette / sizeof palette[0]);

	return palette[((i % n) + n) % n];
}

/* ------------------------------------------------------------------ */
/* Line charts                                                          */

/* The plot area in pixels and the data ranges mapped onto it. */
struct frame {
	double left, top, width, height;
	struct axis_ticks xt, yt;
};

static double map_x(const struct frame *fr, double x)
{
	return fr->left + (x - fr->xt.lo) / (fr->xt.hi - fr->xt.lo) * fr->width;
}

static double map_y(const struct frame *fr, double y)
{
	double lo = fr->yt.lo, hi = fr->yt.hi;

	if (fr->yt.log) {
		if (!(y > 0))
			return NAN;
		y = log10(y);
		lo = log10(lo);
		hi = log10(hi);
	}
	return fr->top + fr->height - (y - lo) / (hi - lo) * fr->height;
}

/* At most this many points of one series go into the file: a line of
 * 30,000 batches is no better to look at than one of 2,000 bin means, and
 * ten times the size. The axes are fitted to the same bin means. */
#define MAX_DRAWN_POINTS 2000

static int series_bin(const struct chart_series *cs)
{
	int bin = (cs->n + MAX_DRAWN_POINTS - 1) / MAX_DRAWN_POINTS;

	return bin < 1 ? 1 : bin;
}

/* The mean x and y of the bin starting at point i (NaN if it holds a gap). */
static void bin_mean(const struct chart_series *cs, int bin, int i, double *x, double *y)
{
	int end = i + bin < cs->n ? i + bin : cs->n;
	double sx = 0, sy = 0;

	for (int j = i; j < end; j++) {
		sx += cs->x[j];
		sy += cs->y[j];
	}
	*x = sx / (end - i);
	*y = sy / (end - i);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The BACKGROUND_LOW_PERCENTILE-th percentile of a background series' y
 * (bin means) as its low end: its rare lowest values are noise (a batch
 * that happened to be easy) and would stretch a log axis by decades. */
#define BACKGROUND_LOW_PERCENTILE 2
static bool background_low(const struct chart_series *cs, bool positive_only, double *low)
{
	int bin = series_bin(cs), m = 0;
	double *v = malloc((size_t)(cs->n / bin + 1) * sizeof *v), x, y;

	if (!v)
		return false;
	for (int i = 0; i < cs->n; i += bin) {
		bin_mean(cs, bin, i, &x, &y);
		if (isfinite(y) && (!positive_only || y > 0))
			v[m++] = y;
	}
	if (m > 0) {
		qsort(v, (size_t)m, sizeof *v, cmp_double);
		*low = v[(size_t)m * BACKGROUND_LOW_PERCENTILE / 100];
	}
	free(v);
	return m > 0;
}

/* The smallest and largest finite values of every series' x or y (bin
 * means, as drawn); for a log axis (positive_only) only those above zero. */
static bool data_range(const struct line_chart *c, bool want_y, bool positive_only,
                       double *lo, double *hi)
{
	bool any = false;

	*lo = INFINITY;
	*hi = -INFINITY;
	for (int s = 0; s < c->n_series; s++) {
		const struct chart_series *cs = &c->series[s];
		int bin = series_bin(cs);
		double low, x, y, v;

		for (int i = 0; i < cs->n; i += bin) {
			bin_mean(cs, bin, i, &x, &y);
			v = want_y ? y : x;
			if (!isfinite(v) || (positive_only && v <= 0))
				continue;
			if (!(want_y && cs->background))
				*lo = fmin(*lo, v);
			*hi = fmax(*hi, v);
			any = true;
		}
		if (want_y && cs->background && background_low(cs, positive_only, &low))
			*lo = fmin(*lo, low);
	}
	return any;
}

static void plan_axes(const struct line_chart *c, struct frame *fr)
{
	double lo, hi;
	bool log_y;

	if (!data_range(c, false, false, &lo, &hi)) {
		lo = 0;
		hi = 1;
	}
	if (isfinite(c->x_min))
		lo = c->x_min;
	chart_nice_ticks(lo, hi, 8, c->x_integer, &fr->xt);
	/* The x axis ends where the data does (epoch 15, not 16): drop the
	 * ticks that rounding put outside. */
	if (hi > lo) {
		int n = 0;

		for (int i = 0; i < fr->xt.n; i++)
			if (fr->xt.v[i] >= lo - 1e-9 * (hi - lo) && fr->xt.v[i] <= hi + 1e-9 * (hi - lo))
				fr->xt.v[n++] = fr->xt.v[i];
		fr->xt.n = n;
		fr->xt.lo = lo;
		fr->xt.hi = hi;
	}

	if (!data_range(c, true, false, &lo, &hi)) {
		lo = 0;
		hi = 1;
	}
	log_y = c->y_scale == CHART_SCALE_LOG ||
	        (c->y_scale == CHART_SCALE_AUTO && chart_wants_log(lo, hi));
	if (log_y && data_range(c, true, true, &lo, &hi))
		chart_log_ticks(lo, hi, &fr->yt);
	else
		chart_nice_ticks(lo, hi, 6, false, &fr->yt);
}

static void draw_axes(struct svg *s, const struct line_chart *c, const struct frame *fr)
{
	const struct svg_stroke grid = { GRID, 1, 1, false };
	const struct svg_stroke frame = { FRAME, 1, 1, false };
	double bottom = fr->top + fr->height;
	char label[32];

	for (int i = 0; i < fr->yt.n; i++) {
		double y = map_y(fr, fr->yt.v[i]);

		svg_line(s, fr->left, y, fr->left + fr->width, y, &grid);
		svg_line(s, fr->left - 4, y, fr->left, y, &frame);
		chart_tick_label(&fr->yt, fr->yt.v[i], label, sizeof label);
		svg_text(s, fr->left - 7, y + FONT_TICK * 0.35, FONT_TICK, SVG_END, MUTED, 0, false, label);
	}
	for (int i = 0; i < fr->xt.n; i++) {
		double x = map_x(fr, fr->xt.v[i]);

		svg_line(s, x, fr->top, x, bottom, &grid);
		svg_line(s, x, bottom, x, bottom + 4, &frame);
		chart_tick_label(&fr->xt, fr->xt.v[i], label, sizeof label);
		svg_text(s, x, bottom + 18, FONT_TICK, SVG_MIDDLE, MUTED, 0, false, label);
	}
	svg_rect(s, fr->left, fr->top, fr->width, fr->height, NULL, &frame);
	if (c->x_label)
		svg_text(s, fr->left + fr->width / 2, bottom + 40, FONT_LABEL, SVG_MIDDLE, INK, 0,
		         false, c->x_label);
	if (c->y_label) {
		char buf[160];

		snprintf(buf, sizeof buf, "%s%s", c->y_label, fr->yt.log ? " (log scale)" : "");
		svg_text(s, 18, fr->top + fr->height / 2, FONT_LABEL, SVG_MIDDLE, INK, -90, false, buf);
	}
	if (c->title)
		svg_text(s, fr->left, 28, FONT_TITLE, SVG_START, INK, 0, true, c->title);
}

/* The pixel positions of a series' bin means, x in [0, m) and y in
 * [MAX_DRAWN_POINTS, + m); *m gets the count. NULL on out of memory. */
static double *series_pixels(const struct frame *fr, const struct chart_series *cs, int *m)
{
	int bin = series_bin(cs);
	double *p = malloc(2 * (size_t)MAX_DRAWN_POINTS * sizeof *p), x, y;

	*m = 0;
	if (!p)
		return NULL;
	for (int i = 0; i < cs->n && *m < MAX_DRAWN_POINTS; i += bin, ++*m) {
		bin_mean(cs, bin, i, &x, &y);
		p[*m] = map_x(fr, x);
		p[MAX_DRAWN_POINTS + *m] = map_y(fr, y);
	}
	return p;
}

static void draw_series(struct svg *s, const struct frame *fr, const struct chart_series *cs,
                        bool markers)
{
	struct svg_stroke st = { cs->color, cs->width, cs->opacity, cs->dashed };
	const struct svg_stroke ring = { "white", 1, 1, false };
	int m;
	double *p = series_pixels(fr, cs, &m);

	if (!p)
		return;
	if (!markers && cs->width > 0)
		svg_polyline(s, p, p + MAX_DRAWN_POINTS, m, &st);
	if (markers && cs->markers)
		for (int i = 0; i < m; i++)
			svg_circle(s, p[i], p[MAX_DRAWN_POINTS + i], 3.5, cs->color, &ring);
	free(p);
}

/* Legend geometry for a corner: 0 top right, 1 bottom right, 2 top left, 3 bottom left. */
static void legend_box(const struct frame *fr, int corner, double w, double h, double *x, double *y)
{
	*x = corner < 2 ? fr->left + fr->width - w - 8 : fr->left + 8;
	*y = corner % 2 == 0 ? fr->top + 8 : fr->top + fr->height - h - 8;
}

static bool inside(double x, double y, double bx, double by, double w, double h)
{
	return x >= bx && x <= bx + w && y >= by && y <= by + h;
}

/* How much of the data a legend in that box would hide: points, and
 * points along the lines between them (a chart of three epochs has few
 * points but long lines). */
static int points_under(const struct line_chart *c, const struct frame *fr, double bx, double by,
                        double w, double h)
{
	int hidden = 0;

	for (int s = 0; s < c->n_series; s++) {
		const struct chart_series *cs = &c->series[s];
		int step = cs->n > 200 ? cs->n / 200 : 1;

		for (int i = 0; i < cs->n; i += step) {
			double x = map_x(fr, cs->x[i]), y = map_y(fr, cs->y[i]);
			int j = i + step < cs->n ? i + step : i;
			double x2 = map_x(fr, cs->x[j]), y2 = map_y(fr, cs->y[j]);

			for (int k = 0; k < 16; k++)
				hidden += inside(x + (x2 - x) * k / 16, y + (y2 - y) * k / 16, bx, by, w, h);
		}
	}
	return hidden;
}

/* The legend goes in the corner of the plot where it covers the fewest points. */
static void draw_legend(struct svg *s, const struct line_chart *c, const struct frame *fr)
{
	const struct svg_stroke box = { FRAME, 1, 1, false };
	double w = 0, h, x, y;
	int n = 0, best = 0, least = -1;

	for (int i = 0; i < c->n_series; i++) {
		if (!c->series[i].label)
			continue;
		n++;
		w = fmax(w, CHAR_W(FONT_TICK) * (double)strlen(c->series[i].label));
	}
	if (n == 0)
		return;
	w += 48;
	h = 20.0 * n + 10;
	for (int corner = 0; corner < 4; corner++) {
		int hidden;

		legend_box(fr, corner, w, h, &x, &y);
		hidden = points_under(c, fr, x, y, w, h);
		if (least < 0 || hidden < least) {
			least = hidden;
			best = corner;
		}
	}
	legend_box(fr, best, w, h, &x, &y);
	fputs("<g fill-opacity=\"0.9\">\n", s->f);
	svg_rect(s, x, y, w, h, "white", &box);
	fputs("</g>\n", s->f);
	n = 0;
	for (int i = 0; i < c->n_series; i++) {
		const struct chart_series *cs = &c->series[i];
		struct svg_stroke st = { cs->color, cs->width > 0 ? fmax(cs->width, 2) : 0,
		                         cs->opacity, cs->dashed };
		double ly = y + 15 + 20.0 * n;

		if (!cs->label)
			continue;
		if (cs->width > 0)
			svg_line(s, x + 8, ly, x + 34, ly, &st);
		if (cs->markers)
			svg_circle(s, x + 21, ly, 3.5, cs->color, NULL);
		svg_text(s, x + 40, ly + FONT_TICK * 0.35, FONT_TICK, SVG_START, INK, 0, false, cs->label);
		n++;
	}
}

bool chart_line_svg(FILE *f, const struct line_chart *c)
{
	struct svg s;
	struct frame fr;
	int width = c->width > 0 ? c->width : 800, height = c->height > 0 ? c->height : 480;
	int clip;

	fr.left = 78;
	fr.top = 46;
	fr.width = width - fr.left - 24;
	fr.height = height - fr.top - 58;
	plan_axes(c, &fr);
	svg_begin(&s, f, width, height);
	draw_axes(&s, c, &fr);
	clip = svg_define_clip(&s, fr.left, fr.top, fr.width, fr.height);
	svg_begin_clip(&s, clip);
	for (int i = 0; i < c->n_series; i++)
		draw_series(&s, &fr, &c->series[i], false);
	svg_end_group(&s);
	/* Markers unclipped: a dot on the last epoch sits on the frame. */
	for (int i = 0; i < c->n_series; i++)
		if (!c->series[i].background)
			draw_series(&s, &fr, &c->series[i], true);
	draw_legend(&s, c, &fr);
	svg_end(&s);
	return fr.yt.log;
}

/* ------------------------------------------------------------------ */
/* Heat maps                                                            */

/* "#rrggbb" between white and `full` at t in [0, 1]. */
static void blend(const unsigned char full[3], double t, char buf[8])
{
	unsigned char c[3];

	t = t < 0 ? 0 : t > 1 ? 1 : t;
	for (int i = 0; i < 3; i++)
		c[i] = (unsigned char)lround(255 - (255 - full[i]) * t);
	snprintf(buf, 8, "#%02x%02x%02x", c[0], c[1], c[2]);
}

static const char *heat_name(const struct heat_map *h, int i, char *buf, size_t len)
{
	if (h->names && h->names[i])
		return h->names[i];
	snprintf(buf, len, "%d", i);
	return buf;
}

/* One cell, coloured as charts.h says; the square root makes a handful of
 * mistakes visible next to a full diagonal. max_off: the largest
 * off-diagonal share of a row in the matrix. */
static void heat_cell(struct svg *s, const struct heat_map *h, int r, int c, int64_t row_total,
                      double max_off, double x, double y, double size)
{
	static const unsigned char blue[3] = { 0x1f, 0x4e, 0xb4 }, red[3] = { 0xc6, 0x28, 0x28 };
	int64_t v = h->v[(size_t)r * (size_t)h->k + (size_t)c];
	double share = row_total > 0 ? (double)v / (double)row_total : 0;
	double t = r == c ? sqrt(share) : max_off > 0 ? sqrt(share / max_off) : 0;
	char fill[8], text[24];
	double font = fmin(13, size * 0.32);

	blend(r == c ? blue : red, t, fill);
	svg_rect(s, x, y, size, size, fill, NULL);
	if (size < 14)
		return;
	snprintf(text, sizeof text, "%lld", (long long)v);
	if (font * 0.6 * (double)strlen(text) > size - 2)
		font = (size - 2) / (0.6 * (double)strlen(text));
	svg_text(s, x + size / 2, y + size / 2 + font * 0.35, font, SVG_MIDDLE,
	         t > 0.6 ? "white" : v == 0 ? "#b0b4ba" : INK, 0, false, text);
}

static int64_t row_total(const struct heat_map *h, int r)
{
	int64_t total = 0;

	for (int c = 0; c < h->k; c++)
		total += h->v[(size_t)r * (size_t)h->k + (size_t)c];
	return total;
}

static double max_off_share(const struct heat_map *h)
{
	double most = 0;

	for (int r = 0; r < h->k; r++) {
		int64_t total = row_total(h, r);

		for (int c = 0; c < h->k && total > 0; c++)
			if (c != r)
				most = fmax(most, (double)h->v[(size_t)r * (size_t)h->k + (size_t)c] / (double)total);
	}
	return most;
}

static int longest_name(const struct heat_map *h)
{
	int most = 1;
	char buf[16];

	for (int i = 0; i < h->k; i++) {
		int n = (int)strlen(heat_name(h, i, buf, sizeof buf));

		most = n > most ? n : most;
	}
	return most;
}

void chart_heat_map_svg(FILE *f, const struct heat_map *h)
{
	const struct svg_stroke frame = { FRAME, 1, 1, false };
	struct svg s;
	double cell = h->k > 0 ? fmin(52, fmax(6, 560.0 / h->k)) : 52;
	double name_w = CHAR_W(FONT_TICK) * fmin(longest_name(h), 16);
	double left = 40 + name_w + 10, top = 50, side = cell * h->k;
	double width = fmax(left + side + 30, 420), height = top + side + name_w + 70;
	bool rotate = name_w > cell;   /* column names that do not fit go vertical */
	double max_off;
	char buf[16];

	if (!rotate)
		height = top + side + 70;
	svg_begin(&s, f, width, height);
	if (h->title)
		svg_text(&s, 16, 28, FONT_TITLE, SVG_START, INK, 0, true, h->title);
	max_off = max_off_share(h);
	for (int r = 0; r < h->k; r++) {
		int64_t total = row_total(h, r);

		for (int c = 0; c < h->k; c++)
			heat_cell(&s, h, r, c, total, max_off, left + c * cell, top + r * cell, cell);
	}
	svg_rect(&s, left, top, side, side, NULL, &frame);
	/* Names: rows at the left, columns under the map, skipped when the
	 * cells are too small for text (they stay in metrics.json). */
	for (int i = 0; i < h->k && cell >= 9; i++) {
		const char *name = heat_name(h, i, buf, sizeof buf);
		double mid = top + i * cell + cell / 2, cx = left + i * cell + cell / 2;

		svg_text(&s, left - 6, mid + FONT_TICK * 0.35, FONT_TICK, SVG_END, INK, 0, false, name);
		if (rotate)
			svg_text(&s, cx + FONT_TICK * 0.35, top + side + 8, FONT_TICK, SVG_END, INK, -90,
			         false, name);
		else
			svg_text(&s, cx, top + side + 18, FONT_TICK, SVG_MIDDLE, INK, 0, false, name);
	}
	if (h->x_label)
		svg_text(&s, left + side / 2, top + side + (rotate ? name_w + 30 : 40), FONT_LABEL,
		         SVG_MIDDLE, INK, 0, true, h->x_label);
	if (h->y_label)
		svg_text(&s, 20, top + side / 2, FONT_LABEL, SVG_MIDDLE, INK, -90, true, h->y_label);
	if (h->note)
		svg_text(&s, 16, height - 10, 11, SVG_START, MUTED, 0, false, h->note);
	svg_end(&s);
}
