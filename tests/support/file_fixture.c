#include "file_fixture.h"

#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

int file_fixture_setup(void **state, const char *name)
{
	struct file_fixture *f = calloc(1, sizeof *f);
	if (!f || !(f->dir = test_tmpdir())) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
	*state = f;
	return 0;
}

int file_fixture_teardown(void **state)
{
	struct file_fixture *f = *state;
	test_rmdir(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

const char *file_fixture_msg(struct file_fixture *f)
{
	return cnn_error_str(&f->err, f->msg, sizeof f->msg);
}
