/* The config tree: a YAML document as plain nodes, each with its position.
 *
 * src/config/yaml_loader.c is the only file that sees libyaml; everything
 * else (builder, layer constructors, tests) reads this tree. Readers go
 * through the typed getters below, which (1) check type and range and report
 * errors at the value's position, (2) mark the key as used and remember it as
 * known, so cfg_check_keys() can reject unknown keys with the list of known
 * ones, and (3) record defaults they applied into the tree, so the tree can be
 * written back as the fully resolved config. */
#ifndef CNN_CONFIG_H
#define CNN_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "util/error.h"

enum cfg_kind { CFG_SCALAR, CFG_MAP, CFG_SEQ };

struct cfg_node {
	enum cfg_kind kind;
	struct cnn_loc loc;      /* where the value starts */
	char *text;              /* CFG_SCALAR: the scalar as written */
	bool quoted;             /* CFG_SCALAR: written in quotes (always a string) */
	bool implicit;           /* added by a getter as a default, not written by the user */
	bool used;               /* read by a getter */
	int n, cap;              /* CFG_MAP / CFG_SEQ: number of entries */
	char **keys;             /* CFG_MAP: keys[n] */
	struct cnn_loc *key_locs;/* CFG_MAP: where each key starts */
	struct cfg_node **vals;  /* CFG_MAP: values; CFG_SEQ: items */
	int n_known;             /* CFG_MAP: keys a getter asked for */
	const char **known;      /* (static strings) */
	/* Paths (see cfg_path): */
	const char *base;        /* the folder relative paths here resolve against: the
	                          * config file's (owned by its doc); NULL: the working
	                          * directory (--set, a config given as a string) */
	int path_kind;           /* CFG_SCALAR read by cfg_path: enum cfg_path_kind; 0: not a path */
	char *written;           /* ... the path as written, when resolving changed it (else NULL) */
	const char *path_hint;   /* ... (static) what to do when it is missing, or NULL */
};

struct cfg_doc {
	struct cfg_node *root;
	char *file;              /* owned copy of the file name used in locations */
	char *dir;               /* cfg_load_file: the absolute folder holding the file */
};

/* Nodes deeper than this are refused (a defence against pathological input). */
#define CFG_MAX_DEPTH 64
/* Configs are small; larger inputs are refused before parsing. */
#define CFG_MAX_BYTES (1u << 20)

/* Parses YAML into doc. cfg_load_file records the file's folder in every
 * node (cfg_node.base), so that its relative paths resolve against it;
 * cfg_load_string leaves them to the working directory. Anchors, aliases, tags on collections, duplicate keys,
 * non-scalar keys and multi-document streams are refused with positions. */
int cfg_load_file(const char *path, struct cfg_doc *doc, struct cnn_error *err);
int cfg_load_string(const char *text, size_t len, const char *name,
                    struct cfg_doc *doc, struct cnn_error *err);
void cfg_free(struct cfg_doc *doc);

/* Tree building (used by the loader and by tests). */
struct cfg_node *cfg_node_new(enum cfg_kind kind, struct cnn_loc loc);
void cfg_node_free(struct cfg_node *n);
int cfg_map_put(struct cfg_node *map, const char *key, struct cnn_loc key_loc,
                struct cfg_node *val);   /* returns -1 on out of memory */
int cfg_seq_push(struct cfg_node *seq, struct cfg_node *val);

/* Lookup. cfg_get marks the key known and used; NULL if absent. */
struct cfg_node *cfg_get(struct cfg_node *map, const char *key);
/* The one lookup that marks nothing, for code that inspects a tree rather
 * than reads a config (comparisons, hints, overrides): the index of `key`
 * in a CFG_MAP (-1 if absent or not a map), and its value (NULL if absent). */
int cfg_key_index(const struct cfg_node *map, const char *key);
struct cfg_node *cfg_peek(const struct cfg_node *map, const char *key);
struct cnn_loc cfg_key_loc(const struct cfg_node *map, const char *key);

/* Typed getters. `map` must be a CFG_MAP (or NULL: every key absent).
 * Absent key: *out = def, recorded as an implicit default, unless required.
 * Present key: must parse fully and lie in [lo, hi]; else an error at the value. */
#define CFG_REQUIRED true
#define CFG_OPTIONAL false
int cfg_int(struct cfg_node *map, const char *key, bool required, long def,
            long lo, long hi, long *out, const char *what, struct cnn_error *err);
