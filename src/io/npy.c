/* .npy v1.0/2.0/3.0 decoding and v1.0 encoding (docs/formats.md).
 *
 *   "\x93NUMPY" major minor HEADER_LEN (u16 for 1.x, u32 for 2.x/3.x)
 *   header: a Python dict literal, e.g.
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (4, 1, 5, 5), }
 *   padded with spaces and ended by '\n'; the data follows, C order.
 *
 * The header is parsed as the literal it is (keys in any order, either
 * quote, trailing commas), never by assuming offsets: older writers aligned
 * the data to 16 bytes, newer ones to 64 and pad generously. */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "io/fileio.h"
#include "io/npy.h"

static const unsigned char npy_magic[6] = { 0x93, 'N', 'U', 'M', 'P', 'Y' };

/* NumPy itself refuses longer headers without allow_pickle. */
#define NPY_MAX_HEADER 10000
/* .npy files this trainer reads are datasets and weights. */
#define NPY_MAX_FILE ((size_t)1 << 34)

/* File dtypes accepted, and the in-memory type each becomes. */
static const struct npy_dtype {
	const char *descr;
	enum npy_type type;
	size_t size;               /* bytes per element in the file */
} npy_dtypes[] = {
	{ "<f4", NPY_FLOAT32, 4 },
	{ "<f8", NPY_FLOAT32, 8 },
	{ "|u1", NPY_UINT8, 1 },
	{ "<u1", NPY_UINT8, 1 },   /* NumPy writes '|u1', but '<u1' means the same */
	{ "<i8", NPY_INT64, 8 },
};

static size_t npy_type_size(enum npy_type t)
{
	return t == NPY_FLOAT32 ? sizeof(float) : t == NPY_UINT8 ? 1 : sizeof(int64_t);
}

static const char *npy_type_descr(enum npy_type t)
{
	return t == NPY_FLOAT32 ? "<f4" : t == NPY_UINT8 ? "|u1" : "<i8";
}

void npy_array_free(struct npy_array *a)
{
	if (!a)
		return;
	free(a->name);
	free(a->data);
	memset(a, 0, sizeof *a);
}

/* ------------------------------------------------------------------ */
/* Decoding                                                             */

struct npy_ctx {
	const char *file;
	const char *member;        /* "x.npy: " or "" */
	struct cnn_error *err;
};

#define npy_errorf(c, ...) npy_errorf(c, __VA_ARGS__)

static int npy_errorf(const struct npy_ctx *c, const char *fmt, ...) CNN_PRINTF(2, 3);

static int npy_errorf(const struct npy_ctx *c, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return cnn_errorf(c->err, (struct cnn_loc){ c->file, 0, 0 }, "%s%s", c->member, msg);
}

/* The header dict, as far as it matters. */
struct npy_header {
	const struct npy_dtype *dtype;
	bool fortran;
	int ndim;
	size_t dims[NPY_MAX_DIMS];
	bool have_descr, have_fortran, have_shape;
};

struct npy_lexer {
	const char *p, *end;
};

static void lex_ws(struct npy_lexer *l)
{
	while (l->p < l->end && isspace((unsigned char)*l->p))
		l->p++;
}

static bool lex_char(struct npy_lexer *l, char ch)
{
	lex_ws(l);
	if (l->p < l->end && *l->p == ch) {
		l->p++;
		return true;
	}
	return false;
}

/* A quoted string without escapes (dtype strings and keys have none). */
static bool lex_string(struct npy_lexer *l, char *out, size_t len)
{
	lex_ws(l);
	if (l->p >= l->end || (*l->p != '\'' && *l->p != '"'))
		return false;
	char q = *l->p++;
	const char *start = l->p;
	while (l->p < l->end && *l->p != q && *l->p != '\\')
		l->p++;
	if (l->p >= l->end || *l->p != q || (size_t)(l->p - start) >= len)
		return false;
	memcpy(out, start, (size_t)(l->p - start));
	out[l->p - start] = '\0';
	l->p++;
	return true;
}

static bool lex_word(struct npy_lexer *l, const char *w)
{
	size_t n = strlen(w);
	lex_ws(l);
	if ((size_t)(l->end - l->p) < n || memcmp(l->p, w, n))
		return false;
	l->p += n;
	return true;
}

static int parse_descr(const struct npy_ctx *c, struct npy_lexer *l, struct npy_header *h)
{
	char descr[32];

	lex_ws(l);
	if (l->p < l->end && *l->p == '[')
		return npy_errorf(c, "structured dtypes are not supported "
		                  "(supported: '<f4', '<f8', '|u1', '<i8')");
	if (!lex_string(l, descr, sizeof descr))
		return npy_errorf(c, "bad .npy header: 'descr' is not a string");
	for (size_t i = 0; i < sizeof npy_dtypes / sizeof npy_dtypes[0]; i++) {
		if (!strcmp(descr, npy_dtypes[i].descr)) {
			h->dtype = &npy_dtypes[i];
			return 0;
		}
	}
	return npy_errorf(c, "unsupported dtype '%s' (supported: '<f4', '<f8', '|u1', '<i8')", descr);
}

