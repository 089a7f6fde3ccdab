/* `format: idx`: any single-channel set as a pair of IDX files per split,
 *   data: {format: idx, classes: [...],
 *          train: {images: FILE, labels: FILE}, test: {images: FILE, labels: FILE}}
 * The image size comes from the files; `classes` is required (the labels
 * are checked against its length). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"

struct idx_source {
	struct data_source base;
	const char *files[2][2];  /* [train, test][images, labels], into the config tree */
};

/* idx_load's errors point at the path they were given, which here is a
 * local buffer: fold it into the message before the buffer goes away. */
static int fold_loc(struct cnn_error *err)
{
	if (err) {
		struct cnn_error e = *err;
		char buf[sizeof e.msg];
		cnn_errorf_plain(err, "%s", cnn_error_str(&e, buf, sizeof buf));
	}
	return -1;
}

int idx_pair_load(const char *img_path, const char *lab_path, int n_classes,
                  struct dataset *out, struct cnn_error *err)
{
	uint8_t *images = NULL, *labels = NULL;
	int idims[3], ldims[3];

	memset(out, 0, sizeof *out);
	if (idx_load(img_path, 3, &images, idims, err))
		return fold_loc(err);
	if (idx_load(lab_path, 1, &labels, ldims, err)) {
		fold_loc(err);
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


static int read_pair(struct cfg_node *map, const char *split, const char **pair, struct cnn_error *err)
{
	struct cfg_node *files;
	char what[16];
	snprintf(what, sizeof what, "data.%s", split);
	if (cfg_map(map, split, CFG_REQUIRED, &files, "data", err) ||
	    cfg_path(files, "images", CFG_REQUIRED, NULL, CFG_PATH_FILE, NULL, &pair[0], what, err) ||
	    cfg_path(files, "labels", CFG_REQUIRED, NULL, CFG_PATH_FILE, NULL, &pair[1], what, err))
		return -1;
	return cfg_check_keys(files, split, err);
}

static int idx_create(struct cfg_node *map, struct data_source **out, struct cnn_error *err)
{
	struct idx_source *x = calloc(1, sizeof *x);
	if (!x)
		return cnn_errorf_plain(err, "out of memory");
	*out = &x->base;
	if (read_pair(map, "train", x->files[0], err) || read_pair(map, "test", x->files[1], err))
		return -1;
	/* the labels are numbers: their names must come from the config */
	if (!cfg_get(map, "classes"))
		return cfg_missing_key(map, "classes", "data", "the list of class names, in label order", err);
	return 0;
}

static int idx_probe(const struct data_source *s, struct data_probe *p, struct cnn_error *err)
{
	const struct idx_source *x = (const struct idx_source *)s;
	return idx_probe_images(x->files[0][0], true, p, err) || idx_probe_images(x->files[1][0], false, p, err);
}

static int idx_format_load(const struct data_source *s, enum data_split split, const char *path,
                           const struct data_request *req, struct dataset *out, struct cnn_error *err)
{
	const struct idx_source *x = (const struct idx_source *)s;
	(void)path;   /* never set: fixed_files */
	if (split == DATA_VAL)
		return 1;
	const char *const *pair = x->files[split == DATA_TEST];
	return idx_pair_load(pair[0], pair[1], req->n_classes, out, err);
}

const struct data_format idx_format = {
	.name = "idx",
	.fixed_files = true,
	.create = idx_create,
	.probe = idx_probe,
	.load = idx_format_load,
	.destroy = data_source_free,
};
