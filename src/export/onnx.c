/* ONNX export (opset 13): the network as one graph, weights as initializers,
 * static shapes for one image.
 *
 *   pixels (1, C, H, W), raw values 0..255
 *     -> Mul by normalize.scale [-> Add normalize.offset]   the model's own
 *        normalisation, so callers feed pixels as they are (scalars, or
 *        (1, C, 1, 1) for a model standardised per channel)
 *     -> one node per layer, named after the layer, its output tensor too
 *     -> Softmax "probs" (1, classes)
 *
 * How each type maps: conv -> Conv (pads top, left, bottom, right), maxpool
 * -> MaxPool and avgpool -> AveragePool (no padding, floor mode, as cnnrun),
 * global_avgpool -> GlobalAveragePool, dense -> Gemm (transB = 1, after a
 * Flatten "<dense>.flatten" when its input is not flat yet), flatten ->
 * Flatten (axis 1, never Reshape), relu/leaky_relu/tanh/sigmoid -> the ops
 * of those names, batchnorm -> BatchNormalization in inference form with
 * the running statistics (not folded into the conv before it, so the file
 * shows the network as trained), dropout -> nothing (the identity in
 * inference; the next node reads dropout's input), add -> Add (Sum for
 * three or more inputs), concat -> Concat (axis 1). Each node reads the
 * tensors of its layer's inputs (export_inputs), so a graph stays a graph.
 * A type not in the table below is refused by name. */
#include <stdlib.h>
#include <string.h>

#include "export/export.h"
#include "export/protobuf.h"
#include "io/fileio.h"

/* Field numbers of onnx.proto (proto2, package onnx). */
enum { MODEL_IR_VERSION = 1, MODEL_PRODUCER_NAME = 2, MODEL_PRODUCER_VERSION = 3, MODEL_DOC = 6,
       MODEL_GRAPH = 7, MODEL_OPSET_IMPORT = 8 };
enum { OPSET_DOMAIN = 1, OPSET_VERSION = 2 };
enum { GRAPH_NODE = 1, GRAPH_NAME = 2, GRAPH_INITIALIZER = 5, GRAPH_DOC = 10, GRAPH_INPUT = 11,
       GRAPH_OUTPUT = 12 };
enum { NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5 };
enum { ATTR_NAME = 1, ATTR_F = 2, ATTR_I = 3, ATTR_INTS = 8, ATTR_TYPE = 20 };
enum { ATTR_TYPE_FLOAT = 1, ATTR_TYPE_INT = 2, ATTR_TYPE_INTS = 7 };   /* AttributeType */
enum { TENSOR_DIMS = 1, TENSOR_DATA_TYPE = 2, TENSOR_NAME = 8, TENSOR_RAW_DATA = 9 };
enum { DATA_FLOAT = 1 };                                               /* TensorProto.DataType */
enum { VALUE_NAME = 1, VALUE_TYPE = 2 };                               /* ValueInfoProto */
enum { TYPE_TENSOR = 1, TYPE_TENSOR_ELEM = 1, TYPE_TENSOR_SHAPE = 2 }; /* TypeProto(.Tensor) */
enum { SHAPE_DIM = 1, DIM_VALUE = 1 };                                 /* TensorShapeProto */

/* IR version 7 is the one that came with opset 13 (ONNX 1.8). */
#define ONNX_IR_VERSION 7
#define ONNX_OPSET 13

/* A tensor of the graph as the exporter tracks it. */
struct tensor {
	char name[64];
	int rank;          /* 4: (1, c, h, w); 2: (1, n) */
};

struct onnx {
	const struct export_model *m;
	struct pb graph;
	struct tensor *out;   /* [n_layers]: each layer's output tensor */
	struct tensor input;  /* the normalised input */
};

static void node_begin(struct pb *n, const char *op, const char *name, const char *const *in,
                       int n_in, const char *out)
{
	for (int i = 0; i < n_in; i++)
		pb_string(n, NODE_INPUT, in[i]);
	pb_string(n, NODE_OUTPUT, out);
	pb_string(n, NODE_NAME, name);
	pb_string(n, NODE_OP_TYPE, op);
}

static void attr_ints(struct pb *n, const char *name, const int *v, int count)
{
	struct pb a = { 0 };
	pb_string(&a, ATTR_NAME, name);
	pb_int(&a, ATTR_TYPE, ATTR_TYPE_INTS);
	for (int i = 0; i < count; i++)
		pb_int(&a, ATTR_INTS, v[i]);
	pb_message(n, NODE_ATTRIBUTE, &a);
}

