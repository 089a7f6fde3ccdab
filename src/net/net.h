/* The network: a list of layers, each reading earlier outputs (a graph whose
 * list order is the execution order), and all the memory they run on.
 *
 * The network, not the layers, owns memory (llm.c's malloc_and_point):
 *   params   (n_params)           every learnable float, layer after layer
 *   grads    (n_params)           d loss / d params, same layout
 *   acts     input + each layer's output for `batch` samples, one arena
 *   gbuf     the activation gradients of backward, in slots planned from
 *            the graph (struct net_grad_plan; a chain needs two)
 *   per thread: scratch (largest layer need) and, for threads > 0, its own
 *   gradient array, summed into grads in thread order (deterministic).
 * A step runs the batch split into one contiguous chunk per OpenMP thread;
 * each layer processes its chunk single-threaded. */
#ifndef CNN_NET_H
#define CNN_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "layers/layer.h"

struct dist;

/* Where backward keeps each activation's gradient (net_plan_grads). A slot
 * holds (batch, widest) floats; thread chunks use disjoint regions of it.
 * The gradient of layer i's output lives in grad_slot[i] from the backward
 * of its last reader (the first to run) until layer i's own backward.
 * Layer i's backward writes the gradient of its input k into dx_slot[i][k]:
 * the producer's own slot for the first writer, or, with dx_add[i][k], a
 * temporary that is then added into it. So where an output fans out, its
 * gradient is summed from its last reader in the list to its first, and
 * within one layer from input 0 up: ((d_last + d_before) + ...), the same
 * order for any thread count. */
#define NET_SLOT_NONE (-1)    /* no gradient: the network's input, or not yet planned */
#define NET_SLOT_LOGITS (-2)  /* the last layer's: net->dlogits */
struct net_grad_plan {
	int n_slots;
	int *grad_slot;                        /* [n_layers] */
	int (*dx_slot)[LAYER_MAX_INPUTS];      /* [n_layers][inputs] */
	bool (*dx_add)[LAYER_MAX_INPUTS];      /* [n_layers][inputs] */
};

/* Plans the slots for these layers as fused by `into` (net_plan_fusion);
 * refuses a layer (not the last) whose output nobody reads. Shared with
 * mem_estimate, so the estimate is exact. */
int net_plan_grads(struct layer *const *layers, int n_layers, const int *into,
                   struct net_grad_plan *p, struct cnn_error *err);
void net_grad_plan_free(struct net_grad_plan *p);

/* ReLU fusion (docs/design.md, "ReLU fusion"): a relu layer whose work
 * another layer does as well (layer_ops.fuses_relu, layer.relu_out) and
 * which then runs nothing, in training steps and in the inference plan:
 *  - after its producer P (fuses_relu, not commutes_with_relu) when P's
 *    output is read by the relu alone: P's output is the relu's output,
 *    and the relu's readers read P's;
 *  - before its one reader C (single-input, fuses_relu and
 *    commutes_with_relu: maxpool) when C would not change the order in
 *    which the relu's input sums its gradients (no other reader of that
 *    input lies between the relu and C): C reads the relu's input.
 * Either way, what reads the relu reads the relu's input instead
 * (net_fused_input), so a fused relu's output is never stored. Never the
 * last layer (the logits), nor a relu whose input is a fused relu.
 * into[i]: for a relu fused away, the layer doing its work (P or C);
 * otherwise -1. All -1 when fusion is off: CNN_FUSE=0 in the environment
 * (net_fusion_enabled; "off", "no" and "false" also turn it off).
 * Pure: reads only the layers' types, ops and inputs, never relu_out. */
bool net_fusion_enabled(void);
int net_plan_fusion(struct layer *const *layers, int n_layers, bool enabled, int *into,
                    struct cnn_error *err);
/* The fusion the network runs (net_plan_fusion as the environment says), in
 * a new array of n_layers (the caller frees it); NULL with err on failure. */
int *net_fusion_now(struct layer *const *layers, int n_layers, struct cnn_error *err);

/* Input k of layer i as a network fused by `into` runs it. */
static inline int net_fused_input(struct layer *const *layers, const int *into, int i, int k)
{
	int j = layer_input(layers[i], i, k);
	return j != LAYER_INPUT_NET && into[j] >= 0 ? layer_input(layers[j], j, 0) : j;
}

