/* Listing a folder the same way on every machine: its entries but hidden
 * ones, sorted by the bytes of their names (readdir's order is the file
 * system's, and a locale's collation is the user's). The dataset's class
 * folders and `cnnrun predict FOLDER` both list this way. */
#ifndef CNN_IO_FOLDER_H
#define CNN_IO_FOLDER_H

#include <stdbool.h>

#include "util/error.h"

struct folder_entry {
	char *name;           /* owned; no leading '.' */
	unsigned char type;   /* readdir's DT_*; DT_UNKNOWN where the file system does not say */
};

/* The entries of dir, those whose name starts with '.' left out, sorted;
 * *n of them, freed with folder_entries_free. Returns 0, or -1 with err as
 * "dir: cannot open the folder: reason" or "dir: out of memory". */
int folder_list(const char *dir, struct folder_entry **entries, int *n, struct cnn_error *err);
void folder_entries_free(struct folder_entry *entries, int n);

/* Whether an entry of this readdir type may be a folder: it is one, or a
 * link, or the file system did not say. */
bool folder_type_may_be_folder(unsigned char type);

enum folder_kind { FOLDER_KIND_FOLDER, FOLDER_KIND_OTHER, FOLDER_KIND_NONE };

/* What the entry at path is, given its readdir type: a folder (a link to
 * one included), anything else, or nothing there (a dangling link, or gone
 * since the listing). stat only where the type does not settle it. */
enum folder_kind folder_entry_kind(const char *path, unsigned char type);

#endif
