/* JPEG decoding through libjpeg(-turbo).
 *
 * libjpeg's default error handler prints and calls exit(): ours formats the
 * message and longjmp()s back to image_decode_jpeg, which frees what it made
 * and returns an error naming the file. Warnings (a truncated file "decodes"
 * into grey with one) are errors here too: a damaged image is refused, not
 * trained on. The size is checked from the header, before the decoder
 * allocates anything for the pixels, and progressive files are limited in
 * their number of scans (each scan re-reads the whole image: a small file
 * with thousands of them takes minutes, the "scan bomb"). */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "io/image.h"

/* libjpeg-turbo's TurboJPEG API refuses files with more scans than this. */
#define JPEG_MAX_SCANS 500

/* The decoder's working memory: the largest allowed image at 3 bytes per
 * pixel, with room for a progressive file's coefficients. */
#define JPEG_MAX_MEMORY ((long)IMAGE_MAX_PIXELS * 8)

struct jpeg_failure {
	struct jpeg_error_mgr mgr;     /* first: libjpeg hands back this pointer */
	struct jpeg_progress_mgr progress;
	jmp_buf back;
	char msg[JMSG_LENGTH_MAX];
	const char *why;               /* our reason, when not libjpeg's */
};

static void jpeg_fail(j_common_ptr cinfo)
{
	struct jpeg_failure *f = (struct jpeg_failure *)cinfo->err;
	(*cinfo->err->format_message)(cinfo, f->msg);
	longjmp(f->back, 1);
}

/* Level -1 is a warning about damaged data; higher levels are trace output. */
static void jpeg_message(j_common_ptr cinfo, int level)
{
	if (level < 0)
		jpeg_fail(cinfo);
}

static void jpeg_count_scans(j_common_ptr cinfo)
{
	struct jpeg_failure *f = (struct jpeg_failure *)cinfo->err;
	if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > JPEG_MAX_SCANS) {
		f->why = "too many progressive scans";
		longjmp(f->back, 1);
	}
}

int image_decode_jpeg(const unsigned char *d, size_t len, const char *name, struct image *out,
                      struct cnn_error *err)
{
	struct jpeg_decompress_struct cinfo;
	/* volatile: read after longjmp, set between setjmp and the jump */
	struct jpeg_failure f;
	uint8_t *volatile pixels = NULL;
	struct cnn_loc at = { name, 0, 0 };

	memset(out, 0, sizeof *out);
	memset(&f, 0, sizeof f);
	cinfo.err = jpeg_std_error(&f.mgr);
	f.mgr.error_exit = jpeg_fail;
	f.mgr.emit_message = jpeg_message;
	if (setjmp(f.back)) {
		jpeg_destroy_decompress(&cinfo);
		free(pixels);
		if (f.why)
			return cnn_errorf(err, at, "bad JPEG: %s", f.why);
		return cnn_errorf(err, at, "bad JPEG: %s", f.msg);
	}
	jpeg_create_decompress(&cinfo);
	cinfo.mem->max_memory_to_use = JPEG_MAX_MEMORY;
	f.progress.progress_monitor = jpeg_count_scans;
	cinfo.progress = &f.progress;
	jpeg_mem_src(&cinfo, d, (unsigned long)len);
	jpeg_read_header(&cinfo, TRUE);
	if (image_check_size(cinfo.image_width, cinfo.image_height, name, err)) {
		jpeg_destroy_decompress(&cinfo);
		return -1;
	}
	if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
		jpeg_destroy_decompress(&cinfo);
		return cnn_errorf(err, at, "CMYK JPEG is not supported; save it as RGB");
	}
	int channels = cinfo.jpeg_color_space == JCS_GRAYSCALE ? 1 : 3;
	cinfo.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_start_decompress(&cinfo);
	const size_t w = cinfo.output_width, h = cinfo.output_height;
	const size_t stride = w * (size_t)channels;
	if ((int)cinfo.output_components != channels || w != cinfo.image_width || h != cinfo.image_height) {
		f.why = "unexpected output format";
		longjmp(f.back, 1);
	}
	pixels = malloc(stride * h);   /* (h, w, channels) */
	if (!pixels) {
		f.why = "out of memory";
		longjmp(f.back, 1);
	}
	while (cinfo.output_scanline < h) {
		JSAMPROW row = pixels + cinfo.output_scanline * stride;
		jpeg_read_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_decompress(&cinfo);
	jpeg_destroy_decompress(&cinfo);
	out->width = (int)w;
	out->height = (int)h;
	out->channels = channels;
	out->pixels = pixels;
	return 0;
}
