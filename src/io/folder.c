#define _DEFAULT_SOURCE   /* d_type and the DT_* names */
#include "io/folder.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct folder_entry *)a)->name, ((const struct folder_entry *)b)->name);
}

void folder_entries_free(struct folder_entry *entries, int n)
{
	for (int i = 0; i < n; i++)
		free(entries[i].name);
	free(entries);
}

/* Appends e's name and type to *v (capacity *cap, *n used); -1 when out of memory. */
static int add_entry(struct folder_entry **v, int *n, int *cap, const struct dirent *e)
{
	if (*n == *cap) {
		int more = *cap ? 2 * *cap : 64;
		struct folder_entry *w = realloc(*v, (size_t)more * sizeof *w);
		if (!w)
			return -1;
		*v = w;
		*cap = more;
	}
	char *name = strdup(e->d_name);
	if (!name)
		return -1;
	(*v)[(*n)++] = (struct folder_entry){ name, e->d_type };
	return 0;
}

int folder_list(const char *dir, struct folder_entry **entries, int *n, struct cnn_error *err)
{
	struct cnn_loc at = { dir, 0, 0 };
	struct folder_entry *v = NULL;
	int count = 0, cap = 0;

	*entries = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return cnn_errorf(err, at, "cannot open the folder: %s", strerror(errno));
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] != '.' && add_entry(&v, &count, &cap, e)) {
			closedir(d);
			folder_entries_free(v, count);
			return cnn_errorf(err, at, "out of memory");
		}
	}
	closedir(d);
	if (count > 1)
		qsort(v, (size_t)count, sizeof *v, by_name);
	*entries = v;
	*n = count;
	return 0;
}

bool folder_type_may_be_folder(unsigned char type)
{
	return type == DT_DIR || type == DT_UNKNOWN || type == DT_LNK;
}

enum folder_kind folder_entry_kind(const char *path, unsigned char type)
{
	struct stat st;

	if (type == DT_DIR)
		return FOLDER_KIND_FOLDER;
	if (!folder_type_may_be_folder(type))
		return FOLDER_KIND_OTHER;
	if (stat(path, &st))
		return FOLDER_KIND_NONE;
	return S_ISDIR(st.st_mode) ? FOLDER_KIND_FOLDER : FOLDER_KIND_OTHER;
}
