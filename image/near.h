/* near.h — grouping 64-bit perceptual hashes that lie within a Hamming
 * distance of each other (near-duplicate images). */
#ifndef NATADV_IMAGE_NEAR_H
#define NATADV_IMAGE_NEAR_H

#include <stddef.h>
#include <stdint.h>

/* Assigns group[i] for each of the n hashes so that hashes within max_dist
 * bits of each other (directly or through a chain) share a group; a group's
 * id is the smallest index in it. Uses the pigeonhole principle (max_dist+1
 * exact-match chunks) instead of comparing all pairs. max_dist is 0..32.
 * Returns 0 or NATADV_ENOMEM / NATADV_EINVAL. */
int img_group_near(const uint64_t *hash, size_t n, int max_dist, size_t *group);

#endif
