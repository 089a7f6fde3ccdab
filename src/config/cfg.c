/* The config tree: building, typed getters, unknown-key checks, --set. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"

struct cfg_node *cfg_node_new(enum cfg_kind kind, struct cnn_loc loc)
{
	struct cfg_node *n = calloc(1, sizeof *n);
	if (n) {
		n->kind = kind;
		n->loc = loc;
	}
	return n;
}

void cfg_node_free(struct cfg_node *n)
{
	if (!n)
		return;
	for (int i = 0; i < n->n; i++) {
		if (n->keys)
			free(n->keys[i]);
		cfg_node_free(n->vals[i]);
	}
	free(n->keys);
	free(n->key_locs);
	free(n->vals);
	free(n->known);
	free(n->text);
	free(n->written);
	free(n);
}

void cfg_free(struct cfg_doc *doc)
{
	cfg_node_free(doc->root);
	free(doc->file);
	free(doc->dir);
	doc->root = NULL;
	doc->file = NULL;
	doc->dir = NULL;
}

static int grow(struct cfg_node *n)
{
	if (n->n < n->cap)
		return 0;
	int cap = n->cap ? 2 * n->cap : 8;
	struct cfg_node **vals = realloc(n->vals, (size_t)cap * sizeof *vals);
	if (!vals)
		return -1;
	n->vals = vals;
	if (n->kind == CFG_MAP) {
		char **keys = realloc(n->keys, (size_t)cap * sizeof *keys);
		if (!keys)
			return -1;
		n->keys = keys;
		struct cnn_loc *locs = realloc(n->key_locs, (size_t)cap * sizeof *locs);
		if (!locs)
			return -1;
		n->key_locs = locs;
	}
	n->cap = cap;
	return 0;
}

int cfg_map_put(struct cfg_node *map, const char *key, struct cnn_loc key_loc, struct cfg_node *val)
{
	CNN_ASSERT(map->kind == CFG_MAP);
	char *k = strdup(key);
	if (!k || grow(map)) {
		free(k);
		return -1;
	}
	map->keys[map->n] = k;
	map->key_locs[map->n] = key_loc;
	map->vals[map->n++] = val;
	return 0;
}

int cfg_seq_push(struct cfg_node *seq, struct cfg_node *val)
{
	CNN_ASSERT(seq->kind == CFG_SEQ);
	if (grow(seq))
		return -1;
	seq->vals[seq->n++] = val;
	return 0;
}

int cfg_key_index(const struct cfg_node *map, const char *key)
{
	if (!map || map->kind != CFG_MAP)
		return -1;
	for (int i = 0; i < map->n; i++)
		if (!strcmp(map->keys[i], key))
			return i;
	return -1;
}

/* Remembers that `key` is a key this map may have (getters call it). */
static void mark_known(struct cfg_node *map, const char *key)
{
	if (!map || map->kind != CFG_MAP)
		return;
	for (int i = 0; i < map->n_known; i++)
		if (!strcmp(map->known[i], key))
			return;
	const char **known = realloc(map->known, (size_t)(map->n_known + 1) * sizeof *known);
	if (!known)
		return; /* only costs a less helpful message later */
	map->known = known;
	map->known[map->n_known++] = key;
}

struct cfg_node *cfg_peek(const struct cfg_node *map, const char *key)
{
	int i = cfg_key_index(map, key);
	return i < 0 ? NULL : map->vals[i];
}

struct cfg_node *cfg_get(struct cfg_node *map, const char *key)
{
	mark_known(map, key);
	int i = cfg_key_index(map, key);
	if (i < 0)
		return NULL;
	map->vals[i]->used = true;
	return map->vals[i];
}

struct cnn_loc cfg_key_loc(const struct cfg_node *map, const char *key)
{
	int i = cfg_key_index(map, key);
	if (i >= 0)
		return map->key_locs[i];
	return map ? map->loc : (struct cnn_loc){ 0 };
}

