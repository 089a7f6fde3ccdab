#include "util/error.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

static int verrorf(struct cnn_error *e, struct cnn_loc at, const char *fmt, va_list ap)
{
	if (!e)
		return -1;
	e->loc = at;
	e->file[0] = '\0';
	if (at.file) {
		snprintf(e->file, sizeof e->file, "%s", at.file);
		e->loc.file = e->file;
	}
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	return -1;
}

int cnn_errorf(struct cnn_error *e, struct cnn_loc at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verrorf(e, at, fmt, ap);
	va_end(ap);
	return -1;
}

int cnn_errorf_plain(struct cnn_error *e, const char *fmt, ...)
{
	struct cnn_loc none = { 0 };
	va_list ap;
	va_start(ap, fmt);
	verrorf(e, none, fmt, ap);
	va_end(ap);
	return -1;
}

const char *cnn_error_str(const struct cnn_error *e, char *buf, size_t len)
{
	if (e->file[0] && e->loc.line > 0)
		snprintf(buf, len, "%s:%d:%d: %s", e->file, e->loc.line, e->loc.col, e->msg);
	else if (e->file[0])
		snprintf(buf, len, "%s: %s", e->file, e->msg);
	else
		snprintf(buf, len, "%s", e->msg);
	return buf;
}

int cnn_mul_size(size_t a, size_t b, size_t *out)
{
	if (a != 0 && b > SIZE_MAX / a)
		return 0;
	*out = a * b;
	return 1;
}

int cnn_add_size(size_t a, size_t b, size_t *out)
{
	if (b > SIZE_MAX - a)
		return 0;
	*out = a + b;
	return 1;
}
