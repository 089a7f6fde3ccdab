/* A small streaming JSON writer: objects, arrays, strings, numbers.
 *
 * The writer tracks nesting and commas, so callers only say what comes next:
 *
 *	json_begin_object(&w);
 *	json_key(&w, "loss");  json_double(&w, 0.25);
 *	json_key(&w, "shape"); json_begin_inline_array(&w);
 *	json_int(&w, 28); json_int(&w, 28); json_end_array(&w);
 *	json_end_object(&w);
 *
 * NaN and infinities have no JSON form and are written as null. Output
 * errors are not reported call by call: check ferror() on the stream once at
 * the end (report.c does, before it renames the file into place). */
#ifndef CNN_REPORT_JSON_H
#define CNN_REPORT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

struct json_writer {
	FILE *f;
	int indent;             /* spaces per level; 0: everything on one line */
	int depth;              /* open containers */
	bool has_items[JSON_MAX_DEPTH]; /* container at that depth holds something */
	bool is_inline[JSON_MAX_DEPTH]; /* container at that depth stays on one line */
	bool after_key;         /* a key was written; its value comes next */
};

/* indent: spaces per nesting level (0 for compact output). */
void json_init(struct json_writer *w, FILE *f, int indent);

void json_begin_object(struct json_writer *w);
/* An object written on one line with its contents: a record in a list. */
void json_begin_inline_object(struct json_writer *w);
void json_end_object(struct json_writer *w);
void json_begin_array(struct json_writer *w);
/* An array written on one line with its contents: rows of a matrix, shapes. */
void json_begin_inline_array(struct json_writer *w);
void json_end_array(struct json_writer *w);

/* Inside an object: the key of the next value. */
void json_key(struct json_writer *w, const char *key);

void json_string(struct json_writer *w, const char *s);   /* NULL: null */
void json_double(struct json_writer *w, double v);        /* NaN, Inf: null */
void json_int(struct json_writer *w, int64_t v);
void json_bool(struct json_writer *w, bool v);
void json_null(struct json_writer *w);

/* For a value that another function writes straight to w->f (a nested
 * document, such as cfg_write_json's config): puts out the separator and
 * indentation the value needs and counts it as written. Returns the
 * indentation, in spaces, of the line the value starts on. */
int json_raw_value(struct json_writer *w);

/* The shortest of %.15g, %.16g, %.17g that reads back as exactly v, so 0.1
 * prints as "0.1" and every double still round-trips. NaN and infinities
 * give "nan", "inf", "-inf" (callers decide what those become). Returns the
 * length, as snprintf does. */
int json_format_double(char *buf, size_t len, double v);

/* s as a JSON string literal, quotes included. */
void json_write_escaped(FILE *f, const char *s);

#endif
