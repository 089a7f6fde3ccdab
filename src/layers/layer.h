/* The layer interface: one `static const struct layer_ops` per type, shared
 * by every instance, with the base `struct layer` first in each type's own
 * struct (SQLite's sqlite3_io_methods, the kernel's file_operations).
 *
 * A layer knows only its own math. It owns no big memory: the network owns
 * parameters, gradients, activations and scratch, and passes pointers in.
 * Layout everywhere is NCHW, one sample after another:
 *   x: (n, in.c, in.h, in.w)    y: (n, out.c, out.h, out.w)
 * A layer's parameters are one contiguous run of the network's flat parameter
 * array (`w` below), in the order its params() lists them; its gradients are
 * the same run of the flat gradient array (`dw`).
 *
 * Gradient convention (Caffe's): backward() ADDS this batch's parameter
 * gradients into dw (the runner zeroes dw once per step) and OVERWRITES dx.
 * dx is NULL where the layer reads the network's input: nothing needs it, so
 * skip that work.
 * Gradients have the true sign (d loss / d w), never darknet's negated delta.
 *
 * The network is a graph: each layer reads one or more earlier outputs (or
 * the network's input), listed in `inputs`. Most layers read one and keep
 * the plain forward/backward above; a layer that reads several (add,
 * concat) sets forward_multi/backward_multi instead, which take arrays of
 * input pointers in the order of its `inputs`. */
#ifndef CNN_LAYER_H
#define CNN_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "kernels/relu.h"
#include "util/error.h"
#include "util/params.h"
#include "util/shape.h"

/* What a forward/backward call may use besides its tensors. Fields a caller
 * leaves zero (a test's `{ .scratch = s, .train = true }`) are valid. */
struct layer_ctx {
	float *scratch;    /* layer_ops.scratch_floats(l, n) floats, private to this call */
	bool train;        /* training step (dropout, batchnorm statistics) vs evaluation */
	/* Randomness without state (dropout): a layer hashes step_seed, layer,
	 * and the global sample index sample0 + i of its i-th sample, so a mask
	 * does not depend on how the batch was split among threads, and
	 * backward recomputes forward's mask. */
	uint64_t step_seed; /* differs per training step; derived from the run's
	                     * seed and the global step, so a resume repeats it */
	int layer;         /* the layer's index in the network */
	int sample0;       /* the chunk's first sample, as an index into the batch */
	/* layer_ops.stats_doubles(l) doubles this call's training forward may
	 * fill for after_step (this thread's share of a step). NULL: keep none.
	 * A training backward gets the same row, as its forward on the same
	 * chunk left it, to read only (batchnorm's mean and M2). */
	double *stats;
	/* Evaluation only (net_plan_acts's folds): work of the layer that reads this
	 * one that this forward does as well, so that its output is never
	 * stored: LAYER_FOLD_POOL2, a 2x2/2 max-pooling (y is then the pooled
	 * output), and LAYER_FOLD_RELU, the ReLU that pooling reads through.
	 * Only on a layer whose can_fold_pool2 said yes. */
	unsigned fold;
};

#define LAYER_FOLD_POOL2 1u
#define LAYER_FOLD_RELU 2u

/* The settings of a layer beyond its type and shapes, for exporters (ONNX,
 * C source) that re-express the layer in another runtime. */
struct layer_attrs {
	int kernel, stride;  /* window side and step (conv, maxpool, avgpool) */
	int pad_top, pad_left, pad_bottom, pad_right; /* zeros around the input (conv) */
	double value;        /* leaky_relu: slope; batchnorm: eps */
};

struct layer;

struct layer_ops {
	const char *type;  /* matches the YAML `type:` */

	/* y = f(x; w) for n samples. */
	void (*forward)(const struct layer *l, const float *w, const float *x, float *y,
	                int n, const struct layer_ctx *ctx);

	/* Given x, y = f(x) and dy = dL/dy: dw += dL/dw, dx = dL/dx (dx may be NULL). */
	void (*backward)(const struct layer *l, const float *w, const float *x, const float *y,
	                 const float *dy, float *dx, float *dw, int n, const struct layer_ctx *ctx);

