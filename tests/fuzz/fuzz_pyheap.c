/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the heap census (pyheap.c, pydict.c): the input is a
 * fake target's memory. The census reads this process's own memory through
 * process_vm_readv, as it would a target's, so the input is copied into a
 * buffer here and every word whose top byte is 0x7f becomes a pointer into
 * that buffer (its low 24 bits an offset): collector lists, objects, types
 * and dicts can then point at each other. Byte 0 picks the layout (a
 * row of layouts.c, 2.7 to 3.12, or 3.13's from its _Py_DebugOffsets,
 * layout313.h) and, with its top bit, a search for what holds dicts
 * (--referrers).
 * Whatever the bytes, the census must end (every loop bounded) and never
 * crash; what it counts is not checked.
 *
 *   make fuzz   (or build-fuzz/fuzz_pyheap tests/fuzz/corpus/pyheap)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layout313.h"
#include "python/pyheap.h"
#include "python/pyproc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned minors[] = {7, 6, 7, 8, 9, 10, 11, 12};
	struct sg_pyheap_opts opts = {.max_objects = 4096};
	struct sg_pyheap heap;
	struct sg_pyproc pp;
	const struct sg_pylayout *l;
	uint64_t *mem, base, gen0;
	size_t words;

	if (size < 9)
		return 0;
	l = (data[0] & 0x7f) % 9 == 8
	        ? fuzz_layout313()
	        : sg_pylayout_find((data[0] & 0x7f) % 9 == 0 ? 2 : 3, minors[(data[0] & 0x7f) % 9]);
	if (!l)
		abort();
	words = (size - 1) / 8;
	mem = calloc(words, 8);
	if (!mem)
		return 0;
	memcpy(mem, data + 1, words * 8);
	base = (uint64_t)(uintptr_t)mem;
	for (size_t i = 0; i < words; i++)
		if (mem[i] >> 56 == 0x7f)
			mem[i] = base + ((mem[i] & 0xffffff) % (words * 8) & ~7ull);

	memset(&pp, 0, sizeof(pp));
	sg_mem_init(&pp.mem, getpid());
	pp.pid = getpid();
	pp.layout = *l;
	pp.version.major = l->major;
	pp.version.minor = l->minor;
	/* Every way to the collector's lists starts in the buffer. */
	gen0 = base;
	pp.gc_generation0 = (uint64_t)(uintptr_t)&gen0;
	pp.runtime = base;
	pp.interp_head_sym = base;
	if (data[0] & 0x80)
		opts.referrers = "dict";
	sg_pyheap_census(&pp, &opts, &heap);
	sg_pyheap_release(&heap);
	free(mem);
	return 0;
}
