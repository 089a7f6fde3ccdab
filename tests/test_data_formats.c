/* The data formats on files this test writes: folders of PNG, JPEG and PPM
 * images (grey and colour, mixed sizes), list files, CIFAR's binary files;
 * the images they give, the class names they find, and every refusal with
 * its message. Also the registry (every format creates from a minimal
 * config) and per-channel standardisation against a hand computation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <zlib.h>

#include "config/config.h"
#include "data/data.h"
#include "io/image.h"
#include "plot/png.h"
#include "testutil.h"

static char *root;

static void rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st))
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;
		char sub[4096];
		while (d && (e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
			rm_tree(sub);
		}
		if (d)
			closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

/* root/rel, with its folders made. */
static void put_file(const char *rel, const void *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0777);
			*p = '/';
		}
	}
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void put_dir(const char *rel)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s/x", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0777);
			*p = '/';
		}
	}
}

/* (h, w, c) pixels, a pattern that differs per image */
static void pattern(uint8_t *px, int w, int h, int c, int seed)
{
	for (int i = 0; i < w * h * c; i++)
		px[i] = (uint8_t)(seed * 29 + i * 7);
}

static void put_png(const char *rel, const uint8_t *px, int w, int h, int c)
{
	uint8_t *data;
	size_t len;
	struct cnn_error err;
	assert_int_equal(png_encode(px, w, h, c, &data, &len, &err), 0);
	put_file(rel, data, len);
	free(data);
}

static void put_ppm(const char *rel, const uint8_t *px, int w, int h, int c)
{
	char hdr[64];
	int n = snprintf(hdr, sizeof hdr, "P%d\n%d %d\n255\n", c == 3 ? 6 : 5, w, h);
	size_t len = (size_t)n + (size_t)w * h * c;
	uint8_t *data = malloc(len);
	memcpy(data, hdr, (size_t)n);
	memcpy(data + n, px, (size_t)w * h * c);
	put_file(rel, data, len);
	free(data);
}

/* A JPEG through libjpeg's compressor (quality 95). */
static void jpeg_bytes(const uint8_t *px, int w, int h, int c, unsigned char **out, unsigned long *len)
{
	struct jpeg_compress_struct ci;
	struct jpeg_error_mgr jerr;
	ci.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&ci);
	*out = NULL;
	*len = 0;
	jpeg_mem_dest(&ci, out, len);
	ci.image_width = (JDIMENSION)w;
	ci.image_height = (JDIMENSION)h;
	ci.input_components = c;
	ci.in_color_space = c == 3 ? JCS_RGB : JCS_GRAYSCALE;
	jpeg_set_defaults(&ci);
	jpeg_set_quality(&ci, 95, TRUE);
	jpeg_start_compress(&ci, TRUE);
	while (ci.next_scanline < ci.image_height) {
		JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline * w * c);
		jpeg_write_scanlines(&ci, &row, 1);
	}
	jpeg_finish_compress(&ci);
	jpeg_destroy_compress(&ci);
}

static void put_jpeg(const char *rel, const uint8_t *px, int w, int h, int c)
{
	unsigned char *data;
	unsigned long len;
	jpeg_bytes(px, w, h, c, &data, &len);
	put_file(rel, data, len);
	free(data);
}

/* ------------------------------------------------------------------ */

struct loaded {
	struct cfg_doc doc;
	struct data_source *src;
	struct data_probe probe;
	struct dataset d;
	struct cnn_error err;
	char msg[1024];
};

/* Creates the format from `yaml` (a data mapping) and probes it. */
static int open_source(struct loaded *l, const char *yaml)
{
	memset(l, 0, sizeof *l);
	assert_int_equal(cfg_load_string(yaml, strlen(yaml), "d.yaml", &l->doc, &l->err), 0);
	struct cfg_node *map = l->doc.root;
	struct cfg_node *fmt = cfg_get(map, "format");
	const struct data_format *f = data_format_find(fmt->text);
	assert_non_null(f);
	int rc = f->create(map, &l->src, &l->err);
	if (l->src)
		l->src->format = f;
	if (rc == 0)
		rc = f->probe(l->src, &l->probe, &l->err);
	if (rc)
		cnn_error_str(&l->err, l->msg, sizeof l->msg);
	return rc;
}

