/* The training loop: epochs of shuffled mini-batches, validation after each
 * epoch, checkpoints, a test evaluation at the end, and the run folder.
 *
 * Where training stands lives in struct run (epoch, batch, the partial
 * epoch's sums, the order generator), which is exactly what a checkpoint
 * saves and a resume restores: training that stops and resumes takes the
 * same steps on the same batches as training straight through. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/augment.h"
#include "data/data.h"
#include "metrics/metrics.h"
#include "io/npz.h"
#include "optim/optim.h"
#include "report/report.h"
#include "util/rng.h"
#include "runner/runner.h"

#include "io/fileio.h"
#include "net/net_checkpoint.h"
#include "plot/file.h"
#include "plot/network.h"
#include "runner/checkpointing.h"
#include "runner/common.h"
#include "runner/progress.h"
#include "runner/runfolder.h"
#include "dist/dist.h"

/* Different streams from one seed: weights, the validation split, the order. */
#define SEED_SPLIT   0x5eed0001ULL
#define SEED_SHUFFLE 0x5eed0002ULL

static int put_resolved_config(FILE *f, const void *root, struct cnn_error *err)
{
	(void)err;
	fputs("# The resolved config of this run: the file as given, --set applied, defaults filled in.\n", f);
	cfg_write_yaml(f, root);
	return 0;
}

static int write_resolved_config(const char *dir, const struct cfg_node *root, struct cnn_error *err)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/config.yaml", dir);
	return atomic_write_with(path, put_resolved_config, root, err);
}

/* Everything a run holds, so one function can free it on any path. */
struct run {
	struct model_config cfg;
	const struct run_options *opt;
	struct dataset train, val, test;
	struct net *net;
	struct optim optim;
	struct confusion confusion;
	struct eval_buffers eval;
	struct epoch_record *history; /* (epochs) */
	int *order;             /* (train.n) the current epoch's sample order */
	int *labels;            /* (batch) */
	float *augment_scratch; /* (threads, image plane) when augmenting */
	char out_dir[4096];
	struct run_folder folder; /* the lock on out_dir, held for the run's life */
	bool clear_old;         /* --overwrite: an earlier run's files go when this one starts */
	char carry_best[4200];  /* a resume into a new folder: the best.ckpt to copy along ("": none) */
	char run_id[CHECKPOINT_RUN_ID_LEN + 1]; /* drawn at the start, kept across resumes */
	bool best_known;        /* best_hash is this run's best.ckpt's (false after an old checkpoint) */
	uint64_t best_hash;
	char *config_text;      /* the resolved config, saved in checkpoints */
	/* report: per-batch losses, confident mistakes, --verbose times */
	float *batch_loss;      /* (epochs * batches) */
	struct mistakes mistakes;
	double *layer_seconds;  /* (2 * n_layers) when --verbose, else NULL */

	/* Where training stands: what a checkpoint holds. */
	int batches;            /* per epoch */
	int epoch;              /* epochs completed */
	int batch;              /* batches completed of epoch `epoch + 1` */
	double loss_sum;        /* over those batches */
	long long correct, seen;
	double train_seconds;   /* training steps only, before this segment */
	double segment_start;   /* when the current stretch of steps began */
	double best_val_accuracy; /* NaN: none yet */
	int best_epoch;
	struct rng order_rng;
	long steps_here;        /* steps taken in this call (stop_after_steps) */
	int stop;               /* the agreed stop request: a signal, 1 (stop_after_steps), 0 */
	struct dist *dist;      /* the ranks (opt->dist); NULL: one process */
	bool writer;            /* rank 0 (or the only process): prints and writes */
};

static void run_free(struct run *r)
{
	run_folder_close(&r->folder);
	model_config_free(&r->cfg);
	dataset_free(&r->train);
	dataset_free(&r->val);
	dataset_free(&r->test);
	net_free(r->net);
	optim_free(&r->optim);
	confusion_free(&r->confusion);
	eval_buffers_free(&r->eval);
	free(r->history);
	free(r->order);
	free(r->labels);
	free(r->augment_scratch);
	free(r->config_text);
	free(r->batch_loss);
	mistakes_free(&r->mistakes);
	free(r->layer_seconds);
}

