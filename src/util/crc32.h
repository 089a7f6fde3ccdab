/* CRC-32, the checksum PNG chunks, zip members (.npz) and cnnrun's
 * checkpoints carry (zlib's crc32: reflected polynomial 0xedb88320),
 * computed in one place. libdeflate's, which folds with the CPU's
 * carry-less multiply where it has one: a checkpoint of a few megabytes is
 * checked in a fraction of the time zlib's table loop takes, and a tiny
 * PNG chunk costs no more. */
#ifndef CNN_CRC32_H
#define CNN_CRC32_H

#include <stddef.h>
#include <stdint.h>

#include <libdeflate.h>

/* crc continued over n bytes at p; start from 0. */
static inline uint32_t crc32_update(uint32_t crc, const void *p, size_t n)
{
	return libdeflate_crc32(crc, p, n);
}

#endif
