/* Fuzz target: .npz archives (zip, stored or deflated, zip64 headers) and,
 * from the same bytes, a bare .npy. */
#include <stdlib.h>

#include "io/npz.h"
#include "scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cnn_error err;
	struct npy_array a;
	if (npy_decode(data, size, "fuzz.npy", NULL, &a, &err) == 0)
		npy_array_free(&a);
	const char *path = fuzz_scratch_file("npz", data, size);
	if (!path)
		return 0;
	struct npz_archive z;
	if (npz_read(path, &z, &err) == 0)
		npz_archive_free(&z);
	unlink(path);
	return 0;
}