static void attr_int(struct pb *n, const char *name, int v)
{
	struct pb a = { 0 };
	pb_string(&a, ATTR_NAME, name);
	pb_int(&a, ATTR_TYPE, ATTR_TYPE_INT);
	pb_int(&a, ATTR_I, v);
	pb_message(n, NODE_ATTRIBUTE, &a);
}

static void attr_float(struct pb *n, const char *name, float v)
{
	struct pb a = { 0 };
	pb_string(&a, ATTR_NAME, name);
	pb_int(&a, ATTR_TYPE, ATTR_TYPE_FLOAT);
	pb_float(&a, ATTR_F, v);
	pb_message(n, NODE_ATTRIBUTE, &a);
}

/* A node with no attributes. */
static void node_plain(struct onnx *o, const char *op, const char *name, const char *in,
                       const char *out)
{
	struct pb n = { 0 };
	node_begin(&n, op, name, &in, 1, out);
	pb_message(&o->graph, GRAPH_NODE, &n);
}

static void initializer(struct onnx *o, const char *name, const int *dims, int ndim, const float *v)
{
	struct pb t = { 0 };
	size_t count = 1;
	for (int i = 0; i < ndim; i++) {
		pb_int(&t, TENSOR_DIMS, dims[i]);
		count *= (size_t)dims[i];
	}
	pb_int(&t, TENSOR_DATA_TYPE, DATA_FLOAT);
	pb_string(&t, TENSOR_NAME, name);
	pb_floats_raw(&t, TENSOR_RAW_DATA, v, count);
	pb_message(&o->graph, GRAPH_INITIALIZER, &t);
}

/* A graph input or output: a float tensor of these dimensions. */
static void value_info(struct pb *g, int field, const char *name, const int *dims, int ndim)
{
	struct pb v = { 0 }, type = { 0 }, tensor = { 0 }, shape = { 0 };
	for (int i = 0; i < ndim; i++) {
		struct pb dim = { 0 };
		pb_int(&dim, DIM_VALUE, dims[i]);
		pb_message(&shape, SHAPE_DIM, &dim);
	}
	pb_int(&tensor, TYPE_TENSOR_ELEM, DATA_FLOAT);
	pb_message(&tensor, TYPE_TENSOR_SHAPE, &shape);
	pb_message(&type, TYPE_TENSOR, &tensor);
	pb_string(&v, VALUE_NAME, name);
	pb_message(&v, VALUE_TYPE, &type);
	pb_message(g, field, &v);
}

/* The learnable tensors of layer l, in its params() order, as initializers. */
static int layer_initializers(struct onnx *o, const struct layer *l, const char **names, int max)
{
	const struct net *net = o->m->net;
	int n = 0;
	for (int t = 0; t < net->n_param_tensors && n < max; t++) {
		const struct net_param *p = &net->param_tensors[t];
		if (p->offset < l->param_offset || p->offset >= l->param_offset + l->param_count)
			continue;
		initializer(o, p->name, p->spec.dims, p->spec.ndim, net->params + p->offset);
		names[n++] = p->name;
	}
	return n;
}

/* The tensors layer i reads, in order, into x[]; returns how many. */
static int inputs_of(const struct onnx *o, int i, const struct tensor **x)
{
	int in[LAYER_MAX_INPUTS], n = export_inputs(o->m->net, i, in, LAYER_MAX_INPUTS);
	for (int k = 0; k < n; k++)
		x[k] = in[k] < 0 ? &o->input : &o->out[in[k]];
	return n;
}

/* The tensor a one-input layer i reads. */
static const struct tensor *input_of(const struct onnx *o, int i)
{
	const struct tensor *x[LAYER_MAX_INPUTS];
	inputs_of(o, i, x);
	return x[0];
}

typedef int (*emit_fn)(struct onnx *o, int i, struct cnn_error *err);

static int need_image(struct onnx *o, int i, struct cnn_error *err)
{
	if (input_of(o, i)->rank == 4)
		return 0;
	return export_refuse(o->m, o->m->net->layers[i], "ONNX", "its input is flat (after flatten or dense)", err);
}

static void window_attrs(struct pb *n, const struct layer_attrs *a)
{
	int k[2] = { a->kernel, a->kernel }, s[2] = { a->stride, a->stride };
	attr_ints(n, "kernel_shape", k, 2);
	attr_ints(n, "strides", s, 2);
}

