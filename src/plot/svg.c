/* The SVG writer declared in svg.h. Numbers are written with two decimals:
 * a hundredth of a pixel is below what any screen shows, and it keeps the
 * files small. */
#include "plot/svg.h"

#include <math.h>

void svg_write_escaped(FILE *f, const char *text)
{
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		switch (*p) {
		case '&':  fputs("&amp;", f); break;
		case '<':  fputs("&lt;", f); break;
		case '>':  fputs("&gt;", f); break;
		case '"':  fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default:
			if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f)
				fputc('?', f);
			else
				fputc(*p, f);
		}
	}
}

void svg_begin(struct svg *s, FILE *f, double width, double height)
{
	s->f = f;
	s->width = width;
	s->height = height;
	s->n_clips = 0;
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
	        "viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
	        width, height, width, height);
	svg_rect(s, 0, 0, width, height, "white", NULL);
}

void svg_end(struct svg *s)
{
	fputs("</svg>\n", s->f);
}

int svg_define_clip(struct svg *s, double x, double y, double w, double h)
{
	int id = s->n_clips++;

	fprintf(s->f, "<defs><clipPath id=\"clip%d\"><rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
	        "height=\"%.2f\"/></clipPath></defs>\n", id, x, y, w, h);
	return id;
}

void svg_begin_clip(struct svg *s, int id)
{
	fprintf(s->f, "<g clip-path=\"url(#clip%d)\">\n", id);
}

void svg_end_group(struct svg *s)
{
	fputs("</g>\n", s->f);
}

/* The stroke attributes of st, or a plain "no stroke". */
static void stroke_attrs(FILE *f, const struct svg_stroke *st)
{
	if (!st || !st->color) {
		fputs(" stroke=\"none\"", f);
		return;
	}
	fprintf(f, " stroke=\"%s\" stroke-width=\"%.2f\"", st->color, st->width);
	if (st->opacity > 0 && st->opacity < 1)
		fprintf(f, " stroke-opacity=\"%.2f\"", st->opacity);
	if (st->dashed)
		fprintf(f, " stroke-dasharray=\"%.1f %.1f\"", 4 * st->width, 3 * st->width);
}

void svg_rect(struct svg *s, double x, double y, double w, double h, const char *fill,
              const struct svg_stroke *outline)
{
	fprintf(s->f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"",
	        x, y, w, h, fill ? fill : "none");
	stroke_attrs(s->f, outline);
	fputs("/>\n", s->f);
}

void svg_line(struct svg *s, double x1, double y1, double x2, double y2,
              const struct svg_stroke *st)
{
	fprintf(s->f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"", x1, y1, x2, y2);
	stroke_attrs(s->f, st);
	fputs("/>\n", s->f);
}

static bool point_ok(const double *x, const double *y, int i)
{
	return isfinite(x[i]) && isfinite(y[i]);
}

/* Points [start, end) as one <polyline>; a single point as a dot, so an
 * isolated value between gaps still shows. */
static void polyline_piece(struct svg *s, const double *x, const double *y, int start, int end,
                           const struct svg_stroke *st)
{
	if (end - start == 1) {
		svg_circle(s, x[start], y[start], st->width, st->color, NULL);
		return;
	}
	fputs("<polyline fill=\"none\" stroke-linejoin=\"round\" stroke-linecap=\"round\"", s->f);
	stroke_attrs(s->f, st);
	fputs(" points=\"", s->f);
	for (int i = start; i < end; i++)
		fprintf(s->f, "%s%.2f,%.2f", i > start ? " " : "", x[i], y[i]);
	fputs("\"/>\n", s->f);
}

void svg_polyline(struct svg *s, const double *x, const double *y, int n,
                  const struct svg_stroke *st)
{
	int i = 0;

	while (i < n) {
		int start;

		while (i < n && !point_ok(x, y, i))
			i++;
		start = i;
		while (i < n && point_ok(x, y, i))
			i++;
		if (i > start)
			polyline_piece(s, x, y, start, i, st);
	}
}

void svg_circle(struct svg *s, double cx, double cy, double r, const char *fill,
                const struct svg_stroke *outline)
{
	if (!isfinite(cx) || !isfinite(cy))
		return;
	fprintf(s->f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\" fill=\"%s\"", cx, cy, r,
	        fill ? fill : "none");
	stroke_attrs(s->f, outline);
	fputs("/>\n", s->f);
}

void svg_text(struct svg *s, double x, double y, double size, enum svg_anchor anchor,
              const char *fill, double rotate, bool bold, const char *text)
{
	static const char *const anchors[] = { "start", "middle", "end" };

	fprintf(s->f, "<text x=\"%.2f\" y=\"%.2f\" font-size=\"%.1f\" text-anchor=\"%s\" fill=\"%s\"",
	        x, y, size, anchors[anchor], fill ? fill : "black");
	if (bold)
		fputs(" font-weight=\"bold\"", s->f);
	if (rotate != 0)
		fprintf(s->f, " transform=\"rotate(%.1f %.2f %.2f)\"", rotate, x, y);
	fputc('>', s->f);
	svg_write_escaped(s->f, text);
	fputs("</text>\n", s->f);
}
