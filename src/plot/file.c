/* plot_write_file: temporary file, sync, rename (see file.h). */
#include "plot/file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int plot_join(char *buf, size_t len, const char *dir, const char *name, struct cnn_error *err)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= len)
		return cnn_errorf_plain(err, "path too long: %s/%s", dir, name);
	return 0;
}

/* Flushes and syncs f, then closes it. Returns 0 or an errno value. */
static int finish(FILE *f)
{
	int e = 0;

	if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0)
		e = errno ? errno : EIO;
	if (fclose(f) != 0 && !e)
		e = errno ? errno : EIO;
	return e;
}

int plot_write_file(const char *path, plot_writer fn, const void *ctx, struct cnn_error *err)
{
	size_t len = strlen(path) + sizeof ".tmp";
	char *tmp = malloc(len);
	FILE *f;
	int e;

	if (!tmp)
		return cnn_errorf_plain(err, "out of memory writing %s", path);
	snprintf(tmp, len, "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (!f) {
		cnn_errorf_plain(err, "cannot write %s: %s", tmp, strerror(errno));
		goto out_free;
	}
	errno = 0;
	if (fn(f, ctx, err)) {
		fclose(f);
		goto out_unlink;
	}
	e = finish(f);
	if (e) {
		cnn_errorf_plain(err, "cannot write %s: %s", tmp, strerror(e));
		goto out_unlink;
	}
	if (rename(tmp, path) != 0) {
		cnn_errorf_plain(err, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		goto out_unlink;
	}
	free(tmp);
	return 0;
out_unlink:
	unlink(tmp);
out_free:
	free(tmp);
	return -1;
}