static int emit_conv(struct onnx *o, int i, struct cnn_error *err)
{
	const struct layer *l = o->m->net->layers[i];
	struct layer_attrs a;
	const char *in[3] = { input_of(o, i)->name };
	struct pb n = { 0 };
	if (need_image(o, i, err))
		return -1;
	l->ops->attrs(l, &a);
	layer_initializers(o, l, in + 1, 2);
	node_begin(&n, "Conv", l->name, in, 3, o->out[i].name);
	window_attrs(&n, &a);
	int pads[4] = { a.pad_top, a.pad_left, a.pad_bottom, a.pad_right };
	attr_ints(&n, "pads", pads, 4);
	pb_message(&o->graph, GRAPH_NODE, &n);
	return 0;
}

static int emit_pool(struct onnx *o, int i, const char *op, struct cnn_error *err)
{
	const struct layer *l = o->m->net->layers[i];
	struct layer_attrs a;
	const char *in = input_of(o, i)->name;
	struct pb n = { 0 };
	if (need_image(o, i, err))
		return -1;
	l->ops->attrs(l, &a);
	node_begin(&n, op, l->name, &in, 1, o->out[i].name);
	window_attrs(&n, &a);
	pb_message(&o->graph, GRAPH_NODE, &n);
	return 0;
}

static int emit_maxpool(struct onnx *o, int i, struct cnn_error *err)
{
	return emit_pool(o, i, "MaxPool", err);
}

static int emit_avgpool(struct onnx *o, int i, struct cnn_error *err)
{
	return emit_pool(o, i, "AveragePool", err);
}

static int emit_global_avgpool(struct onnx *o, int i, struct cnn_error *err)
{
	if (need_image(o, i, err))
		return -1;
	node_plain(o, "GlobalAveragePool", o->m->net->layers[i]->name, input_of(o, i)->name, o->out[i].name);
	return 0;
}

/* Flatten with axis 1: (1, c, h, w) -> (1, c*h*w). */
static void flatten_node(struct onnx *o, const char *name, const char *in, const char *out)
{
	struct pb n = { 0 };
	node_begin(&n, "Flatten", name, &in, 1, out);
	attr_int(&n, "axis", 1);
	pb_message(&o->graph, GRAPH_NODE, &n);
}

static int emit_flatten(struct onnx *o, int i, struct cnn_error *err)
{
	(void)err;
	flatten_node(o, o->m->net->layers[i]->name, input_of(o, i)->name, o->out[i].name);
	o->out[i].rank = 2;
	return 0;
}

static int emit_dense(struct onnx *o, int i, struct cnn_error *err)
{
	const struct layer *l = o->m->net->layers[i];
	const struct tensor *x = input_of(o, i);
	char flat[sizeof x->name + 8];
	const char *in[3] = { x->name };
	struct pb n = { 0 };
	(void)err;
	if (x->rank != 2) {   /* dense reads its input flattened */
		snprintf(flat, sizeof flat, "%s.flatten", l->name);
		flatten_node(o, flat, x->name, flat);
		in[0] = flat;
	}
	layer_initializers(o, l, in + 1, 2);
	node_begin(&n, "Gemm", l->name, in, 3, o->out[i].name);
	attr_int(&n, "transB", 1);
	pb_message(&o->graph, GRAPH_NODE, &n);
	o->out[i].rank = 2;
	return 0;
}

static int emit_elementwise(struct onnx *o, int i, const char *op)
{
	node_plain(o, op, o->m->net->layers[i]->name, input_of(o, i)->name, o->out[i].name);
	return 0;
}

static int emit_relu(struct onnx *o, int i, struct cnn_error *err)
{
	(void)err;
	return emit_elementwise(o, i, "Relu");
}

static int emit_tanh(struct onnx *o, int i, struct cnn_error *err)
{
	(void)err;
	return emit_elementwise(o, i, "Tanh");
}

static int emit_sigmoid(struct onnx *o, int i, struct cnn_error *err)
{
	(void)err;
	return emit_elementwise(o, i, "Sigmoid");
}

static int emit_leaky_relu(struct onnx *o, int i, struct cnn_error *err)
{
	const struct layer *l = o->m->net->layers[i];
	struct layer_attrs a;
	const char *in = input_of(o, i)->name;
	struct pb n = { 0 };
	(void)err;
	l->ops->attrs(l, &a);
	node_begin(&n, "LeakyRelu", l->name, &in, 1, o->out[i].name);
	attr_float(&n, "alpha", (float)a.value);
	pb_message(&o->graph, GRAPH_NODE, &n);
	return 0;
}

