/* `cnnrun predict CKPT IMAGE|FOLDER...`: the top classes of images.
 *
 * Images go through in blocks, a block in chunks: each chunk is decoded
 * and classified (net_predict, on one thread) by one task, each thread on its own
 * workspace; then the block is printed in the order given. Each
 * image's probabilities come from the same layer code as evaluation on
 * that image alone, whichever chunk and thread it lands in, so the output
 * is the same for any thread count and the same as one image at a time. */
#include <dirent.h>
#include <errno.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data/data.h"
#include "io/image.h"
#include "io/image_mnist.h"
#include "runner/runner.h"

#include "report/json.h"
#include "runner/common.h"

#define PREDICT_TOP 3
/* Images decoded, classified and printed together: at most this many, and
 * at most PREDICT_BLOCK_BYTES of their pixels (large colour inputs), but
 * at least a chunk per thread. Bounds the memory of a folder of any size
 * while keeping every thread busy. */
#define PREDICT_BLOCK 4096
#define PREDICT_BLOCK_BYTES ((size_t)32 << 20)
/* Images per net_predict call: matrix products wide enough to be efficient,
 * a workspace that stays in cache. */
#define PREDICT_CHUNK 32
/* Folders deeper than this are refused (a link that loops). */
#define PREDICT_MAX_DEPTH 32

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


/* The images to classify, in output order; every path malloc'd. */
struct path_list {
	char **paths;   /* (n) */
	int n, cap;
};

static int list_add(struct path_list *l, const char *path, size_t len)
{
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 64;
		char **p = realloc(l->paths, (size_t)cap * sizeof *p);
		if (!p)
			return -1;
		l->paths = p;
		l->cap = cap;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return -1;
	memcpy(copy, path, len);
	copy[len] = '\0';
	l->paths[l->n++] = copy;
	return 0;
}

static void list_free(struct path_list *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->paths[i]);
	free(l->paths);
}

