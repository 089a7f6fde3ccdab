/* What the exporters share (see export.h). */
#include <ctype.h>

#include "export/export.h"

void export_normalisation(const struct dataset *d, struct export_model *m)
{
	CNN_ASSERT(d->shape.c >= 1 && d->shape.c <= DATA_MAX_CHANNELS);
	/* as dataset_batch does it */
	for (int c = 0; c < d->shape.c; c++)
		dataset_channel_map(d, c, &m->scale[c], &m->offset[c]);
}

bool export_norm_uniform(const struct export_model *m)
{
	for (int c = 1; c < m->net->input.c; c++)
		if (m->scale[c] != m->scale[0] || m->offset[c] != m->offset[0])
			return false;
	return true;
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