static int emit_batchnorm(struct onnx *o, int i, struct cnn_error *err)
{
	const struct layer *l = o->m->net->layers[i];
	struct layer_attrs a;
	const char *in[5] = { input_of(o, i)->name };
	struct pb n = { 0 };
	(void)err;
	l->ops->attrs(l, &a);
	/* weight, bias, running_mean, running_var: the order ONNX wants */
	layer_initializers(o, l, in + 1, 4);
	node_begin(&n, "BatchNormalization", l->name, in, 5, o->out[i].name);
	attr_float(&n, "epsilon", (float)a.value);
	pb_message(&o->graph, GRAPH_NODE, &n);
	return 0;
}

static int emit_dropout(struct onnx *o, int i, struct cnn_error *err)
{
	(void)err;
	o->out[i] = *input_of(o, i);   /* no node: the next one reads dropout's input */
	return 0;
}

/* add -> Add (two inputs) or Sum (more), concat -> Concat on axis 1 (the
 * channels, or the features of flat inputs). Inputs of different ranks
 * (one flattened, one not) are refused: ONNX would broadcast them. */
static int emit_multi(struct onnx *o, int i, const char *op, struct cnn_error *err)
{
	const struct layer *l = o->m->net->layers[i];
	const struct tensor *x[LAYER_MAX_INPUTS] = { &o->input };
	const char *in[LAYER_MAX_INPUTS];
	struct pb n = { 0 };
	int count = inputs_of(o, i, x);
	for (int k = 0; k < count; k++) {
		if (x[k]->rank != x[0]->rank)
			return export_refuse(o->m, l, "ONNX", "some of its inputs are flat and some are not", err);
		in[k] = x[k]->name;
	}
	node_begin(&n, op, l->name, in, count, o->out[i].name);
	if (!strcmp(op, "Concat"))
		attr_int(&n, "axis", 1);
	pb_message(&o->graph, GRAPH_NODE, &n);
	o->out[i].rank = x[0]->rank;
	return 0;
}

static int emit_add(struct onnx *o, int i, struct cnn_error *err)
{
	return emit_multi(o, i, layer_n_inputs(o->m->net->layers[i]) == 2 ? "Add" : "Sum", err);
}

static int emit_concat(struct onnx *o, int i, struct cnn_error *err)
{
	return emit_multi(o, i, "Concat", err);
}

static const struct {
	const char *type;
	emit_fn emit;
} emitters[] = {
	{ "add", emit_add },
	{ "concat", emit_concat },
	{ "conv", emit_conv },
	{ "maxpool", emit_maxpool },
	{ "avgpool", emit_avgpool },
	{ "global_avgpool", emit_global_avgpool },
	{ "dense", emit_dense },
	{ "flatten", emit_flatten },
	{ "relu", emit_relu },
	{ "leaky_relu", emit_leaky_relu },
	{ "tanh", emit_tanh },
	{ "sigmoid", emit_sigmoid },
	{ "batchnorm", emit_batchnorm },
	{ "dropout", emit_dropout },
};

static emit_fn emitter(const char *type)
{
	for (size_t k = 0; k < sizeof emitters / sizeof emitters[0]; k++)
		if (!strcmp(emitters[k].type, type))
			return emitters[k].emit;
	return NULL;
}

bool export_onnx_handles(const char *type)
{
	return emitter(type) != NULL;
}

/* pixels -> Mul [-> Add] -> o->input: scalars when every channel is
 * normalised alike, else (1, C, 1, 1) constants that broadcast over each
 * channel's plane. */
static void emit_normalisation(struct onnx *o)
{
	const struct export_model *m = o->m;
	bool uniform = export_norm_uniform(m);
	int c = uniform ? 1 : m->net->input.c, dims[4] = { 1, c, 1, 1 };
	float scale[DATA_MAX_CHANNELS], offset[DATA_MAX_CHANNELS];
	bool any_offset = false;
	for (int k = 0; k < c; k++) {
		scale[k] = (float)m->scale[k];
		offset[k] = (float)m->offset[k];
		any_offset |= offset[k] != 0.0f;
	}
	const char *mul_out = any_offset ? "normalize.scaled" : "normalize";
	const char *mul_in[2] = { "pixels", "normalize.scale" };
	struct pb n = { 0 };
	initializer(o, "normalize.scale", dims, uniform ? 0 : 4, scale);
	node_begin(&n, "Mul", mul_out, mul_in, 2, mul_out);
	pb_message(&o->graph, GRAPH_NODE, &n);
	if (any_offset) {
		const char *add_in[2] = { mul_out, "normalize.offset" };
		initializer(o, "normalize.offset", dims, uniform ? 0 : 4, offset);
		node_begin(&n, "Add", "normalize", add_in, 2, "normalize");
		pb_message(&o->graph, GRAPH_NODE, &n);
	}
	snprintf(o->input.name, sizeof o->input.name, "normalize");
	o->input.rank = 4;
}