static int load_data(struct run *r, struct cnn_error *err)
{
	const struct data_config *d = &r->cfg.data;
	bool quiet = r->opt->quiet;
	int rc = run_resolve_classes(&r->cfg, err), test;
	if (rc == 0)
		rc = run_load_split(&r->cfg, DATA_TRAIN, NULL, quiet, &r->train, err);
	if (rc == 0)
		rc = run_load_split(&r->cfg, DATA_VAL, NULL, quiet, &r->val, err);
	if (rc >= 0 && (test = run_load_split(&r->cfg, DATA_TEST, NULL, quiet, &r->test, err)))
		rc = test;
	if (rc < 0)
		return rc == RUN_BAD_CONFIG ? CNN_BAD_CONFIG : -1;
	/* Mistakes of the config that only the data reveals: status 2, at the key. */
	if (rc == 0 && d->validation > 0) {
		cnn_errorf(err, cfg_key_loc(d->map, "validation"), "data: 'validation' holds out "
		           "training images, but the data has its own validation images; set it to 0");
		return CNN_BAD_CONFIG;
	}
	if (rc == 1 && d->validation >= r->train.n) {
		cnn_errorf(err, cfg_key_loc(d->map, "validation"), "data: 'validation' (%d) must be smaller "
		           "than the %d training samples", d->validation, r->train.n);
		return CNN_BAD_CONFIG;
	}
	if (r->cfg.train.patience && rc == 1 && d->validation == 0) {
		cnn_errorf(err, r->cfg.train.patience_loc, "train: early_stopping watches the validation "
		           "accuracy, and this run has no validation set (data.validation is 0): it could "
		           "never stop; hold out images with data.validation, or remove early_stopping");
		return CNN_BAD_CONFIG;
	}
	if (rc == 1 && d->validation > 0) {
		struct rng rng;
		int *perm = malloc((size_t)r->train.n * sizeof *perm);
		if (!perm)
			return cnn_errorf_plain(err, "out of memory");
		for (int i = 0; i < r->train.n; i++)
			perm[i] = i;
		rng_seed(&rng, r->cfg.seed ^ SEED_SPLIT);
		rng_shuffle(&rng, perm, r->train.n);
		rc = dataset_split(&r->train, perm, d->validation, &r->val, err);
		free(perm);
		if (rc)
			return -1;
	}
	run_record_classes(&r->cfg.data);
	run_normalize(&r->cfg.data, &r->train, &r->val, &r->test);
	return 0;
}

static int nonfinite_error(struct run *r, int epoch, int batch, int count, double loss,
                           struct cnn_error *err)
{
	char what[96];
	const struct layer *l = net_diagnose_nonfinite(r->net, count, what, sizeof what);
	struct cnn_loc at = l ? l->loc : r->cfg.input_loc;
	if (dist_parallel(r->dist)) {
		/* Every rank sees the same loss but holds only its own samples'
		 * activations: the lowest rank that found the culprit prints. */
		struct cnn_error scratch;
		bool found = strncmp(what, "the loss", 8) != 0;
		dist_agree(r->dist, found ? CNN_FAILED : CNN_OK, &scratch);
	}
	return cnn_errorf(err, at, "epoch %d, batch %d: the loss is %s, first seen in %s; training stopped "
	                  "before saving these weights (the checkpoints in %s, if any, are from before). "
	                  "Try a lower optimizer.lr (%g at this step)",
	                  epoch, batch, isnan(loss) ? "NaN" : "infinite", what, r->out_dir, r->optim.cfg.lr);
}

/* ------------------------------------------------------------------ */
/* Checkpoints                                                          */

static int save_checkpoint_here(struct run *r, const char *name, struct cnn_error *err)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", r->out_dir, name);
	struct checkpoint c = {
		.config_text = r->config_text,
		.epoch = r->epoch, .batch = r->batch,
		.loss_sum = r->loss_sum, .correct = r->correct, .seen = r->seen,
		.train_seconds = r->train_seconds + (run_now() - r->segment_start),
		.best_val_accuracy = r->best_val_accuracy, .best_epoch = r->best_epoch,
		.rng = r->order_rng,
		.order = r->order, .n_order = r->train.n,
		.history = r->history, .n_history = r->epoch,
		.batch_loss = r->batch_loss, .n_batch_loss = r->epoch * r->batches + r->batch,
		.prov = { .present = true, .best_epoch = r->best_known ? r->best_epoch : 0,
		          .best_hash = r->best_hash },
	};
	memcpy(c.prov.run_id, r->run_id, sizeof c.prov.run_id);
	return checkpoint_save(path, r->net, &r->optim, &c, err);
}

/* Rank 0 saves; every rank calls this at the same point and learns
 * whether it worked, so none trains on after a failed save. */
static int save_checkpoint(struct run *r, const char *name, struct cnn_error *err)
{
	int rc = r->writer && save_checkpoint_here(r, name, err) ? CNN_FAILED : CNN_OK;
	return dist_agree(r->dist, rc, err) ? -1 : 0;
}

/* A checkpoint's counters must describe this run's data and epochs. */
static int check_progress(const struct run *r, const struct checkpoint *c, struct cnn_error *err)
{
	struct cnn_loc at = { c->path, 0, 0 };
	if (c->n_order != r->train.n)
		return cnn_errorf(err, at, "the checkpoint's data order covers %d training samples, this "
		                  "config's data has %d; resume with the same data", c->n_order, r->train.n);
	/* batch == batches: the epoch was trained, its validation was stopped. */
	if (c->epoch < 0 || c->batch < 0 || c->batch > r->batches || c->n_history != c->epoch ||
	    c->n_batch_loss != c->epoch * r->batches + c->batch)
		return cnn_errorf(err, at, "the checkpoint's counters do not fit this run (epoch %d, batch %d "
		                  "of %d, %d history rows, %d batch losses)", c->epoch, c->batch, r->batches,
		                  c->n_history, c->n_batch_loss);
	for (int i = 0; i < c->n_order; i++)
		if (c->order[i] < 0 || c->order[i] >= r->train.n)
			return cnn_errorf(err, at, "the checkpoint's data order holds %d, outside 0..%d",
			                  c->order[i], r->train.n - 1);
	return 0;
}

