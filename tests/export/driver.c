/* The generated C on the test set, built by test_export.sh with
 *   cc -std=c99 -Wall -Wextra -Werror -pedantic -DMODEL=NAME -DHEADER='"NAME.h"'
 * driver DIR MODE: reads DIR/images.u8, labels.u8 and probs.f32 (from
 * dump_reference) and prints the accuracy of NAME_predict, cnnrun's, and on
 * how many images the two top classes differ. MODE float: fails unless they
 * agree on every image; int8: fails if the accuracy drops by more than
 * MAX_DROP points. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include HEADER

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define PREDICT CAT(MODEL, _predict)
#define SIZE (CAT(MODEL, _INPUT_C) * CAT(MODEL, _INPUT_H) * CAT(MODEL, _INPUT_W))
#define CLASSES CAT(MODEL, _CLASSES)
#ifndef MAX_DROP
#define MAX_DROP 0.3
#endif

static void *slurp(const char *dir, const char *name, long *len)
{
	char path[4096];
	FILE *f;
	void *p;
	sprintf(path, "%.4000s/%s", dir, name);
	if (!(f = fopen(path, "rb")) || fseek(f, 0, SEEK_END) || (*len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    !(p = malloc((size_t)*len + 1)) || fread(p, 1, (size_t)*len, f) != (size_t)*len) {
		fprintf(stderr, "driver: cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	return p;
}

static int top(const float *p)
{
	int best = 0, k;
	for (k = 1; k < CLASSES; k++)
		if (p[k] > p[best])
			best = k;
	return best;
}

int main(int argc, char **argv)
{
	long n_img, n_lab, n_prob, i, differ = 0, right = 0, ref_right = 0;
	unsigned char *images, *labels;
	float *ref, input[SIZE], probs[CLASSES];
	int k, int8;
	if (argc != 3) {
		fprintf(stderr, "usage: driver DIR float|int8\n");
		return 2;
	}
	int8 = !strcmp(argv[2], "int8");
	images = slurp(argv[1], "images.u8", &n_img);
	labels = slurp(argv[1], "labels.u8", &n_lab);
	ref = slurp(argv[1], "probs.f32", &n_prob);
	if (n_img != n_lab * SIZE || n_prob != n_lab * CLASSES * (long)sizeof(float)) {
		fprintf(stderr, "driver: the files do not match the model's sizes\n");
		return 1;
	}
	for (i = 0; i < n_lab; i++) {
		int mine, theirs;
		for (k = 0; k < SIZE; k++)
			input[k] = images[i * SIZE + k];
		PREDICT(input, probs);
		mine = top(probs);
		theirs = top(ref + i * CLASSES);
		differ += mine != theirs;
		right += mine == labels[i];
		ref_right += theirs == labels[i];
	}
	printf("%s: accuracy %.4f, cnnrun's float model %.4f, top class differs on %ld of %ld images\n",
	       argv[2], (double)right / n_lab, (double)ref_right / n_lab, differ, n_lab);
	if (!int8 && differ) {
		fprintf(stderr, "driver: the float export must give cnnrun's top class on every image\n");
		return 1;
	}
	if (int8 && 100.0 * (double)(ref_right - right) / (double)n_lab > (double)MAX_DROP) {
		fprintf(stderr, "driver: int8 accuracy drops by more than %.1f points\n", (double)MAX_DROP);
		return 1;
	}
	return 0;
}
