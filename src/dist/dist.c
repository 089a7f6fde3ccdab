/* The one-process communicator and what every communicator shares. See
 * dist.h. No MPI here: that is dist_mpi.c, outside the library. */
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "util/hash.h"

static void local_allgather(const struct dist *d, void *buf, const size_t *offsets)
{
	(void)d;
	(void)buf;
	(void)offsets;   /* the only region is already in place */
}

/* The same left fold as the network's in-process sum: out = p0, then
 * out += p1, out += p2 ... element by element. */
static void local_chain_sum(const struct dist *d, float *out, float *const *parts, int n_parts, size_t n)
{
	(void)d;
	if (n_parts == 0)
		return;
	if (out != parts[0])
		memcpy(out, parts[0], n * sizeof *out);
	for (int p = 1; p < n_parts; p++)
		for (size_t j = 0; j < n; j++)
			out[j] += parts[p][j];
}

static void local_bcast(const struct dist *d, void *buf, size_t bytes, int root)
{
	(void)d;
	(void)buf;
	(void)bytes;
	(void)root;
}

static int local_max_int(const struct dist *d, int value)
{
	(void)d;
	return value;
}

static void local_barrier(const struct dist *d)
{
	(void)d;
}

static const struct dist_ops local_ops = {
	.name = "local",
	.allgather = local_allgather,
	.chain_sum = local_chain_sum,
	.bcast = local_bcast,
	.max_int = local_max_int,
	.barrier = local_barrier,
	.abort = NULL,   /* one process returns its status instead */
};

const struct dist dist_local = { .ops = &local_ops, .rank = 0, .size = 1, .failed_rank = -1 };

int dist_agree(struct dist *d, int status, struct cnn_error *err)
{
	if (!dist_parallel(d))
		return status;
	/* The lowest failing rank wins: (rank, status) packed so that max_int
	 * picks it, 0 when no rank failed. */
	int key = status ? (d->size - d->rank) * 256 + (status & 255) : 0;
	int agreed = d->ops->max_int(d, key);
	if (!agreed)
		return 0;
	int rank = d->size - agreed / 256;
	if (d->failed_rank < 0)
		d->failed_rank = rank;
	if (rank != d->rank && !status)
		cnn_errorf_plain(err, "rank %d of %d stopped (its message is above)", rank, d->size);
	return agreed % 256;
}

bool dist_should_print(const struct dist *d)
{
	return !d || d->failed_rank < 0 || d->failed_rank == d->rank;
}

uint64_t dist_checksum(const void *p, size_t n)
{
	return fnv1a_bytes(FNV1A_OFFSET, p, n);
}

int dist_check_same(const struct dist *d, uint64_t mine, const char *what, struct cnn_error *err)
{
	if (!dist_parallel(d))
		return 0;
	size_t *offsets = malloc(((size_t)d->size + 1) * sizeof *offsets);
	uint64_t *all = calloc((size_t)d->size, sizeof *all);
	if (!offsets || !all) {
		/* A rank that cannot join the collective must end them all. */
		if (d->ops->abort)
			d->ops->abort(d, 1);
		free(offsets);
		free(all);
		return cnn_errorf_plain(err, "out of memory");
	}
	for (int r = 0; r <= d->size; r++)
		offsets[r] = (size_t)r * sizeof *all;
	all[d->rank] = mine;
	d->ops->allgather(d, all, offsets);
	int rc = 0;
	for (int r = 1; r < d->size && !rc; r++)
		if (all[r] != all[0])
			rc = cnn_errorf_plain(err, "rank %d's %s differ from rank 0's (checksum %016llx, rank 0: "
			                      "%016llx): the ranks no longer train the same network. Are all "
			                      "ranks running the same cnnrun build on the same data?",
			                      r, what, (unsigned long long)all[r], (unsigned long long)all[0]);
	free(offsets);
	free(all);
	return rc;
}

/* The first of vars[] that is set, as an int; `none` when none is. */
static int launcher_env(const char *const vars[3], int none)
{
	for (int i = 0; i < 3; i++) {
		const char *v = getenv(vars[i]);
		if (v && *v)
			return atoi(v);
	}
	return none;
}

int dist_launcher_rank(void)
{
	static const char *const vars[] = { "OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID" };
	return launcher_env(vars, 0);
}

int dist_launcher_size(void)
{
	/* Open MPI's mpirun, PMI launchers (MPICH's hydra, srun --mpi=pmi2),
	 * and a Slurm job step (srun --mpi=pmix sets no PMI_SIZE); not
	 * SLURM_NTASKS, which a batch script's own shell has too. */
	static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS" };
	int n = launcher_env(vars, 1);
	return n > 1 ? n : 1;
}
