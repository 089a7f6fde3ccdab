/* Network memory planning and the forward/backward loops. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "losses/loss.h"
#include "net/net.h"
#include "util/rng.h"
#include "dist/dist.h"

void net_free(struct net *net)
{
	if (!net)
		return;
	for (int i = 0; i < net->n_layers; i++)
		net->layers[i]->ops->destroy(net->layers[i]);
	free(net->layers);
	free(net->fused_into);
	free(net->params);
	free(net->grads);
	free(net->param_tensors);
	free(net->arena);
	free(net->acts);
	free(net->gbuf);
	net_grad_plan_free(&net->grad_plan);
	free(net->dlogits);
	if (net->scratch)
		for (int t = 0; t < net->threads; t++)
			free(net->scratch[t]);
	if (net->thread_grads)
		for (int t = 1; t < net->threads; t++)
			free(net->thread_grads[t]);
	free(net->scratch);
	free(net->thread_grads);
	free(net->thread_loss);
	free(net->thread_correct);
	free(net->stats);
	free(net->stats_offset);
	free(net->dist_sums);
	free(net->dist_stats);
	free(net->dist_rows);
	free(net->dist_offsets);
	if (net->eval_ws)
		for (int t = 0; t < net->threads; t++)
			free(net->eval_ws[t]);
	free(net->eval_ws);
	free(net->eval_losses);
	net_act_plan_free(&net->act_plan);
	free(net);
}

/* Collects every layer's parameter tensors and gives each its offset. */
static int plan_params(struct net *net, struct cnn_error *err)
{
	int total = 0;
	for (int i = 0; i < net->n_layers; i++) {
		struct param_spec tmp[LAYER_MAX_PARAMS];
		const struct layer *l = net->layers[i];
		total += l->ops->params ? l->ops->params(l, tmp) : 0;
	}
	net->param_tensors = calloc(total ? (size_t)total : 1, sizeof *net->param_tensors);
	if (!net->param_tensors)
		return cnn_errorf_plain(err, "out of memory");
	size_t offset = 0;
	for (int i = 0; i < net->n_layers; i++) {
		struct layer *l = net->layers[i];
		struct param_spec specs[LAYER_MAX_PARAMS];
		int k = l->ops->params ? l->ops->params(l, specs) : 0;
		l->param_offset = offset;
		for (int j = 0; j < k; j++) {
			struct net_param *p = &net->param_tensors[net->n_param_tensors++];
			snprintf(p->name, sizeof p->name, "%s.%s", l->name, specs[j].name);
			p->spec = specs[j];
			p->offset = offset;
			if (!cnn_add_size(offset, specs[j].n, &offset))
				return cnn_errorf(err, l->loc, "%s: parameter count overflows", l->ops->type);
		}
		l->param_count = offset - l->param_offset;
	}
	net->n_params = offset;
	return 0;
}

static void init_params(struct net *net, uint64_t seed)
{
	struct rng rng;
	rng_seed(&rng, seed);
	for (int i = 0; i < net->n_param_tensors; i++) {
		const struct net_param *p = &net->param_tensors[i];
		float *w = net->params + p->offset;
		double std = p->spec.fan_in > 0 ? sqrt(2.0 / p->spec.fan_in) : 0.0;
		for (size_t j = 0; j < p->spec.n; j++)
			w[j] = std > 0 ? (float)(std * rng_normal(&rng)) : p->spec.init_value;
	}
}

static float *alloc_floats(size_t n)
{
	return calloc(n ? n : 1, sizeof(float));
}

static int plan_activations(struct net *net, struct cnn_error *err)
{
	size_t batch = (size_t)net->batch, total = shape_size(net->input), widest = total, scratch = 0;
	for (int i = 0; i < net->n_layers; i++) {
		const struct layer *l = net->layers[i];
		size_t out = shape_size(l->out);
		if (!cnn_add_size(total, out, &total))
			return cnn_errorf(err, l->loc, "activation size overflows");
		if (out > widest)
			widest = out;
		/* each thread runs at most ceil(batch / threads) samples */
		int chunk = (net->batch + net->threads - 1) / net->threads;
		size_t s = l->ops->scratch_floats ? l->ops->scratch_floats(l, chunk) : 0;
		if (s > scratch)
			scratch = s;
	}
	if (net_plan_grads(net->layers, net->n_layers, net->fused_into, &net->grad_plan, err))
		return -1;
	size_t arena, dsize;
	if (!cnn_mul_size(total, batch, &arena) || !cnn_mul_size(widest, batch, &dsize) ||
	    !cnn_mul_size(dsize, (size_t)net->grad_plan.n_slots, &dsize))
		return cnn_errorf_plain(err, "activation memory for batch %d overflows", net->batch);
	net->arena_floats = arena;
	net->gbuf_floats = dsize;
	net->scratch_floats = scratch;
	net->arena = alloc_floats(arena);
	net->acts = calloc((size_t)net->n_layers, sizeof *net->acts);
	net->gbuf = alloc_floats(dsize);
	net->dlogits = alloc_floats(batch * (size_t)net->n_classes);
	net->scratch = calloc((size_t)net->threads, sizeof *net->scratch);
	net->thread_grads = calloc((size_t)net->threads, sizeof *net->thread_grads);
	net->thread_loss = calloc((size_t)net->threads, sizeof *net->thread_loss);
	net->thread_correct = calloc((size_t)net->threads, sizeof *net->thread_correct);
	if (!net->arena || !net->acts || !net->gbuf || !net->dlogits ||
	    !net->scratch || !net->thread_grads || !net->thread_loss || !net->thread_correct)
		return cnn_errorf_plain(err, "out of memory for activations (batch %d)", net->batch);
	net->x = net->arena;
	float *next = net->arena + shape_size(net->input) * batch;
	for (int i = 0; i < net->n_layers; i++) {
		net->acts[i] = next;
		next += shape_size(net->layers[i]->out) * batch;
	}
	net->widest = widest;
	net->thread_grads[0] = net->grads;
	for (int t = 0; t < net->threads; t++) {
		if (!(net->scratch[t] = alloc_floats(scratch)))
			return cnn_errorf_plain(err, "out of memory for scratch");
		if (t > 0 && !(net->thread_grads[t] = alloc_floats(net->n_params)))
			return cnn_errorf_plain(err, "out of memory for per-thread gradients");
	}
	return 0;
}

