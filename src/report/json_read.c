/* The JSON reader declared in json_read.h: a recursive-descent parser over
 * a length-bounded buffer (the text need not end in a NUL). */
#include "report/json_read.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "io/fileio.h"

#define JSON_MAX_FILE (64 << 20)

struct parser {
	const char *start, *p, *end;
	const char *name;
	struct cnn_error *err;
	int depth;
};

/* Line and column (1-based, in bytes) of the parser's position. */
static int fail(struct parser *ps, const char *what)
{
	int line = 1, col = 1;

	for (const char *q = ps->start; q < ps->p; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	return cnn_errorf(ps->err, (struct cnn_loc){ ps->name, line, col }, "%s", what);
}

static int peek(const struct parser *ps)
{
	return ps->p < ps->end ? (unsigned char)*ps->p : -1;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static bool take(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return false;
	ps->p += n;
	return true;
}

static int parse_value(struct parser *ps, struct json_value *v);

/* ------------------------------------------------------------------ */
/* Strings                                                              */

struct buf {
	char *s;
	size_t len, cap;
};

static int buf_put(struct buf *b, char c)
{
	if (b->len + 1 >= b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 32;
		char *s = realloc(b->s, cap);

		if (!s)
			return -1;
		b->s = s;
		b->cap = cap;
	}
	b->s[b->len++] = c;
	b->s[b->len] = '\0';
	return 0;
}

static int buf_put_utf8(struct buf *b, uint32_t cp)
{
	int rc = 0;

	if (cp < 0x80)
		return buf_put(b, (char)cp);
	if (cp < 0x800) {
		rc |= buf_put(b, (char)(0xc0 | cp >> 6));
	} else if (cp < 0x10000) {
		rc |= buf_put(b, (char)(0xe0 | cp >> 12));
		rc |= buf_put(b, (char)(0x80 | (cp >> 6 & 0x3f)));
	} else {
		rc |= buf_put(b, (char)(0xf0 | cp >> 18));
		rc |= buf_put(b, (char)(0x80 | (cp >> 12 & 0x3f)));
		rc |= buf_put(b, (char)(0x80 | (cp >> 6 & 0x3f)));
	}
	rc |= buf_put(b, (char)(0x80 | (cp & 0x3f)));
	return rc;
}

/* Four hex digits at ps->p. */
static int read_hex4(struct parser *ps, uint32_t *out)
{
	*out = 0;
	for (int i = 0; i < 4; i++, ps->p++) {
		int c = peek(ps), d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return fail(ps, "expected four hex digits after \\u");
		*out = *out << 4 | (uint32_t)d;
	}
	return 0;
}

/* After "\u": one code point, joining a UTF-16 surrogate pair. */
static int read_unicode(struct parser *ps, uint32_t *cp)
{
	uint32_t lo;

	if (read_hex4(ps, cp))
		return -1;
	if (*cp >= 0xdc00 && *cp <= 0xdfff)
		return fail(ps, "unpaired low surrogate in \\u escape");
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 0;
	if (!take(ps, "\\u"))
		return fail(ps, "high surrogate without its low half");
	if (read_hex4(ps, &lo))
		return -1;
	if (lo < 0xdc00 || lo > 0xdfff)
		return fail(ps, "high surrogate without its low half");
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	return 0;
}

static int read_escape(struct parser *ps, struct buf *b)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	int c = peek(ps);
	const char *at;
	uint32_t cp;

	if (c == 'u') {
		ps->p++;
		return read_unicode(ps, &cp) || buf_put_utf8(b, cp) ? -1 : 0;
	}
	if (c < 0 || !(at = strchr(from, c)) || c == 0)
		return fail(ps, "unknown escape in string");
	ps->p++;
	return buf_put(b, to[at - from]);
}

static int read_string(struct parser *ps, char **out, size_t *len)
{
	struct buf b = { 0 };

	ps->p++; /* the opening quote */
	if (buf_put(&b, 'x'))
		goto out_nomem;
	b.len = 0; /* an empty string is still an allocated "" */
	b.s[0] = '\0';
	for (;;) {
		int c = peek(ps);

		if (c < 0) {
			fail(ps, "unterminated string");
			goto out_free;
		}
		if (c == '"')
			break;
		if (c < 0x20) {
			fail(ps, "control character in string (must be escaped)");
			goto out_free;
		}
		ps->p++;
		if (c == '\\') {
			if (read_escape(ps, &b))
				goto out_free;
		} else if (buf_put(&b, (char)c)) {
			goto out_nomem;
		}
	}
	ps->p++;
	*out = b.s;
	*len = b.len;
	return 0;
out_nomem:
	fail(ps, "out of memory");
out_free:
	free(b.s);
	return -1;
}

/* ------------------------------------------------------------------ */
/* Numbers                                                              */

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* RFC 8259's grammar, checked before strtod (which also takes hex, "inf",
 * leading '+' and leading zeros). */
