#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/augment.h"
#include "util/rng.h"

int augment_config_read(struct cfg_node *train, struct augment_config *out, struct cnn_error *err)
{
	struct cfg_node *map;
	long pad;
	memset(out, 0, sizeof *out);
	if (cfg_map(train, "augment", CFG_OPTIONAL, &map, "train", err) ||
	    cfg_float(map, "shift", CFG_OPTIONAL, 0, 0, 64, &out->shift, "augment", err) ||
	    cfg_float(map, "rotation", CFG_OPTIONAL, 0, 0, 180, &out->rotation, "augment", err) ||
	    cfg_float(map, "scale", CFG_OPTIONAL, 0, 0, 0.9, &out->scale, "augment", err) ||
	    cfg_bool(map, "flip", CFG_OPTIONAL, false, &out->flip, "augment", err) ||
	    cfg_int(map, "crop_padding", CFG_OPTIONAL, 0, 0, 64, &pad, "augment", err) ||
	    cfg_check_keys(map, "augment", err))
		return -1;
	out->crop_padding = (int)pad;
	out->enabled = out->shift > 0 || out->rotation > 0 || out->scale > 0 || out->flip ||
	               out->crop_padding > 0;
	return 0;
}

static float sample(const float *img, int h, int w, double y, double x)
{
	int y0 = (int)floor(y), x0 = (int)floor(x);
	double fy = y - y0, fx = x - x0, v = 0;
	for (int dy = 0; dy <= 1; dy++) {
		for (int dx = 0; dx <= 1; dx++) {
			int yy = y0 + dy, xx = x0 + dx;
			if (yy < 0 || yy >= h || xx < 0 || xx >= w)
				continue;
			double weight = (dy ? fy : 1 - fy) * (dx ? fx : 1 - fx);
			v += weight * img[yy * w + xx];
		}
	}
	return (float)v;
}

/* out(p) = in(A^-1 (p - c - t) + c): rotate and scale about the centre c. */
static void transform(const float *in, float *out, int h, int w, double angle, double scale,
                      double ty, double tx)
{
	double cy = (h - 1) / 2.0, cx = (w - 1) / 2.0;
	double c = cos(angle) / scale, s = sin(angle) / scale;
	for (int y = 0; y < h; y++) {
		for (int x = 0; x < w; x++) {
			double py = y - cy - ty, px = x - cx - tx;
			double sy = c * py - s * px + cy, sx = s * py + c * px + cx;
			out[y * w + x] = sample(in, h, w, sy, sx);
		}
	}
}

/* A pure translation (no rotation, no scale) is the common case and costs
 * as much as the training step when resampled as transform() does, a
 * double sum over four corners per pixel. It is separable: each output row
 * is a blend of two source rows, each output pixel a blend of two pixels
 * of that row, in float. The bits differ from transform()'s by rounding
 * at fractional offsets; at whole-pixel offsets both give the image moved,
 * zeros filled in. */
enum { TRANSLATE_MAXW = 512 };   /* 10 KiB of tables on the stack; wider images take transform() */

static const float zero_row[TRANSLATE_MAXW];

/* The source coordinate of output coordinate i moved by t, as transform()
 * computes it at angle 0 and scale 1 (((i - mid) - t) + mid): its two
 * neighbours and their weights, a neighbour outside [0, n) replaced by
 * index `outside` (a zero). */
static void neighbours(int i, int n, double t, int outside, int idx[2], float wt[2])
{
	double mid = (n - 1) / 2.0, at = i - mid - t + mid;
	int i0 = (int)floor(at);
	double f = at - i0;
	for (int d = 0; d <= 1; d++) {
		idx[d] = i0 + d >= 0 && i0 + d < n ? i0 + d : outside;
		wt[d] = (float)(d ? f : 1 - f);
	}
}

/* out(y, x) = sum of in's four pixels around (y - ty, x - tx), bilinear,
 * zero outside; in and out are (h, w) planes. The columns' neighbours and
 * weights are the same for every row: tabulated once. Between the columns
 * whose neighbours are both inside and x + k apart for one k (all but
 * rounding accidents) the loop reads contiguous memory and vectorises. */
