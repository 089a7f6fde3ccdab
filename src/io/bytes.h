/* Private to src/io: explicit little-endian (and big-endian, for PNG) byte
 * encoding, a growable output buffer and a bounds-checked input cursor.
 *
 * Files are written and read one byte at a time through these, never by
 * fwrite'ing structs, so the layout is the same on every machine and a
 * truncated or lying file can only make a read fail, never overrun. */
#ifndef CNN_IO_BYTES_H
#define CNN_IO_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t get_le16(const unsigned char *b)
{
	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t get_le32(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t get_le64(const unsigned char *b)
{
	return (uint64_t)get_le32(b) | (uint64_t)get_le32(b + 4) << 32;
}

static inline uint32_t get_be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

static inline void put_le16(unsigned char *b, uint16_t v)
{
	b[0] = (unsigned char)v;
	b[1] = (unsigned char)(v >> 8);
}

static inline void put_le32(unsigned char *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

static inline void put_le64(unsigned char *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

/* IEEE-754 bit patterns: memcpy is the defined way to reinterpret. */
static inline uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

static inline float bits_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

static inline uint64_t f64_bits(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof u);
	return u;
}

static inline double bits_f64(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof d);
	return d;
}

/* An output buffer that remembers an allocation failure, so a writer can
 * append everything and check once at the end. */
struct bytebuf {
	unsigned char *data;
	size_t len, cap;
	bool failed;
};

/* *p (cap bytes) grown to hold at least n, to at least twice its size so
 * that a run of growing requests reallocates rarely; what it held is kept.
 * -1 (p and cap untouched) if memory cannot be had. */
int bytes_reserve(unsigned char **p, size_t *cap, size_t n);

/* Room for n more bytes; NULL (and failed set) if it cannot be had. */
unsigned char *bytebuf_extend(struct bytebuf *b, size_t n);
void bytebuf_put(struct bytebuf *b, const void *p, size_t n);
void bytebuf_u8(struct bytebuf *b, unsigned v);
void bytebuf_u16(struct bytebuf *b, uint16_t v);
void bytebuf_u32(struct bytebuf *b, uint32_t v);
void bytebuf_u64(struct bytebuf *b, uint64_t v);
void bytebuf_f64(struct bytebuf *b, double v);
void bytebuf_free(struct bytebuf *b);

/* An input cursor: every take checks the bytes are there first. */
struct bytecur {
	const unsigned char *p;
	size_t left;
};

/* Points *out at the next n bytes and moves past them; false if fewer remain. */
static inline bool bytecur_take(struct bytecur *c, size_t n, const unsigned char **out)
{
	if (n > c->left)
		return false;
	*out = c->p;
	c->p += n;
	c->left -= n;
	return true;
}

#endif
