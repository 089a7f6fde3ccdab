/* `format: cifar10` and `format: cifar100`: the "binary version" of the
 * CIFAR sets (https://www.cs.toronto.edu/~kriz/cifar.html), extracted:
 *   data: {format: cifar10, path: DIR}     DIR/data_batch_1.bin ... data_batch_5.bin,
 *                                          DIR/test_batch.bin, DIR/batches.meta.txt
 *   data: {format: cifar100, path: DIR, label: fine | coarse}
 *                                          DIR/train.bin, DIR/test.bin,
 *                                          DIR/fine_label_names.txt, coarse_label_names.txt
 * A record is the label byte (CIFAR-100: coarse then fine) and 3,072 bytes
 * of pixels: the 32x32 red plane, then green, then blue, rows top first.
 * Class names come from the .txt files when present, else numbers. Images
 * are fitted to the input like any image (`resize:`), so [1, 32, 32] trains
 * on grey versions. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/fileio.h"
#include "data/data.h"
#include "io/image.h"

#define CIFAR_SIDE 32
#define CIFAR_PIXELS (3 * CIFAR_SIDE * CIFAR_SIDE)

struct cifar_kind {
	int label_bytes;        /* 1 or 2 */
	const char *train[5];   /* NULL-ended */
	const char *test;
};

static const struct cifar_kind cifar10 = {
	1, { "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin" },
	"test_batch.bin",
};
static const struct cifar_kind cifar100 = { 2, { "train.bin", NULL }, "test.bin" };

struct cifar_source {
	struct data_source base;
	const struct cifar_kind *kind;
	const char *path;       /* into the config tree */
	bool coarse;            /* CIFAR-100: the 20 superclasses */
};

static const char *const label_names[] = { "fine", "coarse", NULL };

static int cifar_create_kind(struct cfg_node *map, const struct cifar_kind *kind, struct data_source **out,
                             struct cnn_error *err)
{
	struct cifar_source *c = calloc(1, sizeof *c);
	int which = 0;
	if (!c)
		return cnn_errorf_plain(err, "out of memory");
	*out = &c->base;
	c->kind = kind;
	if (cfg_path(map, "path", CFG_REQUIRED, NULL, CFG_PATH_FOLDER, NULL, &c->path, "data", err) ||
	    (kind == &cifar100 && cfg_enum(map, "label", CFG_OPTIONAL, 0, label_names, &which, "data", err)) ||
	    data_read_resize(map, &c->base.resize, err))
		return -1;
	c->coarse = which == 1;
	return 0;
}

static int cifar10_create(struct cfg_node *map, struct data_source **out, struct cnn_error *err)
{
	return cifar_create_kind(map, &cifar10, out, err);
}

static int cifar100_create(struct cfg_node *map, struct data_source **out, struct cnn_error *err)
{
	return cifar_create_kind(map, &cifar100, out, err);
}

static int cifar_classes(const struct cifar_source *c)
{
	return c->kind == &cifar10 ? 10 : c->coarse ? 20 : 100;
}

static size_t record_bytes(const struct cifar_source *c)
{
	return (size_t)c->kind->label_bytes + CIFAR_PIXELS;
}

