/* Checkpoints: everything needed to continue a run bit for bit, in one file.
 *
 * A checkpoint holds the resolved config (YAML text), every parameter tensor
 * by name and shape, the optimizer's step count and state arrays, the
 * data-order generator and the current epoch's sample order, the epoch and
 * batch counters with the partial epoch's running sums, the best validation
 * accuracy, and the history of completed epochs. The byte layout is in
 * docs/formats.md: little-endian, written field by field, sections tagged so
 * a later version can add some, and a CRC-32 over everything before it.
 *
 * Files are written atomically (temporary file, fsync, rename, fsync of the
 * folder): a crash while saving leaves the previous checkpoint in place.
 *
 * This file knows bytes, sections and flat arrays only: a network's
 * parameters reach it as one flat array with the names, shapes and offsets
 * of its tensors (struct net_param), an optimizer's state as flat arrays.
 * Saving from and applying to a struct net and struct optim is
 * src/net/net_checkpoint.h's.
 *
 * Typical use (with net/net_checkpoint.h):
 *   save:   fill a struct checkpoint's caller fields, checkpoint_save()
 *   resume: checkpoint_load(); build the net from c.config_text (or the
 *           user's config); checkpoint_apply(); continue from c.epoch/c.batch;
 *           checkpoint_free() */
#ifndef CNN_CHECKPOINT_H
#define CNN_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "io/history.h"
#include "util/params.h"
#include "util/rng.h"

#define CHECKPOINT_VERSION 1
#define CHECKPOINT_MAX_NAME 47   /* longest tensor name (struct net_param's name[48]) */
#define CHECKPOINT_MAX_TYPE 15   /* longest optimizer type name */

/* One parameter tensor as stored. */
struct checkpoint_tensor {
	char name[CHECKPOINT_MAX_NAME + 1]; /* "conv1.weight" */
	int ndim;                           /* 1..4 */
	int dims[4];                        /* PyTorch layout, as struct param_spec */
	size_t n;                           /* product of dims */
	float *data;                        /* (n) */
};

/* Where a checkpoint came from (the PROV section). Checkpoints written
 * before it existed load with present == false and cannot be matched. */
#define CHECKPOINT_RUN_ID_LEN 32
struct checkpoint_provenance {
	bool present;
	char run_id[CHECKPOINT_RUN_ID_LEN + 1]; /* 32 hex digits drawn at random when a run starts */
	uint64_t weights_hash;      /* checkpoint_weights_hash of its parameters */
	int best_epoch;             /* the best.ckpt that goes with it: its epoch (0: none) */
	uint64_t best_hash;         /* and its weights_hash */
};

struct checkpoint {
	/* Run state: set by the caller for checkpoint_write (pointers are only
	 * read), filled and owned by checkpoint_load. */
	char *config_text;          /* the resolved config, YAML, NUL-terminated */
	int epoch;                  /* epochs completed */
	int batch;                  /* batches completed of epoch `epoch + 1`; 0 at an epoch's end */
	double loss_sum;            /* training loss summed over those batches */
	long long correct, seen;    /* training samples classified right, and seen, in them */
	double train_seconds;       /* training wall time so far */
	double best_val_accuracy;   /* NaN while there is none */
	int best_epoch;             /* 1-based; 0 while there is none */
	struct rng rng;             /* the data-order generator */
	int *order;                 /* (n_order) e.g. the current epoch's sample order */
	int n_order;
	struct epoch_record *history; /* (n_history) the completed epochs */
	int n_history;
	float *batch_loss;          /* (n_batch_loss) each batch's mean training loss so far */
	int n_batch_loss;
	/* checkpoint_write writes it when present, computing weights_hash from
	 * the parameters; checkpoint_load fills it and checks the hash. */
	struct checkpoint_provenance prov;

	/* Filled by checkpoint_load (checkpoint_write takes the tensors and the
	 * optimizer state from a struct checkpoint_arrays instead). */
	char *path;                 /* the file it came from, for messages */
	int prov_epoch;             /* PROV's epoch, checked against PROG's */
	int n_tensors;
	struct checkpoint_tensor *tensors;
	char optim_type[CHECKPOINT_MAX_TYPE + 1]; /* "" if saved without an optimizer */
	long optim_t;               /* steps taken */
	int optim_n_states;
	size_t optim_n;             /* floats per state array */
	float *optim_state;         /* (optim_n_states, optim_n) */
};

/* What checkpoint_write stores of a network and its optimizer (pointers
 * are only read). */
struct checkpoint_arrays {
	const struct net_param *tensors; /* (n_tensors) names, shapes, offsets into params */
	int n_tensors;
	const float *params;        /* the flat parameter array */
	const char *optim_type;     /* "adam", ...; NULL: no optimizer section */
	long optim_t;               /* steps taken */
	int optim_n_states;
	size_t optim_n;             /* floats per state array */
	const float *optim_state;   /* (optim_n_states, optim_n) */
};

/* Writes a's parameters and optimizer state and state's run fields to
 * path, atomically; the PROV section (when state->prov.present) records
 * the parameters' checkpoint_params_hash. */
int checkpoint_write(const char *path, const struct checkpoint_arrays *a,
                     const struct checkpoint *state, struct cnn_error *err);

/* Reads and verifies a checkpoint into *out (zeroed first; on failure it
 * holds nothing to free). Refused, with messages naming the file: a file
 * that is not a checkpoint ("not a cnnrun checkpoint"), a newer format
 * version, a truncated file, a CRC mismatch ("corrupted: CRC mismatch"),
 * and sizes that do not fit in the file. */
int checkpoint_load(const char *path, struct checkpoint *out, struct cnn_error *err);

/* checkpoint_load for a model that only predicts: every check the same,
 * but the optimizer's state, two thirds of an Adam checkpoint, is left
 * unread (optim_state NULL; its type and sizes are filled). */
int checkpoint_load_model(const char *path, struct checkpoint *out, struct cnn_error *err);

/* Whether c's tensors are tensors[0..n), in order, by name and shape; if
 * not, the message says what differs ("checkpoint has conv1.weight
 * 8x1x5x5, the config makes 4x1x5x5"). */
int checkpoint_check_params(const struct checkpoint *c, const struct net_param *tensors, int n,
                            struct cnn_error *err);
/* Whether c holds optimizer state of this type and size (n_states arrays
 * of n floats); if not, the message says what differs. */
int checkpoint_check_optim(const struct checkpoint *c, const char *type, int n_states, size_t n,
                           struct cnn_error *err);
/* Copies c's tensors into params at tensors[i].offset; only after
 * checkpoint_check_params has accepted them. */
void checkpoint_copy_params(const struct checkpoint *c, const struct net_param *tensors, float *params);

/* Frees what checkpoint_load allocated (not what a caller set for saving). */
void checkpoint_free(struct checkpoint *c);

/* FNV-1a (64 bits) over the parameters' little-endian bytes, tensor by
 * tensor (tensors[0..n) in the flat array params): what PROV records, so
 * two checkpoints can be matched. */
uint64_t checkpoint_params_hash(const struct net_param *tensors, int n, const float *params);

/* Whether best (a loaded best.ckpt) is the one `want` (a last.ckpt's or a
 * run's record) names: the same run id, epoch and weights. If not, err says
 * what each holds, naming best's file. Without provenance in either, there
 * is nothing to check: it matches. */
int checkpoint_check_best(const struct checkpoint *best, const struct checkpoint_provenance *want,
                          struct cnn_error *err);

/* "8x1x5x5" into buf; returns buf. */
const char *checkpoint_dims_str(const int *dims, int ndim, char *buf, size_t len);

#endif
