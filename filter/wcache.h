/* wcache.h — the packed-weights cache: a loaded plan (ops, BN-folded,
 * packed and Winograd-transformed weights) written to one file, and read
 * back memory-mapped so a second load neither reads nor packs the
 * safetensors. Keyed by the weights' SHA-256, the kernel set and the
 * format version, checksummed with xxh3. Internal to filter/ (net.c). */
#ifndef NATADV_WCACHE_H
#define NATADV_WCACHE_H

#include <stddef.h>

#include "filter/net.h"
#include "filter/plan.h"

#define WCACHE_VERSION 2u

/* A mapped cache: unmap with wcache_unmap once the plan is released. */
typedef struct wcache_map {
	void *base;
	size_t len;
	char family[16]; /* net_info's family, by name */
	int anon;        /* base is wcache_to_memory's copy, not the file */
} wcache_map;

/* Writes p and info as the cache of weights sha (64 hex) at path: a temp
 * file beside it, fsynced, renamed over path. 0, or an error code with
 * the cause in why (the caller then runs without a cache). */
int wcache_write(const char *path, const char *sha, const plan *p,
                 const net_info *info, char *why, size_t whylen);
/* Maps path and, when it is a whole, intact cache of weights sha for this
 * CPU's kernels and this format, fills p (plan_init'ed here, weights
 * borrowed from *map) and info. NATADV_ENOTFOUND when there is no file,
 * NATADV_EFORMAT with why when it is stale or damaged, 0 on a hit. */
int wcache_read(const char *path, const char *sha, plan *p, net_info *info,
                wcache_map *map, char *why, size_t whylen);
/* Copies m's weights into one anonymous region of 2 MB-aligned memory,
 * advised for transparent huge pages, points p's ops (read from m) at
 * the copy and unmaps the file: the same bytes on fewer, larger pages.
 * 0 (also when m is already a copy); on error m and p are untouched. */
int wcache_to_memory(wcache_map *m, plan *p, char *why, size_t whylen);
/* Unmaps m; accepts a zeroed one. */
void wcache_unmap(wcache_map *m);

#endif
