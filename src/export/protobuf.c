/* Protocol Buffers wire format (see protobuf.h): each field is a key,
 * (field number << 3) | wire type, as a varint, then its value. */
#include <stdlib.h>
#include <string.h>

#include "export/protobuf.h"

enum { WIRE_VARINT = 0, WIRE_LEN = 2, WIRE_FIXED32 = 5 };

void pb_free(struct pb *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}

static void put(struct pb *b, const void *p, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		unsigned char *d = realloc(b->data, cap);
		if (!d) {
			b->failed = true;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* 7 bits per byte, least significant first; the high bit says "more". */
static void varint(struct pb *b, uint64_t v)
{
	unsigned char buf[10];
	size_t n = 0;
	do {
		buf[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			buf[n] |= 0x80;
		n++;
	} while (v);
	put(b, buf, n);
}

static void key(struct pb *b, int field, int wire)
{
	varint(b, ((uint64_t)field << 3) | (uint64_t)wire);
}

void pb_int(struct pb *b, int field, int64_t v)
{
	key(b, field, WIRE_VARINT);
	varint(b, (uint64_t)v);   /* negative values take ten bytes, as protobuf's int64 */
}

static void le32(unsigned char out[4], float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	for (int i = 0; i < 4; i++)
		out[i] = (unsigned char)(u >> (8 * i));
}

void pb_float(struct pb *b, int field, float f)
{
	unsigned char buf[4];
	key(b, field, WIRE_FIXED32);
	le32(buf, f);
	put(b, buf, sizeof buf);
}

void pb_bytes(struct pb *b, int field, const void *p, size_t n)
{
	key(b, field, WIRE_LEN);
	varint(b, n);
	put(b, p, n);
}

void pb_string(struct pb *b, int field, const char *s)
{
	pb_bytes(b, field, s, strlen(s));
}

void pb_floats_raw(struct pb *b, int field, const float *f, size_t n)
{
	key(b, field, WIRE_LEN);
	varint(b, 4 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned char buf[4];
		le32(buf, f[i]);
		put(b, buf, sizeof buf);
	}
}

void pb_message(struct pb *b, int field, struct pb *sub)
{
	if (sub->failed)
		b->failed = true;
	else
		pb_bytes(b, field, sub->data, sub->len);
	pb_free(sub);
}
