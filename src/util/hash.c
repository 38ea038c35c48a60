/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "util/hash.h"

uint64_t sg_u64_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

uint64_t sg_hash_bytes(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *b = data;
	uint64_t h = sg_u64_mix(seed + 0x9e3779b97f4a7c15ull) ^ len, w;

	/* A word at a time: stacks are arrays of ids hundreds of bytes long. */
	for (; len >= 8; b += 8, len -= 8) {
		memcpy(&w, b, 8);
		h = (h ^ sg_u64_mix(w)) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	w = 0;
	if (len)
		memcpy(&w, b, len);
	return sg_u64_mix(h ^ w ^ (uint64_t)len << 56);
}
