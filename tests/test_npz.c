/* .npy/.npz: the writer's output is checked byte by byte against the zip
 * and .npy layouts (and by NumPy itself where it is installed); the reader
 * is fed archives this test builds by hand, the way NumPy and Keras make
 * them (stored and deflated members, zip64 local headers, other header
 * styles), and broken ones, each refused with its message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "builder/builder.h"
#include "config/config.h"
#include "net/net.h"
#include "io/npz.h"
#include "file_fixture.h"
#include "testutil.h"

static int setup(void **state)
{
	return file_fixture_setup(state, "a.npz");
}

static int teardown(void **state)
{
	return file_fixture_teardown(state);
}

/* "<path>: <text>" */
static void assert_msg(struct file_fixture *f, const char *text)
{
	char want[2048];
	snprintf(want, sizeof want, "%s: %s", f->path, text);
	assert_string_equal(file_fixture_msg(f), want);
}

static void assert_msg_prefix(struct file_fixture *f, const char *text)
{
	char want[2048];
	snprintf(want, sizeof want, "%s: %s", f->path, text);
	if (strncmp(file_fixture_msg(f), want, strlen(want)))
		fail_msg("got \"%s\", want a message starting \"%s\"", f->msg, want);
}

/* ---- building bytes by hand ---- */

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put_le(struct buf *b, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++) {
		unsigned char c = (unsigned char)(v >> (8 * i));
		put(b, &c, 1);
	}
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* A .npy image: `dict` padded so the data starts at a multiple of `align`. */
static void make_npy(struct buf *b, int major, const char *dict, size_t align,
                     const void *data, size_t len)
{
	size_t pre = major == 1 ? 10 : 12, hlen = strlen(dict) + 1;
	hlen = (pre + hlen + align - 1) / align * align - pre;
	put(b, "\x93NUMPY", 6);
	put_le(b, (uint64_t)major, 1);
	put_le(b, 0, 1);
	put_le(b, hlen, major == 1 ? 2 : 4);
	put(b, dict, strlen(dict));
	for (size_t i = strlen(dict); i < hlen - 1; i++)
		put(b, " ", 1);
	put(b, "\n", 1);
	put(b, data, len);
}

struct member {
	const char *name;
	struct buf npy;
	bool deflate;
};

static void raw_deflate(const struct buf *in, struct buf *out)
{
	z_stream s;
	memset(&s, 0, sizeof s);
	assert_int_equal(deflateInit2(&s, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	out->cap = deflateBound(&s, in->len);
	out->p = malloc(out->cap);
	assert_non_null(out->p);
	s.next_in = in->p;
	s.avail_in = (uInt)in->len;
	s.next_out = out->p;
	s.avail_out = (uInt)out->cap;
	assert_int_equal(deflate(&s, Z_FINISH), Z_STREAM_END);
	out->len = s.total_out;
	deflateEnd(&s);
}

/* A zip as NumPy writes one: with zip64 = true, local headers carry
 * 0xFFFFFFFF sizes and a zip64 extra field; the central directory has the
 * real 32-bit sizes. */
static void make_zip(struct buf *z, struct member *m, int n, bool zip64)
{
	uint32_t crc[16], csize[16], offset[16];
	struct buf data[16];
	struct buf cd = { 0 };

	assert_true(n <= 16);
	for (int i = 0; i < n; i++) {
		crc[i] = (uint32_t)crc32(0, m[i].npy.p, (uInt)m[i].npy.len);
		memset(&data[i], 0, sizeof data[i]);
		if (m[i].deflate)
			raw_deflate(&m[i].npy, &data[i]);
		else
			put(&data[i], m[i].npy.p, m[i].npy.len);
		csize[i] = (uint32_t)data[i].len;
		offset[i] = (uint32_t)z->len;
		put_le(z, 0x04034b50, 4);
		put_le(z, zip64 ? 45 : 20, 2);
		put_le(z, 0, 2);
		put_le(z, m[i].deflate ? 8 : 0, 2);
		put_le(z, 0, 4);                            /* time, date */
		put_le(z, crc[i], 4);
		put_le(z, zip64 ? 0xffffffffu : csize[i], 4);
		put_le(z, zip64 ? 0xffffffffu : m[i].npy.len, 4);
		put_le(z, strlen(m[i].name), 2);
		put_le(z, zip64 ? 20 : 0, 2);
		put(z, m[i].name, strlen(m[i].name));
		if (zip64) {
			put_le(z, 1, 2);
			put_le(z, 16, 2);
			put_le(z, m[i].npy.len, 8);
			put_le(z, csize[i], 8);
		}
		put(z, data[i].p, data[i].len);
		free(data[i].p);
	}
	for (int i = 0; i < n; i++) {
		put_le(&cd, 0x02014b50, 4);
		put_le(&cd, 45, 2);
		put_le(&cd, 20, 2);
		put_le(&cd, 0, 2);
		put_le(&cd, m[i].deflate ? 8 : 0, 2);
		put_le(&cd, 0, 4);
		put_le(&cd, crc[i], 4);
		put_le(&cd, csize[i], 4);
		put_le(&cd, m[i].npy.len, 4);
		put_le(&cd, strlen(m[i].name), 2);
		put_le(&cd, 0, 2);
		put_le(&cd, 0, 2);
		put_le(&cd, 0, 2);
		put_le(&cd, 0, 2);
		put_le(&cd, 0, 4);
		put_le(&cd, offset[i], 4);
		put(&cd, m[i].name, strlen(m[i].name));
	}
	uint32_t cd_at = (uint32_t)z->len;
	put(z, cd.p, cd.len);
	put_le(z, 0x06054b50, 4);
	put_le(z, 0, 4);
	put_le(z, (uint64_t)n, 2);
	put_le(z, (uint64_t)n, 2);
	put_le(z, cd.len, 4);
	put_le(z, cd_at, 4);
	put_le(z, 0, 2);
	free(cd.p);
}

static void write_buf(const char *path, const struct buf *b)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(b->p, 1, b->len, fp), b->len);
	fclose(fp);
}

