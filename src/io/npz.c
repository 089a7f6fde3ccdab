/* .npz archives: zip files whose members are .npy images (docs/formats.md).
 *
 * Reading follows the central directory, which is authoritative: NumPy
 * writes every local header as zip64 with 0xFFFFFFFF sizes ("force zip64"),
 * so the local header is used only for the lengths of its name and extra
 * field, to find where the data starts. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <zlib.h>

#include "io/npz.h"
#include "io/bytes.h"
#include "io/fileio.h"
#include "io/npy.h"
#include "util/crc32.h"

#define ZIP_LOCAL_SIG    0x04034b50u
#define ZIP_CENTRAL_SIG  0x02014b50u
#define ZIP_END_SIG      0x06054b50u
#define ZIP64_END_SIG    0x06064b50u
#define ZIP64_LOC_SIG    0x07064b50u
#define ZIP_LOCAL_LEN    30
#define ZIP_CENTRAL_LEN  46
#define ZIP_END_LEN      22
#define ZIP64_END_LEN    56
#define ZIP64_LOC_LEN    20
#define ZIP_MAX_COMMENT  0xffff
#define ZIP_STORED       0
#define ZIP_DEFLATED     8
/* DEFLATE cannot expand more than about 1032:1; a member claiming more is lying. */
#define DEFLATE_MAX_RATIO 1032

static struct cnn_loc at_file(const char *path)
{
	return (struct cnn_loc){ path, 0, 0 };
}

/* ------------------------------------------------------------------ */
/* Reading the directory                                                */

static int read_at(struct npz_file *z, uint64_t offset, void *buf, size_t len,
                   struct cnn_error *err)
{
	if (offset > z->size || len > z->size - offset)
		return cnn_errorf(err, at_file(z->path), "truncated: a read at offset %llu runs "
		                  "past the end of the file (%llu bytes)",
		                  (unsigned long long)offset, (unsigned long long)z->size);
	if (fseeko(z->f, (off_t)offset, SEEK_SET) != 0 || fread(buf, 1, len, z->f) != len)
		return cnn_errorf(err, at_file(z->path), "read error at offset %llu",
		                  (unsigned long long)offset);
	return 0;
}

struct zip_end {
	uint64_t entries, cd_size, cd_offset;
	uint64_t end_offset;        /* where the end record (or the zip64 one) starts */
};

static int not_a_zip(const struct npz_file *z, struct cnn_error *err)
{
	return cnn_errorf(err, at_file(z->path),
	                  "not a zip file (no end-of-central-directory record); "
	                  "an .npz is a zip of .npy files");
}

/* A zip64 end record, found through its locator just before the classic one. */
static int find_zip64_end(struct npz_file *z, uint64_t end_at, struct zip_end *e,
                          struct cnn_error *err)
{
	unsigned char loc[ZIP64_LOC_LEN], rec[ZIP64_END_LEN];
	uint64_t at;

	if (end_at < ZIP64_LOC_LEN)
		return 0;
	if (read_at(z, end_at - ZIP64_LOC_LEN, loc, sizeof loc, err))
		return -1;
	if (get_le32(loc) != ZIP64_LOC_SIG)
		return 0;
	at = get_le64(loc + 8);
	if (at > end_at - ZIP64_LOC_LEN || read_at(z, at, rec, sizeof rec, err) ||
	    get_le32(rec) != ZIP64_END_SIG)
		return cnn_errorf(err, at_file(z->path), "bad zip: broken zip64 end record");
	e->entries = get_le64(rec + 32);
	e->cd_size = get_le64(rec + 40);
	e->cd_offset = get_le64(rec + 48);
	e->end_offset = at;
	return 0;
}

