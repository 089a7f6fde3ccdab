/* YAML text -> config tree. The only file that includes <yaml.h>.
 *
 * Events from libyaml's parser are turned into cfg_node trees, each node
 * keeping the 1-based position of its start (libyaml's marks are 0-based).
 * Refused here, because a config never needs them and each can surprise:
 *  - anchors and aliases: an alias bomb expands a small file into gigabytes;
 *  - explicit tags: cnnrun gives scalars its own types;
 *  - duplicate keys: libyaml accepts them, and the last one silently wins;
 *  - non-scalar keys and more than one document. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "config/config.h"
#include "io/fileio.h"

struct loader {
	yaml_parser_t parser;
	const char *file;       /* for locations; owned by the doc */
	const char *text;       /* the input, to turn byte offsets into positions */
	size_t len;
	struct cnn_error *err;
};

static struct cnn_loc mark_loc(const struct loader *ld, yaml_mark_t m)
{
	struct cnn_loc loc = { ld->file, (int)m.line + 1, (int)m.column + 1 };
	return loc;
}

/* The reader (encoding, control characters) reports a byte offset, not a mark. */
static struct cnn_loc offset_loc(const struct loader *ld, size_t offset)
{
	struct cnn_loc loc = { ld->file, 1, 1 };
	for (size_t i = 0; i < offset && i < ld->len; i++) {
		if (ld->text[i] == '\n') {
			loc.line++;
			loc.col = 1;
		} else if (((unsigned char)ld->text[i] & 0xc0) != 0x80) {
			loc.col++; /* columns count characters, not UTF-8 continuation bytes */
		}
	}
	return loc;
}

static int parser_error(struct loader *ld)
{
	const yaml_parser_t *p = &ld->parser;
	const char *problem = p->problem ? p->problem : "invalid YAML";
	if (p->error == YAML_MEMORY_ERROR)
		return cnn_errorf(ld->err, (struct cnn_loc){ ld->file, 0, 0 }, "out of memory while parsing");
	if (p->error == YAML_READER_ERROR)
		return cnn_errorf(ld->err, offset_loc(ld, p->problem_offset), "YAML syntax error: %s", problem);
	struct cnn_loc at = mark_loc(ld, p->problem_mark);
	size_t index = p->problem_mark.index;
	if (index < ld->len && ld->text[index] == '\t')
		return cnn_errorf(ld->err, at, "YAML syntax error: a TAB character; YAML indents with spaces only");
	if (p->context)
		return cnn_errorf(ld->err, at, "YAML syntax error: %s %s that starts at line %d, column %d",
		                  problem, p->context, (int)p->context_mark.line + 1,
		                  (int)p->context_mark.column + 1);
	return cnn_errorf(ld->err, at, "YAML syntax error: %s", problem);
}

static int next_event(struct loader *ld, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&ld->parser, ev))
		return parser_error(ld);
	return 0;
}

static int refuse_decorations(struct loader *ld, const yaml_event_t *ev,
                              const yaml_char_t *anchor, const yaml_char_t *tag)
{
	struct cnn_loc at = mark_loc(ld, ev->start_mark);
	if (anchor)
		return cnn_errorf(ld->err, at, "YAML anchors ('&%s') are not supported in cnnrun configs; write the value out", (const char *)anchor);
	if (tag)
		return cnn_errorf(ld->err, at, "YAML tags ('%s') are not supported in cnnrun configs", (const char *)tag);
	return 0;
}

static int parse_node(struct loader *ld, yaml_event_t *ev, int depth, struct cfg_node **out);

static int parse_scalar(struct loader *ld, yaml_event_t *ev, struct cfg_node **out)
{
	struct cnn_loc at = mark_loc(ld, ev->start_mark);
	const char *value = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	if (refuse_decorations(ld, ev, ev->data.scalar.anchor,
	                       ev->data.scalar.plain_implicit || ev->data.scalar.quoted_implicit ? NULL : ev->data.scalar.tag))
		return -1;
	if (strlen(value) != len)
		return cnn_errorf(ld->err, at, "a scalar contains a NUL character");
	struct cfg_node *n = cfg_node_new(CFG_SCALAR, at);
	if (!n || !(n->text = malloc(len + 1))) {
		cfg_node_free(n);
		return cnn_errorf(ld->err, at, "out of memory");
	}
	memcpy(n->text, value, len + 1);
	n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	*out = n;
	return 0;
}

