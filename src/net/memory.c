/* Memory estimates: the same plan net_create allocates, as arithmetic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "net/memory.h"
#include "net/net.h"

/* Floats of one thread's evaluation workspace (net_act_plan at its
 * eval_batch) for the layers fused by `into`, as net_create and
 * net_create_eval allocate it; of which activations and scratch (may be
 * NULL). 0 if the plan cannot be made (into NULL: no fusion plan either). */
static double eval_floats(struct layer *const *layers, int n_layers, const int *into,
                          struct shape input, double *acts, double *scratch)
{
	struct net_act_plan plan;
	struct cnn_error ignored;
	size_t at, total = 0;
	if (into && net_plan_acts(layers, n_layers, into, input, &plan, &ignored) == 0) {
		total = net_eval_ws_floats(layers, n_layers, &plan, net_eval_batch_for(&plan), &at);
		net_act_plan_free(&plan);
	} else {
		at = 0;
	}
	if (acts)
		*acts = (double)at;
	if (scratch)
		*scratch = (double)(total - at);
	return (double)total;
}

/* mem_estimate for the layers fused by `into` (NULL when even the fusion
 * cannot be planned: a dangling layer, which the builder refuses first). */
static void estimate(struct layer *const *layers, int n_layers, const int *into, struct shape input,
                     int batch, int threads, int optimizer_states, double data_bytes,
                     struct mem_estimate *out)
{
	double n_params = 0, acts = (double)shape_size(input), widest = acts, scratch = 0;
	int chunk = (batch + threads - 1) / threads;
	memset(out, 0, sizeof *out);
	out->largest_layer = -1;
	for (int i = 0; i < n_layers; i++) {
		const struct layer *l = layers[i];
		struct param_spec specs[LAYER_MAX_PARAMS];
		int k = l->ops->params ? l->ops->params(l, specs) : 0;
		for (int j = 0; j < k; j++)
			n_params += (double)specs[j].n;
		double out_size = (double)l->out.c * l->out.h * l->out.w;
		acts += out_size;
		if (out_size > widest) {
			widest = out_size;
			out->largest_layer = i;
		}
		double s = l->ops->scratch_floats ? (double)l->ops->scratch_floats(l, chunk) : 0;
		scratch = s > scratch ? s : scratch;
	}
	/* backward's gradient slots, as net_create plans them; should the plan
	 * fail (a dangling layer, which the builder refuses first), a bound */
	struct net_grad_plan plan;
	struct cnn_error ignored;
	double slots = n_layers + 1.0;
	if (into && net_plan_grads(layers, n_layers, into, &plan, &ignored) == 0) {
		slots = plan.n_slots;
		net_grad_plan_free(&plan);
	}
	double n_classes = n_layers > 0 ? (double)shape_size(layers[n_layers - 1]->out) : 0;
	const double f = sizeof(float);
	out->params = n_params * f;
	out->grads = n_params * f * threads;
	out->optimizer = n_params * f * optimizer_states;
	out->activations = acts * f * batch;
	out->backward = (slots * widest + n_classes) * f * batch;   /* gbuf and dlogits */
	out->scratch = scratch * f * threads;
	/* evaluation's workspaces, on the threads net_create keeps */
	out->evaluation = eval_floats(layers, n_layers, into, input, NULL, NULL) * f *
	                  (threads < batch ? threads : batch) + NET_EVAL_STEP * sizeof(double);
	out->data = data_bytes;
	out->total = out->params + out->grads + out->optimizer + out->activations +
	             out->backward + out->scratch + out->evaluation + out->data;
}

/* The fusion plan, or NULL (no layers, or it cannot be made: see estimate). */
static int *fusion_or_null(struct layer *const *layers, int n_layers)
{
	struct cnn_error ignored;
	return n_layers > 0 ? net_fusion_now(layers, n_layers, &ignored) : NULL;
}

void mem_estimate(struct layer *const *layers, int n_layers, struct shape input, int batch,
                  int threads, int optimizer_states, double data_bytes, struct mem_estimate *out)
{
	int *into = fusion_or_null(layers, n_layers);
	estimate(layers, n_layers, into, input, batch, threads, optimizer_states, data_bytes, out);
	free(into);
}

void mem_estimate_eval(struct layer *const *layers, int n_layers, struct shape input, int threads,
                       struct mem_estimate *out)
{
	double acts, scratch;
	struct mem_estimate train;
	int *into = fusion_or_null(layers, n_layers);
	estimate(layers, n_layers, into, input, 1, 1, 0, 0, &train);
	memset(out, 0, sizeof *out);
	out->largest_layer = train.largest_layer;
	out->params = train.params;
	out->evaluation = eval_floats(layers, n_layers, into, input, &acts, &scratch) * sizeof(float) *
	                  threads + NET_EVAL_STEP * sizeof(double);   /* and each sample's loss */
	free(into);
	out->activations = acts * sizeof(float) * threads;
	out->scratch = scratch * sizeof(float) * threads;
	out->total = out->params + out->evaluation;
}

double mem_physical(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
	return pages > 0 && size > 0 ? (double)pages * (double)size : 0;
}

double mem_parse_size(const char *s)
{
	static const struct {
		const char *suffix;
		double scale;
	} units[] = {
		{ "", 1 }, { "B", 1 }, { "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 }, { "TB", 1e12 },
		{ "K", 1024.0 }, { "M", 1048576.0 }, { "G", 1073741824.0 },
		{ "KiB", 1024.0 }, { "MiB", 1048576.0 }, { "GiB", 1073741824.0 }, { "TiB", 1099511627776.0 },
	};
	char *end;
	if (!s || !*s)
		return -1;
	double v = strtod(s, &end);
	if (end == s || !(v >= 0) || v > 1e18)
		return -1;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (!strcasecmp(end, units[i].suffix) && (units[i].suffix[0] || !*end))
			return v * units[i].scale;
	return -1;
}

void mem_format(double bytes, char *buf, size_t len)
{
	if (bytes >= 1e9)
		snprintf(buf, len, "%.1f GB", bytes / 1e9);
	else if (bytes >= 1e6)
		snprintf(buf, len, "%.1f MB", bytes / 1e6);
	else
		snprintf(buf, len, "%.0f kB", bytes / 1e3);
}