static int find_end(struct npz_file *z, struct zip_end *e, struct cnn_error *err)
{
	size_t tail_len = z->size < ZIP_END_LEN + ZIP_MAX_COMMENT ?
	                  (size_t)z->size : ZIP_END_LEN + ZIP_MAX_COMMENT;
	uint64_t tail_at = z->size - tail_len;
	unsigned char *tail;
	int rc = -1;

	if (tail_len < ZIP_END_LEN)
		return not_a_zip(z, err);
	tail = malloc(tail_len);
	if (!tail)
		return cnn_errorf(err, at_file(z->path), "out of memory");
	if (read_at(z, tail_at, tail, tail_len, err))
		goto out;
	/* The last signature whose comment length reaches exactly the end. */
	for (size_t i = tail_len - ZIP_END_LEN + 1; i-- > 0;) {
		const unsigned char *p = tail + i;
		if (get_le32(p) != ZIP_END_SIG || i + ZIP_END_LEN + get_le16(p + 20) != tail_len)
			continue;
		e->entries = get_le16(p + 10);
		e->cd_size = get_le32(p + 12);
		e->cd_offset = get_le32(p + 16);
		e->end_offset = tail_at + i;
		rc = find_zip64_end(z, tail_at + i, e, err);
		goto out;
	}
	not_a_zip(z, err);
out:
	free(tail);
	return rc;
}

/* Central sizes of 0xFFFFFFFF are in the zip64 extra field (id 1), in the
 * order uncompressed, compressed, offset, each only if saturated. */
static int read_zip64_extra(const struct npz_file *z, const unsigned char *x, size_t len,
                            struct npz_member *m, struct cnn_error *err)
{
	while (len >= 4) {
		uint16_t id = get_le16(x), n = get_le16(x + 2);
		if ((size_t)n > len - 4)
			break;
		if (id == 1) {
			struct bytecur c = { x + 4, n };
			const unsigned char *v;
			uint64_t *fields[] = { &m->usize, &m->csize, &m->offset };
			for (int i = 0; i < 3; i++) {
				if (*fields[i] != 0xffffffffu)
					continue;
				if (!bytecur_take(&c, 8, &v))
					goto bad;
				*fields[i] = get_le64(v);
			}
			return 0;
		}
		x += 4 + n;
		len -= 4 + (size_t)n;
	}
	if (m->usize != 0xffffffffu && m->csize != 0xffffffffu && m->offset != 0xffffffffu)
		return 0;
bad:
	return cnn_errorf(err, at_file(z->path), "bad zip: member '%s' has a broken zip64 field",
	                  m->name);
}

