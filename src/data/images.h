/* Image files with labels, decoded together (src/data/images.c): shared by
 * the formats that read image files (folder, list). Internal to src/data. */
#ifndef CNN_DATA_IMAGES_H
#define CNN_DATA_IMAGES_H

#include "data/data.h"

struct image_entry {
	char *path;             /* owned */
	int label;
	int line;               /* in the list file; 0 for a folder's files */
};

struct image_set {
	struct image_entry *e;  /* (n) */
	int n, cap;
	const char *list;       /* the list file the entries came from, or NULL */
};

/* Returns -1 when out of memory. */
int image_set_add(struct image_set *s, const char *path, int label, int line);
void image_set_free(struct image_set *s);

/* Decodes every image, fitted to req->input, into out (labels as given).
 * `what` names the set in messages ("data/x/train"). */
int image_set_load(const struct image_set *s, const char *what, const struct data_request *req,
                   struct dataset *out, struct cnn_error *err);

#endif
