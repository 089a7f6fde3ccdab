/* MNIST's preprocessing applied to a person's digit (see image_mnist.h).
 * MNIST's digits were cut from NIST's black-on-white scans, size-normalised
 * to fit a 20x20 box with their aspect ratio kept (anti-aliased, so grey
 * edges), and centred in 28x28 by their centre of mass. A network trained
 * on them has only ever seen that; a photo of a digit has to be made so. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/image_mnist.h"

/* The sum of the outer one-pixel ring and its pixel count. */
static double ring_sum(const uint8_t *grey, int w, int h, double *count)
{
	double sum = 0;
	size_t n = 0;
	for (int y = 0; y < h; y++) {
		int step = (y == 0 || y == h - 1) ? 1 : (w > 1 ? w - 1 : 1);
		for (int x = 0; x < w; x += step) {
			sum += grey[(size_t)y * w + x];
			n++;
		}
	}
	*count = (double)n;
	return sum;
}

bool image_dark_on_light(const uint8_t *grey, int w, int h)
{
	uint64_t all = 0;   /* IMAGE_MAX_PIXELS * 255 exceeds 32 bits */
	for (size_t i = 0; i < (size_t)w * h; i++)
		all += grey[i];
	double n_ring, ring = ring_sum(grey, w, h, &n_ring);
	/* ring / n_ring > all / (w h), without division */
	return ring * ((double)w * h) > (double)all * n_ring;
}

/* Source pixels in[0, n_in) (every `stride`-th float) averaged by area
 * into out[0, n_out): output o covers source [o r, (o + 1) r) with
 * r = n_in / n_out, each source pixel weighted by how much of it lies in
 * that interval. Shrinking, this is anti-aliasing; growing, a box filter. */
static void area_line(const float *in, size_t in_stride, int n_in, float *out, size_t out_stride,
                      int n_out)
{
	double r = (double)n_in / n_out;
	for (int o = 0; o < n_out; o++) {
		double lo = o * r, hi = (o + 1) * r, sum = 0;
		for (int i = (int)floor(lo); i < n_in && i < hi; i++) {
			double overlap = fmin(hi, i + 1.0) - fmax(lo, (double)i);
			if (overlap > 0)
				sum += in[(size_t)i * in_stride] * overlap;
		}
		out[(size_t)o * out_stride] = (float)(sum / r);
	}
}

/* The shift that puts the centre of mass c (in pixels, centres at i + 0.5)
 * of a patch `size` wide at MNIST_SIDE / 2, kept so that the patch stays
 * inside the output. */
static int centring_shift(double c, int size)
{
	long s = lround(MNIST_SIDE / 2.0 - c);
	if (s > MNIST_SIDE - size)
		s = MNIST_SIDE - size;
	return s < 0 ? 0 : (int)s;
}

/* The stretched grey (background 0, ink 255) of the bbox, (bh, bw) floats. */
static void stretch_box(const uint8_t *grey, int w, int x0, int y0, int bw, int bh, double bg,
                        double top, float *box)
{
	for (int y = 0; y < bh; y++)
		for (int x = 0; x < bw; x++) {
			double v = (grey[(size_t)(y0 + y) * w + x0 + x] - bg) * 255.0 / (top - bg);
			box[(size_t)y * bw + x] = (float)(v < 0 ? 0 : v > 255 ? 255 : v);
		}
}

/* box (bh, bw) scaled to (nh, nw) by area averaging, rounded to bytes,
 * and placed centred by mass into out (MNIST_SIDE, MNIST_SIDE). */