/* Each layer's per-thread statistics region (see struct net). */
static int plan_stats(struct net *net, struct cnn_error *err)
{
	size_t total = 0;
	net->stats_offset = calloc((size_t)net->n_layers, sizeof *net->stats_offset);
	if (!net->stats_offset)
		return cnn_errorf_plain(err, "out of memory");
	for (int i = 0; i < net->n_layers; i++) {
		const struct layer *l = net->layers[i];
		net->stats_offset[i] = total;
		if (l->ops->stats_doubles)
			total += l->ops->stats_doubles(l) * (size_t)net->threads;
	}
	net->stats = calloc(total ? total : 1, sizeof *net->stats);
	if (!net->stats)
		return cnn_errorf_plain(err, "out of memory");
	return 0;
}

/* Whether evaluation's graph is cut before layer h: from h on, nothing
 * reads an activation older than h - 1's (nor the input). */
static bool cut_before(const struct net *net, int h)
{
	for (int i = h; i < net->n_layers; i++)
		for (int k = 0; net->fused_into[i] < 0 && k < layer_n_inputs(net->layers[i]); k++)
			if (net_fused_input(net->layers, net->fused_into, i, k) < h - 1)
				return false;
	return true;
}

/* net->head_from: the last cut with NET_HEAD_MIN_PARAMS parameters after it. */
static int head_from(const struct net *net)
{
	size_t params = 0;
	for (int h = net->n_layers - 1; h >= 1; h--) {
		params += net->layers[h]->param_count;
		if (params >= NET_HEAD_MIN_PARAMS && cut_before(net, h))
			return h;
	}
	return -1;
}

/* The inference plan and, with `alloc`, one evaluation workspace per
 * thread (net->threads of them) and the per-sample losses of a call. */
static int plan_eval(struct net *net, bool alloc, struct cnn_error *err)
{
	if (net_plan_acts(net->layers, net->n_layers, net->fused_into, net->input, &net->act_plan, err))
		return -1;
	net->eval_batch = net_eval_batch_for(&net->act_plan);
	net->head_from = head_from(net);
	if (!alloc)
		return 0;
	size_t at;
	net->eval_ws_floats = net_eval_ws_floats(net->layers, net->n_layers, &net->act_plan,
	                                         net->eval_batch, &at);
	net->eval_ws = calloc((size_t)net->threads, sizeof *net->eval_ws);
	net->eval_losses = calloc(NET_EVAL_STEP, sizeof *net->eval_losses);
	if (!net->eval_ws || !net->eval_losses)
		return cnn_errorf_plain(err, "out of memory");
	for (int t = 0; t < net->threads; t++)
		if (!(net->eval_ws[t] = alloc_floats(net->eval_ws_floats)))
			return cnn_errorf_plain(err, "out of memory for evaluation");
	return 0;
}

/* Sets relu_out on every layer doing a fused relu's work: on for the
 * fused graph (training steps, the inference plan), off for the unfused
 * one (net_eval in the training arena). */
static void set_relu_out(const struct net *net, bool on)
{
	for (int i = 0; i < net->n_layers; i++)
		if (net->fused_into[i] >= 0)
			net->layers[net->fused_into[i]]->relu_out = on;
}

/* Input k of layer i: in the fused graph, or as the layers say. */
static int input_of(const struct net *net, bool fused, int i, int k)
{
	return fused ? net_fused_input(net->layers, net->fused_into, i, k)
	             : layer_input(net->layers[i], i, k);
}

/* The network's struct holding layers (owned from here: destroyed if even
 * this fails). */
static struct net *net_new(struct layer **layers, int n_layers, struct shape input,
                           struct cnn_error *err)
{
	struct net *net = calloc(1, sizeof *net);
	if (!net) {
		for (int i = 0; i < n_layers; i++)
			layers[i]->ops->destroy(layers[i]);
		free(layers);
		cnn_errorf_plain(err, "out of memory");
		return NULL;
	}
	net->layers = layers;
	net->n_layers = n_layers;
	net->input = input;
	net->n_classes = (int)shape_size(layers[n_layers - 1]->out);
	net->fused_into = net_fusion_now(layers, n_layers, err);
	if (!net->fused_into) {
		net_free(net);
		return NULL;
	}
	set_relu_out(net, true);
	return net;
}

