/* The public API (include/cnnrun.h) over the internal network.
 *
 * A cnn_model is a network made by net_create_model (parameters only) and
 * what the checkpoint's config says about its input. Predictions run
 * net_predict, the inference plan on every OpenMP thread, with memory
 * allocated per call, so the model itself is only read: that is what makes
 * one model usable from several threads, and why nothing process-wide
 * (OpenBLAS's threads, CPU affinity) is set here. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cnnrun.h"

#include "api/saved.h"
#include "net/net.h"
#include "net/net_checkpoint.h"

/* Raw pixels are scaled this many images at a time, each group then run
 * on every thread, so the scaled copy stays small whatever n is. */
#define PREDICT_RAW_GROUP 4096

struct cnn_model {
	struct net *net;       /* parameters only (net_create_model) */
	char *name;
	char **class_names;    /* (classes) */
	int have_scaling;      /* the normalisation of raw pixels is known */
	/* normalised = pixel * scale[c] + offset[c] for channel c, as dataset_batch */
	double scale[DATA_MAX_CHANNELS], offset[DATA_MAX_CHANNELS];
};

const char *cnn_status_str(cnn_status status)
{
	switch (status) {
	case CNN_SUCCESS: return "success";
	case CNN_ERR_ARGUMENT: return "invalid argument";
	case CNN_ERR_IO: return "file cannot be read";
	case CNN_ERR_FORMAT: return "not a valid cnnrun checkpoint";
	case CNN_ERR_MODEL: return "checkpoint does not make a usable model";
	case CNN_ERR_MEMORY: return "out of memory";
	}
	return "unknown status";
}

const char *cnn_version(void)
{
	return CNN_VERSION;
}

static char *copy_string(const char *s)
{
	size_t len = strlen(s) + 1;
	char *c = malloc(len);
	if (c)
		memcpy(c, s, len);
	return c;
}

void cnn_model_free(cnn_model *m)
{
	if (!m)
		return;
	if (m->class_names)
		for (int i = 0; i < m->net->n_classes; i++)
			free(m->class_names[i]);
	free(m->class_names);
	free(m->name);
	net_free(m->net);
	free(m);
}

/* Names, and the pixel scaling of data.normalize, from the config. */
static int model_describe(cnn_model *m, const struct model_config *cfg)
{
	int k = m->net->n_classes;
	if (!(m->name = copy_string(cfg->name)) || !(m->class_names = calloc((size_t)k, sizeof *m->class_names)))
		return -1;
	for (int i = 0; i < k; i++) {
		char num[16];
		snprintf(num, sizeof num, "%d", i);
		if (!(m->class_names[i] = copy_string(cfg->data.class_names ? cfg->data.class_names[i] : num)))
			return -1;
	}
	const struct data_config *d = &cfg->data;
	m->have_scaling = (!d->standardize || d->have_stats) && m->net->input.c <= DATA_MAX_CHANNELS;
	for (int c = 0; c < DATA_MAX_CHANNELS; c++) {
		int k = d->n_stats > 1 ? c : 0; /* one value stands for every channel */
		m->scale[c] = d->standardize ? 1.0 / d->std[k] : 1.0 / 255.0;
		m->offset[c] = d->standardize ? -d->mean[k] / d->std[k] : 0.0;
	}
	return 0;
}

static cnn_status load_error(cnn_status s, const struct cnn_error *err, char *msg, size_t msg_len)
{
	if (msg && msg_len > 0)
		cnn_error_str(err, msg, msg_len);
	return s;
}

