/* Config tree <-> text outside the loader: --set overrides and writing the
 * resolved config back as YAML (config.yaml in the run folder) or JSON
 * (inside metrics.json). */
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

static const char set_origin[] = "--set";

static void relocate(struct cfg_node *n, struct cnn_loc loc)
{
	n->loc = loc;
	for (int i = 0; i < n->n; i++) {
		if (n->kind == CFG_MAP)
			n->key_locs[i] = loc;
		relocate(n->vals[i], loc);
	}
}

/* Parses the right-hand side of --set as YAML, so lists work too
 * (--set input=[1,28,28]); an empty value is the empty string. */
static int parse_value(const char *text, struct cfg_node **out, struct cnn_error *err)
{
	struct cfg_doc tmp;
	struct cnn_loc at = { set_origin, 0, 0 };
	if (cfg_load_string(text, strlen(text), set_origin, &tmp, err))
		return -1;
	struct cfg_node *n = tmp.root;
	tmp.root = NULL;
	cfg_free(&tmp);
	if (!n) {
		n = cfg_node_new(CFG_SCALAR, at);
		if (!n || !(n->text = strdup(""))) {
			cfg_node_free(n);
			return cnn_errorf(err, at, "out of memory");
		}
		n->quoted = true;
	}
	relocate(n, at);
	*out = n;
	return 0;
}

int cfg_set(struct cfg_doc *doc, const char *assignment, struct cnn_error *err)
{
	struct cnn_loc at = { set_origin, 0, 0 };
	const char *eq = strchr(assignment, '=');
	if (!eq || eq == assignment)
		return cnn_errorf(err, at, "'%s': expected key.path=value, e.g. optimizer.lr=0.01", assignment);
	size_t plen = (size_t)(eq - assignment);
	char *path = strndup(assignment, plen);
	if (!path)
		return cnn_errorf(err, at, "out of memory");
	if (path[0] == '.' || path[plen - 1] == '.' || strstr(path, "..")) {
		cnn_errorf(err, at, "'%s': empty part in the key path", path);
		free(path);
		return -1;
	}
	struct cfg_node *val = NULL;
	int rc = -1;
	if (parse_value(eq + 1, &val, err))
		goto out;
	if (!doc->root || doc->root->kind != CFG_MAP) {
		cnn_errorf(err, at, "'%s': the config has no top-level mapping to set into", path);
		goto out;
	}
	struct cfg_node *cur = doc->root;
	const char *parent = "the top level";
	char *save = NULL, *part = strtok_r(path, ".", &save);
	while (part) {
		char *next = strtok_r(NULL, ".", &save);
		struct cfg_node **slot = NULL;
		if (cur->kind == CFG_MAP) {
			int i = cfg_key_index(cur, part);
			if (i >= 0)
				slot = &cur->vals[i];
			if (!slot && !next) {
				if (cfg_map_put(cur, part, at, val)) {
					cnn_errorf(err, at, "out of memory");
					goto out;
				}
				val = NULL;
				rc = 0;
				goto out;
			}
			if (!slot) {
				/* A missing mapping on the way is made, as for the last key:
				 * whether the key is allowed there is the builder's call. */
				struct cfg_node *made = cfg_node_new(CFG_MAP, at);
				if (!made || cfg_map_put(cur, part, at, made)) {
					cfg_node_free(made);
					cnn_errorf(err, at, "out of memory");
					goto out;
				}
				slot = &cur->vals[cur->n - 1];
			}
		} else if (cur->kind == CFG_SEQ) {
			long idx;
			if (cur->n == 0) {
				cnn_errorf(err, at, "'%.*s': '%s' is an empty list", (int)plen, assignment, parent);
				goto out;
			}
			if (cfg_parse_long(part, &idx) || idx < 0 || idx >= cur->n) {
				cnn_errorf(err, at, "'%.*s': '%s' is not an index of a list of %d items (0..%d)",
				           (int)plen, assignment, part, cur->n, cur->n - 1);
				goto out;
			}
			slot = &cur->vals[idx];
		} else {
			cnn_errorf(err, at, "'%.*s': '%s' is a single value, not a mapping or list", (int)plen, assignment, parent);
			goto out;
		}
		if (!next) {
			cfg_node_free(*slot);
			*slot = val;
			val = NULL;
			rc = 0;
			goto out;
		}
		cur = *slot;
		parent = part;
		part = next;
	}
	cnn_errorf(err, at, "'%s': empty key path", assignment);
out:
	cfg_node_free(val);
	free(path);
	return rc;
}

