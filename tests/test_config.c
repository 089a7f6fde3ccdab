/* The config loader and tree alone (src/config/): positions, refusals,
 * libyaml's syntax errors, the typed getters, unknown-key messages, --set,
 * and writing the tree back as YAML and JSON.
 *
 * Every error test asserts the full "t.yaml:L:C: message" text. Tests marked
 * "Regression (was broken)" pin defects found and fixed; their comments
 * describe the bug as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "build_helpers.h"
#include "config/config.h"
#include "testutil.h"

/* Loads yaml, which must succeed; fails the test with the message otherwise. */
static void load_ok(const char *yaml, struct cfg_doc *doc)
{
	char msg[1024];

	if (bh_load(yaml, doc, msg, sizeof(msg)))
		fail_msg("unexpected load error: %s", msg);
}

/* Loads yaml, which must be refused with exactly `expected`. */
static void load_fails(const char *yaml, size_t len, const char *expected)
{
	struct cfg_doc doc;
	struct cnn_error err;
	char msg[1024];

	memset(&err, 0, sizeof(err));
	if (cfg_load_string(yaml, len, BH_FILE, &doc, &err) == 0) {
		cfg_free(&doc);
		fail_msg("accepted, expected: %s", expected);
	}
	assert_null(doc.root);
	assert_null(doc.file);
	assert_string_equal(cnn_error_str(&err, msg, sizeof(msg)), expected);
}

#define LOAD_FAILS(yaml, expected) load_fails((yaml), strlen(yaml), (expected))

static const char *err_text(const struct cnn_error *err)
{
	static char buf[1024];

	return cnn_error_str(err, buf, sizeof(buf));
}

static void assert_loc(struct cnn_loc loc, int line, int col)
{
	assert_non_null(loc.file);
	assert_string_equal(loc.file, BH_FILE);
	assert_int_equal(loc.line, line);
	assert_int_equal(loc.col, col);
}

static struct cfg_node *child(struct cfg_node *map, const char *key)
{
	for (int i = 0; i < map->n; i++)
		if (!strcmp(map->keys[i], key))
			return map->vals[i];
	fail_msg("no key '%s'", key);
	return NULL;
}

static int key_pos(const struct cfg_node *map, const char *key)
{
	for (int i = 0; i < map->n; i++)
		if (!strcmp(map->keys[i], key))
			return i;
	return -1;
}

/* ---------------------------------------------------------------- loading */

static void test_tree_and_positions(void **state)
{
	struct cfg_doc doc;
	(void)state;
	load_ok("name: mnist\n"
	        "layers:\n"
	        "  - {type: conv, filters: 4}\n"
	        "  - relu\n"
	        "quoted: 'x'\n"
	        "dq: \"5\"\n"
	        "nested:\n"
	        "  inner: [1, 2]\n",
	        &doc);
	assert_string_equal(doc.file, BH_FILE);
	struct cfg_node *r = doc.root;
	assert_non_null(r);
	assert_int_equal(r->kind, CFG_MAP);
	assert_loc(r->loc, 1, 1);
	assert_int_equal(r->n, 5);
	assert_string_equal(r->keys[0], "name");
	assert_string_equal(r->keys[4], "nested");
	assert_loc(r->key_locs[0], 1, 1);
	assert_loc(r->key_locs[1], 2, 1);

	struct cfg_node *name = child(r, "name");
	assert_int_equal(name->kind, CFG_SCALAR);
	assert_string_equal(name->text, "mnist");
	assert_false(name->quoted);
	assert_false(name->implicit);
	assert_false(name->used);
	assert_loc(name->loc, 1, 7);

	struct cfg_node *layers = child(r, "layers");
	assert_int_equal(layers->kind, CFG_SEQ);
	assert_loc(layers->loc, 3, 3);
	assert_int_equal(layers->n, 2);
	struct cfg_node *l0 = layers->vals[0];
	assert_int_equal(l0->kind, CFG_MAP);
	assert_loc(l0->loc, 3, 5);
	assert_loc(l0->key_locs[0], 3, 6);
	assert_loc(l0->key_locs[1], 3, 18);
	assert_string_equal(child(l0, "type")->text, "conv");
	assert_loc(child(l0, "type")->loc, 3, 12);
	assert_string_equal(child(l0, "filters")->text, "4");
	assert_loc(child(l0, "filters")->loc, 3, 27);
	assert_int_equal(layers->vals[1]->kind, CFG_SCALAR);
	assert_string_equal(layers->vals[1]->text, "relu");
	assert_loc(layers->vals[1]->loc, 4, 5);

	struct cfg_node *q = child(r, "quoted");
	assert_true(q->quoted);
	assert_string_equal(q->text, "x");
	assert_loc(q->loc, 5, 9);
	assert_true(child(r, "dq")->quoted);
	assert_string_equal(child(r, "dq")->text, "5");

	struct cfg_node *inner = child(child(r, "nested"), "inner");
	assert_int_equal(inner->kind, CFG_SEQ);
	assert_loc(inner->loc, 8, 10);
	assert_loc(inner->vals[1]->loc, 8, 14);
	assert_loc(child(r, "nested")->key_locs[0], 8, 3);
	cfg_free(&doc);
	assert_null(doc.root);
	assert_null(doc.file);
}

static void test_scalar_styles(void **state)
{
	struct cfg_doc doc;
	(void)state;
	load_ok("lit: |\n  a\n  b\nfold: >\n  a\n  b\nsq: 'it''s'\nempty:\nnul: ~\n", &doc);
	assert_string_equal(child(doc.root, "lit")->text, "a\nb\n");
	assert_true(child(doc.root, "lit")->quoted);
	assert_string_equal(child(doc.root, "fold")->text, "a b\n");
	assert_true(child(doc.root, "fold")->quoted);
	assert_string_equal(child(doc.root, "sq")->text, "it's");
	assert_true(child(doc.root, "sq")->quoted);
	/* An empty value is an empty plain scalar, `~` is kept as written. */
	assert_string_equal(child(doc.root, "empty")->text, "");
	assert_false(child(doc.root, "empty")->quoted);
	assert_string_equal(child(doc.root, "nul")->text, "~");
	cfg_free(&doc);
}

static void test_duplicate_keys(void **state)
{
	(void)state;
	LOAD_FAILS("a: 1\nb: 2\na: 3\n", "t.yaml:3:1: duplicate key 'a' (first given at line 1, column 1)");
	LOAD_FAILS("m:\n  x: 1\n  y: 2\n  x: 3\n",
	           "t.yaml:4:3: duplicate key 'x' (first given at line 2, column 3)");
	LOAD_FAILS("l:\n  - {type: conv, filters: 4, filters: 5}\n",
	           "t.yaml:2:30: duplicate key 'filters' (first given at line 2, column 18)");
	/* Quoting does not make a key different. */
	LOAD_FAILS("a: 1\n'a': 2\n", "t.yaml:2:1: duplicate key 'a' (first given at line 1, column 1)");
}

static void test_anchors_aliases_refused(void **state)
{
	(void)state;
	LOAD_FAILS("a: &x 1\nb: *x\n",
	           "t.yaml:1:4: YAML anchors ('&x') are not supported in cnnrun configs; write the value out");
	LOAD_FAILS("a: *x\n",
	           "t.yaml:1:4: YAML aliases ('*x') are not supported in cnnrun configs; write the value out");
	LOAD_FAILS("base: &b {type: relu}\n",
	           "t.yaml:1:7: YAML anchors ('&b') are not supported in cnnrun configs; write the value out");
	LOAD_FAILS("l:\n  - &s [1]\n",
	           "t.yaml:2:5: YAML anchors ('&s') are not supported in cnnrun configs; write the value out");
}

