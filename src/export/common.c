/* What the exporters share (see export.h). */
#include <ctype.h>

#include "export/export.h"

int export_normalisation(const struct dataset *d, double *scale, double *offset, struct cnn_error *err)
{
	/* as dataset_batch: v / 255 unless standardised */
	*scale = d->standardized ? d->scale[0] : 1.0 / 255.0;
	*offset = d->standardized ? d->offset[0] : 0.0;
	/* The exported graphs and sources scale every channel alike. */
	for (int c = 1; d->standardized && c < d->shape.c && c < DATA_MAX_CHANNELS; c++)
		if (d->scale[c] != d->scale[0] || d->offset[c] != d->offset[0])
			return cnn_errorf_plain(err, "this model standardises each colour channel with its own mean "
			                        "and std, which the exporters cannot express yet; train it with "
			                        "data.normalize: scale (or one mean and std for all channels) to export it");
	return 0;
}

int export_inputs(const struct net *net, int i, int *inputs, int max)
{
	/* the graph's wiring: inputs[] of the layer (LAYER_INPUT_NET, -1, is
	 * the network input); a layer with n_inputs 0 reads the layer above */
	const struct layer *l = net->layers[i];
	int n = layer_n_inputs(l);
	CNN_ASSERT(n <= max);
	for (int k = 0; k < n; k++)
		inputs[k] = layer_input(l, i, k);
	return n;
}

int export_readers(const struct net *net, int o)
{
	int count = 0, in[LAYER_MAX_INPUTS];
	for (int i = o + 1; i < net->n_layers; i++) {
		int n = export_inputs(net, i, in, LAYER_MAX_INPUTS);
		for (int k = 0; k < n; k++)
			count += in[k] == o;
	}
	return count;
}

bool export_is_identifier(const char *s)
{
	if (!*s || isdigit((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

void export_identifier(const char *name, char lead, char *buf, size_t len)
{
	size_t n = 0;
	if (len < 2)
		return;
	if (!isalpha((unsigned char)*name) && *name != '_')
		buf[n++] = lead;   /* a digit first, or nothing at all */
	for (; *name && n + 1 < len; name++)
		buf[n++] = isalnum((unsigned char)*name) ? *name : '_';
	buf[n] = '\0';
}

int export_refuse(const struct export_model *m, const struct layer *l, const char *what,
                  const char *why, struct cnn_error *err)
{
	return cnn_errorf(err, (struct cnn_loc){ m->source, 0, 0 }, "layer '%s' (%s) cannot be exported to %s: %s",
	                  l->name, l->ops->type, what, why);
}

const float *export_param(const struct net *net, const struct layer *l, int k, size_t *n)
{
	int seen = 0;
	for (int t = 0; t < net->n_param_tensors; t++) {
		const struct net_param *p = &net->param_tensors[t];
		if (p->offset < l->param_offset || p->offset >= l->param_offset + l->param_count)
			continue;
		if (seen++ == k) {
			if (n)
				*n = p->spec.n;
			return net->params + p->offset;
		}
	}
	CNN_ASSERT(!"layer parameter missing");
	return NULL;
}