/* The graph's doc_string: the input, its normalisation, the output. */
static void describe_graph(const struct onnx *o, char *doc, size_t len)
{
	const struct export_model *m = o->m;
	const struct shape s = m->net->input;
	int c = export_norm_uniform(m) ? 1 : s.c;
	size_t at = (size_t)snprintf(doc, len, "pixels: (1, %d, %d, %d) raw values 0..255, normalised inside "
	                             "(v * %s", s.c, s.h, s.w, c > 1 ? "[" : "");
	for (int k = 0; k < c && at < len; k++)
		at += (size_t)snprintf(doc + at, len - at, "%s%.9g", k ? ", " : "", m->scale[k]);
	at += at < len ? (size_t)snprintf(doc + at, len - at, "%s + %s", c > 1 ? "]" : "", c > 1 ? "[" : "") : 0;
	for (int k = 0; k < c && at < len; k++)
		at += (size_t)snprintf(doc + at, len - at, "%s%.9g", k ? ", " : "", m->offset[k]);
	if (at < len)
		snprintf(doc + at, len - at, "%s%s); probs: the %d class probabilities", c > 1 ? "]" : "",
		         c > 1 ? ", per channel" : "", m->net->n_classes);
}

static int emit_graph(struct onnx *o, struct cnn_error *err)
{
	const struct net *net = o->m->net;
	const struct shape s = net->input;
	int in_dims[4] = { 1, s.c, s.h, s.w }, out_dims[2] = { 1, net->n_classes };
	char doc[512];

	pb_string(&o->graph, GRAPH_NAME, o->m->name);
	describe_graph(o, doc, sizeof doc);
	pb_string(&o->graph, GRAPH_DOC, doc);
	value_info(&o->graph, GRAPH_INPUT, "pixels", in_dims, 4);
	emit_normalisation(o);
	for (int i = 0; i < net->n_layers; i++) {
		const struct layer *l = net->layers[i];
		emit_fn emit = emitter(l->ops->type);
		if (!emit)
			return export_refuse(o->m, l, "ONNX", "no ONNX operator is mapped to this type", err);
		snprintf(o->out[i].name, sizeof o->out[i].name, "%s", l->name);
		o->out[i].rank = input_of(o, i)->rank;
		if (emit(o, i, err))
			return -1;
	}
	const struct tensor *logits = &o->out[net->n_layers - 1];
	const char *last = logits->name;
	if (logits->rank != 2) {
		flatten_node(o, "logits", last, "logits");
		last = "logits";
	}
	struct pb n = { 0 };
	node_begin(&n, "Softmax", "probs", &last, 1, "probs");
	attr_int(&n, "axis", 1);
	pb_message(&o->graph, GRAPH_NODE, &n);
	value_info(&o->graph, GRAPH_OUTPUT, "probs", out_dims, 2);
	return 0;
}

int export_onnx(const struct export_model *m, const char *path, struct cnn_error *err)
{
	struct onnx o = { .m = m };
	struct pb model = { 0 }, opset = { 0 };
	int rc = -1;
	if (!(o.out = calloc((size_t)m->net->n_layers, sizeof *o.out)))
		return cnn_errorf_plain(err, "out of memory");
	if (emit_graph(&o, err))
		goto out;
	pb_int(&model, MODEL_IR_VERSION, ONNX_IR_VERSION);
	pb_string(&model, MODEL_PRODUCER_NAME, "cnnrun");
	pb_string(&model, MODEL_PRODUCER_VERSION, CNN_VERSION);
	pb_string(&model, MODEL_DOC, m->name);
	pb_string(&opset, OPSET_DOMAIN, "");
	pb_int(&opset, OPSET_VERSION, ONNX_OPSET);
	pb_message(&model, MODEL_OPSET_IMPORT, &opset);
	pb_message(&model, MODEL_GRAPH, &o.graph);
	if (model.failed) {
		cnn_errorf_plain(err, "out of memory");
		goto out;
	}
	rc = atomic_write(path, model.data, model.len, err);
out:
	pb_free(&o.graph);
	pb_free(&model);
	free(o.out);
	return rc;
}
