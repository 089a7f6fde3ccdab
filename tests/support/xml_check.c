#include "xml_check.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define XML_MAX_DEPTH 256
#define XML_MAX_NAME 64
#define XML_MAX_ATTRS 64

struct xml {
	const char *start, *p;
	char *msg;
	size_t len;
	char stack[XML_MAX_DEPTH][XML_MAX_NAME];
	int depth;
	int roots;
};

static int fail(struct xml *x, const char *what)
{
	int line = 1;

	for (const char *q = x->start; q < x->p; q++)
		line += *q == '\n';
	if (x->msg && x->len)
		snprintf(x->msg, x->len, "line %d: %s", line, what);
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (unsigned char)c >= 0x80;
}

static bool name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static int read_name(struct xml *x, char *out)
{
	size_t n = 0;

	if (!name_start(*x->p))
		return fail(x, "expected a name");
	while (name_char(*x->p)) {
		if (n + 1 >= XML_MAX_NAME)
			return fail(x, "name too long");
		out[n++] = *x->p++;
	}
	out[n] = '\0';
	return 0;
}

static void skip_space(struct xml *x)
{
	while (is_space(*x->p))
		x->p++;
}

/* After '&': a predefined entity or a character reference, up to ';'. */
static int reference(struct xml *x)
{
	static const char *const named[] = { "amp;", "lt;", "gt;", "quot;", "apos;" };

	x->p++;
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
		if (!strncmp(x->p, named[i], strlen(named[i]))) {
			x->p += strlen(named[i]);
			return 0;
		}
	}
	if (*x->p == '#') {
		bool hex = x->p[1] == 'x';
		int digits = 0;

		x->p += hex ? 2 : 1;
		while ((*x->p >= '0' && *x->p <= '9') ||
		       (hex && ((*x->p >= 'a' && *x->p <= 'f') || (*x->p >= 'A' && *x->p <= 'F')))) {
			x->p++;
			digits++;
		}
		if (digits && *x->p == ';') {
			x->p++;
			return 0;
		}
	}
	return fail(x, "bad entity or character reference");
}

/* Control characters other than tab, newline, CR are not XML characters. */
static int text_char(struct xml *x)
{
	unsigned char c = (unsigned char)*x->p;

	if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
		return fail(x, "control character");
	if (c == '&')
		return reference(x);
	x->p++;
	return 0;
}

static int attribute(struct xml *x, char names[][XML_MAX_NAME], int *n)
{
	char quote;

	if (*n >= XML_MAX_ATTRS)
		return fail(x, "too many attributes");
	if (read_name(x, names[*n]))
		return -1;
	for (int i = 0; i < *n; i++)
		if (!strcmp(names[i], names[*n]))
			return fail(x, "duplicate attribute");
	(*n)++;
	skip_space(x);
	if (*x->p++ != '=')
		return fail(x, "expected '=' after attribute name");
	skip_space(x);
	quote = *x->p++;
	if (quote != '"' && quote != '\'')
		return fail(x, "attribute value not quoted");
	while (*x->p != quote) {
		if (!*x->p || *x->p == '<')
			return fail(x, "'<' or end of input in attribute value");
		if (text_char(x))
			return -1;
	}
	x->p++;
	return 0;
}

static int start_tag(struct xml *x)
{
	char names[XML_MAX_ATTRS][XML_MAX_NAME];
	char name[XML_MAX_NAME];
	int n = 0;

	x->p++;
	if (read_name(x, name))
		return -1;
	if (x->depth == 0 && x->roots++ > 0)
		return fail(x, "more than one root element");
	for (;;) {
		bool space = is_space(*x->p);

		skip_space(x);
		if (*x->p == '/' && x->p[1] == '>') {
			x->p += 2;
			return 0;
		}
		if (*x->p == '>') {
			x->p++;
			if (x->depth >= XML_MAX_DEPTH)
				return fail(x, "nested too deeply");
			strcpy(x->stack[x->depth++], name);
			return 0;
		}
		if (!space)
			return fail(x, "expected whitespace between attributes");
		if (attribute(x, names, &n))
			return -1;
	}
}

static int end_tag(struct xml *x)
{
	char name[XML_MAX_NAME];

	x->p += 2;
	if (read_name(x, name))
		return -1;
	skip_space(x);
	if (*x->p++ != '>')
		return fail(x, "expected '>' to end the end tag");
	if (x->depth == 0 || strcmp(x->stack[x->depth - 1], name))
		return fail(x, "end tag does not match the open element");
	x->depth--;
	return 0;
}

static int skip_until(struct xml *x, const char *end, const char *what)
{
	const char *q = strstr(x->p, end);

	if (!q)
		return fail(x, what);
	x->p = q + strlen(end);
	return 0;
}

static int markup(struct xml *x)
{
	if (!strncmp(x->p, "<!--", 4)) {
		x->p += 4;
		return skip_until(x, "-->", "unterminated comment");
	}
	if (!strncmp(x->p, "<?", 2))
		return skip_until(x, "?>", "unterminated processing instruction");
	if (!strncmp(x->p, "<![CDATA[", 9)) {
		if (x->depth == 0)
			return fail(x, "CDATA outside the root element");
		return skip_until(x, "]]>", "unterminated CDATA section");
	}
	if (x->p[1] == '/')
		return end_tag(x);
	return start_tag(x);
}

int xml_check(const char *text, char *msg, size_t len)
{
	struct xml x = { .start = text, .p = text, .msg = msg, .len = len };

	while (*x.p) {
		if (*x.p == '<') {
			if (markup(&x))
				return -1;
		} else if (x.depth == 0 && !is_space(*x.p)) {
			return fail(&x, "text outside the root element");
		} else if (*x.p == '>' && x.p > text + 1 && x.p[-1] == ']' && x.p[-2] == ']') {
			return fail(&x, "']]>' in text");
		} else if (text_char(&x)) {
			return -1;
		}
	}
	if (x.depth)
		return fail(&x, "unclosed element at end of input");
	if (x.roots == 0)
		return fail(&x, "no root element");
	return 0;
}

int xml_count_elements(const char *text, const char *name)
{
	size_t n = strlen(name);
	int count = 0;

	for (const char *p = strchr(text, '<'); p; p = strchr(p + 1, '<'))
		if (!strncmp(p + 1, name, n) && (is_space(p[1 + n]) || p[1 + n] == '>' || p[1 + n] == '/'))
			count++;
	return count;
}