int net_create(struct layer **layers, int n_layers, struct shape input, int batch,
               int threads, uint64_t seed, struct net **out, struct cnn_error *err)
{
	CNN_ASSERT(n_layers > 0 && batch > 0 && threads > 0);
	*out = NULL;
	struct net *net = net_new(layers, n_layers, input, err);
	if (!net)
		return -1;
	/* Threads split the batch; a BLAS call inside a chunk must not start
	 * threads of its own (oversubscription, and OpenBLAS then splits work by
	 * timing, which breaks run-to-run reproducibility). */
	openblas_set_num_threads(1);
	net->batch = batch;
	/* a thread with no samples would only add a zero gradient */
	net->threads = threads < batch ? threads : batch;
	if (plan_params(net, err))
		goto fail;
	net->params = alloc_floats(net->n_params);
	net->grads = alloc_floats(net->n_params);
	if (!net->params || !net->grads) {
		cnn_errorf_plain(err, "out of memory for %zu parameters", net->n_params);
		goto fail;
	}
	if (plan_activations(net, err) || plan_stats(net, err) || plan_eval(net, true, err))
		goto fail;
	init_params(net, seed);
	net->seed = seed;
	net->step = 0;
	*out = net;
	return 0;
fail:
	net_free(net);
	return -1;
}

double net_flops(const struct net *net)
{
	double total = 0;
	for (int i = 0; i < net->n_layers; i++)
		if (net->layers[i]->ops->flops)
			total += net->layers[i]->ops->flops(net->layers[i]);
	return total;
}

/* Samples [*start, *end) of n for thread t of T: contiguous and fixed, so
 * each run splits a batch the same way. */
static void chunk_of(int n, int t, int threads, int *start, int *end)
{
	*start = (int)((long)n * t / threads);
	*end = (int)((long)n * (t + 1) / threads);
}

/* A step's chunks on n samples: `chunks` in all, over every rank's threads
 * (min(ranks * threads, n), as one process with ranks * threads threads
 * would cut them); this rank runs chunks first .. first + local - 1, its
 * thread t chunk first + t. One process: first 0, local = chunks. A rank
 * may have none (local 0) when a batch has fewer samples than chunks. */
struct chunk_plan {
	int chunks, first, local;
};

static struct chunk_plan plan_chunks(const struct net *net, int n)
{
	bool parallel = dist_parallel(net->dist);
	long all = (long)net->threads * (parallel ? net->dist->size : 1);
	struct chunk_plan p;
	p.chunks = all < n ? (int)all : n;
	p.first = parallel ? net->dist->rank * net->threads : 0;
	p.local = p.first >= p.chunks ? 0 : p.chunks - p.first;
	if (p.local > net->threads)
		p.local = net->threads;
	return p;
}

int net_set_dist(struct net *net, const struct dist *d, struct cnn_error *err)
{
	net->dist = d;
	if (!dist_parallel(d))
		return 0;
	size_t ranks = (size_t)d->size, threads = (size_t)net->threads, stats = 0, widest = 0;
	for (int i = 0; i < net->n_layers; i++) {
		const struct layer *l = net->layers[i];
		size_t row = l->ops->stats_doubles ? l->ops->stats_doubles(l) : 0;
		stats += row * threads;
		widest = row > widest ? row : widest;
	}
	net->dist_sums = calloc(ranks * 2 * threads, sizeof *net->dist_sums);
	net->dist_offsets = calloc(ranks + 1, sizeof *net->dist_offsets);
	if (stats) {
		net->dist_stats = calloc(ranks * stats, sizeof *net->dist_stats);
		net->dist_rows = calloc(ranks * threads * widest, sizeof *net->dist_rows);
	}
	if (!net->dist_sums || !net->dist_offsets || (stats && (!net->dist_stats || !net->dist_rows)))
		return cnn_errorf_plain(err, "out of memory for combining %d ranks", d->size);
	return 0;
}

/* The byte offsets of equal regions of `bytes` per rank, for a gather. */
static const size_t *equal_offsets(const struct net *net, size_t bytes)
{
	for (int r = 0; r <= net->dist->size; r++)
		net->dist_offsets[r] = (size_t)r * bytes;
	return net->dist_offsets;
}

/* Every rank's chunk losses and correct counts, summed in chunk order: the
 * same additions as one process's loop over its threads. */
static void gather_chunk_sums(struct net *net, const struct chunk_plan *p, double *loss_sum, int *correct)
{
	const struct dist *d = net->dist;
	size_t threads = (size_t)net->threads;
	double *mine = net->dist_sums + (size_t)d->rank * 2 * threads;
	for (size_t t = 0; t < threads; t++) {
		bool ran = (int)t < p->local;
		mine[t] = ran ? net->thread_loss[t] : 0;
		mine[threads + t] = ran ? net->thread_correct[t] : 0;
	}
	d->ops->allgather(d, net->dist_sums, equal_offsets(net, 2 * threads * sizeof *mine));
	*loss_sum = 0;
	*correct = 0;
	for (int g = 0; g < p->chunks; g++) {
		const double *rank = net->dist_sums + (size_t)(g / net->threads) * 2 * threads;
		*loss_sum += rank[g % net->threads];
		*correct += (int)rank[threads + (size_t)(g % net->threads)];
	}
}

/* --verbose timing hook: the slot to add this call's seconds to, or NULL
 * when not timing (evaluation passes and threads other than 0 are not timed). */
static double *timing_slot(const struct net *net, const struct layer_ctx *ctx, int i)
{
	if (!net->layer_seconds || !ctx->train || omp_get_thread_num() != 0)
		return NULL;
	return &net->layer_seconds[i];
}

/* ctx as layer i of thread t sees it: its index and its statistics row. */
static struct layer_ctx layer_ctx_of(const struct net *net, const struct layer_ctx *ctx, int i, int t)
{
	struct layer_ctx c = *ctx;
	const struct layer *l = net->layers[i];
	c.layer = i;
	c.stats = l->ops->stats_doubles && ctx->train
	        ? net->stats + net->stats_offset[i] + (size_t)t * l->ops->stats_doubles(l) : NULL;
	return c;
}