/* ---- the writer ---- */

static const float f_vals[6] = { 1.5f, -2.25f, 0.0f, 3e-39f /* subnormal */, 1e30f, -0.0f };
static const uint8_t u_vals[4] = { 0, 7, 128, 255 };
static const int64_t i_vals[4] = { -1, 0, 1, INT64_C(1) << 40 };

static void write_sample(struct file_fixture *f, bool compress)
{
	struct npz_writer *w;
	size_t d23[2] = { 2, 3 }, d4[1] = { 4 }, d22[2] = { 2, 2 };
	float scalar = 42.0f;

	assert_ok(f, npz_writer_open(f->path, compress, &w, &f->err));
	assert_ok(f, npz_writer_add(w, "weights", NPY_FLOAT32, 2, d23, f_vals, &f->err));
	assert_ok(f, npz_writer_add(w, "bytes", NPY_UINT8, 1, d4, u_vals, &f->err));
	assert_ok(f, npz_writer_add(w, "longs", NPY_INT64, 2, d22, i_vals, &f->err));
	assert_ok(f, npz_writer_add(w, "scalar", NPY_FLOAT32, 0, NULL, &scalar, &f->err));
	assert_ok(f, npz_writer_close(w, &f->err));
}

static void check_sample(struct file_fixture *f)
{
	struct npz_archive a;
	const struct npy_array *x;

	assert_ok(f, npz_read(f->path, &a, &f->err));
	assert_int_equal(a.n, 4);
	x = npz_find(&a, "weights");
	assert_non_null(x);
	assert_int_equal(x->type, NPY_FLOAT32);
	assert_int_equal(x->ndim, 2);
	assert_int_equal(x->dims[0], 2);
	assert_int_equal(x->dims[1], 3);
	assert_int_equal(x->count, 6);
	assert_memory_equal(x->data, f_vals, sizeof f_vals);
	x = npz_find(&a, "bytes");
	assert_non_null(x);
	assert_int_equal(x->type, NPY_UINT8);
	assert_int_equal(x->ndim, 1);
	assert_memory_equal(x->data, u_vals, sizeof u_vals);
	x = npz_find(&a, "longs");
	assert_non_null(x);
	assert_int_equal(x->type, NPY_INT64);
	assert_memory_equal(x->data, i_vals, sizeof i_vals);
	x = npz_find(&a, "scalar");
	assert_non_null(x);
	assert_int_equal(x->ndim, 0);
	assert_int_equal(x->count, 1);
	assert_true(((float *)x->data)[0] == 42.0f);
	assert_null(npz_find(&a, "nothing"));
	npz_archive_free(&a);
}

