/* `cnnrun predict CKPT IMAGE...`: the top classes of single images. */
#include <stdlib.h>
#include <string.h>

#include "cnn/data.h"
#include "cnn/image.h"
#include "cnn/runner.h"

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

static void print_text(FILE *out, const char *path, const float *probs, const int *top, int k)
{
	fprintf(out, "%s:", path);
	for (int i = 0; i < k; i++)
		fprintf(out, "%s %d (%.4f)", i ? "," : "", top[i], (double)probs[top[i]]);
	fputc('\n', out);
}

static void print_json(FILE *out, const char *path, const float *probs, int n_classes,
                       const int *top, int k)
{
	struct json_writer w;
	json_init(&w, out, 0);
	json_begin_object(&w);
	json_key(&w, "image");
	json_string(&w, path);
	json_key(&w, "class");
	json_int(&w, top[0]);
	json_key(&w, "top");
	json_begin_array(&w);
	for (int i = 0; i < k; i++) {
		json_begin_object(&w);
		json_key(&w, "class");
		json_int(&w, top[i]);
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

/* Decodes path into net->x, scaled exactly as training scales its batches. */
static int load_input(struct saved_model *m, const char *path, struct cnn_error *err)
{
	struct net *net = m->net;
	struct image img;
	struct shape in = net->input;
	if (image_load(path, &img, err))
		return -1;
	if (in.c != 1 || img.width != in.w || img.height != in.h) {
		int w = img.width, h = img.height;
		image_free(&img);
		if (in.c != 1)
			return cnn_errorf(err, (struct cnn_loc){ path, 0, 0 }, "the network takes %d channels; "
			                  "predict reads grayscale images only", in.c);
		return cnn_errorf(err, (struct cnn_loc){ path, 0, 0 }, "the image is %dx%d pixels, the network "
		                  "takes %dx%d (width x height); resize it first", w, h, in.w, in.h);
	}
	uint8_t label = 0;
	int index = 0;
	struct dataset one = { .n = 1, .shape = in, .n_classes = net->n_classes,
	                       .images = img.pixels, .labels = &label };
	int rc = saved_model_normalize(m, &one, err);
	if (rc == 0)
		dataset_batch(&one, &index, 1, net->x, NULL);
	image_free(&img);
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
		if (json)
			print_json(out, images[i], probs, m.net->n_classes, top, k);
		else
			print_text(out, images[i], probs, top, k);
	}
	free(probs);
	saved_model_close(&m);
	if (failed) {
		cnn_errorf_plain(err, "%d of %d image%s could not be classified", failed, n, n == 1 ? "" : "s");
		return CNN_FAILED;
	}
	return CNN_OK;
}
