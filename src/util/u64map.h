/* SPDX-License-Identifier: MIT */
#ifndef SG_UTIL_U64MAP_H
#define SG_UTIL_U64MAP_H

/*
 * A hash map from nonzero 64-bit keys to 64-bit values (ids, or pointers
 * cast to uint64_t), open addressing with linear probing. Used where the
 * sampler looks things up per frame per sample, so lookups allocate nothing.
 *
 * Key 0 is reserved (it marks empty slots). The map owns only its table;
 * values that are pointers stay owned by the caller.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sg_u64map {
	uint64_t *keys;
	uint64_t *values;
	size_t cap; /* a power of two, or 0 before the first put */
	size_t len;
};

void sg_u64map_init(struct sg_u64map *m);
void sg_u64map_release(struct sg_u64map *m);

/* Whether key is present; if so and value is not NULL, *value gets it. */
bool sg_u64map_get(const struct sg_u64map *m, uint64_t key, uint64_t *value);

/* Insert or replace. Returns 0, or SG_ENOMEM (the map is then unchanged). */
int sg_u64map_put(struct sg_u64map *m, uint64_t key, uint64_t value);

/* A well-mixed hash of a 64-bit value (splitmix64's finaliser), also handy
 * for combining several fields into one key. */
uint64_t sg_u64_mix(uint64_t x);

#endif
