/* Fuzz target: checkpoint files. */
#include "io/checkpoint.h"
#include "scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cnn_error err;
	struct checkpoint c;
	const char *path = fuzz_scratch_file("ckpt", data, size);
	if (!path)
		return 0;
	if (checkpoint_load(path, &c, &err) == 0)
		checkpoint_free(&c);
	unlink(path);
	return 0;
}
