/* A strict JSON reader for tests: checks that a document is well-formed
 * (RFC 8259 grammar) and looks values up by path, so a test can assert
 * what a writer produced without trusting the writer's own code. */
#ifndef CNN_JSON_CHECK_H
#define CNN_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* 0 if text is exactly one JSON value (whitespace around it allowed);
 * otherwise -1, with the byte offset and what was wrong in msg. */
int json_check(const char *text, char *msg, size_t len);

/* The value at path in a well-formed document: object keys and array
 * indices joined by dots ("test.per_class.1.recall"); "" is the whole
 * document. Returns a pointer to the value's first character, or NULL. */
const char *json_at(const char *text, const char *path);

/* Typed lookups; each returns false if the path is absent or of another type. */
bool json_number_at(const char *text, const char *path, double *out);
bool json_is_null_at(const char *text, const char *path);
/* The decoded string at path equals s (\uXXXX escapes above 0x7f are not
 * decoded, and never compare equal). */
bool json_string_at_eq(const char *text, const char *path, const char *s);
/* Members of an object or items of an array; -1 if absent or a scalar. */
int json_count_at(const char *text, const char *path);

#endif