/* Where evaluation keeps each activation (net_plan_acts): forward only,
 * so an activation lives from the layer that writes it until its last
 * reader has run, and its slot then takes a later output. Nothing backward
 * needs is kept: no gradients, and no activation beyond its last reader.
 * A slot holds slot_floats[s] floats per sample (the largest activation it
 * ever holds); for a batch of B samples slot s is B * slot_floats[s] floats
 * at B * slot_at[s] in a thread's workspace. A chain needs two slots, and a
 * residual block three: the block's input stays live until its add. An
 * in-place layer (relu, batchnorm, dropout: layer_ops.inplace) whose input
 * nobody else reads runs in its input's slot. */
struct net_act_plan {
	int n_slots;
	int input_slot;          /* the input's slot (when evaluation loads it itself) */
	int *slot;               /* [n_layers]: where layer i's output lives (an in-place
	                          * layer's: its input's) */
	size_t *slot_floats;     /* [n_slots] per sample */
	size_t *slot_at;         /* [n_slots] per-sample offsets: slots end to end */
	size_t per_sample;       /* floats per sample, all slots */
	size_t peak;             /* the most floats per sample one layer reads and writes */
	int *fold_into;          /* [n_layers] (pooling folds, below): for a folded maxpool,
	                          * the layer doing its work; else -1 */
	int *folded;             /* [n_layers]: for that layer, the maxpool; else -1 */
};

/* The plan for these layers as fused by `into` (net_plan_fusion), with
 * pooling folds (evaluation only): a 2x2/2 maxpool whose input (in the
 * fused graph) is the output of a layer that can end its forward pass with
 * that pooling (layer_ops.can_fold_pool2: a Winograd convolution with an
 * even output) and that nothing else reads. That layer then writes the
 * pooled output (layer_ctx.fold, with the ReLU fused into the maxpool, if
 * any) and the maxpool runs nothing, in its input's slot: the full-size
 * output is never stored. Training steps keep the maxpool (its backward
 * reads that output). No folds when fusion is off (net_fusion_enabled). */
int net_plan_acts(struct layer *const *layers, int n_layers, const int *into, struct shape input,
                  struct net_act_plan *p, struct cnn_error *err);
void net_act_plan_free(struct net_act_plan *p);

/* Samples per forward pass on one thread when evaluating: as many as keep
 * the largest layer's inputs and output (plan.peak floats per sample) within
 * half of one core's L2 cache, so each layer reads what the one before wrote
 * from the cache, from 1 to NET_EVAL_BATCH_MAX. The L2 size is the system's
 * (sysconf), 1 MiB if unknown. */
#define NET_EVAL_BATCH_MAX 256
/* The head's batch, and the parameters (floats) from which layers make a
 * head worth its copy of the activation at the cut. */
#define NET_HEAD_BATCH 32
#define NET_HEAD_MIN_PARAMS 65536
int net_eval_batch_for(const struct net_act_plan *p);

/* Floats of one thread's evaluation workspace for `batch` samples: the
 * plan's slots, then (from *scratch_at) the largest layer scratch. */
size_t net_eval_ws_floats(struct layer *const *layers, int n_layers, const struct net_act_plan *p,
                          int batch, size_t *scratch_at);

struct net {
	struct shape input;
	int n_layers;
	struct layer **layers;   /* owned */
	int n_classes;           /* the last layer's output size */
	/* ReLU fusion (net_plan_fusion): fused_into[i] is the layer doing relu
	 * i's work, or -1. Those layers have relu_out set, and training steps
	 * and the inference plan run the fused graph; net_eval in a training
	 * network's arena runs the unfused one (every output kept). */
	int *fused_into;         /* [n_layers] */
	float label_smoothing;   /* training loss only (loss.h); 0 (net_create's): none */

	size_t n_params;
	float *params;           /* (n_params) */
	float *grads;            /* (n_params) */
	int n_param_tensors;
	struct net_param *param_tensors;