static int load_split(struct loaded *l, enum data_split split, struct shape input, char **names, int n)
{
	struct data_request req = {
		.input = input, .resize = l->src->resize, .n_classes = n,
		.class_names = (const char *const *)names, .threads = 2, .quiet = true,
	};
	dataset_free(&l->d);
	int rc = l->src->format->load(l->src, split, NULL, &req, &l->d, &l->err);
	if (rc < 0)
		cnn_error_str(&l->err, l->msg, sizeof l->msg);
	return rc;
}

static void close_source(struct loaded *l)
{
	dataset_free(&l->d);
	data_probe_free(&l->probe);
	if (l->src)
		l->src->format->destroy(l->src);
	cfg_free(&l->doc);
}

/* A message with every mention of root replaced by "ROOT". */
static const char *rooted(const char *msg)
{
	static char buf[1024];
	size_t used = 0, n = strlen(root);
	for (const char *p = msg; *p && used + 5 < sizeof buf;) {
		if (!strncmp(p, root, n)) {
			memcpy(buf + used, "ROOT", 4);
			used += 4;
			p += n;
		} else {
			buf[used++] = *p++;
		}
	}
	buf[used] = '\0';
	return buf;
}

/* ------------------------------------------------------------------ */

static int setup(void **state)
{
	(void)state;
	root = test_tmpdir();
	return root ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	rm_tree(root);
	free(root);
	return 0;
}

static void every_format_is_registered(void **state)
{
	(void)state;
	int n;
	const struct data_format *const *f = data_formats(&n);
	assert_true(n >= 6);
	for (int i = 0; i < n; i++) {
		assert_ptr_equal(data_format_find(f[i]->name), f[i]);
		assert_non_null(f[i]->create);
		assert_non_null(f[i]->load);
		assert_non_null(f[i]->destroy);
		/* every format's keys: the minimal config creates it */
		char yaml[256];
		snprintf(yaml, sizeof yaml, "{format: %s, path: x, train: x, test: x, classes: [a, b]}\n", f[i]->name);
		if (!strcmp(f[i]->name, "idx"))
			snprintf(yaml, sizeof yaml, "{format: idx, train: {images: a, labels: b}, "
			         "test: {images: c, labels: d}, classes: [a, b]}\n");
		struct cfg_doc doc;
		struct cnn_error err;
		struct data_source *s = NULL;
		assert_int_equal(cfg_load_string(yaml, strlen(yaml), "r.yaml", &doc, &err), 0);
		assert_int_equal(f[i]->create(doc.root, &s, &err), 0);
		s->format = f[i];
		s->format->destroy(s);
		cfg_free(&doc);
	}
	assert_null(data_format_find("imagenet"));
}

