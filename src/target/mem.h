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

struct sg_memsnap;

struct sg_mem {
	pid_t pid;
	uint64_t reads;          /* calls that succeeded */
	uint64_t faults;         /* calls that failed (unmapped, torn, gone) */
	struct sg_memsnap *snap; /* NULL, or where reads are served from */
};

void sg_mem_init(struct sg_mem *mem, pid_t pid);

/*
 * Serve mem's reads, until sg_mem_snapshot_end, from aligned chunks of
 * SG_MEMSNAP_CHUNK bytes, each copied from the target in one call the
 * first time a read touches it: a walk of a million scattered objects then
 * costs a few thousand calls, and sees each chunk as it was at one moment
 * (not the whole memory: chunks are copied as they are first needed). Pages
 * that could not be read fail as sg_mem_read would. At most max_bytes are
 * kept; reads beyond go to the target. 0 or SG_ENOMEM. Not for sampling:
 * what is copied is never read again.
 */
#define SG_MEMSNAP_CHUNK (64u * 1024)
int sg_mem_snapshot_begin(struct sg_mem *mem, size_t max_bytes);
/* Free the copies; reads go to the target again. */
void sg_mem_snapshot_end(struct sg_mem *mem);

/* Copy len bytes at remote address addr into buf. Returns 0, SG_EREAD (address
 * not mapped or short read), SG_EGONE (process gone), SG_EPERM or SG_ENOSYS. */
int sg_mem_read(struct sg_mem *mem, uint64_t addr, void *buf, size_t len);

/* Like sg_mem_read, but from the target itself even while a snapshot
 * serves the other reads: for a reader that finds a copy torn (copied
 * before the memory that points at it) and wants the memory as it is now. */
int sg_mem_read_fresh(struct sg_mem *mem, uint64_t addr, void *buf, size_t len);

/* Read the 8-byte words at n scattered addresses into out, in one system
 * call per 64: all of them, or an error as sg_mem_read. */
int sg_mem_read_words(struct sg_mem *mem, const uint64_t *addrs, uint64_t *out, size_t n);

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