static void test_write_read(void **state)
{
	struct file_fixture *f = *state;
	write_sample(f, false);
	check_sample(f);
	write_sample(f, true);
	check_sample(f);
}

/* The bytes themselves, read without the library: local header, .npy
 * header, data, central directory, end record. */
static void test_zip_structure(void **state)
{
	struct file_fixture *f = *state;
	struct npz_writer *w;
	size_t dims[2] = { 2, 3 }, len;
	unsigned char *z;

	assert_ok(f, npz_writer_open(f->path, false, &w, &f->err));
	assert_ok(f, npz_writer_add(w, "conv1.weight", NPY_FLOAT32, 2, dims, f_vals, &f->err));
	assert_ok(f, npz_writer_close(w, &f->err));
	z = (unsigned char *)test_read_file(f->path, &len);
	assert_non_null(z);

	const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
	size_t name_len = strlen("conv1.weight.npy"), npy_len = 128 + 24;
	assert_int_equal(len, 30 + name_len + npy_len + 46 + name_len + 22);

	/* local header */
	assert_int_equal(le32(z), 0x04034b50);
	assert_int_equal(le16(z + 8), 0);                 /* stored */
	assert_int_equal(le32(z + 18), npy_len);          /* compressed */
	assert_int_equal(le32(z + 22), npy_len);          /* uncompressed */
	assert_int_equal(le16(z + 26), name_len);
	assert_int_equal(le16(z + 28), 0);
	assert_memory_equal(z + 30, "conv1.weight.npy", name_len);
	const unsigned char *npy = z + 30 + name_len;
	assert_int_equal(le32(z + 14), (uint32_t)crc32(0, npy, (uInt)npy_len));

	/* .npy v1.0: header to 128 bytes, then the data little-endian */
	assert_memory_equal(npy, "\x93NUMPY\x01\x00", 8);
	assert_int_equal(le16(npy + 8), 118);
	assert_memory_equal(npy + 10, dict, strlen(dict));
	for (size_t i = 10 + strlen(dict); i < 127; i++)
		assert_int_equal(npy[i], ' ');
	assert_int_equal(npy[127], '\n');
	assert_int_equal(le32(npy + 128), 0x3fc00000);    /* 1.5f */
	assert_int_equal(le32(npy + 132), 0xc0100000);    /* -2.25f */

	/* central directory and end record */
	const unsigned char *cd = npy + npy_len, *end = z + len - 22;
	assert_int_equal(le32(cd), 0x02014b50);
	assert_int_equal(le16(cd + 10), 0);
	assert_int_equal(le32(cd + 16), le32(z + 14));
	assert_int_equal(le32(cd + 20), npy_len);
	assert_int_equal(le32(cd + 24), npy_len);
	assert_int_equal(le32(cd + 42), 0);               /* local header offset */
	assert_memory_equal(cd + 46, "conv1.weight.npy", name_len);
	assert_int_equal(le32(end), 0x06054b50);
	assert_int_equal(le16(end + 8), 1);
	assert_int_equal(le16(end + 10), 1);
	assert_int_equal(le32(end + 12), 46 + name_len);
	assert_int_equal(le32(end + 16), (uint32_t)(cd - z));
	assert_int_equal(le16(end + 20), 0);
	free(z);
}

/* NumPy reads what cnnrun writes (where NumPy is installed). */
static void test_numpy_reads_it(void **state)
{
	struct file_fixture *f = *state;
	char cmd[4096];
	const char *python = test_python();

	snprintf(cmd, sizeof cmd, "'%s' -c 'import numpy' >/dev/null 2>&1", python);
	if (system(cmd) != 0)
		test_skip("%s cannot import numpy (scripts/install-deps.sh installs python3-numpy)", python);
	for (int compress = 0; compress < 2; compress++) {
		write_sample(f, compress);
		snprintf(cmd, sizeof cmd,
		         "'%s' -c \"import numpy as np, sys\n"
		         "a = np.load(sys.argv[1])\n"
		         "assert sorted(a.files) == ['bytes', 'longs', 'scalar', 'weights'], a.files\n"
		         "w = a['weights']\n"
		         "assert w.dtype == np.float32 and w.shape == (2, 3)\n"
		         "assert (w == np.array([[1.5, -2.25, 0], [3e-39, 1e30, -0.0]], np.float32)).all()\n"
		         "assert a['bytes'].dtype == np.uint8 and list(a['bytes']) == [0, 7, 128, 255]\n"
		         "assert a['longs'].dtype == np.int64 and a['longs'].tolist() == [[-1, 0], [1, 2**40]]\n"
		         "assert a['scalar'].shape == () and a['scalar'] == 42\n"
		         "\" '%s'", python, f->path);
		assert_int_equal(system(cmd), 0);
	}
}

