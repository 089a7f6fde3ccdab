/* Whole-file reads and atomic writes (see fileio.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/fileio.h"

static struct cnn_loc at_file(const char *path)
{
	return (struct cnn_loc){ path, 0, 0 };
}

int atomic_open(struct atomic_file *a, const char *path, struct cnn_error *err)
{
	size_t len = strlen(path) + sizeof ".tmp.XXXXXX";
	int fd;

	memset(a, 0, sizeof *a);
	a->path = malloc(strlen(path) + 1);
	a->tmp = malloc(len);
	if (!a->path || !a->tmp) {
		cnn_errorf(err, at_file(path), "out of memory");
		goto out_free;
	}
	strcpy(a->path, path);
	snprintf(a->tmp, len, "%s.tmp.XXXXXX", path);
	fd = mkstemp(a->tmp);
	if (fd < 0) {
		cnn_errorf(err, at_file(path), "cannot create a temporary file next to it: %s",
		           strerror(errno));
		goto out_free;
	}
	/* mkstemp makes the file private (0600); a model file is not a secret. */
	fchmod(fd, 0644);
	a->f = fdopen(fd, "wb");
	if (!a->f) {
		cnn_errorf(err, at_file(path), "cannot write: %s", strerror(errno));
		close(fd);
		unlink(a->tmp);
		goto out_free;
	}
	return 0;

out_free:
	free(a->path);
	free(a->tmp);
	memset(a, 0, sizeof *a);
	return -1;
}

void atomic_abort(struct atomic_file *a)
{
	if (a->f) {
		fclose(a->f);
		unlink(a->tmp);
	}
	free(a->path);
	free(a->tmp);
	memset(a, 0, sizeof *a);
}

/* Makes the rename durable. Failing to open or sync a folder loses nothing
 * already written, so it is not reported. */
static void sync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	if (!slash) {
		fd = open(".", O_RDONLY);
	} else {
		size_t n = slash == path ? 1 : (size_t)(slash - path);
		dir = malloc(n + 1);
		if (!dir)
			return;
		memcpy(dir, path, n);
		dir[n] = '\0';
		fd = open(dir, O_RDONLY);
		free(dir);
	}
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int atomic_commit(struct atomic_file *a, struct cnn_error *err)
{
	int e = 0;

	if (fflush(a->f) != 0 || ferror(a->f) || fsync(fileno(a->f)) != 0)
		e = errno ? errno : EIO;
	if (fclose(a->f) != 0 && !e)
		e = errno ? errno : EIO;
	a->f = NULL;
	if (e) {
		cnn_errorf(err, at_file(a->path), "cannot write: %s", strerror(e));
		goto out_unlink;
	}
	if (rename(a->tmp, a->path) != 0) {
		cnn_errorf(err, at_file(a->path), "cannot rename %s into place: %s", a->tmp,
		           strerror(errno));
		goto out_unlink;
	}
	sync_parent(a->path);
	atomic_abort(a);
	return 0;

out_unlink:
	unlink(a->tmp);
	atomic_abort(a);
	return -1;
}

int atomic_write(const char *path, const void *data, size_t len, struct cnn_error *err)
{
	struct atomic_file a;

	if (atomic_open(&a, path, err))
		return -1;
	if (len && fwrite(data, 1, len, a.f) != len) {
		cnn_errorf(err, at_file(path), "cannot write: %s", strerror(errno));
		atomic_abort(&a);
		return -1;
	}
	return atomic_commit(&a, err);
}

int file_read_all(const char *path, size_t max, unsigned char **data, size_t *len,
                  struct cnn_error *err)
{
	struct stat st;
	unsigned char *buf;
	size_t size, got = 0;
	int fd;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cnn_errorf(err, at_file(path), "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) != 0) {
		cnn_errorf(err, at_file(path), "cannot read: %s", strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		cnn_errorf(err, at_file(path), "not a regular file");
		goto out_close;
	}
	if ((unsigned long long)st.st_size > max) {
		cnn_errorf(err, at_file(path), "file too large: %lld bytes (at most %zu)",
		           (long long)st.st_size, max);
		goto out_close;
	}
	size = (size_t)st.st_size;
	buf = malloc(size + 1);
	if (!buf) {
		cnn_errorf(err, at_file(path), "out of memory reading %zu bytes", size);
		goto out_close;
	}
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cnn_errorf(err, at_file(path), "cannot read: %s", strerror(errno));
			free(buf);
			goto out_close;
		}
		if (n == 0)
			break;  /* shrank while we read: take what is there */
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	*data = buf;
	*len = got;
	return 0;

out_close:
	close(fd);
	return -1;
}
