/* image_bench.c — validation throughput of img_validate (probe, decode
 * check and dHash; JPEG and PNG) over a set of files, in images/s and
 * megapixels/s of wall time, looping for at least SECONDS (0.5). Moved here
 * from tests/unit/test_image.c, where it was a benchmark run as a test.
 * Usage: build/rel/image_bench [-t SECONDS] DIR|FILE... (a folder: its
 * *.jpg and *.png files; those that do not validate, such as the damaged
 * fixtures, are named and left out). Exits 1 when a file cannot be read or
 * none validates. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/buf.h"
#include "image/image.h"

typedef struct file {
	char *path;
	char *p;
	size_t len;
} file;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int add(file **fs, size_t *n, const char *path)
{
	buf b;
	char err[256];
	buf_init(&b, (size_t)1 << 30);
	if (buf_read_file(&b, path, err, sizeof err) != 0 || b.len == 0) {
		fprintf(stderr, "image_bench: cannot read '%s'\n", path);
		buf_release(&b);
		return 1;
	}
	file *g = realloc(*fs, (*n + 1) * sizeof **fs);
	if (!g) {
		buf_release(&b);
		return 1;
	}
	*fs = g;
	g[*n].path = strdup(path);
	g[*n].p = b.data;
	g[*n].len = b.len;
	(*n)++;
	return 0;
}

static int add_path(file **fs, size_t *n, const char *path)
{
	struct stat sb;
	if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return add(fs, n, path);
	DIR *d = opendir(path);
	struct dirent *e;
	int bad = 0;
	while (d && (e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 5 || (strcmp(e->d_name + l - 4, ".jpg") && strcmp(e->d_name + l - 4, ".png")))
			continue;
		char p[4096];
		snprintf(p, sizeof p, "%s/%s", path, e->d_name);
		bad |= add(fs, n, p);
	}
	if (d)
		closedir(d);
	return bad || !d;
}

int main(int argc, char **argv)
{
	double seconds = 0.5;
	int i = 1, bad = 0;
	if (argc > 2 && strcmp(argv[1], "-t") == 0) {
		seconds = strtod(argv[2], NULL);
		i = 3;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: image_bench [-t SECONDS] DIR|FILE...\n");
		return 2;
	}
	file *fs = NULL;
	size_t n = 0;
	for (; i < argc; i++)
		bad |= add_path(&fs, &n, argv[i]);
	img_ctx *c = img_ctx_new();
	size_t kept = 0;
	for (size_t k = 0; c && k < n; k++) {
		char err[256];
		if (img_validate(c, (const uint8_t *)fs[k].p, fs[k].len, NULL, NULL, NULL, err, sizeof err)) {
			fprintf(stderr, "image_bench: '%s' left out: %s\n", fs[k].path, err);
			free(fs[k].path);
			free(fs[k].p);
			continue;
		}
		fs[kept++] = fs[k];
	}
	n = kept;
	if (!c || n == 0) {
		fprintf(stderr, "image_bench: no image to validate\n");
		return 1;
	}
	long images = 0;
	double t0 = now(), mp = 0;
	while (!bad && now() - t0 < seconds) {
		for (size_t k = 0; k < n; k++) {
			char err[256];
			img_info info;
			if (img_validate(c, (const uint8_t *)fs[k].p, fs[k].len, NULL, &info, NULL, err,
			                 sizeof err) != 0) {
				fprintf(stderr, "image_bench: '%s' does not validate: %s\n", fs[k].path, err);
				bad = 1;
				break;
			}
			mp += (double)info.width * info.height / 1e6;
			images++;
		}
	}
	double dt = now() - t0;
	if (!bad)
		printf("validate: %.0f images/s, %.0f MP/s over %zu files\n", images / dt, mp / dt, n);
	img_ctx_free(c);
	for (size_t k = 0; k < n; k++) {
		free(fs[k].path);
		free(fs[k].p);
	}
	free(fs);
	return bad;
}
