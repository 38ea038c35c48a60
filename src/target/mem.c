/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/uio.h>

#include "target/mem.h"
#include "util/err.h"

_Static_assert(SG_MEMCACHE_SLOTS == 64, "touched is a 64-bit mask; slot_of folds 6 bits");

void sg_mem_init(struct sg_mem *mem, pid_t pid)
{
	mem->pid = pid;
	mem->reads = 0;
	mem->faults = 0;
}

int sg_mem_read(struct sg_mem *mem, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {.iov_base = buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
	ssize_t got;

	if (len == 0)
		return 0;
	/* A null or wrapped address is a torn pointer, not worth a syscall. */
	if (addr < 4096 || addr + len < addr) {
		mem->faults++;
		return SG_EREAD;
	}
	got = process_vm_readv(mem->pid, &local, 1, &remote, 1, 0);
	if (got == (ssize_t)len) {
		mem->reads++;
		return 0;
	}
	mem->faults++;
	if (got >= 0)
		return SG_EREAD;
	switch (errno) {
	case ESRCH:
		return SG_EGONE;
	case EPERM:
		return SG_EPERM;
	case ENOSYS:
		return SG_ENOSYS;
	default:
		return SG_EREAD;
	}
}

int sg_mem_read_ptr(struct sg_mem *mem, uint64_t addr, uint64_t *out)
{
	return sg_mem_read(mem, addr, out, sizeof(*out));
}

void sg_memcache_init(struct sg_memcache *cache, struct sg_mem *mem)
{
	cache->mem = mem;
	sg_memcache_clear(cache);
}

void sg_memcache_clear(struct sg_memcache *cache)
{
	memset(cache->tags, 0, sizeof(cache->tags));
	cache->touched = 0;
}

size_t sg_memcache_touched(const struct sg_memcache *cache, uint64_t *pages, size_t max)
{
	size_t n = 0;

	for (size_t slot = 0; slot < SG_MEMCACHE_SLOTS && n < max; slot++)
		if ((cache->touched >> slot & 1) && (cache->tags[slot] & 1))
			pages[n++] = cache->tags[slot] & ~(uint64_t)1;
	return n;
}

/*
 * The slot a page is kept in. Allocators repeat their layout at strides
 * of SLOTS pages and more (pymalloc's arenas are 256 KiB, which is 64
 * pages): a plain modulo put the same pool of every arena in one slot, and
 * a walk over frames from three arenas read one of them afresh each time.
 * The higher bits are folded in; within an aligned group of SLOTS pages
 * this is still a permutation, so an aligned block never collides with
 * itself.
 */
static size_t slot_of(uint64_t page)
{
	uint64_t index = page / SG_MEMCACHE_PAGE;

	return (size_t)((index ^ (index >> 6) ^ (index >> 12) ^ (index >> 18)) % SG_MEMCACHE_SLOTS);
}

static int prefill_block(struct sg_memcache *cache, uint64_t block);

static const uint8_t *cached_page(struct sg_memcache *cache, uint64_t page)
{
	size_t slot = slot_of(page);
	uint64_t block = page & ~(uint64_t)(SG_MEMCACHE_BLOCK - 1);

	if (cache->tags[slot] == (page | 1))
		return cache->pages[slot];
	/* Objects a walk follows (frames before 3.11, code objects) were
	 * mostly allocated near one another: take the aligned block around
	 * the page in the same call, and fall back to the page alone where
	 * the block crosses into unmapped memory. */
	if (prefill_block(cache, block) == 0)
		return cache->pages[slot];
	if (sg_mem_read(cache->mem, page, cache->pages[slot], SG_MEMCACHE_PAGE)) {
		cache->tags[slot] = 0;
		return NULL;
	}
	cache->tags[slot] = page | 1;
	return cache->pages[slot];
}

/* Read the aligned block of SG_MEMCACHE_BLOCK bytes at block in one call. */
static int prefill_block(struct sg_memcache *cache, uint64_t block)
{
	enum { NPAGES = SG_MEMCACHE_BLOCK / SG_MEMCACHE_PAGE };
	struct iovec local[NPAGES];
	struct iovec remote = {.iov_base = (void *)(uintptr_t)block, .iov_len = SG_MEMCACHE_BLOCK};
	ssize_t got;

	if (block < SG_MEMCACHE_PAGE || block + SG_MEMCACHE_BLOCK < block)
		return SG_EREAD;
	for (size_t i = 0; i < NPAGES; i++) {
		size_t slot = slot_of(block + i * SG_MEMCACHE_PAGE);

		local[i] = (struct iovec){cache->pages[slot], SG_MEMCACHE_PAGE};
		cache->tags[slot] = 0;
	}
	got = process_vm_readv(cache->mem->pid, local, NPAGES, &remote, 1, 0);
	if (got != (ssize_t)SG_MEMCACHE_BLOCK) {
		cache->mem->faults++;
		return SG_EREAD;
	}
	cache->mem->reads++;
	for (size_t i = 0; i < NPAGES; i++)
		cache->tags[slot_of(block + i * SG_MEMCACHE_PAGE)] =
		    (block + i * SG_MEMCACHE_PAGE) | 1;
	return 0;
}

void sg_memcache_prefill_pages(struct sg_memcache *cache, const uint64_t *pages, size_t n)
{
	struct iovec local[SG_MEMCACHE_SLOTS], remote[SG_MEMCACHE_SLOTS];
	size_t slots[SG_MEMCACHE_SLOTS];
	bool claimed[SG_MEMCACHE_SLOTS] = {false};
	size_t count = 0;
	ssize_t got;

	for (size_t i = 0; i < n && count < SG_MEMCACHE_SLOTS; i++) {
		size_t slot = slot_of(pages[i]);

		if (pages[i] < SG_MEMCACHE_PAGE || cache->tags[slot] == (pages[i] | 1) ||
		    claimed[slot])
			continue;
		claimed[slot] = true;
		cache->tags[slot] = 0;
		slots[count] = slot;
		local[count] = (struct iovec){cache->pages[slot], SG_MEMCACHE_PAGE};
		remote[count] = (struct iovec){(void *)(uintptr_t)pages[i], SG_MEMCACHE_PAGE};
		count++;
	}
	if (count == 0)
		return;
	/* The kernel copies in order and stops at the first page it cannot
	 * read: the pages before it are good. */
	got = process_vm_readv(cache->mem->pid, local, count, remote, count, 0);
	if (got < 0) {
		cache->mem->faults++;
		return;
	}
	cache->mem->reads++;
	for (size_t i = 0; i < (size_t)got / SG_MEMCACHE_PAGE; i++)
		cache->tags[slots[i]] = (uint64_t)(uintptr_t)remote[i].iov_base | 1;
}

int sg_memcache_read(struct sg_memcache *cache, uint64_t addr, void *buf, size_t len)
{
	uint8_t *out = buf;

	if (addr + len < addr || len > SG_MEMCACHE_PAGE)
		return sg_mem_read(cache->mem, addr, buf, len);
	while (len > 0) {
		uint64_t page = addr & ~(uint64_t)(SG_MEMCACHE_PAGE - 1);
		size_t at = (size_t)(addr - page);
		size_t n = SG_MEMCACHE_PAGE - at < len ? SG_MEMCACHE_PAGE - at : len;
		const uint8_t *p = cached_page(cache, page);

		/* A page that cannot be read whole may still hold the range. */
		if (!p)
			return sg_mem_read(cache->mem, addr, out, len);
		cache->touched |= 1ull << slot_of(page);
		memcpy(out, p + at, n);
		out += n;
		addr += n;
		len -= n;
	}
	return 0;
}
