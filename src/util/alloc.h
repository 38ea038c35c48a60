/* SPDX-License-Identifier: MIT */
#ifndef SG_UTIL_ALLOC_H
#define SG_UTIL_ALLOC_H

/*
 * Allocation helpers that report failure instead of aborting: a profiler
 * that runs out of memory should say so and keep what it has written.
 */

#include <stddef.h>

/*
 * Make room for at least need elements of elem bytes in the array that
 * arrayp points to (a pointer to any object pointer, e.g. &rows), whose
 * capacity is *cap elements. The capacity at least doubles, so n appends
 * cost O(n) in all. The array may start as NULL with *cap 0.
 *
 * Returns 0, or SG_ENOMEM when out of memory or when need * elem overflows;
 * then the array and *cap are unchanged (and still owned by the caller).
 * Grown memory is uninitialised.
 */
int sg_grow(void *arrayp, size_t *cap, size_t need, size_t elem);

#endif
