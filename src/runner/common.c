/* Shared by training, eval, predict and export. See common.h. */
/* MAP_ANONYMOUS */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <cblas.h>
#include <unistd.h>

#include "api/saved.h"
#include "dist/dist.h"
#include "io/fileio.h"
#include "net/net_checkpoint.h"
#include "runner/checkpointing.h"
#include "runner/common.h"

double run_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void run_random_id(char id[33])
{
	unsigned char raw[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	bool ok = fd >= 0 && read(fd, raw, sizeof raw) == (ssize_t)sizeof raw;
	if (fd >= 0)
		close(fd);
	if (!ok) {
		/* No urandom (a bare chroot): the clock and PID still tell runs apart. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t x = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 40);
		for (int i = 0; i < 16; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			raw[i] = (unsigned char)(x >> 56);
		}
	}
	for (int i = 0; i < 16; i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
}

/* OpenBLAS's work buffer on x86-64 (BUFFER_SIZE, 32 << 22 bytes), as its
 * mmap calls show (strace), and room for the first allocations after it. */
#define BLAS_BUFFER_BYTES ((size_t)128 << 20)
#define BLAS_HEADROOM_BYTES ((size_t)64 << 20)

int run_reserve_blas(int threads, struct cnn_error *err)
{
	struct rlimit lim;
	if (getrlimit(RLIMIT_AS, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY)
		return 0;
	size_t need = (size_t)threads * BLAS_BUFFER_BYTES + BLAS_HEADROOM_BYTES;
	void *probe = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (probe == MAP_FAILED)
		return cnn_errorf_plain(err, "the address-space limit (ulimit -v %llu KiB) leaves no room for the "
		                        "BLAS work buffers (%zu MB for %d thread%s) after the data and the network; "
		                        "raise the limit, or use fewer train.threads",
		                        (unsigned long long)lim.rlim_cur / 1024, need >> 20, threads,
		                        threads == 1 ? "" : "s");
	munmap(probe, need);
	/* Each thread's first sgemm maps its buffer now, while it fits;
	 * OpenBLAS keeps it for the later calls. */
	float a = 1, c = 0;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
	for (int t = 0; t < threads; t++) {
		float cc = c;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, 1, 1, 1.0f, &a, 1, &a, 1, 0.0f, &cc, 1);
	}
	return 0;
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
	/* The probe goes through the atomic writer: a temporary created
	 * exclusively, never a fixed name a planted link could redirect. */
	struct atomic_file probe;
	snprintf(path + len, sizeof path - len, "/.write-test");
	if (atomic_open(&probe, path, err))
		return cnn_errorf(err, (struct cnn_loc){ dir, 0, 0 }, "cannot write into the output folder: %s",
		                  strerror(errno));
	atomic_abort(&probe);
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
	size_t n = (size_t)net_eval_step(net);
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

/* A stop request, checked between evaluation batches; across ranks every
 * rank asks at the same batch, so all leave the evaluation together. */
static bool stop_agreed(const struct net *net)
{
	int stop = stop_signal_pending();
	if (dist_parallel(net->dist))
		stop = net->dist->ops->max_int(net->dist, stop);
	return stop != 0;
}

int run_evaluate(struct net *net, const struct dataset *d, struct eval_buffers *b,
                 struct confusion *cm, struct mistakes *m, double *loss, double *accuracy)
{
	double loss_sum = 0;
	long correct = 0;
	/* evaluation's own batch (net_eval_step), not the training batch */
	int step = net_eval_step(net);
	for (int i = 0; i < d->n; i += step) {
		if (stop_agreed(net))
			return 1;
		int n = d->n - i < step ? d->n - i : step;
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
	return 0;
}

/* train.KEY from a checkpoint's resolved config (which records every
 * default), for evaluating in the batches and threads the model was trained
 * with; the model-only build does not read the train section. */
static int saved_train_int(struct cfg_doc *doc, const char *key, int def)
{
	const struct cfg_node *train = cfg_peek(doc->root, "train");
	const struct cfg_node *v = cfg_peek(train, key);
	long n;
	if (!v || v->kind != CFG_SCALAR || cfg_parse_long(v->text, &n) || n < 0 || n > 65536)
		return def;
	return (int)n;
}

/* saved_model_open and saved_model_open_eval: batch < 0 asks for an
 * evaluation network. */
static int saved_model_build(const char *path, int batch, int threads, struct saved_model *m,
                             struct cnn_error *err)
{
	memset(m, 0, sizeof *m);
	if (saved_config_load(path, &m->ckpt, &m->doc, &m->cfg, NULL, err))
		return CNN_FAILED;
	struct layer **layers = m->cfg.layers;
	int n_layers = m->cfg.n_layers;
	m->cfg.layers = NULL;
	m->cfg.n_layers = 0;
	if (!batch)
		batch = saved_train_int(&m->doc, "batch", 32);
	if (!threads)
		threads = saved_train_int(&m->doc, "threads", 0);
	if (threads <= 0)
		threads = omp_get_num_procs();
	int rc = batch < 0 ? net_create_eval(layers, n_layers, m->cfg.input, threads, &m->net, err)
	                   : net_create(layers, n_layers, m->cfg.input, batch > 0 ? batch : 32, threads,
	                                0, &m->net, err);
	if (rc || checkpoint_apply(&m->ckpt, m->net, NULL, err) || net_freeze(m->net, err) ||
	    run_reserve_blas(m->net->threads, err))
		goto fail;
	net_pin_threads(m->net->threads);
	return 0;
fail:
	saved_model_close(m);
	return CNN_FAILED;
}

int saved_model_open(const char *path, int batch, int threads, struct saved_model *m,
                     struct cnn_error *err)
{
	return saved_model_build(path, batch < 0 ? 0 : batch, threads, m, err);
}

int saved_model_open_eval(const char *path, int threads, struct saved_model *m, struct cnn_error *err)
{
	return saved_model_build(path, -1, threads, m, err);
}

int saved_model_train_batch(struct saved_model *m)
{
	int b = saved_train_int(&m->doc, "batch", 32);
	return b > 0 ? b : 32;
}

void saved_model_close(struct saved_model *m)
{
	net_free(m->net);
	saved_config_free(&m->ckpt, &m->doc, &m->cfg);
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
	if (!d->n_classes) {
		cnn_errorf(err, d->source->loc, "data: the classes cannot be told from the files; "
		           "list their names in data.classes");
		return RUN_BAD_CONFIG;
	}
	if (c->n_layers) {
		const struct layer *last = c->layers[c->n_layers - 1];
		if ((int)shape_size(last->out) != d->n_classes) {
			cnn_errorf(err, last->loc, "%s: the loss needs the last layer to output %d values "
			           "(one per class: the data has %d), but %s outputs %d; end with "
			           "{type: dense, units: %d}", last->ops->type, d->n_classes, d->n_classes,
			           last->name, (int)shape_size(last->out), d->n_classes);
			return RUN_BAD_CONFIG;
		}
	}
	return 0;
}

/* eval --data: a path on the command line, so relative to the working
 * directory; a missing one is named with the absolute path tried. */
static int check_data_flag(const struct data_config *d, const char *path, struct cnn_error *err)
{
	struct cnn_loc at = { "--data", 0, 0 };
	char abs[PATH_MAX];
	struct stat st;
	if (d->source->format->fixed_files) {
		cnn_errorf(err, at, "this model's config names its test files itself (data.format: %s, "
		           "data.test.images and data.test.labels), so --data cannot replace them; "
		           "evaluate without --data", d->format);
		return RUN_BAD_CONFIG;
	}
	if (stat(path, &st) == 0)
		return 0;
	if (cfg_abs_path(NULL, path, abs, sizeof abs) || !strcmp(abs, path))
		return cnn_errorf(err, at, "'%s': no such file or folder", path);
	return cnn_errorf(err, at, "'%s' (resolved to %s): no such file or folder", path, abs);
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
	int rc;
	if (path_override && (rc = check_data_flag(d, path_override, err)))
		return rc;
	rc = d->source->format->load(d->source, split, path_override, &req, out, err);
	if (rc)
		return rc;
	struct shape s = out->shape;
	if (s.c != c->input.c || s.h != c->input.h || s.w != c->input.w) {
		dataset_free(out);
		cnn_errorf(err, c->input_loc, "'input' is [%d, %d, %d] but the %s images are [%d, %d, %d]",
		           c->input.c, c->input.h, c->input.w, split_names[split], s.c, s.h, s.w);
		return RUN_BAD_CONFIG;
	}
	return 0;
}