/* Activation j (LAYER_INPUT_NET: the input) of the chunk from sample `start`. */
static float *act_of(const struct net *net, int j, int start)
{
	if (j == LAYER_INPUT_NET)
		return net->x + (size_t)start * shape_size(net->input);
	return net->acts[j] + (size_t)start * shape_size(net->layers[j]->out);
}

/* Gradient slot s (a net_grad_plan slot) of the chunk from sample `start`:
 * threads move through the layers at their own pace, so each chunk owns a
 * fixed region of every slot, whatever the layer's width. NULL for
 * NET_SLOT_NONE; the last layer's is dlogits. */
static float *slot_of(const struct net *net, int s, int start)
{
	if (s == NET_SLOT_NONE)
		return NULL;
	if (s == NET_SLOT_LOGITS)
		return net->dlogits + (size_t)start * (size_t)net->n_classes;
	return net->gbuf + ((size_t)s * (size_t)net->batch + (size_t)start) * net->widest;
}

/* Layer i's forward on the chunk: the inputs its `inputs` name (fused:
 * a fused relu's readers read its input). */
static void forward_layer(struct net *net, bool fused, int i, int start, int count,
                          const struct layer_ctx *c)
{
	const struct layer *l = net->layers[i];
	const float *w = net->params + l->param_offset;
	float *y = act_of(net, i, start);
	if (l->ops->forward_multi) {
		const float *xs[LAYER_MAX_INPUTS];
		for (int k = 0; k < l->n_inputs; k++)
			xs[k] = act_of(net, input_of(net, fused, i, k), start);
		l->ops->forward_multi(l, w, xs, y, count, c);
	} else {
		l->ops->forward(l, w, act_of(net, input_of(net, fused, i, 0), start), y, count, c);
	}
}

/* Every layer's forward on the chunk; fused: a fused relu runs nothing
 * and its output is not stored (layers[fused_into[i]] does its work). */
static void forward_chunk(struct net *net, bool fused, int t, int start, int count,
                          const struct layer_ctx *ctx)
{
	for (int i = 0; i < net->n_layers; i++) {
		if (fused && net->fused_into[i] >= 0)
			continue;
		struct layer_ctx c = layer_ctx_of(net, ctx, i, t);
		double *slot = timing_slot(net, ctx, i), t0 = slot ? omp_get_wtime() : 0;
		forward_layer(net, fused, i, start, count, &c);
		if (slot)
			*slot += omp_get_wtime() - t0;
	}
}

/* Layer i's backward on the chunk, with the input gradients where the plan
 * puts them; a temporary (dx_add) is then added into its producer's
 * gradient, so fan-out gradients sum in the plan's fixed order. */
static void backward_layer(struct net *net, int i, int start, int count, float *grads,
                           const struct layer_ctx *c)
{
	const struct layer *l = net->layers[i];
	const struct net_grad_plan *p = &net->grad_plan;
	const float *w = net->params + l->param_offset, *y = act_of(net, i, start);
	const float *dy = slot_of(net, p->grad_slot[i], start);
	float *dw = grads + l->param_offset;
	float *dxs[LAYER_MAX_INPUTS];
	const float *xs[LAYER_MAX_INPUTS];
	int n_in = layer_n_inputs(l);
	for (int k = 0; k < n_in; k++) {
		xs[k] = act_of(net, input_of(net, true, i, k), start);
		dxs[k] = slot_of(net, p->dx_slot[i][k], start);
	}
	if (l->ops->backward_multi)
		l->ops->backward_multi(l, w, xs, y, dy, dxs, dw, count, c);
	else
		l->ops->backward(l, w, xs[0], y, dy, dxs[0], dw, count, c);
	for (int k = 0; k < n_in; k++) {
		if (!p->dx_add[i][k])
			continue;
		int from = input_of(net, true, i, k);
		float *g = slot_of(net, p->grad_slot[from], start);
		size_t m = (size_t)count * shape_size(net->layers[from]->out);
		for (size_t j = 0; j < m; j++)
			g[j] += dxs[k][j];
	}
}

static void backward_chunk(struct net *net, int t, int start, int count, float *grads,
                           const struct layer_ctx *ctx)
{
	for (int i = net->n_layers - 1; i >= 0; i--) {
		if (net->fused_into[i] >= 0)
			continue;   /* its gradient is its readers': net_plan_grads */
		/* stats: what this thread's forward left, for backward to read */
		struct layer_ctx c = layer_ctx_of(net, ctx, i, t);
		double *slot = timing_slot(net, ctx, net->n_layers + i), t0 = slot ? omp_get_wtime() : 0;
		backward_layer(net, i, start, count, grads, &c);
		if (slot)
			*slot += omp_get_wtime() - t0;
	}
}

/* Parameters from which the per-thread gradients are summed in parallel. */
#define NET_PARALLEL_SUM_MIN 65536

/* grads += the other threads' gradients, over params [lo, hi), in thread
 * order: every element sees the same sum ((g0 + g1) + g2)... whichever
 * thread adds it, so a seed and a thread count give the same bits. */
static void reduce_grads(struct net *net, int threads, size_t lo, size_t hi)
{
	float *g = net->grads;

	for (int t = 1; t < threads; t++) {
		const float *gt = net->thread_grads[t];
		for (size_t j = lo; j < hi; j++)
			g[j] += gt[j];
	}
}

