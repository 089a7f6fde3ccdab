/* Exporters of a trained network to other runtimes: ONNX (onnx.c) and
 * standalone C99 source, float or int8 (c_source.c, quant.c). Internal to
 * cnnrun; `cnnrun export` (src/runner/export.c) is their command line.
 *
 * Both exporters take the network as a `const struct net *` plus what the
 * network itself does not hold (its name and the input normalisation), so
 * they do not care how the checkpoint was loaded. */
#ifndef CNN_EXPORT_EXPORT_H
#define CNN_EXPORT_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "data/data.h"
#include "util/error.h"
#include "net/net.h"

struct export_model {
	const struct net *net;
	const char *name;        /* the config's `name`, for comments and producer fields */
	const char *source;      /* the checkpoint's path, for messages */
	/* The model's input normalisation: a pixel value v (0..255) of channel
	 * k becomes v * scale[k] + offset[k], computed in double and rounded to
	 * float, as dataset_batch does (the same numbers for every channel
	 * unless the model was standardised per channel). Exported models take
	 * raw pixel values and apply it themselves. */
	double scale[DATA_MAX_CHANNELS], offset[DATA_MAX_CHANNELS];   /* (net->input.c) */
};

/* The model's normalisation as the dataset code applies it, into m's
 * scale[] and offset[] for each of d's channels. */
void export_normalisation(const struct dataset *d, struct export_model *m);

/* Whether every channel is normalised alike (then scale[0] and offset[0]
 * say it all: one constant in the exported graph or source). */
bool export_norm_uniform(const struct export_model *m);

/* The layers whose outputs layer i reads, in order, into inputs[] (-1 is
 * the network input); returns how many (at most max, which should be
 * LAYER_MAX_INPUTS). The one place the exporters learn the network's
 * wiring: the layer's inputs[], or the layer above when it has none. */
int export_inputs(const struct net *net, int i, int *inputs, int max);

/* How many inputs of later layers read layer o's output (a layer reading
 * it twice counts twice): an optimisation that rewrites o's output (a
 * folded batchnorm, a scale taken after a relu) is sound only with one. */
int export_readers(const struct net *net, int o);

/* ONNX (opset 13) into path, written atomically. Refuses, naming it, a
 * layer that has no ONNX form here. */
int export_onnx(const struct export_model *m, const char *path, struct cnn_error *err);

/* What a C export occupies on the device. */
struct export_footprint {
	size_t flash;            /* bytes of constant data (weights, tables) */
	size_t ram;              /* bytes of static buffers (activation arenas) */
	int arenas;              /* how many buffers the activations share */
};

struct quant_model;          /* quant.h: an int8 version of the network */

/* PREFIX.h and PREFIX.c in dir (which must exist), written atomically;
 * with q, the int8 model instead of the float one. */
int export_c(const struct export_model *m, const struct quant_model *q, const char *dir,
             const char *prefix, struct export_footprint *fp, struct cnn_error *err);

/* Whether each exporter knows a layer type (a test checks every type of
 * the registry): ONNX, float C, int8 C. */
bool export_onnx_handles(const char *type);
bool export_c_handles(const char *type);
bool export_int8_handles(const char *type);

/* Whether s is a C identifier (letters, digits, '_', not starting with a digit). */
bool export_is_identifier(const char *s);

/* Layer l's k-th parameter tensor (params() order: weight, bias, ...) in
 * the network's flat array; its element count into *n when n is not NULL. */
const float *export_param(const struct net *net, const struct layer *l, int k, size_t *n);

/* name as a C identifier into buf: any other character becomes '_', and
 * `lead` goes first when name starts with a digit or is empty. */
void export_identifier(const char *name, char lead, char *buf, size_t len);

/* Refuses layer l for the exporter `what` ("ONNX", "C"): the message names
 * the layer, its type and why. Returns -1. */
int export_refuse(const struct export_model *m, const struct layer *l, const char *what,
                  const char *why, struct cnn_error *err);

#endif