static int parse_shape(const struct npy_ctx *c, struct npy_lexer *l, struct npy_header *h)
{
	if (!lex_char(l, '('))
		return npy_errorf(c, "bad .npy header: 'shape' is not a tuple");
	h->ndim = 0;
	while (!lex_char(l, ')')) {
		size_t v = 0;
		lex_ws(l);
		if (l->p >= l->end || !isdigit((unsigned char)*l->p))
			return npy_errorf(c, "bad .npy header: 'shape' holds something other than integers");
		while (l->p < l->end && isdigit((unsigned char)*l->p)) {
			if (!cnn_mul_size(v, 10, &v) || !cnn_add_size(v, (size_t)(*l->p - '0'), &v))
				return npy_errorf(c, "bad .npy header: a dimension is too large");
			l->p++;
		}
		if (h->ndim == NPY_MAX_DIMS)
			return npy_errorf(c, "arrays of more than %d dimensions are not supported", NPY_MAX_DIMS);
		h->dims[h->ndim++] = v;
		if (!lex_char(l, ',')) {
			if (!lex_char(l, ')'))
				return npy_errorf(c, "bad .npy header: 'shape' is not a tuple");
			break;
		}
	}
	return 0;
}

static int parse_header(const struct npy_ctx *c, const char *text, size_t len,
                        struct npy_header *h)
{
	struct npy_lexer l = { text, text + len };
	char key[32];

	memset(h, 0, sizeof *h);
	if (!lex_char(&l, '{'))
		return npy_errorf(c, "bad .npy header: not a dict");
	while (!lex_char(&l, '}')) {
		if (!lex_string(&l, key, sizeof key) || !lex_char(&l, ':'))
			return npy_errorf(c, "bad .npy header: expected 'key': value");
		if (!strcmp(key, "descr")) {
			if (parse_descr(c, &l, h))
				return -1;
			h->have_descr = true;
		} else if (!strcmp(key, "fortran_order")) {
			if (lex_word(&l, "True"))
				h->fortran = true;
			else if (!lex_word(&l, "False"))
				return npy_errorf(c, "bad .npy header: 'fortran_order' is not True or False");
			h->have_fortran = true;
		} else if (!strcmp(key, "shape")) {
			if (parse_shape(c, &l, h))
				return -1;
			h->have_shape = true;
		} else {
			return npy_errorf(c, "bad .npy header: unknown key '%s'", key);
		}
		if (!lex_char(&l, ',')) {
			if (!lex_char(&l, '}'))
				return npy_errorf(c, "bad .npy header: expected ',' or '}'");
			break;
		}
	}
	lex_ws(&l);
	if (l.p != l.end)
		return npy_errorf(c, "bad .npy header: text after the dict");
	if (!h->have_descr || !h->have_fortran || !h->have_shape)
		return npy_errorf(c, "bad .npy header: it needs 'descr', 'fortran_order' and 'shape'");
	return 0;
}

/* Little-endian file elements to native in-memory ones. */
static void convert(const struct npy_dtype *dt, const unsigned char *src, size_t count, void *dst)
{
	size_t i;

	if (dt->size == 1) {
		memcpy(dst, src, count);
	} else if (dt->type == NPY_FLOAT32 && dt->size == 4) {
		for (i = 0; i < count; i++)
			((float *)dst)[i] = bits_f32(get_le32(src + 4 * i));
	} else if (dt->type == NPY_FLOAT32) {
		for (i = 0; i < count; i++)
			((float *)dst)[i] = (float)bits_f64(get_le64(src + 8 * i));
	} else {
		for (i = 0; i < count; i++)
			((int64_t *)dst)[i] = (int64_t)get_le64(src + 8 * i);
	}
}

static int decode(const struct npy_ctx *c, const unsigned char *b, size_t len,
                  struct npy_array *out)
{
	struct npy_header h;
	size_t start, hlen, count = 1, bytes, mem;
	char *text;
	int rc;

