#include "json_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper documents are refused rather than risking the test's stack. */
#define JSON_CHECK_MAX_DEPTH 256

struct reader {
	const char *start, *p;
	char *msg;
	size_t len;
	int depth;
};

static int fail(struct reader *r, const char *what)
{
	if (r->msg && r->len)
		snprintf(r->msg, r->len, "offset %ld: %s", (long)(r->p - r->start), what);
	return -1;
}

static void skip_ws(struct reader *r)
{
	while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')
		r->p++;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char unescape(char c)
{
	switch (c) {
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	default:  return c; /* '"', '\\', '/' */
	}
}

/* A string literal at r->p. Its decoded bytes go to out (up to cap, if out
 * is not NULL); *n gets the full decoded length. */
static int read_string(struct reader *r, char *out, size_t cap, size_t *n)
{
	size_t k = 0;

	if (*r->p != '"')
		return fail(r, "expected a string");
	r->p++;
	for (;;) {
		unsigned char c = (unsigned char)*r->p;
		char d;

		if (c == '"')
			break;
		if (c == '\0')
			return fail(r, "unterminated string");
		if (c < 0x20)
			return fail(r, "raw control character in a string");
		if (c == '\\') {
			r->p++;
			if (*r->p == 'u') {
				int v = 0;
				for (int i = 1; i <= 4; i++) {
					int h = hex_value(r->p[i]);
					if (h < 0)
						return fail(r, "bad \\u escape");
					v = v * 16 + h;
				}
				r->p += 5;
				d = v < 0x80 ? (char)v : '\x01'; /* see json_check.h */
			} else if (*r->p && strchr("\"\\/bfnrt", *r->p)) {
				d = unescape(*r->p);
				r->p++;
			} else {
				return fail(r, "bad escape");
			}
		} else {
			d = (char)c;
			r->p++;
		}
		if (out && k < cap)
			out[k] = d;
		k++;
	}
	r->p++;
	if (n)
		*n = k;
	return 0;
}

static int read_digits(struct reader *r)
{
	if (*r->p < '0' || *r->p > '9')
		return fail(r, "expected a digit");
	while (*r->p >= '0' && *r->p <= '9')
		r->p++;
	return 0;
}

static int read_number(struct reader *r)
{
	if (*r->p == '-')
		r->p++;
	if (*r->p == '0')
		r->p++;  /* no leading zeros */
	else if (read_digits(r))
		return -1;
	if (*r->p == '.') {
		r->p++;
		if (read_digits(r))
			return -1;
	}
	if (*r->p == 'e' || *r->p == 'E') {
		r->p++;
		if (*r->p == '+' || *r->p == '-')
			r->p++;
		if (read_digits(r))
			return -1;
	}
	return 0;
}

static int read_value(struct reader *r);

/* The items of an array or the members of an object, after the opening
 * bracket; counted into *count if not NULL. */
static int read_container(struct reader *r, bool object, int *count)
{
	char close = object ? '}' : ']';
	int n = 0;

	if (++r->depth > JSON_CHECK_MAX_DEPTH)
		return fail(r, "nested too deeply");
	r->p++;
	skip_ws(r);
	if (*r->p == close) {
		r->p++;
		goto out;
	}
	for (;;) {
		skip_ws(r);
		if (object) {
			if (read_string(r, NULL, 0, NULL))
				return -1;
			skip_ws(r);
			if (*r->p != ':')
				return fail(r, "expected ':'");
			r->p++;
		}
		if (read_value(r))
			return -1;
		n++;
		skip_ws(r);
		if (*r->p == ',') {
			r->p++;
			continue;
		}
		if (*r->p != close)
			return fail(r, object ? "expected ',' or '}'" : "expected ',' or ']'");
		r->p++;
		break;
	}
out:
	r->depth--;
	if (count)
		*count = n;
	return 0;
}

static int read_literal(struct reader *r, const char *word)
{
	size_t n = strlen(word);

	if (strncmp(r->p, word, n))
		return fail(r, "unexpected character");
	r->p += n;
	return 0;
}

static int read_value(struct reader *r)
{
	skip_ws(r);
	switch (*r->p) {
	case '{': return read_container(r, true, NULL);
	case '[': return read_container(r, false, NULL);
	case '"': return read_string(r, NULL, 0, NULL);
	case 't': return read_literal(r, "true");
	case 'f': return read_literal(r, "false");
	case 'n': return read_literal(r, "null");
	case '\0': return fail(r, "unexpected end");
	default:
		if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))
			return read_number(r);
		return fail(r, "unexpected character");
	}
}

