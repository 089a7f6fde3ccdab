/* Config tree -> layers and settings. See src/builder/builder.h. */
#include <ctype.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "builder/builder.h"

/* Type names users bring from other tools. */
static const struct {
	const char *theirs, *ours;
} foreign_types[] = {
	{ "conv2d", "conv" }, { "Conv2D", "conv" }, { "convolutional", "conv" },
	{ "Convolution", "conv" }, { "convolution", "conv" },
	{ "maxpool2d", "maxpool" }, { "MaxPool2d", "maxpool" }, { "MaxPooling2D", "maxpool" },
	{ "max_pool", "maxpool" }, { "pool", "maxpool" }, { "Pooling", "maxpool" },
	{ "linear", "dense" }, { "Linear", "dense" }, { "Dense", "dense" }, { "fc", "dense" },
	{ "connected", "dense" }, { "InnerProduct", "dense" }, { "fully_connected", "dense" },
	{ "ReLU", "relu" }, { "Flatten", "flatten" },
	{ "AvgPool2d", "avgpool" }, { "AveragePooling2D", "avgpool" }, { "avgpool2d", "avgpool" },
	{ "avg_pool", "avgpool" }, { "average_pooling", "avgpool" },
	{ "GlobalAveragePooling2D", "global_avgpool" }, { "AdaptiveAvgPool2d", "global_avgpool" },
	{ "global_avg_pool", "global_avgpool" }, { "global_average_pooling", "global_avgpool" },
	{ "LeakyReLU", "leaky_relu" }, { "leaky", "leaky_relu" }, { "leakyrelu", "leaky_relu" },
	{ "Tanh", "tanh" }, { "TanH", "tanh" },
	{ "Sigmoid", "sigmoid" }, { "logistic", "sigmoid" },
};

static int unknown_type(const struct cfg_node *type_node, struct cnn_error *err)
{
	const char *name = type_node->text;
	char known[256] = "";
	size_t used = 0;
	int count;
	const struct layer_type *types = layer_types(&count);
	for (int i = 0; i < count && used < sizeof known; i++)
		used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", types[i].name);
	for (size_t i = 0; i < sizeof foreign_types / sizeof foreign_types[0]; i++)
		if (!strcmp(foreign_types[i].theirs, name))
			return cnn_errorf(err, type_node->loc, "unknown layer type '%s' (did you mean '%s'?); known types: %s",
			                  name, foreign_types[i].ours, known);
	if (!strcmp(name, "softmax") || !strcmp(name, "softmax_cross_entropy") || !strcmp(name, "Softmax"))
		return cnn_errorf(err, type_node->loc, "unknown layer type '%s': the softmax is part of the loss, "
		                  "set by the top-level key 'loss: softmax_cross_entropy'; known types: %s", name, known);
	return cnn_errorf(err, type_node->loc, "unknown layer type '%s'; known types: %s", name, known);
}

