/* What the runner's commands share: the clock, the output folder, the
 * resolved config as text, batched evaluation, and a network rebuilt from a
 * checkpoint (eval, predict, export). Internal to src/runner. */
#ifndef CNN_RUNNER_COMMON_H
#define CNN_RUNNER_COMMON_H

#include "builder/builder.h"
#include "io/checkpoint.h"
#include "config/config.h"
#include "data/data.h"
#include "metrics/metrics.h"
#include "net/net.h"
#include "report/report.h"
#include "runner/runner.h"

double run_now(void);    /* monotonic seconds */

/* 32 random hex digits and a NUL into id: a run's identity in its
 * checkpoints (from /dev/urandom; the clock and PID where it is missing). */
void run_random_id(char id[33]);

/* Makes sure OpenBLAS's work buffers fit before the work starts: under an
 * address-space limit (ulimit -v) OpenBLAS retries a failed buffer mmap
 * forever. Without a limit it does nothing; with one, it checks that
 * `threads` buffers can be mapped and has each OpenMP thread take its
 * buffer now, or says which limit to raise. */
int run_reserve_blas(int threads, struct cnn_error *err);

/* mkdir -p, then proves the folder takes a file: a run that cannot save its
 * results should fail before the work, not after. */
int run_prepare_out_dir(const char *dir, struct cnn_error *err);

/* Returned (instead of -1) where the mistake is the config's or the command
 * line's: the caller exits with status 2 (CNN_BAD_CONFIG). */
#define RUN_BAD_CONFIG (-2)

/* The class count and names, from the files when the config does not list
 * them (a folder's subfolders), checked against the last layer's output
 * while c still holds the layers. */
int run_resolve_classes(struct model_config *c, struct cnn_error *err);   /* 0, -1 or RUN_BAD_CONFIG */

/* Loads one split through the config's data format (path_override, when
 * not NULL, replaces its data.path: eval --data) and checks its sample
 * shape against the config's input, reporting at `input`. Returns 0, 1 for
 * DATA_VAL when the data has no validation files, -1 when loading failed,
 * or RUN_BAD_CONFIG when the mistake is the config's or the command line's
 * (status 2: the shapes differ, --data for a format that cannot take it). */
int run_load_split(const struct model_config *c, enum data_split split, const char *path_override,
                   bool quiet, struct dataset *out, struct cnn_error *err);

/* The tree as YAML (cfg_write_yaml), malloc'd; NULL when out of memory. */
char *run_yaml_text(const struct cfg_node *n);

/* Buffers for evaluating in batches of net_eval_step(net). */
struct eval_buffers {
	int *idx;       /* (batch) sample indices */
	int *labels;    /* (batch) */
	int *pred;      /* (batch) */
	float *probs;   /* (batch, n_classes) */
};

int eval_buffers_init(struct eval_buffers *b, const struct net *net, struct cnn_error *err);
void eval_buffers_free(struct eval_buffers *b);

/* Mean loss and accuracy of net on d; with cm, also the confusion matrix
 * and (with m) the most confident mistakes. Returns 0, or 1 when a stop
 * signal (checkpointing.h) arrived: it stops between batches, leaving the
 * outputs incomplete. */
int run_evaluate(struct net *net, const struct dataset *d, struct eval_buffers *b,
                  struct confusion *cm, struct mistakes *m, double *loss, double *accuracy);

/* A trained network read back from a checkpoint: the config it holds is
 * parsed and built, the network created and its weights applied. */
struct saved_model {
	struct checkpoint ckpt;
	struct cfg_doc doc;      /* the checkpoint's config */
	struct model_config cfg; /* strings point into doc */
	struct net *net;
};

/* batch and threads: 0 for the config's. Returns CNN_OK or CNN_FAILED (an
 * unreadable or corrupted checkpoint, or a network that does not fit it);
 * on failure *m holds nothing to free. */
int saved_model_open(const char *path, int batch, int threads, struct saved_model *m,
                     struct cnn_error *err);
/* The same with an evaluation network (net_create_eval: the inference
 * plan, no training memory); threads 0: the config's. For net_eval_from
 * (run_evaluate). */
int saved_model_open_eval(const char *path, int threads, struct saved_model *m, struct cnn_error *err);
/* The batch the model was trained with (train.batch, 32 if unrecorded). */
int saved_model_train_batch(struct saved_model *m);
void saved_model_close(struct saved_model *m);

/* Scales d's pixels as the model was trained (data.normalize, with the
 * mean and std its checkpoint recorded). */
int saved_model_normalize(struct saved_model *m, struct dataset *d, struct cnn_error *err);

#endif
