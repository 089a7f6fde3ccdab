/* io/folder: one listing for the dataset's class folders and for
 * `cnnrun predict FOLDER`: hidden names left out, byte order, and what each
 * entry is (links followed, dangling ones reported as nothing there). And
 * io/fileio's reader of many small files, which keeps the last file's
 * folder open to open the next one in it by its last name. */
#define _DEFAULT_SOURCE   /* DT_UNKNOWN */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/fileio.h"
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

/* file_read_reuse on path: returns its status; the bytes read must be want */
static int read_as(struct file_buf *b, const char *path, const char *want, struct cnn_error *err)
{
	int rc = file_read_reuse(path, 1 << 20, b, err);
	if (rc == 0) {
		assert_int_equal(b->len, strlen(want));
		assert_memory_equal(b->data, want, b->len);
	}
	return rc;
}

static void reads_files_in_kept_folders(void **state)
{
	(void)state;
	char *dir = test_tmpdir();
	char a[PATH_MAX], bdir[PATH_MAX], p[PATH_MAX + 32], msg[PATH_MAX + 100], want[PATH_MAX + 100];
	char cwd[PATH_MAX];
	struct cnn_error err = { 0 };
	struct file_buf b = { 0 };

	snprintf(a, sizeof a, "%s/a", dir);
	snprintf(bdir, sizeof bdir, "%s/b", dir);
	assert_int_equal(mkdir(a, 0755), 0);
	assert_int_equal(mkdir(bdir, 0755), 0);
	free(test_write_file(a, "x.png", "one", 3));
	free(test_write_file(a, "y.png", "two!", 4));
	free(test_write_file(bdir, "z.png", "three", 5));

	/* two files of one folder: it is opened once and kept */
	snprintf(p, sizeof p, "%s/x.png", a);
	assert_int_equal(read_as(&b, p, "one", &err), 0);
	assert_non_null(b.dir);
	assert_string_equal(b.dir, a);
	int kept = b.dir_fd;
	snprintf(p, sizeof p, "%s/y.png", a);
	assert_int_equal(read_as(&b, p, "two!", &err), 0);
	assert_int_equal(b.dir_fd, kept);
	/* another folder replaces it */
	snprintf(p, sizeof p, "%s/z.png", bdir);
	assert_int_equal(read_as(&b, p, "three", &err), 0);
	assert_string_equal(b.dir, bdir);
	/* a folder, written either way, is reported as one */
	assert_int_equal(file_read_reuse(a, 1 << 20, &b, &err), FILE_IS_FOLDER);
	snprintf(p, sizeof p, "%s/", a);
	assert_int_equal(file_read_reuse(p, 1 << 20, &b, &err), FILE_IS_FOLDER);
	/* a missing file in a kept folder, and in a missing one: the message
	 * names the whole path either way */
	for (int k = 0; k < 2; k++) {
		snprintf(p, sizeof p, "%s/%s", a, k ? "none/x.png" : "none.png");
		assert_int_equal(file_read_reuse(p, 1 << 20, &b, &err), -1);
		snprintf(want, sizeof want, "%s: cannot open: No such file or directory", p);
		assert_string_equal(cnn_error_str(&err, msg, sizeof msg), want);
	}
	/* a bare name: the working folder's file */
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(a), 0);
	assert_int_equal(read_as(&b, "x.png", "one", &err), 0);
	assert_int_equal(chdir(cwd), 0);
	/* freeing closes the kept folder */
	snprintf(p, sizeof p, "%s/x.png", a);
	assert_int_equal(read_as(&b, p, "one", &err), 0);
	kept = b.dir_fd;
	file_buf_free(&b);
	assert_null(b.dir);
	assert_int_equal(fcntl(kept, F_GETFD), -1);
	test_rmdir(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lists_sorted_without_hidden),
		cmocka_unit_test(empty_folder_and_missing_folder),
		cmocka_unit_test(reads_files_in_kept_folders),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