/* ---- the reader, on archives made by hand ---- */

static const float two_by_three[6] = { 1, 2, 3, 4, 5, 6 };

static void test_read_numpy_style(void **state)
{
	struct file_fixture *f = *state;
	struct npz_archive a;
	struct buf z = { 0 };
	double d[3] = { 0.5, -1.0, 1e300 };
	struct member m[3] = {
		{ .name = "x.npy", .deflate = true },
		{ .name = "d.npy" },
		{ .name = "y.npy", .deflate = true },
	};

	/* zip64 local headers, one deflated member, '<f8' with an old
	 * 16-byte-aligned v2.0 header in double quotes and odd key order */
	make_npy(&m[0].npy, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 64,
	         two_by_three, sizeof two_by_three);
	make_npy(&m[1].npy, 2, "{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<f8\"}", 16,
	         d, sizeof d);
	make_npy(&m[2].npy, 3, "{'descr': '|u1', 'fortran_order': True, 'shape': (1, 4)}", 64,
	         "\1\2\3\4", 4);
	make_zip(&z, m, 3, true);
	write_buf(f->path, &z);
	assert_ok(f, npz_read(f->path, &a, &f->err));
	assert_int_equal(a.n, 3);
	assert_memory_equal(npz_find(&a, "x")->data, two_by_three, sizeof two_by_three);
	const struct npy_array *x = npz_find(&a, "d");
	assert_int_equal(x->type, NPY_FLOAT32);
	assert_int_equal(x->ndim, 1);
	assert_true(((float *)x->data)[0] == 0.5f && ((float *)x->data)[1] == -1.0f);
	/* A 1x4 array is the same in either order, so fortran_order is fine. */
	assert_memory_equal(npz_find(&a, "y")->data, "\1\2\3\4", 4);
	npz_archive_free(&a);
	for (int i = 0; i < 3; i++)
		free(m[i].npy.p);
	free(z.p);
}

static void test_npy_file(void **state)
{
	struct file_fixture *f = *state;
	struct npy_array a;
	struct buf b = { 0 };

	snprintf(f->path, sizeof f->path, "%s/w.npy", f->dir);
	make_npy(&b, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", 64,
	         two_by_three, sizeof two_by_three);
	write_buf(f->path, &b);
	assert_ok(f, npy_read(f->path, &a, &f->err));
	assert_int_equal(a.ndim, 1);
	assert_int_equal(a.dims[0], 6);
	assert_memory_equal(a.data, two_by_three, sizeof two_by_three);
	npy_array_free(&a);

	b.len -= 4;
	write_buf(f->path, &b);
	assert_int_equal(npy_read(f->path, &a, &f->err), -1);
	assert_msg(f, "truncated: the shape needs 24 bytes of data, 20 are there");
	free(b.p);
}

/* One member with this header and data, stored. */
static void one_member(struct file_fixture *f, const char *dict, const void *data, size_t len)
{
	struct buf z = { 0 };
	struct member m = { .name = "a.npy" };

	make_npy(&m.npy, 1, dict, 64, data, len);
	make_zip(&z, &m, 1, false);
	write_buf(f->path, &z);
	free(m.npy.p);
	free(z.p);
}

static void test_bad_zip(void **state)
{
	struct file_fixture *f = *state;
	struct npz_archive a;
	struct buf b = { 0 };

	put(&b, "PK\3\4 this is not really a zip file at all, is it?", 50);
	write_buf(f->path, &b);
	assert_int_equal(npz_read(f->path, &a, &f->err), -1);
	assert_msg(f, "not a zip file (no end-of-central-directory record); "
	              "an .npz is a zip of .npy files");
	free(b.p);

	/* A real archive cut short: the directory is gone. */
	one_member(f, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
	           two_by_three, sizeof two_by_three);
	size_t len;
	char *z = test_read_file(f->path, &len);
	assert_non_null(z);
	b = (struct buf){ 0 };
	put(&b, z, len - 30);
	write_buf(f->path, &b);
	assert_int_equal(npz_read(f->path, &a, &f->err), -1);
	assert_msg(f, "not a zip file (no end-of-central-directory record); "
	              "an .npz is a zip of .npy files");
	free(z);
	free(b.p);
}

