/* SPDX-License-Identifier: MIT */
#ifndef SG_TARGET_MEM_H
#define SG_TARGET_MEM_H

/*
 * Reading another process's memory with process_vm_readv, and nothing else:
 * never ptrace, never /proc/PID/mem writes, never a stop. A read either fills
 * the whole buffer or fails; partial reads count as failures so callers never
 * see half-copied structs.
 *
 * Every successful and failed call is counted in struct sg_mem, so the
 * sampler can report how much reading cost and how often it failed.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sg_mem {
	pid_t pid;
	uint64_t reads;  /* calls that succeeded */
	uint64_t faults; /* calls that failed (unmapped, torn, gone) */
};

void sg_mem_init(struct sg_mem *mem, pid_t pid);

/* Copy len bytes at remote address addr into buf. Returns 0, SG_EREAD (address
 * not mapped or short read), SG_EGONE (process gone), SG_EPERM or SG_ENOSYS. */
int sg_mem_read(struct sg_mem *mem, uint64_t addr, void *buf, size_t len);

/* Read one remote pointer-sized word. */
int sg_mem_read_ptr(struct sg_mem *mem, uint64_t addr, uint64_t *out);

/*
 * A page cache over sg_mem for one walk: frames that share a page (3.11+
 * keeps them contiguous in stack chunks) cost one system call together.
 * Clear it before every walk so each sample sees fresh memory. Embedded
 * (~260 KiB); allocate it once, not on the stack.
 */
#define SG_MEMCACHE_PAGE  4096u
#define SG_MEMCACHE_SLOTS 64u
#define SG_MEMCACHE_BLOCK (4u * SG_MEMCACHE_PAGE) /* read on a miss */

struct sg_memcache {
	struct sg_mem *mem;
	uint64_t tags[SG_MEMCACHE_SLOTS]; /* page address | 1 when valid */
	uint64_t touched;                 /* bit per slot: served a read since clear */
	uint8_t pages[SG_MEMCACHE_SLOTS][SG_MEMCACHE_PAGE];
};

void sg_memcache_init(struct sg_memcache *cache, struct sg_mem *mem);
void sg_memcache_clear(struct sg_memcache *cache);

/* Read the n pages (page-aligned addresses) that are not cached yet, in one
 * system call. Pages that could not be read, or that would take the slot
 * of another page of the same call, are left to be read one by one. */
void sg_memcache_prefill_pages(struct sg_memcache *cache, const uint64_t *pages, size_t n);
/* The pages that served reads since the last clear, at most max of them
 * into pages; returns how many. */
size_t sg_memcache_touched(const struct sg_memcache *cache, uint64_t *pages, size_t max);
/* Like sg_mem_read, served from whole pages read once per walk. */
int sg_memcache_read(struct sg_memcache *cache, uint64_t addr, void *buf, size_t len);

#endif