static int valid_name(const char *s)
{
	if (!*s || strlen(s) >= 32)
		return 0;
	for (; *s; s++)
		if (!(*s == '_' || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			return 0;
	return 1;
}

/* The scalar `key` written in a layer item, without marking it read. */
static const char *item_text(const struct cfg_node *item, const char *key)
{
	const struct cfg_node *v = cfg_peek(item, key);
	return v && v->kind == CFG_SCALAR ? v->text : NULL;
}

static const char *given_name(const struct cfg_node *item)
{
	return item_text(item, "name");
}

/* The automatic name of layer item j: its type and its count among the
 * layers of that type, named or not ("relu2": the list's second relu).
 * Nothing else enters it, so naming or un-naming another layer never
 * renames this one (nor its exported tensors). "" when j has no type. */
static void auto_name(const struct cfg_node *items, int j, char *buf, size_t len)
{
	const char *type = item_text(items->vals[j], "type");
	int count = 0;
	for (int i = 0; type && i <= j; i++) {
		const char *t = item_text(items->vals[i], "type");
		count += t && !strcmp(t, type);
	}
	if (type)
		snprintf(buf, len, "%s%d", type, count);
	else
		buf[0] = '\0';
}

/* Before automatic names were counts alone, an unnamed layer took the next
 * count no `name:` in the list held (a conv named relu1 made the relu
 * relu2). A checkpoint's config is named that way, which gives the same
 * names as today's rule for every config the builder accepts now and the
 * names the tensors were saved under for the rest. */
static bool legacy_name_taken(const struct model_config *c, const struct cfg_node *items, const char *name)
{
	for (int i = 0; i < c->n_layers; i++)
		if (!strcmp(c->layers[i]->name, name))
			return true;
	for (int i = 0; i < items->n; i++) {
		const char *g = given_name(items->vals[i]);
		if (g && !strcmp(g, name))
			return true;
	}
	return false;
}

/* A `name:` must not be another layer's automatic name: the index of the
 * unnamed layer that has it, or -1. */
static int auto_name_owner(const struct cfg_node *items, int self, const char *name)
{
	char a[64];
	for (int j = 0; j < items->n; j++) {
		if (j == self || given_name(items->vals[j]))
			continue;
		auto_name(items, j, a, sizeof a);
		if (!strcmp(a, name))
			return j;
	}
	return -1;
}

/* The layer's own `name:`, or its automatic name (see auto_name). */
static int name_layer(struct model_config *c, const struct cfg_node *items, struct layer *l,
                      struct cfg_node *args, bool legacy, struct cnn_error *err)
{
	const char *given = NULL;
	int self = c->n_layers, owner;
	if (cfg_string(args, "name", CFG_OPTIONAL, NULL, &given, l->ops->type, err))
		return -1;
	if (given) {
		struct cfg_node *n = cfg_get(args, "name");
		if (!valid_name(given))
			return cnn_errorf(err, n->loc, "%s: 'name' must be 1-31 letters, digits or '_', got '%s'",
			                  l->ops->type, given);
		if (!strcmp(given, "input"))
			return cnn_errorf(err, n->loc, "%s: the name 'input' is the network's input in 'inputs'; "
			                  "choose another", l->ops->type);
		if (!legacy && (owner = auto_name_owner(items, self, given)) >= 0) {
			const char *type = item_text(items->vals[owner], "type");
			return cnn_errorf(err, n->loc, "%s: name '%s' is the automatic name of layer %d (%s number %s "
			                  "in the list: a layer without a name: is called by its type and count); "
			                  "choose another name", l->ops->type, given, owner + 1, type, given + strlen(type));
		}
		for (int i = 0; i < c->n_layers; i++)
			if (!strcmp(c->layers[i]->name, given))
				return cnn_errorf(err, n->loc, "%s: name '%s' is already used by layer %d",
				                  l->ops->type, given, i + 1);
		snprintf(l->name, sizeof l->name, "%s", given);
		return 0;
	}
	if (!legacy) {
		auto_name(items, self, l->name, sizeof l->name);
		return 0;
	}
	int count = 1;
	for (int i = 0; i < c->n_layers; i++)
		count += c->layers[i]->ops == l->ops;
	do
		snprintf(l->name, sizeof l->name, "%s%d", l->ops->type, count++);
	while (legacy_name_taken(c, items, l->name));
	return 0;
}

/* The nearest earlier layer name (or 'input') to a misspelt reference, as
 * " (did you mean 'x'?)", or "". */
static void input_hint(const struct model_config *c, const char *s, char *buf, size_t len)
{
	const char *near = cfg_edit_distance(s, "input") <= 2 ? "input" : NULL;
	int best = near ? cfg_edit_distance(s, "input") : 3;
	for (int j = 0; j < c->n_layers; j++) {
		int d = cfg_edit_distance(s, c->layers[j]->name);
		if (d < best) {
			best = d;
			near = c->layers[j]->name;
		}
	}
	buf[0] = '\0';
	if (near)
		snprintf(buf, len, " (did you mean '%s'?)", near);
}

/* One entry of layer i's `inputs`: -1 (the layer above), `input` (the
 * network's input) or an earlier layer's name, as a layer index or
 * LAYER_INPUT_NET. Numbers other than -1 are refused: they silently change
 * meaning when a layer is inserted. */
static int resolve_input(const struct model_config *c, const struct cfg_node *items, int i,
                         const struct cfg_node *ref, const char *type, int *out, struct cnn_error *err)
{
	long v;
	if (ref->kind != CFG_SCALAR)
		return cnn_errorf(err, ref->loc, "%s: each entry of 'inputs' is a layer name, 'input' or -1, got %s",
		                  type, ref->kind == CFG_SEQ ? "a list" : "a mapping");
	const char *s = ref->text;
	if (!ref->quoted && cfg_parse_long(s, &v) == 0) {
		if (v != -1)
			return cnn_errorf(err, ref->loc, "%s: 'inputs' takes layer names, 'input' or -1 (the layer "
			                  "above), not the number %s; give the layer a name: and use it", type, s);
		*out = i - 1;
		return 0;
	}
	if (!strcmp(s, "input")) {
		*out = LAYER_INPUT_NET;
		return 0;
	}
	for (int j = 0; j < c->n_layers; j++)
		if (!strcmp(c->layers[j]->name, s)) {
			*out = j;
			return 0;
		}
	const char *own = given_name(items->vals[i]);
	if (own && !strcmp(own, s))
		return cnn_errorf(err, ref->loc, "%s: input '%s' is this layer itself; a layer reads only "
		                  "layers above it", type, s);
	for (int j = i + 1; j < items->n; j++) {
		const char *g = given_name(items->vals[j]);
		if (g && !strcmp(g, s))
			return cnn_errorf(err, ref->loc, "%s: input '%s' is layer %d, after this one (layer %d); "
			                  "a layer reads only layers above it", type, s, j + 1, i + 1);
	}
	char hint[64];
	input_hint(c, s, hint, sizeof hint);
	return cnn_errorf(err, ref->loc, "%s: unknown input '%s'%s; inputs are earlier layers' names, "
	                  "'input' or -1", type, s, hint);
}

/* Reads layer i's `inputs` (absent: the layer above) into idx[], and their
 * shapes and positions into refs[] for the constructor's messages. */
static int read_inputs(const struct model_config *c, const struct cfg_node *items, int i,
                       struct cfg_node *item, const char *type, int *idx,
                       struct layer_input_ref *refs, int *n_in, struct cnn_error *err)
{
	struct cfg_node *list = cfg_get(item, "inputs");
	*n_in = 0;
	if (!list) {
		idx[0] = i - 1;
		refs[0].loc = item->loc;
	} else {
		if (list->kind != CFG_SEQ || list->n == 0)
			return cnn_errorf(err, list->loc, "%s: 'inputs' must be a list such as [a, -1] "
			                  "(layer names, 'input' or -1)", type);
		if (list->n > LAYER_MAX_INPUTS)
			return cnn_errorf(err, list->vals[LAYER_MAX_INPUTS]->loc, "%s: at most %d inputs",
			                  type, LAYER_MAX_INPUTS);
		for (int k = 0; k < list->n; k++) {
			if (resolve_input(c, items, i, list->vals[k], type, &idx[k], err))
				return -1;
			refs[k].loc = list->vals[k]->loc;
		}
	}
	*n_in = list ? list->n : 1;
	for (int k = 0; k < *n_in; k++) {
		refs[k].shape = idx[k] == LAYER_INPUT_NET ? c->input : c->layers[idx[k]]->out;
		refs[k].name = idx[k] == LAYER_INPUT_NET ? "input" : c->layers[idx[k]]->name;
	}
	return 0;
}

/* Calls the type's constructor with the inputs it takes. */
static int create_layer(const struct layer_type *t, struct cfg_node *item, const char *type,
                        const struct layer_input_ref *refs, int n_in, struct layer **l,
                        struct cnn_error *err)
{
	struct cfg_node *list = cfg_get(item, "inputs");
	if (t->create) {
		if (n_in > 1)
			return cnn_errorf(err, list->vals[1]->loc, "%s: takes one input, but 'inputs' lists %d; "
			                  "only add and concat read several", type, n_in);
		return t->create(item, refs[0].shape, l, err);
	}
	if (!list)
		return cfg_near_miss(item, "inputs", type, err) ? -1
		       : cnn_errorf(err, item->loc, "%s: needs 'inputs', the layers it reads, e.g. inputs: [a, -1]",
		                    type);
	if (n_in < 2)
		return cnn_errorf(err, list->loc, "%s: needs at least 2 inputs, got 1", type);
	return t->create_multi(item, refs, n_in, l, err);
}

static int build_layer(struct model_config *c, const struct cfg_node *items, struct cfg_node *item,
                       bool legacy_names, struct cnn_error *err)
{
	if (item->kind != CFG_MAP)
		return cnn_errorf(err, item->loc, "each layer must be a mapping such as {type: relu}, got %s",
		                  item->kind == CFG_SEQ ? "a list" : "a scalar");
	const char *type;
	if (cfg_string(item, "type", CFG_REQUIRED, NULL, &type, "layer", err))
		return -1;
	const struct layer_type *t = layer_type_find(type);
	if (!t)
		return unknown_type(cfg_get(item, "type"), err);
	int idx[LAYER_MAX_INPUTS], n_in;
	struct layer_input_ref refs[LAYER_MAX_INPUTS];
	struct layer *l = NULL;
	if (read_inputs(c, items, c->n_layers, item, type, idx, refs, &n_in, err) ||
	    create_layer(t, item, type, refs, n_in, &l, err))
		return -1;
	l->loc = item->loc;
	l->n_inputs = n_in;
	memcpy(l->inputs, idx, (size_t)n_in * sizeof *idx);
	c->layers[c->n_layers] = l;
	if (name_layer(c, items, l, item, legacy_names, err) || cfg_check_keys(item, type, err)) {
		l->ops->destroy(l);
		c->layers[c->n_layers] = NULL;
		return -1;
	}
	c->n_layers++;
	return 0;
}

/* Every output but the last must be read: a branch that ends nowhere is
 * always a mistake (a forgotten add or concat). */
static int check_dangling(const struct model_config *c, struct cnn_error *err)
{
	for (int j = 0; j < c->n_layers - 1; j++) {
		bool read = false;
		for (int i = j + 1; i < c->n_layers && !read; i++)
			for (int k = 0; k < c->layers[i]->n_inputs; k++)
				read |= c->layers[i]->inputs[k] == j;
		const struct layer *l = c->layers[j];
		if (!read)
			return cnn_errorf(err, l->loc, "%s: the output of '%s' is never read; only the last layer's "
			                  "may be left unread (is an add or concat missing it?)", l->ops->type, l->name);
	}
	return 0;
}

/* legacy_names: for a checkpoint's config (see legacy_name_taken). */
static int read_layers(struct cfg_node *root, struct model_config *c, bool legacy_names, struct cnn_error *err)
{
	struct cfg_node *seq = cfg_get(root, "layers");
	if (!seq)
		return cfg_missing_key(root, "layers", NULL, "the list of layers", err);
	if (seq->kind != CFG_SEQ)
		return cnn_errorf(err, seq->loc, "'layers' must be a list of layers, e.g. - {type: conv, filters: 4, kernel_size: 5}");
	if (seq->n == 0)
		return cnn_errorf(err, seq->loc, "'layers' is empty; a network needs at least one layer");
	c->layers = calloc((size_t)seq->n, sizeof *c->layers);
	if (!c->layers)
		return cnn_errorf_plain(err, "out of memory");
	for (int i = 0; i < seq->n; i++)
		if (build_layer(c, seq, seq->vals[i], legacy_names, err))
			return -1;
	return check_dangling(c, err);
}

/* Tells each layer how sparse its output gradient is expected to be, from
 * the loss (dense) back to the input: see layer_ops.plan and dx_density.
 * Where an output fans out its gradient is a sum, non-zero where any term
 * is: 1 - (1 - a)(1 - b), taking the terms as independent. */
static int plan_layers(struct model_config *c, struct cnn_error *err)
{
	double *density = malloc((size_t)c->n_layers * sizeof *density);
	if (!density)
		return cnn_errorf_plain(err, "out of memory");
	for (int i = 0; i < c->n_layers; i++)
		density[i] = -1;   /* no reader seen yet */
	density[c->n_layers - 1] = 1.0;
	for (int i = c->n_layers - 1; i >= 0; i--) {
		struct layer *l = c->layers[i];
		if (l->ops->plan)
			l->ops->plan(l, density[i]);
		double d = l->ops->dx_density ? l->ops->dx_density(l, density[i]) : 1.0;
		for (int k = 0; k < layer_n_inputs(l); k++) {
			int j = layer_input(l, i, k);
			if (j != LAYER_INPUT_NET)
				density[j] = density[j] < 0 ? d : 1 - (1 - density[j]) * (1 - d);
		}
	}
	free(density);
	return 0;
}

static int read_input(struct cfg_node *root, struct model_config *c, struct cnn_error *err)
{
	struct cfg_node *n = cfg_get(root, "input");
	if (!n)
		return cfg_missing_key(root, "input", NULL, "the sample shape [channels, height, width], e.g. [1, 28, 28]", err);
	c->input_loc = n->loc;
	if (n->kind != CFG_SEQ || n->n != 3)
		return cnn_errorf(err, n->loc, "'input' must be [channels, height, width], e.g. [1, 28, 28]");
	int dims[3];
	for (int i = 0; i < 3; i++) {
		long v;
		const struct cfg_node *d = n->vals[i];
		if (d->kind != CFG_SCALAR || d->quoted || cfg_parse_long(d->text, &v) || v < 1 || v > 65536)
			return d->kind == CFG_SCALAR
			       ? cnn_errorf(err, d->loc, "'input' dimensions must be integers in [1, 65536], got '%s'", d->text)
			       : cnn_errorf(err, d->loc, "'input' dimensions must be integers in [1, 65536], got %s",
			                    d->kind == CFG_SEQ ? "a list" : "a mapping");
		dims[i] = (int)v;
	}
	c->input = (struct shape){ dims[0], dims[1], dims[2] };
	if ((double)dims[0] * dims[1] * dims[2] > (1 << 26))
		return cnn_errorf(err, n->loc, "'input' of %dx%dx%d values per sample is too large", dims[0], dims[1], dims[2]);
	return 0;
}

static const char *const normalize_names[] = { "scale", "standard", NULL };

/* One of mean/std: a number, or a list of one number per input channel,
 * each in [0, 255] (std: above 0). */
static int read_stat(struct cfg_node *map, const char *key, bool positive, double *out, int *n,
                     struct cnn_error *err)
{
	struct cfg_node *v = cfg_get(map, key);
	const int count = v->kind == CFG_SEQ ? v->n : 1;
	if (v->kind == CFG_MAP || count < 1 || count > DATA_MAX_CHANNELS)
		return cnn_errorf(err, v->loc, "data: '%s' must be a number, or a list of 1 to %d numbers "
		                  "(one per channel)", key, DATA_MAX_CHANNELS);
	for (int i = 0; i < count; i++) {
		const struct cfg_node *e = v->kind == CFG_SEQ ? v->vals[i] : v;
		if (e->kind != CFG_SCALAR)
			return cnn_errorf(err, e->loc, "data: each value of '%s' must be a number", key);
		if (cfg_parse_double(e->text, &out[i]) || !(out[i] >= 0 && out[i] <= 255) || (positive && out[i] == 0))
			return cnn_errorf(err, e->loc, "data: '%s' must be a number in %s255], got '%s'", key,
			                  positive ? "(0, " : "[0, ", e->text);
	}
	*n = count;
	return 0;
}

/* normalize: scale (v / 255) or standard ((v - mean) / std, from the training
 * set unless given; the runner records computed values in the config). */
static int read_normalize(struct cfg_node *map, struct data_config *d, struct cnn_error *err)
{
	int which, n_mean = 0, n_std = 0;
	if (cfg_enum(map, "normalize", CFG_OPTIONAL, 0, normalize_names, &which, "data", err))
		return -1;
	d->standardize = which == 1;
	struct cfg_node *mean = cfg_get(map, "mean"), *std = cfg_get(map, "std");
	if (!mean && !std)
		return 0;
	if (!d->standardize)
		return cnn_errorf(err, (mean ? mean : std)->loc,
		                  "data: 'mean' and 'std' apply only with 'normalize: standard'");
	if (!mean || !std)
		return cfg_missing_key(map, mean ? "std" : "mean", "data", "a number, or one per channel", err);
	if (read_stat(map, "mean", false, d->mean, &n_mean, err) || read_stat(map, "std", true, d->std, &n_std, err))
		return -1;
	if (n_mean != n_std)
		return cnn_errorf(err, std->loc, "data: 'mean' has %d value%s but 'std' has %d", n_mean,
		                  n_mean == 1 ? "" : "s", n_std);
	d->n_stats = n_mean;
	d->stats_loc = mean->loc;
	d->have_stats = true;
	return 0;
}

/* "mnist, idx, folder, ...": the registry's names. */
static void known_formats(char *known, size_t len)
{
	size_t used = 0;
	int count;
	const struct data_format *const *f = data_formats(&count);
	known[0] = '\0';
	for (int i = 0; i < count && used < len; i++)
		used += (size_t)snprintf(known + used, len - used, "%s%s", i ? ", " : "", f[i]->name);
}

static int unknown_format(const struct cfg_node *n, const char *key, struct cnn_error *err)
{
	char known[256];
	known_formats(known, sizeof known);
	if (n->kind != CFG_SCALAR)
		return cnn_errorf(err, n->loc, "data: '%s' must be one of: %s, got %s", key, known,
		                  n->kind == CFG_SEQ ? "a list" : "a mapping");
	return cnn_errorf(err, n->loc, "data: '%s' must be one of: %s; got '%s'", key, known, n->text);
}

/* `format:` (or the older `dataset: mnist`), looked up in the registry. */
static const struct data_format *find_format(struct cfg_node *map, struct cnn_error *err)
{
	/* Looked up without cfg_get, which would list both keys as known in every message. */
	const char *key = cfg_peek(map, "dataset") ? "dataset" : "format";
	struct cfg_node *n = cfg_get(map, key);
	if (!n) {
		char what[280] = "one of: ";
		known_formats(what + strlen(what), sizeof what - strlen(what));
		/* `datset: mnist` is a misspelt key too */
		if (!cfg_near_miss(map, "format", "data", err) && !cfg_near_miss(map, "dataset", "data", err))
			cfg_missing_key(map, "format", "data", what, err);
		return NULL;
	}
	if (!strcmp(key, "dataset") && cfg_get(map, "format")) {
		cnn_errorf(err, cfg_key_loc(map, "format"), "data: give 'format' or the older 'dataset', not both");
		return NULL;
	}
	const struct data_format *f = n->kind == CFG_SCALAR ? data_format_find(n->text) : NULL;
	if (!f)
		unknown_format(n, key, err);
	return f;
}

/* What the format can tell from its files before any image is decoded: the
 * class names and count, the image shape and count (for the memory check).
 * Returns the number of training images, 0 if it cannot tell. */
static long probe_data(struct data_config *d)
{
	struct data_probe p = { 0 };
	const struct data_format *f = d->source->format;
	if (!f->probe || f->probe(d->source, &p, NULL)) {
		data_probe_free(&p);
		return 0;
	}
	d->n_images = p.n_images;
	d->shape = p.shape;
	if (!d->n_classes && p.n_classes) {
		d->n_classes = p.n_classes;
		d->class_names = p.class_names;
		p.class_names = NULL;
	}
	data_probe_free(&p);
	return p.n_train;
}

static int read_data(struct cfg_node *root, struct model_config *c, struct cnn_error *err)
{
	struct cfg_node *map;
	long validation;
	struct data_config *d = &c->data;
	if (cfg_map(root, "data", CFG_REQUIRED, &map, NULL, err))
		return -1;
	const struct data_format *f = find_format(map, err);
	if (!f)
		return -1;
	int rc = f->create(map, &d->source, err);
	/* set even on failure: model_config_free destroys it through its format */
	if (d->source) {
		d->source->format = f;
		d->source->loc = map->loc;
	}
	if (rc)
		return -1;
	d->format = f->name;
	if (data_read_classes(map, false, &d->class_names, &d->n_classes, err) ||
	    cfg_int(map, "validation", CFG_OPTIONAL, f->validation, 0, 100000000, &validation, "data", err) ||
	    read_normalize(map, d, err) || cfg_check_keys(map, "data", err))
		return -1;
	d->map = map;
	d->validation = (int)validation;
	long n_train = probe_data(d);
	const struct cfg_node *v = cfg_get(map, "validation");
	if (n_train && validation >= n_train)
		return cnn_errorf(err, v->loc, "data: 'validation' (%ld%s%s) must be smaller than the %ld training "
		                  "images", validation, v->implicit ? ", the default for format " : "",
		                  v->implicit ? f->name : "", n_train);
	return 0;
}

static const char *const evaluate_names[] = { "best", "last", NULL };

/* early_stopping: {patience: N}; evaluate: best | last (which weights the test sees) */
static int read_stopping(struct cfg_node *train, int *patience, bool *test_best, struct cnn_error *err)
{
	struct cfg_node *map = NULL;
	long n = 0;
	int which;
	*patience = 0;
	if (cfg_get(train, "early_stopping") &&
	    (cfg_map(train, "early_stopping", CFG_OPTIONAL, &map, "train", err) ||
	     cfg_int(map, "patience", CFG_REQUIRED, 0, 1, 100000, &n, "early_stopping", err) ||
	     cfg_check_keys(map, "early_stopping", err)))
		return -1;
	*patience = (int)n;
	if (cfg_enum(train, "evaluate", CFG_OPTIONAL, 0, evaluate_names, &which, "train", err))
		return -1;
	*test_best = which == 0;
	return 0;
}

static int read_train(struct cfg_node *root, struct model_config *c, struct cnn_error *err)
{
	struct cfg_node *map;
	long epochs, batch, threads, every;
	struct augment_config augment;
	int patience;
	bool test_best;
	if (cfg_map(root, "train", CFG_OPTIONAL, &map, NULL, err) ||
	    cfg_int(map, "epochs", CFG_OPTIONAL, 10, 1, 100000, &epochs, "train", err) ||
	    cfg_int(map, "batch", CFG_OPTIONAL, 32, 1, 65536, &batch, "train", err) ||
	    cfg_int(map, "threads", CFG_OPTIONAL, 0, 0, 1024, &threads, "train", err) ||
	    augment_config_read(map, &augment, err) ||
	    read_stopping(map, &patience, &test_best, err) ||
	    cfg_int(map, "checkpoint_every", CFG_OPTIONAL, 0, 0, 2147483647L, &every, "train", err) ||
	    cfg_check_keys(map, "train", err))
		return -1;
	c->train = (struct train_config){
		.epochs = (int)epochs,
		.batch = (int)batch,
		.threads = threads ? (int)threads : omp_get_num_procs(),
		.checkpoint_every = (int)every,
		.augment = augment,
		.patience = patience,
		.patience_loc = cfg_key_loc(map, "early_stopping"),
		.test_best = test_best,
	};
	return 0;
}

/* `init: {from: FILE.npz}`. Looked up before cfg_map, which would add an
 * empty `init: {}` to the resolved config of every run that has none. */
static int read_init(struct cfg_node *root, struct model_config *c, struct cnn_error *err)
{
	struct cfg_node *map;
	if (!cfg_get(root, "init"))
		return 0;
	if (cfg_map(root, "init", CFG_REQUIRED, &map, NULL, err) ||
	    cfg_path(map, "from", CFG_REQUIRED, NULL, CFG_PATH_FILE, NULL, &c->init_from, "init", err) ||
	    cfg_check_keys(map, "init", err))
		return -1;
	c->init_loc = cfg_get(map, "from")->loc;
	return 0;
}

static int read_limits(struct cfg_node *root, struct model_config *c, struct cnn_error *err)
{
	struct cfg_node *map, *n;
	double physical = mem_physical();
	c->memory_limit = physical > 0 ? physical / 2 : 1e18;
	if (cfg_map(root, "limits", CFG_OPTIONAL, &map, NULL, err))
		return -1;
	if ((n = cfg_get(map, "memory")) && !n->implicit) {
		if (n->kind != CFG_SCALAR)
			return cnn_errorf(err, n->loc, "limits: 'memory' must be a size such as 512MB, 4GB or 2GiB, got %s",
			                  n->kind == CFG_SEQ ? "a list" : "a mapping");
		double v = mem_parse_size(n->text);
		if (v <= 0)
			return cnn_errorf(err, n->loc, "limits: 'memory' must be a size such as 512MB, 4GB or 2GiB, got '%s'",
			                  n->text);
		c->memory_limit = v;
	}
	return cfg_check_keys(map, "limits", err);
}

static const char *const loss_names[] = { "softmax_cross_entropy", NULL };

/* `loss: softmax_cross_entropy`, or the mapping form with its options:
 * `loss: {type: softmax_cross_entropy, label_smoothing: 0.1}`. */
static int read_loss(struct cfg_node *root, struct model_config *c, struct cnn_error *err)
{
	struct cfg_node *map = cfg_get(root, "loss");
	int loss;
	c->label_smoothing = 0;
	if (map && map->kind == CFG_MAP) {
		if (cfg_enum(map, "type", CFG_REQUIRED, -1, loss_names, &loss, "loss", err) ||
		    cfg_float(map, "label_smoothing", CFG_OPTIONAL, 0, 0, 0.999, &c->label_smoothing, "loss", err) ||
		    cfg_check_keys(map, "loss", err))
			return -1;
	} else if (cfg_enum(root, "loss", CFG_OPTIONAL, 0, loss_names, &loss, NULL, err)) {
		return -1;
	}
	c->loss = loss_names[loss];
	return 0;
}

/* Refuses, before anything big is allocated, a network that would not fit. */
static int check_memory(struct cfg_node *root, struct model_config *c, struct cnn_error *err)
{
	const struct data_config *d = &c->data;
	/* the images as bytes, each fitted to the input, and their labels, as
	 * many as the format counted (0 where it could not look before loading) */
	double data_bytes = (double)d->n_images * ((double)shape_size(c->input) + 1);
	int states = !strcmp(c->optim.type, "sgd") ? 1 : 2;   /* adam, adamw: m and v */
	mem_estimate(c->layers, c->n_layers, c->input, c->train.batch, c->train.threads, states,
	             data_bytes, &c->memory);
	const struct mem_estimate *m = &c->memory;
	if (m->total <= c->memory_limit)
		return 0;
	char need[32], limit[32], acts[32], largest[48];
	mem_format(m->total, need, sizeof need);
	mem_format(c->memory_limit, limit, sizeof limit);
	mem_format(m->activations + m->backward, acts, sizeof acts);
	struct shape s = m->largest_layer >= 0 ? c->layers[m->largest_layer]->out : c->input;
	shape_str(s, largest, sizeof largest);
	struct cnn_loc at = m->largest_layer >= 0 ? c->layers[m->largest_layer]->loc : c->input_loc;
	struct cfg_node *limits = cfg_get(root, "limits");
	const char *whose = limits && !limits->implicit && cfg_get(limits, "memory") ? ""
	                    : " (half of this machine's memory)";
	/* When the network alone would fit, the dataset is what does not: a
	 * smaller batch or layer cannot help, so say what does. */
	if (m->total - m->data <= c->memory_limit) {
		char data[32];
		mem_format(m->data, data, sizeof data);
		return cnn_errorf(err, c->input_loc, "the run needs about %s, above limits.memory %s%s, and the "
		                  "dataset held in memory is %s of it (the network at batch %d takes the rest); "
		                  "a smaller train.batch does not change the dataset: raise limits.memory",
		                  need, limit, whose, data, c->train.batch);
	}
	return cnn_errorf(err, at, "the network needs about %s at batch %d (activations and their gradients %s; "
	                  "the largest output is %s's %s per sample), above limits.memory %s%s; "
	                  "lower train.batch or this layer's size, or raise limits.memory",
	                  need, c->train.batch, acts,
	                  m->largest_layer >= 0 ? c->layers[m->largest_layer]->name : "the input",
	                  largest, limit, whose);
}

/* The last layer must give one score per class: say which layer and what to add. */
static int check_head(const struct model_config *c, struct cnn_error *err)
{
	const struct data_config *d = &c->data;
	if (d->shape.c && (c->input.c != d->shape.c || c->input.h != d->shape.h || c->input.w != d->shape.w))
		return cnn_errorf(err, c->input_loc, "'input' is [%d, %d, %d] but %s samples are [%d, %d, %d]",
		                  c->input.c, c->input.h, c->input.w, d->format, d->shape.c, d->shape.h, d->shape.w);
	if (d->n_stats > 1 && d->n_stats != c->input.c)
		return cnn_errorf(err, d->stats_loc, "data: 'mean' and 'std' have %d values, but 'input' has %d "
		                  "channel%s; give one value, or one per channel", d->n_stats, c->input.c,
		                  c->input.c == 1 ? "" : "s");
	if (c->input.c > DATA_MAX_CHANNELS)
		return cnn_errorf(err, c->input_loc, "'input' has %d channels; images have at most %d",
		                  c->input.c, DATA_MAX_CHANNELS);
	const struct layer *last = c->layers[c->n_layers - 1];
	/* With classes still unknown (a folder not yet listed) the runner checks
	 * once the data is loaded: see run_resolve_classes. */
	int k = d->n_classes ? d->n_classes : (int)shape_size(last->out);
	if (last->out.h != 1 || last->out.w != 1 || last->out.c != k) {
		char s[48];
		shape_str(last->out, s, sizeof s);
		return cnn_errorf(err, last->loc, "%s: the loss needs the last layer to output %d values (one per class), "
		                  "but %s outputs %s; end with {type: dense, units: %d}%s",
		                  last->ops->type, k, last->name, s, k,
		                  last->out.h != 1 || last->out.w != 1 ? " after {type: flatten}" : "");
	}
	return 0;
}

/* `name` becomes the folder runs/<name>: one plain folder name, so no
 * config can make a run write anywhere else. The reason comes first and the
 * name is shortened, so a long one cannot push the reason out. */
#define RUN_NAME_MAX 100
static int check_run_name(struct cfg_node *root, const char *name, struct cnn_error *err)
{
	struct cfg_node *n = cfg_get(root, "name");
	struct cnn_loc at = n ? n->loc : root->loc;
	size_t len = strlen(name), bad = 0;
	while (bad < len && (isalnum((unsigned char)name[bad]) || strchr("._-", name[bad])))
		bad++;
	if (len == 0)
		return cnn_errorf(err, at, "'name' is empty; it names the run's folder runs/<name>");
	if (len > RUN_NAME_MAX)
		return cnn_errorf(err, at, "'name' is %zu characters, more than %d; it names the run's folder "
		                  "runs/<name> ('%.32s...')", len, RUN_NAME_MAX, name);
	if (name[0] == '.')
		return cnn_errorf(err, at, "'name' must not start with '.' (character 1); it names the run's "
		                  "folder runs/<name>: letters, digits, '.', '_' and '-' ('%.40s')", name);
	if (bad < len) {
		char what[16];
		unsigned char ch = (unsigned char)name[bad];
		if (isprint(ch))
			snprintf(what, sizeof what, "'%c'", ch);
		else
			snprintf(what, sizeof what, "byte 0x%02x", ch);
		return cnn_errorf(err, at, "'name' holds %s at character %zu; it names the run's folder "
		                  "runs/<name>, so only letters, digits, '.', '_' and '-' are allowed ('%.40s')",
		                  what, bad + 1, name);
	}
	return 0;
}

int model_config_build(struct cfg_doc *doc, struct model_config *c, struct cnn_error *err)
{
	struct cfg_node *root = doc->root;
	long seed;
	memset(c, 0, sizeof *c);
	if (!root)
		return cnn_errorf(err, (struct cnn_loc){ doc->file, 0, 0 }, "the config is empty; see configs/mnist.yaml for an example");
	if (root->kind != CFG_MAP)
		return cnn_errorf(err, root->loc, "a config must be a mapping of keys (name, input, layers, ...), got %s",
		                  root->kind == CFG_SEQ ? "a list" : "a scalar");
	if (cfg_string(root, "name", CFG_OPTIONAL, "model", &c->name, NULL, err) ||
	    check_run_name(root, c->name, err) ||
	    cfg_int(root, "seed", CFG_OPTIONAL, 1, 0, 2147483647L, &seed, NULL, err) ||
	    read_data(root, c, err) || read_input(root, c, err) || read_layers(root, c, false, err) ||
	    plan_layers(c, err))
		goto fail;
	c->seed = (uint64_t)seed;
	struct cfg_node *opt;
	if (read_loss(root, c, err) ||
	    cfg_map(root, "optimizer", CFG_REQUIRED, &opt, NULL, err) ||
	    optim_config_read(opt, &c->optim, err) || read_train(root, c, err) || read_init(root, c, err) ||
	    read_limits(root, c, err) || check_head(c, err) || cfg_check_keys(root, NULL, err) ||
	    check_memory(root, c, err))
		goto fail;
	return 0;
fail:
	model_config_free(c);
	return -1;
}

/* The model alone, for a network read back from a checkpoint: a model is
 * not a training run, so the optimizer, the training settings, the memory
 * needed at the training batch and the data files are not looked at. The
 * data section is read only for the class names and the normalisation.
 * The layers come from the same code as model_config_build's, and are
 * planned the same way (conv's algorithm), so they compute the same bits. */
int model_config_build_model(struct cfg_doc *doc, struct model_config *c, struct cnn_error *err)
{
	struct cfg_node *root = doc->root;
	memset(c, 0, sizeof *c);
	if (!root || root->kind != CFG_MAP)
		return cnn_errorf(err, (struct cnn_loc){ doc->file, 0, 0 }, "the config is not a mapping of keys");
	if (cfg_string(root, "name", CFG_OPTIONAL, "model", &c->name, NULL, err) ||
	    read_data(root, c, err) || read_input(root, c, err) || read_layers(root, c, true, err) ||
	    plan_layers(c, err) || check_head(c, err))
		goto fail;
	return 0;
fail:
	model_config_free(c);
	return -1;
}

void model_config_free(struct model_config *c)
{
	for (int i = 0; i < c->n_layers; i++)
		c->layers[i]->ops->destroy(c->layers[i]);
	free(c->layers);
	c->layers = NULL;
	c->n_layers = 0;
	data_free_names(c->data.class_names, c->data.n_classes);
	c->data.class_names = NULL;
	if (c->data.source)
		c->data.source->format->destroy(c->data.source);
	c->data.source = NULL;
}
