/* IDX reader (the format MNIST ships in): raw or gzip-compressed.
 *
 * Layout: magic 00 00 TT NN (TT the element type, NN the number of
 * dimensions), then NN big-endian uint32 dimensions, then the elements in
 * row-major order. Only TT = 0x08 (unsigned byte) is accepted.
 *
 * zlib's gzread passes non-gzip files through unchanged, so one code path
 * reads both; byte counts in messages are of the decompressed stream.
 * dims[] entries past ndim_expected are set to 1, so their product is the
 * element count whatever the number of dimensions. */
#define _DEFAULT_SOURCE /* MADV_HUGEPAGE */
#include "data/data.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "io/fileio.h"

/* Larger than any dataset this trainer holds in memory as bytes; a header
 * promising more is corrupt rather than big. */
#define IDX_MAX_BYTES ((size_t)1 << 31)

/* Deflate's best ratio is about 1032:1: a .gz file of n bytes cannot hold
 * more than this many times n. */
#define GZIP_MAX_RATIO 1032

/* Transparent huge pages come in 2 MB. */
#define HUGE_PAGE ((size_t)2 << 20)

/* gzread takes and returns int-sized counts: read in chunks below INT_MAX. */
#define IDX_CHUNK ((unsigned)1 << 30)

static const char *idx_type_name(int code)
{
	switch (code) {
	case 0x08: return "unsigned byte";
	case 0x09: return "signed byte";
	case 0x0b: return "int16";
	case 0x0c: return "int32";
	case 0x0d: return "float32";
	case 0x0e: return "float64";
	default:   return "unknown";
	}
}

/* Reads up to len bytes; *got says how many came. Returns -1 on a read or
 * decompression error (and fills err), 0 otherwise, short reads included:
 * the caller knows what length it wanted and words the message. */
static int idx_read(gzFile gz, const char *file, void *buf, size_t len, size_t *got,
		    struct cnn_error *err)
{
	struct cnn_loc at = { file, 0, 0 };
	unsigned char *p = buf;

	*got = 0;
	while (*got < len) {
		size_t want = len - *got;
		if (want > IDX_CHUNK)
			want = IDX_CHUNK;
		int n = gzread(gz, p + *got, (unsigned)want);
		if (n < 0) {
			int code;
			const char *msg = gzerror(gz, &code);
			if (code == Z_ERRNO)
				return cnn_errorf(err, at, "read error: %s", strerror(errno));
			return cnn_errorf(err, at, "corrupt gzip data: %s", msg);
		}
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	/* A gzip stream cut short is not a read error to gzread: it hands back
	 * what it could decompress and flags Z_BUF_ERROR. */
	if (*got < len) {
		int code;
		gzerror(gz, &code);
		if (code == Z_BUF_ERROR)
			return cnn_errorf(err, at, "truncated gzip stream (unexpected end of file)");
	}
	return 0;
}

/* Memory for `bytes` of image data, free()-able. Training reads it at random
 * (a batch takes one image here, the next one 40 MB away): with 4 kB pages
 * almost every image costs a TLB miss, and in a virtual machine each miss
 * is a two-level page walk. That made copying a batch out of MNIST a third
 * of a training step on the reference network. Advised for 2 MB pages
 * before it is touched, the whole set needs a few dozen TLB entries. Where
 * the kernel does not do huge pages the advice is ignored. */
uint8_t *data_alloc_images(size_t bytes)
{
	void *p = NULL;

	if (bytes < HUGE_PAGE)
		return malloc(bytes ? bytes : 1);
	size_t rounded = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
	if (posix_memalign(&p, HUGE_PAGE, rounded))
		return NULL;
#ifdef MADV_HUGEPAGE
	(void)madvise(p, rounded, MADV_HUGEPAGE);
#endif
	return p;
}

/* Whether a file of file_bytes can hold `bytes` of data: then the buffer is
 * allocated at its final size at once. A header promising more than that
 * is answered by idx_read_growing, which only grows with what arrives. */
static bool file_can_hold(int fd, gzFile gz, size_t bytes)
{
	struct stat st;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0)
		return false;
	double room = (double)st.st_size * (gzdirect(gz) ? 1 : GZIP_MAX_RATIO);
	return (double)bytes <= room;
}

/* Reads up to `bytes` into a buffer that grows as data actually arrives, so
 * a short file whose header promises gigabytes costs what the file holds,
 * not what it claims. On return *buf holds *got bytes (or is NULL on error). */
static int idx_read_growing(gzFile gz, const char *file, size_t bytes, uint8_t **buf,
                            size_t *got, struct cnn_error *err)
{
	struct cnn_loc at = { file, 0, 0 };
	size_t cap = bytes < ((size_t)1 << 20) ? bytes : (size_t)1 << 20;
	*got = 0;
	*buf = malloc(cap ? cap : 1);
	for (;;) {
		if (!*buf)
			return cnn_errorf(err, at, "out of memory reading %zu bytes of data", bytes);
		size_t more;
		if (idx_read(gz, file, *buf + *got, cap - *got, &more, err))
			return -1;
		*got += more;
		if (*got < cap || cap == bytes)
			return 0;
		size_t next = cap * 2 < bytes ? cap * 2 : bytes;
		uint8_t *bigger = realloc(*buf, next);
		if (!bigger) {
			free(*buf);
			*buf = NULL;
			continue;
		}
		*buf = bigger;
		cap = next;
	}
}