static char *dup_range(const unsigned char *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

static int read_member(struct npz_file *z, struct bytecur *c, struct npz_member *m,
                       struct cnn_error *err)
{
	const unsigned char *h, *name, *extra, *comment;
	uint16_t name_len, extra_len, comment_len;
	size_t key_len;

	if (!bytecur_take(c, ZIP_CENTRAL_LEN, &h) || get_le32(h) != ZIP_CENTRAL_SIG)
		return cnn_errorf(err, at_file(z->path), "bad zip: broken central directory");
	m->flags = get_le16(h + 8);
	m->method = get_le16(h + 10);
	m->crc = get_le32(h + 16);
	m->csize = get_le32(h + 20);
	m->usize = get_le32(h + 24);
	name_len = get_le16(h + 28);
	extra_len = get_le16(h + 30);
	comment_len = get_le16(h + 32);
	m->offset = get_le32(h + 42);
	if (!bytecur_take(c, name_len, &name) || !bytecur_take(c, extra_len, &extra) ||
	    !bytecur_take(c, comment_len, &comment))
		return cnn_errorf(err, at_file(z->path), "bad zip: broken central directory");
	(void)comment;
	if (memchr(name, '\0', name_len))
		return cnn_errorf(err, at_file(z->path), "bad zip: a member name holds a NUL byte");
	m->name = dup_range(name, name_len);
	key_len = name_len >= 4 && !memcmp(name + name_len - 4, ".npy", 4) ? name_len - 4u : name_len;
	m->key = dup_range(name, key_len);
	if (!m->name || !m->key)
		return cnn_errorf(err, at_file(z->path), "out of memory");
	return read_zip64_extra(z, extra, extra_len, m, err);
}

static int read_directory(struct npz_file *z, struct cnn_error *err)
{
	struct zip_end e = { 0 };
	unsigned char *cd;
	int rc = 0;

	if (find_end(z, &e, err))
		return -1;
	if (e.cd_offset > e.end_offset || e.cd_size > e.end_offset - e.cd_offset)
		return cnn_errorf(err, at_file(z->path), "bad zip: the central directory lies "
		                  "outside the file (truncated?)");
	if (e.entries > e.cd_size / ZIP_CENTRAL_LEN)
		return cnn_errorf(err, at_file(z->path), "bad zip: %llu entries cannot fit in a "
		                  "central directory of %llu bytes", (unsigned long long)e.entries,
		                  (unsigned long long)e.cd_size);
	cd = malloc(e.cd_size ? (size_t)e.cd_size : 1);
	z->members = calloc(e.entries ? (size_t)e.entries : 1, sizeof *z->members);
	if (!cd || !z->members) {
		free(cd);
		return cnn_errorf(err, at_file(z->path), "out of memory");
	}
	if (read_at(z, e.cd_offset, cd, (size_t)e.cd_size, err)) {
		free(cd);
		return -1;
	}
	struct bytecur c = { cd, (size_t)e.cd_size };
	for (uint64_t i = 0; i < e.entries && !rc; i++) {
		z->n++;
		rc = read_member(z, &c, &z->members[i], err);
	}
	free(cd);
	return rc;
}

int npz_open(const char *path, struct npz_file *z, struct cnn_error *err)
{
	memset(z, 0, sizeof *z);
	z->path = malloc(strlen(path) + 1);
	if (!z->path)
		return cnn_errorf(err, at_file(path), "out of memory");
	strcpy(z->path, path);
	z->f = input_fopen(path, err);
	if (!z->f)
		goto fail;
	if (fseeko(z->f, 0, SEEK_END) != 0) {
		cnn_errorf(err, at_file(path), "cannot seek: %s", strerror(errno));
		goto fail;
	}
	off_t size = ftello(z->f);
	if (size < 0) {
		cnn_errorf(err, at_file(path), "cannot seek: %s", strerror(errno));
		goto fail;
	}
	z->size = (uint64_t)size;
	if (read_directory(z, err))
		goto fail;
	return 0;
fail:
	npz_close(z);
	return -1;
}

void npz_close(struct npz_file *z)
{
	if (!z)
		return;
	if (z->f)
		fclose(z->f);
	for (int i = 0; i < z->n; i++) {
		free(z->members[i].name);
		free(z->members[i].key);
	}
	free(z->members);
	free(z->path);
	memset(z, 0, sizeof *z);
}

/* ------------------------------------------------------------------ */
/* Reading members                                                      */

static int inflate_member(struct npz_file *z, const struct npz_member *m,
                          const unsigned char *in, unsigned char *out, struct cnn_error *err)
{
	z_stream s;
	int rc;

	memset(&s, 0, sizeof s);
	/* Negative window bits: raw DEFLATE, as zip stores it (no zlib header). */
	if (inflateInit2(&s, -MAX_WBITS) != Z_OK)
		return cnn_errorf(err, at_file(z->path), "out of memory for inflate");
	size_t in_left = (size_t)m->csize, out_left = (size_t)m->usize;
	s.next_in = (unsigned char *)in;
	s.next_out = out;
	do {
		/* zlib counts in uInt: feed at most 1 GiB at a time. */
		if (s.avail_in == 0) {
			s.avail_in = (uInt)(in_left < (1u << 30) ? in_left : (1u << 30));
			in_left -= s.avail_in;
		}
		if (s.avail_out == 0) {
			s.avail_out = (uInt)(out_left < (1u << 30) ? out_left : (1u << 30));
			out_left -= s.avail_out;
		}
		rc = inflate(&s, Z_NO_FLUSH);
	} while (rc == Z_OK && (s.avail_in || in_left) && (s.avail_out || out_left));
	/* A stream that is complete but would have more output, or has ended
	 * with output space left, disagrees with the directory's size. */
	if (rc == Z_OK && !s.avail_out && !out_left) {
		unsigned char extra;
		s.next_out = &extra;
		s.avail_out = 1;
		rc = inflate(&s, Z_NO_FLUSH);
		if (rc == Z_OK || (rc == Z_STREAM_END && s.avail_out == 0))
			rc = Z_DATA_ERROR;
		else if (rc == Z_BUF_ERROR)
			rc = Z_DATA_ERROR;
	}
	bool ok = rc == Z_STREAM_END && s.total_out == m->usize;
	const char *msg = s.msg;
	inflateEnd(&s);
	if (!ok)
		return cnn_errorf(err, at_file(z->path), "%s: corrupt deflate data (%s)", m->name,
		                  rc == Z_STREAM_END ? "size differs from the zip directory's" :
		                  msg ? msg : "stream ends early");
	return 0;
}

/* The member's uncompressed bytes, CRC checked. */
static int member_bytes(struct npz_file *z, const struct npz_member *m, unsigned char **out,
                        struct cnn_error *err)
{
	unsigned char h[ZIP_LOCAL_LEN], *raw = NULL, *plain = NULL;
	uint64_t data_at;

	*out = NULL;
	if (m->flags & 1)
		return cnn_errorf(err, at_file(z->path), "%s: encrypted members are not supported",
		                  m->name);
	if (m->method != ZIP_STORED && m->method != ZIP_DEFLATED)
		return cnn_errorf(err, at_file(z->path), "%s: compression method %u is not supported "
		                  "(only stored and deflated are)", m->name, m->method);
	if (read_at(z, m->offset, h, sizeof h, err))
		return -1;
	if (get_le32(h) != ZIP_LOCAL_SIG)
		return cnn_errorf(err, at_file(z->path), "bad zip: no local header for %s", m->name);
	data_at = m->offset + ZIP_LOCAL_LEN + get_le16(h + 26) + get_le16(h + 28);
	if (data_at > z->size || m->csize > z->size - data_at)
		return cnn_errorf(err, at_file(z->path), "truncated: %s runs past the end of the file",
		                  m->name);
	if (m->method == ZIP_STORED && m->csize != m->usize)
		return cnn_errorf(err, at_file(z->path), "bad zip: stored member %s has sizes %llu "
		                  "and %llu", m->name, (unsigned long long)m->csize,
		                  (unsigned long long)m->usize);
	if (m->method == ZIP_DEFLATED &&
	    m->usize / DEFLATE_MAX_RATIO > m->csize + 1)
		return cnn_errorf(err, at_file(z->path), "bad zip: %s claims %llu bytes from %llu "
		                  "compressed, more than DEFLATE can expand", m->name,
		                  (unsigned long long)m->usize, (unsigned long long)m->csize);
	if (m->usize > SIZE_MAX / 2)
		return cnn_errorf(err, at_file(z->path), "%s is too large", m->name);

	raw = malloc(m->csize ? (size_t)m->csize : 1);
	if (!raw)
		goto out_oom;
	if (read_at(z, data_at, raw, (size_t)m->csize, err))
		goto out_free;
	if (m->method == ZIP_STORED) {
		plain = raw;
		raw = NULL;
	} else {
		plain = malloc(m->usize ? (size_t)m->usize : 1);
		if (!plain)
			goto out_oom;
		if (inflate_member(z, m, raw, plain, err))
			goto out_free;
	}
	uint32_t crc = crc32_update(0, plain, (size_t)m->usize);
	if (crc != m->crc) {
		cnn_errorf(err, at_file(z->path), "%s: CRC mismatch (stored %08x, computed %08x); "
		           "the file is corrupted", m->name, m->crc, crc);
		goto out_free;
	}
	free(raw);
	*out = plain;
	return 0;

out_oom:
	cnn_errorf(err, at_file(z->path), "out of memory reading %s", m->name);
out_free:
	free(raw);
	free(plain);
	return -1;
}

static int load_member(struct npz_file *z, const struct npz_member *m, struct npy_array *out,
                       struct cnn_error *err)
{
	unsigned char *bytes;
	int rc;

	if (member_bytes(z, m, &bytes, err))
		return -1;
	rc = npy_decode(bytes, (size_t)m->usize, z->path, m->name, out, err);
	free(bytes);
	if (rc)
		return -1;
	out->name = malloc(strlen(m->key) + 1);
	if (!out->name) {
		npy_array_free(out);
		return cnn_errorf(err, at_file(z->path), "out of memory");
	}
	strcpy(out->name, m->key);
	return 0;
}

/* "a, b, c" (cut short with "..." if long). */
static void list_keys(const struct npz_file *z, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < z->n && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", z->members[i].key);
		if (n < 0 || (size_t)n >= len - used) {
			snprintf(buf + (len > 4 ? len - 4 : 0), len > 4 ? 4 : len, "...");
			return;
		}
		used += (size_t)n;
	}
	if (z->n == 0)
		snprintf(buf, len, "no arrays");
}

