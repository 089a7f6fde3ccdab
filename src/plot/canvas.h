/* An RGB canvas for raster pictures (the mistakes grid): filled rectangles,
 * dataset images scaled up by whole factors, and text in the built-in
 * bitmap font (font.c). Written out with png.c. */
#ifndef CNN_PLOT_CANVAS_H
#define CNN_PLOT_CANVAS_H

#include <stdint.h>

struct canvas {
	int width, height;
	uint8_t *rgb;           /* (height, width, 3) */
};

struct rgb {
	uint8_t r, g, b;
};

/* A canvas filled with `background`; -1 on out of memory or a bad size. */
int canvas_create(struct canvas *im, int width, int height, struct rgb background);
void canvas_free(struct canvas *im);

/* Clipped to the canvas. */
void canvas_fill(struct canvas *im, int x, int y, int w, int h, struct rgb color);

/* A dataset image of c planes (c = 1 grey, c = 3 RGB; (c, h, w) bytes as
 * struct dataset holds them) at (x, y), each pixel a scale x scale block. */
void canvas_blit(struct canvas *im, int x, int y, const uint8_t *pixels, int c, int h, int w,
                int scale);

/* The built-in font: 5 x 7 pixel glyphs on a 6-pixel advance, for ASCII
 * digits, letters (lower case is drawn as upper case) and common
 * punctuation; anything else is drawn as '?'. */
#define FONT_W 5
#define FONT_H 7
#define FONT_ADVANCE 6

/* The 7 rows of c's glyph, bit 4 the leftmost pixel; NULL if the font
 * has no glyph for c (space has one: all blank). */
const uint8_t *font_glyph(int c);

/* Width in pixels of text at scale (no trailing gap). */
int font_text_width(const char *text, int scale);

/* Draws text with its top-left corner at (x, y), each font pixel a
 * scale x scale block; returns the x after the last glyph. */
int font_draw(struct canvas *im, int x, int y, const char *text, int scale, struct rgb color);

#endif