/* The records in one file, from its size; -1 (err) if it is not a whole number of them. */
static long file_records(const struct cifar_source *c, const char *file, struct cnn_error *err)
{
	struct stat st;
	struct cnn_loc at = { file, 0, 0 };
	if (stat(file, &st))
		return cnn_errorf(err, at, "%s; see docs/data.md for CIFAR's files", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return cnn_errorf(err, at, "not a regular file");
	size_t rb = record_bytes(c);
	if (st.st_size == 0 || (size_t)st.st_size % rb)
		return cnn_errorf(err, at, "%lld bytes is not a whole number of %zu-byte records (a label byte%s "
		                  "and 3,072 pixel bytes); the file is truncated or not %s's binary version",
		                  (long long)st.st_size, rb, c->kind->label_bytes == 2 ? " pair" : "",
		                  c->kind == &cifar10 ? "CIFAR-10" : "CIFAR-100");
	return (long)((size_t)st.st_size / rb);
}

/* Class names, one per line (blank lines skipped), if the file is there and
 * holds exactly n of them; else NULL (numbers). */
static char **read_names(const char *dir, const char *name, int n)
{
	char path[PATH_MAX], line[256];
	data_join(path, sizeof path, dir, name);
	struct cnn_error ignored;
	FILE *f = input_fopen(path, &ignored); /* absent or not a regular file: numbers */
	if (!f)
		return NULL;
	char **names = calloc((size_t)n, sizeof *names);
	int k = 0;
	while (names && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		if (k == n || !(names[k] = strdup(line))) {
			k = -1;
			break;
		}
		k++;
	}
	fclose(f);
	if (k != n) {
		data_free_names(names, k < 0 ? n : k);
		return NULL;
	}
	return names;
}

static int cifar_probe(const struct data_source *s, struct data_probe *p, struct cnn_error *err)
{
	const struct cifar_source *c = (const struct cifar_source *)s;
	char path[PATH_MAX];
	p->n_classes = cifar_classes(c);
	p->class_names = read_names(c->path, c->kind == &cifar10 ? "batches.meta.txt" :
	                            c->coarse ? "coarse_label_names.txt" : "fine_label_names.txt", p->n_classes);
	for (int i = 0; i < 6; i++) {
		const char *name = i < 5 ? c->kind->train[i] : c->kind->test;
		if (!name)
			continue;
		data_join(path, sizeof path, c->path, name);
		long n = file_records(c, path, err);
		if (n < 0)
			return -1;
		p->n_images += n;
		if (i < 5)
			p->n_train += n;
	}
	return 0;
}

/* Appends the records of one file to out (images fitted to req->input). */
static int read_records(const struct cifar_source *c, const char *file, const struct data_request *req,
                        struct dataset *out, struct cnn_error *err)
{
	const size_t rb = record_bytes(c), ss = shape_size(req->input);
	struct cnn_loc at = { file, 0, 0 };
	long n = file_records(c, file, err);
	if (n < 0)
		return -1;
	uint8_t *images = realloc(out->images, ((size_t)out->n + (size_t)n) * ss);
	if (images)
		out->images = images;
	uint8_t *labels = realloc(out->labels, (size_t)out->n + (size_t)n);
	if (labels)
		out->labels = labels;
	unsigned char *rec = malloc(rb);            /* (rb): label byte(s), then (3, 32, 32) pixels */
	unsigned char *hwc = malloc(CIFAR_PIXELS);  /* (32, 32, 3): as struct image holds pixels */
	FILE *f = input_fopen(file, err);
	int rc = -1;
	if (!images || !labels || !rec || !hwc) {
		cnn_errorf(err, at, "out of memory");
		goto out;
	}
	if (!f)
		goto out;
	const int k = cifar_classes(c);
	for (long i = 0; i < n; i++) {
		if (fread(rec, 1, rb, f) != rb) {
			cnn_errorf(err, at, "read error at record %ld", i);
			goto out;
		}
		/* CIFAR-100's first byte is the coarse label, its second the fine one */
		int label = c->kind->label_bytes == 2 && !c->coarse ? rec[1] : rec[0];
		if (label >= k) {
			cnn_errorf(err, at, "record %ld has label %d, out of range for %d classes", i, label, k);
			goto out;
		}
		const unsigned char *px = rec + c->kind->label_bytes;
		for (int p = 0; p < CIFAR_SIDE * CIFAR_SIDE; p++)
			for (int ch = 0; ch < 3; ch++)
				hwc[3 * p + ch] = px[ch * CIFAR_SIDE * CIFAR_SIDE + p];
		struct image img = { CIFAR_SIDE, CIFAR_SIDE, 3, hwc };
		if (image_fit(&img, req->input, req->resize, out->images + (size_t)out->n * ss, file, err))
			goto out;
		out->labels[out->n++] = (uint8_t)label;
	}
	rc = 0;
out:
	if (f)
		fclose(f);
	free(rec);
	free(hwc);
	return rc;
}

static int cifar_load(const struct data_source *s, enum data_split split, const char *path,
                      const struct data_request *req, struct dataset *out, struct cnn_error *err)
{
	const struct cifar_source *c = (const struct cifar_source *)s;
	char file[PATH_MAX];
	memset(out, 0, sizeof *out);
	if (split == DATA_VAL)
		return 1;
	out->shape = req->input;
	out->n_classes = cifar_classes(c);
	for (int i = 0; i < 5; i++) {
		const char *name = split == DATA_TRAIN ? c->kind->train[i] : i == 0 ? c->kind->test : NULL;
		if (!name)
			break;
		data_join(file, sizeof file, path ? path : c->path, name);
		if (read_records(c, file, req, out, err)) {
			dataset_free(out);
			return -1;
		}
	}
	return 0;
}

const struct data_format cifar10_format = {
	.name = "cifar10",
	.validation = 5000,
	.create = cifar10_create,
	.probe = cifar_probe,
	.load = cifar_load,
	.destroy = data_source_free,
};

const struct data_format cifar100_format = {
	.name = "cifar100",
	.validation = 5000,
	.create = cifar100_create,
	.probe = cifar_probe,
	.load = cifar_load,
	.destroy = data_source_free,
};
