/* `format: folder`: one folder per class, as torchvision's ImageFolder and
 * Keras' image_dataset_from_directory read them:
 *   data: {format: folder, path: DIR, resize: bilinear | none, classes: [...]}
 *   DIR/train/<class>/<image>, DIR/test/<class>/<image>, DIR/val/<class>/<image> (optional)
 * The classes are the training folder's subfolders in sorted (byte) order,
 * unless `classes:` lists them. Files are taken in sorted order; names
 * starting with '.' are skipped; every other file must be an image. When
 * DIR/val is there it is the validation set (data.validation must then be 0). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/data.h"
#include "data/images.h"
#include "io/folder.h"

struct folder_source {
	struct data_source base;
	const char *path;       /* into the config tree */
};

static const char *const split_dirs[] = { "train", "val", "test" };

/* The sorted names in dir of its subfolders (want_dirs) or of everything
 * else; hidden names and dangling links are left out. */
static int list_dir(const char *dir, bool want_dirs, char ***names, int *n, struct cnn_error *err)
{
	char path[PATH_MAX];
	struct folder_entry *v;
	int count;
	*names = NULL;
	*n = 0;
	if (folder_list(dir, &v, &count, err))
		return -1;
	char **kept = malloc((size_t)(count ? count : 1) * sizeof *kept);
	if (!kept) {
		folder_entries_free(v, count);
		return cnn_errorf(err, (struct cnn_loc){ dir, 0, 0 }, "out of memory");
	}
	for (int i = 0; i < count; i++) {
		data_join(path, sizeof path, dir, v[i].name);
		enum folder_kind kind = folder_entry_kind(path, v[i].type);
		if (kind != FOLDER_KIND_NONE && (kind == FOLDER_KIND_FOLDER) == want_dirs) {
			kept[(*n)++] = v[i].name;   /* the name moves to kept */
			v[i].name = NULL;
		}
	}
	folder_entries_free(v, count);
	if (*n == 0) {   /* as before: no names, no array (callers may return early) */
		free(kept);
		kept = NULL;
	}
	*names = kept;
	return 0;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int folder_create(struct cfg_node *map, struct data_source **out, struct cnn_error *err)
{
	struct folder_source *f = calloc(1, sizeof *f);
	if (!f)
		return cnn_errorf_plain(err, "out of memory");
	*out = &f->base;
	return cfg_path(map, "path", CFG_REQUIRED, NULL, CFG_PATH_FOLDER, NULL, &f->path, "data", err) ||
	       data_read_resize(map, &f->base.resize, err);
}

/* Counts the files of each class folder of one split (0 if no such split). */
static long count_split(const char *dir, struct cnn_error *err)
{
	char **classes, **files, path[PATH_MAX];
	int n_classes, n_files;
	long total = 0;
	if (list_dir(dir, true, &classes, &n_classes, err))
		return -1;
	for (int i = 0; i < n_classes; i++) {
		data_join(path, sizeof path, dir, classes[i]);
		if (list_dir(path, false, &files, &n_files, err)) {
			data_free_names(classes, n_classes);
			return -1;
		}
		total += n_files;
		data_free_names(files, n_files);
	}
	data_free_names(classes, n_classes);
	return total;
}

static int folder_probe(const struct data_source *s, struct data_probe *p, struct cnn_error *err)
{
	const struct folder_source *f = (const struct folder_source *)s;
	char dir[PATH_MAX];
	data_join(dir, sizeof dir, f->path, "train");
	if (list_dir(dir, true, &p->class_names, &p->n_classes, err))
		return -1;
	if (p->n_classes < 2 || p->n_classes > DATA_MAX_CLASSES)
		return cnn_errorf(err, (struct cnn_loc){ dir, 0, 0 }, "%d class folders; a folder dataset needs "
		                  "2 to %d, one subfolder per class", p->n_classes, DATA_MAX_CLASSES);
	for (int i = 0; i < 3; i++) {
		data_join(dir, sizeof dir, f->path, split_dirs[i]);
		if (i == DATA_VAL && !is_dir(dir))
			continue;
		long n = count_split(dir, err);
		if (n < 0)
			return -1;
		p->n_images += n;
		if (i == DATA_TRAIN)
			p->n_train = n;
	}
	return 0;
}

/* The files of one class folder, labelled. An empty folder is refused: a
 * class without images is a mistake, and would sink the per-class metrics. */
static int add_class(struct image_set *set, const char *dir, const char *name, int label, struct cnn_error *err)
{
	char cdir[PATH_MAX], path[PATH_MAX];
	char **files;
	int n;
	data_join(cdir, sizeof cdir, dir, name);
	if (list_dir(cdir, false, &files, &n, err))
		return -1;
	if (n == 0)
		return cnn_errorf(err, (struct cnn_loc){ cdir, 0, 0 }, "empty class folder (no image files)");
	for (int i = 0; i < n; i++) {
		data_join(path, sizeof path, cdir, files[i]);
		if (image_set_add(set, path, label, 0)) {
			data_free_names(files, n);
			return cnn_errorf_plain(err, "out of memory listing %s", cdir);
		}
	}
	data_free_names(files, n);
	return 0;
}

static int folder_load(const struct data_source *s, enum data_split split, const char *path,
                       const struct data_request *req, struct dataset *out, struct cnn_error *err)
{
	const struct folder_source *f = (const struct folder_source *)s;
	char dir[PATH_MAX];
	char **classes;
	int n_classes, rc = -1;
	struct image_set set = { 0 };
	data_join(dir, sizeof dir, path ? path : f->path, split_dirs[split]);
	if (split == DATA_VAL && !is_dir(dir))
		return 1;
	if (list_dir(dir, true, &classes, &n_classes, err))
		return -1;
	if (n_classes == 0) {
		cnn_errorf(err, (struct cnn_loc){ dir, 0, 0 }, "no class folders (expected %s/<class>/<image>)", dir);
		goto out;
	}
	/* every class folder must be a known class: training's, or `classes:` */
	for (int i = 0; i < n_classes; i++) {
		int label = data_class_index(req->class_names, req->n_classes, classes[i]);
		if (label < 0) {
			char sub[PATH_MAX];
			data_join(sub, sizeof sub, dir, classes[i]);
			cnn_errorf(err, (struct cnn_loc){ sub, 0, 0 }, "class folder '%s' is not one of the %d "
			           "training classes%s", classes[i], req->n_classes,
			           split == DATA_TRAIN ? " listed in data.classes" : "");
			goto out;
		}
		if (add_class(&set, dir, classes[i], label, err))
			goto out;
	}
	if (split == DATA_TRAIN && n_classes < req->n_classes) {
		for (int k = 0; k < req->n_classes; k++)
			if (data_class_index((const char *const *)classes, n_classes, req->class_names[k]) < 0) {
				cnn_errorf(err, (struct cnn_loc){ dir, 0, 0 }, "no folder for class '%s' (data.classes)",
				           req->class_names[k]);
				goto out;
			}
	}
	rc = image_set_load(&set, dir, req, out, err);
out:
	image_set_free(&set);
	data_free_names(classes, n_classes);
	return rc;
}

const struct data_format folder_format = {
	.name = "folder",
	.create = folder_create,
	.probe = folder_probe,
	.load = folder_load,
	.destroy = data_source_free,
};
