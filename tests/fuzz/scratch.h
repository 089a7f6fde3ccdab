/* The readers of npz files and checkpoints take paths: the fuzz targets
 * write each input to one scratch file per process. */
#ifndef CNN_FUZZ_SCRATCH_H
#define CNN_FUZZ_SCRATCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
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

/* A run folder for report_load: a minimal valid metrics.json and
 * history.csv, then `name` (one of them, or mistakes.bin) replaced by the
 * input. Returns the folder, reused by every input of the process. */
static inline const char *fuzz_scratch_run(const char *name, const uint8_t *data, size_t size)
{
	static char dir[96];
	static const char metrics[] = "{\"name\": \"fuzz\", \"test\": {\"accuracy\": 0.5, \"loss\": 1,"
		" \"confusion\": [[1, 1], [0, 2]], \"per_class\": [{\"class\": \"a\"}, {\"class\": \"b\"}]}}\n";
	static const char history[] = "epoch,loss,accuracy,val_loss,val_accuracy,seconds,images_per_second\n"
		"1,0.5,0.8,0.6,0.7,1.5,1000\n";
	static const struct { const char *name; const char *text; } base[] = {
		{ "metrics.json", metrics }, { "history.csv", history },
	};
	char path[160];
	snprintf(dir, sizeof dir, "/tmp/cnnrun-fuzz-run-%ld", (long)getpid());
	mkdir(dir, 0777);
	snprintf(path, sizeof path, "%s/mistakes.bin", dir);
	unlink(path);
	for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, base[i].name);
		FILE *f = fopen(path, "wb");
		if (!f)
			return NULL;
		fputs(base[i].text, f);
		fclose(f);
	}
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f)
		return NULL;
	fwrite(data, 1, size, f);
	fclose(f);
	return dir;
}

#endif