/* splitmix64's finaliser: every input bit reaches every output bit. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* Training step `step`'s seed, a function of (seed, step) only. */
static uint64_t step_seed_of(uint64_t seed, long step)
{
	return mix64(mix64(seed ^ 0x5851f42d4c957f2du) + (uint64_t)step * 0x9e3779b97f4a7c15u);
}

/* The layers' after_step hooks, in layer order, once the threads joined. */
static void after_step(struct net *net, int threads)
{
	for (int i = 0; i < net->n_layers; i++) {
		const struct layer *l = net->layers[i];
		if (l->ops->after_step)
			l->ops->after_step(l, net->params + l->param_offset,
			                   net->stats + net->stats_offset[i], threads);
	}
}

/* after_step across ranks: every rank's statistics rows are gathered and
 * each layer reads the rows of all chunks, in chunk order, as one process
 * would read its threads' rows. */
static void after_step_dist(struct net *net, const struct chunk_plan *p)
{
	const struct dist *d = net->dist;
	size_t per_rank = 0, threads = (size_t)net->threads;
	for (int i = 0; i < net->n_layers; i++)
		if (net->layers[i]->ops->stats_doubles)
			per_rank += net->layers[i]->ops->stats_doubles(net->layers[i]) * threads;
	if (per_rank) {
		memcpy(net->dist_stats + (size_t)d->rank * per_rank, net->stats, per_rank * sizeof *net->stats);
		d->ops->allgather(d, net->dist_stats, equal_offsets(net, per_rank * sizeof *net->stats));
	}
	for (int i = 0; i < net->n_layers; i++) {
		const struct layer *l = net->layers[i];
		if (!l->ops->after_step)
			continue;
		const double *rows = net->stats + net->stats_offset[i];
		size_t row = l->ops->stats_doubles ? l->ops->stats_doubles(l) : 0;
		for (int g = 0; row && g < p->chunks; g++) {
			const double *from = net->dist_stats + (size_t)(g / net->threads) * per_rank +
			                     net->stats_offset[i] + (size_t)(g % net->threads) * row;
			memcpy(net->dist_rows + (size_t)g * row, from, row * sizeof *from);
		}
		if (row)
			rows = net->dist_rows;
		l->ops->after_step(l, net->params + l->param_offset, rows, p->chunks);
	}
}

/* Thread t's samples, loaded by `in` when there is one (see struct net_input). */
static void fill_chunk(const struct net *net, const struct net_input *in, int t, int start,
                       int end, int *labels)
{
	if (in)
		in->fill(in->ctx, t, start, end - start, net->x + (size_t)start * shape_size(net->input),
		         labels + start);
}

/* Thread t's share of a training step: samples [start, end) of the batch
 * through forward, loss and backward, its gradient into thread_grads[t]. */
static void train_chunk(struct net *net, const struct net_input *in, int *fill_labels,
                        const int *labels, int n, int t, int start, int end, uint64_t step_seed)
{
	const float scale = 1.0f / (float)n;
	struct layer_ctx ctx = { .scratch = net->scratch[t], .train = true,
	                         .step_seed = step_seed, .sample0 = start };
	float *grads = net->thread_grads[t];
	memset(grads, 0, net->n_params * sizeof(float));
	net->thread_correct[t] = 0;
	fill_chunk(net, in, t, start, end, fill_labels);
	forward_chunk(net, true, t, start, end - start, &ctx);
	size_t k = (size_t)net->n_classes;
	net->thread_loss[t] = softmax_xent_smooth(net->acts[net->n_layers - 1] + (size_t)start * k,
	                                          labels + start, end - start, net->n_classes,
	                                          net->label_smoothing, scale,
	                                          net->dlogits + (size_t)start * k, NULL, NULL,
	                                          &net->thread_correct[t]);
	backward_chunk(net, t, start, end - start, grads, &ctx);
}

/* The step of net_train_step[_from]: labels are read, and with `in` first
 * written through fill_labels (the same array; NULL without `in`).
 * Across ranks each rank runs its chunks; samples keep their place in the
 * whole batch (arena, labels, sample0), and the ranks' gradients are summed
 * by chain_sum in chunk order: the fold one process does over its threads. */
static void train_step(struct net *net, const struct net_input *in, int *fill_labels,
                       const int *labels, int n, double *loss_sum, int *correct)
{
	CNN_ASSERT(n > 0 && n <= net->batch && !net->frozen);
	const struct chunk_plan p = plan_chunks(net, n);
	const bool distributed = dist_parallel(net->dist);
	int threads = p.local;
	const bool parallel_sum = !distributed && threads > 1 && net->n_params >= NET_PARALLEL_SUM_MIN;
	const uint64_t step_seed = step_seed_of(net->seed, net->step);
	#pragma omp parallel num_threads(threads > 0 ? threads : 1) if (threads > 0)
	{
		int t = omp_get_thread_num(), start, end;
		chunk_of(n, p.first + t, p.chunks, &start, &end);
		if (t < threads)
			train_chunk(net, in, fill_labels, labels, n, t, start, end, step_seed);
		/* For large networks the sum is split across the threads, in
		 * slices of whole cache lines (16 floats) so no two threads write
		 * one line. Small ones sum after the join: a barrier costs more
		 * than a few thousand additions, and far more when the machine is
		 * busy and the other thread has been descheduled. */
		if (parallel_sum) {
			size_t lines = (net->n_params + 15) / 16;
			size_t lo = lines * (size_t)t / (size_t)threads * 16;
			size_t hi = lines * (size_t)(t + 1) / (size_t)threads * 16;
			#pragma omp barrier
			reduce_grads(net, threads, lo < net->n_params ? lo : net->n_params,
			             hi < net->n_params ? hi : net->n_params);
		}
	}
	if (distributed) {
		gather_chunk_sums(net, &p, loss_sum, correct);
		net->dist->ops->chain_sum(net->dist, net->grads, net->thread_grads, threads, net->n_params);
		after_step_dist(net, &p);
		net->step++;
		return;
	}
	*loss_sum = 0;
	*correct = 0;
	for (int t = 0; t < threads; t++) {
		*loss_sum += net->thread_loss[t];
		*correct += net->thread_correct[t];
	}
	if (threads > 1 && !parallel_sum)
		reduce_grads(net, threads, 0, net->n_params);
	after_step(net, threads);
	net->step++;
}

