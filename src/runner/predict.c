/* `cnnrun predict CKPT IMAGE...`: the top classes of single images. */
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "io/image.h"
#include "runner/runner.h"

#include "report/json.h"
#include "runner/common.h"

#define PREDICT_TOP 3

/* The k most probable classes, most probable first; ties go to the lower class. */
static int top_classes(const float *probs, int n, int *top, int k)
{
	if (k > n)
		k = n;
	for (int i = 0; i < k; i++) {
		int best = -1;
		for (int c = 0; c < n; c++) {
			bool taken = false;
			for (int j = 0; j < i; j++)
				taken |= top[j] == c;
			if (!taken && (best < 0 || probs[c] > probs[best]))
				best = c;
		}
		top[i] = best;
	}
	return k;
}

static void print_text(FILE *out, const char *path, const float *probs, const int *top, int k,
                       char *const *names)
{
	fprintf(out, "%s:", path);
	for (int i = 0; i < k; i++) {
		if (names)
			fprintf(out, "%s %s (%.4f)", i ? "," : "", names[top[i]], (double)probs[top[i]]);
		else
			fprintf(out, "%s %d (%.4f)", i ? "," : "", top[i], (double)probs[top[i]]);
	}
	fputc('\n', out);
}

static void print_json(FILE *out, const char *path, const float *probs, int n_classes,
                       const int *top, int k, char *const *names)
{
	struct json_writer w;
	json_init(&w, out, 0);
	json_begin_object(&w);
	json_key(&w, "image");
	json_string(&w, path);
	json_key(&w, "class");
	json_int(&w, top[0]);
	if (names) {
		json_key(&w, "name");
		json_string(&w, names[top[0]]);
	}
	json_key(&w, "top");
	json_begin_array(&w);
	for (int i = 0; i < k; i++) {
		json_begin_object(&w);
		json_key(&w, "class");
		json_int(&w, top[i]);
		if (names) {
			json_key(&w, "name");
			json_string(&w, names[top[i]]);
		}
		json_key(&w, "probability");
		json_double(&w, probs[top[i]]);
		json_end_object(&w);
	}
	json_end_array(&w);
	json_key(&w, "probabilities");
	json_begin_array(&w);
	for (int c = 0; c < n_classes; c++)
		json_double(&w, probs[c]);
	json_end_array(&w);
	json_end_object(&w);   /* ends the line */
}

/* Decodes path into net->x, fitted to the input (channels converted, size
 * changed as data.resize says) and scaled exactly as training scales its
 * batches. */
static int load_input(struct saved_model *m, const char *path, struct cnn_error *err)
{
	struct net *net = m->net;
	struct image img;
	struct shape in = net->input;
	if (in.c != 1 && in.c != 3)
		return cnn_errorf(err, (struct cnn_loc){ path, 0, 0 }, "the network takes %d channels; "
		                  "predict reads grey (1) or colour (3) images", in.c);
	if (image_load(path, &img, err))
		return -1;
	uint8_t *pixels = malloc(shape_size(in));   /* (c, h, w) of the input */
	if (!pixels) {
		image_free(&img);
		return cnn_errorf_plain(err, "out of memory");
	}
	int rc = image_fit(&img, in, m->cfg.data.source->resize, pixels, path, err);
	image_free(&img);
	uint8_t label = 0;
	int index = 0;
	struct dataset one = { .n = 1, .shape = in, .n_classes = net->n_classes,
	                       .images = pixels, .labels = &label };
	if (rc == 0)
		rc = saved_model_normalize(m, &one, err);
	if (rc == 0)
		dataset_batch(&one, &index, 1, net->x, NULL);
	free(pixels);
	return rc;
}

int run_predict(const char *ckpt, const char *const *images, int n, bool json, FILE *out,
                FILE *diag, struct cnn_error *err)
{
	struct saved_model m;
	int failed = 0, top[PREDICT_TOP];
	if (saved_model_open(ckpt, 1, 1, &m, err))
		return CNN_FAILED;
	float *probs = malloc((size_t)m.net->n_classes * sizeof *probs);
	if (!probs) {
		saved_model_close(&m);
		cnn_errorf_plain(err, "out of memory");
		return CNN_FAILED;
	}
	for (int i = 0; i < n; i++) {
		int label = 0, pred;
		double loss;
		if (load_input(&m, images[i], err)) {
			char buf[1024];
			fprintf(diag, "%s\n", cnn_error_str(err, buf, sizeof buf));
			failed++;
			continue;
		}
		net_eval(m.net, &label, 1, &loss, &pred, probs);
		int k = top_classes(probs, m.net->n_classes, top, PREDICT_TOP);
		/* names only when they are one per output */
		char *const *names = m.cfg.data.n_classes == m.net->n_classes ? m.cfg.data.class_names : NULL;
		if (json)
			print_json(out, images[i], probs, m.net->n_classes, top, k, names);
		else
			print_text(out, images[i], probs, top, k, names);
	}
	free(probs);
	saved_model_close(&m);
	if (failed) {
		cnn_errorf_plain(err, "%d of %d image%s could not be classified", failed, n, n == 1 ? "" : "s");
		return CNN_FAILED;
	}
	return CNN_OK;
}
