/* A minimal SVG writer: the few shapes the charts need, written straight to
 * a stream. Text is XML-escaped here, so callers pass plain strings (class
 * names, config names) and the file stays well-formed whatever they hold.
 * Coordinates are pixels, origin top left, y down (SVG's own convention).
 *
 * Output errors are not reported call by call: check ferror() on the stream
 * once at the end, as the JSON writer does. */
#ifndef CNN_PLOT_SVG_H
#define CNN_PLOT_SVG_H

#include <stdbool.h>
#include <stdio.h>

#include "util/error.h"

struct svg {
	FILE *f;
	double width, height;
	int n_clips;            /* clip paths defined so far, for unique ids */
};

enum svg_anchor { SVG_START, SVG_MIDDLE, SVG_END };

/* How a line or outline is drawn. NULL colour: "none". */
struct svg_stroke {
	const char *color;
	double width;
	double opacity;         /* 0 is taken as 1 (fully opaque) */
	bool dashed;
};

/* The XML prolog, the <svg> element and a white background. */
void svg_begin(struct svg *s, FILE *f, double width, double height);
void svg_end(struct svg *s);

/* A clip rectangle; returns its id, for svg_begin_clip(). */
int svg_define_clip(struct svg *s, double x, double y, double w, double h);
/* Everything up to svg_end_group() is clipped to clip `id`. */
void svg_begin_clip(struct svg *s, int id);
void svg_end_group(struct svg *s);

void svg_rect(struct svg *s, double x, double y, double w, double h, const char *fill,
              const struct svg_stroke *outline);
void svg_line(struct svg *s, double x1, double y1, double x2, double y2,
              const struct svg_stroke *st);
/* A line through n points; a NaN coordinate breaks it into separate pieces
 * (a missing value is a gap, never a line to the origin). */
void svg_polyline(struct svg *s, const double *x, const double *y, int n,
                  const struct svg_stroke *st);
void svg_circle(struct svg *s, double cx, double cy, double r, const char *fill,
                const struct svg_stroke *outline);

/* Text at (x, y) (the baseline), `size` pixels high, rotated by `rotate`
 * degrees about (x, y). bold: font-weight bold. */
void svg_text(struct svg *s, double x, double y, double size, enum svg_anchor anchor,
              const char *fill, double rotate, bool bold, const char *text);

/* s with &, <, >, " and ' as entities; control characters other than tab
 * and newline (not allowed in XML 1.0) become '?'. */
void svg_write_escaped(FILE *f, const char *text);

#endif
