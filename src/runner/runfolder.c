/* Run folder locking and clearing. See runfolder.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/fileio.h"
#include "runner/common.h"
#include "runner/runfolder.h"

/* Every file a training run writes into its folder; eval/ holds the
 * report's share of them. */
static const char *const run_files[] = {
	"config.yaml", "last.ckpt", "best.ckpt", "metrics.json", "history.csv", "batches.csv",
	"mistakes.bin", "report.md", "loss.svg", "accuracy.svg", "confusion.svg", "mistakes.png",
	"network.svg",
};
#define N_RUN_FILES (sizeof run_files / sizeof run_files[0])
/* The ones that mark a folder as a training run's (eval writes none). */
#define N_TRAINING_MARKS 3

static struct cnn_loc at_dir(const char *dir)
{
	return (struct cnn_loc){ dir, 0, 0 };
}

/* The PID the lock file records, or 0. */
static long lock_holder(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

int run_folder_open(const char *dir, struct run_folder *f, struct cnn_error *err)
{
	char path[4200], pid[32];
	struct stat st;

	f->lock_fd = -1;
	if (run_prepare_out_dir(dir, err))
		return -1;
	snprintf(path, sizeof path, "%s/" RUN_LOCK_NAME, dir);
	/* O_NOFOLLOW: a link planted under the lock's name is refused, never
	 * truncated through; O_NONBLOCK: a FIFO there cannot hang the open. */
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
	if (fd < 0)
		return cnn_errorf(err, at_dir(dir), "cannot create the folder's lock %s: %s", RUN_LOCK_NAME,
		                  strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return cnn_errorf(err, at_dir(dir), "%s is not a regular file; remove it", RUN_LOCK_NAME);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		long holder = lock_holder(fd);
		close(fd);
		if (e == EWOULDBLOCK && holder > 0)
			return cnn_errorf(err, at_dir(dir), "another cnnrun (PID %ld) is using this folder; "
			                  "wait for it to end, or choose another folder with --out DIR", holder);
		if (e == EWOULDBLOCK)
			return cnn_errorf(err, at_dir(dir), "another cnnrun is using this folder; wait for it "
			                  "to end, or choose another folder with --out DIR");
		return cnn_errorf(err, at_dir(dir), "cannot lock the folder: %s", strerror(e));
	}
	int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		int e = errno;
		close(fd);
		return cnn_errorf(err, at_dir(dir), "cannot write the folder's lock: %s", strerror(e));
	}
	f->lock_fd = fd;
	atomic_remove_leftovers(dir);
	return 0;
}

void run_folder_close(struct run_folder *f)
{
	if (f->lock_fd >= 0)
		close(f->lock_fd);   /* releases the flock */
	f->lock_fd = -1;
}

static int count_present(const char *dir, size_t n_names, char *buf, size_t len)
{
	size_t used = 0;
	int found = 0;
	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < n_names; i++) {
		char path[4200];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", dir, run_files[i]);
		if (lstat(path, &st) != 0)
			continue;
		if (used < len) {
			int w = snprintf(buf + used, len - used, "%s%s", found ? ", " : "", run_files[i]);
			used = w < 0 ? len : used + (size_t)w;
		}
		found++;
	}
	return found;
}

int run_folder_holds_run(const char *dir, char *buf, size_t len)
{
	return count_present(dir, N_RUN_FILES, buf, len);
}

int run_folder_is_training_run(const char *dir)
{
	char buf[8];
	return count_present(dir, N_TRAINING_MARKS, buf, sizeof buf) > 0;
}

int run_folder_owns(const char *dir, const char *path)
{
	char sub[4200], file[4400];
	if (file_same(dir, path))
		return 1;
	for (int pass = 0; pass < 2; pass++) {
		snprintf(sub, sizeof sub, pass ? "%s/eval" : "%s", dir);
		for (size_t i = 0; i < N_RUN_FILES; i++) {
			snprintf(file, sizeof file, "%s/%s", sub, run_files[i]);
			if (file_same(file, path))
				return 1;
		}
		snprintf(file, sizeof file, "%s/" RUN_LOCK_NAME, sub);
		if (file_same(file, path))
			return 1;
	}
	return 0;
}

/* Removes dir/name for every run file name; a missing one is fine. */
static int remove_run_files(const char *dir, struct cnn_error *err)
{
	for (size_t i = 0; i < N_RUN_FILES; i++) {
		char path[4200];
		snprintf(path, sizeof path, "%s/%s", dir, run_files[i]);
		if (unlink(path) != 0 && errno != ENOENT)
			return cnn_errorf(err, at_dir(dir), "cannot remove the earlier run's %s: %s", run_files[i],
			                  strerror(errno));
	}
	return 0;
}

int run_folder_clear(const char *dir, struct cnn_error *err)
{
	char eval[4200];
	struct stat st;
	if (remove_run_files(dir, err))
		return -1;
	snprintf(eval, sizeof eval, "%s/eval", dir);
	/* A link named eval is removed, never followed. */
	if (lstat(eval, &st) != 0)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return unlink(eval) == 0 ? 0 : cnn_errorf(err, at_dir(dir), "cannot remove %s: %s", eval,
		                                          strerror(errno));
	if (remove_run_files(eval, err))
		return -1;
	atomic_remove_leftovers(eval);
	snprintf(eval + strlen(eval), sizeof eval - strlen(eval), "/" RUN_LOCK_NAME);
	unlink(eval);
	eval[strlen(eval) - sizeof RUN_LOCK_NAME] = '\0';
	rmdir(eval);   /* kept if it holds files that are not a run's */
	return 0;
}
