/* Shared by training, eval, predict and export. See common.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runner/common.h"

double run_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int run_prepare_out_dir(const char *dir, struct cnn_error *err)
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

char *run_yaml_text(const struct cfg_node *n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	cfg_write_yaml(f, n);
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

int eval_buffers_init(struct eval_buffers *b, const struct net *net, struct cnn_error *err)
{
	size_t n = (size_t)net->batch;
	b->idx = malloc(n * sizeof *b->idx);
	b->labels = malloc(n * sizeof *b->labels);
	b->pred = malloc(n * sizeof *b->pred);
	b->probs = malloc(n * (size_t)net->n_classes * sizeof *b->probs);
	if (!b->idx || !b->labels || !b->pred || !b->probs)
		return cnn_errorf_plain(err, "out of memory");
	return 0;
}

void eval_buffers_free(struct eval_buffers *b)
{
	free(b->idx);
	free(b->labels);
	free(b->pred);
	free(b->probs);
	memset(b, 0, sizeof *b);
}

/* An evaluation batch as each thread of net_eval_from loads its share. */
struct eval_source {
	const struct dataset *d;
	const int *idx;
};

static void fill_eval(void *ctx, int thread, int start, int count, float *x, int *labels)
{
	const struct eval_source *s = ctx;
	(void)thread;
	dataset_batch(s->d, s->idx + start, count, x, labels);
}

void run_evaluate(struct net *net, const struct dataset *d, struct eval_buffers *b,
                  struct confusion *cm, struct mistakes *m, double *loss, double *accuracy)
{
	double loss_sum = 0;
	long correct = 0;
	for (int i = 0; i < d->n; i += net->batch) {
		int n = d->n - i < net->batch ? d->n - i : net->batch;
		for (int j = 0; j < n; j++)
			b->idx[j] = i + j;
		struct eval_source source = { d, b->idx };
		struct net_input in = { fill_eval, &source };
		double batch_loss;
		net_eval_from(net, &in, b->labels, n, &batch_loss, b->pred, cm ? b->probs : NULL);
		loss_sum += batch_loss;
		for (int j = 0; j < n; j++) {
			correct += b->pred[j] == b->labels[j];
			if (cm)
				confusion_add(cm, b->labels[j], b->pred[j]);
			/* report: mistakes.png */
			if (cm && m && b->pred[j] != b->labels[j])
				mistakes_offer(m, i + j, b->labels[j], b->pred[j],
				               b->probs[(size_t)j * (size_t)net->n_classes + (size_t)b->pred[j]],
				               d->images + (size_t)(i + j) * shape_size(d->shape));
		}
	}
	*loss = d->n ? loss_sum / d->n : NAN;
	*accuracy = d->n ? (double)correct / d->n : NAN;
}

/* The config inside a checkpoint was written by a cnnrun and is covered by
 * the CRC, so an error here means another version or a crafted file: say
 * so rather than point at lines of a file the user never saw. */
static int saved_config_error(const char *path, struct cnn_error *err)
{
	char buf[sizeof err->msg];
	struct cnn_error inner = *err;
	return cnn_errorf(err, (struct cnn_loc){ path, 0, 0 }, "the config saved in this checkpoint is not usable: %s",
	                  cnn_error_str(&inner, buf, sizeof buf));
}

int saved_model_open(const char *path, int batch, int threads, struct saved_model *m,
                     struct cnn_error *err)
{
	memset(m, 0, sizeof *m);
	if (checkpoint_load(path, &m->ckpt, err))
		return CNN_FAILED;
	const char *text = m->ckpt.config_text;
	if (cfg_load_string(text, strlen(text), path, &m->doc, err)) {
		saved_config_error(path, err);
		goto fail;
	}
	if (model_config_build(&m->doc, &m->cfg, err)) {
		saved_config_error(path, err);
		goto fail;
	}
	struct layer **layers = m->cfg.layers;
	int n_layers = m->cfg.n_layers;
	m->cfg.layers = NULL;
	m->cfg.n_layers = 0;
	if (net_create(layers, n_layers, m->cfg.input, batch ? batch : m->cfg.train.batch,
	               threads ? threads : m->cfg.train.threads, m->cfg.seed, &m->net, err) ||
	    checkpoint_apply(&m->ckpt, m->net, NULL, err))
		goto fail;
	net_pin_threads(m->net->threads);
	return 0;
fail:
	saved_model_close(m);
	return CNN_FAILED;
}

void saved_model_close(struct saved_model *m)
{
	net_free(m->net);
	model_config_free(&m->cfg);
	cfg_free(&m->doc);
	checkpoint_free(&m->ckpt);
	memset(m, 0, sizeof *m);
}

int saved_model_normalize(struct saved_model *m, struct dataset *d, struct cnn_error *err)
{
	/* Without recorded statistics they would have to come from the
	 * training set, which eval and predict do not load. */
	if (m->cfg.data.standardize && !m->cfg.data.have_stats)
		return cnn_errorf(err, (struct cnn_loc){ m->ckpt.path, 0, 0 }, "the checkpoint's config has "
		                  "data.normalize: standard but no data.mean and data.std");
	run_normalize(&m->cfg.data, NULL, NULL, d);
	return 0;
}

int run_resolve_classes(struct model_config *c, struct cnn_error *err)
{
	struct data_config *d = &c->data;
	const struct data_format *f = d->source->format;
	if (!d->n_classes && f->probe) {
		struct data_probe p = { 0 };
		if (f->probe(d->source, &p, err)) {
			data_probe_free(&p);
			return -1;
		}
		d->n_classes = p.n_classes;
		d->class_names = p.class_names;
		p.class_names = NULL;
		data_probe_free(&p);
	}
	if (!d->n_classes)
		return cnn_errorf(err, d->source->loc, "data: the classes cannot be told from the files; "
		                  "list their names in data.classes");
	if (c->n_layers) {
		const struct layer *last = c->layers[c->n_layers - 1];
		if ((int)shape_size(last->out) != d->n_classes)
			return cnn_errorf(err, last->loc, "%s: the loss needs the last layer to output %d values "
			                  "(one per class: the data has %d), but %s outputs %d; end with "
			                  "{type: dense, units: %d}", last->ops->type, d->n_classes, d->n_classes,
			                  last->name, (int)shape_size(last->out), d->n_classes);
	}
	return 0;
}

static const char *const split_names[] = { "train", "validation", "test" };

int run_load_split(const struct model_config *c, enum data_split split, const char *path_override,
                   bool quiet, struct dataset *out, struct cnn_error *err)
{
	const struct data_config *d = &c->data;
	const struct data_request req = {
		.input = c->input,
		.resize = d->source->resize,
		.n_classes = d->n_classes,
		.class_names = (const char *const *)d->class_names,
		.threads = c->train.threads,
		.quiet = quiet,
	};
	memset(out, 0, sizeof *out);
	int rc = d->source->format->load(d->source, split, path_override, &req, out, err);
	if (rc)
		return rc;
	struct shape s = out->shape;
	if (s.c != c->input.c || s.h != c->input.h || s.w != c->input.w) {
		dataset_free(out);
		return cnn_errorf(err, c->input_loc, "'input' is [%d, %d, %d] but the %s images are [%d, %d, %d]",
		                  c->input.c, c->input.h, c->input.w, split_names[split], s.c, s.h, s.w);
	}
	return 0;
}
