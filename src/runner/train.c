/* The training loop: epochs of shuffled mini-batches, validation after each
 * epoch, a test evaluation at the end, and the run folder. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cnn/data.h"
#include "cnn/metrics.h"
#include "cnn/optim.h"
#include "cnn/report.h"
#include "cnn/rng.h"
#include "cnn/runner.h"

#include "runner/progress.h"

/* Different streams from one seed: weights, the validation split, the order. */
#define SEED_SPLIT   0x5eed0001ULL
#define SEED_SHUFFLE 0x5eed0002ULL

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* mkdir -p, then proves the folder takes a file: a run that cannot save its
 * results should fail before training, not after. */
static int prepare_out_dir(const char *dir, struct cnn_error *err)
{
	char path[4096];
	size_t len = strlen(dir);
	if (len == 0 || len >= sizeof path - 32)
		return cnn_errorf_plain(err, "output folder name '%s' is empty or too long", dir);
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0777) && errno != EEXIST)
			return cnn_errorf(err, (struct cnn_loc){ dir, 0, 0 }, "cannot create folder '%s': %s", path, strerror(errno));
		*p = '/';
	}
	if (mkdir(path, 0777) && errno != EEXIST)
		return cnn_errorf(err, (struct cnn_loc){ dir, 0, 0 }, "cannot create the output folder: %s", strerror(errno));
	snprintf(path + len, sizeof path - len, "/.write-test");
	FILE *f = fopen(path, "w");
	if (!f)
		return cnn_errorf(err, (struct cnn_loc){ dir, 0, 0 }, "cannot write into the output folder: %s", strerror(errno));
	fclose(f);
	unlink(path);
	return 0;
}

