/* The little of Protocol Buffers' wire format that writing ONNX needs:
 * varints, fixed 32-bit floats and length-delimited fields. A message is
 * built in a growable buffer; a nested message is built in its own buffer
 * and then appended to its parent as one length-delimited field. */
#ifndef CNN_EXPORT_PROTOBUF_H
#define CNN_EXPORT_PROTOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pb {
	unsigned char *data;
	size_t len, cap;
	bool failed;     /* an allocation failed: every later write is dropped */
};

void pb_free(struct pb *b);
/* field = v as a varint (wire type 0): int32, int64 (two's complement), enums */
void pb_int(struct pb *b, int field, int64_t v);
/* field = f as 4 little-endian bytes (wire type 5) */
void pb_float(struct pb *b, int field, float f);
/* field = n raw bytes (wire type 2): strings, bytes */
void pb_bytes(struct pb *b, int field, const void *p, size_t n);
void pb_string(struct pb *b, int field, const char *s);
/* field = the floats as little-endian bytes (raw_data) */
void pb_floats_raw(struct pb *b, int field, const float *f, size_t n);
/* field = sub, a nested message (wire type 2); frees sub */
void pb_message(struct pb *b, int field, struct pb *sub);

#endif
