/* `format: list`: list files of `path label` lines, as Caffe's ImageData
 * layer and darknet's train.txt have them:
 *   data: {format: list, train: FILE, test: FILE, val: FILE (optional),
 *          classes: [...] (optional), resize: bilinear | none}
 * A label is a class number (0-based), or a class name when `classes:`
 * lists them. Paths are relative to the list file's folder (absolute ones
 * are kept); the label is the line's last word, so a path may hold spaces.
 * Blank lines and lines starting with '#' are skipped. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/fileio.h"
#include "config/config.h"
#include "data/images.h"

struct list_source {
	struct data_source base;
	const char *files[3];   /* [train, val, test], into the config tree; val may be NULL */
};

/* Lines longer than this are refused (no path is this long). */
#define LIST_LINE_MAX 8192

static int list_create(struct cfg_node *map, struct data_source **out, struct cnn_error *err)
{
	struct list_source *l = calloc(1, sizeof *l);
	if (!l)
		return cnn_errorf_plain(err, "out of memory");
	*out = &l->base;
	return cfg_path(map, "train", CFG_REQUIRED, NULL, CFG_PATH_FILE, NULL, &l->files[DATA_TRAIN], "data", err) ||
	       cfg_path(map, "test", CFG_REQUIRED, NULL, CFG_PATH_FILE, NULL, &l->files[DATA_TEST], "data", err) ||
	       cfg_path(map, "val", CFG_OPTIONAL, NULL, CFG_PATH_FILE, NULL, &l->files[DATA_VAL], "data", err) ||
	       data_read_resize(map, &l->base.resize, err);
}

/* One line's label: a number below n_classes (any number when n_classes is
 * 0), or one of names. -1 with err at the line when it is neither. */
static int parse_label(const char *file, int line, const char *word, const struct data_request *req,
                       struct cnn_error *err)
{
	struct cnn_loc at = { file, line, 1 };
	long v;
	if (req->class_names) {
		int k = data_class_index(req->class_names, req->n_classes, word);
		if (k >= 0)
			return k;
		if (cfg_parse_long(word, &v) == 0 && v >= 0 && v < req->n_classes)
			return (int)v;
		return cnn_errorf(err, at, "unknown label '%s': not one of the %d classes in data.classes",
		                  word, req->n_classes);
	}
	if (cfg_parse_long(word, &v))
		return cnn_errorf(err, at, "label '%s' is not a class number; to use names, list them in "
		                  "data.classes", word);
	if (v < 0 || v >= (req->n_classes ? req->n_classes : DATA_MAX_CLASSES))
		return cnn_errorf(err, at, "label %ld is out of range [0, %d)", v,
		                  req->n_classes ? req->n_classes : DATA_MAX_CLASSES);
	return (int)v;
}

/* Reads a list file: each entry into set (when not NULL), checking that its
 * file is there; *max_label gets the largest label seen. Without req the
 * lines are only counted. */
static int read_list(const char *file, const struct data_request *req, struct image_set *set, int *max_label,
                     long *count, struct cnn_error *err)
{
	char line[LIST_LINE_MAX + 2], path[PATH_MAX];
	const char *slash = strrchr(file, '/');
	int base_len = slash ? (int)(slash - file) : 0, n = 0, rc = -1;
	struct stat st;
	*max_label = -1;
	*count = 0;
	FILE *f = input_fopen(file, err);
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		n++;
		size_t len = strlen(line);
		if (len > LIST_LINE_MAX) {
			cnn_errorf(err, (struct cnn_loc){ file, n, 1 }, "line longer than %d bytes", LIST_LINE_MAX);
			goto out;
		}
		while (len && isspace((unsigned char)line[len - 1]))
			line[--len] = '\0';
		char *p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		char *sep = p + strlen(p);
		while (sep > p && !isspace((unsigned char)sep[-1]))
			sep--;
		if (sep == p) {
			cnn_errorf(err, (struct cnn_loc){ file, n, 1 }, "expected 'path label', got '%s'", p);
			goto out;
		}
		const char *word = sep;
		while (sep > p && isspace((unsigned char)sep[-1]))
			sep--;
		*sep = '\0';
		if (!req) {
			/* counting only: numbers give the class count, names are data.classes' */
			long v;
			if (!cfg_parse_long(word, &v) && v >= 0 && v < DATA_MAX_CLASSES && v > *max_label)
				*max_label = (int)v;
			(*count)++;
			continue;
		}
		int label = parse_label(file, n, word, req, err);
		if (label < 0)
			goto out;
		if (label > *max_label)
			*max_label = label;
		(*count)++;
		if (!set)
			continue;
		int plen = p[0] == '/' || !base_len ? snprintf(path, sizeof path, "%s", p)
		                                   : snprintf(path, sizeof path, "%.*s/%s", base_len, file, p);
		if (plen < 0 || (size_t)plen >= sizeof path) {
			cnn_errorf(err, (struct cnn_loc){ file, n, 1 }, "the path is too long");
			goto out;
		}
		if (stat(path, &st)) {
			cnn_errorf(err, (struct cnn_loc){ file, n, 1 }, "%s: %s", path,
			           errno == ENOENT ? "no such file" : strerror(errno));
			goto out;
		}
		if (!S_ISREG(st.st_mode)) {
			cnn_errorf(err, (struct cnn_loc){ file, n, 1 }, "%s: not a regular file", path);
			goto out;
		}
		if (image_set_add(set, path, label, n)) {
			cnn_errorf_plain(err, "out of memory reading %s", file);
			goto out;
		}
	}
	if (ferror(f)) {
		cnn_errorf(err, (struct cnn_loc){ file, 0, 0 }, "read error");
		goto out;
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

static int list_probe(const struct data_source *s, struct data_probe *p, struct cnn_error *err)
{
	const struct list_source *l = (const struct list_source *)s;
	for (int i = 0; i < 3; i++) {
		int max_label;
		long n;
		if (!l->files[i])
			continue;
		if (read_list(l->files[i], NULL, NULL, &max_label, &n, err))
			return i == DATA_TRAIN ? -1 : 0;
		p->n_images += n;
		if (i == DATA_TRAIN) {
			p->n_train = n;
			p->n_classes = max_label >= 1 ? max_label + 1 : 0;
		}
	}
	return 0;
}

static int list_load(const struct data_source *s, enum data_split split, const char *path,
                     const struct data_request *req, struct dataset *out, struct cnn_error *err)
{
	const struct list_source *l = (const struct list_source *)s;
	const char *file = path && split == DATA_TEST ? path : l->files[split];
	struct image_set set = { .list = file };
	int max_label;
	long n;
	if (!file)
		return 1;
	int rc = read_list(file, req, &set, &max_label, &n, err);
	if (rc == 0)
		rc = image_set_load(&set, file, req, out, err);
	image_set_free(&set);
	return rc;
}

const struct data_format list_format = {
	.name = "list",
	.create = list_create,
	.probe = list_probe,
	.load = list_load,
	.destroy = data_source_free,
};