static int write_resolved_config(const char *dir, const struct cfg_node *root, struct cnn_error *err)
{
	char path[4096], tmp[4200];
	snprintf(path, sizeof path, "%s/config.yaml", dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return cnn_errorf(err, (struct cnn_loc){ path, 0, 0 }, "cannot write: %s", strerror(errno));
	fputs("# The resolved config of this run: the file as given, --set applied, defaults filled in.\n", f);
	cfg_write_yaml(f, root);
	if (fflush(f) || ferror(f) || fsync(fileno(f))) {
		int e = errno;
		fclose(f);
		unlink(tmp);
		return cnn_errorf(err, (struct cnn_loc){ path, 0, 0 }, "cannot write: %s", strerror(e));
	}
	fclose(f);
	if (rename(tmp, path))
		return cnn_errorf(err, (struct cnn_loc){ path, 0, 0 }, "cannot rename into place: %s", strerror(errno));
	return 0;
}

/* Everything a run holds, so one function can free it on any path. */
struct run {
	struct model_config cfg;
	struct dataset train, val, test;
	struct net *net;
	struct optim optim;
	struct confusion confusion;
	struct epoch_record *history;
	int *order, *labels, *pred;
	char out_dir[4096];
	/* report: per-batch losses, test probabilities, confident mistakes, --verbose times */
	float *batch_loss;      /* (epochs * batches per epoch) */
	float *probs;           /* (batch, n_classes) */
	struct mistakes mistakes;
	double *layer_seconds;  /* (2 * n_layers) when --verbose, else NULL */
};

static void run_free(struct run *r)
{
	model_config_free(&r->cfg);
	dataset_free(&r->train);
	dataset_free(&r->val);
	dataset_free(&r->test);
	net_free(r->net);
	optim_free(&r->optim);
	confusion_free(&r->confusion);
	free(r->history);
	free(r->order);
	free(r->labels);
	free(r->pred);
	free(r->batch_loss);
	free(r->probs);
	mistakes_free(&r->mistakes);
	free(r->layer_seconds);
}

static int load_data(struct run *r, struct cnn_error *err)
{
	const struct data_config *d = &r->cfg.data;
	if (mnist_load(d->path, "train", &r->train, err) || mnist_load(d->path, "test", &r->test, err))
		return -1;
	if (d->validation >= r->train.n)
		return cnn_errorf_plain(err, "data.validation (%d) must be smaller than the %d training samples",
		                        d->validation, r->train.n);
	if (d->validation > 0) {
		struct rng rng;
		int *perm = malloc((size_t)r->train.n * sizeof *perm);
		if (!perm)
			return cnn_errorf_plain(err, "out of memory");
		for (int i = 0; i < r->train.n; i++)
			perm[i] = i;
		rng_seed(&rng, r->cfg.seed ^ SEED_SPLIT);
		rng_shuffle(&rng, perm, r->train.n);
		int rc = dataset_split(&r->train, perm, d->validation, &r->val, err);
		free(perm);
		if (rc)
			return -1;
	}
	return 0;
}

/* Evaluates `d` in batches: mean loss and accuracy, and the confusion
 * matrix and most confident mistakes if a confusion matrix is given. */
static void evaluate(struct run *r, const struct dataset *d, struct confusion *cm,
                     double *loss, double *accuracy)
{
	struct net *net = r->net;
	double loss_sum = 0;
	long correct = 0;
	for (int i = 0; i < d->n; i += net->batch) {
		int n = d->n - i < net->batch ? d->n - i : net->batch;
		for (int j = 0; j < n; j++)
			r->order[j] = i + j;
		dataset_batch(d, r->order, n, net->x, r->labels);
		double batch_loss;
		net_eval(net, r->labels, n, &batch_loss, r->pred, cm ? r->probs : NULL);
		loss_sum += batch_loss;
		for (int j = 0; j < n; j++) {
			correct += r->pred[j] == r->labels[j];
			if (cm)
				confusion_add(cm, r->labels[j], r->pred[j]);
			/* report: mistakes.png */
			if (cm && r->pred[j] != r->labels[j])
				mistakes_offer(&r->mistakes, i + j, r->labels[j], r->pred[j],
				               r->probs[(size_t)j * (size_t)net->n_classes + (size_t)r->pred[j]],
				               d->images + (size_t)(i + j) * shape_size(d->shape));
		}
	}
	*loss = d->n ? loss_sum / d->n : NAN;
	*accuracy = d->n ? (double)correct / d->n : NAN;
}

static int nonfinite_error(struct run *r, int epoch, int batch, int count, double loss,
                           struct cnn_error *err)
{
	char what[96];
	const struct layer *l = net_diagnose_nonfinite(r->net, count, what, sizeof what);
	struct cnn_loc at = l ? l->loc : r->cfg.input_loc;
	return cnn_errorf(err, at, "epoch %d, batch %d: the loss is %s, first seen in %s; training stopped "
	                  "and nothing of this run was overwritten. Try a lower optimizer.lr (%g at this step)",
	                  epoch, batch, isnan(loss) ? "NaN" : "infinite", what, r->optim.cfg.lr);
}

static int train_epoch(struct run *r, int epoch, struct rng *rng, struct progress *p,
                       struct epoch_record *rec, struct cnn_error *err)
{
	struct net *net = r->net;
	int n = r->train.n, batches = (n + net->batch - 1) / net->batch;
	double loss_sum = 0, start = now_seconds();
	long correct = 0;
	for (int i = 0; i < n; i++)
		r->order[i] = i;
	rng_shuffle(rng, r->order, n);
	if (r->layer_seconds)
		memset(r->layer_seconds, 0, 2 * (size_t)net->n_layers * sizeof *r->layer_seconds);
	progress_epoch_start(p, epoch, batches);
	for (int b = 0; b < batches; b++) {
		int first = b * net->batch;
		int count = n - first < net->batch ? n - first : net->batch;
		double batch_loss;
		int batch_correct;
		dataset_batch(&r->train, r->order + first, count, net->x, r->labels);
		long step = (long)(epoch - 1) * batches + b;
		r->optim.cfg.lr = lr_at(&r->cfg.optim, step, batches, (long)batches * r->cfg.train.epochs);
		net_train_step(net, r->labels, count, &batch_loss, &batch_correct);
		if (!isfinite(batch_loss))
			return nonfinite_error(r, epoch, b + 1, count, batch_loss, err);
		optim_step(&r->optim, net->params, net->grads);
		r->batch_loss[step] = (float)(batch_loss / count); /* report: batches.csv */
		loss_sum += batch_loss;
		correct += batch_correct;
		progress_batch(p, b + 1, first + count, loss_sum / (first + count),
		               (double)correct / (first + count));
	}
	double train_seconds = now_seconds() - start;
	rec->epoch = epoch;
	rec->loss = loss_sum / n;
	rec->accuracy = (double)correct / n;
	rec->images_per_second = n / train_seconds;
	rec->val_loss = rec->val_accuracy = NAN;
	if (r->val.n)
		evaluate(r, &r->val, NULL, &rec->val_loss, &rec->val_accuracy);
	rec->seconds = now_seconds() - start;
	progress_epoch_end(p, rec);
	if (r->layer_seconds)
		progress_layer_times(p, net, r->layer_seconds);
	return 0;
}

static int setup(struct run *r, struct cfg_doc *doc, const struct run_options *opt, struct cnn_error *err)
{
	int threads = r->cfg.train.threads ? r->cfg.train.threads : omp_get_num_procs();
	if (opt->out_dir)
		snprintf(r->out_dir, sizeof r->out_dir, "%s", opt->out_dir);
	else
		snprintf(r->out_dir, sizeof r->out_dir, "runs/%s", r->cfg.name);
	if (prepare_out_dir(r->out_dir, err) || load_data(r, err))
		return -1;
	struct layer **layers = r->cfg.layers;
	int n_layers = r->cfg.n_layers;
	r->cfg.layers = NULL;
	r->cfg.n_layers = 0;
	if (net_create(layers, n_layers, r->cfg.input, r->cfg.train.batch, threads, r->cfg.seed, &r->net, err) ||
	    optim_create(&r->optim, &r->cfg.optim, r->net->n_params, err))
		return -1;
	size_t most = (size_t)(r->train.n > r->net->batch ? r->train.n : r->net->batch);
	r->order = malloc(most * sizeof *r->order);
	r->labels = malloc((size_t)r->net->batch * sizeof *r->labels);
	r->pred = malloc((size_t)r->net->batch * sizeof *r->pred);
	r->history = calloc((size_t)r->cfg.train.epochs, sizeof *r->history);
	if (!r->order || !r->labels || !r->pred || !r->history ||
	    confusion_init(&r->confusion, r->cfg.data.n_classes))
		return cnn_errorf_plain(err, "out of memory");
	/* report: per-batch losses, test probabilities, mistakes, --verbose times */
	size_t batches = (size_t)((r->train.n + r->net->batch - 1) / r->net->batch);
	r->batch_loss = malloc(batches * (size_t)r->cfg.train.epochs * sizeof *r->batch_loss);
	r->probs = malloc((size_t)r->net->batch * (size_t)r->net->n_classes * sizeof *r->probs);
	if (!r->batch_loss || !r->probs ||
	    mistakes_init(&r->mistakes, MISTAKES_DEFAULT, r->test.shape.c, r->test.shape.h, r->test.shape.w))
		return cnn_errorf_plain(err, "out of memory");
	if (opt->verbose) {
		r->layer_seconds = calloc(2 * (size_t)r->net->n_layers, sizeof *r->layer_seconds);
		if (!r->layer_seconds)
			return cnn_errorf_plain(err, "out of memory");
		r->net->layer_seconds = r->layer_seconds;
	}
	return write_resolved_config(r->out_dir, doc->root, err);
}

int run_train(struct cfg_doc *doc, const char *config_path, const struct run_options *opt,
              struct cnn_error *err)
{
	struct run r;
	memset(&r, 0, sizeof r);
	if (model_config_build(doc, &r.cfg, err))
		return CNN_BAD_CONFIG;
	int status = CNN_FAILED;
	if (setup(&r, doc, opt, err))
		goto out;
	FILE *log = opt->quiet ? NULL : stdout;
	if (log) {
		fprintf(log, "%s: %d training, %d validation, %d test images; batch %d, %d thread%s, %s lr %g\n",
		        r.cfg.name, r.train.n, r.val.n, r.test.n, r.net->batch, r.net->threads,
		        r.net->threads == 1 ? "" : "s", r.cfg.optim.type, r.cfg.optim.lr);
		print_layer_table(log, r.net, r.net->batch);
	}
	struct progress progress;
	progress_init(&progress, r.cfg.train.epochs, opt->quiet, opt->verbose);
	struct rng order_rng;
	rng_seed(&order_rng, r.cfg.seed ^ SEED_SHUFFLE);
	double train_seconds = 0;
	for (int e = 0; e < r.cfg.train.epochs; e++) {
		if (train_epoch(&r, e + 1, &order_rng, &progress, &r.history[e], err))
			goto out;
		train_seconds += r.train.n / r.history[e].images_per_second;
	}
	double test_loss, test_accuracy, start = now_seconds();
	evaluate(&r, &r.test, &r.confusion, &test_loss, &test_accuracy);
	double eval_seconds = now_seconds() - start;
	struct run_result result = {
		.name = r.cfg.name, .config_path = config_path, .config = doc->root,
		.n_train = r.train.n, .n_val = r.val.n, .n_test = r.test.n,
		.n_params = (long)r.net->n_params, .flops_per_image = net_flops(r.net),
		.threads = r.net->threads, .batch = r.net->batch,
		.history = r.history, .n_epochs = r.cfg.train.epochs,
		.train_seconds = train_seconds,
		.train_images_per_second = (double)r.train.n * r.cfg.train.epochs / train_seconds,
		.test_loss = test_loss, .test_accuracy = test_accuracy,
		.eval_images_per_second = r.test.n / eval_seconds,
		.test_confusion = &r.confusion,
		/* report: batches.csv, mistakes.bin and the pictures */
		.batch_loss = r.batch_loss, .batches_per_epoch = (r.train.n + r.net->batch - 1) / r.net->batch,
		.n_batch_loss = r.cfg.train.epochs * ((r.train.n + r.net->batch - 1) / r.net->batch),
		.mistakes = &r.mistakes,
	};
	report_print(stdout, &result);
	if (report_write_all(r.out_dir, &result, err))
		goto out;
	printf("results: %s/{report.md,metrics.json,history.csv,batches.csv,config.yaml}\n", r.out_dir);
	printf("pictures: %s/{loss.svg,accuracy.svg,confusion.svg,mistakes.png}\n", r.out_dir);
	status = CNN_OK;
out:
	run_free(&r);
	return status;
}