/* "dir" of "dir/name" into buf ("." for a bare name). */
static void folder_of(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	if (slash == path)
		snprintf(buf, len, "/");
	else if (slash)
		snprintf(buf, len, "%.*s", (int)(slash - path), path);
	else
		snprintf(buf, len, ".");
}

/* The best.ckpt beside the checkpoint resumed must be the one it records
 * (run id, epoch, weights): the final test loads it. One saved before a
 * last.ckpt that then failed (the same run, a later epoch) is rewritten by
 * the epochs ahead. A resume into another folder copies it along. */
static int check_resume_best(struct run *r, const struct checkpoint *c, struct cnn_error *err)
{
	char dir[4096], path[4200], buf[sizeof err->msg];
	struct checkpoint best;
	struct cnn_error inner = { 0 };
	if (!c->prov.present || c->prov.best_epoch <= 0)
		return 0;
	folder_of(c->path, dir, sizeof dir);
	snprintf(path, sizeof path, "%s/best.ckpt", dir);
	if (checkpoint_load(path, &best, &inner)) {
		if (!r->cfg.train.test_best)
			return 0;
		return cnn_errorf(err, (struct cnn_loc){ c->path, 0, 0 }, "this run's best weights are epoch %d's, "
		                  "but its best.ckpt cannot be used (%s); the final test needs it: put it back, or "
		                  "test the last weights with --set train.evaluate=last", c->prov.best_epoch,
		                  cnn_error_str(&inner, buf, sizeof buf));
	}
	int rc = checkpoint_check_best(&best, &c->prov, &inner);
	bool ahead = best.prov.present && !strcmp(best.prov.run_id, c->prov.run_id) && best.epoch > c->epoch;
	checkpoint_free(&best);
	if (rc && (ahead || !r->cfg.train.test_best))
		return 0;
	if (rc)
		return cnn_errorf(err, (struct cnn_loc){ c->path, 0, 0 }, "does not go with the best.ckpt beside it: "
		                  "%s; resuming needs the best.ckpt this run saved (or --set train.evaluate=last)",
		                  cnn_error_str(&inner, buf, sizeof buf));
	if (!file_same(dir, r->out_dir))
		snprintf(r->carry_best, sizeof r->carry_best, "%s", path);
	return 0;
}

/* Restores everything training left in the checkpoint. Returns a status. */
static int resume(struct run *r, struct cfg_doc *doc, const char *path, struct cnn_error *err)
{
	struct checkpoint c;
	int status = CNN_BAD_CONFIG;
	if (checkpoint_load(path, &c, err))
		return CNN_FAILED;
	if (resume_check_config(&c, doc->root, err))
		goto out;
	if (c.epoch > r->cfg.train.epochs || (c.epoch == r->cfg.train.epochs && c.batch > 0)) {
		cnn_errorf(err, (struct cnn_loc){ c.path, 0, 0 }, "the checkpoint has trained %d epoch%s%s, "
		           "more than train.epochs %d; raise it (--epochs N) to train on, or evaluate "
		           "it with `cnnrun eval %s`", c.epoch, c.epoch == 1 ? "" : "s",
		           c.batch ? " and part of the next" : "", r->cfg.train.epochs, c.path);
		goto out;
	}
	if (checkpoint_apply(&c, r->net, &r->optim, err))
		goto out;
	status = CNN_FAILED;
	if (check_progress(r, &c, err))
		goto out;
	r->epoch = c.epoch;
	r->batch = c.batch;
	r->loss_sum = c.loss_sum;
	r->correct = c.correct;
	r->seen = c.seen;
	r->train_seconds = c.train_seconds;
	r->best_val_accuracy = c.best_val_accuracy;
	r->best_epoch = c.best_epoch;
	r->order_rng = c.rng;
	memcpy(r->order, c.order, (size_t)c.n_order * sizeof *r->order);
	memcpy(r->history, c.history, (size_t)c.n_history * sizeof *r->history);
	memcpy(r->batch_loss, c.batch_loss, (size_t)c.n_batch_loss * sizeof *r->batch_loss);
	/* The run goes on under its id; an older checkpoint without one gets
	 * the id drawn in setup, and its best.ckpt cannot be matched. */
	if (c.prov.present) {
		memcpy(r->run_id, c.prov.run_id, sizeof r->run_id);
		r->best_known = c.prov.best_epoch > 0;
		r->best_hash = c.prov.best_hash;
	}
	if (check_resume_best(r, &c, err))
		goto out;
	status = CNN_OK;
out:
	checkpoint_free(&c);
	return status;
}

/* ------------------------------------------------------------------ */
/* Training                                                             */

/* Whether to stop now: a signal or stop_after_steps on any rank. Every rank
 * asks at the same batch (a small all-reduce), so all stop at one batch
 * however the launcher delivered the signal; r->stop keeps the answer. */
static bool stop_requested(struct run *r)
{
	int mine = stop_signal_pending();
	if (!mine && r->opt->stop_after_steps > 0 && r->steps_here >= r->opt->stop_after_steps)
		mine = 1;
	r->stop = dist_parallel(r->dist) ? r->dist->ops->max_int(r->dist, mine) : mine;
	return r->stop != 0;
}

