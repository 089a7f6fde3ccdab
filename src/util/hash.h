/* FNV-1a, 64 bits: the one hash cnnrun uses to tell weights apart (checkpoint
 * provenance, the ranks' per-epoch agreement, tests that pin exact bits).
 * Not cryptographic: it catches accidents, not forgeries. */
#ifndef CNN_HASH_H
#define CNN_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A_OFFSET UINT64_C(0xcbf29ce484222325)

/* h continued over n bytes; start from FNV1A_OFFSET. */
static inline uint64_t fnv1a_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * UINT64_C(0x100000001b3);
	return h;
}

#endif
