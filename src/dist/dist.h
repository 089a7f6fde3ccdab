/* Data-parallel training across processes: the communicator a network and
 * the runner talk to, so that neither knows about MPI.
 *
 * A communicator is `size` processes ("ranks") that call every operation
 * below in the same order with the same sizes (collectives). Two
 * implementations: dist_local (one process; every operation is a copy or
 * nothing) in the library, and the MPI one (src/dist/dist_mpi.c, the only
 * file that includes <mpi.h>), built into the cnnrun program when CMake
 * finds MPI. An MPI failure ends every rank (MPI's default error handler),
 * so the operations return nothing.
 *
 * Every reduction has a fixed order, so its result does not depend on how
 * many ranks there are: values are gathered and combined in rank order, or
 * summed along the chain of ranks (chain_sum). No operation uses MPI's own
 * reductions on floats, whose order depends on the algorithm it picks. */
#ifndef CNN_DIST_H
#define CNN_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct dist;

struct dist_ops {
	const char *name;   /* "local", "mpi" */
	/* buf holds size regions, rank r's at bytes [offsets[r], offsets[r+1]);
	 * each rank has written its own; afterwards every rank holds all. */
	void (*allgather)(const struct dist *d, void *buf, const size_t *offsets);
	/* out[0..n) on every rank = the left fold, in rank order and then in
	 * order within a rank, of every rank's parts: ((p0 + p1) + p2) + ...
	 * where rank 0's first part starts the sum (nothing is added to 0, so
	 * signed zeros survive). A rank may pass n_parts 0. out may be parts[0]. */
	void (*chain_sum)(const struct dist *d, float *out, float *const *parts, int n_parts, size_t n);
	void (*bcast)(const struct dist *d, void *buf, size_t bytes, int root);
	int (*max_int)(const struct dist *d, int value);   /* the largest over the ranks */
	void (*barrier)(const struct dist *d);
	/* Last resort: ends every rank with `status`. NULL: not supported. */
	void (*abort)(const struct dist *d, int status);
};

struct dist {
	const struct dist_ops *ops;
	int rank, size;
	/* The rank whose failure the ranks agreed on first (dist_agree), which
	 * alone prints its message; -1: none yet. */
	int failed_rank;
};

/* The one-process communicator. */
extern const struct dist dist_local;

/* Whether d spans more than one process (NULL: no). */
static inline bool dist_parallel(const struct dist *d)
{
	return d && d->size > 1;
}

/* Every rank passes its own status (0: fine); all return the status of the
 * lowest-ranked rank that failed, or 0. A collective, called at the end of
 * each phase that can fail on one rank alone (reading a file, writing the
 * run folder), so that all ranks stop together and never wait on a rank
 * that left. A rank that did not fail itself gets a message naming the
 * rank that did in err; d->failed_rank records that rank (the first time),
 * so the message is printed once, by dist_should_print's rank. */
int dist_agree(struct dist *d, int status, struct cnn_error *err);

/* Whether this rank prints a failure's message (see dist_agree). */
bool dist_should_print(const struct dist *d);

/* 64-bit FNV-1a of n bytes: the per-epoch check that every rank holds
 * the same weights. */
uint64_t dist_checksum(const void *p, size_t n);

/* Compares every rank's checksum with rank 0's; -1 with a message naming
 * the first rank that differs (on every rank), 0 when all agree. */
int dist_check_same(const struct dist *d, uint64_t mine, const char *what, struct cnn_error *err);

/* How many ranks a launcher (Open MPI, or a PMI one such as Slurm's srun)
 * started this process among, from its environment; 1 when none. For a
 * build without MPI, to say so rather than train N copies side by side. */
int dist_launcher_size(void);
int dist_launcher_rank(void);   /* this process's rank by the same; 0 when none */

/* The program's communicator: dist_local, unless a launcher started this
 * process among several, when the MPI build joins them (MPI_Init) and the
 * build without MPI fails, saying so (CNN_BAD_CONFIG). Both in the cnnrun
 * program, not the library: dist_mpi.c or dist_none.c. dist_finish ends
 * what dist_start began (MPI_Finalize). */
int dist_start(int *argc, char ***argv, struct dist **out, struct cnn_error *err);
void dist_finish(struct dist *d);

#endif
