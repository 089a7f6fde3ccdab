/* The dataset operations the runner needs, whatever the format: freeing,
 * the validation split, per-channel standardisation and batches. */
#include "data/data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void dataset_free(struct dataset *d)
{
	if (!d)
		return;
	free(d->images);
	free(d->labels);
	memset(d, 0, sizeof *d);
}

/* Reorders n samples of ss bytes so that sample i becomes old sample
 * perm[i], in place: each cycle of the permutation is walked once with one
 * sample held aside, so the set is never in memory twice. */
static void permute_in_place(uint8_t *images, uint8_t *labels, size_t ss, const int *perm, int n,
                             uint8_t *done, uint8_t *held)
{
	for (int start = 0; start < n; start++) {
		if (done[start])
			continue;
		uint8_t held_label = labels[start];
		memcpy(held, images + (size_t)start * ss, ss);
		int i = start;
		while (perm[i] != start) {
			int src = perm[i];
			memcpy(images + (size_t)i * ss, images + (size_t)src * ss, ss);
			labels[i] = labels[src];
			done[i] = 1;
			i = src;
		}
		memcpy(images + (size_t)i * ss, held, ss);
		labels[i] = held_label;
		done[i] = 1;
	}
}

int dataset_split(struct dataset *from, const int *perm, int count, struct dataset *to,
		  struct cnn_error *err)
{
	size_t ss = shape_size(from->shape);
	int n = from->n, keep = n - count;
	uint8_t *seen, *held, *mi, *ml;

	memset(to, 0, sizeof *to);
	if (count < 0 || count > n)
		return cnn_errorf_plain(err, "cannot split %d samples off a dataset of %d", count, n);

	/* A bad perm is the caller's bug, but it would silently duplicate
	 * samples across the two sets: check it, it costs n bytes. The same
	 * bytes then mark the samples already moved. */
	seen = calloc(n > 0 ? (size_t)n : 1, 1);
	held = malloc(ss + 1);
	/* +1: malloc(0) may return NULL, which would read as a failure. */
	mi = malloc((size_t)count * ss + 1);
	ml = malloc((size_t)count + 1);
	if (!seen || !held || !mi || !ml) {
		free(seen);
		free(held);
		free(mi);
		free(ml);
		return cnn_errorf_plain(err, "out of memory splitting %d samples off a dataset of %d",
					count, n);
	}
	for (int i = 0; i < n; i++) {
		CNN_ASSERT(perm[i] >= 0 && perm[i] < n && !seen[perm[i]]);
		seen[perm[i]] = 1;
	}
	for (int i = 0; i < n; i++)
		seen[i] = 0;

	/* The split-off samples are copied out; the kept ones are then moved
	 * into place within `from`'s own memory (MNIST: 47 MB, which a copy
	 * would have doubled at the peak). */
	for (int i = keep; i < n; i++) {
		memcpy(mi + (size_t)(i - keep) * ss, from->images + (size_t)perm[i] * ss, ss);
		ml[i - keep] = from->labels[perm[i]];
	}
	permute_in_place(from->images, from->labels, ss, perm, n, seen, held);
	free(seen);
	free(held);

	to->n = count;
	to->shape = from->shape;
	to->n_classes = from->n_classes;
	to->standardized = from->standardized;
	memcpy(to->scale, from->scale, sizeof to->scale);
	memcpy(to->offset, from->offset, sizeof to->offset);
	to->images = mi;
	to->labels = ml;
	/* The tail of from's memory held the samples now in `to`: give it back
	 * (glibc shrinks in place; a failed shrink just keeps the old block). */
	from->n = keep;
	uint8_t *shrunk = realloc(from->images, (size_t)keep * ss + 1);
	if (shrunk)
		from->images = shrunk;
	shrunk = realloc(from->labels, (size_t)keep + 1);
	if (shrunk)
		from->labels = shrunk;
	return 0;
}

void dataset_standardize(const struct dataset *train, double *scale, double *offset)
{
	size_t plane = (size_t)train->shape.h * train->shape.w;
	for (int c = 0; c < train->shape.c; c++) {
		/* counts of each byte value: exact sums, whatever the dataset's size */
		uint64_t hist[256] = { 0 };
		for (int i = 0; i < train->n; i++) {
			const uint8_t *p = train->images + ((size_t)i * train->shape.c + c) * plane;
			for (size_t j = 0; j < plane; j++)
				hist[p[j]]++;
		}
		size_t total = (size_t)train->n * plane;
		double sum = 0, sq = 0;
		for (int v = 0; v < 256; v++) {
			sum += (double)hist[v] * v;
			sq += (double)hist[v] * v * v;
		}
		double mean = total ? sum / total : 0;
		double var = total ? sq / total - mean * mean : 0;
		double sd = var > 1e-12 ? sqrt(var) : 1;
		scale[c] = 1.0 / sd;
		offset[c] = -mean / sd;
	}
}

static void prefetch_bytes(const uint8_t *p, size_t n)
{
	for (size_t off = 0; off < n; off += 64)
		__builtin_prefetch(p + off);
	__builtin_prefetch(p + n - 1);
}

void dataset_channel_map(const struct dataset *d, int c, double *scale, double *offset)
{
	*scale = d->standardized ? d->scale[c] : 1.0 / 255.0;
	*offset = d->standardized ? d->offset[c] : 0.0;
}

void dataset_batch(const struct dataset *d, const int *idx, int n, float *x, int *labels_out)
{
	size_t ss = shape_size(d->shape), plane = (size_t)d->shape.h * d->shape.w;
	/* Each byte value's float, per channel: a lookup per pixel instead of
	 * a conversion through double (vectorised only two doubles wide in
	 * the baseline build). The table holds the very expression the pixels
	 * had: through double, as v * scale + offset rounded to float once;
	 * with the default scale 1/255 that equals the float division
	 * v / 255.0f for every byte (checked for all 256). */
	float lut[DATA_MAX_CHANNELS][256];   /* (channels, byte value) */
	CNN_ASSERT(d->shape.c >= 1 && d->shape.c <= DATA_MAX_CHANNELS);
	for (int c = 0; c < d->shape.c; c++) {
		double s, o;
		dataset_channel_map(d, c, &s, &o);
		for (int v = 0; v < 256; v++)
			lut[c][v] = (float)(v * s + o);
	}

	/* Shuffled images are scattered over the whole set, far apart in
	 * memory: the hardware prefetcher cannot guess the next one, and each
	 * image's cache lines came from DRAM one miss at a time (a third of a
	 * 1-thread step on the reference network). Ask for a few images ahead. */
	enum { AHEAD = 4 };
	for (int i = 0; i < n && i < AHEAD; i++)
		prefetch_bytes(d->images + (size_t)idx[i] * ss, ss);
	for (int i = 0; i < n; i++) {
		CNN_ASSERT(idx[i] >= 0 && idx[i] < d->n);
		if (i + AHEAD < n)
			prefetch_bytes(d->images + (size_t)idx[i + AHEAD] * ss, ss);
		for (int c = 0; c < d->shape.c; c++) {
			const uint8_t *src = d->images + (size_t)idx[i] * ss + c * plane;
			float *dst = x + (size_t)i * ss + c * plane;
			const float *table = lut[c];
			for (size_t j = 0; j < plane; j++)
				dst[j] = table[src[j]];
		}
		if (labels_out)
			labels_out[i] = d->labels[idx[i]];
	}
}