/* Once per epoch: every rank must hold rank 0's weights and optimizer state. */
static int check_ranks_agree(const struct run *r, struct cnn_error *err)
{
	if (!dist_parallel(r->dist))
		return 0;
	uint64_t sum = dist_checksum(r->net->params, r->net->n_params * sizeof *r->net->params) ^
	               dist_checksum(r->optim.state, (size_t)r->optim.ops->n_states * r->optim.n *
	                                              sizeof *r->optim.state);
	char what[64];
	snprintf(what, sizeof what, "weights or optimizer state after epoch %d", r->epoch);
	return dist_check_same(r->dist, sum, what, err);
}

/* Validation, the epoch's record, and the epoch's checkpoints. */
static int end_epoch(struct run *r, struct progress *p, double seconds, long long images,
                     struct cnn_error *err)
{
	struct epoch_record *rec = &r->history[r->epoch];
	double start = run_now();
	rec->epoch = r->epoch + 1;
	rec->loss = r->loss_sum / (double)r->seen;
	rec->accuracy = (double)r->correct / (double)r->seen;
	/* A resume after a stop in validation trains no batch: the average
	 * speed so far stands in for the epoch's. */
	rec->images_per_second = images ? (double)images / seconds
	                                : (double)r->train.n * (r->epoch + 1) / r->train_seconds;
	rec->val_loss = rec->val_accuracy = NAN;
	/* Stopped in validation: the trained epoch is saved (batch == batches)
	 * and a resume validates it again. */
	if (r->opt->stop_in_eval == 1 && r->epoch == 0)
		raise(SIGTERM);
	if (r->val.n &&
	    run_evaluate(r->net, &r->val, &r->eval, NULL, NULL, &rec->val_loss, &rec->val_accuracy))
		return save_checkpoint(r, "last.ckpt", err) ? -1 : 1;
	rec->seconds = seconds + (run_now() - start);
	progress_epoch_end(p, rec);
	if (r->layer_seconds)
		progress_layer_times(p, r->net, r->layer_seconds);

	bool improved = r->val.n && (isnan(r->best_val_accuracy) || rec->val_accuracy > r->best_val_accuracy);
	if (improved) {
		r->best_val_accuracy = rec->val_accuracy;
		r->best_epoch = rec->epoch;
	}
	r->epoch++;
	r->batch = 0;
	r->loss_sum = 0;
	r->correct = r->seen = 0;
	r->segment_start = run_now();
	if (check_ranks_agree(r, err))
		return -1;
	/* best.ckpt first, then the last.ckpt that records it: a failure
	 * between the two leaves a last.ckpt whose best is still on disk. */
	if (improved) {
		r->best_hash = checkpoint_net_hash(r->net);
		r->best_known = true;
		if (save_checkpoint(r, "best.ckpt", err))
			return -1;
	}
	return save_checkpoint(r, "last.ckpt", err) ? -1 : 0;
}

/* One training batch, as each thread of the step loads its share of it
 * (struct net_input): bytes to floats, then the augmentation, whose draws
 * depend on the sample's position in the epoch only. */
struct train_source {
	const struct run *r;
	const int *order;   /* the batch's sample indices */
	int epoch;
	long first;         /* the batch's first position in the epoch */
};

static void fill_train(void *ctx, int thread, int start, int count, float *x, int *labels)
{
	const struct train_source *s = ctx;
	const struct run *r = s->r;
	const struct augment_config *aug = &r->cfg.train.augment;

	dataset_batch(&r->train, s->order + start, count, x, labels);
	if (aug->enabled)
		augment_images(aug, x, count, r->train.shape, r->cfg.seed, s->epoch, s->first + start,
		               r->augment_scratch + (size_t)thread * r->train.shape.h * r->train.shape.w);
}

/* Trains epoch r->epoch + 1 from batch r->batch. Returns 0 when the epoch
 * ended, 1 when it stopped early on request (last.ckpt saved), -1 on error. */
static int train_epoch(struct run *r, struct progress *p, struct cnn_error *err)
{
	struct net *net = r->net;
	int n = r->train.n, epoch = r->epoch + 1, every = r->cfg.train.checkpoint_every;
	long long images = 0;
	if (r->batch == 0) {
		for (int i = 0; i < n; i++)
			r->order[i] = i;
		rng_shuffle(&r->order_rng, r->order, n);
	}
	if (r->layer_seconds)
		memset(r->layer_seconds, 0, 2 * (size_t)net->n_layers * sizeof *r->layer_seconds);
	progress_epoch_start(p, epoch, r->batches);
	r->segment_start = run_now();
	for (int b = r->batch; b < r->batches; b++) {
		int first = b * net->batch;
		int count = n - first < net->batch ? n - first : net->batch;
		double batch_loss;
		int batch_correct;
		struct train_source source = { r, r->order + first, epoch, first };
		struct net_input in = { fill_train, &source };
		long step = (long)(epoch - 1) * r->batches + b;
		r->optim.cfg.lr = lr_at(&r->cfg.optim, step, r->batches, (long)r->batches * r->cfg.train.epochs);
		net->step = step;   /* dropout masks: a function of (seed, step), so a resume repeats them */
		net_train_step_from(net, &in, r->labels, count, &batch_loss, &batch_correct);
		if (!isfinite(batch_loss))
			return nonfinite_error(r, epoch, b + 1, count, batch_loss, err);
		optim_step(&r->optim, net->params, net->grads);
		r->batch_loss[step] = (float)(batch_loss / count); /* report: batches.csv */
		r->batch = b + 1;
		r->loss_sum += batch_loss;
		r->correct += batch_correct;
		r->seen += count;
		r->steps_here++;
		images += count;
		progress_batch(p, b + 1, first + count, r->loss_sum / (double)r->seen,
		               (double)r->correct / (double)r->seen);
		/* The epoch's last batch: its end saves and stops, below and in run_train. */
		if (b + 1 == r->batches)
			break;
		if (stop_requested(r)) {
			if (p->tty && !p->quiet)
				fputc('\n', stderr);
			return save_checkpoint(r, "last.ckpt", err) ? -1 : 1;
		}
		if (every > 0 && (step + 1) % every == 0 && save_checkpoint(r, "last.ckpt", err))
			return -1;
	}
	double seconds = run_now() - r->segment_start;
	r->train_seconds += seconds;
	r->segment_start = run_now();
	return end_epoch(r, p, seconds, images, err);
}

