/* Applies the config's input normalisation to the datasets of a run, and
 * records what the run worked out from the data (statistics, class names)
 * in the config tree, so the resolved config and every checkpoint carry it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/runner.h"

static struct cfg_node *scalar(struct cnn_loc loc, const char *text)
{
	struct cfg_node *n = cfg_node_new(CFG_SCALAR, loc);
	if (n && !(n->text = strdup(text))) {
		cfg_node_free(n);
		return NULL;
	}
	if (n)
		n->implicit = n->used = true;
	return n;
}

static struct cfg_node *number(struct cnn_loc loc, double value)
{
	char text[32];
	snprintf(text, sizeof text, "%.17g", value); /* exact: eval and resume must reproduce it */
	return scalar(loc, text);
}

/* Adds key: value to the `data` mapping as a default the run worked out;
 * on failure only the record is lost, the run itself is unaffected. */
static void record(struct cfg_node *map, const char *key, struct cfg_node *value)
{
	if (!value || cfg_map_put(map, key, map->loc, value))
		cfg_node_free(value);
}

/* One value, or a list of one per channel. */
static struct cfg_node *values(struct cnn_loc loc, const double *v, int n)
{
	if (n == 1)
		return number(loc, v[0]);
	struct cfg_node *seq = cfg_node_new(CFG_SEQ, loc);
	if (!seq)
		return NULL;
	seq->implicit = seq->used = true;
	for (int i = 0; i < n; i++) {
		struct cfg_node *e = number(loc, v[i]);
		if (!e || cfg_seq_push(seq, e)) {
			cfg_node_free(e);
			cfg_node_free(seq);
			return NULL;
		}
	}
	return seq;
}

void run_record_classes(struct data_config *d)
{
	if (!d->map || !d->class_names || cfg_get(d->map, "classes"))
		return;
	struct cfg_node *seq = cfg_node_new(CFG_SEQ, d->map->loc);
	if (!seq)
		return;
	seq->implicit = seq->used = true;
	for (int i = 0; i < d->n_classes; i++) {
		struct cfg_node *e = scalar(d->map->loc, d->class_names[i]);
		if (e)
			e->quoted = true;   /* "1", "true": names, not numbers */
		if (!e || cfg_seq_push(seq, e)) {
			cfg_node_free(e);
			cfg_node_free(seq);
			return;
		}
	}
	record(d->map, "classes", seq);
}

void run_normalize(struct data_config *d, struct dataset *train, struct dataset *val,
                   struct dataset *test)
{
	if (!d->standardize)
		return;
	const struct dataset *any = train ? train : val ? val : test;
	const int channels = any ? any->shape.c : 1;
	if (!d->have_stats) {
		/* statistics of the training split only: validation and test stay unseen */
		double scale[DATA_MAX_CHANNELS], offset[DATA_MAX_CHANNELS];
		dataset_standardize(train, scale, offset);
		for (int c = 0; c < channels; c++) {
			d->std[c] = 1.0 / scale[c];
			d->mean[c] = -offset[c] * d->std[c];
		}
		d->n_stats = channels;
		d->have_stats = true;
		if (d->map) {
			record(d->map, "mean", values(d->map->loc, d->mean, channels));
			record(d->map, "std", values(d->map->loc, d->std, channels));
		}
	}
	struct dataset *all[] = { train, val, test };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		if (!all[i])
			continue;
		all[i]->standardized = true;
		for (int c = 0; c < all[i]->shape.c; c++) {
			/* one value given: every channel alike */
			int k = d->n_stats == 1 ? 0 : c;
			all[i]->scale[c] = 1.0 / d->std[k];
			all[i]->offset[c] = -d->mean[k] / d->std[k];
		}
	}
}
