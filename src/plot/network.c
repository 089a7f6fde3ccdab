/* The network picture declared in network.h.
 *
 * Layout: each layer's row is its depth, one more than the deepest layer it
 * reads (the input is row 0), so layers that read the same output line up
 * on one row. Within a row a layer takes its first input's column if that
 * is free, else the next free one to the right: a chain stays in one
 * column and a branch opens a column beside it. An arrow between adjacent
 * rows is straight; one that skips rows within a column (a residual
 * shortcut) runs down a lane on the column's left, and one from another
 * column down its own column first, so neither crosses the boxes it
 * passes. */
#include "plot/network.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/svg.h"

#define BOX_W 200.0
#define BOX_H 56.0
#define GAP_X 56.0      /* between columns: room for shortcut lanes */
#define GAP_Y 30.0
#define MARGIN 24.0
#define TITLE_H 30.0
#define LANE_STEP 7.0   /* between nested shortcut lanes */

struct node_pos {
	int row, col;
};

/* Node 0 is the input, node i + 1 layer i. */
static int node_of(int input)
{
	return input == LAYER_INPUT_NET ? 0 : input + 1;
}

/* Rows and columns as the comment at the top says; returns the number of
 * rows, and the columns through *cols. */
static int layout(const struct net *net, struct node_pos *pos, int *cols)
{
	int n = net->n_layers + 1, rows = 1;
	*cols = 1;
	pos[0] = (struct node_pos){ 0, 0 };
	for (int i = 0; i < net->n_layers; i++) {
		const struct layer *l = net->layers[i];
		int row = 0;
		for (int k = 0; k < layer_n_inputs(l); k++) {
			int r = pos[node_of(layer_input(l, i, k))].row + 1;
			row = r > row ? r : row;
		}
		int col = pos[node_of(layer_input(l, i, 0))].col;
		for (bool taken = true; taken; ) {
			taken = false;
			for (int j = 0; j <= i && !taken; j++)
				taken = pos[j].row == row && pos[j].col == col;
			col += taken;
		}
		pos[i + 1] = (struct node_pos){ row, col };
		rows = row + 1 > rows ? row + 1 : rows;
		*cols = col + 1 > *cols ? col + 1 : *cols;
	}
	(void)n;
	return rows;
}

static double col_x(int col)
{
	return MARGIN + GAP_X + col * (BOX_W + GAP_X);   /* the box's left edge */
}

static double row_y(int row)
{
	return MARGIN + TITLE_H + row * (BOX_H + GAP_Y);   /* the box's top edge */
}

/* A fill per kind of layer, so the eye finds the convolutions and joins. */
static const char *fill_of(const char *type)
{
	static const struct {
		const char *type, *fill;
	} fills[] = {
		{ "conv", "#dbe9f6" }, { "dense", "#e6dcf2" }, { "batchnorm", "#eeeeee" },
		{ "add", "#fde2c8" }, { "concat", "#fde2c8" }, { "maxpool", "#dff0d8" },
		{ "avgpool", "#dff0d8" }, { "global_avgpool", "#dff0d8" }, { "dropout", "#f5f5f5" },
	};
	for (size_t i = 0; i < sizeof fills / sizeof fills[0]; i++)
		if (!strcmp(fills[i].type, type))
			return fills[i].fill;
	return "#fff8dc";   /* activations, flatten */
}

static void draw_box(struct svg *s, struct node_pos p, const char *name, const char *type,
                     struct shape out, size_t params, bool is_input)
{
	static const struct svg_stroke outline = { "#555555", 1, 0, false };
	double x = col_x(p.col), y = row_y(p.row), cx = x + BOX_W / 2;
	char shape[48], line[96];
	shape_str(out, shape, sizeof shape);
	svg_rect(s, x, y, BOX_W, BOX_H, is_input ? "#d9d9d9" : fill_of(type), &outline);
	svg_text(s, cx, y + 17, 13, SVG_MIDDLE, "#000000", 0, true, name);
	snprintf(line, sizeof line, is_input ? "%s%s" : "%s  %s", type, shape);
	svg_text(s, cx, y + 33, 11.5, SVG_MIDDLE, "#222222", 0, false, line);
	if (params)
		snprintf(line, sizeof line, "%zu parameters", params);
	else
		snprintf(line, sizeof line, "%s", is_input ? "" : "no parameters");
	svg_text(s, cx, y + 48, 10.5, SVG_MIDDLE, "#555555", 0, false, line);
}

