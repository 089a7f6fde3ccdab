/* `cnnrun summary` and the table training prints when it starts. */
#include <omp.h>
#include <string.h>

#include "kernels/kernels.h"
#include "runner/runner.h"
#include "io/fileio.h"
#include "plot/network.h"

static void human_count(double v, char *buf, size_t len)
{
	if (v >= 1e9)
		snprintf(buf, len, "%.2fG", v / 1e9);
	else if (v >= 1e6)
		snprintf(buf, len, "%.2fM", v / 1e6);
	else if (v >= 1e4)
		snprintf(buf, len, "%.1fk", v / 1e3);
	else
		snprintf(buf, len, "%.0f", v);
}

/* "a, conv2": the names of what layer i reads. */
static void layer_inputs_str(const struct net *net, int i, char *buf, size_t len)
{
	const struct layer *l = net->layers[i];
	size_t used = 0;
	buf[0] = '\0';
	for (int k = 0; k < layer_n_inputs(l) && used < len; k++) {
		int from = layer_input(l, i, k);
		used += (size_t)snprintf(buf + used, len - used, "%s%s", k ? ", " : "",
		                         from == LAYER_INPUT_NET ? "input" : net->layers[from]->name);
	}
}

void print_layer_table(FILE *f, const struct net *net, int batch)
{
	char shape[48], flops[32], desc[96], inputs[160];
	shape_str(net->input, shape, sizeof shape);
	fprintf(f, "  #  %-16s %-14s %-16s %-12s %10s %10s  %s\n", "layer", "type", "inputs", "output", "params",
	        "FLOPs", "details");
	fprintf(f, "  -  %-16s %-14s %-16s %-12s %10s %10s\n", "input", "", "", shape, "", "");
	for (int i = 0; i < net->n_layers; i++) {
		const struct layer *l = net->layers[i];
		shape_str(l->out, shape, sizeof shape);
		human_count(l->ops->flops ? l->ops->flops(l) : 0, flops, sizeof flops);
		desc[0] = '\0';
		if (l->ops->describe)
			l->ops->describe(l, desc, sizeof desc);
		if (net->fused_into[i] >= 0)   /* it runs nothing: its work is another layer's */
			snprintf(desc, sizeof desc, "fused into %s", net->layers[net->fused_into[i]]->name);
		int into = net->act_plan.fold_into ? net->act_plan.fold_into[i] : -1;
		if (into >= 0) {   /* evaluation only: training runs it */
			size_t len = strlen(desc);
			snprintf(desc + len, sizeof desc - len, "%sfolded into %s when evaluating",
			         len ? ", " : "", net->layers[into]->name);
		}
		layer_inputs_str(net, i, inputs, sizeof inputs);
		fprintf(f, "%3d  %-16s %-14s %-16s %-12s %10zu %10s  %s\n", i + 1, l->name, l->ops->type, inputs,
		        shape, l->param_count, flops, desc);
	}
	human_count(net_flops(net), flops, sizeof flops);
	fprintf(f, "total: %zu parameters, %s FLOPs per image forward (about 3x that to train)\n",
	        net->n_params, flops);
	fprintf(f, "batch %d on %d thread%s, %s kernels\n", batch, net->threads,
	        net->threads == 1 ? "" : "s", cnn_kernels_name());
}

void print_memory(FILE *f, const struct mem_estimate *m, double limit)
{
	char total[32], parts[6][32], lim[32];
	const double values[6] = { m->params + m->grads + m->optimizer, m->activations, m->backward,
	                           m->scratch, m->evaluation, m->data };
	for (int i = 0; i < 6; i++)
		mem_format(values[i], parts[i], sizeof parts[i]);
	mem_format(m->total, total, sizeof total);
	mem_format(limit, lim, sizeof lim);
	fprintf(f, "memory: about %s (parameters, gradients and optimizer state %s, activations %s, "
	        "their gradients %s, scratch %s, evaluation %s, data %s; limit %s)\n",
	        total, parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], lim);
}

int run_summary(struct cfg_doc *doc, const char *svg_path, FILE *out, struct cnn_error *err)
{
	struct model_config c;
	struct net *net;
	if (model_config_build(doc, &c, err))
		return CNN_BAD_CONFIG;
	int threads = c.train.threads;
	struct layer **layers = c.layers;
	int n_layers = c.n_layers;
	c.layers = NULL;
	c.n_layers = 0;
	if (net_create(layers, n_layers, c.input, c.train.batch, threads, c.seed, &net, err)) {
		model_config_free(&c);
		return CNN_FAILED;
	}
	fprintf(out, "%s: input %dx%dx%d, %d layers, loss %s, optimizer %s (lr %g)\n", c.name,
	        c.input.c, c.input.h, c.input.w, n_layers, c.loss, c.optim.type, c.optim.lr);
	print_layer_table(out, net, c.train.batch);
	print_memory(out, &c.memory, c.memory_limit);
	int status = CNN_OK;
	if (svg_path) {
		if (atomic_write_with(svg_path, network_svg_write, net, err))
			status = CNN_FAILED;
		else
			fprintf(out, "picture: %s\n", svg_path);
	}
	net_free(net);
	model_config_free(&c);   /* the data source; the layers went to the net */
	return status;
}