/* An image by its name, as a folder of images is read. */
static bool image_name(const char *name)
{
	static const char *const ext[] = { ".png", ".jpg", ".jpeg", ".pgm", ".ppm" };
	size_t len = strlen(name);
	for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
		size_t e = strlen(ext[i]);
		if (len > e && !strcasecmp(name + len - e, ext[i]))
			return true;
	}
	return false;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The image files under dir, subfolders included, in byte order of their
 * names (the same on every machine, unlike the locale's); hidden entries
 * are skipped. */
static int add_folder(struct path_list *l, const char *dir, int depth, struct cnn_error *err)
{
	struct cnn_loc at = { dir, 0, 0 };
	if (depth > PREDICT_MAX_DEPTH)
		return cnn_errorf(err, at, "folders nested more than %d deep (a link that loops?)",
		                  PREDICT_MAX_DEPTH);
	DIR *d = opendir(dir);
	if (!d)
		return cnn_errorf(err, at, "cannot open folder: %s", strerror(errno));
	struct path_list names = { 0 };
	struct dirent *e;
	int rc = 0;
	while (!rc && (e = readdir(d)))
		if (e->d_name[0] != '.')
			rc = list_add(&names, e->d_name, strlen(e->d_name));
	closedir(d);
	if (rc) {
		list_free(&names);
		return cnn_errorf(err, at, "out of memory");
	}
	if (names.n > 1)
		qsort(names.paths, (size_t)names.n, sizeof *names.paths, by_name);
	size_t dlen = strlen(dir);
	bool slash = dlen && dir[dlen - 1] == '/';
	for (int i = 0; !rc && i < names.n; i++) {
		size_t len = dlen + 1 + strlen(names.paths[i]);
		char *path = malloc(len + 1);
		struct stat st;
		if (!path) {
			rc = cnn_errorf(err, at, "out of memory");
			break;
		}
		snprintf(path, len + 1, "%s%s%s", dir, slash ? "" : "/", names.paths[i]);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			rc = add_folder(l, path, depth + 1, err);
		else if (image_name(names.paths[i]) && list_add(l, path, strlen(path)))
			rc = cnn_errorf(err, at, "out of memory");
		free(path);
	}
	list_free(&names);
	return rc;
}

/* The paths of a list file, one a line; blank lines and lines starting
 * with '#' are skipped. Relative paths are used as written (relative to
 * the current folder), as the command line's are. */
static int add_list(struct path_list *l, const char *file, struct cnn_error *err)
{
	struct cnn_loc at = { file, 0, 0 };
	FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	if (!f)
		return cnn_errorf(err, at, "cannot open list: %s", strerror(errno));
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;
	while (!rc && (len = getline(&line, &cap, f)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len > 0 && line[0] != '#' && list_add(l, line, (size_t)len))
			rc = cnn_errorf(err, at, "out of memory");
	}
	if (!rc && ferror(f))
		rc = cnn_errorf(err, at, "cannot read list: %s", strerror(errno));
	free(line);
	if (f != stdin)
		fclose(f);
	return rc;
}

/* The images named on the command line and in the list. A folder that
 * holds no image, or a list that cannot be read, is a failure counted
 * with the images' (*failed) and reported on diag, like a bad image. */
static int collect_paths(const char *const *args, int n, const char *list, struct path_list *l,
                         int *failed, FILE *diag)
{
	struct cnn_error e = { 0 };
	char buf[1024];
	for (int i = 0; i < n; i++) {
		struct stat st;
		int before = l->n;
		if (stat(args[i], &st) || !S_ISDIR(st.st_mode)) {
			if (list_add(l, args[i], strlen(args[i])))
				return -1;
			continue;
		}
		if (add_folder(l, args[i], 0, &e) == 0 && l->n == before)
			cnn_errorf(&e, (struct cnn_loc){ args[i], 0, 0 }, "no PNG, JPEG, PGM or PPM file in "
			           "this folder");
		if (e.msg[0]) {
			fprintf(diag, "%s\n", cnn_error_str(&e, buf, sizeof buf));
			memset(&e, 0, sizeof e);
			(*failed)++;
		}
	}
	if (list && add_list(l, list, &e)) {
		fprintf(diag, "%s\n", cnn_error_str(&e, buf, sizeof buf));
		(*failed)++;
	}
	return 0;
}

/* One block of images: bytes in, probabilities out. */
struct block {
	int n, cap;     /* images in this block, and at most */
	uint8_t *px;    /* (cap, c, h, w) fitted bytes */
	char **error;   /* (cap) the message of an image that failed, or NULL */
	bool *dark;     /* (cap) looks dark on light (1-channel models) */
	float *probs;   /* (cap, n_classes); rows of failed images unset */
};

static bool mnist_shaped(struct shape in)
{
	return in.c == 1 && in.h == MNIST_SIDE && in.w == MNIST_SIDE;
}

/* A photo given to an MNIST-shaped model is refused for its size; it
 * needs more than a resize. */
static void suggest_mnist(struct cnn_error *err)
{
	size_t len = strlen(err->msg);
	snprintf(err->msg + len, sizeof err->msg - len,
	         " (a photo or scan of a digit: add --preprocess mnist)");
}

/* The message of an image whose own message could not be allocated. */
static char no_memory[] = "out of memory";

/* Decodes path into px, fitted to the input (channels converted, size
 * changed as data.resize says, or prepared as MNIST with --preprocess
 * mnist). Returns NULL, or the failure's message (malloc'd, or no_memory). */
static char *decode(const struct saved_model *m, enum predict_preprocess pre, const char *path,
                    uint8_t *px, bool *dark)
{
	struct shape in = m->net->input;
	struct cnn_error err = { 0 };
	struct image img;
	int rc = image_load(path, &img, &err);
	if (rc == 0) {
		if (pre == PREPROCESS_MNIST)
			rc = image_mnist_prepare(&img, px, path, &err);
		else if ((rc = image_fit(&img, in, m->cfg.data.source->resize, px, path, &err)) &&
		         mnist_shaped(in) && (img.width != in.w || img.height != in.h))
			suggest_mnist(&err);
		image_free(&img);
	}
	*dark = rc == 0 && pre == PREPROCESS_NONE && in.c == 1 && image_dark_on_light(px, in.w, in.h);
	if (rc == 0)
		return NULL;
	char buf[1024];
	const char *msg = cnn_error_str(&err, buf, sizeof buf);
	char *copy = malloc(strlen(msg) + 1);
	return copy ? strcpy(copy, msg) : no_memory;
}

/* Per thread: a chunk's input and output. */
struct worker {
	float *x;       /* (PREDICT_CHUNK, c, h, w) scaled input */
	float *probs;   /* (PREDICT_CHUNK, n_classes) */
};

/* The probabilities of the n images in me->x into me->probs, on the
 * calling thread: the same layer code as evaluation, so the same bits as
 * one image at a time. Returns 0, or -1 when out of memory. */
static int forward(const struct net *net, int n, struct worker *me)
{
	return net_predict(net, me->x, n, me->probs, 1, NULL);
}

/* Decodes and classifies block->n images of paths, a chunk of them per
 * task: decoding and the forward pass of one chunk run on one thread, with
 * no wait between them. Each task writes only its own images' slots. */
static void run_block(const struct saved_model *m, enum predict_preprocess pre, char *const *paths,
                      struct block *b, struct dataset *d, struct worker *w, int threads)
{
	size_t in = shape_size(m->net->input), k = (size_t)m->net->n_classes;
	int n_chunks = (b->n + PREDICT_CHUNK - 1) / PREDICT_CHUNK;
	d->n = b->n;
	d->images = b->px;
	#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
	for (int c = 0; c < n_chunks; c++) {
		struct worker *me = &w[omp_get_thread_num()];
		int start = c * PREDICT_CHUNK;
		int end = start + PREDICT_CHUNK < b->n ? start + PREDICT_CHUNK : b->n;
		int good[PREDICT_CHUNK], n_good = 0;   /* the images decoded, in order */
		for (int i = start; i < end; i++)
			if (!(b->error[i] = decode(m, pre, paths[i], b->px + (size_t)i * in, &b->dark[i])))
				good[n_good++] = i;
		if (!n_good)
			continue;
		dataset_batch(d, good, n_good, me->x, NULL);
		bool ok = forward(m->net, n_good, me) == 0;
		for (int j = 0; j < n_good; j++)
			if (ok)
				memcpy(b->probs + (size_t)good[j] * k, me->probs + (size_t)j * k,
				       k * sizeof *b->probs);
			else
				b->error[good[j]] = no_memory;
	}
}

static void block_free(struct block *b)
{
	free(b->px);
	free(b->error);
	free(b->dark);
	free(b->probs);
}

static int block_init(struct block *b, size_t in, size_t k, int threads)
{
	size_t cap = PREDICT_BLOCK_BYTES / in, least = (size_t)threads * PREDICT_CHUNK;
	cap = cap < least ? least : cap > PREDICT_BLOCK ? PREDICT_BLOCK : cap;
	*b = (struct block){
		.cap = (int)cap,
		.px = malloc(cap * in),
		.error = calloc(cap, sizeof *b->error),
		.dark = calloc(cap, sizeof *b->dark),
		.probs = malloc(cap * k * sizeof *b->probs),
	};
	return b->px && b->error && b->dark && b->probs ? 0 : -1;
}

static void workers_free(struct worker *w, int n)
{
	for (int t = 0; w && t < n; t++) {
		free(w[t].x);
		free(w[t].probs);
	}
	free(w);
}

static struct worker *workers_new(const struct net *net, int n)
{
	size_t k = (size_t)net->n_classes;
	struct worker *w = calloc((size_t)n, sizeof *w);
	bool ok = w != NULL;
	for (int t = 0; ok && t < n; t++) {
		w[t].x = malloc((size_t)PREDICT_CHUNK * shape_size(net->input) * sizeof *w[t].x);
		w[t].probs = malloc(PREDICT_CHUNK * k * sizeof *w[t].probs);
		ok = w[t].x && w[t].probs;
	}
	if (!ok) {
		workers_free(w, n);
		return NULL;
	}
	return w;
}

/* What is the same for every image: input and normalisation, checked once. */
static int check_model(struct saved_model *m, enum predict_preprocess pre, const char *ckpt,
                       struct dataset *d, struct cnn_error *err)
{
	struct shape in = m->net->input;
	struct cnn_loc at = { ckpt, 0, 0 };
	if (pre == PREPROCESS_MNIST && !mnist_shaped(in)) {
		cnn_errorf(err, at, "--preprocess mnist makes 28x28 grey images, and this model takes "
		           "[%d, %d, %d]; use --preprocess none", in.c, in.h, in.w);
		return CNN_BAD_CONFIG;
	}
	if (in.c != 1 && in.c != 3) {
		cnn_errorf(err, at, "the network takes %d channels; predict reads grey (1) or colour (3) "
		           "images", in.c);
		return CNN_FAILED;
	}
	*d = (struct dataset){ .shape = in, .n_classes = m->net->n_classes };
	return saved_model_normalize(m, d, err) ? CNN_FAILED : CNN_OK;
}

/* The block's lines in order: results on out, failures on diag. Counts
 * the failures and the dark-on-light images (keeping the first's name). */
static void print_block(const struct saved_model *m, char *const *paths, const struct block *b,
                        bool json, FILE *out, FILE *diag, int *failed, int *dark,
                        const char **first_dark)
{
	int n_classes = m->net->n_classes, top[PREDICT_TOP];
	/* names only when they are one per output */
	char *const *names = m->cfg.data.n_classes == n_classes ? m->cfg.data.class_names : NULL;
	for (int i = 0; i < b->n; i++) {
		if (b->error[i]) {
			fprintf(diag, "%s\n", b->error[i]);
			(*failed)++;
			continue;
		}
		if (b->dark[i] && !(*dark)++)
			*first_dark = paths[i];
		const float *probs = b->probs + (size_t)i * n_classes;
		int k = top_classes(probs, n_classes, top, PREDICT_TOP);
		if (json)
			print_json(out, paths[i], probs, n_classes, top, k, names);
		else
			print_text(out, paths[i], probs, top, k, names);
	}
}

/* One line on diag when images look dark on light to a grey model. */
static void warn_dark(const struct shape in, int dark, int n, const char *first, FILE *diag)
{
	if (!dark)
		return;
	bool mnist = mnist_shaped(in);
	fprintf(diag, "cnnrun: warning: %d of %d image%s look%s dark on light (border brighter than "
	        "the rest, e.g. %s); this model takes light digits on a dark background%s\n",
	        dark, n, n == 1 ? "" : "s", dark == 1 && n == 1 ? "s" : "", first,
	        mnist ? ", as MNIST: for a photo or scan of a digit use --preprocess mnist" :
	                ": invert the images");
}

int run_predict_with(const char *ckpt, const char *const *images, int n,
                     const struct predict_options *o, FILE *out, FILE *diag, struct cnn_error *err)
{
	struct saved_model m;
	struct path_list l = { 0 };
	struct block b = { 0 };
	struct worker *w = NULL;
	struct dataset d;
	int threads = o->threads > 0 ? o->threads : omp_get_num_procs();
	int failed = 0, dark = 0, status = CNN_FAILED;
	const char *first_dark = NULL;
	if (saved_model_open(ckpt, 1, threads, &m, err))
		return CNN_FAILED;
	if ((status = check_model(&m, o->preprocess, ckpt, &d, err)) != CNN_OK)
		goto out;
	status = CNN_FAILED;
	if (block_init(&b, shape_size(m.net->input), (size_t)m.net->n_classes, threads) ||
	    !(w = workers_new(m.net, threads)) || collect_paths(images, n, o->list, &l, &failed, diag)) {
		cnn_errorf_plain(err, "out of memory");
		goto out;
	}
	int unlisted = failed;   /* folders without images, an unreadable list */
	for (int start = 0; start < l.n; start += b.cap) {
		b.n = l.n - start < b.cap ? l.n - start : b.cap;
		run_block(&m, o->preprocess, l.paths + start, &b, &d, w, threads);
		print_block(&m, l.paths + start, &b, o->json, out, diag, &failed, &dark, &first_dark);
		for (int i = 0; i < b.n; i++) {
			if (b.error[i] != no_memory)
				free(b.error[i]);
			b.error[i] = NULL;
		}
	}
	warn_dark(m.net->input, dark, l.n, first_dark, diag);
	status = CNN_OK;
	if (failed) {
		int total = l.n + unlisted;
		cnn_errorf_plain(err, "%d of %d image%s could not be classified", failed, total,
		                 total == 1 ? "" : "s");
		status = CNN_FAILED;
	}
out:
	workers_free(w, threads);
	block_free(&b);
	list_free(&l);
	saved_model_close(&m);
	return status;
}

int run_predict(const char *ckpt, const char *const *images, int n, bool json, FILE *out,
                FILE *diag, struct cnn_error *err)
{
	return run_predict_with(ckpt, images, n, &(struct predict_options){ .json = json }, out, diag,
	                        err);
}
