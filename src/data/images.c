/* A set of image files with their labels (from a folder tree or a list
 * file), decoded into a dataset on all cores.
 *
 * Each image is decoded, fitted to the input (image_fit) and stored as
 * bytes; the decoded file is freed at once, so memory holds the dataset
 * and one image per thread. When several files are bad, the one reported is
 * the first in the set's order, whatever the thread timing. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/data.h"
#include "io/image.h"
#include "data/images.h"

/* Sets this large get a progress line. */
#define PROGRESS_MIN 2000

int image_set_add(struct image_set *s, const char *path, int label, int line)
{
	if (s->n == s->cap) {
		int cap = s->cap ? 2 * s->cap : 256;
		struct image_entry *e = realloc(s->e, (size_t)cap * sizeof *e);
		if (!e)
			return -1;
		s->e = e;
		s->cap = cap;
	}
	if (!(s->e[s->n].path = strdup(path)))
		return -1;
	s->e[s->n].label = label;
	s->e[s->n].line = line;
	s->n++;
	return 0;
}

void image_set_free(struct image_set *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->e[i].path);
	free(s->e);
	memset(s, 0, sizeof *s);
}

/* One image into its place in the dataset; err names the file (and the list
 * line it came from). */
static int decode_one(const struct image_set *s, int i, const struct data_request *req, uint8_t *dst,
                      struct cnn_error *err)
{
	struct image img;
	const struct image_entry *e = &s->e[i];
	if (image_load(e->path, &img, err) ||
	    image_fit(&img, req->input, req->resize, dst, e->path, err)) {
		image_free(&img);
		if (s->list && e->line) {
			/* where the list names it, then the file's own message */
			char buf[sizeof err->msg];
			struct cnn_error inner = *err;
			cnn_error_str(&inner, buf, sizeof buf);
			cnn_errorf(err, (struct cnn_loc){ s->list, e->line, 1 }, "%s", buf);
		}
		return -1;
	}
	image_free(&img);
	return 0;
}

int image_set_load(const struct image_set *s, const char *what, const struct data_request *req,
                   struct dataset *out, struct cnn_error *err)
{
	const size_t ss = shape_size(req->input);
	memset(out, 0, sizeof *out);
	if (s->n == 0)
		return cnn_errorf_plain(err, "%s: no images", what);
	out->images = data_alloc_images((size_t)s->n * ss);
	out->labels = malloc((size_t)s->n);
	if (!out->images || !out->labels) {
		dataset_free(out);
		return cnn_errorf_plain(err, "%s: out of memory for %d images of %zu bytes", what, s->n, ss);
	}
	out->n = s->n;
	out->shape = req->input;
	out->n_classes = req->n_classes;
	for (int i = 0; i < s->n; i++)
		out->labels[i] = (uint8_t)s->e[i].label;

	const bool progress = !req->quiet && s->n >= PROGRESS_MIN;
	const bool tty = progress && isatty(STDERR_FILENO);
	const int every = s->n / 10 > 1000 ? s->n / 10 : 1000;
	int first_bad = s->n, done = 0;
	struct cnn_error bad = { 0 };
	int threads = req->threads > 0 ? req->threads : omp_get_num_procs();
	/* Files take different times to decode: hand them out a few at a time. */
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads)
	for (int i = 0; i < s->n; i++) {
		int stop;
#pragma omp atomic read
		stop = first_bad;
		if (i > stop)
			continue;
		struct cnn_error e;
		if (decode_one(s, i, req, out->images + (size_t)i * ss, &e)) {
#pragma omp critical(image_set_error)
			if (i < first_bad) {
				/* atomic: other threads read it outside this section */
#pragma omp atomic write
				first_bad = i;
				bad = e;
			}
		}
		if (progress) {
			int now;
#pragma omp atomic capture
			now = ++done;
			/* a terminal line is rewritten often; a log gets a line per tenth */
			if (now % (tty ? 1000 : every) == 0 || now == s->n) {
#pragma omp critical(image_set_progress)
				fprintf(stderr, tty ? "\r%s: decoded %d of %d images" : "%s: decoded %d of %d images\n",
				        what, now, s->n);
			}
		}
	}
	if (tty)
		fputc('\n', stderr);
	if (first_bad < s->n) {
		dataset_free(out);
		*err = bad;
		/* loc.file pointed into bad's own copy of the name */
		if (err->loc.file)
			err->loc.file = err->file;
		return -1;
	}
	return 0;
}