void net_train_step(struct net *net, const int *labels, int n, double *loss_sum, int *correct)
{
	train_step(net, NULL, NULL, labels, n, loss_sum, correct);
}

void net_train_step_from(struct net *net, const struct net_input *in, int *labels, int n,
                         double *loss_sum, int *correct)
{
	train_step(net, in, labels, labels, n, loss_sum, correct);
}

/* Across ranks, what one rank's eval_batch computed for its samples
 * reaches every rank: each rank's samples are one contiguous run of the
 * batch, so labels, predictions and probabilities are gathered in place. */
static void gather_eval(struct net *net, const struct chunk_plan *p, int n, int *fill_labels,
                        int *pred, float *probs, double *losses)
{
	const struct dist *d = net->dist;
	size_t sizes[4] = { sizeof(int), sizeof(int), (size_t)net->n_classes * sizeof(float), sizeof(double) };
	void *bufs[4] = { fill_labels, pred, probs, losses };
	for (int b = 0; b < 4; b++) {
		if (!bufs[b])
			continue;
		for (int r = 0; r <= d->size; r++) {
			/* rank r's first sample: that of its first chunk, n if none */
			int g = r * net->threads, first = n, end;
			if (g < p->chunks)
				chunk_of(n, g, p->chunks, &first, &end);
			net->dist_offsets[r] = (size_t)first * sizes[b];
		}
		d->ops->allgather(d, bufs[b], net->dist_offsets);
	}
}

/* After an evaluation's threads joined: the loss summed in chunk order,
 * and across ranks every rank's predictions and probabilities gathered. */
static void eval_gather(struct net *net, const struct chunk_plan *p, int n, int *fill_labels,
                        double *loss_sum, int *pred, float *probs)
{
	if (dist_parallel(net->dist)) {
		int correct;   /* not counted here: the caller compares pred and labels */
		gather_chunk_sums(net, p, loss_sum, &correct);
		gather_eval(net, p, n, fill_labels, pred, probs, NULL);
		return;
	}
	*loss_sum = 0;
	for (int t = 0; t < p->local; t++)
		*loss_sum += net->thread_loss[t];
}

/* The forward pass of a training network's net_eval, in the training
 * arena (every activation kept: the unfused graph, so a fused relu's
 * output and its producer's are both there); labels as in train_step,
 * chunks as in training, so that across ranks each evaluates its share. */
static void eval_batch(struct net *net, const struct net_input *in, int *fill_labels,
                       const int *labels, int n, double *loss_sum, int *pred, float *probs)
{
	CNN_ASSERT(n > 0 && n <= net->batch);
	const struct chunk_plan p = plan_chunks(net, n);
	int threads = p.local;
	set_relu_out(net, false);   /* unfused: every layer's output kept */
	#pragma omp parallel num_threads(threads > 0 ? threads : 1) if (threads > 0)
	{
		int t = omp_get_thread_num(), start, end;
		chunk_of(n, p.first + t, p.chunks, &start, &end);
		struct layer_ctx ctx = { .scratch = net->scratch[t], .train = false, .sample0 = start };
		size_t k = (size_t)net->n_classes;
		if (t < threads) {
			fill_chunk(net, in, t, start, end, fill_labels);
			forward_chunk(net, false, t, start, end - start, &ctx);
			net->thread_loss[t] = softmax_xent(net->acts[net->n_layers - 1] + (size_t)start * k,
			                                   labels + start, end - start, net->n_classes, 1.0f,
			                                   NULL, pred ? pred + start : NULL,
			                                   probs ? probs + (size_t)start * k : NULL, NULL);
		}
	}
	set_relu_out(net, true);
	eval_gather(net, &p, n, fill_labels, loss_sum, pred, probs);
}

/* ------------------------------------------------------------------ */
/* Evaluation through the inference plan                                */

/* One thread's evaluation workspace: the plan's slots for `batch` samples,
 * then scratch. x: where the input is read (NULL: the input slot, which
 * the caller fills). */
struct eval_ws {
	float *ws;
	int batch;
	size_t scratch_at;
	const float *x;
};

/* Activation j (LAYER_INPUT_NET: the input) in the workspace. */
static float *eval_act(const struct net *net, const struct eval_ws *e, int j)
{
	const struct net_act_plan *p = &net->act_plan;
	if (j == LAYER_INPUT_NET && e->x)
		return (float *)e->x;
	int s = j == LAYER_INPUT_NET ? p->input_slot : p->slot[j];
	return e->ws + (size_t)e->batch * p->slot_at[s];
}

/* Layers [from, to) on `count` (<= e->batch) samples, the first being
 * sample `sample0` of the caller's batch; returns layer to - 1's output
 * (the logits, (count, n_classes), when to is n_layers). An in-place layer
 * (net_act_plan) gets y == x. */
