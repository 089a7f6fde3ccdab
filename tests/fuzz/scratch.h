/* The readers of npz files and checkpoints take paths: the fuzz targets
 * write each input to one scratch file per process. */
#ifndef CNN_FUZZ_SCRATCH_H
#define CNN_FUZZ_SCRATCH_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* The scratch file and run folder of this process, removed at exit so that
 * the corpus replays CTest runs leave nothing in /tmp. */
static char fuzz_scratch_path[96], fuzz_scratch_dir[96];

static void fuzz_scratch_remove(void)
{
	if (fuzz_scratch_path[0])
		unlink(fuzz_scratch_path);
	DIR *d = fuzz_scratch_dir[0] ? opendir(fuzz_scratch_dir) : NULL;
	if (!d)
		return;
	struct dirent *e;
	char path[400];
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof path, "%s/%s", fuzz_scratch_dir, e->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(fuzz_scratch_dir);
}

static inline void fuzz_scratch_cleanup_at_exit(void)
{
	static int registered;
	if (!registered++)
		atexit(fuzz_scratch_remove);
}

static inline const char *fuzz_scratch_file(const char *tag, const uint8_t *data, size_t size)
{
	char *path = fuzz_scratch_path;
	snprintf(path, sizeof fuzz_scratch_path, "/tmp/cnnrun-fuzz-%s-%ld", tag, (long)getpid());
	fuzz_scratch_cleanup_at_exit();
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
	char *dir = fuzz_scratch_dir;
	static const char metrics[] = "{\"name\": \"fuzz\", \"test\": {\"accuracy\": 0.5, \"loss\": 1,"
		" \"confusion\": [[1, 1], [0, 2]], \"per_class\": [{\"class\": \"a\"}, {\"class\": \"b\"}]}}\n";
	static const char history[] = "epoch,loss,accuracy,val_loss,val_accuracy,seconds,images_per_second\n"
		"1,0.5,0.8,0.6,0.7,1.5,1000\n";
	static const struct { const char *name; const char *text; } base[] = {
		{ "metrics.json", metrics }, { "history.csv", history },
	};
	char path[160];
	snprintf(dir, sizeof fuzz_scratch_dir, "/tmp/cnnrun-fuzz-run-%ld", (long)getpid());
	fuzz_scratch_cleanup_at_exit();
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
