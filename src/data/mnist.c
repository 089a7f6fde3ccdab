/* `format: mnist` (and the older `dataset: mnist`): MNIST from its four IDX
 * files or a Keras-style mnist.npz, in the folder `path` (default data/mnist).
 * Its one key is `path`; the ten classes are the digits. */
#include "data/data.h"

#include <limits.h>
#include <stdbool.h>
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

/* For a data.path that is not there (see cfg_check_paths). */
static const char mnist_fetch_hint[] = "run `make data` in cnnrun's folder, or data/fetch-mnist.sh FOLDER, "
                                       "to download MNIST, or put the four IDX files (or mnist.npz) there";

struct mnist_source {
	struct data_source base;
	const char *path;       /* into the config tree */
};

static int mnist_create(struct cfg_node *map, struct data_source **out, struct cnn_error *err)
{
	struct mnist_source *m = calloc(1, sizeof *m);
	if (!m)
		return cnn_errorf_plain(err, "out of memory");
	*out = &m->base;
	return cfg_path(map, "path", CFG_OPTIONAL, "data/mnist", CFG_PATH_ANY, mnist_fetch_hint, &m->path, "data", err);
}

/* The IDX headers: how many images of what size. */
static int mnist_probe(const struct data_source *s, struct data_probe *p, struct cnn_error *err)
{
	const struct mnist_source *m = (const struct mnist_source *)s;
	char img[PATH_MAX], lab[PATH_MAX];
	p->n_classes = MNIST_CLASSES;
	/* An .npz (named, or alone in the folder) is checked when it is loaded:
	 * its counts stay unknown here, which the probe's contract allows. */
	if (mnist_is_npz(m->path))
		return 0;
	for (int i = 0; i < 2; i++) {
		const char *prefix = i ? "t10k" : "train";
		if (mnist_find(m->path, prefix, "images", "idx3", img, sizeof img, err))
			return i == 0 && mnist_npz_in(m->path, img, sizeof img) ? 0 : -1;
		if (mnist_find(m->path, prefix, "labels", "idx1", lab, sizeof lab, err) ||
		    idx_probe_images(img, i == 0, p, err))
			return -1;
	}
	return 0;
}

static int mnist_format_load(const struct data_source *s, enum data_split split, const char *path,
                             const struct data_request *req, struct dataset *out, struct cnn_error *err)
{
	const struct mnist_source *m = (const struct mnist_source *)s;
	(void)req;
	if (split == DATA_VAL)
		return 1;
	return mnist_load(path ? path : m->path, split == DATA_TRAIN ? "train" : "test", out, err);
}

const struct data_format mnist_format = {
	.name = "mnist",
	.validation = 5000,
	.create = mnist_create,
	.probe = mnist_probe,
	.load = mnist_format_load,
	.destroy = data_source_free,
};