/* A folder of PNG, JPEG and PPM files, grey and colour, of mixed sizes. */
static void folder_of_images(void **state)
{
	(void)state;
	uint8_t px[16 * 12 * 3];
	/* cat: exact-size colour PNGs (bytes known); dog: grey PNG and PPM of
	 * another size; fish: JPEG colour and grey */
	pattern(px, 8, 6, 3, 1);
	put_png("f/train/cat/a.png", px, 8, 6, 3);
	pattern(px, 8, 6, 3, 2);
	put_ppm("f/train/cat/b.ppm", px, 8, 6, 3);
	pattern(px, 16, 12, 1, 3);
	put_png("f/train/dog/c.png", px, 16, 12, 1);
	pattern(px, 4, 3, 1, 4);
	put_ppm("f/train/dog/d.pgm", px, 4, 3, 1);
	memset(px, 200, sizeof px);
	put_jpeg("f/train/fish/e.jpg", px, 16, 12, 3);
	put_jpeg("f/train/fish/f.jpeg", px, 8, 6, 1);
	put_file("f/train/fish/.DS_Store", "x", 1);   /* hidden: skipped */
	pattern(px, 8, 6, 3, 5);
	put_png("f/test/cat/g.png", px, 8, 6, 3);
	put_png("f/test/fish/h.png", px, 8, 6, 3);

	struct loaded l;
	char yaml[4200];
	snprintf(yaml, sizeof yaml, "{format: folder, path: %s/f}\n", root);
	assert_int_equal(open_source(&l, yaml), 0);
	assert_int_equal(l.probe.n_classes, 3);
	assert_string_equal(l.probe.class_names[0], "cat");
	assert_string_equal(l.probe.class_names[1], "dog");
	assert_string_equal(l.probe.class_names[2], "fish");
	assert_int_equal(l.probe.n_train, 6);
	assert_int_equal(l.probe.n_images, 8);

	struct shape rgb = { 3, 6, 8 };
	assert_int_equal(load_split(&l, DATA_TRAIN, rgb, l.probe.class_names, 3), 0);
	assert_int_equal(l.d.n, 6);
	assert_int_equal(l.d.shape.c, 3);
	const uint8_t labels[] = { 0, 0, 1, 1, 2, 2 };
	assert_memory_equal(l.d.labels, labels, 6);
	/* a.png: (h, w, c) in the file, channel planes in the dataset */
	pattern(px, 8, 6, 3, 1);
	for (int c = 0; c < 3; c++)
		for (int p = 0; p < 48; p++)
			assert_int_equal(l.d.images[c * 48 + p], px[3 * p + c]);
	/* d.pgm (4x3 grey) grows to 8x6 and is copied to R, G and B */
	const uint8_t *d = l.d.images + 3 * 144;
	assert_memory_equal(d, d + 48, 48);
	assert_memory_equal(d, d + 96, 48);
	/* e.jpg: flat 200, decoded within JPEG's error and resized */
	for (int i = 0; i < 144; i++)
		assert_true(abs(l.d.images[4 * 144 + i] - 200) <= 2);
	/* test: only two of the classes, labels by name */
	assert_int_equal(load_split(&l, DATA_TEST, rgb, l.probe.class_names, 3), 0);
	assert_int_equal(l.d.n, 2);
	assert_int_equal(l.d.labels[0], 0);
	assert_int_equal(l.d.labels[1], 2);
	/* no val folder: the runner splits the training set */
	assert_int_equal(load_split(&l, DATA_VAL, rgb, l.probe.class_names, 3), 1);

	/* grey input: colour converted by BT.601 luma */
	struct shape grey = { 1, 6, 8 };
	assert_int_equal(load_split(&l, DATA_TRAIN, grey, l.probe.class_names, 3), 0);
	pattern(px, 8, 6, 3, 1);
	assert_int_equal(l.d.images[0], (299 * px[0] + 587 * px[1] + 114 * px[2] + 500) / 1000);
	close_source(&l);

	/* resize: none names the first file of another size */
	snprintf(yaml, sizeof yaml, "{format: folder, path: %s/f, resize: none}\n", root);
	assert_int_equal(open_source(&l, yaml), 0);
	assert_int_equal(load_split(&l, DATA_TRAIN, rgb, l.probe.class_names, 3), -1);
	assert_string_equal(rooted(l.msg), "ROOT/f/train/dog/c.png: the image is 16x12 pixels, the network "
	                    "takes 8x6 (width x height); resize it first");
	close_source(&l);

	/* classes: given in the config, in another order */
	char *names[] = { "fish", "dog", "cat" };
	snprintf(yaml, sizeof yaml, "{format: folder, path: %s/f}\n", root);
	assert_int_equal(open_source(&l, yaml), 0);
	assert_int_equal(load_split(&l, DATA_TRAIN, rgb, names, 3), 0);
	assert_int_equal(l.d.labels[0], 2);
	assert_int_equal(l.d.labels[5], 0);
	char *two[] = { "cat", "dog" };
	assert_int_equal(load_split(&l, DATA_TRAIN, rgb, two, 2), -1);
	assert_string_equal(rooted(l.msg), "ROOT/f/train/fish: class folder 'fish' is not one of the 2 training "
	                    "classes listed in data.classes");
	char *four[] = { "cat", "dog", "fish", "owl" };
	assert_int_equal(load_split(&l, DATA_TRAIN, rgb, four, 4), -1);
	assert_string_equal(rooted(l.msg), "ROOT/f/train: no folder for class 'owl' (data.classes)");
	close_source(&l);
}

