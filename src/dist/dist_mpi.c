/* The MPI communicator: the only file that includes <mpi.h>, built into the
 * cnnrun program (not the library) when CMake finds MPI. See dist.h.
 *
 * MPI calls come from the main thread only, between the OpenMP regions of
 * a step (MPI_THREAD_FUNNELED). Errors keep MPI's default handler,
 * MPI_ERRORS_ARE_FATAL: a broken connection ends every rank. */
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "util/status.h"
#include "dist/dist.h"

/* chain_sum moves the sum on in pieces of this many floats (256 KiB), so
 * rank r + 1 adds piece k while rank r adds piece k + 1: the chain's time
 * is one pass over the array plus (ranks - 1) pieces, not ranks passes. */
#define CHAIN_PIECE 65536

static struct dist world;
static float *chain_buf;     /* (chain_cap) the sum arriving from rank - 1 */
static size_t chain_cap;

static int as_int(size_t n)
{
	CNN_ASSERT(n <= INT_MAX);
	return (int)n;
}

static void mpi_allgather(const struct dist *d, void *buf, const size_t *offsets)
{
	int counts[d->size], displs[d->size];   /* size is small; bytes stay below INT_MAX */
	for (int r = 0; r < d->size; r++) {
		displs[r] = as_int(offsets[r]);
		counts[r] = as_int(offsets[r + 1] - offsets[r]);
	}
	MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, displs, MPI_BYTE, MPI_COMM_WORLD);
}

/* The sum travels rank 0 -> 1 -> ... -> last, each adding its parts in
 * order (the fold a single process would do over all the parts), and the
 * last rank broadcasts it. Summation order: exactly dist.h's. */
static void mpi_chain_sum(const struct dist *d, float *out, float *const *parts, int n_parts, size_t n)
{
	int me = d->rank, last = d->size - 1;
	float *acc = out;
	if (me > 0) {
		if (chain_cap < n) {
			free(chain_buf);
			chain_cap = 0;
			if (!(chain_buf = malloc(n * sizeof *chain_buf)))
				MPI_Abort(MPI_COMM_WORLD, CNN_FAILED);
			chain_cap = n;
		}
		acc = chain_buf;
	}
	for (size_t lo = 0; lo < n; lo += CHAIN_PIECE) {
		size_t len = n - lo < CHAIN_PIECE ? n - lo : CHAIN_PIECE;
		int first = 0;   /* the first part to add */
		if (me > 0) {
			MPI_Recv(acc + lo, as_int(len), MPI_FLOAT, me - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		} else if (n_parts > 0) {
			first = 1;   /* rank 0's first part starts the sum */
			if (acc != parts[0])
				memcpy(acc + lo, parts[0] + lo, len * sizeof *acc);
		}
		for (int p = first; p < n_parts; p++)
			for (size_t j = lo; j < lo + len; j++)
				acc[j] += parts[p][j];
		if (me < last)
			MPI_Send(acc + lo, as_int(len), MPI_FLOAT, me + 1, 0, MPI_COMM_WORLD);
	}
	if (me == last && acc != out)
		memcpy(out, acc, n * sizeof *out);
	MPI_Bcast(out, as_int(n), MPI_FLOAT, last, MPI_COMM_WORLD);
}

static void mpi_bcast(const struct dist *d, void *buf, size_t bytes, int root)
{
	(void)d;
	MPI_Bcast(buf, as_int(bytes), MPI_BYTE, root, MPI_COMM_WORLD);
}

static int mpi_max_int(const struct dist *d, int value)
{
	int out;
	(void)d;
	MPI_Allreduce(&value, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	return out;
}

static void mpi_barrier(const struct dist *d)
{
	(void)d;
	MPI_Barrier(MPI_COMM_WORLD);
}

static void mpi_abort(const struct dist *d, int status)
{
	(void)d;
	MPI_Abort(MPI_COMM_WORLD, status);
}

static const struct dist_ops mpi_ops = {
	.name = "mpi",
	.allgather = mpi_allgather,
	.chain_sum = mpi_chain_sum,
	.bcast = mpi_bcast,
	.max_int = mpi_max_int,
	.barrier = mpi_barrier,
	.abort = mpi_abort,
};

int dist_start(int *argc, char ***argv, struct dist **out, struct cnn_error *err)
{
	int provided, rank, size;
	*out = NULL;
	/* Not started by a launcher: one process, and no MPI_Init, whose
	 * singleton start would cost time and need a working runtime. */
	if (dist_launcher_size() <= 1)
		return CNN_OK;
	if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
		return cnn_errorf_plain(err, "cnnrun: MPI_Init failed"), CNN_FAILED;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	world = (struct dist){ .ops = &mpi_ops, .rank = rank, .size = size, .failed_rank = -1 };
	*out = &world;
	if (provided < MPI_THREAD_FUNNELED) {
		/* Every rank sees the same library: all stop, rank 0 says why. */
		cnn_errorf_plain(err, "cnnrun: this MPI library does not support threads (MPI_THREAD_FUNNELED)");
		world.failed_rank = 0;
		return CNN_FAILED;
	}
	return CNN_OK;
}

void dist_finish(struct dist *d)
{
	if (!d)
		return;
	free(chain_buf);
	chain_buf = NULL;
	chain_cap = 0;
	MPI_Finalize();
}