/* net_import_npz's message, pointed at the config key that named the file. */
static int init_error(const struct run *r, struct cnn_error *err)
{
	char buf[sizeof err->msg];
	struct cnn_error inner = *err;
	return cnn_errorf(err, r->cfg.init_loc, "init.from: %s", cnn_error_str(&inner, buf, sizeof buf));
}

/* A folder where another run lives is never taken over silently: refused
 * (status 2) unless --overwrite, whose clearing waits until this run has
 * really started (start_run), so a run that fails before leaves it whole.
 * Resuming in the checkpoint's own folder continues that run. */
static int check_earlier_run(struct run *r, const struct run_options *opt, struct cnn_error *err)
{
	char from[4096], held[256];
	if (opt->resume) {
		folder_of(opt->resume, from, sizeof from);
		if (file_same(from, r->out_dir))
			return 0;
	}
	if (!run_folder_holds_run(r->out_dir, held, sizeof held))
		return 0;
	if (!opt->overwrite)
		return cnn_errorf(err, (struct cnn_loc){ r->out_dir, 0, 0 }, "already holds a run (%s), which is "
		                  "kept; choose another folder with --out DIR, or replace that run with --overwrite",
		                  held);
	r->clear_old = true;
	return 0;
}

static int setup(struct run *r, struct cfg_doc *doc, const struct run_options *opt, struct cnn_error *err)
{
	int threads = r->cfg.train.threads; /* the builder resolved 0 to all cores */
	if (opt->out_dir)
		snprintf(r->out_dir, sizeof r->out_dir, "%s", opt->out_dir);
	else if (opt->resume)
		folder_of(opt->resume, r->out_dir, sizeof r->out_dir);
	else
		snprintf(r->out_dir, sizeof r->out_dir, "runs/%s", r->cfg.name);
	/* Rank 0 alone owns the run folder (its lock, the earlier run). */
	if (r->writer) {
		run_random_id(r->run_id);
		if (run_folder_open(r->out_dir, &r->folder, err))
			return -1;
		if (check_earlier_run(r, opt, err))
			return CNN_BAD_CONFIG;
	}
	/* A missing path is named with where the config said it (status 1, as
	 * any missing data), before any file is read. */
	if (cfg_check_paths(r->cfg.data.map, "data", err) ||
	    (r->cfg.init_from && !opt->resume && cfg_check_paths(cfg_peek(doc->root, "init"), "init", err)))
		return -1;
	int rc = load_data(r, err);
	if (rc)
		return rc == CNN_BAD_CONFIG ? CNN_BAD_CONFIG : -1;
	struct layer **layers = r->cfg.layers;
	int n_layers = r->cfg.n_layers;
	r->cfg.layers = NULL;
	r->cfg.n_layers = 0;
	if (net_create(layers, n_layers, r->cfg.input, r->cfg.train.batch, threads, r->cfg.seed, &r->net, err) ||
	    optim_create(&r->optim, &r->cfg.optim, r->net->n_params, r->net->param_tensors,
	                 r->net->n_param_tensors, err))
		return -1;
	r->net->label_smoothing = (float)r->cfg.label_smoothing;
	r->optim.threads = r->net->threads;
	if (net_set_dist(r->net, r->dist, err))
		return -1;
	/* Ranks are placed by the launcher (--bind-to, --map-by), not here. */
	if (!dist_parallel(r->dist))
		net_pin_threads(r->net->threads);
	/* init.from replaces the random weights; a resume replaces both. */
	if (r->cfg.init_from && !opt->resume && net_import_npz(r->net, r->cfg.init_from, err))
		return init_error(r, err);
	r->batches = (r->train.n + r->net->batch - 1) / r->net->batch;
	r->order = malloc((size_t)r->train.n * sizeof *r->order);
	r->labels = malloc((size_t)r->net->batch * sizeof *r->labels);
	if (r->cfg.train.augment.enabled &&
	    !(r->augment_scratch = malloc((size_t)r->net->threads * r->train.shape.h * r->train.shape.w *
	                                  sizeof *r->augment_scratch)))
		return cnn_errorf_plain(err, "out of memory for augmentation");
	r->history = calloc((size_t)r->cfg.train.epochs, sizeof *r->history);
	r->config_text = run_yaml_text(doc->root);
	if (!r->order || !r->labels || !r->history || !r->config_text ||
	    confusion_init(&r->confusion, r->cfg.data.n_classes) || eval_buffers_init(&r->eval, r->net, err))
		return cnn_errorf_plain(err, "out of memory");
	/* report: per-batch losses, mistakes, --verbose times */
	r->batch_loss = malloc((size_t)r->batches * (size_t)r->cfg.train.epochs * sizeof *r->batch_loss);
	if (!r->batch_loss ||
	    mistakes_init(&r->mistakes, MISTAKES_DEFAULT, r->test.shape.c, r->test.shape.h, r->test.shape.w))
		return cnn_errorf_plain(err, "out of memory");
	if (opt->verbose) {
		r->layer_seconds = calloc(2 * (size_t)r->net->n_layers, sizeof *r->layer_seconds);
		if (!r->layer_seconds)
			return cnn_errorf_plain(err, "out of memory");
		r->net->layer_seconds = r->layer_seconds;
	}
	r->best_val_accuracy = NAN;
	rng_seed(&r->order_rng, r->cfg.seed ^ SEED_SHUFFLE);
	return run_reserve_blas(r->net->threads, err);
}