/* "Billion laughs": nine levels of nine aliases each would expand to 10^9
 * strings; it must be refused at the first anchor, at once. */
static void test_billion_laughs(void **state)
{
	char text[4096];
	size_t used = 0;
	(void)state;
	used += (size_t)snprintf(text + used, sizeof(text) - used,
	                         "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
	for (char c = 'b'; c <= 'i'; c++)
		used += (size_t)snprintf(text + used, sizeof(text) - used,
		                         "%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n",
		                         c, c, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1);
	assert_true(used < sizeof(text));
	clock_t t0 = clock();
	LOAD_FAILS(text, "t.yaml:1:4: YAML anchors ('&a') are not supported in cnnrun configs; write the value out");
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 0.5);
}

static void test_tags_refused(void **state)
{
	(void)state;
	LOAD_FAILS("a: !!int 5\n", "t.yaml:1:4: YAML tags ('tag:yaml.org,2002:int') are not supported in cnnrun configs");
	LOAD_FAILS("a: !!str 5\n", "t.yaml:1:4: YAML tags ('tag:yaml.org,2002:str') are not supported in cnnrun configs");
	LOAD_FAILS("a: !custom x\n", "t.yaml:1:4: YAML tags ('!custom') are not supported in cnnrun configs");
	LOAD_FAILS("a: !!seq [1]\n", "t.yaml:1:4: YAML tags ('tag:yaml.org,2002:seq') are not supported in cnnrun configs");
	LOAD_FAILS("a: !!map {b: 1}\n", "t.yaml:1:4: YAML tags ('tag:yaml.org,2002:map') are not supported in cnnrun configs");
}

static void test_documents(void **state)
{
	struct cfg_doc doc;
	(void)state;
	LOAD_FAILS("a: 1\n---\nb: 2\n", "t.yaml:2:1: a config holds one YAML document; found a second one here");
	LOAD_FAILS("a: 1\n...\n---\nb: 2\n", "t.yaml:3:1: a config holds one YAML document; found a second one here");
	/* One document with explicit markers and a directive is fine. */
	load_ok("%YAML 1.1\n---\na: 1\n...\n", &doc);
	assert_string_equal(child(doc.root, "a")->text, "1");
	assert_loc(doc.root->key_locs[0], 3, 1);
	cfg_free(&doc);
}

static void test_non_scalar_keys(void **state)
{
	(void)state;
	LOAD_FAILS("? [a]\n: 1\n", "t.yaml:1:3: mapping keys must be plain names, not sequences");
	LOAD_FAILS("? {a: 1}\n: 1\n", "t.yaml:1:3: mapping keys must be plain names, not mappings");
	LOAD_FAILS("- [a, b]: 1\n", "t.yaml:1:3: mapping keys must be plain names, not sequences");
}

static void test_syntax_errors(void **state)
{
	(void)state;
	/* unclosed flow collections */
	LOAD_FAILS("a: [1, 2\nb: 3\n",
	           "t.yaml:2:2: YAML syntax error: did not find expected ',' or ']' while parsing a flow sequence that starts at line 1, column 4");
	LOAD_FAILS("a: {x: 1\n",
	           "t.yaml:2:1: YAML syntax error: did not find expected ',' or '}' while parsing a flow mapping that starts at line 1, column 4");
	LOAD_FAILS("a: \"unterminated\n",
	           "t.yaml:2:1: YAML syntax error: found unexpected end of stream while scanning a quoted scalar that starts at line 1, column 4");
	/* bad indentation */
	LOAD_FAILS("a:\n  b: 1\n c: 2\n",
	           "t.yaml:3:2: YAML syntax error: did not find expected key while parsing a block mapping that starts at line 1, column 1");
	LOAD_FAILS("a:\n  - x\n  y: 2\n",
	           "t.yaml:3:3: YAML syntax error: did not find expected '-' indicator while parsing a block collection that starts at line 2, column 3");
	LOAD_FAILS("a: 1\n- b\n",
	           "t.yaml:2:1: YAML syntax error: did not find expected key while parsing a block mapping that starts at line 1, column 1");
	LOAD_FAILS("a: b: c\n", "t.yaml:1:5: YAML syntax error: mapping values are not allowed in this context");
	LOAD_FAILS("{a: 1}}\n", "t.yaml:1:7: YAML syntax error: did not find expected <document start>");
	/* a TAB in indentation */
	LOAD_FAILS("a:\n\tb: 1\n",
	           "t.yaml:2:1: YAML syntax error: a TAB character; YAML indents with spaces only");
	LOAD_FAILS("a:\n  b: 1\n\tc: 2\n",
	           "t.yaml:3:1: YAML syntax error: a TAB character; YAML indents with spaces only");
	/* not UTF-8 */
	LOAD_FAILS("a: \xff\n", "t.yaml:1:4: YAML syntax error: invalid leading UTF-8 octet");
}

/* Regression (was broken): a TAB that starts a line gets libyaml's generic "found character
 * that cannot start any token"; the message should name the TAB and say that
 * YAML indents with spaces. */
static void test_tab_message_names_tab(void **state)
{
	struct cfg_doc doc;
	char msg[1024];
	(void)state;
	assert_int_equal(bh_load("a:\n\tb: 1\n", &doc, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "t.yaml:2:1: "));
	if (!strstr(msg, "tab") && !strstr(msg, "TAB"))
		fail_msg("the message does not mention the TAB: %s", msg);
}

static void test_empty_and_comment_only(void **state)
{
	struct cfg_doc doc;
	(void)state;
	load_ok("", &doc);
	assert_null(doc.root);
	assert_string_equal(doc.file, BH_FILE);
	cfg_free(&doc);
	load_ok("# only a comment\n\n   # and another\n", &doc);
	assert_null(doc.root);
	cfg_free(&doc);
	load_ok("   \n\n", &doc);
	assert_null(doc.root);
	cfg_free(&doc);
	/* A scalar document is loaded; the builder refuses it. */
	load_ok("hello\n", &doc);
	assert_int_equal(doc.root->kind, CFG_SCALAR);
	assert_string_equal(doc.root->text, "hello");
	cfg_free(&doc);
}

static void test_crlf(void **state)
{
	struct cfg_doc doc;
	(void)state;
	load_ok("a: 1\r\nb: [1, 2]\r\nc:\r\n  d: x\r\n", &doc);
	assert_string_equal(child(doc.root, "a")->text, "1");
	assert_loc(doc.root->key_locs[1], 2, 1);
	assert_loc(child(doc.root, "b")->vals[1]->loc, 2, 8);
	assert_string_equal(child(child(doc.root, "c"), "d")->text, "x");
	assert_loc(child(child(doc.root, "c"), "d")->loc, 4, 6);
	cfg_free(&doc);
	/* an error position on a CRLF file */
	LOAD_FAILS("a: 1\r\na: 2\r\n", "t.yaml:2:1: duplicate key 'a' (first given at line 1, column 1)");
}

static void test_utf8_bom(void **state)
{
	struct cfg_doc doc;
	(void)state;
	load_ok("\xEF\xBB\xBF" "a: 1\nb: h\xC3\xA9llo\n", &doc);
	assert_int_equal(doc.root->n, 2);
	assert_string_equal(doc.root->keys[0], "a");
	assert_loc(doc.root->key_locs[0], 1, 1);
	assert_string_equal(child(doc.root, "b")->text, "h\xC3\xA9llo");
	cfg_free(&doc);
}