static int parse_number(struct parser *ps, struct json_value *v)
{
	const char *first = ps->p;
	char tmp[128];
	size_t n;

	if (peek(ps) == '-')
		ps->p++;
	if (peek(ps) == '0') {
		ps->p++;
	} else if (is_digit(peek(ps))) {
		while (is_digit(peek(ps)))
			ps->p++;
	} else {
		return fail(ps, "invalid number");
	}
	if (peek(ps) == '.') {
		ps->p++;
		if (!is_digit(peek(ps)))
			return fail(ps, "expected a digit after the decimal point");
		while (is_digit(peek(ps)))
			ps->p++;
	}
	if (peek(ps) == 'e' || peek(ps) == 'E') {
		ps->p++;
		if (peek(ps) == '+' || peek(ps) == '-')
			ps->p++;
		if (!is_digit(peek(ps)))
			return fail(ps, "expected a digit in the exponent");
		while (is_digit(peek(ps)))
			ps->p++;
	}
	n = (size_t)(ps->p - first);
	if (n >= sizeof tmp) {
		ps->p = first;
		return fail(ps, "number too long");
	}
	memcpy(tmp, first, n);
	tmp[n] = '\0';
	v->type = JSON_NUMBER;
	v->number = strtod(tmp, NULL);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Containers                                                           */

/* Room for one more item (and key) in v. */
static int grow(struct json_value *v, int *cap, bool keys)
{
	int n = *cap ? 2 * *cap : 8;
	struct json_value *items;

	if (v->n < *cap)
		return 0;
	items = realloc(v->items, (size_t)n * sizeof *items);
	if (!items)
		return -1;
	v->items = items;
	if (keys) {
		char **k = realloc(v->keys, (size_t)n * sizeof *k);

		if (!k)
			return -1;
		v->keys = k;
	}
	*cap = n;
	return 0;
}

static int parse_array(struct parser *ps, struct json_value *v)
{
	int cap = 0;

	v->type = JSON_ARRAY;
	ps->p++;
	skip_ws(ps);
	if (peek(ps) == ']') {
		ps->p++;
		return 0;
	}
	for (;;) {
		if (grow(v, &cap, false))
			return fail(ps, "out of memory");
		memset(&v->items[v->n], 0, sizeof v->items[0]);
		v->n++;
		if (parse_value(ps, &v->items[v->n - 1]))
			return -1;
		skip_ws(ps);
		if (peek(ps) == ']') {
			ps->p++;
			return 0;
		}
		if (peek(ps) != ',')
			return fail(ps, "expected ',' or ']' in array");
		ps->p++;
	}
}

static int parse_member(struct parser *ps, struct json_value *v)
{
	size_t len;

	skip_ws(ps);
	if (peek(ps) != '"')
		return fail(ps, "expected a string key in object");
	v->keys[v->n] = NULL;
	memset(&v->items[v->n], 0, sizeof v->items[0]);
	v->n++;
	if (read_string(ps, &v->keys[v->n - 1], &len))
		return -1;
	skip_ws(ps);
	if (peek(ps) != ':')
		return fail(ps, "expected ':' after object key");
	ps->p++;
	return parse_value(ps, &v->items[v->n - 1]);
}

static int parse_object(struct parser *ps, struct json_value *v)
{
	int cap = 0;

	v->type = JSON_OBJECT;
	ps->p++;
	skip_ws(ps);
	if (peek(ps) == '}') {
		ps->p++;
		return 0;
	}
	for (;;) {
		if (grow(v, &cap, true))
			return fail(ps, "out of memory");
		if (parse_member(ps, v))
			return -1;
		skip_ws(ps);
		if (peek(ps) == '}') {
			ps->p++;
			return 0;
		}
		if (peek(ps) != ',')
			return fail(ps, "expected ',' or '}' in object");
		ps->p++;
	}
}

static int parse_value(struct parser *ps, struct json_value *v)
{
	int c, rc;

	skip_ws(ps);
	c = peek(ps);
	if (c == '{' || c == '[') {
		if (++ps->depth > JSON_READ_MAX_DEPTH)
			return fail(ps, "nested too deeply");
		rc = c == '{' ? parse_object(ps, v) : parse_array(ps, v);
		ps->depth--;
		return rc;
	}
	if (c == '"') {
		v->type = JSON_STRING;
		return read_string(ps, &v->string, &v->len);
	}
	if (c == '-' || is_digit(c))
		return parse_number(ps, v);
	if (take(ps, "true") || take(ps, "false")) {
		v->type = JSON_BOOL;
		v->boolean = ps->p[-1] == 'e' && ps->p[-2] == 'u';
		return 0;
	}
	if (take(ps, "null")) {
		v->type = JSON_NULL;
		return 0;
	}
	return fail(ps, c < 0 ? "unexpected end of input" : "expected a JSON value");
}

int json_parse(const char *text, size_t len, const char *name, struct json_value *out,
               struct cnn_error *err)
{
	struct parser ps = { text, text, text + len, name, err, 0 };

	memset(out, 0, sizeof *out);
	if (parse_value(&ps, out))
		goto fail;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		fail(&ps, "unexpected text after the JSON value");
		goto fail;
	}
	return 0;
fail:
	json_free(out);
	return -1;
}