/* network.svg, the picture of the layers, before training starts. */
static int write_network_svg(const char *dir, const struct net *net, struct cnn_error *err)
{
	char path[4200];
	if (plot_join(path, sizeof path, dir, "network.svg", err))
		return -1;
	return atomic_write_with(path, network_svg_write, net, err);
}

/* The run has really started (set up, resumed): only now does an earlier
 * run's folder change. --overwrite clears its files (eval/ included), a
 * resume into a new folder brings its best.ckpt, and config.yaml is
 * written. */
static int start_run(struct run *r, const struct cfg_doc *doc, struct cnn_error *err)
{
	if (r->clear_old && run_folder_clear(r->out_dir, err))
		return -1;
	if (r->carry_best[0]) {
		char path[4200];
		unsigned char *data;
		size_t len;
		snprintf(path, sizeof path, "%s/best.ckpt", r->out_dir);
		if (file_read_all(r->carry_best, (size_t)1 << 40, &data, &len, err))
			return -1;
		int rc = atomic_write(path, data, len, err);
		free(data);
		if (rc)
			return -1;
	}
	return write_resolved_config(r->out_dir, doc->root, err) || write_network_svg(r->out_dir, r->net, err)
	       ? -1 : 0;
}

/* How many images of each class a split holds: count[k] for k < n_classes. */
static void count_classes(const struct dataset *split, long *count)
{
	for (int i = 0; i < split->n; i++)
		count[split->labels[i]]++;
}

/* A split with no image of a class the training images have trains and
 * reports without error, but its figures say nothing about that class: a
 * test row of support 0 (precision, recall and F1 read 0 and pull the macro
 * average down), or a validation accuracy blind to it. Said once, by name. */
static void warn_missing_class(const struct dataset *split, const char *what,
                               const long *trained, const struct run *r, FILE *to)
{
	int n = r->cfg.data.n_classes;
	long count[DATA_MAX_CLASSES] = { 0 };
	char **names = r->cfg.data.class_names;

	if (split->n == 0)
		return;
	count_classes(split, count);
	for (int k = 0; k < n; k++) {
		if (count[k] || !trained[k])
			continue;
		if (names)
			fprintf(to, "cnnrun: warning: the %s images have none of class '%s' (%ld training "
			        "images): its figures there will read 0\n", what, names[k], trained[k]);
		else
			fprintf(to, "cnnrun: warning: the %s images have none of class %d (%ld training "
			        "images): its figures there will read 0\n", what, k, trained[k]);
	}
}

static void warn_missing_classes(const struct run *r, FILE *to)
{
	long trained[DATA_MAX_CLASSES] = { 0 };
	int n = r->cfg.data.n_classes;

	if (n <= 0 || n > DATA_MAX_CLASSES)
		return;
	count_classes(&r->train, trained);
	warn_missing_class(&r->val, "validation", trained, r, to);
	warn_missing_class(&r->test, "test", trained, r, to);
}

static void print_start(const struct run *r, FILE *log)
{
	char ranks[32] = "";
	if (dist_parallel(r->dist))
		snprintf(ranks, sizeof ranks, "%d ranks x ", r->dist->size);
	fprintf(log, "%s: %d training, %d validation, %d test images; batch %d, %s%d thread%s, %s lr %g\n",
	        r->cfg.name, r->train.n, r->val.n, r->test.n, r->net->batch, ranks, r->net->threads,
	        r->net->threads == 1 ? "" : "s", r->cfg.optim.type, r->cfg.optim.lr);
	print_layer_table(log, r->net, r->net->batch);
	if (r->cfg.init_from && !r->opt->resume)
		fprintf(log, "initial weights from %s\n", r->cfg.init_from);
	if (r->opt->resume)
		fprintf(log, "resuming %s at epoch %d, batch %d of %d\n", r->opt->resume, r->epoch + 1,
		        r->batch, r->batches);
	fprintf(log, "checkpoints: %s/last.ckpt after every epoch%s%s\n", r->out_dir,
	        r->cfg.train.checkpoint_every ? " and every train.checkpoint_every batches" : "",
	        r->val.n ? ", best.ckpt at the best validation accuracy"
	                 : "; no best.ckpt, as there is no validation set (data.validation: 0)");
}

