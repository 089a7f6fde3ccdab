/* `cnnrun predict CKPT IMAGE|FOLDER...`: the top classes of images.
 *
 * Images go through in blocks, a block in chunks: each chunk is decoded
 * and classified (net_predict, on one thread) by one task, each thread on its own
 * workspace; then the block is printed in the order given. Each
 * image's probabilities come from the same layer code as evaluation on
 * that image alone, whichever chunk and thread it lands in, so the output
 * is the same for any thread count and the same as one image at a time.
 *
 * What else a run costs is kept small, for folders of small images (MNIST's
 * 10,000 PNGs): each thread reads files into one buffer and decodes with one
 * image reader (open, fstat, read, close per file; buffers and inflate state
 * kept from image to image);
 * a name on the command line is not stat'ed first: the open that reads it
 * finds out whether it is a folder; folders are listed by their entries'
 * types (d_type), with stat only where the type is unknown or a link; and
 * each chunk's lines are formatted by its task, so that printing a block is
 * writing its text. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data/data.h"
#include "io/fileio.h"
#include "io/folder.h"
#include "io/image.h"
#include "io/image_mnist.h"
#include "runner/runner.h"

#include "report/json.h"
#include "runner/common.h"
#include "runner/predict.h"

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

int predict_prob(char *buf, float p)
{
	if (!(p >= 0 && p <= 1) || signbit(p))   /* NaN, -0 and the rest: as printf */
		return snprintf(buf, PREDICT_PROB_MAX, "%.4f", (double)p);
	long r = lrint((double)p * 10000.0);       /* 0 ... 10000, exact before rounding */
	buf[0] = (char)('0' + r / 10000);
	buf[1] = '.';
	for (int i = 5; i >= 2; i--, r /= 10)
		buf[i] = (char)('0' + r % 10);
	buf[6] = '\0';
	return 6;
}

/* A class number's decimal digits into buf (16 bytes), as "%d" prints it;
 * glibc's snprintf took its slow positional path for each. */
static const char *class_text(char *buf, int c)
{
	char *p = buf + 15;
	unsigned u = c < 0 ? 0u - (unsigned)c : (unsigned)c;
	*p = '\0';
	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (c < 0)
		*--p = '-';
	return p;
}

/* Appends n bytes of s at *at if they fit before end. */
static bool put_text(char **at, const char *end, const char *s, size_t n)
{
	if (n > (size_t)(end - *at))
		return false;
	memcpy(*at, s, n);
	*at += n;
	return true;
}

/* One line built in a buffer and written at once (no printf per field);
 * a line too long for it (long names) goes through fprintf instead. */
void predict_print_text(FILE *out, const char *path, const float *probs, const int *top, int k,
                        char *const *names)
{
	char line[1024], *at = line, num[PREDICT_PROB_MAX], cls[16];
	const char *end = line + sizeof line;
	bool fits = put_text(&at, end, path, strlen(path)) && put_text(&at, end, ":", 1);
	for (int i = 0; fits && i < k; i++) {
		const char *c = names ? names[top[i]] : class_text(cls, top[i]);
		int n = predict_prob(num, probs[top[i]]);
		fits = put_text(&at, end, i ? ", " : " ", i ? 2 : 1) && put_text(&at, end, c, strlen(c)) &&
		       put_text(&at, end, " (", 2) && put_text(&at, end, num, (size_t)n) &&
		       put_text(&at, end, ")", 1);
	}
	if (fits && put_text(&at, end, "\n", 1)) {
		fwrite(line, 1, (size_t)(at - line), out);
		return;
	}
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
	bool *arg;      /* (n) named on the command line: may be a folder */
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
		bool *a = realloc(l->arg, (size_t)cap * sizeof *a);
		if (!a)
			return -1;
		l->arg = a;
		l->cap = cap;
	}
	l->arg[l->n] = false;
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
	free(l->arg);
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

/* The image files under dir, subfolders included, in byte order of their
 * names (the same on every machine, unlike the locale's); hidden entries
 * are skipped. */
