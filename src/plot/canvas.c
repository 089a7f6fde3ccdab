/* The RGB canvas declared in canvas.h. */
#include "plot/canvas.h"

#include <stdlib.h>

/* Enough for any grid of pictures we draw, small enough that
 * width * height * 3 never overflows an int-sized loop bound. */
#define CANVAS_MAX_SIDE 16384

int canvas_create(struct canvas *im, int width, int height, struct rgb background)
{
	size_t n;

	im->rgb = NULL;
	im->width = im->height = 0;
	if (width < 1 || height < 1 || width > CANVAS_MAX_SIDE || height > CANVAS_MAX_SIDE)
		return -1;
	n = (size_t)width * (size_t)height;
	im->rgb = malloc(n * 3);
	if (!im->rgb)
		return -1;
	im->width = width;
	im->height = height;
	canvas_fill(im, 0, 0, width, height, background);
	return 0;
}

void canvas_free(struct canvas *im)
{
	free(im->rgb);
	im->rgb = NULL;
}

static void put(struct canvas *im, int x, int y, struct rgb c)
{
	uint8_t *p;

	if (x < 0 || y < 0 || x >= im->width || y >= im->height)
		return;
	p = im->rgb + ((size_t)y * (size_t)im->width + (size_t)x) * 3;
	p[0] = c.r;
	p[1] = c.g;
	p[2] = c.b;
}

void canvas_fill(struct canvas *im, int x, int y, int w, int h, struct rgb color)
{
	for (int j = y; j < y + h; j++)
		for (int i = x; i < x + w; i++)
			put(im, i, j, color);
}

void canvas_blit(struct canvas *im, int x, int y, const uint8_t *pixels, int c, int h, int w,
                int scale)
{
	size_t plane = (size_t)h * (size_t)w;

	for (int r = 0; r < h; r++) {
		for (int q = 0; q < w; q++) {
			size_t at = (size_t)r * (size_t)w + (size_t)q;
			struct rgb px;

			px.r = pixels[at];
			px.g = c == 3 ? pixels[plane + at] : px.r;
			px.b = c == 3 ? pixels[2 * plane + at] : px.r;
			canvas_fill(im, x + q * scale, y + r * scale, scale, scale, px);
		}
	}
}
