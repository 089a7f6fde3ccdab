/* io/folder: one listing for the dataset's class folders and for
 * `cnnrun predict FOLDER`: hidden names left out, byte order, and what each
 * entry is (links followed, dangling ones reported as nothing there). */
#define _DEFAULT_SOURCE   /* DT_UNKNOWN */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/folder.h"
#include "testutil.h"

static void make_file(const char *dir, const char *name)
{
	free(test_write_file(dir, name, "", 0));
}

static void make_link(const char *dir, const char *target, const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	assert_int_equal(symlink(target, path), 0);
}

static void lists_sorted_without_hidden(void **state)
{
	(void)state;
	char *dir = test_tmpdir();
	char sub[PATH_MAX];
	/* created out of order; 'B' sorts before 'a' in byte order */
	make_file(dir, "b.png");
	make_file(dir, "a.png");
	make_file(dir, "B.png");
	make_file(dir, ".hidden");
	snprintf(sub, sizeof sub, "%s/c", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	make_link(dir, "c", "d");
	make_link(dir, "nowhere", "e");

	struct folder_entry *v;
	int n;
	struct cnn_error err = { 0 };
	assert_int_equal(folder_list(dir, &v, &n, &err), 0);
	static const char *const want[] = { "B.png", "a.png", "b.png", "c", "d", "e" };
	static const enum folder_kind kind[] = { FOLDER_KIND_OTHER, FOLDER_KIND_OTHER, FOLDER_KIND_OTHER,
	                                         FOLDER_KIND_FOLDER, FOLDER_KIND_FOLDER, FOLDER_KIND_NONE };
	assert_int_equal(n, 6);
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX];
		assert_string_equal(v[i].name, want[i]);
		snprintf(path, sizeof path, "%s/%s", dir, v[i].name);
		assert_int_equal(folder_entry_kind(path, v[i].type), kind[i]);
		/* without readdir's type, stat decides: the same answers */
		assert_int_equal(folder_entry_kind(path, DT_UNKNOWN), kind[i]);
	}
	folder_entries_free(v, n);
	test_rmdir(dir);
	free(dir);
}

static void empty_folder_and_missing_folder(void **state)
{
	(void)state;
	char *dir = test_tmpdir();
	char missing[PATH_MAX], buf[PATH_MAX + 100];
	struct folder_entry *v;
	int n;
	struct cnn_error err = { 0 };

	make_file(dir, ".only-hidden");
	assert_int_equal(folder_list(dir, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	folder_entries_free(v, n);

	snprintf(missing, sizeof missing, "%s/none", dir);
	assert_int_equal(folder_list(missing, &v, &n, &err), -1);
	assert_null(v);
	assert_int_equal(n, 0);
	char want[PATH_MAX + 100];
	snprintf(want, sizeof want, "%s: cannot open the folder: No such file or directory", missing);
	assert_string_equal(cnn_error_str(&err, buf, sizeof buf), want);
	test_rmdir(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lists_sorted_without_hidden),
		cmocka_unit_test(empty_folder_and_missing_folder),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
