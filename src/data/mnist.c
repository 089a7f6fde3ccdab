/* MNIST from its four IDX files, and the dataset operations the runner needs.
 *
 * Images stay as bytes until a batch is drawn: 47 MB for the training set
 * instead of 188 MB of floats. */
#include "cnn/data.h"

#include <limits.h>
#include <stdbool.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MNIST_CLASSES 10

/* The file names people have: LeCun's originals (dashes), the dotted copies
 * some mirrors and Kaggle use, each raw or gzipped. Raw wins. */
static const char *const mnist_name_forms[] = {
	"%s/%s-%s-%s-ubyte",
	"%s/%s-%s.%s-ubyte",
	"%s/%s-%s-%s-ubyte.gz",
	"%s/%s-%s.%s-ubyte.gz",
};

/* Finds one of the four files: `what` is "images" or "labels", `kind`
 * "idx3" or "idx1". On failure err says which name was expected. */
static int mnist_find(const char *dir, const char *prefix, const char *what, const char *kind,
		      char *path, size_t len, struct cnn_error *err)
{
	size_t n = strlen(dir);
	/* Trim one trailing slash so messages do not show "mnist//train-...". */
	int dlen = (n > 1 && dir[n - 1] == '/') ? (int)n - 1 : (int)n;
	char d[PATH_MAX];
	struct stat st;

	if (n >= sizeof d)
		return cnn_errorf_plain(err, "%s: folder name too long", dir);
	snprintf(d, sizeof d, "%.*s", dlen, dir);

	for (size_t i = 0; i < sizeof mnist_name_forms / sizeof mnist_name_forms[0]; i++) {
		if (snprintf(path, len, mnist_name_forms[i], d, prefix, what, kind) >= (int)len)
			return cnn_errorf_plain(err, "%s: folder name too long", dir);
		if (stat(path, &st) == 0)
			return 0;
	}
	if (snprintf(path, len, mnist_name_forms[0], d, prefix, what, kind) >= (int)len)
		return cnn_errorf_plain(err, "%s: folder name too long", dir);
	return cnn_errorf_plain(err,
				"%s: not found (also tried .gz); run `make data` or data/fetch-mnist.sh "
				"to download MNIST, or put the four IDX files (or mnist.npz) there",
				path);
}

/* A path that names a file (rather than a folder) or ends in .npz. */
static bool mnist_is_npz(const char *path)
{
	size_t n = strlen(path);
	struct stat st;

	if (n >= 4 && !strcmp(path + n - 4, ".npz"))
		return true;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir/mnist.npz, if it is there. */
static bool mnist_npz_in(const char *dir, char *path, size_t len)
{
	size_t n = strlen(dir);
	int dlen = (n > 1 && dir[n - 1] == '/') ? (int)n - 1 : (int)n;
	struct stat st;

	if (snprintf(path, len, "%.*s/mnist.npz", dlen, dir) >= (int)len)
		return false;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* idx_load's errors point at the path they were given, which here is a
 * local buffer: fold it into the message before the buffer goes away. */
static int mnist_fold_loc(struct cnn_error *err)
{
	if (err) {
		struct cnn_error e = *err;
		char buf[sizeof e.msg];
		cnn_errorf_plain(err, "%s", cnn_error_str(&e, buf, sizeof buf));
	}
	return -1;
}

int mnist_load(const char *path, const char *split, struct dataset *out, struct cnn_error *err)
{
	char img_path[PATH_MAX], lab_path[PATH_MAX];
	const char *prefix;

	memset(out, 0, sizeof *out);
	if (!strcmp(split, "train"))
		prefix = "train";
	else if (!strcmp(split, "test"))
		prefix = "t10k";
	else
		return cnn_errorf_plain(err, "unknown MNIST split '%s' (expected 'train' or 'test')",
					split);

	/* A Keras-style mnist.npz: named directly, or alone in the folder. */
	if (mnist_is_npz(path))
		return mnist_npz_load(path, split, out, err);
	if (mnist_find(path, prefix, "images", "idx3", img_path, sizeof img_path, err)) {
		if (mnist_npz_in(path, img_path, sizeof img_path))
			return mnist_npz_load(img_path, split, out, err);
		return -1;
	}
	if (mnist_find(path, prefix, "labels", "idx1", lab_path, sizeof lab_path, err))
		return -1;

	return idx_pair_load(img_path, lab_path, MNIST_CLASSES, out, err);
}

int idx_pair_load(const char *img_path, const char *lab_path, int n_classes,
                  struct dataset *out, struct cnn_error *err)
{
	uint8_t *images = NULL, *labels = NULL;
	int idims[3], ldims[3];

	memset(out, 0, sizeof *out);
	if (idx_load(img_path, 3, &images, idims, err))
		return mnist_fold_loc(err);
	if (idx_load(lab_path, 1, &labels, ldims, err)) {
		mnist_fold_loc(err);
		goto out_free_images;
	}

	if (ldims[0] != idims[0]) {
		cnn_errorf_plain(err, "%s: %d labels, but %s has %d images", lab_path, ldims[0],
				 img_path, idims[0]);
		goto out_free_labels;
	}
	for (int i = 0; i < ldims[0]; i++) {
		if (labels[i] >= n_classes) {
			cnn_errorf_plain(err, "%s: label %d at index %d is out of range for %d classes",
					 lab_path, labels[i], i, n_classes);
			goto out_free_labels;
		}
	}

	out->n = idims[0];
	out->shape = (struct shape){ 1, idims[1], idims[2] };
	out->n_classes = n_classes;
	out->images = images;
	out->labels = labels;
	return 0;

out_free_labels:
	free(labels);
out_free_images:
	free(images);
	return -1;
}

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
	to->scale = from->scale;
	to->offset = from->offset;
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
	/* counts of each byte value: exact sums, whatever the dataset's size */
	uint64_t hist[256] = { 0 };
	size_t total = (size_t)train->n * shape_size(train->shape);
	for (size_t i = 0; i < total; i++)
		hist[train->images[i]]++;
	double sum = 0, sq = 0;
	for (int v = 0; v < 256; v++) {
		sum += (double)hist[v] * v;
		sq += (double)hist[v] * v * v;
	}
	double mean = total ? sum / total : 0;
	double var = total ? sq / total - mean * mean : 0;
	double sd = var > 1e-12 ? sqrt(var) : 1;
	*scale = 1.0 / sd;
	*offset = -mean / sd;
}

static void prefetch_bytes(const uint8_t *p, size_t n)
{
	for (size_t off = 0; off < n; off += 64)
		__builtin_prefetch(p + off);
	__builtin_prefetch(p + n - 1);
}

void dataset_batch(const struct dataset *d, const int *idx, int n, float *x, int *labels_out)
{
	size_t ss = shape_size(d->shape);
	const double scale = d->standardized ? d->scale : 1.0 / 255.0;
	const double offset = d->standardized ? d->offset : 0.0;

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
		const uint8_t *src = d->images + (size_t)idx[i] * ss;
		float *dst = x + (size_t)i * ss;
		/* Through double: with the default scale 1/255, v * scale rounded
		 * to float equals the float division v / 255.0f for every byte
		 * (checked for all 256), and vectorises where a division would not. */
		for (size_t j = 0; j < ss; j++)
			dst[j] = (float)(src[j] * scale + offset);
		if (labels_out)
			labels_out[i] = d->labels[idx[i]];
	}
}