/* The two strokes of an arrowhead at (x, y), pointing along (dx, dy). */
static void arrowhead(struct svg *s, double x, double y, double dx, double dy,
                      const struct svg_stroke *st)
{
	double len = sqrt(dx * dx + dy * dy);
	dx /= len;
	dy /= len;
	double hx[3] = { x - 7 * dx - 4 * dy, x, x - 7 * dx + 4 * dy };
	double hy[3] = { y - 7 * dy + 4 * dx, y, y - 7 * dy - 4 * dx };
	svg_polyline(s, hx, hy, 3, st);
}

/* The arrow from node `from` to node `to`; lane counts the shortcuts
 * drawn so far beside column `to`, so nested ones do not overlap. */
static void draw_arrow(struct svg *s, struct node_pos a, struct node_pos b, int k, int n_in, int lane)
{
	static const struct svg_stroke line = { "#333333", 1.3, 0, false };
	/* several inputs arrive spread along the box's top edge */
	double bx = col_x(b.col) + BOX_W / 2 + (n_in > 1 ? (k - (n_in - 1) / 2.0) * 22 : 0);
	double ax = col_x(a.col) + BOX_W / 2, ay = row_y(a.row) + BOX_H, by = row_y(b.row);
	if (b.row - a.row > 1 && a.col == b.col) {
		double lx = col_x(a.col) - 10 - LANE_STEP * (lane % 5);
		double xs[4] = { col_x(a.col), lx, lx, bx - 6 };
		double ys[4] = { row_y(a.row) + BOX_H / 2, row_y(a.row) + BOX_H / 2, by - 10, by - 10 };
		svg_polyline(s, xs, ys, 4, &line);
		double xe[2] = { bx - 6, bx }, ye[2] = { by - 10, by };
		svg_polyline(s, xe, ye, 2, &line);
		arrowhead(s, bx, by, 6, 10, &line);
		return;
	}
	/* from another column and further up: straight down its own column
	 * first, which is free below a branch, then across */
	double turn = b.row - a.row > 1 ? by - GAP_Y * 0.6 : ay;
	double xs[3] = { ax, ax, bx }, ys[3] = { ay, turn, by };
	svg_polyline(s, xs, ys, 3, &line);
	arrowhead(s, bx, by, bx - ax, by - turn, &line);
}

int network_svg_write(FILE *f, const void *ctx, struct cnn_error *err)
{
	const struct net *net = ctx;
	int cols;
	struct node_pos *pos = malloc((size_t)(net->n_layers + 1) * sizeof *pos);
	if (!pos)
		return cnn_errorf_plain(err, "out of memory");
	int rows = layout(net, pos, &cols);
	struct svg s;
	double width = 2 * MARGIN + GAP_X + cols * (BOX_W + GAP_X), height = row_y(rows) + MARGIN - GAP_Y;
	char title[96];
	svg_begin(&s, f, width < 420 ? 420 : width, height);
	snprintf(title, sizeof title, "%d layers, %zu parameters", net->n_layers, net->n_params);
	svg_text(&s, MARGIN, MARGIN + 8, 14, SVG_START, "#000000", 0, true, title);
	int lane = 0;
	for (int i = 0; i < net->n_layers; i++) {
		const struct layer *l = net->layers[i];
		for (int k = 0; k < layer_n_inputs(l); k++) {
			struct node_pos a = pos[node_of(layer_input(l, i, k))], b = pos[i + 1];
			lane += b.row - a.row > 1 && a.col == b.col;
			draw_arrow(&s, a, b, k, layer_n_inputs(l), lane);
		}
	}
	draw_box(&s, pos[0], "input", "", net->input, 0, true);
	for (int i = 0; i < net->n_layers; i++) {
		const struct layer *l = net->layers[i];
		draw_box(&s, pos[i + 1], l->name, l->ops->type, l->out, l->param_count, false);
	}
	svg_end(&s);
	free(pos);
	return 0;
}
