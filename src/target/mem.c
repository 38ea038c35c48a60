/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "target/mem.h"
#include "util/err.h"
#include "util/u64map.h"

#define SNAP_PAGE  4096u
#define SNAP_PAGES (SG_MEMSNAP_CHUNK / SNAP_PAGE)

struct snapchunk {
	uint8_t *bytes; /* SG_MEMSNAP_CHUNK of them */
	uint16_t valid; /* bit per page: copied */
};

struct sg_memsnap {
	struct sg_u64map index; /* chunk address -> index in chunks + 1 */
	struct snapchunk *chunks;
	size_t n, cap, max;
};

_Static_assert(SNAP_PAGES == 16, "valid is a 16-bit mask of pages");

_Static_assert(SG_MEMCACHE_SLOTS == 64, "touched is a 64-bit mask of slots");

void sg_mem_init(struct sg_mem *mem, pid_t pid)
{
	mem->pid = pid;
	mem->reads = 0;
	mem->faults = 0;
	mem->snap = NULL;
}

static int read_error(int err)
{
	switch (err) {
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

static int direct_read(struct sg_mem *mem, uint64_t addr, void *buf, size_t len);

int sg_mem_snapshot_begin(struct sg_mem *mem, size_t max_bytes)
{
	struct sg_memsnap *snap = calloc(1, sizeof(*snap));

	if (!snap)
		return SG_ENOMEM;
	sg_u64map_init(&snap->index);
	snap->max = max_bytes / SG_MEMSNAP_CHUNK;
	sg_mem_snapshot_end(mem);
	mem->snap = snap;
	return 0;
}

void sg_mem_snapshot_end(struct sg_mem *mem)
{
	struct sg_memsnap *snap = mem->snap;

	if (!snap)
		return;
	for (size_t i = 0; i < snap->n; i++)
		free(snap->chunks[i].bytes);
	free(snap->chunks);
	sg_u64map_release(&snap->index);
	free(snap);
	mem->snap = NULL;
}

/* The copy of the chunk at base, made now if it is not yet; NULL when no
 * more may be kept (or memory is short). *err is SG_EGONE once the target
 * is gone. */
static struct snapchunk *snap_chunk(struct sg_mem *mem, uint64_t base, int *err)
{
	struct sg_memsnap *snap = mem->snap;
	struct snapchunk *c;
	uint64_t at;

	*err = 0;
	if (sg_u64map_get(&snap->index, base, &at))
		return &snap->chunks[at - 1];
	if (snap->n >= snap->max)
		return NULL;
	if (snap->n == snap->cap) {
		size_t cap = snap->cap ? 2 * snap->cap : 256;
		struct snapchunk *v = realloc(snap->chunks, cap * sizeof(*v));

		if (!v)
			return NULL;
		snap->chunks = v;
		snap->cap = cap;
	}
	c = &snap->chunks[snap->n];
	c->valid = 0;
	if (!(c->bytes = malloc(SG_MEMSNAP_CHUNK)))
		return NULL;
	if (sg_u64map_put(&snap->index, base, snap->n + 1)) {
		free(c->bytes);
		return NULL;
	}
	snap->n++;
	*err = direct_read(mem, base, c->bytes, SG_MEMSNAP_CHUNK);
	if (*err == 0) {
		c->valid = 0xffff;
		return c;
	}
	/* Part of the chunk is not mapped: its pages one by one. */
	for (unsigned p = 0; p < SNAP_PAGES && *err != SG_EGONE; p++) {
		*err = direct_read(mem, base + p * SNAP_PAGE, c->bytes + p * SNAP_PAGE, SNAP_PAGE);
		if (*err == 0)
			c->valid |= (uint16_t)(1u << p);
	}
	if (*err != SG_EGONE)
		*err = 0;
	return c;
}

/* A read served from the snapshot; 1 when it could not be (no room). */
static int snap_read(struct sg_mem *mem, uint64_t addr, void *buf, size_t len)
{
	uint8_t *out = buf;

	while (len) {
		uint64_t base = addr & ~(uint64_t)(SG_MEMSNAP_CHUNK - 1), off = addr - base;
		size_t n = len < SG_MEMSNAP_CHUNK - off ? len : (size_t)(SG_MEMSNAP_CHUNK - off);
		unsigned first = (unsigned)(off / SNAP_PAGE),
		         last = (unsigned)((off + n - 1) / SNAP_PAGE);
		uint16_t need = (uint16_t)(((1u << (last + 1)) - 1) & ~((1u << first) - 1));
		int err;
		struct snapchunk *c = snap_chunk(mem, base, &err);

		if (err)
			return err;
		if (!c)
			return 1;
		if ((c->valid & need) != need) {
			mem->faults++;
			return SG_EREAD;
		}
		memcpy(out, c->bytes + off, n);
		out += n, addr += n, len -= n;
	}
	return 0;
}

int sg_mem_read(struct sg_mem *mem, uint64_t addr, void *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (mem->snap && addr >= 4096 && addr + len >= addr) {
		int err = snap_read(mem, addr, buf, len);

		if (err != 1)
			return err;
	}
	return direct_read(mem, addr, buf, len);
}

int sg_mem_read_fresh(struct sg_mem *mem, uint64_t addr, void *buf, size_t len)
{
	return direct_read(mem, addr, buf, len);
}

static int direct_read(struct sg_mem *mem, uint64_t addr, void *buf, size_t len)
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
	return got >= 0 ? SG_EREAD : read_error(errno);
}

int sg_mem_read_words(struct sg_mem *mem, const uint64_t *addrs, uint64_t *out, size_t n)
{
	enum { BATCH = 64 };
	struct iovec local[BATCH], remote[BATCH];

	if (mem->snap) {
		for (size_t i = 0; i < n; i++) {
			int err = sg_mem_read(mem, addrs[i], &out[i], sizeof(*out));

			if (err)
				return err;
		}
		return 0;
	}

	for (size_t done = 0; done < n;) {
		size_t count = n - done < BATCH ? n - done : BATCH;
		ssize_t got;

		for (size_t i = 0; i < count; i++) {
			if (addrs[done + i] < 4096 || addrs[done + i] + 8 < addrs[done + i]) {
				mem->faults++;
				return SG_EREAD;
			}
			local[i] = (struct iovec){&out[done + i], sizeof(*out)};
			remote[i] =
			    (struct iovec){(void *)(uintptr_t)addrs[done + i], sizeof(*out)};
		}
		got = process_vm_readv(mem->pid, local, count, remote, count, 0);
		if (got != (ssize_t)(count * sizeof(*out))) {
			mem->faults++;
			return got >= 0 ? SG_EREAD : read_error(errno);
		}
		mem->reads++;
		done += count;
	}
	return 0;
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
 * Where a page may be kept: WAYS slots of one set. Allocators repeat their
 * layout at strides of many pages (pymalloc's arenas are 256 KiB, 64
 * pages), so the set folds the higher bits of the page number in; within
 * an aligned group of SETS pages it is still a permutation, so the pages
 * of an aligned block land in distinct sets. With one slot per page (a
 * direct-mapped cache) a dozen scattered pages already collided more often
 * than not, and the loser was read again on its own every walk.
 */
#define WAYS 4u
#define SETS (SG_MEMCACHE_SLOTS / WAYS)

static size_t set_of(uint64_t page)
{
	uint64_t index = page / SG_MEMCACHE_PAGE;

	return (size_t)((index ^ (index >> 4) ^ (index >> 8) ^ (index >> 12) ^ (index >> 16)) %
	                SETS) *
	       WAYS;
}

/* The slot holding page (tagged page | 1), or, with pending, the one it
 * is being read into (tagged page), or -1. */
static int find_slot(const struct sg_memcache *cache, uint64_t page, bool pending)
{
	size_t set = set_of(page);

	for (size_t way = 0; way < WAYS; way++) {
		uint64_t tag = cache->tags[set + way];

		if (tag == (page | 1) || (pending && tag == page))
			return (int)(set + way);
	}
	return -1;
}

/* A slot of page's set to read page into, tagged pending: an empty one if
 * there is one, else one not taken by the same call (busy), or -1. */
static int claim_slot(struct sg_memcache *cache, uint64_t page, const bool *busy)
{
	size_t set = set_of(page);
	int victim = -1;

	for (size_t way = 0; way < WAYS; way++) {
		size_t slot = set + way;

		if (busy[slot])
			continue;
		if (!(cache->tags[slot] & 1)) {
			victim = (int)slot;
			break;
		}
		if (victim < 0)
			victim = (int)slot;
	}
	if (victim >= 0) {
		cache->tags[victim] = page;
		cache->touched &= ~(1ull << victim);
	}
	return victim;
}

/*
 * Read those of the n pages that are not cached yet in one system call, up
 * to SG_MEMCACHE_SLOTS of them. The kernel copies in order and stops at
 * the first page it cannot read: the pages before it are good. Returns
 * how many were asked for; *got, how many came.
 */
static size_t read_pages(struct sg_memcache *cache, const uint64_t *pages, size_t n, size_t *got)
{
	struct iovec local[SG_MEMCACHE_SLOTS], remote[SG_MEMCACHE_SLOTS];
	int slots[SG_MEMCACHE_SLOTS];
	bool busy[SG_MEMCACHE_SLOTS] = {false};
	size_t count = 0;
	ssize_t copied;

	*got = 0;
	for (size_t i = 0; i < n && count < SG_MEMCACHE_SLOTS; i++) {
		int slot;

		if (pages[i] < SG_MEMCACHE_PAGE || find_slot(cache, pages[i], true) >= 0)
			continue;
		slot = claim_slot(cache, pages[i], busy);
		if (slot < 0)
			continue;
		busy[slot] = true;
		slots[count] = slot;
		local[count] = (struct iovec){cache->pages[slot], SG_MEMCACHE_PAGE};
		remote[count] = (struct iovec){(void *)(uintptr_t)pages[i], SG_MEMCACHE_PAGE};
		count++;
	}
	if (count == 0)
		return 0;
	copied = process_vm_readv(cache->mem->pid, local, count, remote, count, 0);
	if (copied < 0)
		cache->mem->faults++;
	else
		cache->mem->reads++;
	*got = copied < 0 ? 0 : (size_t)copied / SG_MEMCACHE_PAGE;
	for (size_t i = 0; i < count; i++)
		cache->tags[slots[i]] = i < *got ? (uint64_t)(uintptr_t)remote[i].iov_base | 1 : 0;
	return count;
}

void sg_memcache_prefill_pages(struct sg_memcache *cache, const uint64_t *pages, size_t n)
{
	size_t got;

	read_pages(cache, pages, n, &got);
}

static const uint8_t *cached_page(struct sg_memcache *cache, uint64_t page)
{
	enum { NPAGES = SG_MEMCACHE_BLOCK / SG_MEMCACHE_PAGE };
	uint64_t block = page & ~(uint64_t)(SG_MEMCACHE_BLOCK - 1), pages[NPAGES];
	int slot = find_slot(cache, page, false);
	size_t got;

	if (slot >= 0)
		return cache->pages[slot];
	/* Objects a walk follows (frames before 3.11, code objects) were
	 * mostly allocated near one another: take the aligned block around
	 * the page in the same call, and the page alone where the block
	 * crosses into unmapped memory. */
	for (size_t i = 0; i < NPAGES; i++)
		pages[i] = block + i * SG_MEMCACHE_PAGE;
	if (read_pages(cache, pages, NPAGES, &got) > got)
		read_pages(cache, &page, 1, &got);
	slot = find_slot(cache, page, false);
	return slot >= 0 ? cache->pages[slot] : NULL;
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
		cache->touched |= 1ull << (size_t)(p - cache->pages[0]) / SG_MEMCACHE_PAGE;
		memcpy(out, p + at, n);
		out += n;
		addr += n;
		len -= n;
	}
	return 0;
}
