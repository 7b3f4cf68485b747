/* cmd_dups.c — `natadv dups [--max-distance N]`: groups of near-duplicate
 * images by perceptual hash (dHash), largest groups first. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "image/image.h"

struct img_row {
	char hash[33];
	uint64_t phash;
	int width, height;
	int64_t bytes;
};

struct collect {
	struct img_row *rows;
	size_t n, cap;
	int oom;
};

static void collect_image(void *ctx, const store_image *img)
{
	struct collect *x = ctx;
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 1024;
		struct img_row *r = realloc(x->rows, cap * sizeof *r);
		if (!r) {
			x->oom = 1;
			return;
		}
		x->rows = r;
		x->cap = cap;
	}
	struct img_row *r = &x->rows[x->n++];
	snprintf(r->hash, sizeof r->hash, "%s", img->hash);
	r->phash = img->phash;
	r->width = img->width;
	r->height = img->height;
	r->bytes = img->bytes;
}

struct member {
	size_t group, idx, size;
};

static int cmp_member(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int cmd_dups(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"max-distance", required_argument, 0, 'd'},
	                                     {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	long long maxd = 6;
	int ch;
	while ((ch = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			if (cli_parse_int("dups", "--max-distance", optarg, 0, 32, &maxd))
				return EXIT_USAGE;
			break;
		case 'h':
			printf("usage: natadv dups [--max-distance N]\n\n"
			       "Lists groups of stored images whose 64-bit perceptual hashes (dHash) differ\n"
			       "in at most N bits (default 6), largest groups first. Each line: group number,\n"
			       "image hash, Hamming distance to the group's first image, size and bytes.\n");
			return EXIT_OK;
		default: return cli_usage("dups", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage("dups", "unexpected argument '%s'", argv[optind]);
	struct collect x = {0};
	int rc = store_images_each(c->st, collect_image, &x);
	if (rc || x.oom) {
		cli_error("%s", x.oom ? "out of memory" : store_errmsg(c->st));
		free(x.rows);
		return EXIT_FAIL;
	}
	uint64_t *h = malloc((x.n ? x.n : 1) * sizeof *h);
	size_t *g = malloc((x.n ? x.n : 1) * sizeof *g);
	size_t *size = calloc(x.n ? x.n : 1, sizeof *size);
	struct member *m = malloc((x.n ? x.n : 1) * sizeof *m);
	int status = EXIT_OK;
	if (!h || !g || !size || !m) {
		cli_error("out of memory");
		status = EXIT_FAIL;
		goto out;
	}
	for (size_t i = 0; i < x.n; i++)
		h[i] = x.rows[i].phash;
	if (img_group_near(h, x.n, (int)maxd, g) != 0) {
		cli_error("out of memory");
		status = EXIT_FAIL;
		goto out;
	}
	for (size_t i = 0; i < x.n; i++)
		size[g[i]]++;
	size_t nm = 0, groups = 0;
	for (size_t i = 0; i < x.n; i++) {
		if (size[g[i]] > 1)
			m[nm++] = (struct member){g[i], i, size[g[i]]};
	}
	qsort(m, nm, sizeof *m, cmp_member);
	for (size_t i = 0; i < nm; i++) {
		if (i == 0 || m[i].group != m[i - 1].group)
			groups++;
		const struct img_row *r = &x.rows[m[i].idx];
		int d = __builtin_popcountll(r->phash ^ x.rows[m[i].group].phash);
		printf("%zu\t%s\t%d\t%dx%d\t%lld\n", groups, r->hash, d, r->width, r->height, (long long)r->bytes);
	}
	if (!c->quiet) {
		char a[32], b[32];
		fprintf(stderr, "natadv: %s groups of near-duplicates (%zu images) among %s images, max distance %lld\n",
		        cli_num((int64_t)groups, a), nm, cli_num((int64_t)x.n, b), maxd);
	}
out:
	free(h);
	free(g);
	free(size);
	free(m);
	free(x.rows);
	return status;
}