static int place(const float *box, int bw, int bh, uint8_t *out)
{
	double scale = (double)MNIST_BOX / (bw > bh ? bw : bh);
	int nw = (int)lround(bw * scale), nh = (int)lround(bh * scale);
	nw = nw < 1 ? 1 : nw;
	nh = nh < 1 ? 1 : nh;
	float *rows = malloc((size_t)bh * nw * sizeof *rows);   /* (bh, nw): widths scaled */
	float *patch = malloc((size_t)nh * nw * sizeof *patch); /* (nh, nw) */
	uint8_t digit[MNIST_BOX * MNIST_BOX];                   /* (nh, nw) bytes */
	if (!rows || !patch) {
		free(rows);
		free(patch);
		return -1;
	}
	for (int y = 0; y < bh; y++)
		area_line(box + (size_t)y * bw, 1, bw, rows + (size_t)y * nw, 1, nw);
	for (int x = 0; x < nw; x++)
		area_line(rows + x, (size_t)nw, bh, patch + x, (size_t)nw, nh);
	/* the centre of mass of the bytes written, so that it is where they land */
	double mass = 0, mx = 0, my = 0;
	for (int y = 0; y < nh; y++)
		for (int x = 0; x < nw; x++) {
			long v = lround(patch[(size_t)y * nw + x]);
			digit[y * nw + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
			mass += digit[y * nw + x];
			mx += digit[y * nw + x] * (x + 0.5);
			my += digit[y * nw + x] * (y + 0.5);
		}
	free(rows);
	free(patch);
	int dx = centring_shift(mass > 0 ? mx / mass : nw / 2.0, nw);
	int dy = centring_shift(mass > 0 ? my / mass : nh / 2.0, nh);
	memset(out, 0, MNIST_SIDE * MNIST_SIDE);
	for (int y = 0; y < nh; y++)
		memcpy(out + (size_t)(y + dy) * MNIST_SIDE + dx, digit + y * nw, (size_t)nw);
	return 0;
}

int image_mnist_prepare(const struct image *img, uint8_t *out, const char *name,
                        struct cnn_error *err)
{
	const int w = img->width, h = img->height;
	struct cnn_loc at = { name, 0, 0 };
	uint8_t *grey = malloc((size_t)w * h);   /* (h, w) */
	if (!grey)
		return cnn_errorf(err, at, "out of memory");
	if (image_fit(img, (struct shape){ 1, h, w }, RESIZE_NONE, grey, name, err)) {
		free(grey);
		return -1;
	}
	int lo = 255, hi = 0;
	for (size_t i = 0; i < (size_t)w * h; i++) {
		lo = grey[i] < lo ? grey[i] : lo;
		hi = grey[i] > hi ? grey[i] : hi;
	}
	if (hi - lo < MNIST_MIN_CONTRAST) {
		free(grey);
		return cnn_errorf(err, at, "--preprocess mnist: no digit found: the image is almost uniform "
		                  "(grey levels %d to %d)", lo, hi);
	}
	if (image_dark_on_light(grey, w, h)) {
		for (size_t i = 0; i < (size_t)w * h; i++)
			grey[i] = (uint8_t)(255 - grey[i]);
		int t = lo;
		lo = 255 - hi;
		hi = 255 - t;
	}
	double n_ring, bg = ring_sum(grey, w, h, &n_ring) / n_ring, top = hi;
	if (top - bg < MNIST_MIN_CONTRAST) {
		free(grey);
		return cnn_errorf(err, at, "--preprocess mnist: no digit found: nothing stands out from "
		                  "the background (its level %.0f, the brightest ink %.0f)", bg, top);
	}
	/* bounding box of the ink: grey >= the threshold once stretched */
	double cut = bg + MNIST_INK_THRESHOLD * (top - bg) / 255.0;
	int x0 = w, y0 = h, x1 = -1, y1 = -1;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			if (grey[(size_t)y * w + x] >= cut) {
				x0 = x < x0 ? x : x0;
				x1 = x > x1 ? x : x1;
				y0 = y < y0 ? y : y0;
				y1 = y > y1 ? y : y1;
			}
	/* the brightest pixel is always in: x1 >= x0 */
	int bw = x1 - x0 + 1, bh = y1 - y0 + 1;
	float *box = malloc((size_t)bw * bh * sizeof *box);   /* (bh, bw) */
	int rc = box ? 0 : -1;
	if (box) {
		stretch_box(grey, w, x0, y0, bw, bh, bg, top, box);
		rc = place(box, bw, bh, out);
	}
	free(box);
	free(grey);
	return rc ? cnn_errorf(err, at, "out of memory") : 0;
}
