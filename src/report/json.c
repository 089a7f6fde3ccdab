/* The JSON writer declared in json.h. It only formats: it never allocates,
 * and a stream error is left for the caller to find with ferror(). */
#include "report/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

#include "util/error.h"

void json_init(struct json_writer *w, FILE *f, int indent)
{
	CNN_ASSERT(indent >= 0);
	w->f = f;
	w->indent = indent;
	w->depth = 0;
	w->after_key = false;
}

static void newline_indent(struct json_writer *w, int depth)
{
	fputc('\n', w->f);
	fprintf(w->f, "%*s", depth * w->indent, "");
}

/* Comma and line break before the next item of the open container; nothing
 * for a value that follows its key, or for the top-level value. */
static void before_value(struct json_writer *w)
{
	int top = w->depth - 1;

	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (top < 0)
		return;
	if (w->has_items[top])
		fputc(',', w->f);
	if (w->is_inline[top]) {
		if (w->has_items[top])
			fputc(' ', w->f);
	} else {
		newline_indent(w, w->depth);
	}
	w->has_items[top] = true;
}

/* A finished top-level value ends the document's line. */
static void after_value(struct json_writer *w)
{
	if (w->depth == 0)
		fputc('\n', w->f);
}

static void begin(struct json_writer *w, char open, bool inline_)
{
	CNN_ASSERT(w->depth < JSON_MAX_DEPTH);
	before_value(w);
	fputc(open, w->f);
	/* Inside a one-line container everything stays on that line; with no
	 * indentation at all, every container is one line. */
	if (w->indent == 0 || (w->depth > 0 && w->is_inline[w->depth - 1]))
		inline_ = true;
	w->has_items[w->depth] = false;
	w->is_inline[w->depth] = inline_;
	w->depth++;
}

static void end(struct json_writer *w, char close)
{
	CNN_ASSERT(w->depth > 0 && !w->after_key);
	w->depth--;
	if (w->has_items[w->depth] && !w->is_inline[w->depth])
		newline_indent(w, w->depth);
	fputc(close, w->f);
	after_value(w);
}

void json_begin_object(struct json_writer *w)
{
	begin(w, '{', false);
}

void json_begin_inline_object(struct json_writer *w)
{
	begin(w, '{', true);
}

void json_end_object(struct json_writer *w)
{
	end(w, '}');
}

void json_begin_array(struct json_writer *w)
{
	begin(w, '[', false);
}

void json_begin_inline_array(struct json_writer *w)
{
	begin(w, '[', true);
}

void json_end_array(struct json_writer *w)
{
	end(w, ']');
}

void json_write_escaped(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':  fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			/* Other control characters must be escaped; bytes >= 0x80
			 * pass through, so UTF-8 text stays readable. */
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", (unsigned)*p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

void json_key(struct json_writer *w, const char *key)
{
	CNN_ASSERT(w->depth > 0 && !w->after_key);
	before_value(w);
	json_write_escaped(w->f, key);
	fputs(": ", w->f);
	w->after_key = true;
}

void json_string(struct json_writer *w, const char *s)
{
	if (!s) {
		json_null(w);
		return;
	}
	before_value(w);
	json_write_escaped(w->f, s);
	after_value(w);
}

int json_format_double(char *buf, size_t len, double v)
{
	int n = 0;

	if (isnan(v))
		return snprintf(buf, len, "nan");
	if (isinf(v))
		return snprintf(buf, len, v > 0 ? "inf" : "-inf");
	/* 17 significant digits always round-trip; fewer usually do and read
	 * better (0.1 rather than 0.10000000000000001). */
	for (int prec = 15; prec <= 17; prec++) {
		char tmp[40];

		n = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
		if (prec == 17 || strtod(tmp, NULL) == v)
			return snprintf(buf, len, "%s", tmp);
	}
	return n;
}

void json_double(struct json_writer *w, double v)
{
	char buf[40];

	if (!isfinite(v)) {
		json_null(w);
		return;
	}
	json_format_double(buf, sizeof buf, v);
	before_value(w);
	fputs(buf, w->f);
	after_value(w);
}

void json_int(struct json_writer *w, int64_t v)
{
	before_value(w);
	fprintf(w->f, "%" PRId64, v);
	after_value(w);
}

void json_bool(struct json_writer *w, bool v)
{
	before_value(w);
	fputs(v ? "true" : "false", w->f);
	after_value(w);
}

void json_null(struct json_writer *w)
{
	before_value(w);
	fputs("null", w->f);
	after_value(w);
}

int json_raw_value(struct json_writer *w)
{
	before_value(w);
	return w->depth * w->indent;
}
