/* Small helpers shared by the test programs. */
#ifndef CNN_TESTUTIL_H
#define CNN_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* A fresh temporary folder (mkdtemp under $TMPDIR or /tmp); caller frees the string. */
char *test_tmpdir(void);
/* Removes a folder made by test_tmpdir and the plain files in it. */
void test_rmdir(const char *dir);
/* Writes bytes to dir/name; returns the malloc'd full path. */
char *test_write_file(const char *dir, const char *name, const void *data, size_t len);
/* Reads a whole file (NUL-terminated); NULL on failure. */
char *test_read_file(const char *path, size_t *len);
/* Deterministic uniform floats in [lo, hi) from a 64-bit state. */
float test_uniform(uint64_t *state, float lo, float hi);
/* FNV-1a over the bytes of n floats: pins a result's exact bits in a test. */
uint64_t test_hash_floats(const float *v, size_t n);

#endif