/* Counts what is left in the stream, so a length mismatch can say by how much. */
static int idx_count_rest(gzFile gz, const char *file, size_t *rest, struct cnn_error *err)
{
	unsigned char buf[65536];
	size_t got;

	*rest = 0;
	do {
		if (idx_read(gz, file, buf, sizeof buf, &got, err))
			return -1;
		*rest += got;
	} while (got == sizeof buf);
	return 0;
}

static uint32_t be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Checks the magic bytes and dimensions; *bytes gets the data length. */
static int idx_header(gzFile gz, const char *file, int ndim, int dims[3], size_t *bytes,
		      struct cnn_error *err)
{
	struct cnn_loc at = { file, 0, 0 };
	unsigned char magic[4], raw[12];
	size_t got, hdr = 4 + 4 * (size_t)ndim;

	if (idx_read(gz, file, magic, sizeof magic, &got, err))
		return -1;
	if (got == 0)
		return cnn_errorf(err, at, "empty file (expected an IDX header)");
	if (got < sizeof magic)
		return cnn_errorf(err, at, "file too short for an IDX header: %zu bytes, need %zu",
				  got, hdr);
	if (magic[0] != 0 || magic[1] != 0)
		return cnn_errorf(err, at,
				  "not an IDX file: magic bytes %02x %02x %02x %02x, expected 00 00 08 %02x",
				  magic[0], magic[1], magic[2], magic[3], (unsigned)ndim);
	if (magic[2] != 0x08)
		return cnn_errorf(err, at,
				  "IDX element type 0x%02x (%s) is not supported; only 0x08 (unsigned byte) is",
				  magic[2], idx_type_name(magic[2]));
	if (magic[3] != ndim)
		return cnn_errorf(err, at, "expected a %d-dimensional IDX file, got a %d-dimensional one",
				  ndim, magic[3]);

	if (idx_read(gz, file, raw, 4 * (size_t)ndim, &got, err))
		return -1;
	if (got < 4 * (size_t)ndim)
		return cnn_errorf(err, at, "file too short for an IDX header: %zu bytes, need %zu",
				  4 + got, hdr);

	size_t total = 1;
	for (int i = 0; i < 3; i++)
		dims[i] = 1;
	for (int i = 0; i < ndim; i++) {
		uint32_t d = be32(raw + 4 * i);
		if (d == 0)
			return cnn_errorf(err, at, "dimension %d is 0", i);
		if (d > INT_MAX || !cnn_mul_size(total, d, &total) || total > IDX_MAX_BYTES)
			return cnn_errorf(err, at,
					  "header promises more than %zu bytes of data (dimension %d is %lu); the header is corrupt",
					  IDX_MAX_BYTES, i, (unsigned long)d);
		dims[i] = (int)d;
	}
	*bytes = total;
	return 0;
}

int idx_load(const char *file, int ndim_expected, uint8_t **data, int dims[3],
	     struct cnn_error *err)
{
	struct cnn_loc at = { file, 0, 0 };
	uint8_t *buf = NULL;
	size_t bytes = 0, got = 0, rest = 0;

	CNN_ASSERT(ndim_expected >= 1 && ndim_expected <= 3);
	*data = NULL;

	/* input_open (never blocks, regular files only) rather than gzopen(). */
	int fd = input_open(file, err);
	if (fd < 0)
		return -1;
	gzFile gz = gzdopen(fd, "rb");
	if (!gz) {
		cnn_errorf(err, at, "cannot open: out of memory");
		goto out_close_fd;
	}

	if (idx_header(gz, file, ndim_expected, dims, &bytes, err))
		goto out_close_gz;

	if (file_can_hold(fd, gz, bytes)) {
		if (!(buf = data_alloc_images(bytes))) {
			cnn_errorf(err, at, "out of memory reading %zu bytes of data", bytes);
			goto out_close_gz;
		}
		if (idx_read(gz, file, buf, bytes, &got, err))
			goto out_free_buf;
	} else if (idx_read_growing(gz, file, bytes, &buf, &got, err)) {
		goto out_free_buf;
	}
	if (got < bytes) {
		cnn_errorf(err, at, "truncated: header promises %zu bytes of data, file has %zu",
			   bytes, got);
		goto out_free_buf;
	}
	if (idx_count_rest(gz, file, &rest, err))
		goto out_free_buf;
	if (rest > 0) {
		cnn_errorf(err, at, "trailing bytes: header promises %zu bytes of data, file has %zu",
			   bytes, bytes + rest);
		goto out_free_buf;
	}

	gzclose(gz);
	*data = buf;
	return 0;

out_free_buf:
	free(buf);
out_close_gz:
	gzclose(gz); /* closes fd too */
	return -1;
out_close_fd:
	close(fd);
	return -1;
}

int idx_peek(const char *file, int ndim_expected, int dims[3], struct cnn_error *err)
{
	size_t bytes;
	int fd = input_open(file, err); /* never blocks: regular files only */
	if (fd < 0)
		return -1;
	gzFile gz = gzdopen(fd, "rb");
	if (!gz) {
		close(fd);
		return cnn_errorf(err, (struct cnn_loc){ file, 0, 0 }, "cannot open: out of memory");
	}
	int rc = idx_header(gz, file, ndim_expected, dims, &bytes, err);
	gzclose(gz);
	return rc;
}

int idx_probe_images(const char *file, bool train, struct data_probe *p, struct cnn_error *err)
{
	int dims[3];
	if (idx_peek(file, 3, dims, err))
		return -1;
	p->n_images += dims[0];
	p->shape = (struct shape){ 1, dims[1], dims[2] };
	if (train)
		p->n_train = dims[0];
	return 0;
}
