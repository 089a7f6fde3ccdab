/* Run folders: one run at a time in each, nothing of an earlier run
 * replaced by surprise. Internal to src/runner.
 *
 * A run (or an eval) holds an exclusive lock on DIR/.cnnrun.lock (flock)
 * for its whole life; the file holds the holder's PID, so a second run is
 * refused with it. The lock is released by the kernel when the process
 * ends, however it ends: a killed run never leaves a folder locked. */
#ifndef CNN_RUNNER_RUNFOLDER_H
#define CNN_RUNNER_RUNFOLDER_H

#include <stddef.h>

#include "util/error.h"

#define RUN_LOCK_NAME ".cnnrun.lock"

struct run_folder {
	int lock_fd;    /* -1: not held */
};

/* mkdir -p dir, takes its lock (refused, naming the holder's PID, while
 * another cnnrun holds it), removes the temporaries a killed run left, and
 * proves the folder takes a file. f->lock_fd is -1 on failure. */
int run_folder_open(const char *dir, struct run_folder *f, struct cnn_error *err);
void run_folder_close(struct run_folder *f);

/* The training run's files dir holds, as "config.yaml, last.ckpt" into buf;
 * returns how many (0: no run lives there). */
int run_folder_holds_run(const char *dir, char *buf, size_t len);

/* Whether dir holds a training run's own results (its config.yaml or a
 * checkpoint), which eval must never write over. */
int run_folder_is_training_run(const char *dir);

/* Whether path is dir itself or one of the files a run writes in dir (or
 * in dir/eval), the same file by device and inode where it exists: an
 * output there would replace a run's own results. */
int run_folder_owns(const char *dir, const char *path);

/* Removes an earlier run's files (every name a run writes, and its eval/
 * folder's), so nothing of another model stays beside the new run. */
int run_folder_clear(const char *dir, struct cnn_error *err);

#endif
