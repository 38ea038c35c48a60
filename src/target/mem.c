/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/uio.h>

#include "target/mem.h"
#include "util/err.h"

_Static_assert(SG_MEMCACHE_SLOTS <= 64, "touched is a 64-bit mask of slots");

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

static const uint8_t *cached_page(struct sg_memcache *cache, uint64_t page)
{
	size_t slot = (size_t)(page / SG_MEMCACHE_PAGE) % SG_MEMCACHE_SLOTS;
	uint64_t block = page & ~(uint64_t)(SG_MEMCACHE_BLOCK - 1);

	if (cache->tags[slot] == (page | 1))
		return cache->pages[slot];
	/* Objects a walk follows (frames before 3.11, code objects) were
	 * mostly allocated near one another: take the aligned block around
	 * the page in the same call, and fall back to the page alone where
	 * the block crosses into unmapped memory. */
	if (sg_memcache_prefill(cache, block, SG_MEMCACHE_BLOCK) == 0)
		return cache->pages[slot];
	if (sg_mem_read(cache->mem, page, cache->pages[slot], SG_MEMCACHE_PAGE)) {
		cache->tags[slot] = 0;
		return NULL;
	}
	cache->tags[slot] = page | 1;
	return cache->pages[slot];
}

int sg_memcache_prefill(struct sg_memcache *cache, uint64_t addr, size_t len)
{
	uint64_t first = addr & ~(uint64_t)(SG_MEMCACHE_PAGE - 1);
	uint64_t end = (addr + len + SG_MEMCACHE_PAGE - 1) & ~(uint64_t)(SG_MEMCACHE_PAGE - 1);
	size_t npages = (size_t)((end - first) / SG_MEMCACHE_PAGE);
	struct iovec local[SG_MEMCACHE_SLOTS] = {{0}};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)first,
	                       .iov_len = npages * SG_MEMCACHE_PAGE};
	ssize_t got;

	if (len == 0 || end < first || npages > SG_MEMCACHE_SLOTS || first < 4096)
		return SG_EREAD;
	/* Consecutive pages land in consecutive slots: no two collide. */
	for (size_t i = 0; i < npages; i++) {
		size_t slot = (size_t)(first / SG_MEMCACHE_PAGE + i) % SG_MEMCACHE_SLOTS;

		local[i].iov_base = cache->pages[slot];
		local[i].iov_len = SG_MEMCACHE_PAGE;
		cache->tags[slot] = 0;
	}
	got = process_vm_readv(cache->mem->pid, local, npages, &remote, 1, 0);
	if (got != (ssize_t)remote.iov_len) {
		cache->mem->faults++;
		return SG_EREAD;
	}
	cache->mem->reads++;
	for (size_t i = 0; i < npages; i++) {
		uint64_t page = first + i * SG_MEMCACHE_PAGE;

		cache->tags[(size_t)(page / SG_MEMCACHE_PAGE) % SG_MEMCACHE_SLOTS] = page | 1;
	}
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
		size_t slot = (size_t)(pages[i] / SG_MEMCACHE_PAGE) % SG_MEMCACHE_SLOTS;

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
		cache->touched |= 1ull << ((page / SG_MEMCACHE_PAGE) % SG_MEMCACHE_SLOTS);
		memcpy(out, p + at, n);
		out += n;
		addr += n;
		len -= n;
	}
	return 0;
}
