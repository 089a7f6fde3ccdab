/* Fitting a decoded image to a network's input: channels, then size. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/image.h"

/* Channel k of pixel p of img, as `want` channels see it: grey copied to
 * each of R, G and B; RGB to grey as BT.601 luma, rounded. */
static uint8_t channel_value(const struct image *img, size_t p, int want, int k)
{
	const uint8_t *px = img->pixels + p * (size_t)img->channels;
	if (img->channels == want)
		return px[k];
	if (img->channels == 1)
		return px[0];
	return (uint8_t)((299 * px[0] + 587 * px[1] + 114 * px[2] + 500) / 1000);
}

/* Source coordinate of destination index i when n_in samples become n_out:
 * pixel centres aligned, clamped at the edges. i0/i1 and the weight of i1. */
static void bilinear_tap(int i, int n_in, int n_out, int *i0, int *i1, double *frac)
{
	double s = ((double)i + 0.5) * n_in / n_out - 0.5;
	if (s < 0)
		s = 0;
	int lo = (int)floor(s);
	if (lo > n_in - 1)
		lo = n_in - 1;
	*i0 = lo;
	*i1 = lo + 1 < n_in ? lo + 1 : lo;
	*frac = s - lo;
	if (*frac > 1)
		*frac = 1;
}

int image_fit(const struct image *img, struct shape want, enum data_resize resize, uint8_t *out,
              const char *name, struct cnn_error *err)
{
	const int W = img->width, H = img->height;
	const size_t plane = (size_t)want.h * want.w;
	CNN_ASSERT(want.c == 1 || want.c == 3);
	CNN_ASSERT(img->channels == 1 || img->channels == 3);
	if (W == want.w && H == want.h && img->channels == 1) {
		/* grey to grey is a copy; grey to RGB three (predict's common cases) */
		for (int k = 0; k < want.c; k++)
			memcpy(out + k * plane, img->pixels, plane);
		return 0;
	}
	if (W == want.w && H == want.h) {
		for (int k = 0; k < want.c; k++)
			for (size_t p = 0; p < plane; p++)
				out[k * plane + p] = channel_value(img, p, want.c, k);
		return 0;
	}
	if (resize == RESIZE_NONE)
		return cnn_errorf(err, (struct cnn_loc){ name, 0, 0 }, "the image is %dx%d pixels, the network "
		                  "takes %dx%d (width x height); resize it first",
		                  W, H, want.w, want.h);
	for (int y = 0; y < want.h; y++) {
		int y0, y1;
		double fy;
		bilinear_tap(y, H, want.h, &y0, &y1, &fy);
		for (int x = 0; x < want.w; x++) {
			int x0, x1;
			double fx;
			bilinear_tap(x, W, want.w, &x0, &x1, &fx);
			for (int k = 0; k < want.c; k++) {
				double a = channel_value(img, (size_t)y0 * W + x0, want.c, k);
				double b = channel_value(img, (size_t)y0 * W + x1, want.c, k);
				double c = channel_value(img, (size_t)y1 * W + x0, want.c, k);
				double d = channel_value(img, (size_t)y1 * W + x1, want.c, k);
				double v = (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy;
				out[k * plane + (size_t)y * want.w + x] = (uint8_t)lround(v);
			}
		}
	}
	return 0;
}
