#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnn/augment.h"
#include "cnn/rng.h"

int augment_config_read(struct cfg_node *train, struct augment_config *out, struct cnn_error *err)
{
	struct cfg_node *map;
	memset(out, 0, sizeof *out);
	if (cfg_map(train, "augment", CFG_OPTIONAL, &map, "train", err) ||
	    cfg_float(map, "shift", CFG_OPTIONAL, 0, 0, 64, &out->shift, "augment", err) ||
	    cfg_float(map, "rotation", CFG_OPTIONAL, 0, 0, 180, &out->rotation, "augment", err) ||
	    cfg_float(map, "scale", CFG_OPTIONAL, 0, 0, 0.9, &out->scale, "augment", err) ||
	    cfg_check_keys(map, "augment", err))
		return -1;
	out->enabled = out->shift > 0 || out->rotation > 0 || out->scale > 0;
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

void augment_images(const struct augment_config *a, float *x, int n, struct shape shape,
                    uint64_t seed, int epoch, long first, float *scratch)
{
	const size_t plane = (size_t)shape.h * shape.w;

	if (!a->enabled)
		return;
	for (int i = 0; i < n; i++) {
		struct rng rng;
		/* one stream per (seed, epoch, position): stateless, see augment.h */
		rng_seed(&rng, seed ^ (0xa0c3e17ULL + ((uint64_t)epoch << 40) + (uint64_t)(first + i)));
		double angle = (2 * rng_uniform(&rng) - 1) * a->rotation * 3.141592653589793 / 180;
		double scale = 1 + (2 * rng_uniform(&rng) - 1) * a->scale;
		double ty = (2 * rng_uniform(&rng) - 1) * a->shift;
		double tx = (2 * rng_uniform(&rng) - 1) * a->shift;
		float *img = x + (size_t)i * shape_size(shape);
		for (int c = 0; c < shape.c; c++) {
			memcpy(scratch, img + c * plane, plane * sizeof *scratch);
			transform(scratch, img + c * plane, shape.h, shape.w, angle, scale, ty, tx);
		}
	}
}
