/* Every case of the public YAML test suite (tests/corpora/yaml-test-suite,
 * vendored with its MIT licence; one in.yaml per case) fed to cfg_load_file and, when it loads, to
 * model_config_build. None is a cnnrun config, so each must be refused
 * cleanly: -1, a non-empty message, a line >= 1 whenever there is a line, and
 * no crash or leak (the suite runs under ASan).
 *
 * The *.invalid.yaml cases are ones a conforming parser rejects. libyaml is
 * not fully conformant: the ones it accepts are listed (not asserted), and
 * all of them are then refused by the builder anyway. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "builder/builder.h"
#include "config/config.h"
#include "testutil.h"

/* The corpus as shipped: 402 cases, 94 of them invalid. */
#define CORPUS_FILES 402
#define CORPUS_INVALID 94

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The corpus folder, which ships with the sources. */
static const char *corpus_dir(char *buf, size_t len)
{
	const char *src = getenv("CNN_SOURCE_DIR");

	snprintf(buf, len, "%s/tests/corpora/yaml-test-suite", src ? src : ".");
	return buf;
}

static void test_corpus_refused_cleanly(void **state)
{
	char dir[1024];
	char **names = NULL;
	int n = 0, cap = 0;
	int invalid = 0, invalid_loaded = 0, loaded = 0, failed = 0;
	char accepted[4096] = "";
	size_t used = 0;
	(void)state;

	DIR *d = opendir(corpus_dir(dir, sizeof(dir)));
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!ends_with(e->d_name, ".yaml"))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 512;
			names = realloc(names, (size_t)cap * sizeof(*names));
			assert_non_null(names);
		}
		names[n] = strdup(e->d_name);
		assert_non_null(names[n]);
		n++;
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(*names), by_name);

	for (int i = 0; i < n; i++) {
		char path[1400], msg[1024];
		struct cfg_doc doc;
		struct model_config cfg;
		struct cnn_error err;
		int is_invalid = ends_with(names[i], ".invalid.yaml");
		int rc;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		invalid += is_invalid;
		memset(&err, 0, sizeof(err));
		rc = cfg_load_file(path, &doc, &err);
		if (rc == 0) {
			loaded++;
			if (is_invalid) {
				invalid_loaded++;
				used += (size_t)snprintf(accepted + used, used < sizeof(accepted) ? sizeof(accepted) - used : 0,
				                         "%s%s", used ? " " : "", names[i]);
				if (used >= sizeof(accepted))
					used = sizeof(accepted) - 1;
			}
			rc = model_config_build(&doc, &cfg, &err);
			if (rc == 0)
				model_config_free(&cfg);
			cfg_free(&doc);
		}
		cnn_error_str(&err, msg, sizeof(msg));
		if (rc == 0) {
			print_error("%s: accepted as a config\n", names[i]);
			failed++;
		} else if (!err.msg[0]) {
			print_error("%s: refused without a message\n", names[i]);
			failed++;
		} else if (err.loc.line < 0 || (err.loc.line == 0 && err.loc.col != 0)) {
			print_error("%s: bad position %d:%d in: %s\n", names[i], err.loc.line, err.loc.col, msg);
			failed++;
		} else if (strncmp(msg, path, strlen(path))) {
			print_error("%s: the message does not start with the file name: %s\n", names[i], msg);
			failed++;
		}
		free(names[i]);
	}
	free(names);

	print_message("%d cases: %d loaded and were refused by the builder, %d refused by the loader\n", n,
	              loaded, n - loaded);
	print_message("%d of %d invalid cases accepted by libyaml: %s\n", invalid_loaded, invalid,
	              invalid_loaded ? accepted : "none");
	assert_int_equal(failed, 0);
	assert_int_equal(n, CORPUS_FILES);
	assert_int_equal(invalid, CORPUS_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_refused_cleanly),
	};
	return test_exit_status(cmocka_run_group_tests_name("yaml_corpus", tests, NULL, NULL));
}