static int parse_mapping(struct loader *ld, yaml_event_t *start, int depth, struct cfg_node **out)
{
	struct cnn_loc at = mark_loc(ld, start->start_mark);
	if (refuse_decorations(ld, start, start->data.mapping_start.anchor,
	                       start->data.mapping_start.implicit ? NULL : start->data.mapping_start.tag))
		return -1;
	struct cfg_node *map = cfg_node_new(CFG_MAP, at);
	if (!map)
		return cnn_errorf(ld->err, at, "out of memory");
	for (;;) {
		yaml_event_t ev;
		if (next_event(ld, &ev))
			goto fail_map;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		struct cfg_node *key = NULL, *val = NULL;
		int rc = parse_node(ld, &ev, depth + 1, &key);
		yaml_event_delete(&ev);
		if (rc)
			goto fail_map;
		if (key->kind != CFG_SCALAR) {
			cnn_errorf(ld->err, key->loc, "mapping keys must be plain names, not %s",
			           key->kind == CFG_MAP ? "mappings" : "sequences");
			goto fail_key;
		}
		int prev = cfg_key_index(map, key->text);
		if (prev >= 0) {
			cnn_errorf(ld->err, key->loc, "duplicate key '%s' (first given at line %d, column %d)",
			           key->text, map->key_locs[prev].line, map->key_locs[prev].col);
			goto fail_key;
		}
		if (next_event(ld, &ev))
			goto fail_key;
		rc = parse_node(ld, &ev, depth + 1, &val);
		yaml_event_delete(&ev);
		if (rc)
			goto fail_key;
		if (cfg_map_put(map, key->text, key->loc, val)) {
			cfg_node_free(val);
			cnn_errorf(ld->err, at, "out of memory");
			goto fail_key;
		}
		cfg_node_free(key);
		continue;
fail_key:
		cfg_node_free(key);
		goto fail_map;
	}
	*out = map;
	return 0;
fail_map:
	cfg_node_free(map);
	return -1;
}

static int parse_sequence(struct loader *ld, yaml_event_t *start, int depth, struct cfg_node **out)
{
	struct cnn_loc at = mark_loc(ld, start->start_mark);
	if (refuse_decorations(ld, start, start->data.sequence_start.anchor,
	                       start->data.sequence_start.implicit ? NULL : start->data.sequence_start.tag))
		return -1;
	struct cfg_node *seq = cfg_node_new(CFG_SEQ, at);
	if (!seq)
		return cnn_errorf(ld->err, at, "out of memory");
	for (;;) {
		yaml_event_t ev;
		struct cfg_node *item = NULL;
		if (next_event(ld, &ev))
			goto fail_seq;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		int rc = parse_node(ld, &ev, depth + 1, &item);
		yaml_event_delete(&ev);
		if (rc)
			goto fail_seq;
		if (cfg_seq_push(seq, item)) {
			cfg_node_free(item);
			cnn_errorf(ld->err, at, "out of memory");
			goto fail_seq;
		}
	}
	*out = seq;
	return 0;
fail_seq:
	cfg_node_free(seq);
	return -1;
}

static int parse_node(struct loader *ld, yaml_event_t *ev, int depth, struct cfg_node **out)
{
	struct cnn_loc at = mark_loc(ld, ev->start_mark);
	if (depth > CFG_MAX_DEPTH)
		return cnn_errorf(ld->err, at, "nesting deeper than %d levels", CFG_MAX_DEPTH);
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return parse_scalar(ld, ev, out);
	case YAML_MAPPING_START_EVENT:
		return parse_mapping(ld, ev, depth, out);
	case YAML_SEQUENCE_START_EVENT:
		return parse_sequence(ld, ev, depth, out);
	case YAML_ALIAS_EVENT:
		return cnn_errorf(ld->err, at, "YAML aliases ('*%s') are not supported in cnnrun configs; write the value out",
		                  (const char *)ev->data.alias.anchor);
	default:
		return cnn_errorf(ld->err, at, "unexpected YAML structure");
	}
}

/* stream-start, at most one document (possibly empty), stream-end */
static int parse_stream(struct loader *ld, struct cfg_node **root)
{
	yaml_event_t ev;
	int rc = -1;
	*root = NULL;
	if (next_event(ld, &ev))
		return -1;
	yaml_event_delete(&ev); /* STREAM_START */
	if (next_event(ld, &ev))
		return -1;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return 0;
	}
	yaml_event_delete(&ev); /* DOCUMENT_START */
	if (next_event(ld, &ev))
		return -1;
	rc = parse_node(ld, &ev, 0, root);
	yaml_event_delete(&ev);
	if (rc)
		return -1;
	if (next_event(ld, &ev))
		goto fail;
	yaml_event_delete(&ev); /* DOCUMENT_END */
	if (next_event(ld, &ev))
		goto fail;
	if (ev.type != YAML_STREAM_END_EVENT) {
		cnn_errorf(ld->err, mark_loc(ld, ev.start_mark),
		           "a config holds one YAML document; found a second one here");
		yaml_event_delete(&ev);
		goto fail;
	}
	yaml_event_delete(&ev);
	return 0;
