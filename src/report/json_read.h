/* A small JSON reader (RFC 8259) for what cnnrun wrote itself: metrics.json
 * of earlier runs, for `cnnrun report` and `cnnrun compare`. It builds the
 * whole tree; documents are a few kilobytes.
 *
 *	struct json_value doc;
 *	if (json_parse(text, len, "metrics.json", &doc, err)) ...
 *	double acc;
 *	json_get_number(&doc, "test.accuracy", &acc);
 *	const struct json_value *row = json_get(&doc, "test.confusion.3");
 *	json_free(&doc);
 *
 * Paths join object keys and array indices with dots; a key that holds a
 * dot cannot be reached by path (use json_member). */
#ifndef CNN_REPORT_JSON_READ_H
#define CNN_REPORT_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_value {
	enum json_type type;
	bool boolean;
	double number;
	char *string;              /* decoded UTF-8, NUL-terminated (may hold NULs: len) */
	size_t len;                /* of string */
	int n;                     /* array items or object members */
	struct json_value *items;  /* (n): the items, or the members' values */
	char **keys;               /* (n) for an object, decoded */
};

/* Parses exactly one JSON value (whitespace around it allowed) from
 * text[0..len). Errors say where: "name:line:col: what was wrong".
 * Nesting deeper than JSON_READ_MAX_DEPTH is refused. */
#define JSON_READ_MAX_DEPTH 64
int json_parse(const char *text, size_t len, const char *name, struct json_value *out,
               struct cnn_error *err);
void json_free(struct json_value *v);

/* Reads and parses a whole file. */
int json_parse_file(const char *path, struct json_value *out, struct cnn_error *err);

/* The member `key` of an object, item i of an array; NULL if absent or v is
 * of another type. */
const struct json_value *json_member(const struct json_value *v, const char *key);
const struct json_value *json_item(const struct json_value *v, int i);
/* The value at a dotted path ("test.per_class.0.f1"; "" is v); NULL if absent. */
const struct json_value *json_get(const struct json_value *v, const char *path);

/* Typed lookups by path. A number's null (how NaN is written) reads as NaN
 * and counts as found; any other mismatch returns false. */
bool json_get_number(const struct json_value *v, const char *path, double *out);
/* The string at path, or NULL. */
const char *json_get_string(const struct json_value *v, const char *path);

#endif
