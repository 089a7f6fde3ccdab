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

/* out(y, x) = in(y + dy, x + dx), zero outside: a crop of the padded image. */
static void shift_plane(const float *in, float *out, int h, int w, int dy, int dx)
{
	for (int y = 0; y < h; y++) {
		int sy = y + dy;
		for (int x = 0; x < w; x++) {
			int sx = x + dx;
			out[y * w + x] = sy >= 0 && sy < h && sx >= 0 && sx < w ? in[sy * w + sx] : 0.0f;
		}
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
				transform(scratch, p, shape.h, shape.w, angle, scale, ty, tx);
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
