/* A cmocka fixture for tests of file readers and writers: a fresh
 * temporary folder, a path in it, and an error with room for its text. */
#ifndef CNN_FILE_FIXTURE_H
#define CNN_FILE_FIXTURE_H

#include "util/error.h"

struct file_fixture {
	char *dir;
	char path[1024];   /* dir/<name given to setup> */
	char msg[1024];
	struct cnn_error err;
};

/* Makes the folder and path; for cmocka's group or test setup. */
int file_fixture_setup(void **state, const char *name);
/* Removes the folder and frees the fixture. */
int file_fixture_teardown(void **state);
/* The fixture's error as "file:line:col: message". */
const char *file_fixture_msg(struct file_fixture *f);

/* Fails the test with the error's text when `call` does not return 0. */
#define assert_ok(f, call)                                                     \
	do {                                                                   \
		if ((call) != 0)                                               \
			fail_msg("%s failed: %s", #call, file_fixture_msg(f)); \
	} while (0)

#endif
