/* Positioned errors: every user-facing failure carries where it came from.
 *
 * Config errors print as `file:line:col: message` (1-based, GCC style, so
 * editors can jump to them). A location with line 0 prints as `file: message`
 * (a data file, a command-line flag). Library code never exits: it fills a
 * struct cnn_error and returns -1, so tests can assert the exact message. */
#ifndef CNN_ERROR_H
#define CNN_ERROR_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

struct cnn_loc {
	const char *file; /* not owned; NULL when unknown */
	int line, col;    /* 1-based; 0 when not applicable */
};

/* The error owns a copy of the file name: the config or data file that
 * named it is often freed before the message is printed. */
struct cnn_error {
	struct cnn_loc loc;  /* loc.file points at file[] below (or is NULL) */
	char file[256];
	char msg[512];
};

#if defined(__GNUC__)
#define CNN_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#define CNN_PRINTF(fmt_idx, arg_idx)
#endif

/* Fills *e (if not NULL) and returns -1, so `return cnn_errorf(...)` reads naturally. */
int cnn_errorf(struct cnn_error *e, struct cnn_loc at, const char *fmt, ...) CNN_PRINTF(3, 4);

/* Same without a location (I/O, arithmetic). */
int cnn_errorf_plain(struct cnn_error *e, const char *fmt, ...) CNN_PRINTF(2, 3);

/* "file:line:col: msg", "file: msg" or "msg", into buf. Returns buf. */
const char *cnn_error_str(const struct cnn_error *e, char *buf, size_t len);

/* Programmer errors (never user input): abort with the source position. */
#define CNN_ASSERT(x)                                                          \
	do {                                                                   \
		if (!(x)) {                                                    \
			fprintf(stderr, "%s:%d: internal error: assertion '%s' failed\n", \
			        __FILE__, __LINE__, #x);                       \
			abort();                                               \
		}                                                              \
	} while (0)

/* Checked size arithmetic: returns 0 on overflow (and leaves *out unchanged). */
int cnn_mul_size(size_t a, size_t b, size_t *out);
int cnn_add_size(size_t a, size_t b, size_t *out);

#endif
