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
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

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
	char buf[256];

	(void)state;
	assert_int_equal(sg_proc_alive(getpid()), 0);
	assert_int_equal(sg_proc_alive(4194305), SG_ENOPROC);
	assert_int_equal(sg_proc_cmdline(getpid(), buf, sizeof(buf)), 0);
	assert_memory_equal(buf, self_argv0, strlen(self_argv0));
	assert_true(sg_proc_has_task(getpid(), getpid()));
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_task_state_and_runtime(void **state)
{
	struct sg_task task = SG_TASK_CLOSED;
	struct sg_task_runtime before, after;
	bool running = false;
	uint64_t spent;
	int err;

	(void)state;
	assert_int_equal(sg_task_open(&task, getpid(), 4194305), SG_ENOPROC);
	assert_int_equal(sg_task_running(&task, &running), SG_ENOPROC);
	assert_int_equal(sg_task_open(&task, getpid(), getpid()), 0);
	/* We are running while we ask. */
	assert_int_equal(sg_task_running(&task, &running), 0);
	assert_true(running);
	err = sg_task_runtime(&task, &before);
	if (err == SG_ENOSYS) {
		sg_task_close(&task);
		skip();
	}
	assert_int_equal(err, 0);
	/* Spend 20 ms of CPU: the kernel's count grows by as much, give or take
	 * the scheduler tick it may lag by (at most 10 ms at HZ=100). */
	spent = thread_cpu_ns();
	while (thread_cpu_ns() - spent < 20 * 1000 * 1000)
		;
	assert_int_equal(sg_task_runtime(&task, &after), 0);
	assert_true(after.run_ns - before.run_ns >= 10 * 1000 * 1000);
	assert_true(after.run_ns - before.run_ns <= 100 * 1000 * 1000);
	assert_true(after.runs >= before.runs && before.runs > 0);
	sg_task_close(&task);
	/* The process's CPU time counts what this thread spent, give or take
	 * the kernel's tick-based split into user and system time (seen to
	 * lag by 10-20 ms here; 40 allowed). */
	assert_int_equal(sg_proc_cpu_ns(getpid(), &spent), 0);
	assert_true(spent + 40 * 1000 * 1000 >= thread_cpu_ns());
	assert_true(spent <= thread_cpu_ns() + 40 * 1000 * 1000);
	assert_int_equal(sg_proc_cpu_ns(4194305, &spent), SG_ENOPROC);
	assert_int_equal(task.stat_fd, -1);
	assert_int_equal(sg_task_runtime(&task, &after), SG_ENOPROC);
	sg_task_close(&task);
}

/* A process is followed by identity: once reaped, its pid names nothing we
 * opened, and its start time is the one /proc gives for it. */
static void test_procid_follows_one_process(void **state)
{
	struct sg_procid id;
	uint64_t start = 0;
	pid_t child;
	int status;

	(void)state;
	assert_int_equal(sg_procid_open(&id, getpid()), 0);
	assert_int_equal(sg_proc_start_time(getpid(), &start), 0);
	assert_true(start > 0);
	assert_true(id.start == start);
	assert_int_equal(sg_procid_alive(&id), 0);
	sg_procid_close(&id);
	assert_int_equal(sg_procid_alive(&id), SG_ENOPROC);

	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	assert_int_equal(sg_procid_open(&id, child), 0);
	/* A zombie is not alive, reaped it is not there at all. */
	while (sg_procid_alive(&id) == 0)
		usleep(1000);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(sg_procid_alive(&id), SG_ENOPROC);
	sg_procid_close(&id);
	assert_int_equal(sg_procid_open(&id, 4194305), SG_ENOPROC);
}

/* A child blocked reading an empty pipe: sleeping, in read; gone, ENOPROC. */
static void test_task_waits_in_read(void **state)
{
	char buf[256];
	int fds[2];
	pid_t child;
	long nr = 0;
	char st = '?';
	int status;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		char c;

		close(fds[1]);
		_exit(read(fds[0], &c, 1) == 1 ? 0 : 1);
	}
	/* Until it has got into read(): the machine may be busy (10 s at most). */
	for (int i = 0; i < 1000; i++) {
		if (sg_proc_task_syscall(child, child, &nr) == 0 && nr == 0 &&
		    sg_proc_task_state(child, child, &st) == 0 && st == 'S')
			break;
		usleep(10000);
	}
	assert_int_equal(nr, 0);
	assert_int_equal(st, 'S');
#if defined(__x86_64__)
	assert_string_equal(sg_syscall_name(0), "read");
	assert_string_equal(sg_syscall_name(202), "futex");
	assert_null(sg_syscall_name(100000));
#endif
	assert_int_equal(write(fds[1], "x", 1), 1);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(sg_proc_task_syscall(child, child, &nr), SG_ENOPROC);
	assert_true(sg_proc_describe_error(child, SG_ENOPROC, buf, sizeof(buf)));
	assert_non_null(strstr(buf, "no process with pid"));
	assert_false(sg_proc_describe_error(child, SG_ECORRUPT, buf, sizeof(buf)));
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
	    cmocka_unit_test(test_procid_follows_one_process),
	    cmocka_unit_test(test_task_waits_in_read),
	    cmocka_unit_test(test_task_state_and_runtime),
	};

	(void)argc;
	self_argv0 = argv[0];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