static int add_folder(struct path_list *l, const char *dir, int depth, struct cnn_error *err)
{
	struct cnn_loc at = { dir, 0, 0 };
	if (depth > PREDICT_MAX_DEPTH)
		return cnn_errorf(err, at, "folders nested more than %d deep (a link that loops?)",
		                  PREDICT_MAX_DEPTH);
	struct folder_entry *v;
	int n, rc = 0;
	if (folder_list(dir, &v, &n, err))
		return -1;
	size_t dlen = strlen(dir);
	bool slash = dlen && dir[dlen - 1] == '/';
	for (int i = 0; !rc && i < n; i++) {
		unsigned char t = v[i].type;
		bool image = image_name(v[i].name);
		if (!image && !folder_type_may_be_folder(t))
			continue;   /* neither an image nor (maybe) a folder: no path, no stat */
		size_t len = dlen + 1 + strlen(v[i].name);
		char *path = malloc(len + 1);
		if (!path) {
			rc = cnn_errorf(err, at, "out of memory");
			break;
		}
		snprintf(path, len + 1, "%s%s%s", dir, slash ? "" : "/", v[i].name);
		if (folder_entry_kind(path, t) == FOLDER_KIND_FOLDER)
			rc = add_folder(l, path, depth + 1, err);
		else if (image && list_add(l, path, strlen(path)))
			rc = cnn_errorf(err, at, "out of memory");
		free(path);
	}
	folder_entries_free(v, n);
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

/* The images named on the command line, then those of the list. The
 * command line's are not stat'ed here: one that the open reading it finds
 * to be a folder is expanded then, in its place (predict_folder). A list
 * that cannot be read is a failure counted with the images' (*failed) and
 * reported on diag, like a bad image. */
static int collect_paths(const char *const *args, int n, const char *list, struct path_list *l,
                         int *failed, FILE *diag)
{
	struct cnn_error e = { 0 };
	char buf[1024];
	for (int i = 0; i < n; i++) {
		if (list_add(l, args[i], strlen(args[i])))
			return -1;
		l->arg[l->n - 1] = true;
	}
	if (list && add_list(l, list, &e)) {
		fprintf(diag, "%s\n", cnn_error_str(&e, buf, sizeof buf));
		(*failed)++;
	}
	return 0;
}

/* One block of images: bytes in, lines of text out. */
struct block {
	int n, cap;       /* images in this block, and at most */
	uint8_t *px;      /* (cap, c, h, w) fitted bytes */
	char **error;     /* (cap) the message of an image that failed, or NULL */
	bool *dark;       /* (cap) looks dark on light (1-channel models) */
	bool *folder;     /* (cap) a name from the command line that is a folder */
	char **text;      /* (cap / PREDICT_CHUNK + 1) each chunk's lines, malloc'd, or NULL */
	size_t *end;      /* (cap) where image i's line ends in its chunk's text */
};

/* Per thread: a chunk's input and output, and the reader that decodes. */
struct worker {
	float *x;                     /* (PREDICT_CHUNK, c, h, w) scaled input */
	float *probs;                 /* (PREDICT_CHUNK, n_classes) */
	struct image_reader *reader;
};

/* What one run shares: the model and options, the threads' workers, where
 * lines go, and what was counted. */
struct predict_run {
	const struct saved_model *m;
	const struct predict_options *o;
	struct dataset d;
	struct worker *w;
	int threads;
	FILE *out, *diag;
	int images;       /* classified or failed, folders not counted */
	int unlisted;     /* folders without images, an unreadable list */
	int failed;       /* images, folders and the list that failed */
	int dark;         /* images that look dark on light */
	char *first_dark; /* the first of them (malloc'd) */
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

/* A malloc'd copy of s, or NULL. */
static char *copy_string(const char *s)
{
	char *c = malloc(strlen(s) + 1);
	return c ? strcpy(c, s) : NULL;
}

/* The message of an image whose own message could not be allocated. */
static char no_memory[] = "out of memory";

/* Whether path, which could not be read as a file, is a folder after all
 * (one that cannot be opened, say): the error path only. */
static bool unreadable_folder(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Decodes path into px with reader, fitted to the input (channels
 * converted, size changed as data.resize says, or prepared as MNIST with
 * --preprocess mnist). Returns NULL, or the failure's message (malloc'd,
 * or no_memory). A name from the command line (arg) that is a folder sets
 * *folder and is no failure. */
static char *decode(const struct predict_run *r, struct image_reader *reader, const char *path,
                    bool arg, uint8_t *px, bool *dark, bool *folder)
{
	struct shape in = r->m->net->input;
	enum predict_preprocess pre = r->o->preprocess;
	struct cnn_error err = { 0 };
	struct image img;
	int rc = image_reader_load(reader, path, &img, &err);
	*dark = *folder = false;
	if (arg && (rc == FILE_IS_FOLDER || (rc && unreadable_folder(path)))) {
		*folder = true;
		return NULL;
	}
	if (rc == 0) {
		if (pre == PREPROCESS_MNIST)
			rc = image_mnist_prepare(&img, px, path, &err);
		else if ((rc = image_fit(&img, in, r->m->cfg.data.source->resize, px, path, &err)) &&
		         mnist_shaped(in) && (img.width != in.w || img.height != in.h))
			suggest_mnist(&err);
	}
	*dark = rc == 0 && pre == PREPROCESS_NONE && in.c == 1 && image_dark_on_light(px, in.w, in.h);
	if (rc == 0)
		return NULL;
	char buf[1024];
	char *copy = copy_string(cnn_error_str(&err, buf, sizeof buf));
	return copy ? copy : no_memory;
}

/* The probabilities of the n images in me->x into me->probs, on the
 * calling thread: the same layer code as evaluation, so the same bits as
 * one image at a time. Returns 0, or -1 when out of memory. */
static int forward(const struct net *net, int n, struct worker *me)
{
	return net_predict(net, me->x, n, me->probs, 1, NULL);
}

/* The lines of a chunk's classified images (good[j], probabilities in
 * me->probs row j) into b->text[c]; b->end[i] for every image of the
 * chunk [start, end). Out of memory fails the chunk's images. */
static void format_chunk(const struct predict_run *r, char *const *paths, struct block *b, int c,
                         int start, int end, const int *good, int n_good, const struct worker *me)
{
	int n_classes = r->m->net->n_classes, top[PREDICT_TOP];
	/* names only when they are one per output */
	char *const *names = r->m->cfg.data.n_classes == n_classes ? r->m->cfg.data.class_names : NULL;
	char *text = NULL;
	size_t size = 0;
	FILE *f = n_good ? open_memstream(&text, &size) : NULL;
	long at = 0;
	for (int i = start, j = 0; i < end; i++) {
		if (f && j < n_good && good[j] == i) {
			const float *probs = me->probs + (size_t)j++ * n_classes;
			int k = top_classes(probs, n_classes, top, PREDICT_TOP);
			if (r->o->json)
				print_json(f, paths[i], probs, n_classes, top, k, names);
			else
				predict_print_text(f, paths[i], probs, top, k, names);
			at = ftell(f);
		}
		b->end[i] = at < 0 ? 0 : (size_t)at;
	}
	if (n_good && (!f || fclose(f) || at < 0)) {
		free(text);
		text = NULL;
		for (int j = 0; j < n_good; j++)
			b->error[good[j]] = no_memory;
		for (int i = start; i < end; i++)
			b->end[i] = 0;
	}
	b->text[c] = text;
}

/* Decodes, classifies and formats b->n images of paths, a chunk of them per
 * task: the three run on one thread, with no wait between them. Each task
 * writes only its own images' and chunk's slots. */
static void run_block(struct predict_run *r, char *const *paths, const bool *arg, struct block *b)
{
	size_t in = shape_size(r->m->net->input);
	int n_chunks = (b->n + PREDICT_CHUNK - 1) / PREDICT_CHUNK;
	/* no thread without a chunk: a few images start no team */
	int threads = r->threads < n_chunks ? r->threads : n_chunks;
	r->d.n = b->n;
	r->d.images = b->px;
	#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
	for (int c = 0; c < n_chunks; c++) {
		struct worker *me = &r->w[omp_get_thread_num()];
		int start = c * PREDICT_CHUNK;
		int end = start + PREDICT_CHUNK < b->n ? start + PREDICT_CHUNK : b->n;
		int good[PREDICT_CHUNK], n_good = 0;   /* the images decoded, in order */
		for (int i = start; i < end; i++)
			if (!(b->error[i] = decode(r, me->reader, paths[i], arg && arg[i],
			                           b->px + (size_t)i * in, &b->dark[i], &b->folder[i])) &&
			    !b->folder[i])
				good[n_good++] = i;
		bool ok = true;
		if (n_good) {
			dataset_batch(&r->d, good, n_good, me->x, NULL);
			ok = forward(r->m->net, n_good, me) == 0;
		}
		if (!ok)
			for (int j = 0; j < n_good; j++)
				b->error[good[j]] = no_memory;
		format_chunk(r, paths, b, c, start, end, good, ok ? n_good : 0, me);
	}
}

static void block_free(struct block *b)
{
	free(b->px);
	free(b->error);
	free(b->dark);
	free(b->folder);
	free(b->text);
	free(b->end);
}

static int block_init(struct block *b, size_t in, int threads)
{
	size_t cap = PREDICT_BLOCK_BYTES / in, least = (size_t)threads * PREDICT_CHUNK;
	cap = cap < least ? least : cap > PREDICT_BLOCK ? PREDICT_BLOCK : cap;
	*b = (struct block){
		.cap = (int)cap,
		.px = malloc(cap * in),
		.error = calloc(cap, sizeof *b->error),
		.dark = calloc(cap, sizeof *b->dark),
		.folder = calloc(cap, sizeof *b->folder),
		.text = calloc(cap / PREDICT_CHUNK + 1, sizeof *b->text),
		.end = calloc(cap, sizeof *b->end),
	};
	return b->px && b->error && b->dark && b->folder && b->text && b->end ? 0 : -1;
}

static void workers_free(struct worker *w, int n)
{
	for (int t = 0; w && t < n; t++) {
		free(w[t].x);
		free(w[t].probs);
		image_reader_free(w[t].reader);
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
		w[t].reader = image_reader_new();
		ok = w[t].x && w[t].probs && w[t].reader;
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

/* A failure that is not one image's (a folder's, say): on diag, counted. */
static void report(struct predict_run *r, const struct cnn_error *e)
{
	char buf[1024];
	fprintf(r->diag, "%s\n", cnn_error_str(e, buf, sizeof buf));
	r->failed++;
	r->unlisted++;
}

static int predict_paths(struct predict_run *r, const struct path_list *l);

/* A folder named on the command line: its images, in its place. */
static void predict_folder(struct predict_run *r, const char *dir)
{
	struct cnn_error e = { 0 };
	struct path_list l = { 0 };
	if (add_folder(&l, dir, 0, &e) == 0 && l.n == 0)
		cnn_errorf(&e, (struct cnn_loc){ dir, 0, 0 }, "no PNG, JPEG, PGM or PPM file in "
		           "this folder");
	if (!e.msg[0] && predict_paths(r, &l))
		cnn_errorf(&e, (struct cnn_loc){ dir, 0, 0 }, "out of memory");
	if (e.msg[0])
		report(r, &e);
	list_free(&l);
}

/* Writes text[*from, to) of a chunk's lines on out. */
static void put_lines(FILE *out, const char *text, size_t *from, size_t to)
{
	if (to > *from)
		fwrite(text + *from, 1, to - *from, out);
	*from = to;
}

/* The block's lines in order: results on out, failures on diag, folders
 * expanded in their place. Counts the images, the failures and the
 * dark-on-light images (keeping the first's name). */
static void print_block(struct predict_run *r, char *const *paths, const struct block *b)
{
	for (int c = 0; c * PREDICT_CHUNK < b->n; c++) {
		int start = c * PREDICT_CHUNK;
		int end = start + PREDICT_CHUNK < b->n ? start + PREDICT_CHUNK : b->n;
		size_t from = 0;
		for (int i = start; i < end; i++) {
			if (!b->folder[i] && !b->error[i]) {
				r->images++;
				if (b->dark[i] && !r->dark++)
					r->first_dark = copy_string(paths[i]);
				continue;
			}
			put_lines(r->out, b->text[c], &from, i > start ? b->end[i - 1] : 0);
			if (b->folder[i]) {
				predict_folder(r, paths[i]);
				continue;
			}
			r->images++;
			fprintf(r->diag, "%s\n", b->error[i]);
			r->failed++;
		}
		put_lines(r->out, b->text[c], &from, b->end[end - 1]);
	}
}

/* Classifies and prints l's images, a block at a time. Returns 0, or -1
 * when out of memory. */
static int predict_paths(struct predict_run *r, const struct path_list *l)
{
	struct block b;
	if (block_init(&b, shape_size(r->m->net->input), r->threads)) {
		block_free(&b);
		return -1;
	}
	for (int start = 0; start < l->n; start += b.cap) {
		b.n = l->n - start < b.cap ? l->n - start : b.cap;
		run_block(r, l->paths + start, l->arg + start, &b);
		print_block(r, l->paths + start, &b);
		for (int i = 0; i < b.n; i++) {
			if (b.error[i] != no_memory)
				free(b.error[i]);
			b.error[i] = NULL;
		}
		for (int c = 0; c * PREDICT_CHUNK < b.n; c++) {
			free(b.text[c]);
			b.text[c] = NULL;
		}
	}
	block_free(&b);
	return 0;
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
	int threads = o->threads > 0 ? o->threads : omp_get_num_procs();
	struct predict_run r = { .m = &m, .o = o, .threads = threads, .out = out, .diag = diag };
	int status = CNN_FAILED;
	/* one thread for the net: predict's own threads call it, each with a
	 * chunk (net_pin_threads and the BLAS reservation are for nets that
	 * split a batch themselves) */
	if (saved_model_open_eval(ckpt, 1, &m, err))
		return CNN_FAILED;
	if ((status = check_model(&m, o->preprocess, ckpt, &r.d, err)) != CNN_OK)
		goto out;
	status = CNN_FAILED;
	if (!(r.w = workers_new(m.net, threads)) || collect_paths(images, n, o->list, &l, &r.failed, diag)) {
		cnn_errorf_plain(err, "out of memory");
		goto out;
	}
	r.unlisted = r.failed;   /* an unreadable list */
	if (predict_paths(&r, &l)) {
		cnn_errorf_plain(err, "out of memory");
		goto out;
	}
	warn_dark(m.net->input, r.dark, r.images, r.first_dark ? r.first_dark : "?", diag);
	status = CNN_OK;
	if (r.failed) {
		int total = r.images + r.unlisted;
		cnn_errorf_plain(err, "%d of %d image%s could not be classified", r.failed, total,
		                 total == 1 ? "" : "s");
		status = CNN_FAILED;
	}
out:
	workers_free(r.w, threads);
	free(r.first_dark);
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