/* The command that continues this run exactly: through the run's own
 * config.yaml, which has every --set, --epochs and default of this run
 * applied (the user's config file and flags may differ or be gone). */
static void resume_command(const struct run *r, char *buf, size_t len)
{
	char launch[32] = "";
	if (dist_parallel(r->dist))
		snprintf(launch, sizeof launch, "mpirun -np %d ", r->dist->size);
	snprintf(buf, len, "%scnnrun train %s/config.yaml --resume %s/last.ckpt", launch, r->out_dir, r->out_dir);
}

/* The stop message: where it stopped and the command that continues. */
static int interrupted(const struct run *r, struct cnn_error *err)
{
	char command[2 * sizeof r->out_dir + 80];
	resume_command(r, command, sizeof command);
	cnn_errorf_plain(err, "%s: stopped at epoch %d, batch %d of %d%s and saved %s/last.ckpt; resume with: %s",
	                 stop_signal_word(), r->epoch + (r->batch > 0), r->batch ? r->batch : r->batches,
	                 r->batches, r->batch == r->batches ? " (before its validation)" : "", r->out_dir,
	                 command);
	return CNN_INTERRUPTED;
}

/* Early stopping: `patience` epochs without a better validation accuracy. */
static bool early_stop(const struct run *r, FILE *log)
{
	int patience = r->cfg.train.patience;
	if (!patience || !r->val.n || !r->best_epoch || r->batch || r->epoch - r->best_epoch < patience)
		return false;
	if (log)
		fprintf(log, "early stop after epoch %d: no better validation accuracy for %d epochs "
		        "(best %.4f at epoch %d)\n", r->epoch, patience, r->best_val_accuracy, r->best_epoch);
	return true;
}

/* Puts the best validation epoch's weights (best.ckpt) into the network. */
static int load_best_here(struct run *r, struct cnn_error *err)
{
	char path[4200];
	struct checkpoint c;
	snprintf(path, sizeof path, "%s/best.ckpt", r->out_dir);
	if (checkpoint_load(path, &c, err))
		return -1;
	struct checkpoint_provenance want = { .present = r->best_known, .best_epoch = r->best_epoch,
	                                      .best_hash = r->best_hash };
	memcpy(want.run_id, r->run_id, sizeof want.run_id);
	int rc = checkpoint_check_best(&c, &want, err) || checkpoint_apply(&c, r->net, NULL, err) ? -1 : 0;
	checkpoint_free(&c);
	return rc;
}

/* Rank 0 reads it (it wrote it) and sends the weights to the others. */
static int load_best(struct run *r, struct cnn_error *err)
{
	int rc = r->writer && load_best_here(r, err) ? CNN_FAILED : CNN_OK;
	if (dist_agree(r->dist, rc, err))
		return -1;
	if (dist_parallel(r->dist))
		r->dist->ops->bcast(r->dist, r->net->params, r->net->n_params * sizeof *r->net->params, 0);
	return 0;
}

static int finish(struct run *r, struct cfg_doc *doc, const char *config_path, struct cnn_error *err)
{
	double test_loss, test_accuracy;
	int test_epoch = 0;
	if (r->cfg.train.test_best && r->best_epoch > 0) {
		if (r->best_epoch != r->epoch && load_best(r, err))
			return CNN_FAILED;
		test_epoch = r->best_epoch;
	}
	if (r->opt->stop_in_eval == 2)
		raise(SIGTERM);
	double start = run_now();
	if (run_evaluate(r->net, &r->test, &r->eval, &r->confusion, &r->mistakes, &test_loss, &test_accuracy)) {
		char command[2 * sizeof r->out_dir + 80];
		resume_command(r, command, sizeof command);
		cnn_errorf_plain(err, "%s during the test evaluation: training is complete and saved in %s/last.ckpt; "
		                 "write the results with: %s", stop_signal_word(), r->out_dir, command);
		return CNN_INTERRUPTED;
	}
	double eval_seconds = run_now() - start;
	int epochs = r->epoch; /* fewer than train.epochs after an early stop */
	struct run_result result = {
		.name = r->cfg.name, .config_path = config_path, .config = doc->root,
		.n_train = r->train.n, .n_val = r->val.n, .n_test = r->test.n,
		.n_params = (long)r->net->n_params, .flops_per_image = net_flops(r->net),
		.threads = r->net->threads, .batch = r->net->batch,
		.history = r->history, .n_epochs = epochs,
		.train_seconds = r->train_seconds,
		.train_images_per_second = (double)r->train.n * epochs / r->train_seconds,
		.test_loss = test_loss, .test_accuracy = test_accuracy, .test_epoch = test_epoch,
		.eval_images_per_second = r->test.n / eval_seconds,
		.test_confusion = &r->confusion,
		.class_names = (const char *const *)r->cfg.data.class_names,
		/* report: batches.csv, mistakes.bin and the pictures */
		.batch_loss = r->batch_loss, .batches_per_epoch = r->batches,
		.n_batch_loss = epochs * r->batches,
		.mistakes = &r->mistakes,
	};
	if (!r->writer)
		return dist_agree(r->dist, CNN_OK, err);
	report_print(stdout, &result);
	if (dist_agree(r->dist, report_write_all(r->out_dir, &result, err) ? CNN_FAILED : CNN_OK, err))
		return CNN_FAILED;
	printf("results: %s/{report.md,metrics.json,history.csv,batches.csv,config.yaml}\n", r->out_dir);
	printf("pictures: %s/{loss.svg,accuracy.svg,confusion.svg,mistakes.png,network.svg}\n", r->out_dir);
	/* Only what is there: a resume may have brought no best.ckpt. */
	char path[4200];
	struct stat st;
	snprintf(path, sizeof path, "%s/best.ckpt", r->out_dir);
	bool best = r->best_epoch && stat(path, &st) == 0;
	snprintf(path, sizeof path, "%s/last.ckpt", r->out_dir);
	bool last = stat(path, &st) == 0;
	if (last || best)
		printf("checkpoints: %s/%s%s%s\n", r->out_dir, last ? "last.ckpt" : "", last && best ? ", " : "",
		       best ? "best.ckpt" : "");
	return CNN_OK;
}