int npz_load(struct npz_file *z, const char *key, struct npy_array *out, struct cnn_error *err)
{
	char keys[300];

	memset(out, 0, sizeof *out);
	for (int i = 0; i < z->n; i++)
		if (!strcmp(z->members[i].key, key))
			return load_member(z, &z->members[i], out, err);
	list_keys(z, keys, sizeof keys);
	return cnn_errorf_plain(err, "%s has no array '%s' (it has: %s)", z->path, key, keys);
}

int npz_read(const char *path, struct npz_archive *out, struct cnn_error *err)
{
	struct npz_file z;

	memset(out, 0, sizeof *out);
	if (npz_open(path, &z, err))
		return -1;
	out->arrays = calloc(z.n ? (size_t)z.n : 1, sizeof *out->arrays);
	if (!out->arrays) {
		cnn_errorf(err, at_file(path), "out of memory");
		goto fail;
	}
	for (int i = 0; i < z.n; i++) {
		size_t len = strlen(z.members[i].name);
		if (len && z.members[i].name[len - 1] == '/')
			continue;   /* a folder entry some zip tools add */
		if (load_member(&z, &z.members[i], &out->arrays[out->n], err))
			goto fail;
		out->n++;
	}
	npz_close(&z);
	return 0;
fail:
	npz_close(&z);
	npz_archive_free(out);
	return -1;
}

