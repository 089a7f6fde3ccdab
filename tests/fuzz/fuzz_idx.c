/* Fuzz target: IDX files, raw or gzip (zlib reads both), as images and labels. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "data/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* idx_load reads a path: one scratch file per process, rewritten per input. */
static const char *scratch_path(void)
{
	static char path[64];
	if (!path[0])
		snprintf(path, sizeof path, "/tmp/cnnrun-fuzz-idx-%ld", (long)getpid());
	return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = scratch_path();
	FILE *f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	for (int ndim = 1; ndim <= 3; ndim += 2) {
		uint8_t *out = NULL;
		int dims[3];
		struct cnn_error err;
		if (idx_load(path, ndim, &out, dims, &err) == 0)
			free(out);
	}
	unlink(path);
	return 0;
}
