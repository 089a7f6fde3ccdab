/* `cnnrun eval CKPT`: a saved model's test metrics, printed and written in
 * the same files and layout as a training run's. */
#include <stdlib.h>
#include <string.h>

#include "runner/runner.h"

#include "runner/common.h"
#include "runner/runfolder.h"

/* CKPT's folder + "/eval": next to the run it came from. */
static void default_out_dir(const char *ckpt, char *buf, size_t len)
{
	const char *slash = strrchr(ckpt, '/');
	if (slash)
		snprintf(buf, len, "%.*s/eval", (int)(slash - ckpt), ckpt);
	else
		snprintf(buf, len, "eval");
}

/* A best.ckpt is evaluated only if it is the one the last.ckpt beside it
 * records (same run, epoch and weights): a stale or foreign one would be
 * reported as this run's model. */
static int check_best(const struct saved_model *m, const char *ckpt, struct cnn_error *err)
{
	const char *slash = strrchr(ckpt, '/');
	char last[4200];
	struct checkpoint c;
	struct cnn_error ignored;
	if (strcmp(slash ? slash + 1 : ckpt, "best.ckpt"))
		return 0;
	snprintf(last, sizeof last, "%.*slast.ckpt", slash ? (int)(slash - ckpt + 1) : 0, ckpt);
	if (checkpoint_load(last, &c, &ignored))
		return 0;   /* no last.ckpt beside it: nothing to match against */
	int rc = checkpoint_check_best(&m->ckpt, &c.prov, err);
	checkpoint_free(&c);
	return rc;
}

int run_eval(const char *ckpt, const char *data_path, const char *out_dir, FILE *out,
             struct cnn_error *err)
{
	struct saved_model m;
	struct dataset test = { 0 };
	struct confusion cm = { 0 };
	struct mistakes mistakes = { 0 };
	struct eval_buffers b = { 0 };
	char dir[4096];
	struct run_folder folder = { -1 };
	int status = CNN_FAILED;

	if (saved_model_open_eval(ckpt, 0, &m, err))
		return CNN_FAILED;
	if (check_best(&m, ckpt, err))
		goto out;
	if (out_dir)
		snprintf(dir, sizeof dir, "%s", out_dir);
	else
		default_out_dir(ckpt, dir, sizeof dir);
	/* Never over a training run's own results: its folder holds them. */
	if (run_folder_is_training_run(dir)) {
		cnn_errorf(err, (struct cnn_loc){ dir, 0, 0 }, "holds a training run's results, which eval never "
		           "replaces; choose another folder with --out (the default is the checkpoint's folder + /eval)");
		status = CNN_BAD_CONFIG;
		goto out;
	}
	if (run_folder_open(dir, &folder, err))
		goto out;
	int rc = run_load_split(&m.cfg, DATA_TEST, data_path, true, &test, err);
	if (rc) {
		status = rc == RUN_BAD_CONFIG ? CNN_BAD_CONFIG : CNN_FAILED;   /* 2: --data that does not fit */
		goto out;
	}
	if (saved_model_normalize(&m, &test, err) || eval_buffers_init(&b, m.net, err))
		goto out;
	if (confusion_init(&cm, m.net->n_classes) ||
	    mistakes_init(&mistakes, MISTAKES_DEFAULT, test.shape.c, test.shape.h, test.shape.w)) {
		cnn_errorf_plain(err, "out of memory");
		goto out;
	}
	double loss, accuracy, start = run_now();
	(void)run_evaluate(m.net, &test, &b, &cm, &mistakes, &loss, &accuracy);
	double seconds = run_now() - start;

	/* The training side comes from the checkpoint: its completed epochs,
	 * their batch losses and time, so the report shows how it got here. */
	const struct checkpoint *c = &m.ckpt;
	int train_batch = saved_model_train_batch(&m);
	int n_train = c->n_order, per = (n_train + train_batch - 1) / train_batch;
	int n_batch_loss = c->n_batch_loss < c->n_history * per ? c->n_batch_loss : c->n_history * per;
	struct run_result result = {
		.name = m.cfg.name, .config_path = ckpt, .config = m.doc.root,
		.n_train = n_train, .n_val = m.cfg.data.validation, .n_test = test.n,
		.n_params = (long)m.net->n_params, .flops_per_image = net_flops(m.net),
		.threads = m.net->threads, .batch = train_batch,
		.history = c->history, .n_epochs = c->n_history,
		.train_seconds = c->train_seconds,
		.train_images_per_second = c->train_seconds > 0
		                           ? (double)n_train * c->n_history / c->train_seconds : 0,
		.test_loss = loss, .test_accuracy = accuracy,
		.eval_images_per_second = test.n / seconds,
		.test_confusion = &cm,
		.class_names = (const char *const *)m.cfg.data.class_names,
		.batch_loss = n_batch_loss ? c->batch_loss : NULL, .n_batch_loss = n_batch_loss,
		.batches_per_epoch = per,
		.mistakes = &mistakes,
	};
	report_print(out, &result);
	if (report_write_all(dir, &result, err))
		goto out;
	fprintf(out, "results: %s/{report.md,metrics.json,history.csv,batches.csv}\n", dir);
	status = CNN_OK;
out:
	run_folder_close(&folder);
	eval_buffers_free(&b);
	mistakes_free(&mistakes);
	confusion_free(&cm);
	dataset_free(&test);
	saved_model_close(&m);
	return status;
}
