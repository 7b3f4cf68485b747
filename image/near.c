/* near.c — near-duplicate grouping by perceptual hash. Two hashes within d
 * bits agree exactly on at least one of d+1 disjoint bit chunks, so sorting
 * by each chunk finds every candidate pair without an O(n²) scan. */
#include "image/image.h"

#include <stdlib.h>

#include "common/err.h"

struct keyed {
	uint64_t key;
	size_t idx;
};

static int cmp_keyed(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static size_t find(size_t *parent, size_t i)
{
	while (parent[i] != i) {
		parent[i] = parent[parent[i]];
		i = parent[i];
	}
	return i;
}

static void unite(size_t *parent, size_t a, size_t b)
{
	a = find(parent, a);
	b = find(parent, b);
	if (a < b)
		parent[b] = a;
	else if (b < a)
		parent[a] = b;
}

int img_group_near(const uint64_t *hash, size_t n, int max_dist, size_t *group)
{
	if (max_dist < 0 || max_dist > 32)
		return NATADV_EINVAL;
	struct keyed *k = malloc((n ? n : 1) * sizeof *k);
	if (!k)
		return NATADV_ENOMEM;
	for (size_t i = 0; i < n; i++)
		group[i] = i;
	int chunks = max_dist + 1;
	for (int c = 0; c < chunks; c++) {
		int lo = 64 * c / chunks, hi = 64 * (c + 1) / chunks;
		uint64_t mask = (hi - lo == 64) ? ~0ull : ((1ull << (hi - lo)) - 1) << lo;
		for (size_t i = 0; i < n; i++)
			k[i] = (struct keyed){hash[i] & mask, i};
		qsort(k, n, sizeof *k, cmp_keyed);
		for (size_t s = 0; s < n;) {
			size_t e = s + 1;
			while (e < n && k[e].key == k[s].key)
				e++;
			for (size_t a = s; a < e; a++)
				for (size_t b = a + 1; b < e; b++)
					if (__builtin_popcountll(hash[k[a].idx] ^ hash[k[b].idx]) <= max_dist)
						unite(group, k[a].idx, k[b].idx);
			s = e;
		}
	}
	for (size_t i = 0; i < n; i++)
		group[i] = find(group, i);
	free(k);
	return 0;
}