void augment_translate(const float *in, float *out, int h, int w, double ty, double tx)
{
	int col[TRANSLATE_MAXW][2];     /* (w, 2): each x's two source columns; w: the zero */
	float wc[2][TRANSLATE_MAXW];    /* (2, w): their weights */
	float blend[TRANSLATE_MAXW + 1]; /* (w + 1): the output row's blend of source rows, then 0 */
	if (w > TRANSLATE_MAXW) {
		transform(in, out, h, w, 0, 1, ty, tx);
		return;
	}
	int lo = w, hi = 0;   /* [lo, hi): one run of columns with col[x][0] = x + k */
	for (int x = 0; x < w; x++) {
		float wt[2];
		neighbours(x, w, tx, w, col[x], wt);
		wc[0][x] = wt[0];
		wc[1][x] = wt[1];
		if (col[x][0] < w && col[x][1] < w) {
			lo = x < lo ? x : lo;
			hi = x + 1;
		}
	}
	for (int x = lo; x < hi; x++)
		if (col[x][1] == w || col[x][0] - x != col[lo][0] - lo)
			lo = hi = 0;   /* not one run: the tables for every column */
	int k = lo < hi ? col[lo][0] - lo : 0;
	blend[w] = 0;
	for (int y = 0; y < h; y++) {
		int ry[2];
		float wr[2];
		neighbours(y, h, ty, -1, ry, wr);
		/* a row outside reads zeros: +0 sums leave the other row's products */
		const float *r0 = ry[0] < 0 ? zero_row : in + (size_t)ry[0] * w;
		const float *r1 = ry[1] < 0 ? zero_row : in + (size_t)ry[1] * w;
		for (int x = 0; x < w; x++)
			blend[x] = wr[0] * r0[x] + wr[1] * r1[x];
		float *o = out + (size_t)y * w;
		const float *b = blend + k;
		for (int x = 0; x < w; x++)
			if (x < lo || x >= hi)
				o[x] = wc[0][x] * blend[col[x][0]] + wc[1][x] * blend[col[x][1]];
		for (int x = lo; x < hi; x++)
			o[x] = wc[0][x] * b[x] + wc[1][x] * b[x + 1];
	}
}

int augment_batch(const struct augment_config *a, float *x, int n, struct shape shape,
                  uint64_t seed, int epoch, long first)
{
	if (!a->enabled)
		return 0;
	float *scratch = malloc((size_t)shape.h * shape.w * sizeof *scratch);
	if (!scratch)
		return -1;
	augment_images(a, x, n, shape, seed, epoch, first, scratch);
	free(scratch);
	return 0;
}

/* out(y, x) = in(y + dy, x + dx), zero outside: a crop of the padded image,
 * a row at a time (a copy of the part inside, zeros either side). */
static void shift_plane(const float *in, float *out, int h, int w, int dy, int dx)
{
	int x0 = dx < 0 ? -dx : 0, x1 = dx > 0 ? w - dx : w;   /* [x0, x1): sx inside */
	for (int y = 0; y < h; y++) {
		float *o = out + (size_t)y * w;
		int sy = y + dy;
		if (sy < 0 || sy >= h || x1 <= x0) {
			memset(o, 0, (size_t)w * sizeof *o);
			continue;
		}
		memset(o, 0, (size_t)x0 * sizeof *o);
		memcpy(o + x0, in + (size_t)sy * w + x0 + dx, (size_t)(x1 - x0) * sizeof *o);
		memset(o + x1, 0, (size_t)(w - x1) * sizeof *o);
	}
}

static void mirror_plane(float *p, int h, int w)
{
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w / 2; x++) {
			float t = p[y * w + x];
			p[y * w + x] = p[y * w + w - 1 - x];
			p[y * w + w - 1 - x] = t;
		}
}

void augment_images(const struct augment_config *a, float *x, int n, struct shape shape,
                    uint64_t seed, int epoch, long first, float *scratch)
{
	const size_t plane = (size_t)shape.h * shape.w;
	const bool affine = a->shift > 0 || a->rotation > 0 || a->scale > 0;

	if (!a->enabled)
		return;
	for (int i = 0; i < n; i++) {
		struct rng rng;
		/* one stream per (seed, epoch, position): stateless, see augment.h */
		rng_seed(&rng, seed ^ (0xa0c3e17ULL + ((uint64_t)epoch << 40) + (uint64_t)(first + i)));
		/* the affine draws come first, so configs without crop or flip
		 * keep the images they had before those existed */
		double angle = (2 * rng_uniform(&rng) - 1) * a->rotation * 3.141592653589793 / 180;
		double scale = 1 + (2 * rng_uniform(&rng) - 1) * a->scale;
		double ty = (2 * rng_uniform(&rng) - 1) * a->shift;
		double tx = (2 * rng_uniform(&rng) - 1) * a->shift;
		int span = 2 * a->crop_padding + 1;
		int dy = a->crop_padding ? (int)(rng_uniform(&rng) * span) - a->crop_padding : 0;
		int dx = a->crop_padding ? (int)(rng_uniform(&rng) * span) - a->crop_padding : 0;
		bool flip = a->flip && rng_uniform(&rng) < 0.5;
		float *img = x + (size_t)i * shape_size(shape);
		for (int c = 0; c < shape.c; c++) {
			float *p = img + c * plane;
			if (affine) {
				memcpy(scratch, p, plane * sizeof *scratch);
				if (a->rotation > 0 || a->scale > 0)
					transform(scratch, p, shape.h, shape.w, angle, scale, ty, tx);
				else
					augment_translate(scratch, p, shape.h, shape.w, ty, tx);
			}
			if (dy || dx) {
				memcpy(scratch, p, plane * sizeof *scratch);
				shift_plane(scratch, p, shape.h, shape.w, dy, dx);
			}
			if (flip)
				mirror_plane(p, shape.h, shape.w);
		}
	}
}
