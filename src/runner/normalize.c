/* Applies the config's input normalisation to the datasets of a run. */
#include <stdio.h>
#include <string.h>

#include "cnn/runner.h"

/* Adds key: value to the `data` mapping as a default the run worked out. */
static void record(struct cfg_node *map, const char *key, double value)
{
	char text[32];
	struct cfg_node *n = cfg_node_new(CFG_SCALAR, map->loc);
	snprintf(text, sizeof text, "%.17g", value); /* exact: eval and resume must reproduce it */
	if (!n || !(n->text = strdup(text)) || cfg_map_put(map, key, map->loc, n)) {
		cfg_node_free(n);
		return; /* only the record is lost; the run itself is unaffected */
	}
	n->implicit = n->used = true;
}

void run_normalize(struct data_config *d, struct dataset *train, struct dataset *val,
                   struct dataset *test)
{
	if (!d->standardize)
		return;
	if (!d->have_stats) {
		/* statistics of the training split only: validation and test stay unseen */
		double scale, offset;
		dataset_standardize(train, &scale, &offset);
		d->std = 1.0 / scale;
		d->mean = -offset * d->std;
		d->have_stats = true;
		if (d->map) {
			record(d->map, "mean", d->mean);
			record(d->map, "std", d->std);
		}
	}
	struct dataset *all[] = { train, val, test };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		if (!all[i])
			continue;
		all[i]->standardized = true;
		all[i]->scale = 1.0 / d->std;
		all[i]->offset = -d->mean / d->std;
	}
}