int json_check(const char *text, char *msg, size_t len)
{
	struct reader r = { text, text, msg, len, 0 };

	if (read_value(&r))
		return -1;
	skip_ws(&r);
	if (*r.p)
		return fail(&r, "text after the value");
	return 0;
}

/* Moves r to member `key` of the object at r->p; -1 if there is none. */
static int enter_member(struct reader *r, const char *key, size_t key_len)
{
	char buf[256];
	size_t n;

	r->p++;
	for (;;) {
		skip_ws(r);
		if (*r->p == '}' || read_string(r, buf, sizeof buf, &n))
			return -1;
		skip_ws(r);
		r->p++; /* ':' */
		skip_ws(r);
		if (n == key_len && n <= sizeof buf && !memcmp(buf, key, n))
			return 0;
		if (read_value(r))
			return -1;
		skip_ws(r);
		if (*r->p != ',')
			return -1;
		r->p++;
	}
}

static int enter_item(struct reader *r, const char *index, size_t len)
{
	char *end;
	long i = strtol(index, &end, 10);

	if (end != index + len || i < 0)
		return -1;
	r->p++;
	skip_ws(r);
	if (*r->p == ']')
		return -1;
	for (; i > 0; i--) {
		if (read_value(r))
			return -1;
		skip_ws(r);
		if (*r->p != ',')
			return -1;
		r->p++;
	}
	skip_ws(r);
	return 0;
}

const char *json_at(const char *text, const char *path)
{
	struct reader r = { text, text, NULL, 0, 0 };

	if (json_check(text, NULL, 0))
		return NULL;
	skip_ws(&r);
	while (*path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		int rc;

		if (*r.p == '{')
			rc = enter_member(&r, path, n);
		else if (*r.p == '[')
			rc = enter_item(&r, path, n);
		else
			rc = -1;
		if (rc)
			return NULL;
		path += n + (dot ? 1 : 0);
	}
	return r.p;
}

bool json_number_at(const char *text, const char *path, double *out)
{
	const char *v = json_at(text, path);

	if (!v || !(*v == '-' || (*v >= '0' && *v <= '9')))
		return false;
	*out = strtod(v, NULL);
	return true;
}

bool json_is_null_at(const char *text, const char *path)
{
	const char *v = json_at(text, path);

	return v && !strncmp(v, "null", 4);
}

bool json_string_at_eq(const char *text, const char *path, const char *s)
{
	const char *v = json_at(text, path);
	struct reader r = { text, v, NULL, 0, 0 };
	size_t want = strlen(s), n;
	char *buf;
	bool eq;

	if (!v || *v != '"')
		return false;
	buf = malloc(want + 1);
	if (!buf || read_string(&r, buf, want + 1, &n)) {
		free(buf);
		return false;
	}
	eq = n == want && !memcmp(buf, s, n);
	free(buf);
	return eq;
}

int json_count_at(const char *text, const char *path)
{
	const char *v = json_at(text, path);
	struct reader r = { text, v, NULL, 0, 0 };
	int n;

	if (!v || (*v != '{' && *v != '['))
		return -1;
	if (read_container(&r, *v == '{', &n))
		return -1;
	return n;
}
