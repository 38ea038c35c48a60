/* SPDX-License-Identifier: MIT */
#ifndef SG_UTIL_INTERN_H
#define SG_UTIL_INTERN_H

/*
 * An interning table: a hash map keyed by byte strings that gives each
 * distinct key a dense id (0, 1, 2, ... in order of first put) and keeps one
 * copy of its bytes. The profile interns strings, frames, stacks and sample
 * keys with it, so equal things are stored once and compared by id.
 *
 * Stored copies start at 8-byte-aligned offsets and are each followed by a
 * NUL byte, so a copy may be read back as a C string (when the key holds no
 * NUL) or as an array of any type of alignment 8 or less that was put.
 * Ids are stable; pointers from sg_intern_get stay valid until the next put
 * (the storage may move). The table owns the copies. Not thread-safe.
 */

#include <stddef.h>
#include <stdint.h>

struct sg_intern_entry {
	size_t at;  /* offset of the copy in bytes */
	size_t len; /* of the key, without the NUL */
	uint64_t hash;
};

struct sg_intern {
	unsigned char *bytes; /* every copy, back to back */
	size_t bytes_len, bytes_cap;
	struct sg_intern_entry *entries; /* id -> entry */
	size_t n, entries_cap;
	uint32_t *slots; /* open addressing: id + 1, or 0 when empty */
	size_t nslots;   /* a power of two, or 0 before the first put */
	size_t budget;   /* sg_intern_set_budget's bytes; 0: none */
};

#define SG_INTERN_INIT                                                                             \
	{                                                                                          \
		NULL, 0, 0, NULL, 0, 0, NULL, 0, 0                                                 \
	}

void sg_intern_init(struct sg_intern *t);
/* Free everything; t is left empty and reusable. */
void sg_intern_release(struct sg_intern *t);

/* The id of the len bytes at data (data may be NULL when len is 0), adding a
 * copy when they are new; a new key's id equals sg_intern_count() before the
 * call. Returns 0, SG_EFULL (a new key past the budget), or SG_ENOMEM (the
 * table is then unchanged; also when it already holds UINT32_MAX - 1 keys,
 * so ids always fit below UINT32_MAX). */
int sg_intern_put(struct sg_intern *t, const void *data, size_t len, uint32_t *id);

/* Bound the table: a new key that would bring its copies, entries and
 * slots past bytes (as used; allocations may reach twice that) is refused
 * with SG_EFULL, while keys already in it are still found. 0: no bound. */
void sg_intern_set_budget(struct sg_intern *t, size_t bytes);

/* The stored copy of id (borrowed, aligned to 8, NUL-follows), with its
 * length in *len when len is not NULL. id must be below sg_intern_count(). */
const void *sg_intern_get(const struct sg_intern *t, uint32_t id, size_t *len);

/* How many distinct keys the table holds. */
size_t sg_intern_count(const struct sg_intern *t);

#endif