static void test_bad_crc(void **state)
{
	struct file_fixture *f = *state;
	struct npz_archive a;
	size_t len;
	char *z;

	one_member(f, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
	           two_by_three, sizeof two_by_three);
	z = test_read_file(f->path, &len);
	assert_non_null(z);
	z[30 + 5 + 128 + 2] ^= 0x40;    /* a data byte of a.npy */
	struct buf b = { (unsigned char *)z, len, len };
	write_buf(f->path, &b);
	assert_int_equal(npz_read(f->path, &a, &f->err), -1);
	assert_msg_prefix(f, "a.npy: CRC mismatch (stored ");
	assert_non_null(strstr(f->msg, "); the file is corrupted"));
	free(z);
}

static void test_unsupported_dtype(void **state)
{
	struct file_fixture *f = *state;
	struct npz_archive a;

	one_member(f, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }",
	           two_by_three, sizeof two_by_three);
	assert_int_equal(npz_read(f->path, &a, &f->err), -1);
	assert_msg(f, "a.npy: unsupported dtype '>f4' (supported: '<f4', '<f8', '|u1', '<i8')");

	one_member(f, "{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (6,), }",
	           two_by_three, sizeof two_by_three);
	assert_int_equal(npz_read(f->path, &a, &f->err), -1);
	assert_msg(f, "a.npy: structured dtypes are not supported (supported: '<f4', '<f8', "
	              "'|u1', '<i8')");
}

static void test_fortran_order(void **state)
{
	struct file_fixture *f = *state;
	struct npz_archive a;

	one_member(f, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
	           two_by_three, sizeof two_by_three);
	assert_int_equal(npz_read(f->path, &a, &f->err), -1);
	assert_msg(f, "a.npy: Fortran-order arrays are not supported; save a C-order copy "
	              "(numpy.ascontiguousarray)");
}

static void test_bad_headers(void **state)
{
	struct file_fixture *f = *state;
	struct npz_archive a;

	one_member(f, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
	           two_by_three, 20);
	assert_int_equal(npz_read(f->path, &a, &f->err), -1);
	assert_msg(f, "a.npy: truncated: the shape needs 24 bytes of data, 20 are there");

	one_member(f, "{'descr': '<f4', 'shape': (2, 3), }", two_by_three, 24);
	assert_int_equal(npz_read(f->path, &a, &f->err), -1);
	assert_msg(f, "a.npy: bad .npy header: it needs 'descr', 'fortran_order' and 'shape'");

	one_member(f, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }",
	           two_by_three, 24);
	assert_int_equal(npz_read(f->path, &a, &f->err), -1);
	assert_msg(f, "a.npy: bad .npy header: 'shape' holds something other than integers");
}

static void test_missing_member(void **state)
{
	struct file_fixture *f = *state;
	struct npz_file z;
	struct npy_array x;
	char want[2048];

	write_sample(f, true);
	assert_ok(f, npz_open(f->path, &z, &f->err));
	assert_int_equal(npz_load(&z, "x_train", &x, &f->err), -1);
	snprintf(want, sizeof want,
	         "%s has no array 'x_train' (it has: weights, bytes, longs, scalar)", f->path);
	assert_string_equal(file_fixture_msg(f), want);
	assert_ok(f, npz_load(&z, "bytes", &x, &f->err));
	assert_string_equal(x.name, "bytes");
	npy_array_free(&x);
	npz_close(&z);
}

/* A deflated member whose directory claims more than DEFLATE can make. */
static void test_absurd_size(void **state)
{
	struct file_fixture *f = *state;
	struct npz_archive a;
	struct buf z = { 0 };
	struct member m = { .name = "a.npy", .deflate = true };
	size_t len;

	make_npy(&m.npy, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", 64,
	         "abcd", 4);
	make_zip(&z, &m, 1, false);
	/* the central directory's uncompressed size: 46 + 5 + 22 bytes from the end */
	len = z.len - 22 - 46 - 5 + 24;
	z.p[len] = z.p[len + 1] = z.p[len + 2] = 0xff;
	z.p[len + 3] = 0x7f;
	write_buf(f->path, &z);
	assert_int_equal(npz_read(f->path, &a, &f->err), -1);
	assert_msg_prefix(f, "bad zip: a.npy claims 2147483647 bytes from ");
	free(m.npy.p);
	free(z.p);
}