	int batch, threads;      /* the plan below is for these */
	float *arena;            /* input and activations */
	float *x;                /* (batch, input): the batch being run, in arena */
	float **acts;            /* acts[i]: (batch, layers[i]->out) in arena */
	struct net_grad_plan grad_plan;
	float *gbuf;             /* (grad_plan.n_slots, batch, widest): slot s's sample i at
	                          * (s * batch + i) * widest */
	size_t widest;           /* the largest activation (input included), per sample */
	/* Evaluation (net_eval_from, net_predict) runs the inference plan
	 * (struct net_act_plan) in `eval_batch` samples at a time per thread,
	 * each thread in its own workspace eval_ws[t] (eval_ws_floats). */
	struct net_act_plan act_plan;
	int eval_batch;
	/* Prediction's head (net_predict_batch): the layers from head_from on
	 * hold most of the parameters (dense layers), which a forward pass on
	 * eval_batch samples streams from memory for those few samples. They
	 * run on NET_HEAD_BATCH samples at once, the layers before them
	 * eval_batch at a time. -1: no such cut in the graph. */
	int head_from;
	float **eval_ws;         /* [threads] (eval_ws_floats); NULL for net_create_model */
	size_t eval_ws_floats;
	double *eval_losses;     /* (NET_EVAL_STEP): a call's loss per sample */
	/* Floats allocated, for the test that holds mem_estimate to them. */
	size_t arena_floats, gbuf_floats, scratch_floats;
	float *dlogits;          /* (batch, n_classes) */
	float **scratch;         /* [threads] */
	float **thread_grads;    /* [threads]; [0] is grads itself */
	double *thread_loss;     /* [threads] */
	int *thread_correct;     /* [threads] */
	/* Per-step layer statistics (batchnorm): layer i's region starts at
	 * stats_offset[i] and holds (threads, stats_doubles) doubles, one row
	 * per thread's chunk, read by its after_step in thread order. */
	double *stats;
	size_t *stats_offset;    /* [n_layers] */

	/* Stateless randomness (dropout): a training step's layer_ctx.step_seed
	 * is a hash of (seed, step). net_create sets seed (its `seed` argument)
	 * and step 0; each net_train_step uses `step` and then adds 1. A runner
	 * sets step to the global step before each one, so a resumed run draws
	 * the same masks as an uninterrupted one. */
	uint64_t seed;
	long step;

	/* Optional timing (cnnrun --verbose): when the caller points this at
	 * 2 * n_layers zeroed doubles, training steps add each layer's forward
	 * seconds to [i] and backward seconds to [n_layers + i], as measured
	 * on thread 0 (its chunk runs alongside the others, so this is close
	 * to the wall time). NULL (the default): no clock calls. Not owned. */
	double *layer_seconds;

	/* Data-parallel training (src/dist/dist.h): NULL, one process. Set by
	 * net_set_dist; `batch` is then the global batch, run as
	 * min(ranks * threads, n) chunks in all (chunk_of), of which rank r's
	 * thread t runs chunk r * threads + t; the chunks' gradients, losses
	 * and statistics are combined in chunk order, so the result has the
	 * same bits as one process with ranks * threads threads. Every rank
	 * keeps the whole batch's arena and uses its own samples' part. */
	const struct dist *dist;
	double *dist_sums;       /* (ranks, 2, threads): each chunk's loss, then correct count */
	double *dist_stats;      /* (ranks, stats per rank): every rank's `stats` */
	double *dist_rows;       /* (ranks * threads, largest stats_doubles): one layer's rows */
	size_t *dist_offsets;    /* (ranks + 1) byte offsets for a gather */

	bool frozen;             /* net_freeze: the parameters are final */
};

/* Takes ownership of layers[] (also on failure) and plans memory for
 * `batch` samples on `threads` threads. Parameters are initialised from
 * `seed` (He normal for weights, zero biases). */
int net_create(struct layer **layers, int n_layers, struct shape input, int batch,
               int threads, uint64_t seed, struct net **out, struct cnn_error *err);
void net_free(struct net *net);

/* Makes the network one of d's ranks (NULL or one rank: a single process),
 * allocating what combining the ranks' chunks needs. */
int net_set_dist(struct net *net, const struct dist *d, struct cnn_error *err);

/* One training step's forward and backward on net->input[0..n): zeroes the
 * gradients, fills grads with d(mean loss)/d params. Returns the summed loss
 * and the number of correct predictions through the pointers. */
void net_train_step(struct net *net, const int *labels, int n, double *loss_sum, int *correct);

/* Forward only (evaluation mode) on net->x[0..n), n <= net->batch:
 * summed loss, predictions into pred[n] (may be NULL), probabilities into
 * probs[n * n_classes] (may be NULL). In a training network it runs in the
 * training arena and leaves every layer's output in net->acts (int8
 * calibration reads them): the unfused graph, so it clears the layers'
 * relu_out for the call (no other call may use the network meanwhile); in
 * an evaluation network (net_create_eval), through the inference plan.
 * Both give the same bits. */
void net_eval(struct net *net, const int *labels, int n, double *loss_sum, int *pred, float *probs);

/* Where a batch comes from when the step itself loads it. Each thread calls
 * fill for its own samples [start, start + count) of the batch, before
 * running them: x points at sample `start` of net->x and labels at
 * labels[start]. Loading (bytes to floats, augmentation) then runs on every
 * thread instead of on one before the step, and each thread's input is
 * written into its own cache rather than moved from another core's: on 2
 * threads the reference network trains 5-8% faster. `thread` (0 ..
 * net->threads - 1) lets fill use per-thread scratch. fill must not fail. */
