/* dump_reference CKPT OUT_DIR: what the export tests compare against. Writes
 * the MNIST test set of the checkpoint's config as raw bytes (images.u8,
 * (n, c, h, w); labels.u8, (n)) and cnnrun's own float probabilities for
 * each image (probs.f32, (n, classes) little-endian floats). */
#include <stdio.h>
#include <stdlib.h>

#include "runner/common.h"

static int write_file(const char *dir, const char *name, const void *p, size_t size, size_t n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, size, n, f) != n || fclose(f)) {
		fprintf(stderr, "dump_reference: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct saved_model m;
	struct dataset test = { 0 };
	struct cnn_error err = { 0 };
	char buf[1024];
	if (argc != 3) {
		fprintf(stderr, "usage: dump_reference CKPT OUT_DIR\n");
		return 2;
	}
	if (saved_model_open(argv[1], 100, 1, &m, &err) || run_load_split(&m.cfg, DATA_TEST, NULL, true, &test, &err) ||
	    saved_model_normalize(&m, &test, &err)) {
		fprintf(stderr, "%s\n", cnn_error_str(&err, buf, sizeof buf));
		return 1;
	}
	int k = m.net->n_classes, *idx = malloc(100 * sizeof *idx), labels[100], pred[100];
	float *probs = malloc((size_t)test.n * (size_t)k * sizeof *probs);
	if (!idx || !probs)
		return 1;
	for (int i = 0; i < test.n; i += 100) {
		int n = test.n - i < 100 ? test.n - i : 100;
		double loss;
		for (int j = 0; j < n; j++)
			idx[j] = i + j;
		dataset_batch(&test, idx, n, m.net->x, labels);
		net_eval(m.net, labels, n, &loss, pred, probs + (size_t)i * (size_t)k);
	}
	size_t ss = shape_size(test.shape);
	int rc = write_file(argv[2], "images.u8", test.images, ss, (size_t)test.n) ||
	         write_file(argv[2], "labels.u8", test.labels, 1, (size_t)test.n) ||
	         write_file(argv[2], "probs.f32", probs, sizeof(float) * (size_t)k, (size_t)test.n);
	free(idx);
	free(probs);
	dataset_free(&test);
	saved_model_close(&m);
	return rc ? 1 : 0;
}
