/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the tracemalloc reader (pytracemalloc.c): the input
 * is a fake target's memory, as in fuzz_pyheap.c. The reader reads this
 * process's own memory through process_vm_readv, as it would a target's, so
 * the input is copied into a buffer here and every word whose top byte is
 * 0x7f becomes a pointer into that buffer (its low 24 bits an offset): the
 * config, trace tables, buckets, entries, traces, tracebacks and file name
 * strings can then point at each other. The buffer starts with the config
 * (16 bytes), then the pointer to the default domain's table and to the
 * domains table. Byte 0 picks the layout (a row of layouts.c, 3.6 to
 * 3.12, or 3.13's from its _Py_DebugOffsets, layout313.h) and, with its
 * top bit, the grouping by traceback. Whatever the bytes, the read must end (every loop
 * bounded) and never crash; what it counts is not checked, but each stat
 * must point into what was read.
 *
 *   make fuzz   (or build-fuzz/fuzz_pytracemalloc tests/fuzz/corpus/pytracemalloc)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layout313.h"
#include "python/pyproc.h"
#include "python/pytracemalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned minors[] = {6, 7, 8, 9, 10, 11, 12};
	struct sg_pyproc pp;
	struct sg_pytm t;
	const struct sg_pylayout *l;
	uint64_t *mem, base, total = 0;
	size_t words;

	if (size < 33)
		return 0;
	l = (data[0] & 0x7f) % 8 == 7 ? fuzz_layout313()
	                              : sg_pylayout_find(3, minors[(data[0] & 0x7f) % 8]);
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
	/* 3.6-3.11 find the state through symbols, 3.12+ in _PyRuntime: both
	 * lead to the config at the buffer's start and the table pointers after
	 * it (3.12's state keeps them further in: those read what is there). */
	pp.tm_config = base;
	pp.tm_traces = base + 16;
	pp.tm_domains = base + 24;
	pp.runtime = base - l->tracemalloc.runtime;
	if (sg_pytm_read(&pp, data[0] & 0x80 ? SG_PYTM_TRACEBACK : SG_PYTM_LINENO, 4096, &t) == 0)
		for (size_t i = 0; i < t.nstats; i++) {
			if (!t.stats[i].nframes || !sg_pytm_file(&t, t.stats[i].frames[0].file))
				abort();
			total += t.stats[i].count;
		}
	if (total > t.traces)
		abort();
	sg_pytm_release(&t);
	free(mem);
	return 0;
}
