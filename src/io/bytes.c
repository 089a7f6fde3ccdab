/* The growable buffer behind bytes.h. */
#include <stdlib.h>

#include "io/bytes.h"

int bytes_reserve(unsigned char **p, size_t *cap, size_t n)
{
	if (n <= *cap)
		return 0;
	size_t want = n > 2 * *cap ? n : 2 * *cap;
	unsigned char *q = realloc(*p, want);
	if (!q)
		return -1;
	*p = q;
	*cap = want;
	return 0;
}

unsigned char *bytebuf_extend(struct bytebuf *b, size_t n)
{
	if (b->failed)
		return NULL;
	if (n > SIZE_MAX - b->len) {
		b->failed = true;
		return NULL;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap = cap > SIZE_MAX / 2 ? b->len + n : cap * 2;
		unsigned char *p = realloc(b->data, cap);
		if (!p) {
			b->failed = true;
			return NULL;
		}
		b->data = p;
		b->cap = cap;
	}
	unsigned char *at = b->data + b->len;
	b->len += n;
	return at;
}

void bytebuf_put(struct bytebuf *b, const void *p, size_t n)
{
	unsigned char *at = bytebuf_extend(b, n);
	if (at && n)
		memcpy(at, p, n);
}

void bytebuf_u8(struct bytebuf *b, unsigned v)
{
	unsigned char *at = bytebuf_extend(b, 1);
	if (at)
		*at = (unsigned char)v;
}

void bytebuf_u16(struct bytebuf *b, uint16_t v)
{
	unsigned char *at = bytebuf_extend(b, 2);
	if (at)
		put_le16(at, v);
}

void bytebuf_u32(struct bytebuf *b, uint32_t v)
{
	unsigned char *at = bytebuf_extend(b, 4);
	if (at)
		put_le32(at, v);
}

void bytebuf_u64(struct bytebuf *b, uint64_t v)
{
	unsigned char *at = bytebuf_extend(b, 8);
	if (at)
		put_le64(at, v);
}

void bytebuf_f64(struct bytebuf *b, double v)
{
	bytebuf_u64(b, f64_bits(v));
}

void bytebuf_free(struct bytebuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = false;
}