/* ---- a network's parameters ---- */

static struct net *tiny_net(const char *filters, uint64_t seed)
{
	char yaml[1024], msg[1024];
	struct cnn_error err = { 0 };
	struct cfg_doc doc = { 0 };
	struct model_config cfg;
	struct net *net = NULL;

	snprintf(yaml, sizeof yaml,
	         "data: {dataset: mnist, validation: 0}\n"
	         "input: [1, 28, 28]\n"
	         "layers:\n"
	         "  - {type: conv, filters: %s, kernel_size: 5}\n"
	         "  - {type: maxpool, pool_size: 4}\n"
	         "  - {type: flatten}\n"
	         "  - {type: dense, units: 10}\n"
	         "optimizer: {type: sgd}\n", filters);
	if (cfg_load_string(yaml, strlen(yaml), "tiny.yaml", &doc, &err) ||
	    model_config_build(&doc, &cfg, &err) ||
	    net_create(cfg.layers, cfg.n_layers, cfg.input, 2, 1, seed, &net, &err))
		fail_msg("%s", cnn_error_str(&err, msg, sizeof msg));
	cfg.layers = NULL;
	cfg.n_layers = 0;
	model_config_free(&cfg);
	cfg_free(&doc);
	return net;
}

static void test_net_export_import(void **state)
{
	struct file_fixture *f = *state;
	struct net *a = tiny_net("2", 1), *b = tiny_net("2", 2), *c = tiny_net("3", 1);
	struct npz_archive z;
	const struct npy_array *w;

	assert_ok(f, net_export_npz(a, f->path, &f->err));
	assert_ok(f, npz_read(f->path, &z, &f->err));
	assert_int_equal(z.n, 4);
	w = npz_find(&z, "conv1.weight");
	assert_non_null(w);
	assert_int_equal(w->ndim, 4);
	assert_int_equal(w->dims[0], 2);
	assert_int_equal(w->dims[1], 1);
	assert_int_equal(w->dims[2], 5);
	assert_int_equal(w->dims[3], 5);
	w = npz_find(&z, "dense1.weight");
	assert_non_null(w);
	assert_int_equal(w->ndim, 2);
	assert_int_equal(w->dims[0], 10);
	assert_int_equal(w->dims[1], 72);
	assert_non_null(npz_find(&z, "conv1.bias"));
	assert_non_null(npz_find(&z, "dense1.bias"));
	npz_archive_free(&z);

	assert_memory_not_equal(a->params, b->params, a->n_params * sizeof(float));
	assert_ok(f, net_import_npz(b, f->path, &f->err));
	assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));

	float before = c->params[0];
	assert_int_equal(net_import_npz(c, f->path, &f->err), -1);
	assert_msg(f, "file has conv1.weight 2x1x5x5, the config makes conv1.weight 3x1x5x5");
	assert_true(c->params[0] == before);

	/* An array that is no parameter of the net. */
	struct npz_writer *wr;
	size_t one = 1;
	assert_ok(f, npz_writer_open(f->path, false, &wr, &f->err));
	for (int i = 0; i < a->n_param_tensors; i++) {
		const struct net_param *p = &a->param_tensors[i];
		size_t dims[4];
		for (int d = 0; d < p->spec.ndim; d++)
			dims[d] = (size_t)p->spec.dims[d];
		assert_ok(f, npz_writer_add(wr, p->name, NPY_FLOAT32, p->spec.ndim, dims,
		                            a->params + p->offset, &f->err));
	}
	assert_ok(f, npz_writer_add(wr, "conv9.weight", NPY_FLOAT32, 1, &one, &before, &f->err));
	assert_ok(f, npz_writer_close(wr, &f->err));
	assert_int_equal(net_import_npz(b, f->path, &f->err), -1);
	assert_msg(f, "array 'conv9.weight' matches no parameter the config makes");

	net_free(a);
	net_free(b);
	net_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zip_structure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_numpy_reads_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_numpy_style, setup, teardown),
		cmocka_unit_test_setup_teardown(test_npy_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_zip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_crc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsupported_dtype, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fortran_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_member, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absurd_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_net_export_import, setup, teardown),
	};
	return test_exit_status(cmocka_run_group_tests(tests, NULL, NULL));
}
