#include "testutil.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/hash.h"

static int skipped;

void test_skip(const char *fmt, ...)
{
	char why[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (getenv("CI"))
		fail_msg("%s (CI installs what the suite needs: this is a missing set-up step)", why);
	print_message("skipping: %s\n", why);
	skipped = 1;
	skip();
}

const char *test_python(void)
{
	const char *p = getenv("CNN_PYTHON");
	return p && *p ? p : "python3";
}

int test_exit_status(int failures)
{
	return failures ? failures : skipped ? TEST_SKIPPED : 0;
}

char *test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	size_t len = strlen(base) + 32;
	char *path = malloc(len);
	if (!path)
		return NULL;
	snprintf(path, len, "%s/cnntest.XXXXXX", base);
	if (!mkdtemp(path)) {
		free(path);
		return NULL;
	}
	return path;
}

void test_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char path[4096];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		/* a run's eval/ and other subfolders too; a link is removed, never followed */
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			test_rmdir(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

char *test_write_file(const char *dir, const char *name, const void *data, size_t len)
{
	size_t plen = strlen(dir) + strlen(name) + 2;
	char *path = malloc(plen);
	if (!path)
		return NULL;
	snprintf(path, plen, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len) {
		if (f)
			fclose(f);
		free(path);
		return NULL;
	}
	fclose(f);
	return path;
}

char *test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	size_t got;
	while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			char *bigger = realloc(buf, 2 * cap + 1);
			if (!bigger) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	fclose(f);
	if (!buf)
		return NULL;
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

float test_uniform(uint64_t *state, float lo, float hi)
{
	/* splitmix64: good enough for test data, and the same on every machine */
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return lo + (hi - lo) * (float)((double)(z >> 40) / (double)(1ULL << 24));
}

float *test_random_floats(size_t n, uint64_t *state)
{
	float *p = malloc((n ? n : 1) * sizeof(*p));

	if (!p)
		abort();
	for (size_t i = 0; i < n; i++)
		p[i] = test_uniform(state, -1.0f, 1.0f);
	return p;
}

uint64_t test_hash_floats(const float *v, size_t n)
{
	/* Started from 1469598103934665603, not FNV's offset basis (a digit
	 * short): the bits pinned by the tests were computed so. */
	return fnv1a_bytes(UINT64_C(1469598103934665603), v, n * sizeof *v);
}