	if (len < 10 || memcmp(b, npy_magic, sizeof npy_magic))
		return npy_errorf(c, "not a .npy array (it does not start with \"\\x93NUMPY\")");
	if (b[6] == 1) {
		hlen = get_le16(b + 8);
		start = 10;
	} else if (b[6] == 2 || b[6] == 3) {
		if (len < 12)
			return npy_errorf(c, "truncated .npy header");
		hlen = get_le32(b + 8);
		start = 12;
	} else {
		return npy_errorf(c, ".npy format version %u.%u is not supported (1.0 to 3.0 are)",
		               b[6], b[7]);
	}
	if (hlen > NPY_MAX_HEADER)
		return npy_errorf(c, ".npy header of %zu bytes is too long (at most %d)", hlen,
		               NPY_MAX_HEADER);
	if (hlen > len - start)
		return npy_errorf(c, "truncated .npy header: it claims %zu bytes, %zu are there",
		               hlen, len - start);
	text = malloc(hlen + 1);
	if (!text)
		return npy_errorf(c, "out of memory");
	memcpy(text, b + start, hlen);
	text[hlen] = '\0';
	rc = parse_header(c, text, hlen, &h);
	free(text);
	if (rc)
		return -1;
	start += hlen;

	for (int i = 0; i < h.ndim; i++)
		if (!cnn_mul_size(count, h.dims[i], &count))
			return npy_errorf(c, "shape is too large");
	/* One dimension, or all but one of size 1: both orders are the same. */
	int big = 0;
	for (int i = 0; i < h.ndim; i++)
		big += h.dims[i] > 1;
	if (h.fortran && big > 1)
		return npy_errorf(c, "Fortran-order arrays are not supported; "
		                  "save a C-order copy (numpy.ascontiguousarray)");
	if (!cnn_mul_size(count, h.dtype->size, &bytes) ||
	    !cnn_mul_size(count, npy_type_size(h.dtype->type), &mem))
		return npy_errorf(c, "shape is too large");
	if (bytes > len - start)
		return npy_errorf(c, "truncated: the shape needs %zu bytes of data, %zu are there",
		               bytes, len - start);
	if (bytes < len - start)
		return npy_errorf(c, "%zu bytes after the array's data; the file is corrupt",
		               len - start - bytes);

	memset(out, 0, sizeof *out);
	out->data = malloc(mem ? mem : 1);
	if (!out->data)
		return npy_errorf(c, "out of memory for %zu bytes", mem);
	out->type = h.dtype->type;
	out->ndim = h.ndim;
	memcpy(out->dims, h.dims, sizeof h.dims);
	out->count = count;
	convert(h.dtype, b + start, count, out->data);
	return 0;
}

int npy_decode(const void *buf, size_t len, const char *file, const char *member,
               struct npy_array *out, struct cnn_error *err)
{
	char prefix[300] = "";
	struct npy_ctx c = { file, prefix, err };

	if (member)
		snprintf(prefix, sizeof prefix, "%.280s: ", member);
	memset(out, 0, sizeof *out);
	return decode(&c, buf, len, out);
}

int npy_read(const char *path, struct npy_array *out, struct cnn_error *err)
{
	unsigned char *data;
	size_t len;
	int rc;

	memset(out, 0, sizeof *out);
	if (file_read_all(path, NPY_MAX_FILE, &data, &len, err))
		return -1;
	rc = npy_decode(data, len, path, NULL, out, err);
	free(data);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Encoding                                                             */

void npy_encode(struct bytebuf *b, enum npy_type type, int ndim, const size_t *dims,
                const void *data)
{
	char header[64 + 24 * NPY_MAX_DIMS + 64];
	size_t count = 1, used, padded;
	int n;

	CNN_ASSERT(ndim >= 0 && ndim <= NPY_MAX_DIMS);
	n = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (",
	             npy_type_descr(type));
	used = (size_t)n;
	for (int i = 0; i < ndim; i++) {
		n = snprintf(header + used, sizeof header - used, i ? ", %zu" : "%zu", dims[i]);
		used += (size_t)n;
		count *= dims[i];
	}
	n = snprintf(header + used, sizeof header - used, "%s), }", ndim == 1 ? "," : "");
	used += (size_t)n;

	/* Spaces then '\n' so that 10 + HEADER_LEN is a multiple of 64. */
	padded = (10 + used + 1 + 63) / 64 * 64 - 10;
	bytebuf_put(b, npy_magic, sizeof npy_magic);
	bytebuf_u8(b, 1);
	bytebuf_u8(b, 0);
	bytebuf_u16(b, (uint16_t)padded);
	bytebuf_put(b, header, used);
	unsigned char *pad = bytebuf_extend(b, padded - used);
	if (pad) {
		memset(pad, ' ', padded - used - 1);
		pad[padded - used - 1] = '\n';
	}

	unsigned char *p = bytebuf_extend(b, count * npy_type_size(type));
	if (!p)
		return;
	if (type == NPY_UINT8) {
		if (count)
			memcpy(p, data, count);
	} else if (type == NPY_FLOAT32) {
		for (size_t i = 0; i < count; i++)
			put_le32(p + 4 * i, f32_bits(((const float *)data)[i]));
	} else {
		for (size_t i = 0; i < count; i++)
			put_le64(p + 8 * i, (uint64_t)((const int64_t *)data)[i]);
	}
}