/* Each bad file is refused before training, named. */
static void folder_refusals(void **state)
{
	(void)state;
	uint8_t px[8 * 6 * 3];
	pattern(px, 8, 6, 3, 1);
	put_png("g/train/a/ok.png", px, 8, 6, 3);
	put_png("g/train/b/ok.png", px, 8, 6, 3);
	put_png("g/test/a/ok.png", px, 8, 6, 3);
	struct shape rgb = { 3, 6, 8 };
	char yaml[4200], *names[] = { "a", "b" };
	snprintf(yaml, sizeof yaml, "{format: folder, path: %s/g}\n", root);

	uint8_t *png;
	size_t png_len;
	struct cnn_error err;
	assert_int_equal(png_encode(px, 8, 6, 3, &png, &png_len, &err), 0);
	unsigned char *jpg;
	unsigned long jpg_len;
	jpeg_bytes(px, 8, 6, 3, &jpg, &jpg_len);
	/* a PNG claiming 100000 x 100000 pixels: refused from its header */
	uint8_t bomb[64];
	memcpy(bomb, png, 33);
	bomb[16] = 0x00, bomb[17] = 0x01, bomb[18] = 0x86, bomb[19] = 0xa0;
	bomb[20] = 0x00, bomb[21] = 0x01, bomb[22] = 0x86, bomb[23] = 0xa0;
	uint32_t crc = (uint32_t)crc32(crc32(0, bomb + 12, 4), bomb + 16, 13);
	bomb[29] = (uint8_t)(crc >> 24), bomb[30] = (uint8_t)(crc >> 16), bomb[31] = (uint8_t)(crc >> 8), bomb[32] = (uint8_t)crc;
	/* a JPEG whose frame header claims 60000 x 60000 */
	unsigned char *jbomb = malloc(jpg_len);
	memcpy(jbomb, jpg, jpg_len);
	for (unsigned long i = 0; i + 8 < jpg_len; i++)
		if (jbomb[i] == 0xff && (jbomb[i + 1] == 0xc0 || jbomb[i + 1] == 0xc2)) {
			jbomb[i + 5] = 0xea, jbomb[i + 6] = 0x60, jbomb[i + 7] = 0xea, jbomb[i + 8] = 0x60;
			break;
		}

	static const struct {
		const char *name;
		int what;        /* 0 png cut, 1 png bit flip, 2 jpeg cut, 3 jpeg garbage, 4 text, 5 empty, 6 bomb, 7 jpeg bomb */
		const char *msg;
	} cases[] = {
		{ "cut.png", 0, "ROOT/g/train/b/cut.png: truncated PNG (chunk IDAT runs past the end of the file)" },
		{ "flip.png", 1, "ROOT/g/train/b/flip.png: PNG chunk IDAT: CRC mismatch; the file is corrupted" },
		{ "cut.jpg", 2, "ROOT/g/train/b/cut.jpg: bad JPEG: Premature end of JPEG file" },
		{ "junk.jpg", 3, "ROOT/g/train/b/junk.jpg: bad JPEG:" },
		{ "notes.txt", 4, "ROOT/g/train/b/notes.txt: not an image cnnrun reads (PNG, JPEG, binary PGM or PPM)" },
		{ "zero.png", 5, "ROOT/g/train/b/zero.png: empty file (0 bytes): not an image" },
		{ "bomb.png", 6, "ROOT/g/train/b/bomb.png: image of 100000x100000 pixels is too large (at most 67108864 pixels)" },
		{ "bomb.jpg", 7, "ROOT/g/train/b/bomb.jpg: image of 60000x60000 pixels is too large (at most 67108864 pixels)" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char rel[128];
		snprintf(rel, sizeof rel, "g/train/b/%s", cases[i].name);
		uint8_t junk[600];
		switch (cases[i].what) {
		case 0: put_file(rel, png, png_len - 30); break;
		case 1:
			memcpy(junk, png, png_len);
			junk[45] ^= 1;
			put_file(rel, junk, png_len);
			break;
		case 2: put_file(rel, jpg, jpg_len / 2); break;
		case 3:
			memcpy(junk, jpg, 40);
			memset(junk + 40, 0x5a, sizeof junk - 40);
			put_file(rel, junk, sizeof junk);
			break;
		case 4: put_file(rel, "hello\n", 6); break;
		case 5: put_file(rel, "", 0); break;
		case 6: put_file(rel, bomb, 33); break;
		case 7: put_file(rel, jbomb, jpg_len); break;
		}
		struct loaded l;
		assert_int_equal(open_source(&l, yaml), 0);
		assert_int_equal(load_split(&l, DATA_TRAIN, rgb, names, 2), -1);
		if (strncmp(rooted(l.msg), cases[i].msg, strlen(cases[i].msg)))
			fail_msg("%s: got '%s'", cases[i].name, l.msg);
		close_source(&l);
		char path[4200];
		snprintf(path, sizeof path, "%s/%s", root, rel);
		unlink(path);
	}
	free(png);
	free(jpg);
	free(jbomb);

	/* an empty class folder; a test class that training lacks */
	put_dir("g/train/c");
	struct loaded l;
	char *three[] = { "a", "b", "c" };
	assert_int_equal(open_source(&l, yaml), 0);
	assert_int_equal(load_split(&l, DATA_TRAIN, rgb, three, 3), -1);
	assert_string_equal(rooted(l.msg), "ROOT/g/train/c: empty class folder (no image files)");
	close_source(&l);
	rm_tree(strcat(strcpy(yaml, root), "/g/train/c"));
	put_png("g/test/z/ok.png", px, 8, 6, 3);
	snprintf(yaml, sizeof yaml, "{format: folder, path: %s/g}\n", root);
	assert_int_equal(open_source(&l, yaml), 0);
	assert_int_equal(load_split(&l, DATA_TEST, rgb, names, 2), -1);
	assert_string_equal(rooted(l.msg), "ROOT/g/test/z: class folder 'z' is not one of the 2 training classes");
	close_source(&l);
	/* no such folder */
	snprintf(yaml, sizeof yaml, "{format: folder, path: %s/none}\n", root);
	assert_int_equal(open_source(&l, yaml), -1);
	assert_string_equal(rooted(l.msg), "ROOT/none/train: cannot open the folder: No such file or directory");
	close_source(&l);
}

static void list_files(void **state)
{
	(void)state;
	uint8_t px[8 * 6 * 3];
	pattern(px, 8, 6, 3, 1);
	put_png("l/img/one.png", px, 8, 6, 3);
	put_ppm("l/img/two words.ppm", px, 8, 6, 3);
	put_jpeg("l/img/three.jpg", px, 8, 6, 3);
	const char *train = "# path label\nimg/one.png 1\n\nimg/two words.ppm  0\nimg/three.jpg 2\n";
	put_file("l/train.txt", train, strlen(train));
	const char *named = "img/one.png dog\nimg/three.jpg cat\n";
	put_file("l/named.txt", named, strlen(named));
	const char *missing = "img/one.png 1\nimg/four.png 0\n";
	put_file("l/missing.txt", missing, strlen(missing));
	const char *unknown = "img/one.png cat\nimg/one.png owl\n";
	put_file("l/unknown.txt", unknown, strlen(unknown));
	const char *broken = "img/one.png 1\nimg/three.jpg\n";
	put_file("l/broken.txt", broken, strlen(broken));
	put_file("l/img/bad.png", "\x89PNG\r\n\x1a\n", 8);
	const char *badimg = "img/one.png 1\nimg/bad.png 0\n";
	put_file("l/badimg.txt", badimg, strlen(badimg));

	struct shape rgb = { 3, 6, 8 };
	struct loaded l;
	char yaml[4200];
	snprintf(yaml, sizeof yaml, "{format: list, train: %s/l/train.txt, test: %s/l/named.txt}\n", root, root);
	assert_int_equal(open_source(&l, yaml), 0);
	assert_int_equal(l.probe.n_classes, 3);    /* labels 0..2 */
	assert_int_equal(l.probe.n_train, 3);
	assert_int_equal(l.probe.n_images, 5);
	assert_int_equal(load_split(&l, DATA_TRAIN, rgb, NULL, 3), 0);
	assert_int_equal(l.d.n, 3);
	assert_int_equal(l.d.labels[0], 1);
	assert_int_equal(l.d.labels[1], 0);
	assert_int_equal(l.d.labels[2], 2);
	assert_memory_equal(l.d.images, l.d.images + 144, 144);   /* the PNG and the PPM hold the same pixels */
	assert_int_equal(load_split(&l, DATA_VAL, rgb, NULL, 3), 1);
	/* names without data.classes */
	assert_int_equal(load_split(&l, DATA_TEST, rgb, NULL, 3), -1);
	assert_string_equal(rooted(l.msg), "ROOT/l/named.txt:1:1: label 'dog' is not a class number; to use "
	                    "names, list them in data.classes");
	char *names[] = { "cat", "dog", "fish" };
	assert_int_equal(load_split(&l, DATA_TEST, rgb, names, 3), 0);
	assert_int_equal(l.d.labels[0], 1);
	assert_int_equal(l.d.labels[1], 0);
	close_source(&l);

	static const struct { const char *file, *msg; } bad[] = {
		{ "missing", "ROOT/l/missing.txt:2:1: ROOT/l/img/four.png: no such file" },
		{ "unknown", "ROOT/l/unknown.txt:2:1: unknown label 'owl': not one of the 3 classes in data.classes" },
		{ "broken", "ROOT/l/broken.txt:2:1: expected 'path label', got 'img/three.jpg'" },
		{ "badimg", "ROOT/l/badimg.txt:2:1: ROOT/l/img/bad.png: truncated PNG (no IEND chunk)" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(yaml, sizeof yaml, "{format: list, train: %s/l/%s.txt, test: %s/l/named.txt}\n", root,
		         bad[i].file, root);
		/* a line that is not `path label` already fails the probe */
		if (open_source(&l, yaml) == 0)
			assert_int_equal(load_split(&l, DATA_TRAIN, rgb, names, 3), -1);
		assert_string_equal(rooted(l.msg), bad[i].msg);
		close_source(&l);
	}
	/* a label number beyond the classes */
	snprintf(yaml, sizeof yaml, "{format: list, train: %s/l/train.txt, test: %s/l/named.txt}\n", root, root);
	assert_int_equal(open_source(&l, yaml), 0);
	assert_int_equal(load_split(&l, DATA_TRAIN, rgb, NULL, 2), -1);
	assert_string_equal(rooted(l.msg), "ROOT/l/train.txt:5:1: label 2 is out of range [0, 2)");
	close_source(&l);
}

/* CIFAR records: label byte(s), then the red, green and blue planes. */
static void put_cifar(const char *rel, int n, int label_bytes, int seed)
{
	size_t rb = (size_t)label_bytes + 3072;
	uint8_t *data = malloc((size_t)n * rb);
	for (int i = 0; i < n; i++) {
		uint8_t *r = data + (size_t)i * rb;
		r[0] = (uint8_t)((i + seed) % (label_bytes == 2 ? 20 : 10));
		if (label_bytes == 2)
			r[1] = (uint8_t)((i * 7 + seed) % 100);
		for (int j = 0; j < 3072; j++)
			r[label_bytes + j] = (uint8_t)(j / 1024 * 100 + i + seed);
	}
	put_file(rel, data, (size_t)n * rb);
	free(data);
}

static void cifar_files(void **state)
{
	(void)state;
	char rel[64];
	for (int b = 1; b <= 5; b++) {
		snprintf(rel, sizeof rel, "c10/data_batch_%d.bin", b);
		put_cifar(rel, 4, 1, b);
	}
	put_cifar("c10/test_batch.bin", 3, 1, 9);
	const char *meta = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
	put_file("c10/batches.meta.txt", meta, strlen(meta));

	struct loaded l;
	char yaml[4200];
	snprintf(yaml, sizeof yaml, "{format: cifar10, path: %s/c10}\n", root);
	assert_int_equal(open_source(&l, yaml), 0);
	assert_int_equal(l.probe.n_classes, 10);
	assert_int_equal(l.probe.n_train, 20);
	assert_int_equal(l.probe.n_images, 23);
	assert_string_equal(l.probe.class_names[9], "truck");
	struct shape rgb = { 3, 32, 32 };
	assert_int_equal(load_split(&l, DATA_TRAIN, rgb, l.probe.class_names, 10), 0);
	assert_int_equal(l.d.n, 20);
	assert_int_equal(l.d.labels[0], 1);        /* batch 1, record 0 */
	assert_int_equal(l.d.labels[19], 8);       /* batch 5, record 3 */
	/* record 5 (batch 2, record 1): planes 0, 100, 200 plus i + seed = 3 */
	const uint8_t *img = l.d.images + 5 * 3072;
	assert_int_equal(img[0], 3);
	assert_int_equal(img[1024], 103);
	assert_int_equal(img[3071], 203);
	assert_int_equal(load_split(&l, DATA_TEST, rgb, l.probe.class_names, 10), 0);
	assert_int_equal(l.d.n, 3);
	close_source(&l);

	/* a cut file is refused with its sizes */
	put_file("c10/test_batch.bin", "abc", 3);
	assert_int_equal(open_source(&l, yaml), -1);
	assert_string_equal(rooted(l.msg), "ROOT/c10/test_batch.bin: 3 bytes is not a whole number of 3073-byte "
	                    "records (a label byte and 3,072 pixel bytes); the file is truncated or not "
	                    "CIFAR-10's binary version");
	close_source(&l);

	/* CIFAR-100: the fine label by default, the coarse one on request */
	put_cifar("c100/train.bin", 5, 2, 0);
	put_cifar("c100/test.bin", 2, 2, 1);
	snprintf(yaml, sizeof yaml, "{format: cifar100, path: %s/c100}\n", root);
	assert_int_equal(open_source(&l, yaml), 0);
	assert_int_equal(l.probe.n_classes, 100);
	assert_null(l.probe.class_names);       /* no names file: numbers */
	assert_int_equal(load_split(&l, DATA_TRAIN, rgb, NULL, 100), 0);
	assert_int_equal(l.d.labels[3], 21);
	close_source(&l);
	snprintf(yaml, sizeof yaml, "{format: cifar100, path: %s/c100, label: coarse}\n", root);
	assert_int_equal(open_source(&l, yaml), 0);
	assert_int_equal(l.probe.n_classes, 20);
	struct shape grey = { 1, 16, 16 };
	assert_int_equal(load_split(&l, DATA_TRAIN, grey, NULL, 20), 0);
	assert_int_equal(l.d.labels[3], 3);
	assert_int_equal(l.d.shape.c, 1);
	close_source(&l);
}

/* mean and std per channel, against the sums done by hand. */
static void standardise_per_channel(void **state)
{
	(void)state;
	/* two 1x2 images of 3 channels: channel planes (c, h, w) */
	uint8_t images[] = { 0, 10, 100, 100, 7, 9,
	                     20, 30, 100, 100, 11, 13 };
	uint8_t labels[] = { 0, 1 };
	struct dataset d = { .n = 2, .shape = { 3, 1, 2 }, .n_classes = 2, .images = images, .labels = labels };
	double scale[3], offset[3];
	dataset_standardize(&d, scale, offset);
	/* channel 0: 0, 10, 20, 30: mean 15, variance (225 + 25 + 25 + 225) / 4 = 125 */
	assert_float_equal(-offset[0] / scale[0], 15, 1e-12);
	assert_float_equal(1 / scale[0], sqrt(125), 1e-12);
	/* channel 1: constant: std 1, so (v - mean) */
	assert_float_equal(scale[1], 1, 0);
	assert_float_equal(offset[1], -100, 1e-12);
	/* channel 2: 7, 9, 11, 13: mean 10, variance (9 + 1 + 1 + 9) / 4 = 5 */
	assert_float_equal(-offset[2] / scale[2], 10, 1e-12);
	assert_float_equal(1 / scale[2], sqrt(5), 1e-12);

	/* batches use each channel's own scale */
	d.standardized = true;
	memcpy(d.scale, scale, sizeof scale);
	memcpy(d.offset, offset, sizeof offset);
	float x[6];
	dataset_batch(&d, (int[]){ 1 }, 1, x, NULL);
	assert_float_equal(x[0], (20 - 15) / sqrt(125), 1e-6);
	assert_float_equal(x[2], 0, 1e-6);
	assert_float_equal(x[5], (13 - 10) / sqrt(5), 1e-6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_format_is_registered),
		cmocka_unit_test(folder_of_images),
		cmocka_unit_test(folder_refusals),
		cmocka_unit_test(list_files),
		cmocka_unit_test(cifar_files),
		cmocka_unit_test(standardise_per_channel),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
