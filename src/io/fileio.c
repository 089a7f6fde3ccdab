/* Whole-file reads, safe input opening and atomic writes (see fileio.h). */
/* realpath is XSI */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/bytes.h"
#include "io/fileio.h"

static struct cnn_loc at_file(const char *path)
{
	return (struct cnn_loc){ path, 0, 0 };
}

int atomic_open(struct atomic_file *a, const char *path, struct cnn_error *err)
{
	size_t len = strlen(path) + sizeof ATOMIC_TMP_MARK "XXXXXX";
	int fd;

	memset(a, 0, sizeof *a);
	a->path = malloc(strlen(path) + 1);
	a->tmp = malloc(len);
	if (!a->path || !a->tmp) {
		cnn_errorf(err, at_file(path), "out of memory");
		goto out_free;
	}
	strcpy(a->path, path);
	snprintf(a->tmp, len, "%s" ATOMIC_TMP_MARK "XXXXXX", path);
	/* mkstemp opens with O_CREAT | O_EXCL: a name taken by anything,
	 * a planted symlink included, is skipped, never followed. */
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
		fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		size_t n = slash == path ? 1 : (size_t)(slash - path);
		dir = malloc(n + 1);
		if (!dir)
			return;
		memcpy(dir, path, n);
		dir[n] = '\0';
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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

int atomic_write_with(const char *path, atomic_writer fn, const void *ctx, struct cnn_error *err)
{
	struct atomic_file a;

	if (atomic_open(&a, path, err))
		return -1;
	errno = 0;
	if (fn(a.f, ctx, err)) {
		atomic_abort(&a);
		return -1;
	}
	return atomic_commit(&a, err);
}

/* "<anything>.cnnrun-tmp.XXXXXX" with mkstemp's six characters. */
static bool is_leftover(const char *name)
{
	const char *mark = strstr(name, ATOMIC_TMP_MARK);
	const char *last = NULL;

	while (mark) {
		last = mark;
		mark = strstr(mark + 1, ATOMIC_TMP_MARK);
	}
	return last && strlen(last + sizeof ATOMIC_TMP_MARK - 1) == 6;
}

int atomic_remove_leftovers(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int removed = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;
		if (!is_leftover(e->d_name) ||
		    snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
			continue;
		/* A folder of that name is not ours; a file or link is removed
		 * (unlink removes a link, never its target). */
		if (lstat(path, &st) == 0 && !S_ISDIR(st.st_mode) && unlink(path) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

static const char *file_kind(mode_t m)
{
	if (S_ISDIR(m))
		return "is a folder";
	if (S_ISFIFO(m))
		return "is a FIFO (named pipe)";
	if (S_ISCHR(m))
		return "is a character device";
	if (S_ISBLK(m))
		return "is a block device";
	if (S_ISSOCK(m))
		return "is a socket";
	return "is not a regular file";
}

/* open(O_NONBLOCK), so a FIFO cannot hang it, and fstat into *st: the
 * descriptor of a regular file, left non-blocking (which regular files
 * ignore, open(2): their reads block as usual), or -1 with err filled and
 * errno set (EISDIR for a folder, EINVAL for any other kind). */
static int open_regular_at(int dir, const char *name, const char *path, struct stat *st,
                           struct cnn_error *err)
{
	int fd = openat(dir, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC), e;

	if (fd < 0) {
		e = errno;
		cnn_errorf(err, at_file(path), "cannot open: %s", strerror(e));
		errno = e;
		return -1;
	}
	if (fstat(fd, st) != 0) {
		e = errno;
		cnn_errorf(err, at_file(path), "cannot read: %s", strerror(e));
	} else if (!S_ISREG(st->st_mode)) {
		e = S_ISDIR(st->st_mode) ? EISDIR : EINVAL;
		cnn_errorf(err, at_file(path), "%s, not a regular file", file_kind(st->st_mode));
	} else {
		return fd;
	}
	close(fd);
	errno = e;
	return -1;
}

/* open_regular_at for path itself (relative to the working folder). */
static int open_regular(const char *path, struct stat *st, struct cnn_error *err)
{
	return open_regular_at(AT_FDCWD, path, path, st, err);
}

int input_open(const char *path, struct cnn_error *err)
{
	struct stat st;
	int fd = open_regular(path, &st, err), e;

	if (fd < 0)
		return -1;
	/* blocking again for callers that hand the descriptor on (fdopen) */
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		e = errno;
		cnn_errorf(err, at_file(path), "cannot read: %s", strerror(e));
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

FILE *input_fopen(const char *path, struct cnn_error *err)
{
	int fd = input_open(path, err);
	FILE *f;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "rb");
	if (!f) {
		int e = errno;
		cnn_errorf(err, at_file(path), "cannot read: %s", strerror(e));
		close(fd);
		errno = e;
	}
	return f;
}

/* realpath of path's folder, then "/" and its last name, into buf. */
static bool resolve_parent(const char *path, char *buf, size_t len)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (n >= sizeof dir)
		return false;
	if (slash && n == 0)
		strcpy(dir, "/");
	else if (!slash)
		strcpy(dir, ".");
	else {
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	if (!realpath(dir, real))
		return false;
	return snprintf(buf, len, "%s/%s", real, base) < (int)len;
}

bool file_same(const char *a, const char *b)
{
	struct stat sa, sb;
	char ra[PATH_MAX + 256], rb[PATH_MAX + 256];

	if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	if (!strcmp(a, b))
		return true;
	return resolve_parent(a, ra, sizeof ra) && resolve_parent(b, rb, sizeof rb) && !strcmp(ra, rb);
}

/* Reads a regular file's st_size bytes from fd into buf (which has room);
 * *got: how many came (fewer if it shrank meanwhile). Closes fd. */
static int read_whole(int fd, const char *path, unsigned char *buf, size_t size, size_t *got,
                      struct cnn_error *err)
{
	*got = 0;
	while (*got < size) {
		ssize_t n = read(fd, buf + *got, size - *got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cnn_errorf(err, at_file(path), "cannot read: %s", strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;  /* shrank while we read: take what is there */
		*got += (size_t)n;
	}
	close(fd);
	return 0;
}

/* A file's size, refused above max. */
static int size_within(const struct stat *st, size_t max, const char *path, size_t *size,
                       struct cnn_error *err)
{
	if ((unsigned long long)st->st_size > max)
		return cnn_errorf(err, at_file(path), "file too large: %lld bytes (at most %zu)",
		                  (long long)st->st_size, max);
	*size = (size_t)st->st_size;
	return 0;
}

/* The regular file name, in folder dir (or AT_FDCWD), into b; path
 * names it in messages. Returns 0, -1, or FILE_IS_FOLDER. */
static int read_file_at(int dir, const char *name, const char *path, size_t max,
                        struct file_buf *b, struct cnn_error *err)
{
	struct stat st;
	size_t size = 0;
	int fd = open_regular_at(dir, name, path, &st, err);

	b->len = 0;
	if (fd < 0)
		return errno == EISDIR ? FILE_IS_FOLDER : -1;
	if (size_within(&st, max, path, &size, err)) {
		close(fd);
		return -1;
	}
	if (bytes_reserve(&b->data, &b->cap, size + 1)) {
		cnn_errorf(err, at_file(path), "out of memory reading %zu bytes", size);
		close(fd);
		return -1;
	}
	if (read_whole(fd, path, b->data, size, &b->len, err))
		return -1;
	b->data[b->len] = '\0';
	return 0;
}

int file_read_all(const char *path, size_t max, unsigned char **data, size_t *len,
                  struct cnn_error *err)
{
	struct file_buf b = { 0 };

	*data = NULL;
	*len = 0;
	/* a fresh buffer: allocated to the file's size, and handed over */
	if (read_file_at(AT_FDCWD, path, path, max, &b, err) != 0) {
		free(b.data);
		return -1;
	}
	*data = b.data;
	*len = b.len;
	return 0;
}

/* Closes b's kept folder (a later file opens its own). */
static void forget_folder(struct file_buf *b)
{
	if (b->dir)
		close(b->dir_fd);
	free(b->dir);
	b->dir = NULL;
	b->dir_len = 0;
}

/* Keeps b's folder the first dir_len bytes of path, opened for openat (on
 * Linux O_PATH: search permission is all it needs, as for the whole path).
 * Returns whether it is open; when not, the caller opens the whole path. */
static bool folder_kept(struct file_buf *b, const char *path, size_t dir_len)
{
	if (b->dir && b->dir_len == dir_len && !memcmp(b->dir, path, dir_len))
		return true;
	forget_folder(b);
	char *dir = malloc(dir_len + 1);
	if (!dir)
		return false;
	memcpy(dir, path, dir_len);
	dir[dir_len] = '\0';
#ifdef O_PATH
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
#else
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
#endif
	if (fd < 0) {
		free(dir);
		return false;
	}
	b->dir = dir;
	b->dir_len = dir_len;
	b->dir_fd = fd;
	return true;
}

int file_read_reuse(const char *path, size_t max, struct file_buf *b, struct cnn_error *err)
{
	const char *slash = strrchr(path, '/');

	/* a last name after a folder's: opened in the kept folder */
	if (slash && slash > path && slash[1] && folder_kept(b, path, (size_t)(slash - path)))
		return read_file_at(b->dir_fd, slash + 1, path, max, b, err);
	return read_file_at(AT_FDCWD, path, path, max, b, err);
}

void file_buf_free(struct file_buf *b)
{
	forget_folder(b);
	free(b->data);
	memset(b, 0, sizeof *b);
}
