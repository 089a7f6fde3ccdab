/* The PNG encoder declared in png.h. Each row is stored with the "Up"
 * filter (the difference from the row above): image grids have long
 * vertical runs of equal pixels (margins, label bands), which Up turns into
 * zeros that deflate packs tightly. */
#include "plot/png.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util/crc32.h"

/* PNG's own limit is 2^31 - 1; ours keeps every size computation far from
 * overflow on 32-bit size_t. */
#define PNG_MAX_SIDE 16384

static const uint8_t signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Length, type, data and the CRC of type and data, at p; returns the end. */
static uint8_t *put_chunk(uint8_t *p, const char type[4], const uint8_t *data, size_t n)
{
	put_u32(p, (uint32_t)n);
	memcpy(p + 4, type, 4);
	if (n)
		memcpy(p + 8, data, n);
	put_u32(p + 8 + n, crc32_update(0, p + 4, n + 4));
	return p + 12 + n;
}

/* The filtered scanlines: a filter-type byte (2, Up) before each row. */
static uint8_t *filter_rows(const uint8_t *pixels, size_t stride, int height)
{
	uint8_t *raw = malloc((stride + 1) * (size_t)height);

	if (!raw)
		return NULL;
	for (int y = 0; y < height; y++) {
		const uint8_t *row = pixels + (size_t)y * stride;
		const uint8_t *up = y ? row - stride : NULL;   /* the row above (filter "Up") */
		uint8_t *out = raw + (size_t)y * (stride + 1);

		out[0] = 2;
		for (size_t i = 0; i < stride; i++)
			out[1 + i] = (uint8_t)(row[i] - (up ? up[i] : 0));
	}
	return raw;
}

int png_encode(const uint8_t *pixels, int width, int height, int channels,
               uint8_t **out, size_t *len, struct cnn_error *err)
{
	uint8_t ihdr[13], *raw, *z, *file, *p;
	size_t stride, raw_len;
	uLongf z_len;
	int rc;

	*out = NULL;
	*len = 0;
	if (width < 1 || height < 1 || width > PNG_MAX_SIDE || height > PNG_MAX_SIDE ||
	    (channels != 1 && channels != 3))
		return cnn_errorf_plain(err, "png: cannot encode a %dx%d image with %d channels",
		                        width, height, channels);
	stride = (size_t)width * (size_t)channels;
	raw_len = (stride + 1) * (size_t)height;
	raw = filter_rows(pixels, stride, height);
	z_len = compressBound((uLong)raw_len);
	z = malloc(z_len);
	if (!raw || !z) {
		free(raw);
		free(z);
		return cnn_errorf_plain(err, "png: out of memory");
	}
	rc = compress2(z, &z_len, raw, (uLong)raw_len, Z_BEST_COMPRESSION);
	free(raw);
	if (rc != Z_OK) {
		free(z);
		return cnn_errorf_plain(err, "png: zlib compress2 failed (%d)", rc);
	}
	put_u32(ihdr, (uint32_t)width);
	put_u32(ihdr + 4, (uint32_t)height);
	ihdr[8] = 8;                        /* bits per sample */
	ihdr[9] = channels == 1 ? 0 : 2;    /* colour type: grey or truecolour */
	ihdr[10] = 0;                       /* deflate */
	ihdr[11] = 0;                       /* adaptive filtering */
	ihdr[12] = 0;                       /* no interlace */
	file = malloc(sizeof signature + 3 * 12 + sizeof ihdr + z_len);
	if (!file) {
		free(z);
		return cnn_errorf_plain(err, "png: out of memory");
	}
	memcpy(file, signature, sizeof signature);
	p = put_chunk(file + sizeof signature, "IHDR", ihdr, sizeof ihdr);
	p = put_chunk(p, "IDAT", z, z_len);
	p = put_chunk(p, "IEND", NULL, 0);
	free(z);
	*out = file;
	*len = (size_t)(p - file);
	return 0;
}

int png_write(FILE *f, const uint8_t *pixels, int width, int height, int channels,
              struct cnn_error *err)
{
	uint8_t *data;
	size_t len;

	if (png_encode(pixels, width, height, channels, &data, &len, err))
		return -1;
	fwrite(data, 1, len, f);
	free(data);
	return 0;
}