int cfg_parse_long(const char *s, long *out)
{
	if (!s || !*s || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	char *end;
	long v = strtol(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int cfg_parse_double(const char *s, double *out)
{
	if (!s || !*s || isspace((unsigned char)*s))
		return -1;
	/* YAML spells infinity and NaN .inf/.nan; none is a usable setting. */
	errno = 0;
	char *end;
	double v = strtod(s, &end);
	if (*end || errno == ERANGE || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

/* "conv: " or "" */
static const char *pfx(const char *what, char *buf, size_t len)
{
	if (what && *what)
		snprintf(buf, len, "%s: ", what);
	else
		buf[0] = '\0';
	return buf;
}

static const char *kind_name(const struct cfg_node *n)
{
	return n->kind == CFG_MAP ? "a mapping" : n->kind == CFG_SEQ ? "a list" : "a scalar";
}

/* Records a default the getter applied, so the resolved config shows it. */
static void record_default(struct cfg_node *map, const char *key, const char *text)
{
	if (!map || map->kind != CFG_MAP || cfg_key_index(map, key) >= 0)
		return;
	struct cfg_node *n = cfg_node_new(CFG_SCALAR, map->loc);
	if (!n || !(n->text = strdup(text)) || cfg_map_put(map, key, map->loc, n)) {
		cfg_node_free(n);
		return;
	}
	n->implicit = n->used = true;
	n->base = map->base;
}

static const char *foreign_for(const char *theirs, const char *ours, const char **tool);
static int edit_distance(const char *a, const char *b);
int cfg_edit_distance(const char *a, const char *b)
{
	return edit_distance(a, b);
}

static bool is_known(const struct cfg_node *map, const char *key);

int cfg_near_miss(struct cfg_node *map, const char *key, const char *what, struct cnn_error *err)
{
	char p[64];
	/* A key from another tool, or a near miss, standing where ours is missing
	 * is the likelier mistake: point at it. */
	for (int i = 0; map && map->kind == CFG_MAP && i < map->n; i++) {
		const char *k = map->keys[i], *tool;
		if (is_known(map, k))
			continue;
		if (foreign_for(k, key, &tool))
			return cnn_errorf(err, map->key_locs[i], "%sunknown key '%s' ('%s' is %s name; here it is '%s')",
			                  pfx(what, p, sizeof p), k, k, tool, key);
		size_t len = strlen(key);
		int near = len / 4 > 1 ? (int)(len / 4) : 1;
		size_t klen = strlen(k);
		bool prefix = klen && (!strncmp(k, key, len < klen ? len : klen));
		if (edit_distance(k, key) <= near || prefix)
			return cnn_errorf(err, map->key_locs[i], "%sunknown key '%s' (did you mean '%s'?)",
			                  pfx(what, p, sizeof p), k, key);
	}
	return 0;
}

int cfg_missing_key(struct cfg_node *map, const char *key, const char *what,
                    const char *expected, struct cnn_error *err)
{
	char p[64];
	if (cfg_near_miss(map, key, what, err))
		return -1;
	return cnn_errorf(err, map ? map->loc : (struct cnn_loc){ 0 }, "%smissing required key '%s' (%s)",
	                  pfx(what, p, sizeof p), key, expected);
}

/* The value of `key` as a scalar, NULL if absent; errors if absent and
 * required, or if not a scalar. Returns -1 on error. */
static int scalar_of(struct cfg_node *map, const char *key, bool required, const char *expected,
                     const char *what, struct cfg_node **out, struct cnn_error *err)
{
	char p[64];
	*out = cfg_get(map, key);
	if (!*out) {
		if (required)
			return cfg_missing_key(map, key, what, expected, err);
		return 0;
	}
	if ((*out)->kind != CFG_SCALAR)
		return cnn_errorf(err, (*out)->loc, "%s'%s' must be %s, got %s",
		                  pfx(what, p, sizeof p), key, expected, kind_name(*out));
	return 0;
}

int cfg_int(struct cfg_node *map, const char *key, bool required, long def,
            long lo, long hi, long *out, const char *what, struct cnn_error *err)
{
	char p[64], expected[96];
	struct cfg_node *n;
	snprintf(expected, sizeof expected, "an integer in [%ld, %ld]", lo, hi);
	if (scalar_of(map, key, required, expected, what, &n, err))
		return -1;
	if (!n) {
		char text[32];
		snprintf(text, sizeof text, "%ld", def);
		record_default(map, key, text);
		*out = def;
		return 0;
	}
	long v;
	if (n->quoted && !cfg_parse_long(n->text, &v))
		return cnn_errorf(err, n->loc, "%s'%s' must be %s, got the string \"%s\" (remove the quotes)",
		                  pfx(what, p, sizeof p), key, expected, n->text);
	if (n->quoted || cfg_parse_long(n->text, &v))
		return cnn_errorf(err, n->loc, "%s'%s' must be %s, got '%s'",
		                  pfx(what, p, sizeof p), key, expected, n->text);
	if (v < lo || v > hi)
		return cnn_errorf(err, n->loc, "%s'%s' must be %s, got %ld",
		                  pfx(what, p, sizeof p), key, expected, v);
	*out = v;
	return 0;
}

static int float_getter(struct cfg_node *map, const char *key, bool required, double def,
                        double lo, bool lo_open, double hi, bool hi_open, double *out,
                        const char *what, struct cnn_error *err)
{
	char p[64], expected[96];
	struct cfg_node *n;
	snprintf(expected, sizeof expected, "a number in %c%g, %g%c", lo_open ? '(' : '[', lo, hi,
	         hi_open ? ')' : ']');
	if (scalar_of(map, key, required, expected, what, &n, err))
		return -1;
	if (!n) {
		char text[40];
		snprintf(text, sizeof text, "%.9g", def);
		record_default(map, key, text);
		*out = def;
		return 0;
	}
	double v;
	if (n->quoted && !cfg_parse_double(n->text, &v))
		return cnn_errorf(err, n->loc, "%s'%s' must be %s, got the string \"%s\" (remove the quotes)",
		                  pfx(what, p, sizeof p), key, expected, n->text);
	if (n->quoted || cfg_parse_double(n->text, &v))
		return cnn_errorf(err, n->loc, "%s'%s' must be %s, got '%s'",
		                  pfx(what, p, sizeof p), key, expected, n->text);
	if (v < lo || (lo_open && v == lo) || v > hi || (hi_open && v == hi))
		return cnn_errorf(err, n->loc, "%s'%s' must be %s, got %g",
		                  pfx(what, p, sizeof p), key, expected, v);
	*out = v;
	return 0;
}

int cfg_float(struct cfg_node *map, const char *key, bool required, double def,
              double lo, double hi, double *out, const char *what, struct cnn_error *err)
{
	return float_getter(map, key, required, def, lo, false, hi, false, out, what, err);
}

int cfg_float_below(struct cfg_node *map, const char *key, bool required, double def,
                    double lo, double hi, double *out, const char *what, struct cnn_error *err)
{
	return float_getter(map, key, required, def, lo, false, hi, true, out, what, err);
}

int cfg_float_positive(struct cfg_node *map, const char *key, bool required, double def,
                       double hi, double *out, const char *what, struct cnn_error *err)
{
	return float_getter(map, key, required, def, 0, true, hi, false, out, what, err);
}

int cfg_bool(struct cfg_node *map, const char *key, bool required, bool def,
             bool *out, const char *what, struct cnn_error *err)
{
	char p[64];
	struct cfg_node *n;
	if (scalar_of(map, key, required, "true or false", what, &n, err))
		return -1;
	if (!n) {
		record_default(map, key, def ? "true" : "false");
		*out = def;
		return 0;
	}
	if (!n->quoted && !strcmp(n->text, "true"))
		*out = true;
	else if (!n->quoted && !strcmp(n->text, "false"))
		*out = false;
	else
		return cnn_errorf(err, n->loc, "%s'%s' must be true or false, got '%s'",
		                  pfx(what, p, sizeof p), key, n->text);
	return 0;
}

int cfg_string(struct cfg_node *map, const char *key, bool required, const char *def,
               const char **out, const char *what, struct cnn_error *err)
{
	char p[64];
	struct cfg_node *n;
	if (scalar_of(map, key, required, "a string", what, &n, err))
		return -1;
	if (!n) {
		if (def)
			record_default(map, key, def);
		*out = def;
		return 0;
	}
	if (!*n->text)
		return cnn_errorf(err, n->loc, "%s'%s' must not be empty", pfx(what, p, sizeof p), key);
	*out = n->text;
	return 0;
}

int cfg_abs_path(const char *base, const char *rel, char *out, size_t len)
{
	char cwd[PATH_MAX], joined[2 * PATH_MAX + 2];
	if (rel[0] != '/' && !base) {
		if (!getcwd(cwd, sizeof cwd))
			return -1;
		base = cwd;
	}
	int n = rel[0] == '/' ? snprintf(joined, sizeof joined, "%s", rel)
	                      : snprintf(joined, sizeof joined, "%s/%s", base, rel);
	if (n < 0 || (size_t)n >= sizeof joined)
		return -1;
	/* Folds "//", "." and ".." part by part into out, which stays absolute. */
	size_t used = 0;
	for (char *save = NULL, *part = strtok_r(joined, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		if (!strcmp(part, "."))
			continue;
		if (!strcmp(part, "..")) {
			while (used > 0 && out[used - 1] != '/')
				used--;
			if (used > 0)
				used--;     /* the '/' before the part taken away */
			continue;
		}
		size_t plen = strlen(part);
		if (used + 1 + plen + 1 > len)
			return -1;
		out[used++] = '/';
		memcpy(out + used, part, plen);
		used += plen;
	}
	if (used == 0) {
		if (len < 2)
			return -1;
		out[used++] = '/';
	}
	out[used] = '\0';
	return 0;
}

int cfg_path(struct cfg_node *map, const char *key, bool required, const char *def,
             enum cfg_path_kind kind, const char *hint, const char **out, const char *what,
             struct cnn_error *err)
{
	char p[64], abs[PATH_MAX];
	if (cfg_string(map, key, required, def, out, what, err))
		return -1;
	struct cfg_node *n = cfg_peek(map, key);
	if (!*out || !n)   /* absent and optional (or no mapping to record a default in) */
		return 0;
	if (n->path_kind) {   /* read before (a second build of the same tree) */
		*out = n->text;
		return 0;
	}
	if (cfg_abs_path(n->base, n->text, abs, sizeof abs))
		return cnn_errorf(err, n->loc, "%s'%s': the path '%s' is too long%s", pfx(what, p, sizeof p), key,
		                  n->text, n->base ? "" : " (or the working directory is unknown)");
	if (strcmp(abs, n->text)) {
		char *copy = strdup(abs);
		if (!copy)
			return cnn_errorf(err, n->loc, "out of memory");
		n->written = n->text;
		n->text = copy;
	}
	n->path_kind = kind;
	n->path_hint = hint;
	*out = n->text;
	return 0;
}

/* The one path node n (named `name`, e.g. "data.path"). */
static int check_path(const struct cfg_node *n, const char *name, struct cnn_error *err)
{
	struct stat st;
	const char *problem = NULL;
	if (stat(n->text, &st) != 0) {
		problem = errno != ENOENT && errno != ENOTDIR ? strerror(errno)
		        : n->path_kind == CFG_PATH_FILE ? "no such file"
		        : n->path_kind == CFG_PATH_FOLDER ? "no such folder" : "no such file or folder";
	} else if (n->path_kind == CFG_PATH_FILE && S_ISDIR(st.st_mode)) {
		problem = "is a folder, not a file";
	} else if (n->path_kind == CFG_PATH_FOLDER && !S_ISDIR(st.st_mode)) {
		problem = "is not a folder";
	}
	if (!problem)
		return 0;
	char hint[200] = "";
	if (n->path_hint)
		snprintf(hint, sizeof hint, "; %s", n->path_hint);
	if (n->written)
		return cnn_errorf(err, n->loc, "%s '%s' (resolved to %s): %s%s", name, n->written, n->text,
		                  problem, hint);
	return cnn_errorf(err, n->loc, "%s '%s': %s%s", name, n->text, problem, hint);
}

int cfg_check_paths(const struct cfg_node *n, const char *prefix, struct cnn_error *err)
{
	char name[256];
	if (!n)
		return 0;
	if (n->kind == CFG_SCALAR)
		return n->path_kind ? check_path(n, prefix ? prefix : "path", err) : 0;
	for (int i = 0; i < n->n; i++) {
		if (n->kind == CFG_MAP)
			snprintf(name, sizeof name, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", n->keys[i]);
		else
			snprintf(name, sizeof name, "%s%s%d", prefix ? prefix : "", prefix ? "." : "", i);
		if (cfg_check_paths(n->vals[i], name, err))
			return -1;
	}
	return 0;
}

static void join_choices(const char *const *choices, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; choices[i] && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", choices[i]);
}

int cfg_enum(struct cfg_node *map, const char *key, bool required, int def,
             const char *const *choices, int *out, const char *what, struct cnn_error *err)
{
	char p[64], list[256], expected[300];
	struct cfg_node *n;
	join_choices(choices, list, sizeof list);
	snprintf(expected, sizeof expected, "one of: %s", list);
	if (scalar_of(map, key, required, expected, what, &n, err))
		return -1;
	if (!n) {
		if (def >= 0)
			record_default(map, key, choices[def]);
		*out = def;
		return 0;
	}
	for (int i = 0; choices[i]; i++) {
		if (!strcmp(n->text, choices[i])) {
			*out = i;
			return 0;
		}
	}
	return cnn_errorf(err, n->loc, "%s'%s' must be %s; got '%s'",
	                  pfx(what, p, sizeof p), key, expected, n->text);
}

int cfg_map(struct cfg_node *map, const char *key, bool required,
            struct cfg_node **out, const char *what, struct cnn_error *err)
{
	char p[64];
	struct cfg_node *n = cfg_get(map, key);
	*out = NULL;
	if (!n) {
		if (required)
			return cfg_missing_key(map, key, what, "a mapping", err);
		/* An empty implicit mapping collects the defaults read from it. */
		if (map && map->kind == CFG_MAP) {
			n = cfg_node_new(CFG_MAP, map->loc);
			if (n && cfg_map_put(map, key, map->loc, n) == 0) {
				n->implicit = n->used = true;
				n->base = map->base;
				*out = n;
			} else {
				cfg_node_free(n);
			}
		}
		return 0;
	}
	if (n->kind != CFG_MAP)
		return cnn_errorf(err, n->loc, "%s'%s' must be a mapping of keys, got %s",
		                  pfx(what, p, sizeof p), key, kind_name(n));
	*out = n;
	return 0;
}

/* Names users bring from other tools, and ours. */
static const struct {
	const char *theirs, *tool, *ours[3];
} foreign_keys[] = {
	{ "num_output", "Caffe's", { "filters", "units" } },
	{ "out_channels", "PyTorch's", { "filters" } },
	{ "out_features", "PyTorch's", { "units" } },
	{ "num_filters", "Ludwig's", { "filters" } },
	{ "filter_size", "Ludwig's", { "kernel_size" } },
	{ "output", "Darknet's", { "units" } },
	{ "size", "Darknet's", { "kernel_size", "pool_size" } },
	{ "strides", "Keras's", { "stride" } },
	{ "pad", "Caffe's", { "padding" } },
	{ "kernel", "a common", { "kernel_size" } },
	{ "learning_rate", "Keras's", { "lr" } },
	{ "base_lr", "Caffe's", { "lr" } },
	{ "batch_size", "Keras's", { "batch" } },
	{ "max_epochs", "Lightning's", { "epochs" } },
	{ "beta_1", "Keras's", { "beta1" } },
	{ "beta_2", "Keras's", { "beta2" } },
	{ "epsilon", "Keras's", { "eps" } },
	{ "negative_slope", "PyTorch's", { "slope" } },
	{ "alpha", "Keras's", { "slope" } },
	{ "activation", "Keras's", { NULL } },
};

/* Is `theirs` another tool's name for our key `ours`? */
static const char *foreign_for(const char *theirs, const char *ours, const char **tool)
{
	for (size_t i = 0; i < sizeof foreign_keys / sizeof foreign_keys[0]; i++) {
		if (strcmp(foreign_keys[i].theirs, theirs))
			continue;
		for (int j = 0; j < 3 && foreign_keys[i].ours[j]; j++) {
			if (!strcmp(foreign_keys[i].ours[j], ours)) {
				*tool = foreign_keys[i].tool;
				return foreign_keys[i].ours[j];
			}
		}
	}
	return NULL;
}

/* Edits between two keys, a swap of neighbours counting as one (the
 * optimal string alignment distance): 'filtres' is one typo from 'filters'. */
static int edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 30 || lb > 30)
		return 99;
	int rows[3][32], *before = rows[0], *prev = rows[1], *row = rows[2];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int best = prev[j - 1] + (a[i - 1] != b[j - 1]);
			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    before[j - 2] + 1 < best)
				best = before[j - 2] + 1;
			row[j] = best;
		}
		int *t = before;
		before = prev;
		prev = row;
		row = t;
	}
	return prev[lb];
}

static bool is_known(const struct cfg_node *map, const char *key)
{
	for (int i = 0; i < map->n_known; i++)
		if (!strcmp(map->known[i], key))
			return true;
	return false;
}

static void key_hint(const struct cfg_node *map, const char *key, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof foreign_keys / sizeof foreign_keys[0]; i++) {
		if (strcmp(foreign_keys[i].theirs, key))
			continue;
		if (!strcmp(key, "activation")) {
			snprintf(buf, len, " (cnnrun never implies an activation: add a layer such as {type: relu} after this one)");
			return;
		}
		for (int j = 0; j < 3 && foreign_keys[i].ours[j]; j++) {
			if (is_known(map, foreign_keys[i].ours[j])) {
				snprintf(buf, len, " ('%s' is %s name; here it is '%s')", key,
				         foreign_keys[i].tool, foreign_keys[i].ours[j]);
				return;
			}
		}
	}
	int best = 3;
	const char *near = NULL;
	for (int i = 0; i < map->n_known; i++) {
		int d = edit_distance(key, map->known[i]);
		if (d < best) {
			best = d;
			near = map->known[i];
		}
	}
	if (near)
		snprintf(buf, len, " (did you mean '%s'?)", near);
}

int cfg_check_keys(struct cfg_node *map, const char *what, struct cnn_error *err)
{
	char p[64];
	if (!map || map->kind != CFG_MAP)
		return 0;
	for (int i = 0; i < map->n; i++) {
		if (is_known(map, map->keys[i]))
			continue;
		char hint[160], known[320];
		size_t used = 0;
		known[0] = '\0';
		for (int k = 0; k < map->n_known && used < sizeof known; k++)
			used += (size_t)snprintf(known + used, sizeof known - used, "%s%s",
			                         k ? ", " : "", map->known[k]);
		key_hint(map, map->keys[i], hint, sizeof hint);
		if (map->n_known)
			return cnn_errorf(err, map->key_locs[i], "%sunknown key '%s'%s; known keys: %s",
			                  pfx(what, p, sizeof p), map->keys[i], hint, known);
		return cnn_errorf(err, map->key_locs[i], "%sunknown key '%s' (this takes no keys)",
		                  pfx(what, p, sizeof p), map->keys[i]);
	}
	return 0;
}
