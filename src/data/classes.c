/* What the formats share: the `classes:` and `resize:` keys, class lookup,
 * paths, and the probe's result. */
#include <stdlib.h>
#include <string.h>

#include "data/data.h"

void data_free_names(char **names, int n)
{
	if (!names)
		return;
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

char **data_copy_names(const char *const *names, int n)
{
	char **copy = calloc(n > 0 ? (size_t)n : 1, sizeof *copy);
	if (!copy)
		return NULL;
	for (int i = 0; i < n; i++) {
		if (!(copy[i] = strdup(names[i]))) {
			data_free_names(copy, i);
			return NULL;
		}
	}
	return copy;
}

void data_probe_free(struct data_probe *p)
{
	data_free_names(p->class_names, p->n_classes);
	p->class_names = NULL;
}

int data_read_classes(struct cfg_node *map, bool required, char ***names, int *n,
                      struct cnn_error *err)
{
	struct cfg_node *list = cfg_get(map, "classes");
	*names = NULL;
	*n = 0;
	if (!list)
		return required ? cfg_missing_key(map, "classes", "data", "the list of class names, in label order", err)
		                : 0;
	if (list->kind != CFG_SEQ || list->n < 2 || list->n > DATA_MAX_CLASSES)
		return cnn_errorf(err, list->loc, "data: 'classes' must be a list of 2 to %d class names, in label order",
		                  DATA_MAX_CLASSES);
	const char *view[DATA_MAX_CLASSES];
	for (int i = 0; i < list->n; i++) {
		const struct cfg_node *name = list->vals[i];
		if (name->kind != CFG_SCALAR || !*name->text)
			return cnn_errorf(err, name->loc, "data: each class name must be a non-empty string");
		if (data_class_index(view, i, name->text) >= 0)
			return cnn_errorf(err, name->loc, "data: class name '%s' is given twice", name->text);
		view[i] = name->text;
	}
	if (!(*names = data_copy_names(view, list->n)))
		return cnn_errorf_plain(err, "out of memory");
	*n = list->n;
	return 0;
}

static const char *const resize_names[] = { "none", "bilinear", NULL };

int data_read_resize(struct cfg_node *map, enum data_resize *out, struct cnn_error *err)
{
	int which;
	if (cfg_enum(map, "resize", CFG_OPTIONAL, RESIZE_BILINEAR, resize_names, &which, "data", err))
		return -1;
	*out = which == 0 ? RESIZE_NONE : RESIZE_BILINEAR;
	return 0;
}

void data_source_free(struct data_source *s)
{
	free(s);
}

int data_class_index(const char *const *names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return i;
	return -1;
}

void data_join(char *out, size_t len, const char *dir, const char *name)
{
	size_t n = strlen(dir);
	int dlen = (n > 1 && dir[n - 1] == '/') ? (int)n - 1 : (int)n;
	snprintf(out, len, "%.*s/%s", dlen, dir, name);
}
