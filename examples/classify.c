/* classify: the top classes of an image, from a checkpoint trained by cnnrun.
 *
 *   classify CKPT IMAGE [K]
 *
 * IMAGE is a binary PGM (P5, grayscale) for a one-channel model or a binary
 * PPM (P6, RGB) for a three-channel one, of the model's width and height,
 * 8 bits per sample. Prints the K (default 3) most probable classes, one a
 * line: "NAME PROBABILITY".
 *
 * Only cnnrun.h is used. The image reader lives here rather than in the
 * library: a program that embeds a model has its pixels already (a camera,
 * a decoder of its own), and cnn_model_predict_raw takes them as they are.
 *
 * Build against an installed cnnrun:
 *   cc -std=c99 classify.c $(pkg-config --cflags --libs cnnrun) -o classify
 * or with CMake: find_package(cnnrun), target_link_libraries(... cnnrun::cnnrun). */
#include <stdio.h>
#include <stdlib.h>

#include <cnnrun.h>

/* Skips whitespace and '#' comments between the fields of a PNM header. */
static void skip_space(FILE *f)
{
	int ch;
	while ((ch = getc(f)) != EOF) {
		if (ch == '#') {
			while ((ch = getc(f)) != EOF && ch != '\n')
				;
		} else if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
			ungetc(ch, f);
			return;
		}
	}
}

/* Reads a P5 or P6 file of exactly c channels and w x h pixels into px,
 * planar (c, h, w) as the model takes it, values 0..255. Returns 0, or -1
 * with a message printed. */
static int read_pnm(const char *path, int c, int h, int w, float *px)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return -1;
	}
	char magic[3] = { 0 };
	int fw = 0, fh = 0, maxval = 0, rc = -1;
	if (fread(magic, 1, 2, f) != 2 || magic[0] != 'P' || (magic[1] != '5' && magic[1] != '6')) {
		fprintf(stderr, "%s: not a binary PGM (P5) or PPM (P6) image\n", path);
		goto out;
	}
	int channels = magic[1] == '5' ? 1 : 3;
	skip_space(f);
	if (fscanf(f, "%d", &fw) != 1)
		goto bad_header;
	skip_space(f);
	if (fscanf(f, "%d", &fh) != 1)
		goto bad_header;
	skip_space(f);
	if (fscanf(f, "%d", &maxval) != 1 || maxval < 1 || maxval > 255)
		goto bad_header;
	getc(f);   /* the single whitespace before the pixels */
	if (channels != c || fw != w || fh != h) {
		fprintf(stderr, "%s: %dx%d with %d channel(s); the model takes %dx%d with %d\n", path, fw, fh,
		        channels, w, h, c);
		goto out;
	}
	/* PNM stores pixels interleaved (RGBRGB...); the model takes planes */
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			for (int k = 0; k < c; k++) {
				int v = getc(f);
				if (v == EOF) {
					fprintf(stderr, "%s: truncated\n", path);
					goto out;
				}
				px[((size_t)k * h + y) * w + x] = (float)(v * 255 / maxval);
			}
	rc = 0;
	goto out;
bad_header:
	fprintf(stderr, "%s: bad header (expected width, height and a maximum value up to 255)\n", path);
out:
	fclose(f);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: %s CKPT IMAGE.pgm|IMAGE.ppm [K]\n", argv[0]);
		return 2;
	}
	char msg[CNN_ERROR_MAX];
	cnn_model *m;
	cnn_status s = cnn_model_load_err(argv[1], &m, msg, sizeof msg);
	if (s != CNN_SUCCESS) {
		fprintf(stderr, "%s\n", msg);
		return 1;
	}
	int c, h, w, k = cnn_model_classes(m), top = argc == 4 ? atoi(argv[3]) : 3;
	cnn_model_input_shape(m, &c, &h, &w);
	float *pixels = malloc((size_t)cnn_model_input_size(m) * sizeof *pixels);
	float *probs = malloc((size_t)k * sizeof *probs);
	int status = 1;
	if (!pixels || !probs) {
		fprintf(stderr, "out of memory\n");
		goto out;
	}
	if (read_pnm(argv[2], c, h, w, pixels))
		goto out;
	if ((s = cnn_model_predict_raw(m, pixels, 1, probs)) != CNN_SUCCESS) {
		fprintf(stderr, "%s: %s\n", argv[2], cnn_status_str(s));
		goto out;
	}
	/* the `top` most probable, highest first; ties to the lower class */
	for (int i = 0; i < top && i < k; i++) {
		int best = -1;
		for (int j = 0; j < k; j++)
			if (probs[j] >= 0 && (best < 0 || probs[j] > probs[best]))
				best = j;
		printf("%s %.4f\n", cnn_model_class_name(m, best), (double)probs[best]);
		probs[best] = -1;   /* taken */
	}
	status = 0;
out:
	free(probs);
	free(pixels);
	cnn_model_free(m);
	return status;
}
