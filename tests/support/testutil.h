/* Small helpers shared by the test programs. */
#ifndef CNN_TESTUTIL_H
#define CNN_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* A fresh temporary folder (mkdtemp under $TMPDIR or /tmp); caller frees the string. */
char *test_tmpdir(void);
/* Removes a folder made by test_tmpdir and everything in it (links are not followed). */
void test_rmdir(const char *dir);
/* Writes bytes to dir/name; returns the malloc'd full path. */
char *test_write_file(const char *dir, const char *name, const void *data, size_t len);
/* Reads a whole file (NUL-terminated); NULL on failure. */
char *test_read_file(const char *path, size_t *len);
/* A test that cannot run here says why and skips; the program's exit status
 * then tells CTest (SKIP_RETURN_CODE, set for every test in
 * tests/CMakeLists.txt), so a skip is never reported as a pass. Under CI
 * (the CI variable set) a skip is a failure instead: CI installs everything
 * the suite needs, so a missing tool there is a missing install step. */
#define TEST_SKIPPED 77
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* main's return: cmocka's failure count, or TEST_SKIPPED when nothing
 * failed and a test skipped. */
int test_exit_status(int failures);

/* The Python that has the test-only packages (numpy, torch, onnx, cv2):
 * $CNN_PYTHON, which tests/CMakeLists.txt sets to Debian's /usr/bin/python3
 * (another python3 first on PATH may lack them); "python3" without it. */
const char *test_python(void);

/* Deterministic uniform floats in [lo, hi) from a 64-bit state. */
float test_uniform(uint64_t *state, float lo, float hi);
/* A malloc'd array of n such floats in [-1, 1) (at least one element, so
 * n = 0 is not NULL); aborts when out of memory. */
float *test_random_floats(size_t n, uint64_t *state);
/* FNV-1a over the bytes of n floats: pins a result's exact bits in a test. */
uint64_t test_hash_floats(const float *v, size_t n);

#endif
