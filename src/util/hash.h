/* SPDX-License-Identifier: MIT */
#ifndef SG_UTIL_HASH_H
#define SG_UTIL_HASH_H

/*
 * Non-cryptographic hashes for in-memory tables. Not stable across
 * versions: never store them in files.
 */

#include <stddef.h>
#include <stdint.h>

/* A well-mixed hash of a 64-bit value (splitmix64's finaliser), also handy
 * for combining several fields into one key. Bijective: distinct inputs
 * give distinct outputs, and sg_u64_mix(0) == 0. */
uint64_t sg_u64_mix(uint64_t x);

/* A hash of len bytes at data (data may be NULL when len is 0). Different
 * seeds give independent hashes of the same bytes. */
uint64_t sg_hash_bytes(const void *data, size_t len, uint64_t seed);

#endif