int cfg_float(struct cfg_node *map, const char *key, bool required, double def,
              double lo, double hi, double *out, const char *what, struct cnn_error *err);
/* The same for [lo, hi): Adam's betas, which must stay below 1. */
int cfg_float_below(struct cfg_node *map, const char *key, bool required, double def,
                    double lo, double hi, double *out, const char *what, struct cnn_error *err);
/* The same for (0, hi]: learning rates, decay factors. */
int cfg_float_positive(struct cfg_node *map, const char *key, bool required, double def,
                       double hi, double *out, const char *what, struct cnn_error *err);
int cfg_bool(struct cfg_node *map, const char *key, bool required, bool def,
             bool *out, const char *what, struct cnn_error *err);
int cfg_string(struct cfg_node *map, const char *key, bool required, const char *def,
               const char **out, const char *what, struct cnn_error *err);
/* A path: a non-empty string that, when relative, is made absolute against
 * the folder of the config file that wrote it (or, for a value from --set or
 * a config given as a string, the working directory; for a default, the
 * folder of the mapping it is recorded in). The node's text becomes the
 * absolute path, so the resolved config records it; *out points at it. The
 * disk is not looked at here (cfg_check_paths does). `hint` (static, or
 * NULL) is added to the message when the path turns out to be missing. */
enum cfg_path_kind { CFG_PATH_FILE = 1, CFG_PATH_FOLDER, CFG_PATH_ANY /* a file or a folder */ };
int cfg_path(struct cfg_node *map, const char *key, bool required, const char *def,
             enum cfg_path_kind kind, const char *hint, const char **out, const char *what,
             struct cnn_error *err);

/* `rel` made absolute against `base` (NULL: the working directory), with
 * "." and ".." parts folded away as text (as a shell's `cd -L` does).
 * -1 when it does not fit in len or the working directory is unknown. */
int cfg_abs_path(const char *base, const char *rel, char *out, size_t len);

/* Every path read by cfg_path in the tree under `n` must exist, as a file
 * or folder as its getter asked. The error is at the value's position and
 * names the key, the path as written and the absolute path tried:
 *   `x.yaml:9:9: data.path 'data/mnist' (resolved to /abs/data/mnist): no such folder`
 * `prefix` is the key path of n ("data"), or NULL for the root. */
int cfg_check_paths(const struct cfg_node *n, const char *prefix, struct cnn_error *err);

/* One of `choices` (NULL-terminated); *out is the index. */
int cfg_enum(struct cfg_node *map, const char *key, bool required, int def,
             const char *const *choices, int *out, const char *what, struct cnn_error *err);
/* A sub-mapping (or NULL if absent and optional). */
int cfg_map(struct cfg_node *map, const char *key, bool required,
            struct cfg_node **out, const char *what, struct cnn_error *err);

/* The error for a required key that is absent: at a key from another tool
 * or a near miss that stands in its place, else at the mapping. Returns -1. */
int cfg_missing_key(struct cfg_node *map, const char *key, const char *what,
                    const char *expected, struct cnn_error *err);

/* The error for a required key that is absent, when a key from another tool
 * or a near miss (what cfg_missing_key looks for) stands in its place:
 * returns -1 with the error at that key; 0 (err untouched) when none does. */
int cfg_near_miss(struct cfg_node *map, const char *key, const char *what, struct cnn_error *err);

/* Levenshtein distance, for near-miss hints (99 for strings over 30 chars). */
int cfg_edit_distance(const char *a, const char *b);

/* Every key of `map` must have been asked for by a getter. The error names the
 * first unknown key at its position, lists the known keys, and hints where
 * the key is another tool's name (num_output, out_channels, size, ...) or a
 * near miss (edit distance <= 2). `what` prefixes the message ("conv"). */
int cfg_check_keys(struct cfg_node *map, const char *what, struct cnn_error *err);

/* `--set a.b.2.c=value`: replaces (or adds, inside an existing mapping) the
 * scalar at that path. Positions of the new value point at "--set". */
int cfg_set(struct cfg_doc *doc, const char *assignment, struct cnn_error *err);

/* Writes the (resolved) tree back out. */
void cfg_write_yaml(FILE *f, const struct cfg_node *n);
void cfg_write_json(FILE *f, const struct cfg_node *n, int indent);

/* Scalar parsing, full consumption required. Return 0 on success. */
int cfg_parse_long(const char *s, long *out);
int cfg_parse_double(const char *s, double *out);

#endif