static void test_nul_byte(void **state)
{
	(void)state;
	load_fails("a: 1\0b: 2\n", 10, "t.yaml: config contains a NUL byte; is it a text file?");
	load_fails("\0", 1, "t.yaml: config contains a NUL byte; is it a text file?");
}

static char *repeat(char c, size_t n, char d, size_t m)
{
	char *s = malloc(n + m + 1);

	assert_non_null(s);
	memset(s, c, n);
	memset(s + n, d, m);
	s[n + m] = '\0';
	return s;
}

static void test_depth_limit(void **state)
{
	struct cfg_doc doc;
	(void)state;
	/* the root and 64 levels below it: accepted */
	char *s = repeat('[', CFG_MAX_DEPTH + 1, ']', CFG_MAX_DEPTH + 1);
	load_ok(s, &doc);
	cfg_free(&doc);
	free(s);
	s = repeat('[', CFG_MAX_DEPTH + 2, ']', CFG_MAX_DEPTH + 2);
	LOAD_FAILS(s, "t.yaml:1:66: nesting deeper than 64 levels");
	free(s);
	/* a depth bomb, closed and unclosed, and nested flow mappings */
	s = repeat('[', 10000, ']', 10000);
	LOAD_FAILS(s, "t.yaml:1:66: nesting deeper than 64 levels");
	free(s);
	s = repeat('[', 10000, ' ', 0);
	LOAD_FAILS(s, "t.yaml:1:66: nesting deeper than 64 levels");
	free(s);
	char *m = malloc(10000 * 4 + 1);
	assert_non_null(m);
	for (int i = 0; i < 10000; i++)
		memcpy(m + 4 * i, "{a: ", 4);
	m[40000] = '\0';
	/* the key of the mapping at depth 64 is the first node below the limit */
	LOAD_FAILS(m, "t.yaml:1:258: nesting deeper than 64 levels");
	free(m);
}

static void test_size_limit(void **state)
{
	struct cfg_doc doc;
	char expected[160];
	(void)state;
	char *s = repeat('#', CFG_MAX_BYTES, ' ', 0);
	load_ok(s, &doc);
	assert_null(doc.root);
	cfg_free(&doc);
	free(s);
	s = repeat('#', CFG_MAX_BYTES + 1, ' ', 0);
	snprintf(expected, sizeof(expected), "t.yaml: config is %u bytes; configs over %u bytes are refused",
	         CFG_MAX_BYTES + 1, CFG_MAX_BYTES);
	LOAD_FAILS(s, expected);
	free(s);
}

static void test_load_file(void **state)
{
	struct cfg_doc doc;
	struct cnn_error err;
	(void)state;
	char *dir = test_tmpdir();
	assert_non_null(dir);
	const char *good = "a: 1\nb:\n  c: [x]\n";
	char *path = test_write_file(dir, "c.yaml", good, strlen(good));
	assert_int_equal(cfg_load_file(path, &doc, &err), 0);
	assert_string_equal(doc.file, path);
	assert_string_equal(child(child(doc.root, "b"), "c")->vals[0]->text, "x");
	assert_string_equal(child(child(doc.root, "b"), "c")->vals[0]->loc.file, path);
	cfg_free(&doc);

	char expected[1024];
	char *bad = test_write_file(dir, "bad.yaml", "a: 1\na: 2\n", 10);
	assert_int_equal(cfg_load_file(bad, &doc, &err), -1);
	snprintf(expected, sizeof(expected), "%s:2:1: duplicate key 'a' (first given at line 1, column 1)", bad);
	assert_string_equal(err_text(&err), expected);

	char missing[512];
	snprintf(missing, sizeof(missing), "%s/none.yaml", dir);
	assert_int_equal(cfg_load_file(missing, &doc, &err), -1);
	snprintf(expected, sizeof(expected), "%s: cannot open config: No such file or directory", missing);
	assert_string_equal(err_text(&err), expected);
	assert_null(doc.root);

	assert_int_equal(cfg_load_file(dir, &doc, &err), -1);
	snprintf(expected, sizeof(expected), "%s: cannot open config: is a folder, not a regular file", dir);
	assert_string_equal(err_text(&err), expected);

	free(bad);
	free(path);
	test_rmdir(dir);
	free(dir);
}

/* Regression (was broken): cfg_load_file reads at most CFG_MAX_BYTES + 1 bytes, so a 2 MiB file
 * is reported as "config is 1048577 bytes"; the message should give the real
 * size (or say "over 1048576 bytes" without a wrong figure). */
static void test_load_file_size_message(void **state)
{
	struct cfg_doc doc;
	struct cnn_error err;
	(void)state;
	char *dir = test_tmpdir();
	size_t len = 2u << 20;
	char *big = repeat('#', len, ' ', 0);
	char *path = test_write_file(dir, "big.yaml", big, len);
	assert_int_equal(cfg_load_file(path, &doc, &err), -1);
	const char *msg = err_text(&err);
	int wrong = strstr(msg, "1048577 bytes") != NULL;
	free(big);
	free(path);
	test_rmdir(dir);
	free(dir);
	if (wrong)
		fail_msg("wrong size in: %s", msg);
}

/* ---------------------------------------------------------------- getters */

