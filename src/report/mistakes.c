/* The most confident mistakes of a test pass, and mistakes.bin (the format
 * is in report/report.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "io/fileio.h"

static const char magic[8] = { 'C', 'N', 'N', 'M', 'I', 'S', 'T', '1' };

/* No real dataset has images or lists this large; a corrupt header that
 * claims more must not make us allocate gigabytes. */
#define MISTAKES_MAX_COUNT 10000
#define MISTAKES_MAX_PIXELS (4096 * 4096)

static size_t image_bytes(const struct mistakes *m)
{
	return (size_t)m->c * (size_t)m->h * (size_t)m->w;
}

int mistakes_init(struct mistakes *m, int cap, int c, int h, int w)
{
	memset(m, 0, sizeof *m);
	m->cap = cap;
	m->c = c;
	m->h = h;
	m->w = w;
	m->items = calloc(cap > 0 ? (size_t)cap : 1, sizeof *m->items);
	m->pixels = malloc((cap > 0 ? (size_t)cap : 1) * (image_bytes(m) ? image_bytes(m) : 1));
	if (!m->items || !m->pixels) {
		mistakes_free(m);
		return -1;
	}
	for (int i = 0; i < cap; i++)
		m->items[i].pixels = m->pixels + (size_t)i * image_bytes(m);
	return 0;
}

void mistakes_free(struct mistakes *m)
{
	free(m->items);
	free(m->pixels);
	memset(m, 0, sizeof *m);
}

void mistakes_offer(struct mistakes *m, int index, int truth, int pred, float confidence,
                    const uint8_t *pixels)
{
	struct mistake fresh;
	int at;

	if (m->cap <= 0 || (m->n == m->cap && !(confidence > m->items[m->n - 1].confidence)))
		return;
	/* The slot to fill: a free one, or the least confident one's. */
	if (m->n < m->cap)
		m->n++;
	at = m->n - 1;
	fresh = (struct mistake){ index, truth, pred, confidence, m->items[at].pixels };
	memcpy(fresh.pixels, pixels, image_bytes(m));
	/* Insertion: move it up past every strictly less confident item. */
	while (at > 0 && m->items[at - 1].confidence < confidence) {
		m->items[at] = m->items[at - 1];
		at--;
	}
	m->items[at] = fresh;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int mistakes_write(FILE *f, const struct mistakes *m)
{
	uint8_t head[16], rec[16];

	fwrite(magic, 1, sizeof magic, f);
	put_u32(head, (uint32_t)m->n);
	put_u32(head + 4, (uint32_t)m->c);
	put_u32(head + 8, (uint32_t)m->h);
	put_u32(head + 12, (uint32_t)m->w);
	fwrite(head, 1, sizeof head, f);
	for (int i = 0; i < m->n; i++) {
		const struct mistake *k = &m->items[i];
		uint32_t bits;

		memcpy(&bits, &k->confidence, sizeof bits);
		put_u32(rec, (uint32_t)k->index);
		put_u32(rec + 4, (uint32_t)k->truth);
		put_u32(rec + 8, (uint32_t)k->pred);
		put_u32(rec + 12, bits);
		fwrite(rec, 1, sizeof rec, f);
		fwrite(k->pixels, 1, image_bytes(m), f);
	}
	return ferror(f) ? -1 : 0;
}

static int read_header(FILE *f, const char *path, uint32_t v[4], struct cnn_error *err)
{
	uint8_t head[8 + 16];

	if (fread(head, 1, sizeof head, f) != sizeof head || memcmp(head, magic, sizeof magic))
		return cnn_errorf_plain(err, "%s: not a cnnrun mistakes file", path);
	for (int i = 0; i < 4; i++)
		v[i] = get_u32(head + 8 + 4 * i);
	if (v[0] > MISTAKES_MAX_COUNT || v[1] < 1 || v[1] > 4 || v[2] < 1 || v[3] < 1 ||
	    (uint64_t)v[2] * v[3] > MISTAKES_MAX_PIXELS)
		return cnn_errorf_plain(err, "%s: implausible header (%u images of %ux%ux%u)",
		                        path, v[0], v[1], v[2], v[3]);
	return 0;
}

int mistakes_read(const char *path, struct mistakes *m, struct cnn_error *err)
{
	uint32_t v[4];

	memset(m, 0, sizeof *m);
	FILE *f = input_fopen(path, err);
	if (!f)
		return -1;
	if (read_header(f, path, v, err))
		goto fail;
	if (mistakes_init(m, (int)v[0], (int)v[1], (int)v[2], (int)v[3])) {
		cnn_errorf_plain(err, "%s: out of memory", path);
		goto fail;
	}
	for (int i = 0; i < (int)v[0]; i++) {
		struct mistake *k = &m->items[i];
		uint8_t rec[16];
		uint32_t bits;

		if (fread(rec, 1, sizeof rec, f) != sizeof rec ||
		    fread(k->pixels, 1, image_bytes(m), f) != image_bytes(m)) {
			cnn_errorf_plain(err, "%s: truncated after %d of %u images", path, i, v[0]);
			goto fail;
		}
		/* Untrusted: indices must be ints, the confidence a probability. */
		if (get_u32(rec) > INT32_MAX || get_u32(rec + 4) > INT32_MAX || get_u32(rec + 8) > INT32_MAX) {
			cnn_errorf_plain(err, "%s: image %d has an index or class beyond 2^31", path, i);
			goto fail;
		}
		k->index = (int)get_u32(rec);
		k->truth = (int)get_u32(rec + 4);
		k->pred = (int)get_u32(rec + 8);
		bits = get_u32(rec + 12);
		memcpy(&k->confidence, &bits, sizeof bits);
		if (!(k->confidence >= 0 && k->confidence <= 1)) {
			cnn_errorf_plain(err, "%s: image %d has confidence %g, not a probability", path, i,
			                 (double)k->confidence);
			goto fail;
		}
		m->n++;
	}
	fclose(f);
	return 0;
fail:
	fclose(f);
	mistakes_free(m);
	return -1;
}