const struct npy_array *npz_find(const struct npz_archive *a, const char *key)
{
	for (int i = 0; i < a->n; i++)
		if (!strcmp(a->arrays[i].name, key))
			return &a->arrays[i];
	return NULL;
}

void npz_archive_free(struct npz_archive *a)
{
	if (!a)
		return;
	for (int i = 0; i < a->n; i++)
		npy_array_free(&a->arrays[i]);
	free(a->arrays);
	memset(a, 0, sizeof *a);
}

/* ------------------------------------------------------------------ */
/* Writing                                                              */

struct npz_entry {
	char *name;
	uint16_t method;
	uint32_t crc, csize, usize, offset;
};

struct npz_writer {
	struct atomic_file file;
	bool compress;
	uint64_t offset;            /* bytes written so far */
	int n, cap;
	struct npz_entry *entries;
};

/* 1980-01-01 00:00, the earliest DOS date: the same arrays give the same file. */
#define ZIP_DOS_TIME 0
#define ZIP_DOS_DATE ((0 << 9) | (1 << 5) | 1)
#define ZIP_VERSION 20          /* 2.0: deflate */
#define ZIP_MADE_BY ((3 << 8) | ZIP_VERSION)   /* Unix, so the mode below applies */
#define ZIP_UNIX_MODE (0100644u << 16)