cnn_status cnn_model_load_err(const char *path, cnn_model **out, char *msg, size_t msg_len)
{
	struct cnn_error err = { 0 };
	struct checkpoint ckpt;
	struct cfg_doc doc;
	struct model_config cfg;
	struct stat st;
	int bad_config;

	if (msg && msg_len > 0)
		msg[0] = '\0';
	if (out)
		*out = NULL;
	if (!path || !out) {
		cnn_errorf_plain(&err, "cnn_model_load: %s is NULL", path ? "out" : "path");
		return load_error(CNN_ERR_ARGUMENT, &err, msg, msg_len);
	}
	/* told apart before reading, so that an unreadable file is CNN_ERR_IO
	 * and everything checkpoint_load refuses after is the content's fault;
	 * a FIFO or a device is refused here, unopened (it could block) */
	if (stat(path, &st)) {
		checkpoint_load(path, &ckpt, &err);   /* for its message; fails */
		return load_error(CNN_ERR_IO, &err, msg, msg_len);
	}
	if (!S_ISREG(st.st_mode)) {
		cnn_errorf(&err, (struct cnn_loc){ path, 0, 0 }, "not a regular file");
		return load_error(CNN_ERR_IO, &err, msg, msg_len);
	}
	if (saved_config_load(path, &ckpt, &doc, &cfg, &bad_config, &err))
		return load_error(bad_config ? CNN_ERR_MODEL : CNN_ERR_FORMAT, &err, msg, msg_len);

	cnn_status status = CNN_ERR_MEMORY;
	cnn_model *m = calloc(1, sizeof *m);
	if (!m) {
		cnn_errorf_plain(&err, "out of memory");
		goto fail;
	}
	struct layer **layers = cfg.layers;
	int n_layers = cfg.n_layers;
	cfg.layers = NULL;
	cfg.n_layers = 0;
	if (net_create_model(layers, n_layers, cfg.input, &m->net, &err))
		goto fail;
	status = CNN_ERR_MODEL;
	if (checkpoint_apply(&ckpt, m->net, NULL, &err))
		goto fail;
	status = CNN_ERR_MEMORY;
	if (net_freeze(m->net, &err))
		goto fail;
	if (model_describe(m, &cfg)) {
		cnn_errorf_plain(&err, "out of memory");
		goto fail;
	}
	saved_config_free(&ckpt, &doc, &cfg);
	*out = m;
	return CNN_SUCCESS;
fail:
	cnn_model_free(m);
	saved_config_free(&ckpt, &doc, &cfg);
	return load_error(status, &err, msg, msg_len);
}

cnn_status cnn_model_load(const char *path, cnn_model **out)
{
	return cnn_model_load_err(path, out, NULL, 0);
}

void cnn_model_input_shape(const cnn_model *m, int *c, int *h, int *w)
{
	if (c)
		*c = m ? m->net->input.c : 0;
	if (h)
		*h = m ? m->net->input.h : 0;
	if (w)
		*w = m ? m->net->input.w : 0;
}

int cnn_model_input_size(const cnn_model *m)
{
	return m ? (int)shape_size(m->net->input) : 0;
}

int cnn_model_classes(const cnn_model *m)
{
	return m ? m->net->n_classes : 0;
}

const char *cnn_model_class_name(const cnn_model *m, int i)
{
	return m && i >= 0 && i < m->net->n_classes ? m->class_names[i] : NULL;
}

const char *cnn_model_name(const cnn_model *m)
{
	return m ? m->name : NULL;
}

/* Runs the n images through net_predict; raw: x holds pixels, scaled
 * into `scaled` group by group first. */
static cnn_status predict(const cnn_model *m, const float *x, int n, float *probs, int raw)
{
	if (!m || n < 0 || (n > 0 && (!x || !probs)))
		return CNN_ERR_ARGUMENT;
	if (raw && !m->have_scaling)
		return CNN_ERR_MODEL;
	if (n == 0)
		return CNN_SUCCESS;
	const struct net *net = m->net;
	struct cnn_error err;
	if (!raw)
		return net_predict(net, x, n, probs, 0, &err) ? CNN_ERR_MEMORY : CNN_SUCCESS;
	size_t in = shape_size(net->input), k = (size_t)net->n_classes;
	int group = n < PREDICT_RAW_GROUP ? n : PREDICT_RAW_GROUP;
	float *scaled = malloc((size_t)group * in * sizeof *scaled); /* (group, c, h, w) */
	if (!scaled)
		return CNN_ERR_MEMORY;
	cnn_status status = CNN_SUCCESS;
	size_t plane = (size_t)net->input.h * (size_t)net->input.w;
	for (int start = 0; start < n && status == CNN_SUCCESS; start += group) {
		int count = n - start < group ? n - start : group;
		const float *src = x + (size_t)start * in;
		/* through double, as dataset_batch scales a pixel byte */
		for (size_t j = 0; j < (size_t)count * in; j++) {
			size_t c = j / plane % (size_t)net->input.c;
			scaled[j] = (float)((double)src[j] * m->scale[c] + m->offset[c]);
		}
		if (net_predict(net, scaled, count, probs + (size_t)start * k, 0, &err))
			status = CNN_ERR_MEMORY;
	}
	free(scaled);
	return status;
}

cnn_status cnn_model_predict(cnn_model *m, const float *x, int n, float *probs)
{
	return predict(m, x, n, probs, 0);
}

cnn_status cnn_model_predict_raw(cnn_model *m, const float *pixels, int n, float *probs)
{
	return predict(m, pixels, n, probs, 1);
}
