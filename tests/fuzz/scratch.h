/* The readers of npz files and checkpoints take paths: the fuzz targets
 * write each input to one scratch file per process. */
#ifndef CNN_FUZZ_SCRATCH_H
#define CNN_FUZZ_SCRATCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static inline const char *fuzz_scratch_file(const char *tag, const uint8_t *data, size_t size)
{
	static char path[96];
	snprintf(path, sizeof path, "/tmp/cnnrun-fuzz-%s-%ld", tag, (long)getpid());
	FILE *f = fopen(path, "wb");
	if (!f)
		return NULL;
	fwrite(data, 1, size, f);
	fclose(f);
	return path;
}

#endif
