/* Fuzz target: the PGM and PNG decoders of `cnnrun predict`. */
#include "cnn/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cnn_error err;
	struct image img;
	if (image_decode(data, size, "fuzz.img", &img, &err) == 0)
		image_free(&img);
	return 0;
}
