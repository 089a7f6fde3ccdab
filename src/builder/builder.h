/* Config tree -> everything a run needs: the layers (shapes inferred and
 * checked), the loss, the optimizer settings, the data and training settings.
 * Every value is validated here, before any data is read or big buffer
 * allocated, and every error points at the config's line and column. */
#ifndef CNN_BUILDER_H
#define CNN_BUILDER_H

#include <stdbool.h>
#include <stdint.h>

#include "data/augment.h"
#include "config/config.h"
#include "data/data.h"
#include "layers/layer.h"
#include "net/memory.h"
#include "optim/optim.h"

struct data_config {
	struct data_source *source; /* owned: the format (source->format) and its own keys */
	const char *format;     /* its name: "mnist", "idx", "folder", ... */
	char **class_names;     /* (n_classes) owned; NULL: the classes are numbers */
	int n_classes;          /* 0: not known until the data is loaded */
	int validation;         /* training samples held out for validation */
	long n_images;          /* all splits, when the format could tell (0: not yet) */
	struct shape shape;     /* a fixed-size format's samples, checked against input (c = 0: any, or not yet) */
	bool standardize;       /* normalize: standard, (v - mean) / std in byte units */
	bool have_stats;        /* mean and std given (or recorded after computing them) */
	int n_stats;            /* values in mean and std: 1 (every channel) or the input's channels */
	double mean[DATA_MAX_CHANNELS], std[DATA_MAX_CHANNELS];
	struct cnn_loc stats_loc; /* where mean was given */
	struct cfg_node *map;   /* the `data` mapping, where computed stats and classes are recorded */
};

struct train_config {
	int epochs, batch;
	int threads;            /* resolved: the config's 0 means all cores */
	int checkpoint_every;   /* also save last.ckpt every this many batches; 0: at epoch ends only */
	struct augment_config augment; /* applied to training batches only */
	int patience;           /* early stopping: epochs without a better validation accuracy; 0: off */
	struct cnn_loc patience_loc; /* train.early_stopping in the config, for messages */
	bool test_best;         /* evaluate: best (the best validation epoch's weights) or last */
};

struct model_config {
	const char *name;
	uint64_t seed;
	struct shape input;
	struct data_config data;
	const char *loss;       /* "softmax_cross_entropy" */
	double label_smoothing; /* loss.label_smoothing: training targets (1 - e) onehot + e / classes */
	struct optim_config optim;
	struct train_config train;
	const char *init_from;  /* init.from: a .npz of starting weights; NULL: random */
	struct cnn_loc init_loc;
	int n_layers;
	struct layer **layers;  /* owned until handed to net_create */
	struct cnn_loc input_loc;
	double memory_limit;    /* bytes: limits.memory, default half the machine's */
	struct mem_estimate memory; /* what the network and data will need */
};

/* Reads and checks the whole config. Strings in *out point into doc. */
int model_config_build(struct cfg_doc *doc, struct model_config *out, struct cnn_error *err);

/* Only what a trained model needs: name, input, layers (built and planned
 * as model_config_build does) and the data section's class names and
 * normalisation; nothing about training is read or checked (train, optimizer
 * and memory keep their zero values). For a checkpoint's resolved config. */
int model_config_build_model(struct cfg_doc *doc, struct model_config *c, struct cnn_error *err);

/* Frees what model_config_build made that was not handed on (the layers). */
void model_config_free(struct model_config *c);

#endif