int npz_writer_open(const char *path, bool compress, struct npz_writer **out,
                    struct cnn_error *err)
{
	struct npz_writer *w = calloc(1, sizeof *w);

	*out = NULL;
	if (!w)
		return cnn_errorf(err, at_file(path), "out of memory");
	if (atomic_open(&w->file, path, err)) {
		free(w);
		return -1;
	}
	w->compress = compress;
	*out = w;
	return 0;
}

static void free_writer(struct npz_writer *w)
{
	for (int i = 0; i < w->n; i++)
		free(w->entries[i].name);
	free(w->entries);
	free(w);
}

void npz_writer_abort(struct npz_writer *w)
{
	if (!w)
		return;
	atomic_abort(&w->file);
	free_writer(w);
}

/* Raw DEFLATE of in into a new buffer. */
static int deflate_bytes(const unsigned char *in, size_t len, struct bytebuf *out)
{
	z_stream s;
	int rc;

	memset(&s, 0, sizeof s);
	if (deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8,
	                 Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	uLong bound = deflateBound(&s, (uLong)len);
	unsigned char *p = bound <= UINT_MAX ? bytebuf_extend(out, bound) : NULL;
	if (!p) {
		deflateEnd(&s);
		return -1;
	}
	s.next_in = (unsigned char *)in;
	s.avail_in = (uInt)len;
	s.next_out = p;
	s.avail_out = (uInt)out->len;
	rc = deflate(&s, Z_FINISH);
	out->len = s.total_out;
	deflateEnd(&s);
	return rc == Z_STREAM_END ? 0 : -1;
}

static void put_header(struct bytebuf *b, bool central, const struct npz_entry *e)
{
	size_t name_len = strlen(e->name);

	bytebuf_u32(b, central ? ZIP_CENTRAL_SIG : ZIP_LOCAL_SIG);
	if (central)
		bytebuf_u16(b, ZIP_MADE_BY);
	bytebuf_u16(b, ZIP_VERSION);
	bytebuf_u16(b, 0);                  /* flags */
	bytebuf_u16(b, e->method);
	bytebuf_u16(b, ZIP_DOS_TIME);
	bytebuf_u16(b, ZIP_DOS_DATE);
	bytebuf_u32(b, e->crc);
	bytebuf_u32(b, e->csize);
	bytebuf_u32(b, e->usize);
	bytebuf_u16(b, (uint16_t)name_len);
	bytebuf_u16(b, 0);                  /* extra field length */
	if (central) {
		bytebuf_u16(b, 0);          /* comment length */
		bytebuf_u16(b, 0);          /* disk number */
		bytebuf_u16(b, 0);          /* internal attributes */
		bytebuf_u32(b, ZIP_UNIX_MODE);
		bytebuf_u32(b, e->offset);
	}
	bytebuf_put(b, e->name, name_len);
}

static int write_bytes(struct npz_writer *w, const struct bytebuf *b, struct cnn_error *err)
{
	if (b->len && fwrite(b->data, 1, b->len, w->file.f) != b->len)
		return cnn_errorf(err, at_file(w->file.path), "cannot write: %s", strerror(errno));
	w->offset += b->len;
	return 0;
}

int npz_writer_add(struct npz_writer *w, const char *key, enum npy_type type, int ndim,
                   const size_t *dims, const void *data, struct cnn_error *err)
{
	struct bytebuf npy = { 0 }, packed = { 0 }, head = { 0 };
	struct npz_entry e = { 0 };
	const struct bytebuf *body = &npy;
	size_t name_len = strlen(key) + 4;
	int rc = -1;

	if (ndim < 0 || ndim > NPY_MAX_DIMS)
		return cnn_errorf(err, at_file(w->file.path), "%s: %d dimensions (at most %d)", key,
		                  ndim, NPY_MAX_DIMS);
	if (name_len > 0xffff)
		return cnn_errorf(err, at_file(w->file.path), "array name too long");
	if (w->n == w->cap) {
		int cap = w->cap ? 2 * w->cap : 16;
		struct npz_entry *p = realloc(w->entries, (size_t)cap * sizeof *p);
		if (!p)
			return cnn_errorf(err, at_file(w->file.path), "out of memory");
		w->entries = p;
		w->cap = cap;
	}
	e.name = malloc(name_len + 1);
	if (!e.name)
		return cnn_errorf(err, at_file(w->file.path), "out of memory");
	snprintf(e.name, name_len + 1, "%s.npy", key);

	npy_encode(&npy, type, ndim, dims, data);
	if (npy.failed) {
		cnn_errorf(err, at_file(w->file.path), "out of memory encoding %s", e.name);
		goto out;
	}
	/* Without zip64, every size and offset must fit in 32 bits (the 64 KiB
	 * leave room for this member's headers and deflate's worst case). */
	if ((uint64_t)npy.len + npy.len / 1000 + w->offset + name_len + 65536 >= 0xffffffffu) {
		cnn_errorf(err, at_file(w->file.path), "%s: the archive would pass 4 GiB, "
		           "which needs zip64 (not written)", e.name);
		goto out;
	}
	e.method = ZIP_STORED;
	e.crc = crc32_update(0, npy.data, npy.len);
	e.usize = (uint32_t)npy.len;
	if (w->compress) {
		if (deflate_bytes(npy.data, npy.len, &packed)) {
			cnn_errorf(err, at_file(w->file.path), "cannot compress %s", e.name);
			goto out;
		}
		e.method = ZIP_DEFLATED;
		body = &packed;
	}
	e.csize = (uint32_t)body->len;
	e.offset = (uint32_t)w->offset;
	put_header(&head, false, &e);
	if (head.failed) {
		cnn_errorf(err, at_file(w->file.path), "out of memory");
		goto out;
	}
	if (write_bytes(w, &head, err) || write_bytes(w, body, err))
		goto out;
	w->entries[w->n++] = e;
	e.name = NULL;
	rc = 0;
out:
	free(e.name);
	bytebuf_free(&npy);
	bytebuf_free(&packed);
	bytebuf_free(&head);
	return rc;
}

int npz_writer_close(struct npz_writer *w, struct cnn_error *err)
{
	struct bytebuf b = { 0 };
	uint64_t cd_at = w->offset;
	int rc;

	if (w->n > 0xffff) {
		cnn_errorf(err, at_file(w->file.path), "%d arrays; a zip without zip64 holds at "
		           "most 65535", w->n);
		npz_writer_abort(w);
		return -1;
	}
	for (int i = 0; i < w->n; i++)
		put_header(&b, true, &w->entries[i]);
	size_t cd_size = b.len;
	bytebuf_u32(&b, ZIP_END_SIG);
	bytebuf_u16(&b, 0);                 /* this disk */
	bytebuf_u16(&b, 0);                 /* the disk where the directory starts */
	bytebuf_u16(&b, (uint16_t)w->n);    /* entries on this disk */
	bytebuf_u16(&b, (uint16_t)w->n);    /* entries in all */
	bytebuf_u32(&b, (uint32_t)cd_size);
	bytebuf_u32(&b, (uint32_t)cd_at);
	bytebuf_u16(&b, 0);                 /* comment length */
	if (b.failed) {
		cnn_errorf(err, at_file(w->file.path), "out of memory");
		rc = -1;
	} else {
		rc = write_bytes(w, &b, err);
	}
	bytebuf_free(&b);
	if (rc) {
		npz_writer_abort(w);
		return -1;
	}
	rc = atomic_commit(&w->file, err);
	free_writer(w);
	return rc;
}
