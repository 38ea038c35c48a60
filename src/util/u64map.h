/* SPDX-License-Identifier: MIT */
#ifndef SG_UTIL_U64MAP_H
#define SG_UTIL_U64MAP_H

/*
 * A hash map from nonzero 64-bit keys to 64-bit values (ids, or pointers
 * cast through uintptr_t), open addressing with linear probing. Used where
 * the sampler looks things up per frame per sample, so lookups allocate
 * nothing and never fail.
 *
 * Key 0 is reserved: it marks empty slots (keys[i] == 0), and put rejects it.
 * Keys that may be 0 (a pid, an index) are stored as key + 1.
 *
 * Ownership: the map owns only its two arrays. Values that are pointers stay
 * owned by the caller, who frees them (walk with sg_u64map_next) before
 * sg_u64map_release. Entries cannot be removed one by one; release the map
 * and start again to forget everything. Not thread-safe.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/hash.h"

struct sg_u64map {
	uint64_t *keys;   /* cap slots, 0 where empty */
	uint64_t *values; /* cap slots, meaningful where keys[i] != 0 */
	size_t cap;       /* a power of two, or 0 before the first put */
	size_t len;       /* keys present; kept under 3/4 of cap */
};

#define SG_U64MAP_INIT                                                                             \
	{                                                                                          \
		NULL, NULL, 0, 0                                                                   \
	}

void sg_u64map_init(struct sg_u64map *m);
/* Free the table; m is left empty and reusable. */
void sg_u64map_release(struct sg_u64map *m);

/* Whether key is present; if so and value is not NULL, *value gets it. */
bool sg_u64map_get(const struct sg_u64map *m, uint64_t key, uint64_t *value);

/* Insert or replace. Returns 0, SG_EUSAGE for key 0, or SG_ENOMEM (the map
 * is then unchanged). */
int sg_u64map_put(struct sg_u64map *m, uint64_t key, uint64_t value);

/* Iterate: start with *pos = 0; each call that returns true stores one
 * entry in *key and *value (either may be NULL) and advances *pos. Order is
 * unspecified; the map must not change during the walk. */
bool sg_u64map_next(const struct sg_u64map *m, size_t *pos, uint64_t *key, uint64_t *value);

#endif
