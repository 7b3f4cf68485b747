/* validate_bench.c — JPEG validation speed of the two paths of image/: the
 * libjpeg-turbo 1/8-scale pass (img_jpeg_validate_lib) and the entropy walk
 * with libjpeg as fallback (img_jpeg_walk, jpeg_walk.c). Process CPU time,
 * not wall time, so other work on a shared machine distorts it less; each
 * path runs over all files REPS times, alternating, and the best and median
 * passes are reported. Also checks that both paths agree on every file.
 * Build and run: make bench-validate DIRS="/tmp/basephotos /tmp/benchphotos"
 * Usage: build/rel/validate_bench [-r REPS] DIR|FILE... */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "image/jpeg_walk.h"

typedef struct file {
	char *name;
	uint8_t *p;
	size_t len;
} file;

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int add_file(file **fs, size_t *n, size_t *cap, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = malloc(sz > 0 ? (size_t)sz : 1);
	if (!p || (sz > 0 && fread(p, 1, (size_t)sz, f) != (size_t)sz)) {
		fclose(f);
		free(p);
		return -1;
	}
	fclose(f);
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 256;
		file *nf = realloc(*fs, *cap * sizeof **fs);
		if (!nf) {
			free(p);
			return -1;
		}
		*fs = nf;
	}
	(*fs)[*n].name = strdup(path);
	(*fs)[*n].p = p;
	(*fs)[(*n)++].len = (size_t)sz;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const file *)a)->name, ((const file *)b)->name);
}

/* The path img_jpeg_validate takes once the walk is wired in. */
static int walk_path(img_ctx *c, const file *f, const img_info *info, uint64_t *h, char *err,
                     size_t errlen)
{
	img_jpeg_walk_out o;
	if (img_jpeg_walk(c, f->p, f->len, &o) == 0 && o.width == info->width &&
	    o.height == info->height) {
		*h = o.dhash;
		return 0;
	}
	return img_jpeg_validate_lib(c, f->p, f->len, info, h, err, errlen);
}

int main(int argc, char **argv)
{
	int reps = 5, i = 1;
	if (argc > 2 && strcmp(argv[1], "-r") == 0) {
		reps = (int)strtol(argv[2], NULL, 10);
		i = 3;
	}
	if (reps < 1 || reps > 1000 || i >= argc) {
		fprintf(stderr, "usage: validate_bench [-r REPS] DIR|FILE...\n");
		return 2;
	}
	file *fs = NULL;
	size_t n = 0, cap = 0;
	for (; i < argc; i++) {
		struct stat sb;
		if (stat(argv[i], &sb) != 0) {
			fprintf(stderr, "cannot open '%s'\n", argv[i]);
			return 1;
		}
		if (!S_ISDIR(sb.st_mode)) {
			add_file(&fs, &n, &cap, argv[i]);
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		while (d && (e = readdir(d)) != NULL) {
			size_t l = strlen(e->d_name);
			if (l < 5 || (strcmp(e->d_name + l - 4, ".jpg") && strcmp(e->d_name + l - 5, ".jpeg")))
				continue;
			char path[4096];
			snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
			add_file(&fs, &n, &cap, path);
		}
		if (d)
			closedir(d);
	}
	qsort(fs, n, sizeof *fs, by_name);
	img_ctx *c = img_ctx_new();
	img_info *info = calloc(n ? n : 1, sizeof *info);
	int *ok = calloc(n ? n : 1, sizeof *ok);
	if (!c || !info || !ok)
		return 1;
	char err[256];
	size_t bytes = 0, jpegs = 0, walked = 0, bad = 0, prog = 0;
	for (size_t k = 0; k < n; k++) {
		if (img_probe(fs[k].p, fs[k].len, &info[k], err, sizeof err) || info[k].format != IMG_FORMAT_JPEG)
			continue;
		ok[k] = 1;
		jpegs++;
		bytes += fs[k].len;
		prog += info[k].progressive != 0;
		uint64_t h1 = 0;
		int r1 = img_jpeg_validate_lib(c, fs[k].p, fs[k].len, &info[k], &h1, err, sizeof err);
		img_jpeg_walk_out o;
		int r2 = img_jpeg_walk(c, fs[k].p, fs[k].len, &o);
		if (r2 == 0)
			walked++;
		else
			printf("fallback %s: %s\n", fs[k].name, o.why);
		if (r2 == 0 && (r1 != 0 || h1 != o.dhash || o.width != info[k].width ||
		                o.height != info[k].height)) {
			printf("MISMATCH %s: lib rc %d hash %016llx, walk hash %016llx\n", fs[k].name, r1,
			       (unsigned long long)h1, (unsigned long long)o.dhash);
			bad++;
		}
	}
	printf("%zu jpegs (%zu progressive), %.1f MB; walk accepts %zu, disagrees on %zu\n", jpegs,
	       prog, (double)bytes / 1e6, walked, bad);
	double *tl = calloc((size_t)reps, sizeof *tl), *tw = calloc((size_t)reps, sizeof *tw);
	if (!tl || !tw)
		return 1;
	uint64_t sink = 0;
	for (int r = 0; r < reps; r++) {
		for (int pass = 0; pass < 2; pass++) {
			int lib = (pass + r) % 2 == 0;
			double t0 = cpu_now();
			for (size_t k = 0; k < n; k++) {
				if (!ok[k])
					continue;
				uint64_t h = 0;
				if (lib)
					img_jpeg_validate_lib(c, fs[k].p, fs[k].len, &info[k], &h, err, sizeof err);
				else
					walk_path(c, &fs[k], &info[k], &h, err, sizeof err);
				sink += h;
			}
			*(lib ? &tl[r] : &tw[r]) = cpu_now() - t0;
		}
	}
	qsort(tl, (size_t)reps, sizeof *tl, cmp_double);
	qsort(tw, (size_t)reps, sizeof *tw, cmp_double);
	double ml = tl[reps / 2], mw = tw[reps / 2];
	printf("libjpeg-turbo: %7.1f files/s per core (best %7.1f), %6.1f MB/s\n", (double)jpegs / ml,
	       (double)jpegs / tl[0], (double)bytes / 1e6 / ml);
	printf("walk:          %7.1f files/s per core (best %7.1f), %6.1f MB/s\n", (double)jpegs / mw,
	       (double)jpegs / tw[0], (double)bytes / 1e6 / mw);
	printf("speed-up (median): %.2fx  (checksum %llx)\n", ml / mw, (unsigned long long)(sink & 0xff));
	for (size_t k = 0; k < n; k++) {
		free(fs[k].name);
		free(fs[k].p);
	}
	free(fs);
	free(info);
	free(ok);
	free(tl);
	free(tw);
	img_ctx_free(c);
	return bad ? 1 : 0;
}
