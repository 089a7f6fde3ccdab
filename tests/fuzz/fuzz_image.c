/* Fuzz target: the image decoders (PNG, JPEG, PGM/PPM) of datasets and
 * `cnnrun predict`, and fitting what they decode to a small input (channel
 * conversion and bilinear resizing). */
#include "io/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cnn_error err;
	struct image img;
	uint8_t fitted[3 * 7 * 5];
	if (image_decode(data, size, "fuzz.img", &img, &err) == 0) {
		/* the last byte picks grey or colour, so both conversions run */
		struct shape want = { size && data[size - 1] & 1 ? 3 : 1, 7, 5 };
		image_fit(&img, want, RESIZE_BILINEAR, fitted, "fuzz.img", &err);
		image_free(&img);
	}
	return 0;
}