static const float *eval_layers(const struct net *net, const struct eval_ws *e, int count,
                                int sample0, int from, int to)
{
	struct layer_ctx c = { .scratch = e->ws + e->scratch_at, .train = false, .sample0 = sample0 };
	for (int i = from; i < to; i++) {
		const struct layer *l = net->layers[i];
		const struct net_act_plan *p = &net->act_plan;
		if (net->fused_into[i] >= 0 || p->fold_into[i] >= 0)
			continue;   /* a fused relu or a folded maxpool: another layer does its work */
		const float *w = net->params + l->param_offset;
		float *y = eval_act(net, e, i);
		c.layer = i;
		c.fold = p->folded[i] < 0 ? 0 : LAYER_FOLD_POOL2 |
		         (net->layers[p->folded[i]]->relu_out ? LAYER_FOLD_RELU : 0);
		if (l->ops->forward_multi) {
			const float *xs[LAYER_MAX_INPUTS];
			for (int k = 0; k < l->n_inputs; k++)
				xs[k] = eval_act(net, e, input_of(net, true, i, k));
			l->ops->forward_multi(l, w, xs, y, count, &c);
		} else {
			l->ops->forward(l, w, eval_act(net, e, input_of(net, true, i, 0)), y, count, &c);
		}
	}
	return eval_act(net, e, to - 1);
}

/* Every layer: the logits. */
static const float *eval_forward(const struct net *net, const struct eval_ws *e, int count,
                                 int sample0)
{
	return eval_layers(net, e, count, sample0, 0, net->n_layers);
}

/* Samples [start, end) on one thread, e->batch at a time: loaded by `in`
 * (or read from x), run, and their loss (into losses, may be NULL),
 * predictions and probabilities written at their place in the batch. */
static void eval_range(const struct net *net, struct eval_ws *e, const struct net_input *in,
                       int t, const float *x, int *fill_labels, const int *labels, int start,
                       int end, double *losses, int *pred, float *probs)
{
	static const int no_label = 0;
	size_t k = (size_t)net->n_classes, in_size = shape_size(net->input);
	for (int b = start; b < end; b += e->batch) {
		int count = end - b < e->batch ? end - b : e->batch;
		e->x = x ? x + (size_t)b * in_size : NULL;
		if (in)
			in->fill(in->ctx, t, b, count, eval_act(net, e, LAYER_INPUT_NET), fill_labels + b);
		const float *z = eval_forward(net, e, count, b);
		for (int j = 0; j < count; j++) {
			double loss = softmax_xent(z + (size_t)j * k, labels ? labels + b + j : &no_label, 1,
			                           net->n_classes, 1.0f, NULL, pred ? pred + b + j : NULL,
			                           probs ? probs + (size_t)(b + j) * k : NULL, NULL);
			if (losses)
				losses[b + j] = loss;
		}
	}
}

/* net_eval_from's (and an evaluation network's net_eval's) forward: each
 * thread its chunk (as training splits a batch, across ranks too) in its
 * own workspace. Each sample's loss is kept (across ranks, gathered) and
 * summed in sample order, so the sum does not depend on how the samples
 * were shared among threads and ranks, nor on eval_batch. */
static void eval_planned(struct net *net, const struct net_input *in, const float *x,
                         int *fill_labels, const int *labels, int n, double *loss_sum, int *pred,
                         float *probs)
{
	CNN_ASSERT(n > 0 && n <= NET_EVAL_STEP && net->eval_ws && (in || x));
	const struct chunk_plan p = plan_chunks(net, n);
	int threads = p.local;
	size_t scratch_at;
	net_eval_ws_floats(net->layers, net->n_layers, &net->act_plan, net->eval_batch, &scratch_at);
	#pragma omp parallel num_threads(threads > 0 ? threads : 1) if (threads > 0)
	{
		int t = omp_get_thread_num(), start, end;
		chunk_of(n, p.first + t, p.chunks, &start, &end);
		struct eval_ws e = { net->eval_ws[t], net->eval_batch, scratch_at, NULL };
		if (t < threads)
			eval_range(net, &e, in, t, x, fill_labels, labels, start, end, net->eval_losses,
			           pred, probs);
	}
	if (dist_parallel(net->dist))
		gather_eval(net, &p, n, fill_labels, pred, probs, net->eval_losses);
	*loss_sum = 0;
	for (int i = 0; i < n; i++)
		*loss_sum += net->eval_losses[i];
}

void net_eval(struct net *net, const int *labels, int n, double *loss_sum, int *pred, float *probs)
{
	if (net->arena)
		eval_batch(net, NULL, NULL, labels, n, loss_sum, pred, probs);
	else
		eval_planned(net, NULL, net->x, NULL, labels, n, loss_sum, pred, probs);
}

void net_eval_from(struct net *net, const struct net_input *in, int *labels, int n,
                   double *loss_sum, int *pred, float *probs)
{
	eval_planned(net, in, NULL, labels, labels, n, loss_sum, pred, probs);
}

int net_eval_step(const struct net *net)
{
	(void)net;
	return NET_EVAL_STEP;
}

/* The rest of net_create_model and net_create_eval: parameters and the
 * inference plan, with (eval) its workspaces. Frees net on failure. */
