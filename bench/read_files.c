/* bench/predict's floor: reads every file named on the command line the way
 * the cheapest predict would (open relative to the file's folder, kept open
 * while the next file is in the same one; fstat, one read into a reused
 * buffer, close), on THREADS threads each taking a contiguous share, and
 * prints a checksum so that nothing is optimised away. Timed from outside.
 *
 * usage: read_files THREADS FILE... */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct share {
	char **files;
	int n;
	unsigned long sum;
};

static void *reader(void *arg)
{
	struct share *s = arg;
	static __thread unsigned char buf[1 << 16];
	char dir[4096] = "";
	int dir_fd = -1;
	for (int i = 0; i < s->n; i++) {
		const char *path = s->files[i], *slash = strrchr(path, '/');
		size_t len = slash ? (size_t)(slash - path) : 0;
		if (slash && len < sizeof dir && (strncmp(dir, path, len) || dir[len])) {
			if (dir_fd >= 0)
				close(dir_fd);
			memcpy(dir, path, len);
			dir[len] = '\0';
			dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		}
		int fd = slash && dir_fd >= 0 ? openat(dir_fd, slash + 1, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
		                              : open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st)) {
			perror(s->files[i]);
			exit(1);
		}
		ssize_t got = read(fd, buf, sizeof buf);
		close(fd);
		for (ssize_t k = 0; k < got; k++)
			s->sum += buf[k];
	}
	if (dir_fd >= 0)
		close(dir_fd);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3 || atoi(argv[1]) < 1) {
		fprintf(stderr, "usage: read_files THREADS FILE...\n");
		return 2;
	}
	int t = atoi(argv[1]), n = argc - 2;
	struct share s[64];
	pthread_t id[64];
	if (t > 64)
		t = 64;
	for (int k = 0; k < t; k++) {
		int lo = (int)((long)n * k / t), hi = (int)((long)n * (k + 1) / t);
		s[k] = (struct share){ argv + 2 + lo, hi - lo, 0 };
		if (k && pthread_create(&id[k], NULL, reader, &s[k]))
			return 1;
	}
	reader(&s[0]);
	unsigned long sum = s[0].sum;
	for (int k = 1; k < t; k++) {
		pthread_join(id[k], NULL);
		sum += s[k].sum;
	}
	printf("%d files, byte sum %lu\n", n, sum);
	return 0;
}