struct net_input {
	void (*fill)(void *ctx, int thread, int start, int count, float *x, int *labels);
	void *ctx;
};

/* net_train_step and net_eval with the batch loaded by `in` (see above);
 * labels[0..n) is filled by it and read back after. net_eval_from runs the
 * inference plan (each thread loads and runs its share eval_batch samples
 * at a time), takes n <= NET_EVAL_STEP, and gives net_eval's predictions
 * and probabilities bit for bit; its loss is summed sample by sample in
 * order, so it is the same for any thread count, rank count or machine.
 * net_eval_step: the samples a runner should hand each call, NET_EVAL_STEP
 * everywhere (every rank must pass the same n). */
#define NET_EVAL_STEP 4096
void net_train_step_from(struct net *net, const struct net_input *in, int *labels, int n,
                         double *loss_sum, int *correct);
void net_eval_from(struct net *net, const struct net_input *in, int *labels, int n,
                   double *loss_sum, int *pred, float *probs);
int net_eval_step(const struct net *net);

/* A network for inference only: the parameters (zeroed, for a checkpoint to
 * fill) and its inference plan, nothing else. No gradients, activations or
 * threads are allocated and no process-wide state (OpenBLAS's thread count)
 * is touched; run it with net_predict. Takes ownership of layers[] (also on
 * failure). */
int net_create_model(struct layer **layers, int n_layers, struct shape input, struct net **out,
                     struct cnn_error *err);

/* A network for evaluation only (`cnnrun eval`): the parameters, and for
 * each of `threads` threads an inference workspace of eval_batch samples;
 * no gradients, no training arena. net->batch is net_eval_step's figure;
 * use net_eval_from (net->x is NULL). Takes ownership of layers[]. */
int net_create_eval(struct layer **layers, int n_layers, struct shape input, int threads,
                    struct net **out, struct cnn_error *err);

/* Declares the parameters final (after a checkpoint is applied, for a
 * network that only predicts or evaluates): each layer may keep what its
 * forward pass derives from them (layer_ops.freeze), so later forward
 * passes give the same bits for less work. A frozen network is never
 * trained (net_train_step asserts it); its parameters must not change.
 * Returns 0, or -1 (err: out of memory). */
int net_freeze(struct net *net, struct cnn_error *err);

/* Class probabilities of n images x (n, input), normalised as in
 * training, into probs (n, n_classes): evaluation mode, through the
 * inference plan, on `threads` OpenMP threads (0: omp_get_max_threads()),
 * each thread taking a contiguous share of the images, eval_batch at a time
 * (or `batch` when > 0). Bit for bit net_eval's probabilities, for any n,
 * batch and thread count. Only reads net (any kind), allocating its
 * workspace per call, so several calls may run at once. Returns 0, or -1
 * (err: out of memory). */
int net_predict(const struct net *net, const float *x, int n, float *probs, int threads,
                struct cnn_error *err);
int net_predict_batch(const struct net *net, const float *x, int n, float *probs, int threads,
                      int batch, struct cnn_error *err);
/* The head's batch net_predict_batch runs on shares of `per` images
 * `batch` at a time: NET_HEAD_BATCH (or per, if fewer) where the network
 * has a head and the batch is smaller; 0: no head. */
int net_predict_head_batch(const struct net *net, int batch, int per);

double net_flops(const struct net *net);   /* forward, per sample */

/* Pins each of the `threads` OpenMP threads that run a step to a CPU of its
 * own (Linux; elsewhere it does nothing). Left to itself, the scheduler
 * first puts the new worker next to the main thread and takes seconds to
 * spread them: the reference network's first epoch on 2 threads ran at
 * 125-130k images/s and the later ones at 160k; pinned, all run at 160k.
 * Only when `threads` is exactly the number of CPUs the process may use
 * (the default, all cores): runs with fewer threads are left for the
 * scheduler to spread, so that several of them side by side do not pile
 * onto the same CPUs. Nothing either for one thread, or when OMP_PROC_BIND,
 * OMP_PLACES or GOMP_CPU_AFFINITY is set (the user's placement wins).
 * Returns whether it pinned. */
bool net_pin_threads(int threads);

/* After a step on n samples whose loss was not finite: describes into
 * `what` the first place, in forward order, holding a NaN or an infinity
 * (the input, a layer's parameters or its output) and returns that layer
 * (NULL for the input). */
const struct layer *net_diagnose_nonfinite(const struct net *net, int n, char *what, size_t len);

#endif