	/* Fills up to LAYER_MAX_PARAMS specs, returns how many. NULL: no parameters. */
	int (*params)(const struct layer *l, struct param_spec *out);

	/* Scratch floats a forward or backward call on n samples needs. NULL: none. */
	size_t (*scratch_floats)(const struct layer *l, int n);

	/* Multiply-adds x2 of one sample's forward pass. NULL: counted as 0. */
	double (*flops)(const struct layer *l);

	/* One line for `cnnrun summary`, e.g. "5x5/1 valid, 1->4". NULL: empty. */
	void (*describe)(const struct layer *l, char *buf, size_t len);

	/* Per-step statistics (batchnorm's running mean and variance), both NULL
	 * for other layers. stats_doubles: the doubles a training forward leaves
	 * in ctx->stats for its chunk. after_step: called once per training step,
	 * after every thread's forward and backward, with the stats of `threads`
	 * chunks laid out (threads, stats_doubles) in thread order; it may change
	 * the layer's non-learnable parameters in w (tensors whose gradient
	 * backward leaves at 0, so an optimizer step does not move them). */
	size_t (*stats_doubles)(const struct layer *l);
	void (*after_step)(const struct layer *l, float *w, const double *stats, int threads);

	/* Gradient sparsity, which decides the fastest algorithm of some layers
	 * (conv's direct backward only visits dy's non-zeros). Once the whole
	 * network is built, the builder walks it from the loss (whose gradient
	 * is dense, 1) to the input: each layer's `plan` is told the expected
	 * fraction of its dy that is non-zero, and `dx_density` turns that into
	 * the fraction of its dx. dx_density NULL: dx is dense (1) whatever dy
	 * is (dense, conv, batchnorm, ...). plan NULL: nothing to decide. */
	double (*dx_density)(const struct layer *l, double dy_density);
	void (*plan)(struct layer *l, double dy_density);

	/* Multi-input layers (add, concat) set these instead of forward and
	 * backward: xs[k] is input k, (n, in shape k); dxs[k] receives dL/dx_k
	 * (overwritten, or NULL when input k is the network's input). The
	 * network passes a distinct dxs[k] for each k even when two inputs are
	 * the same activation, and sums them itself. */
	void (*forward_multi)(const struct layer *l, const float *w, const float *const *xs,
	                      float *y, int n, const struct layer_ctx *ctx);
	void (*backward_multi)(const struct layer *l, const float *w, const float *const *xs,
	                       const float *y, const float *dy, float *const *dxs, float *dw,
	                       int n, const struct layer_ctx *ctx);

	/* Frees the layer (its own struct, and what freeze kept). */
	void (*destroy)(struct layer *l);

	/* The parameters w are final: the network is for inference only (a
	 * checkpoint opened to predict, evaluate or time), never trained again.
	 * The layer may keep what each forward call would derive from w anew
	 * (conv: the Winograd forward's transformed filters), in memory of its
	 * own: the one exception to "a layer owns no big memory". Forward then
	 * reads that instead of w, for the same bits. Returns 0, or -1 when out
	 * of memory (forward then goes on deriving it per call). NULL: nothing
	 * worth keeping. */
	int (*freeze)(struct layer *l, const float *w);

	/* Whether forward can end with the 2x2/2 max-pooling that reads its
	 * output (layer_ctx.fold), giving pool2's bits. NULL: never. */
	bool (*can_fold_pool2)(const struct layer *l);

	/* Fills the settings an exporter needs (struct layer_attrs). NULL: the
	 * type has none beyond its shapes (relu, flatten, dense, ...). */
	void (*attrs)(const struct layer *l, struct layer_attrs *a);

	/* For evaluation's plan (net_plan_acts): forward in evaluation may run
	 * with y == x (each output element depends on its own input element
	 * alone: relu, batchnorm and dropout in evaluation), so the plan gives
	 * the layer its input's memory when nothing else reads that input. */
	bool inplace;

	/* ReLU fusion (the network decides; struct layer.relu_out says when).
	 * fuses_relu: the layer can end its forward pass with the ReLU that
	 * reads its output and start its backward pass with that ReLU's
	 * gradient. commutes_with_relu: f(relu(x)) == relu(f(x)), gradients
	 * included (maxpool), so the layer may take the ReLU that FEEDS it: it
	 * then computes f(relu(x)) exactly, reading every x through
	 * relu_value (the two orders differ only where x holds a NaN, which is
	 * why such a layer never takes a ReLU that follows it). */
	bool fuses_relu;
	bool commutes_with_relu;
};

