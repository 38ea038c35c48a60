/* SPDX-License-Identifier: MIT */
/* Target access against a real process: this one, read from outside
 * through the same system calls as any target. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target/maps.h"
#include "target/mem.h"
#include "target/proc.h"
#include "util/err.h"

static char pattern[3 * 4096 + 100];
static const char *self_argv0;

static void test_mem_reads_self(void **state)
{
	struct sg_mem mem;
	char copy[64];
	uint64_t word;

	(void)state;
	sg_mem_init(&mem, getpid());
	memset(pattern, 'x', sizeof(pattern));
	memcpy(pattern + 10, "spyglass", 8);
	assert_int_equal(sg_mem_read(&mem, (uintptr_t)pattern + 10, copy, 8), 0);
	assert_memory_equal(copy, "spyglass", 8);
	assert_int_equal(sg_mem_read_ptr(&mem, (uintptr_t)pattern, &word), 0);
	assert_int_equal(mem.reads, 2);
	/* Unmapped and wrapping addresses fail and are counted. */
	assert_int_equal(sg_mem_read(&mem, 8, copy, 8), SG_EREAD);
	assert_int_equal(sg_mem_read(&mem, UINT64_MAX - 2, copy, 8), SG_EREAD);
	assert_int_equal(mem.faults, 2);
}

static void test_mem_gone(void **state)
{
	struct sg_mem mem;
	char copy[8];

	(void)state;
	/* pid_max is at most 4194304, so this pid cannot exist. */
	sg_mem_init(&mem, 4194305);
	assert_int_equal(sg_mem_read(&mem, (uintptr_t)pattern, copy, 8), SG_EGONE);
}

static void test_memcache_spans_pages(void **state)
{
	struct sg_mem mem;
	struct sg_memcache *cache = malloc(sizeof(*cache));
	char copy[300];
	uint64_t reads;

	(void)state;
	assert_non_null(cache);
	sg_mem_init(&mem, getpid());
	sg_memcache_init(cache, &mem);
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (char)(i * 7);
	/* A read across a page boundary matches the bytes exactly. */
	uintptr_t base = ((uintptr_t)pattern + 4096) & ~(uintptr_t)4095;
	assert_int_equal(sg_memcache_read(cache, base - 150, copy, sizeof(copy)), 0);
	assert_memory_equal(copy, (char *)(base - 150), sizeof(copy));
	/* A second read in the same pages costs no system call. */
	reads = mem.reads;
	assert_int_equal(sg_memcache_read(cache, base - 100, copy, 50), 0);
	assert_int_equal(mem.reads, reads);
	assert_memory_equal(copy, (char *)(base - 100), 50);
	/* After clear, memory is read afresh. */
	((char *)base)[0] = 42;
	sg_memcache_clear(cache);
	assert_int_equal(sg_memcache_read(cache, base, copy, 1), 0);
	assert_int_equal(copy[0], 42);
	assert_true(mem.reads > reads);
	free(cache);
}

/* Pages SG_MEMCACHE_SLOTS pages apart, as the same pool of different
 * pymalloc arenas is, are cached side by side, not in one slot in turn. */
static void test_memcache_arena_strides(void **state)
{
	enum { STRIDE = SG_MEMCACHE_SLOTS * SG_MEMCACHE_PAGE, N = 3 };
	struct sg_mem mem;
	struct sg_memcache *cache = malloc(sizeof(*cache));
	uint8_t *area = aligned_alloc(SG_MEMCACHE_PAGE, N * STRIDE);
	uint64_t pages[N], reads;
	uint8_t byte;

	(void)state;
	assert_non_null(cache);
	assert_non_null(area);
	sg_mem_init(&mem, getpid());
	sg_memcache_init(cache, &mem);
	for (size_t i = 0; i < N; i++) {
		area[i * STRIDE] = (uint8_t)(i + 1);
		pages[i] = (uintptr_t)area + i * STRIDE;
	}
	sg_memcache_prefill_pages(cache, pages, N);
	reads = mem.reads;
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(sg_memcache_read(cache, pages[i], &byte, 1), 0);
		assert_int_equal(byte, i + 1);
	}
	assert_int_equal(mem.reads, reads);
	free(area);
	free(cache);
}

static void test_maps_find_self(void **state)
{
	struct sg_maps maps;
	char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const struct sg_map *m;

	(void)state;
	assert_true(n > 0);
	exe[n] = '\0';
	assert_int_equal(sg_maps_read(getpid(), &maps), 0);
	assert_true(maps.n > 5);
	m = sg_maps_find_file_offset(&maps, exe, 0);
	assert_non_null(m);
	assert_true(m->start < m->end);
	/* This function's code lies in a mapping of our executable. */
	uintptr_t here = (uintptr_t)test_maps_find_self;
	int found = 0;
	for (size_t i = 0; i < maps.n; i++)
		if (here >= maps.maps[i].start && here < maps.maps[i].end)
			found = strcmp(maps.maps[i].path, exe) == 0 && maps.maps[i].perms[2] == 'x';
	assert_true(found);
	sg_maps_release(&maps);
	assert_int_equal(sg_maps_read(4194305, &maps), SG_ENOPROC);
	sg_maps_release(&maps);
}

static void test_proc_facts(void **state)
{
	struct sg_taskstat ts;
	char buf[256];
	bool running = false;

	(void)state;
	assert_int_equal(sg_proc_alive(getpid()), 0);
	assert_int_equal(sg_proc_alive(4194305), SG_ENOPROC);
	assert_int_equal(sg_proc_cmdline(getpid(), buf, sizeof(buf)), 0);
	assert_memory_equal(buf, self_argv0, strlen(self_argv0));
	assert_true(sg_proc_has_task(getpid(), getpid()));
	sg_taskstat_init(&ts, getpid());
	/* We are running while we ask. */
	assert_int_equal(sg_taskstat_running(&ts, getpid(), &running), 0);
	assert_true(running);
	assert_int_equal(sg_taskstat_running(&ts, getpid(), &running), 0);
	assert_int_equal(ts.n, 1);
	assert_int_equal(sg_taskstat_running(&ts, 4194305, &running), SG_ENOPROC);
	sg_taskstat_release(&ts);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mem_reads_self),
	    cmocka_unit_test(test_mem_gone),
	    cmocka_unit_test(test_memcache_spans_pages),
	    cmocka_unit_test(test_memcache_arena_strides),
	    cmocka_unit_test(test_maps_find_self),
	    cmocka_unit_test(test_proc_facts),
	};

	(void)argc;
	self_argv0 = argv[0];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