fail:
	cfg_node_free(*root);
	*root = NULL;
	return -1;
}

int cfg_load_string(const char *text, size_t len, const char *name,
                    struct cfg_doc *doc, struct cnn_error *err)
{
	memset(doc, 0, sizeof *doc);
	doc->file = strdup(name ? name : "<string>");
	if (!doc->file)
		return cnn_errorf_plain(err, "out of memory");
	struct cnn_loc whole = { doc->file, 0, 0 };
	if (len > CFG_MAX_BYTES) {
		cnn_errorf(err, whole, "config is %zu bytes; configs over %u bytes are refused",
		           len, CFG_MAX_BYTES);
		goto fail;
	}
	if (memchr(text, '\0', len)) {
		cnn_errorf(err, whole, "config contains a NUL byte; is it a text file?");
		goto fail;
	}
	struct loader ld = { .file = doc->file, .text = text, .len = len, .err = err };
	if (!yaml_parser_initialize(&ld.parser)) {
		cnn_errorf(err, whole, "out of memory");
		goto fail;
	}
	yaml_parser_set_input_string(&ld.parser, (const unsigned char *)text, len);
	int rc = parse_stream(&ld, &doc->root);
	yaml_parser_delete(&ld.parser);
	if (rc)
		goto fail;
	/* "---" alone is a document holding one empty plain scalar: an empty config */
	struct cfg_node *r = doc->root;
	if (r && r->kind == CFG_SCALAR && !r->quoted && !*r->text) {
		cfg_node_free(r);
		doc->root = NULL;
	}
	return 0;
fail:
	cfg_free(doc);
	return -1;
}

static void set_base(struct cfg_node *n, const char *dir)
{
	if (!n)
		return;
	n->base = dir;
	for (int i = 0; i < n->n; i++)
		set_base(n->vals[i], dir);
}

/* The absolute folder of a config file, which its relative paths resolve
 * against ("configs/x.yaml" -> "/cwd/configs", "x.yaml" -> "/cwd"). */
static int record_dir(const char *path, struct cfg_doc *doc, struct cnn_error *err)
{
	char dir[PATH_MAX], abs[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	if (cfg_abs_path(NULL, dir, abs, sizeof abs) || !(doc->dir = strdup(abs)))
		return cnn_errorf(err, (struct cnn_loc){ path, 0, 0 }, "cannot tell the config's folder "
		                  "(a path too long, or the working directory is gone)");
	set_base(doc->root, doc->dir);
	return 0;
}

int cfg_load_file(const char *path, struct cfg_doc *doc, struct cnn_error *err)
{
	struct cnn_loc whole = { path, 0, 0 };
	memset(doc, 0, sizeof *doc);
	FILE *f = input_fopen(path, err);
	if (!f) {
		/* "cannot open config: No such file..." or "...: is a FIFO (named pipe), not a regular file" */
		char why[sizeof err->msg];
		const char *m = err->msg;
		snprintf(why, sizeof why, "%s", strncmp(m, "cannot open: ", 13) ? m : m + 13);
		return cnn_errorf(err, whole, "cannot open config: %s", why);
	}
	char *buf = malloc(CFG_MAX_BYTES + 1);
	if (!buf) {
		fclose(f);
		return cnn_errorf(err, whole, "out of memory");
	}
	size_t len = fread(buf, 1, CFG_MAX_BYTES + 1, f);
	int read_failed = ferror(f);
	struct stat st;
	off_t size = fstat(fileno(f), &st) == 0 ? st.st_size : (off_t)len;
	fclose(f);
	if (read_failed) {
		free(buf);
		return cnn_errorf(err, whole, "cannot read config (is it a folder?)");
	}
	if (len > CFG_MAX_BYTES) {
		free(buf);
		return cnn_errorf(err, whole, "config is %lld bytes; configs over %u bytes are refused",
		                  (long long)size, CFG_MAX_BYTES);
	}
	int rc = cfg_load_string(buf, len, path, doc, err);
	free(buf);
	if (rc == 0 && record_dir(path, doc, err)) {
		cfg_free(doc);
		return -1;
	}
	return rc;
}