/* The most inputs a layer may read (an Inception block concatenates 4). */
#define LAYER_MAX_INPUTS 16
/* inputs[k] naming the network's input rather than a layer. */
#define LAYER_INPUT_NET (-1)

struct layer {
	const struct layer_ops *ops;
	struct shape in, out;
	struct cnn_loc loc;   /* the layer's `- {type: ...}` in the config, for messages */
	char name[32];        /* "conv1", "dense1": unique in the network, used for export */
	size_t param_offset;  /* this layer's run in the flat parameter/gradient arrays */
	size_t param_count;   /* floats in that run */
	/* What the layer reads: layer indices (all smaller than its own), or
	 * LAYER_INPUT_NET. n_inputs 0 (a layer built outside the builder, as
	 * tests do) means the layer above, or the input for the first layer.
	 * A multi-input constructor sets n_inputs; the builder fills inputs. */
	int n_inputs;
	int inputs[LAYER_MAX_INPUTS];
	/* Set by the network, only on a type whose ops have fuses_relu: the
	 * layer also does a ReLU's work, exactly as src/layers/relu.c does it.
	 * The ReLU it follows: forward ends with y = relu_value(y), backward
	 * starts by reading dy as 0 wherever y <= 0 (y is then the ReLU's
	 * output). The ReLU it is fed by (commutes_with_relu): see there. The
	 * ReLU layer it absorbed does nothing. */
	bool relu_out;
};

/* Input k of layer i of a network (reading n_inputs 0 as "the layer above"),
 * and how many inputs it has. */
static inline int layer_n_inputs(const struct layer *l)
{
	return l->n_inputs ? l->n_inputs : 1;
}

static inline int layer_input(const struct layer *l, int i, int k)
{
	_Static_assert(LAYER_INPUT_NET == -1, "the first layer's 'layer above' is the input");
	return l->n_inputs ? l->inputs[k] : i - 1;
}

/* A layer constructor validates its keys (through the cfg getters, which also
 * report unknown keys afterwards), infers out shape from `in`, and allocates
 * only its own small struct. The builder fills loc, name and offsets later. */
typedef int (*layer_create_fn)(struct cfg_node *args, struct shape in,
                               struct layer **out, struct cnn_error *err);

/* One input of a multi-input layer as its constructor sees it: the shape,
 * and the reference in `inputs` (its position and the name written there),
 * so that a mismatch is reported where it was written. */
struct layer_input_ref {
	struct shape shape;
	struct cnn_loc loc;
	const char *name;
};

/* A multi-input constructor: like layer_create_fn, with n_in >= 2 inputs. */
typedef int (*layer_create_multi_fn)(struct cfg_node *args, const struct layer_input_ref *in,
                                     int n_in, struct layer **out, struct cnn_error *err);

struct layer_type {
	const char *name;
	layer_create_fn create;   /* single-input types; NULL for multi-input ones */
	const char *summary; /* one line for docs and for "known types" lists */
	layer_create_multi_fn create_multi;   /* multi-input types (add, concat); else NULL */
};

/* The registry (src/builder/registry.c): a static table, looked up by name. */
const struct layer_type *layer_type_find(const char *name);
const struct layer_type *layer_types(int *count);

/* For layer types with no state beyond struct layer (relu, tanh, flatten,
 * ...): allocates one with these ops and shapes ("TYPE: out of memory" at
 * `at` on failure), and the destroy op that frees it. */
int layer_new_plain(const struct layer_ops *ops, struct shape in, struct shape out_shape,
                    struct cnn_loc at, struct layer **out, struct cnn_error *err);
void layer_free_plain(struct layer *l);

/* dx_density for layers whose dx is non-zero exactly where dy is (flatten,
 * and elementwise maps with a non-zero derivative: tanh, sigmoid, ...). */
double layer_density_same(const struct layer *l, double dy_density);

/* Helpers for constructors and messages. */

#endif