/* Written plain only when nothing can misread it, in block or flow context,
 * as a key or a value: letters, digits and a few safe punctuation marks. */
static bool needs_quotes(const char *s)
{
	size_t len = strlen(s);
	if (!len || s[0] == ' ' || s[len - 1] == ' ' ||
	    (s[0] == '-' && !(s[1] >= '0' && s[1] <= '9') && s[1] != '.'))
		return true;
	for (const char *c = s; *c; c++) {
		bool safe = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		            (*c >= '0' && *c <= '9') || strchr("_./+-=() $^;", *c) ||
		            (unsigned char)*c >= 0x80; /* UTF-8 text */
		if (!safe)
			return true;
	}
	return false;
}

static void write_string(FILE *f, const char *s, char quote)
{
	fputc(quote, f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc(quote, f);
}

static void yaml_scalar(FILE *f, const struct cfg_node *n)
{
	if (n->quoted || needs_quotes(n->text))
		write_string(f, n->text, '"');
	else
		fputs(n->text, f);
}

static void yaml_key(FILE *f, const char *key)
{
	if (needs_quotes(key))
		write_string(f, key, '"');
	else
		fputs(key, f);
}

static bool all_scalars(const struct cfg_node *n)
{
	for (int i = 0; i < n->n; i++)
		if (n->vals[i]->kind != CFG_SCALAR)
			return false;
	return true;
}

/* Flow style for small collections of scalars: {type: conv, filters: 4}. */
static void yaml_flow(FILE *f, const struct cfg_node *n)
{
	fputc(n->kind == CFG_MAP ? '{' : '[', f);
	for (int i = 0; i < n->n; i++) {
		if (i)
			fputs(", ", f);
		if (n->kind == CFG_MAP) {
			yaml_key(f, n->keys[i]);
			fputs(": ", f);
		}
		yaml_scalar(f, n->vals[i]);
	}
	fputc(n->kind == CFG_MAP ? '}' : ']', f);
}

static void yaml_block(FILE *f, const struct cfg_node *n, int indent)
{
	for (int i = 0; i < n->n; i++) {
		const struct cfg_node *v = n->vals[i];
		fprintf(f, "%*s", indent, "");
		if (n->kind == CFG_MAP) {
			yaml_key(f, n->keys[i]);
			fputc(':', f);
		} else
			fputc('-', f);
		if (v->kind == CFG_SCALAR) {
			fputc(' ', f);
			yaml_scalar(f, v);
			fputc('\n', f);
		} else if (all_scalars(v)) {
			fputc(' ', f);
			yaml_flow(f, v);
			fputc('\n', f);
		} else {
			fputc('\n', f);
			yaml_block(f, v, indent + 2);
		}
	}
}

void cfg_write_yaml(FILE *f, const struct cfg_node *n)
{
	if (!n)
		return;
	if (n->kind == CFG_SCALAR) {
		yaml_scalar(f, n);
		fputc('\n', f);
	} else if (n->n == 0) {
		fputs(n->kind == CFG_MAP ? "{}\n" : "[]\n", f);
	} else {
		yaml_block(f, n, 0);
	}
}

static void json_scalar(FILE *f, const struct cfg_node *n)
{
	long l;
	double d;
	if (!n->quoted && (!strcmp(n->text, "true") || !strcmp(n->text, "false") || !strcmp(n->text, "null")))
		fputs(n->text, f);
	else if (!n->quoted && !cfg_parse_long(n->text, &l))
		fprintf(f, "%ld", l);
	else if (!n->quoted && !cfg_parse_double(n->text, &d))
		fprintf(f, "%.15g", d);
	else
		write_string(f, n->text, '"');
}

void cfg_write_json(FILE *f, const struct cfg_node *n, int indent)
{
	if (!n) {
		fputs("null", f);
		return;
	}
	if (n->kind == CFG_SCALAR) {
		json_scalar(f, n);
		return;
	}
	bool flat = all_scalars(n);
	fputc(n->kind == CFG_MAP ? '{' : '[', f);
	for (int i = 0; i < n->n; i++) {
		fputs(i ? "," : "", f);
		if (flat)
			fputs(i ? " " : "", f);
		else
			fprintf(f, "\n%*s", indent + 2, "");
		if (n->kind == CFG_MAP) {
			write_string(f, n->keys[i], '"');
			fputs(": ", f);
		}
		cfg_write_json(f, n->vals[i], indent + 2);
	}
	if (!flat && n->n)
		fprintf(f, "\n%*s", indent, "");
	fputc(n->kind == CFG_MAP ? '}' : ']', f);
}