/* Across ranks, after setup and resume: rank 0's weights and optimizer
 * state for all (each rank built them from the same seed, or read the
 * same checkpoint, but a rank on another machine's libm could differ in a
 * last bit), and a check that every rank resolved the same run. */
static int join_ranks(struct run *r, struct cnn_error *err)
{
	struct dist *d = r->dist;
	if (!dist_parallel(d))
		return 0;
	d->ops->bcast(d, r->net->params, r->net->n_params * sizeof *r->net->params, 0);
	d->ops->bcast(d, r->optim.state, (size_t)r->optim.ops->n_states * r->optim.n * sizeof *r->optim.state, 0);
	d->ops->bcast(d, &r->optim.t, sizeof r->optim.t, 0);
	long long shape[] = { r->net->threads, r->train.n, r->val.n, r->test.n, r->epoch, r->batch };
	uint64_t sum = dist_checksum(r->config_text, strlen(r->config_text)) ^ dist_checksum(shape, sizeof shape);
	return dist_check_same(d, sum, "config, --threads, data sizes or checkpoint", err);
}

int run_train(struct cfg_doc *doc, const char *config_path, const struct run_options *opt,
              struct cnn_error *err)
{
	struct run r;
	struct stop_signals signals;
	memset(&r, 0, sizeof r);
	r.opt = opt;
	r.dist = opt->dist;
	r.writer = !dist_parallel(r.dist) || r.dist->rank == 0;
	/* Each phase that one rank can fail alone ends with all ranks agreeing
	 * on its status (dist_agree), so that none waits on a rank that left. */
	if (model_config_build(doc, &r.cfg, err))
		return dist_agree(r.dist, CNN_BAD_CONFIG, err);
	r.folder.lock_fd = -1;
	/* Caught from the start: a signal while the data loads stops the run
	 * before it writes anything; a second one ends the process (130). */
	stop_signals_catch(&signals);
	int status = dist_agree(r.dist, CNN_OK, err), rc = 0;
	if (status == CNN_OK) {
		rc = setup(&r, doc, opt, err);
		status = dist_agree(r.dist, !rc ? CNN_OK : rc == CNN_BAD_CONFIG ? CNN_BAD_CONFIG : CNN_FAILED, err);
	}
	if (status == CNN_OK && opt->resume)
		status = dist_agree(r.dist, resume(&r, doc, opt->resume, err), err);
	if (status != CNN_OK)
		goto out;
	if (stop_requested(&r)) {
		cnn_errorf_plain(err, "%s before training started; nothing was written", stop_signal_word());
		status = CNN_INTERRUPTED;
		goto out;
	}
	status = CNN_FAILED;
	if (join_ranks(&r, err) ||
	    dist_agree(r.dist, r.writer && start_run(&r, doc, err) ? CNN_FAILED : CNN_OK, err))
		goto out;
	FILE *log = opt->quiet || !r.writer ? NULL : stdout;
	if (log)
		print_start(&r, log);
	if (r.writer)
		warn_missing_classes(&r, stderr);
	struct progress progress;
	progress_init(&progress, r.cfg.train.epochs, opt->quiet || !r.writer, opt->verbose);
	while (r.epoch < r.cfg.train.epochs) {
		if (early_stop(&r, log))
			break;
		rc = train_epoch(&r, &progress, err);
		if (rc == 0 && r.epoch < r.cfg.train.epochs && stop_requested(&r))
			rc = 1;
		if (rc) {
			if (rc > 0)
				status = interrupted(&r, err);
			goto out;
		}
	}
	/* Still caught: a stop in the test evaluation ends it at the next
	 * batch, and resuming last.ckpt (the finished training) redoes it. */
	status = finish(&r, doc, config_path, err);
out:
	stop_signals_restore(&signals);
	run_free(&r);
	return status;
}
