/* Fuzz target: the image decoders (PNG, JPEG, PGM/PPM) of datasets and
 * `cnnrun predict`, and fitting what they decode to a small input (channel
 * conversion and bilinear resizing). Each input is also decoded by one
 * reader kept from input to input, as predict's threads keep theirs (its
 * buffers and zlib's state reused), which must give the same result. */
#include <stdlib.h>
#include <string.h>

#include "io/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct image_reader *reader;
	struct cnn_error err, err2;
	struct image img, again;
	uint8_t fitted[3 * 7 * 5];
	if (!reader && !(reader = image_reader_new()))
		abort();
	int rc = image_decode(data, size, "fuzz.img", &img, &err);
	if ((image_reader_decode(reader, data, size, "fuzz.img", &again, &err2) == 0) != (rc == 0) ||
	    (rc && strcmp(err.msg, err2.msg)) ||
	    (!rc && (again.width != img.width || again.height != img.height ||
	             again.channels != img.channels ||
	             memcmp(again.pixels, img.pixels, (size_t)img.width * img.height * img.channels))))
		abort();   /* a reused reader decoded differently */
	if (rc == 0) {
		/* the last byte picks grey or colour, so both conversions run */
		struct shape want = { size && data[size - 1] & 1 ? 3 : 1, 7, 5 };
		image_fit(&img, want, RESIZE_BILINEAR, fitted, "fuzz.img", &err);
		image_free(&img);
	}
	return 0;
}
