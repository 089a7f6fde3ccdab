/* dist_start for a cnnrun built without MPI (CMake found none): one
 * process, and a clear refusal when a launcher started several, which
 * would otherwise train N unrelated copies writing one run folder. */
#include "util/status.h"
#include "dist/dist.h"

int dist_start(int *argc, char ***argv, struct dist **out, struct cnn_error *err)
{
	(void)argc;
	(void)argv;
	*out = NULL;
	int n = dist_launcher_size();
	if (n > 1)
		return cnn_errorf_plain(err, "cnnrun: started as one of %d ranks, but this cnnrun was built "
		                        "without MPI (CMake found none): install Open MPI (libopenmpi-dev) "
		                        "and rebuild, or run it without mpirun", n), CNN_BAD_CONFIG;
	return CNN_OK;
}

void dist_finish(struct dist *d)
{
	(void)d;
}