static void test_cfg_int(void **state)
{
	struct cfg_doc doc;
	struct cnn_error err;
	long v;
	(void)state;
	load_ok("a: 5\nb: 11\nc: [1]\nd: '5'\ne: 1.5\nf: 0x10\ng: -3\nh: 99999999999999999999\ni: +7\nj: {}\nk:\n",
	        &doc);
	struct cfg_node *r = doc.root;
	assert_int_equal(cfg_int(r, "a", CFG_REQUIRED, 0, 0, 10, &v, "n", &err), 0);
	assert_int_equal(v, 5);
	assert_true(child(r, "a")->used);
	assert_int_equal(cfg_int(r, "g", CFG_REQUIRED, 0, -5, 10, &v, "n", &err), 0);
	assert_int_equal(v, -3);
	assert_int_equal(cfg_int(r, "i", CFG_REQUIRED, 0, 0, 10, &v, "n", &err), 0);
	assert_int_equal(v, 7);

	assert_int_equal(cfg_int(r, "b", CFG_REQUIRED, 0, 0, 10, &v, "n", &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:2:4: n: 'b' must be an integer in [0, 10], got 11");
	assert_int_equal(cfg_int(r, "c", CFG_REQUIRED, 0, 0, 10, &v, "n", &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:3:4: n: 'c' must be an integer in [0, 10], got a list");
	assert_int_equal(cfg_int(r, "j", CFG_REQUIRED, 0, 0, 10, &v, NULL, &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:10:4: 'j' must be an integer in [0, 10], got a mapping");
	/* a quoted number is a string */
	assert_int_equal(cfg_int(r, "d", CFG_REQUIRED, 0, 0, 10, &v, "n", &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:4:4: n: 'd' must be an integer in [0, 10], got the string \"5\" (remove the quotes)");
	assert_int_equal(cfg_int(r, "e", CFG_REQUIRED, 0, 0, 10, &v, "n", &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:5:4: n: 'e' must be an integer in [0, 10], got '1.5'");
	assert_int_equal(cfg_int(r, "f", CFG_REQUIRED, 0, 0, 100, &v, "n", &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:6:4: n: 'f' must be an integer in [0, 100], got '0x10'");
	assert_int_equal(cfg_int(r, "h", CFG_REQUIRED, 0, 0, 10, &v, "n", &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:8:4: n: 'h' must be an integer in [0, 10], got '99999999999999999999'");
	assert_int_equal(cfg_int(r, "k", CFG_REQUIRED, 0, 0, 10, &v, "n", &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:11:3: n: 'k' must be an integer in [0, 10], got ''");

	/* absent: required is an error at the mapping, optional records the default */
	assert_int_equal(cfg_int(r, "z", CFG_REQUIRED, 0, 0, 10, &v, "n", &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:1:1: n: missing required key 'z' (an integer in [0, 10])");
	v = 0;
	assert_int_equal(cfg_int(r, "y", CFG_OPTIONAL, 7, 0, 10, &v, "n", &err), 0);
	assert_int_equal(v, 7);
	struct cfg_node *y = child(r, "y");
	assert_int_equal(y->kind, CFG_SCALAR);
	assert_string_equal(y->text, "7");
	assert_true(y->implicit);
	assert_true(y->used);
	assert_false(y->quoted);
	assert_loc(y->loc, 1, 1);
	/* asking again reads the recorded default, and does not add it twice */
	int n = r->n;
	assert_int_equal(cfg_int(r, "y", CFG_OPTIONAL, 3, 0, 10, &v, "n", &err), 0);
	assert_int_equal(v, 7);
	assert_int_equal(r->n, n);
	/* no mapping at all: every key absent */
	assert_int_equal(cfg_int(NULL, "q", CFG_OPTIONAL, 4, 0, 10, &v, "n", &err), 0);
	assert_int_equal(v, 4);
	cfg_free(&doc);
}

static void test_cfg_float(void **state)
{
	struct cfg_doc doc;
	struct cnn_error err;
	double v;
	(void)state;
	load_ok("a: 0.5\nb: 1e-3\nc: .nan\nd: .inf\ne: -.inf\nf: nan\ng: inf\nh: 1e999\ni: '0.5'\nj: 2\nk: [1]\nl: 3\n",
	        &doc);
	struct cfg_node *r = doc.root;
	assert_int_equal(cfg_float(r, "a", CFG_REQUIRED, 0, 0, 1, &v, "o", &err), 0);
	assert_true(v == 0.5);
	assert_int_equal(cfg_float(r, "b", CFG_REQUIRED, 0, 0, 1, &v, "o", &err), 0);
	assert_true(v == 1e-3);
	assert_int_equal(cfg_float(r, "l", CFG_REQUIRED, 0, 0, 10, &v, "o", &err), 0);
	assert_true(v == 3.0);
	static const struct {
		const char *key, *msg;
	} bad[] = {
		{ "c", "t.yaml:3:4: o: 'c' must be a number in [0, 1], got '.nan'" },
		{ "d", "t.yaml:4:4: o: 'd' must be a number in [0, 1], got '.inf'" },
		{ "e", "t.yaml:5:4: o: 'e' must be a number in [0, 1], got '-.inf'" },
		{ "f", "t.yaml:6:4: o: 'f' must be a number in [0, 1], got 'nan'" },
		{ "g", "t.yaml:7:4: o: 'g' must be a number in [0, 1], got 'inf'" },
		{ "h", "t.yaml:8:4: o: 'h' must be a number in [0, 1], got '1e999'" },
		{ "i", "t.yaml:9:4: o: 'i' must be a number in [0, 1], got the string \"0.5\" (remove the quotes)" },
		{ "j", "t.yaml:10:4: o: 'j' must be a number in [0, 1], got 2" },
		{ "k", "t.yaml:11:4: o: 'k' must be a number in [0, 1], got a list" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cfg_float(r, bad[i].key, CFG_REQUIRED, 0, 0, 1, &v, "o", &err), -1);
		assert_string_equal(err_text(&err), bad[i].msg);
	}
	assert_int_equal(cfg_float(r, "z", CFG_REQUIRED, 0, 1e-30, 1, &v, "adam", &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:1:1: adam: missing required key 'z' (a number in [1e-30, 1])");
	assert_int_equal(cfg_float(r, "y", CFG_OPTIONAL, 1e-3, 0, 1, &v, "o", &err), 0);
	assert_true(v == 1e-3);
	assert_string_equal(child(r, "y")->text, "0.001");
	assert_true(child(r, "y")->implicit);
	cfg_free(&doc);
}

static void test_cfg_bool_string_enum(void **state)
{
	struct cfg_doc doc;
	struct cnn_error err;
	bool b;
	const char *s;
	int e;
	static const char *const choices[] = { "adam", "sgd", NULL };
	(void)state;
	load_ok("t: true\nf: false\ny: yes\nq: 'true'\nT: True\n"
	        "s: hello\nn: 5\nempty: ''\nl: [a]\n"
	        "e: sgd\neq: 'adam'\nebad: rmsprop\nem: {}\n",
	        &doc);
	struct cfg_node *r = doc.root;
	assert_int_equal(cfg_bool(r, "t", CFG_REQUIRED, false, &b, "x", &err), 0);
	assert_true(b);
	assert_int_equal(cfg_bool(r, "f", CFG_REQUIRED, true, &b, "x", &err), 0);
	assert_false(b);
	assert_int_equal(cfg_bool(r, "y", CFG_REQUIRED, false, &b, "x", &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:3:4: x: 'y' must be true or false, got 'yes'");
	assert_int_equal(cfg_bool(r, "q", CFG_REQUIRED, false, &b, "x", &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:4:4: x: 'q' must be true or false, got 'true'");
	assert_int_equal(cfg_bool(r, "T", CFG_REQUIRED, false, &b, "x", &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:5:4: x: 'T' must be true or false, got 'True'");
	assert_int_equal(cfg_bool(r, "zb", CFG_REQUIRED, false, &b, "x", &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:1:1: x: missing required key 'zb' (true or false)");
	assert_int_equal(cfg_bool(r, "db", CFG_OPTIONAL, false, &b, "x", &err), 0);
	assert_false(b);
	assert_string_equal(child(r, "db")->text, "false");
	assert_true(child(r, "db")->implicit);

	assert_int_equal(cfg_string(r, "s", CFG_REQUIRED, NULL, &s, "x", &err), 0);
	assert_string_equal(s, "hello");
	/* any scalar is a string */
	assert_int_equal(cfg_string(r, "n", CFG_REQUIRED, NULL, &s, "x", &err), 0);
	assert_string_equal(s, "5");
	assert_int_equal(cfg_string(r, "empty", CFG_REQUIRED, NULL, &s, "x", &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:8:8: x: 'empty' must not be empty");
	assert_int_equal(cfg_string(r, "l", CFG_REQUIRED, NULL, &s, "x", &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:9:4: x: 'l' must be a string, got a list");
	assert_int_equal(cfg_string(r, "zs", CFG_REQUIRED, NULL, &s, NULL, &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:1:1: missing required key 'zs' (a string)");
	int n = r->n;
	s = "x";
	assert_int_equal(cfg_string(r, "nodef", CFG_OPTIONAL, NULL, &s, "x", &err), 0);
	assert_null(s);
	assert_int_equal(r->n, n); /* a NULL default is not recorded */
	assert_int_equal(cfg_string(r, "ds", CFG_OPTIONAL, "data/mnist", &s, "x", &err), 0);
	assert_string_equal(s, "data/mnist");
	assert_string_equal(child(r, "ds")->text, "data/mnist");
	assert_true(child(r, "ds")->implicit);

	assert_int_equal(cfg_enum(r, "e", CFG_REQUIRED, -1, choices, &e, "optimizer", &err), 0);
	assert_int_equal(e, 1);
	assert_int_equal(cfg_enum(r, "eq", CFG_REQUIRED, -1, choices, &e, "optimizer", &err), 0);
	assert_int_equal(e, 0);
	assert_int_equal(cfg_enum(r, "ebad", CFG_REQUIRED, -1, choices, &e, "optimizer", &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:12:7: optimizer: 'ebad' must be one of: adam, sgd; got 'rmsprop'");
	assert_int_equal(cfg_enum(r, "em", CFG_REQUIRED, -1, choices, &e, "optimizer", &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:13:5: optimizer: 'em' must be one of: adam, sgd, got a mapping");
	assert_int_equal(cfg_enum(r, "ze", CFG_REQUIRED, -1, choices, &e, "optimizer", &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:1:1: optimizer: missing required key 'ze' (one of: adam, sgd)");
	n = r->n;
	assert_int_equal(cfg_enum(r, "nd", CFG_OPTIONAL, -1, choices, &e, "optimizer", &err), 0);
	assert_int_equal(e, -1);
	assert_int_equal(r->n, n);
	assert_int_equal(cfg_enum(r, "de", CFG_OPTIONAL, 1, choices, &e, "optimizer", &err), 0);
	assert_int_equal(e, 1);
	assert_string_equal(child(r, "de")->text, "sgd");
	assert_true(child(r, "de")->implicit);
	cfg_free(&doc);
}

static void test_cfg_map_getter(void **state)
{
	struct cfg_doc doc;
	struct cnn_error err;
	struct cfg_node *m;
	long v;
	(void)state;
	load_ok("m: {a: 1}\ns: x\nl: [1]\n", &doc);
	struct cfg_node *r = doc.root;
	assert_int_equal(cfg_map(r, "m", CFG_REQUIRED, &m, NULL, &err), 0);
	assert_ptr_equal(m, child(r, "m"));
	assert_int_equal(cfg_map(r, "s", CFG_REQUIRED, &m, NULL, &err), -1);
	assert_null(m);
	assert_string_equal(err_text(&err), "t.yaml:2:4: 's' must be a mapping of keys, got a scalar");
	assert_int_equal(cfg_map(r, "l", CFG_OPTIONAL, &m, "x", &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:3:4: x: 'l' must be a mapping of keys, got a list");
	assert_int_equal(cfg_map(r, "z", CFG_REQUIRED, &m, NULL, &err), -1);
	assert_string_equal(err_text(&err), "t.yaml:1:1: missing required key 'z' (a mapping)");
	/* absent and optional: an implicit empty mapping collects the defaults */
	assert_int_equal(cfg_map(r, "train", CFG_OPTIONAL, &m, NULL, &err), 0);
	assert_non_null(m);
	assert_int_equal(m->kind, CFG_MAP);
	assert_true(m->implicit);
	assert_int_equal(m->n, 0);
	assert_ptr_equal(child(r, "train"), m);
	assert_int_equal(cfg_int(m, "epochs", CFG_OPTIONAL, 10, 1, 100, &v, "train", &err), 0);
	assert_string_equal(child(child(r, "train"), "epochs")->text, "10");
	/* no parent mapping: out is NULL and the getters below see nothing */
	assert_int_equal(cfg_map(NULL, "x", CFG_OPTIONAL, &m, NULL, &err), 0);
	assert_null(m);
	cfg_free(&doc);
}

static void test_parse_numbers(void **state)
{
	long l;
	double d;
	(void)state;
	assert_int_equal(cfg_parse_long("42", &l), 0);
	assert_int_equal(l, 42);
	assert_int_equal(cfg_parse_long("-7", &l), 0);
	assert_int_equal(l, -7);
	assert_int_equal(cfg_parse_long("", &l), -1);
	assert_int_equal(cfg_parse_long(" 4", &l), -1);
	assert_int_equal(cfg_parse_long("4 ", &l), -1);
	assert_int_equal(cfg_parse_long("4.0", &l), -1);
	assert_int_equal(cfg_parse_long("1e3", &l), -1);
	assert_int_equal(cfg_parse_long("99999999999999999999", &l), -1);
	assert_int_equal(cfg_parse_long(NULL, &l), -1);
	assert_int_equal(cfg_parse_double("3.0e-3", &d), 0);
	assert_true(d == 3.0e-3);
	assert_int_equal(cfg_parse_double("-2", &d), 0);
	assert_true(d == -2.0);
	assert_int_equal(cfg_parse_double("nan", &d), -1);
	assert_int_equal(cfg_parse_double("inf", &d), -1);
	assert_int_equal(cfg_parse_double("-infinity", &d), -1);
	assert_int_equal(cfg_parse_double(".inf", &d), -1);
	assert_int_equal(cfg_parse_double("1e999", &d), -1);
	assert_int_equal(cfg_parse_double("1.5x", &d), -1);
	assert_int_equal(cfg_parse_double(" 1", &d), -1);
	assert_int_equal(cfg_parse_double("", &d), -1);
}

/* ---------------------------------------------------------- unknown keys */

/* Loads a one-mapping document, asks for `known` keys through cfg_get, then
 * checks keys under `what`; returns the full message or "" when accepted. */
static const char *check_keys(const char *yaml, const char *const *known, const char *what)
{
	static char msg[1024];
	struct cfg_doc doc;
	struct cnn_error err;

	load_ok(yaml, &doc);
	for (int i = 0; known[i]; i++)
		cfg_get(doc.root, known[i]);
	msg[0] = '\0';
	if (cfg_check_keys(doc.root, what, &err))
		cnn_error_str(&err, msg, sizeof(msg));
	cfg_free(&doc);
	return msg;
}

static void test_check_keys(void **state)
{
	static const char *const conv[] = { "type", "filters", "kernel_size", "stride", "padding", NULL };
	static const char *const pool[] = { "type", "pool_size", "stride", NULL };
	static const char *const dense[] = { "type", "units", NULL };
	static const char *const opt[] = { "type", "lr", "beta1", "beta2", "eps", NULL };
	static const char *const train[] = { "epochs", "batch", NULL };
	static const char *const none[] = { NULL };
	(void)state;
	assert_string_equal(check_keys("{type: conv, filters: 4, kernel_size: 5}", conv, "conv"), "");
	assert_string_equal(check_keys("{type: conv, num_output: 4}", conv, "conv"),
	                    "t.yaml:1:14: conv: unknown key 'num_output' ('num_output' is Caffe's name; here it is 'filters'); "
	                    "known keys: type, filters, kernel_size, stride, padding");
	assert_string_equal(check_keys("{type: dense, num_output: 4}", dense, "dense"),
	                    "t.yaml:1:15: dense: unknown key 'num_output' ('num_output' is Caffe's name; here it is 'units'); "
	                    "known keys: type, units");
	assert_string_equal(check_keys("{type: conv, out_channels: 4}", conv, "conv"),
	                    "t.yaml:1:14: conv: unknown key 'out_channels' ('out_channels' is PyTorch's name; here it is 'filters'); "
	                    "known keys: type, filters, kernel_size, stride, padding");
	assert_string_equal(check_keys("{type: maxpool, size: 2}", pool, "maxpool"),
	                    "t.yaml:1:17: maxpool: unknown key 'size' ('size' is Darknet's name; here it is 'pool_size'); "
	                    "known keys: type, pool_size, stride");
	assert_string_equal(check_keys("{type: conv, size: 2}", conv, "conv"),
	                    "t.yaml:1:14: conv: unknown key 'size' ('size' is Darknet's name; here it is 'kernel_size'); "
	                    "known keys: type, filters, kernel_size, stride, padding");
	assert_string_equal(check_keys("{type: conv, pad: 1}", conv, "conv"),
	                    "t.yaml:1:14: conv: unknown key 'pad' ('pad' is Caffe's name; here it is 'padding'); "
	                    "known keys: type, filters, kernel_size, stride, padding");
	assert_string_equal(check_keys("{type: adam, learning_rate: 0.1}", opt, "adam"),
	                    "t.yaml:1:14: adam: unknown key 'learning_rate' ('learning_rate' is Keras's name; here it is 'lr'); "
	                    "known keys: type, lr, beta1, beta2, eps");
	assert_string_equal(check_keys("{type: adam, epsilon: 1e-7}", opt, "adam"),
	                    "t.yaml:1:14: adam: unknown key 'epsilon' ('epsilon' is Keras's name; here it is 'eps'); "
	                    "known keys: type, lr, beta1, beta2, eps");
	assert_string_equal(check_keys("{batch_size: 8}", train, "train"),
	                    "t.yaml:1:2: train: unknown key 'batch_size' ('batch_size' is Keras's name; here it is 'batch'); "
	                    "known keys: epochs, batch");
	assert_string_equal(check_keys("{type: dense, units: 10, activation: relu}", dense, "dense"),
	                    "t.yaml:1:26: dense: unknown key 'activation' (cnnrun never implies an activation: "
	                    "add a layer such as {type: relu} after this one); known keys: type, units");
	/* near misses */
	assert_string_equal(check_keys("{type: conv, fiters: 4}", conv, "conv"),
	                    "t.yaml:1:14: conv: unknown key 'fiters' (did you mean 'filters'?); "
	                    "known keys: type, filters, kernel_size, stride, padding");
	assert_string_equal(check_keys("{type: conv, kernelsize: 4}", conv, "conv"),
	                    "t.yaml:1:14: conv: unknown key 'kernelsize' (did you mean 'kernel_size'?); "
	                    "known keys: type, filters, kernel_size, stride, padding");
	assert_string_equal(check_keys("{epoch: 3}", train, "train"),
	                    "t.yaml:1:2: train: unknown key 'epoch' (did you mean 'epochs'?); known keys: epochs, batch");
	/* a foreign name whose cnnrun key this mapping does not have: no hint */
	assert_string_equal(check_keys("{epochs: 1, num_output: 3}", train, "train"),
	                    "t.yaml:1:13: train: unknown key 'num_output'; known keys: epochs, batch");
	/* far from everything */
	assert_string_equal(check_keys("{type: conv, dilation: 2}", conv, "conv"),
	                    "t.yaml:1:14: conv: unknown key 'dilation'; known keys: type, filters, kernel_size, stride, padding");
	/* no known keys at all; no prefix */
	assert_string_equal(check_keys("{alpha: 1}", none, "relu"),
	                    "t.yaml:1:2: relu: unknown key 'alpha' (this takes no keys)");
	assert_string_equal(check_keys("a: 1\nmodel: x\n", (const char *const[]){ "a", NULL }, NULL),
	                    "t.yaml:2:1: unknown key 'model'; known keys: a");
	/* the first unknown key in document order is reported */
	assert_string_equal(check_keys("{zz: 1, type: conv, yy: 2}", conv, "conv"),
	                    "t.yaml:1:2: conv: unknown key 'zz'; known keys: type, filters, kernel_size, stride, padding");
}

static void test_check_keys_edge_cases(void **state)
{
	struct cnn_error err;
	struct cfg_doc doc;
	(void)state;
	/* Not a mapping, or no mapping: nothing to check. */
	assert_int_equal(cfg_check_keys(NULL, "x", &err), 0);
	load_ok("[1, 2]", &doc);
	assert_int_equal(cfg_check_keys(doc.root, "x", &err), 0);
	cfg_free(&doc);
	/* A key asked for but absent still counts as known; long key lists
	 * are cut without overflowing the message. */
	load_ok("{k0: 1, zzz: 2}", &doc);
	char keys[40][16];
	for (int i = 0; i < 40; i++) {
		snprintf(keys[i], sizeof(keys[i]), "key_number_%d", i);
		cfg_get(doc.root, keys[i]);
	}
	cfg_get(doc.root, "k0");
	assert_int_equal(cfg_check_keys(doc.root, "x", &err), -1);
	assert_non_null(strstr(err.msg, "x: unknown key 'zzz'"));
	assert_true(strlen(err.msg) < sizeof(err.msg));
	cfg_free(&doc);
}

/* ---------------------------------------------------------------- --set */

static const char set_base[] =
	"name: m\n"
	"input: [1, 2, 3]\n"
	"layers:\n"
	"  - {type: conv, filters: 4}\n"
	"  - {type: relu}\n"
	"train: {epochs: 2}\n"
	"empty: []\n";

/* Applies assignment to set_base; returns the resulting YAML text (malloc'd)
 * or NULL with the error in msg. */
static char *apply_set(const char *base, const char *assignment, char *msg, size_t len)
{
	struct cfg_doc doc;
	struct cnn_error err;
	char *text = NULL;

	load_ok(base, &doc);
	if (cfg_set(&doc, assignment, &err))
		cnn_error_str(&err, msg, len);
	else
		text = bh_yaml_text(doc.root);
	cfg_free(&doc);
	return text;
}

static void expect_set(const char *assignment, const char *expected_yaml)
{
	char msg[1024];
	char *text = apply_set(set_base, assignment, msg, sizeof(msg));

	if (!text)
		fail_msg("%s: %s", assignment, msg);
	assert_string_equal(text, expected_yaml);
	free(text);
}

static void expect_set_error(const char *base, const char *assignment, const char *expected)
{
	char msg[1024];
	char *text = apply_set(base, assignment, msg, sizeof(msg));

	if (text) {
		free(text);
		fail_msg("%s accepted; expected: %s", assignment, expected);
	}
	assert_string_equal(msg, expected);
}

static void test_cfg_set(void **state)
{
	(void)state;
	expect_set("name=other",
	           "name: other\ninput: [1, 2, 3]\nlayers:\n  - {type: conv, filters: 4}\n  - {type: relu}\n"
	           "train: {epochs: 2}\nempty: []\n");
	expect_set("layers.0.filters=8",
	           "name: m\ninput: [1, 2, 3]\nlayers:\n  - {type: conv, filters: 8}\n  - {type: relu}\n"
	           "train: {epochs: 2}\nempty: []\n");
	expect_set("train.batch=64",
	           "name: m\ninput: [1, 2, 3]\nlayers:\n  - {type: conv, filters: 4}\n  - {type: relu}\n"
	           "train: {epochs: 2, batch: 64}\nempty: []\n");
	expect_set("input=[1,28,28]",
	           "name: m\ninput: [1, 28, 28]\nlayers:\n  - {type: conv, filters: 4}\n  - {type: relu}\n"
	           "train: {epochs: 2}\nempty: []\n");
	expect_set("layers.1={type: flatten}",
	           "name: m\ninput: [1, 2, 3]\nlayers:\n  - {type: conv, filters: 4}\n  - {type: flatten}\n"
	           "train: {epochs: 2}\nempty: []\n");
	expect_set("seed=3",
	           "name: m\ninput: [1, 2, 3]\nlayers:\n  - {type: conv, filters: 4}\n  - {type: relu}\n"
	           "train: {epochs: 2}\nempty: []\nseed: 3\n");
	/* the value is everything after the first '='; an empty value is "" */
	expect_set("name=a=b",
	           "name: a=b\ninput: [1, 2, 3]\nlayers:\n  - {type: conv, filters: 4}\n  - {type: relu}\n"
	           "train: {epochs: 2}\nempty: []\n");
	expect_set("name=",
	           "name: \"\"\ninput: [1, 2, 3]\nlayers:\n  - {type: conv, filters: 4}\n  - {type: relu}\n"
	           "train: {epochs: 2}\nempty: []\n");

	expect_set_error(set_base, "layers.5.filters=8",
	                 "--set: 'layers.5.filters': '5' is not an index of a list of 2 items (0..1)");
	expect_set_error(set_base, "layers.x.filters=8",
	                 "--set: 'layers.x.filters': 'x' is not an index of a list of 2 items (0..1)");
	expect_set_error(set_base, "layers.-1.filters=8",
	                 "--set: 'layers.-1.filters': '-1' is not an index of a list of 2 items (0..1)");
	/* missing mappings on the way are made; the builder judges the keys */
	expect_set("nope.first=8",
	           "name: m\ninput: [1, 2, 3]\nlayers:\n  - {type: conv, filters: 4}\n  - {type: relu}\n"
	           "train: {epochs: 2}\nempty: []\nnope: {first: 8}\n");
	expect_set("train.x.y=8",
	           "name: m\ninput: [1, 2, 3]\nlayers:\n  - {type: conv, filters: 4}\n  - {type: relu}\n"
	           "train:\n  epochs: 2\n  x: {y: 8}\nempty: []\n");
	expect_set("layers.1.extra.deep=1",
	           "name: m\ninput: [1, 2, 3]\nlayers:\n  - {type: conv, filters: 4}\n  -\n    type: relu\n"
	           "    extra: {deep: 1}\ntrain: {epochs: 2}\nempty: []\n");
	expect_set_error(set_base, "name", "--set: 'name': expected key.path=value, e.g. optimizer.lr=0.01");
	expect_set_error(set_base, "=5", "--set: '=5': expected key.path=value, e.g. optimizer.lr=0.01");
	expect_set_error(set_base, ".=5", "--set: '.': empty part in the key path");
	expect_set_error(set_base, "name=[1,",
	                 "--set:2:1: YAML syntax error: did not find expected node content while parsing a flow node that starts at line 2, column 1");
	expect_set_error(set_base, "name=&a x",
	                 "--set:1:1: YAML anchors ('&a') are not supported in cnnrun configs; write the value out");
	expect_set_error("", "name=a", "--set: 'name': the config has no top-level mapping to set into");
	expect_set_error("- 1\n", "0=a", "--set: '0': the config has no top-level mapping to set into");
}

static void test_cfg_set_positions(void **state)
{
	struct cfg_doc doc;
	struct cnn_error err;
	(void)state;
	load_ok(set_base, &doc);
	assert_int_equal(cfg_set(&doc, "input=[1,28,28]", &err), 0);
	struct cfg_node *in = child(doc.root, "input");
	assert_int_equal(in->kind, CFG_SEQ);
	assert_int_equal(in->n, 3);
	assert_string_equal(in->loc.file, "--set");
	assert_int_equal(in->loc.line, 0);
	assert_string_equal(in->vals[2]->text, "28");
	assert_string_equal(in->vals[2]->loc.file, "--set");
	assert_int_equal(cfg_set(&doc, "train.batch=64", &err), 0);
	struct cfg_node *train = child(doc.root, "train");
	int i = key_pos(train, "batch");
	assert_true(i >= 0);
	assert_string_equal(train->key_locs[i].file, "--set");
	assert_false(train->vals[i]->quoted);
	/* a getter error on a --set value points at --set */
	long v;
	assert_int_equal(cfg_int(train, "batch", CFG_REQUIRED, 0, 1, 32, &v, "train", &err), -1);
	assert_string_equal(err_text(&err), "--set: train: 'batch' must be an integer in [1, 32], got 64");
	cfg_free(&doc);
}

/* Regression (was broken): going into a scalar names the wrong part: for "name.first=8" the
 * scalar is 'name', but the message says "cannot go into 'first', a scalar". */
static void test_cfg_set_scalar_message(void **state)
{
	(void)state;
	expect_set_error(set_base, "name.first=8",
	                 "--set: 'name.first': 'name' is a single value, not a mapping or list");
}

/* Regression (was broken): an empty list reports the impossible range "(0..-1)". */
static void test_cfg_set_empty_list_message(void **state)
{
	char msg[1024];
	(void)state;
	char *text = apply_set(set_base, "empty.0=1", msg, sizeof(msg));
	assert_null(text);
	assert_non_null(strstr(msg, "--set: 'empty.0': "));
	if (strstr(msg, "0..-1"))
		fail_msg("impossible range in: %s", msg);
}

/* Regression (was broken): an empty path component ("train..epochs") is silently skipped by
 * strtok_r, so the typo is accepted as "train.epochs". */
static void test_cfg_set_empty_component(void **state)
{
	char msg[1024];
	(void)state;
	char *text = apply_set(set_base, "train..epochs=5", msg, sizeof(msg));
	if (text) {
		free(text);
		fail_msg("'train..epochs=5' was accepted");
	}
}

/* ---------------------------------------------------------- writing out */

/* Writes the tree of yaml, loads the text back and compares the trees.
 * Returns NULL if they are the same, else what went wrong (static). */
static const char *round_trip_problem(const char *yaml)
{
	static char problem[4096];
	struct cfg_doc a, b;
	char msg[1024], why[512];

	load_ok(yaml, &a);
	char *text = bh_yaml_text(a.root);
	assert_non_null(text);
	problem[0] = '\0';
	if (bh_load(text, &b, msg, sizeof(msg))) {
		snprintf(problem, sizeof(problem), "written YAML does not load: %s\n--- input:\n%s--- written:\n%s",
		         msg, yaml, text);
	} else {
		if (!bh_tree_equal(a.root, b.root, why, sizeof(why)))
			snprintf(problem, sizeof(problem), "round trip changed the tree %s\n--- input:\n%s--- written:\n%s",
			         why, yaml, text);
		cfg_free(&b);
	}
	cfg_free(&a);
	free(text);
	return problem[0] ? problem : NULL;
}

static void round_trip(const char *yaml)
{
	const char *problem = round_trip_problem(yaml);

	if (problem)
		fail_msg("%s", problem);
}

static void test_write_yaml_round_trip(void **state)
{
	(void)state;
	round_trip("name: mnist\nseed: 1\ninput: [1, 28, 28]\n"
	           "layers:\n  - {type: conv, filters: 4, kernel_size: 5}\n  - {type: relu}\n"
	           "optimizer: {type: adam, lr: 3.0e-3}\n");
	round_trip("a: 'quoted'\nb: \"5\"\nc: 'true'\nd: ''\ne: \"x: y\"\nf: \"# not a comment\"\n"
	           "g: \"-\"\nh: \"- x\"\ni: \"line\\nbreak\"\nj: \"tab\\there\"\nk: \"trailing \"\n"
	           "l: '*star'\nm: '&amp'\nn: '!bang'\no: '{brace'\np: '[bracket'\nq: '%pct'\nr: '@at'\n"
	           "s: '`tick'\nt: \"\\\"dq\\\" and \\\\\"\nu: \"\\u0001\"\nv: h\xC3\xA9llo\n");
	round_trip("a:\n  b:\n    c: [1, 2]\n    d: {e: f}\n  g: []\nh: {}\n");
	round_trip("- 1\n- [a, b]\n- {c: d}\n- - x\n  - - y\n");
	round_trip("a: |\n  two\n  lines\n");
	round_trip("hello\n");
	round_trip("");
	/* the reference config */
	const char *dir = getenv("CNN_SOURCE_DIR");
	char path[1024];
	snprintf(path, sizeof(path), "%s/configs/mnist.yaml", dir ? dir : ".");
	char *text = test_read_file(path, NULL);
	assert_non_null(text);
	round_trip(text);
	free(text);
}

static void test_write_yaml_exact(void **state)
{
	struct cfg_doc doc;
	(void)state;
	load_ok("name: mnist\nlayers:\n  - {type: conv, filters: 4}\n  - type: relu\n    name: r\n"
	        "deep:\n  - [1, [2]]\nq: 'x'\n",
	        &doc);
	char *text = bh_yaml_text(doc.root);
	assert_string_equal(text,
	                    "name: mnist\n"
	                    "layers:\n"
	                    "  - {type: conv, filters: 4}\n"
	                    "  - {type: relu, name: r}\n"
	                    "deep:\n"
	                    "  -\n"
	                    "    - 1\n"
	                    "    - [2]\n"
	                    "q: \"x\"\n");
	free(text);
	cfg_free(&doc);
}

/* Regression (was broken): cfg_write_yaml writes keys as they are and writes plain scalars in
 * flow collections without checking for flow indicators, so the written
 * config means something else or does not load at all:
 *   data: {dataset: mnist, path: "a,b"} round-trips, but a plain `path: a,b`
 *   inside a block mapping of scalars is written `{..., path: a,b}` and
 *   reads back as path 'a' plus a key 'b'; `- a]b` in a nested list gives
 *   `[a]b, c}]`; a key "a: b" gives `a: b: 1`; a key "#k" is written as a
 *   comment and lost; the key "- x" turns the document into a list. */
static void test_write_yaml_round_trip_flow_and_keys(void **state)
{
	static const char *const cases[] = {
		"data:\n  dataset: mnist\n  path: data/a,b\n",
		"x:\n  - a,b\n  - c\n",
		"x:\n  - a]b\n  - c}\n",
		"\"a: b\": 1\n",
		"\"#k\": 1\nz: 2\n",
		"\"\": 1\n",
		"m: {\"a,b\": 1}\n",
		"\"- x\": 1\n",
	};
	int failed = 0;
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *problem = round_trip_problem(cases[i]);
		if (problem) {
			print_message("%s\n", problem);
			failed++;
		}
	}
	if (failed)
		fail_msg("%d of %zu round trips failed", failed, sizeof(cases) / sizeof(cases[0]));
}

/* Regression (was broken): an empty top-level mapping is written as nothing, which reads back
 * as an empty document (root NULL), not as {}. */
static void test_write_yaml_empty_root_map(void **state)
{
	(void)state;
	round_trip("{}\n");
}

static void test_write_resolved_defaults(void **state)
{
	struct cfg_doc doc;
	struct cnn_error err;
	long v;
	double d;
	struct cfg_node *train;
	(void)state;
	load_ok("name: x\n", &doc);
	assert_int_equal(cfg_map(doc.root, "train", CFG_OPTIONAL, &train, NULL, &err), 0);
	assert_int_equal(cfg_int(train, "epochs", CFG_OPTIONAL, 10, 1, 100, &v, "train", &err), 0);
	assert_int_equal(cfg_float(doc.root, "lr", CFG_OPTIONAL, 1e-8, 0, 1, &d, NULL, &err), 0);
	char *text = bh_yaml_text(doc.root);
	assert_string_equal(text, "name: x\ntrain: {epochs: 10}\nlr: 1e-08\n");
	free(text);
	text = bh_json_text(doc.root, 0);
	assert_string_equal(text, "{\n  \"name\": \"x\",\n  \"train\": {\"epochs\": 10},\n  \"lr\": 1e-08\n}");
	free(text);
	cfg_free(&doc);
}

static void test_write_json(void **state)
{
	struct cfg_doc doc;
	char msg[256];
	(void)state;
	load_ok("name: mnist\nn: 5\nneg: -2\nf: 0.5\nb: true\nz: null\nq: '5'\nt: 'true'\n"
	        "s: \"x\\\"y\\\\z\\n\\t\\u0001\"\nnan: .nan\ninf: inf\nhex: 0x1A\ntilde: ~\n"
	        "l: [1, a]\nm: {k: v}\ne: []\nem: {}\n"
	        "deep:\n  - {a: [1]}\n",
	        &doc);
	char *text = bh_json_text(doc.root, 0);
	assert_string_equal(text,
	                    "{\n"
	                    "  \"name\": \"mnist\",\n"
	                    "  \"n\": 5,\n"
	                    "  \"neg\": -2,\n"
	                    "  \"f\": 0.5,\n"
	                    "  \"b\": true,\n"
	                    "  \"z\": null,\n"
	                    "  \"q\": \"5\",\n"
	                    "  \"t\": \"true\",\n"
	                    "  \"s\": \"x\\\"y\\\\z\\n\\t\\u0001\",\n"
	                    "  \"nan\": \".nan\",\n"
	                    "  \"inf\": \"inf\",\n"
	                    "  \"hex\": 26,\n"
	                    "  \"tilde\": \"~\",\n"
	                    "  \"l\": [1, \"a\"],\n"
	                    "  \"m\": {\"k\": \"v\"},\n"
	                    "  \"e\": [],\n"
	                    "  \"em\": {},\n"
	                    "  \"deep\": [\n"
	                    "    {\n"
	                    "      \"a\": [1]\n"
	                    "    }\n"
	                    "  ]\n"
	                    "}");
	free(text);
	cfg_free(&doc);
	/* a scalar root and no root */
	load_ok("hello\n", &doc);
	text = bh_json_text(doc.root, 0);
	assert_string_equal(text, "\"hello\"");
	free(text);
	cfg_free(&doc);
	text = bh_json_text(NULL, 0);
	assert_string_equal(text, "null");
	free(text);
	(void)msg;
}

/* Floats are written as short text: %.17g once gave the learning rate
 * `lr: 3.0e-3` as 0.0030000000000000001 in metrics.json. */
static void test_write_json_float_text(void **state)
{
	struct cfg_doc doc;
	(void)state;
	load_ok("lr: 3.0e-3\nb: 0.1\n", &doc);
	char *text = bh_json_text(doc.root, 0);
	bool ok = !strcmp(text, "{\"lr\": 0.003, \"b\": 0.1}");
	if (!ok) {
		char copy[256];
		snprintf(copy, sizeof(copy), "%s", text);
		free(text);
		cfg_free(&doc);
		fail_msg("got %s", copy);
	}
	free(text);
	cfg_free(&doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_and_positions),
		cmocka_unit_test(test_scalar_styles),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_anchors_aliases_refused),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_tags_refused),
		cmocka_unit_test(test_documents),
		cmocka_unit_test(test_non_scalar_keys),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_tab_message_names_tab),
		cmocka_unit_test(test_empty_and_comment_only),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_utf8_bom),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_load_file_size_message),
		cmocka_unit_test(test_cfg_int),
		cmocka_unit_test(test_cfg_float),
		cmocka_unit_test(test_cfg_bool_string_enum),
		cmocka_unit_test(test_cfg_map_getter),
		cmocka_unit_test(test_parse_numbers),
		cmocka_unit_test(test_check_keys),
		cmocka_unit_test(test_check_keys_edge_cases),
		cmocka_unit_test(test_cfg_set),
		cmocka_unit_test(test_cfg_set_positions),
		cmocka_unit_test(test_cfg_set_scalar_message),
		cmocka_unit_test(test_cfg_set_empty_list_message),
		cmocka_unit_test(test_cfg_set_empty_component),
		cmocka_unit_test(test_write_yaml_round_trip),
		cmocka_unit_test(test_write_yaml_exact),
		cmocka_unit_test(test_write_yaml_round_trip_flow_and_keys),
		cmocka_unit_test(test_write_yaml_empty_root_map),
		cmocka_unit_test(test_write_resolved_defaults),
		cmocka_unit_test(test_write_json),
		cmocka_unit_test(test_write_json_float_text),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