void json_free(struct json_value *v)
{
	for (int i = 0; i < v->n; i++) {
		json_free(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->string);
	memset(v, 0, sizeof *v);
}

int json_parse_file(const char *path, struct json_value *out, struct cnn_error *err)
{
	char *text = NULL;
	size_t len = 0, cap = 0;
	int rc;

	memset(out, 0, sizeof *out);
	FILE *f = input_fopen(path, err);
	if (!f)
		return -1;
	/* metrics.json is a few kilobytes; a huge one is not a run's. */
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && (unsigned long long)st.st_size > JSON_MAX_FILE) {
		fclose(f);
		return cnn_errorf_plain(err, "%s: %lld bytes, more than %d MB", path, (long long)st.st_size,
		                        JSON_MAX_FILE >> 20);
	}
	for (;;) {
		size_t got;

		if (len == cap) {
			char *t = realloc(text, cap = cap ? 2 * cap : 16384);

			if (!t) {
				free(text);
				fclose(f);
				return cnn_errorf_plain(err, "out of memory reading %s", path);
			}
			text = t;
		}
		got = fread(text + len, 1, cap - len, f);
		len += got;
		if (got == 0 || len > JSON_MAX_FILE)
			break;
	}
	rc = ferror(f) ? cnn_errorf_plain(err, "cannot read %s", path) : 0;
	fclose(f);
	if (!rc)
		rc = json_parse(text, len, path, out, err);
	free(text);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Lookups                                                              */

const struct json_value *json_member(const struct json_value *v, const char *key)
{
	if (!v || v->type != JSON_OBJECT)
		return NULL;
	/* The last of duplicate keys wins, as in most readers. */
	for (int i = v->n - 1; i >= 0; i--)
		if (!strcmp(v->keys[i], key))
			return &v->items[i];
	return NULL;
}

const struct json_value *json_item(const struct json_value *v, int i)
{
	if (!v || v->type != JSON_ARRAY || i < 0 || i >= v->n)
		return NULL;
	return &v->items[i];
}

const struct json_value *json_get(const struct json_value *v, const char *path)
{
	char part[128];

	while (v && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		char *end;
		long i;

		if (n >= sizeof part)
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		if (v->type == JSON_ARRAY) {
			i = strtol(part, &end, 10);
			v = n && !*end && i <= INT32_MAX ? json_item(v, (int)i) : NULL;
		} else {
			v = json_member(v, part);
		}
		path += n + (dot != NULL);
	}
	return v;
}

bool json_get_number(const struct json_value *v, const char *path, double *out)
{
	v = json_get(v, path);
	if (v && v->type == JSON_NULL) {
		*out = NAN;
		return true;
	}
	if (!v || v->type != JSON_NUMBER)
		return false;
	*out = v->number;
	return true;
}

const char *json_get_string(const struct json_value *v, const char *path)
{
	v = json_get(v, path);
	return v && v->type == JSON_STRING ? v->string : NULL;
}