static int finish_forward_net(struct net *net, bool eval, struct net **out, struct cnn_error *err)
{
	if (plan_params(net, err) || plan_eval(net, eval, err))
		goto fail;
	net->batch = eval ? net_eval_step(net) : 0;
	if (!(net->params = alloc_floats(net->n_params))) {
		cnn_errorf_plain(err, "out of memory for %zu parameters", net->n_params);
		goto fail;
	}
	*out = net;
	return 0;
fail:
	net_free(net);
	return -1;
}

int net_create_model(struct layer **layers, int n_layers, struct shape input, struct net **out,
                     struct cnn_error *err)
{
	CNN_ASSERT(n_layers > 0);
	*out = NULL;
	struct net *net = net_new(layers, n_layers, input, err);
	if (!net)
		return -1;
	return finish_forward_net(net, false, out, err);
}

int net_create_eval(struct layer **layers, int n_layers, struct shape input, int threads,
                    struct net **out, struct cnn_error *err)
{
	CNN_ASSERT(n_layers > 0 && threads > 0);
	*out = NULL;
	struct net *net = net_new(layers, n_layers, input, err);
	if (!net)
		return -1;
	net->threads = threads;
	return finish_forward_net(net, true, out, err);
}

/* Probabilities of samples [start, end) of x on one thread, NET_HEAD_BATCH
 * at a time: the layers before net->head_from eval_batch at a time in e,
 * their last output gathered in head (a workspace for NET_HEAD_BATCH
 * samples), where the rest run on all of them at once. Each sample's
 * arithmetic is the same as eval_range's, whatever the batch. */
static void predict_range_head(const struct net *net, struct eval_ws *e, struct eval_ws *head,
                               const float *x, int start, int end, float *probs)
{
	static const int no_label = 0;
	int h = net->head_from;
	size_t k = (size_t)net->n_classes, in_size = shape_size(net->input);
	size_t cut = shape_size(net->layers[h - 1]->out);   /* floats per sample at the cut */
	for (int g = start; g < end; g += head->batch) {
		int group = end - g < head->batch ? end - g : head->batch;
		float *gathered = eval_act(net, head, h - 1);    /* (group, cut) */
		for (int b = g; b < g + group; b += e->batch) {
			int count = g + group - b < e->batch ? g + group - b : e->batch;
			e->x = x + (size_t)b * in_size;
			const float *a = eval_layers(net, e, count, b, 0, h);
			memcpy(gathered + (size_t)(b - g) * cut, a, (size_t)count * cut * sizeof *a);
		}
		const float *z = eval_layers(net, head, group, g, h, net->n_layers);
		for (int j = 0; j < group; j++)
			softmax_xent(z + (size_t)j * k, &no_label, 1, net->n_classes, 1.0f, NULL, NULL,
			             probs + (size_t)(g + j) * k, NULL);
	}
}

int net_predict_head_batch(const struct net *net, int batch, int per)
{
	/* only where a share is wider than a batch */
	if (net->head_from < 0 || batch >= NET_HEAD_BATCH || per <= batch)
		return 0;
	return per < NET_HEAD_BATCH ? per : NET_HEAD_BATCH;
}

int net_predict_batch(const struct net *net, const float *x, int n, float *probs, int threads,
                      int batch, struct cnn_error *err)
{
	CNN_ASSERT(n >= 0);
	if (n == 0)
		return 0;
	if (threads <= 0)
		threads = omp_get_max_threads();
	if (threads > n)
		threads = n;
	if (batch <= 0)
		batch = net->eval_batch;
	int per = (n + threads - 1) / threads;   /* the largest share */
	if (batch > per)
		batch = per;
	int head = net_predict_head_batch(net, batch, per);
	size_t scratch_at, head_at = 0, head_floats = 0;
	size_t floats = net_eval_ws_floats(net->layers, net->n_layers, &net->act_plan, batch, &scratch_at);
	if (head)
		head_floats = net_eval_ws_floats(net->layers, net->n_layers, &net->act_plan, head, &head_at);
	float **ws = calloc((size_t)threads * 2, sizeof *ws);   /* [t]: eval_batch's, [threads + t]: the head's */
	int failed = !ws;
	for (int t = 0; !failed && t < threads; t++)
		failed = !(ws[t] = malloc(floats * sizeof *ws[t])) ||   /* see net_eval_ws_floats */
		         (head && !(ws[threads + t] = malloc(head_floats * sizeof *ws[t])));
	if (!failed) {
		#pragma omp parallel num_threads(threads)
		{
			int t = omp_get_thread_num(), start, end;
			chunk_of(n, t, threads, &start, &end);
			struct eval_ws e = { ws[t], batch, scratch_at, NULL };
			struct eval_ws eh = { ws[threads + t], head, head_at, NULL };
			if (head)
				predict_range_head(net, &e, &eh, x, start, end, probs);
			else
				eval_range(net, &e, NULL, t, x, NULL, NULL, start, end, NULL, NULL, probs);
		}
	}
	for (int t = 0; ws && t < 2 * threads; t++)
		free(ws[t]);
	free(ws);
	return failed ? cnn_errorf_plain(err, "out of memory for %d threads of %d images", threads, batch) : 0;
}

int net_freeze(struct net *net, struct cnn_error *err)
{
	for (int i = 0; i < net->n_layers; i++) {
		struct layer *l = net->layers[i];

		if (l->ops->freeze && l->ops->freeze(l, net->params + l->param_offset))
			return cnn_errorf_plain(err, "out of memory keeping %s's prepared weights", l->name);
	}
	net->frozen = true;
	return 0;
}

int net_predict(const struct net *net, const float *x, int n, float *probs, int threads,
                struct cnn_error *err)
{
	return net_predict_batch(net, x, n, probs, threads, 0, err);
}
