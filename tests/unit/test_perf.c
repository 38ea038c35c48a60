/* SPDX-License-Identifier: MIT */
/* perf_events against a real process: a child of ours that spins, then
 * maps a library and starts a thread. The parser is also fed records it
 * must refuse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/wait.h>

#include "target/perf.h"
#include "util/err.h"

static double clock_s(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/* Use seconds of CPU, however long a loaded machine takes to give them. */
static void spin(double seconds)
{
	volatile unsigned long x = 0;
	double end = clock_s(CLOCK_THREAD_CPUTIME_ID) + seconds;

	while (clock_s(CLOCK_THREAD_CPUTIME_ID) < end)
		x++;
}

static void *spinner(void *arg)
{
	(void)arg;
	spin(0.4);
	return NULL;
}

/* The child: spins 0.3 s (we attach meanwhile), loads libBrokenLocale, then spins in
 * a second thread for 0.4 s. */
static pid_t start_child(int *ready)
{
	int fds[2];
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pthread_t t;
		char c;

		close(fds[1]);
		/* Go once the parent has opened its events. */
		if (read(fds[0], &c, 1) != 1)
			_exit(1);
		spin(0.3);
		if (!dlopen("libBrokenLocale.so.1", RTLD_NOW))
			_exit(2);
		pthread_create(&t, NULL, spinner, NULL);
		pthread_join(t, NULL);
		_exit(0);
	}
	close(fds[0]);
	*ready = fds[1];
	return pid;
}

struct seen {
	pid_t pid;
	size_t samples, thread_samples, stacks, resolv_maps;
	pid_t main_tid;
	uint64_t last_time;
	bool ordered;
};

static int on_record(void *ctx, const struct sg_perf_record *r)
{
	struct seen *s = ctx;

	if (r->time_ns < s->last_time)
		s->ordered = false;
	s->last_time = r->time_ns;
	if (r->type == PERF_RECORD_SAMPLE && r->pid == (uint32_t)s->pid) {
		s->samples++;
		s->thread_samples += r->tid != (uint32_t)s->pid;
		s->stacks += r->sample.abi && r->sample.stack_size > 0 && r->sample.nips > 0;
	}
	if (r->type == PERF_RECORD_MMAP2 && strstr(r->mmap.filename, "libBrokenLocale"))
		s->resolv_maps++;
	return 0;
}

static void test_perf_samples_child(void **state)
{
	struct sg_perf_opts opts = {.rate_hz = 1000, .stack_bytes = 8192};
	struct seen s = {.ordered = true};
	struct sg_perf *perf;
	char why[512];
	bool kernel;
	int ready, status;
	double end;

	(void)state;
	s.pid = start_child(&ready);
	assert_int_equal(sg_perf_open(s.pid, &opts, &perf, &kernel, why, sizeof(why)), 0);
	assert_int_equal(write(ready, "g", 1), 1);
	end = now_s() + 60;
	while (waitpid(s.pid, &status, WNOHANG) == 0 && now_s() < end) {
		assert_int_equal(sg_perf_wait(perf, 20), 0);
		assert_int_equal(sg_perf_read(perf, on_record, &s), 0);
	}
	assert_int_equal(sg_perf_read(perf, on_record, &s), 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* 0.7 s of CPU at 1 kHz is 700 samples, whatever the load; a third
	 * leaves room for the child's start and end. */
	assert_true(s.samples > 230);
	/* The thread (created after the events were opened) is covered by
	 * inherit: it spun 0.4 of the 0.7 s. */
	assert_true(s.thread_samples > 100);
	assert_true(s.stacks > s.samples / 2);
	assert_true(s.resolv_maps >= 1);
	assert_true(s.ordered);
	sg_perf_free(perf);
	close(ready);
}

static void test_perf_open_missing_pid(void **state)
{
	struct sg_perf_opts opts = {.rate_hz = 100};
	struct sg_perf *perf;
	char why[512];
	bool kernel;

	(void)state;
	assert_int_equal(sg_perf_open(4194304 - 1, &opts, &perf, &kernel, why, sizeof(why)),
	                 SG_ENOPROC);
	assert_null(perf);
}

static const uint64_t SAMPLE_TYPE = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CALLCHAIN |
                                    PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;

static void test_perf_parse_sample(void **state)
{
	uint64_t mask = 0xf; /* four registers */
	uint64_t rec[32] = {0};
	struct perf_event_header *h = (void *)rec;
	struct sg_perf_record r;
	size_t i = 1;

	(void)state;
	rec[i++] = 7 | (uint64_t)9 << 32; /* pid 7, tid 9 */
	rec[i++] = 12345;                 /* time */
	rec[i++] = 2;                     /* nr */
	rec[i++] = 0x1000;                /* ips */
	rec[i++] = 0x2000;
	rec[i++] = PERF_SAMPLE_REGS_ABI_64; /* abi */
	for (int k = 0; k < 4; k++)
		rec[i++] = 100 + (uint64_t)k; /* regs */
	rec[i++] = 16;                        /* stack size */
	rec[i++] = 0xaaaa;
	rec[i++] = 0xbbbb;
	rec[i++] = 8; /* dyn_size */
	h->type = PERF_RECORD_SAMPLE;
	h->size = (uint16_t)(i * 8);
	assert_int_equal(sg_perf_parse(rec, i * 8, SAMPLE_TYPE, mask, &r), 0);
	assert_int_equal(r.pid, 7);
	assert_int_equal(r.tid, 9);
	assert_int_equal(r.time_ns, 12345);
	assert_int_equal(r.sample.nips, 2);
	assert_int_equal(r.sample.ips[1], 0x2000);
	assert_int_equal(r.sample.nregs, 4);
	assert_int_equal(r.sample.regs[3], 103);
	assert_int_equal(r.sample.stack_size, 8);
	/* Every shorter cut of the same record is refused. */
	for (size_t cut = 8; cut < i * 8; cut += 8) {
		h->size = (uint16_t)cut;
		assert_int_equal(sg_perf_parse(rec, cut, SAMPLE_TYPE, mask, &r), SG_ECORRUPT);
	}
	/* A callchain longer than the record. */
	h->size = (uint16_t)(i * 8);
	rec[3] = 1000;
	assert_int_equal(sg_perf_parse(rec, i * 8, SAMPLE_TYPE, mask, &r), SG_ECORRUPT);
}

static void test_perf_parse_mmap2(void **state)
{
	uint64_t rec[16] = {0};
	struct perf_event_header *h = (void *)rec;
	struct sg_perf_record r;

	(void)state;
	rec[1] = 5 | (uint64_t)5 << 32;
	rec[2] = 0x7f0000000000; /* addr */
	rec[3] = 0x1000;         /* len */
	rec[4] = 0x2000;         /* pgoff */
	rec[8] = 5;              /* prot */
	memcpy(&rec[9], "/lib/x.so\0\0\0\0\0\0", 16);
	rec[11] = 5 | (uint64_t)5 << 32; /* sample_id: tid */
	rec[12] = 999;                   /* and time */
	h->type = PERF_RECORD_MMAP2;
	h->size = 13 * 8;
	assert_int_equal(sg_perf_parse(rec, 13 * 8, SAMPLE_TYPE, 0xf, &r), 0);
	assert_string_equal(r.mmap.filename, "/lib/x.so");
	assert_int_equal(r.mmap.pgoff, 0x2000);
	assert_int_equal(r.time_ns, 999);
	/* A name without its NUL is refused. */
	memset(&rec[9], 'a', 16);
	assert_int_equal(sg_perf_parse(rec, 13 * 8, SAMPLE_TYPE, 0xf, &r), SG_ECORRUPT);
}

/* Off-CPU: samples and SWITCH records carry the event's id (IDENTIFIER,
 * first in a sample, last in a sample id). */
static void test_perf_parse_switch_and_identifier(void **state)
{
	const uint64_t type = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | PERF_SAMPLE_TIME;
	uint64_t rec[8] = {0};
	struct perf_event_header *h = (void *)rec;
	struct sg_perf_record r;

	(void)state;
	rec[1] = 5 | (uint64_t)6 << 32; /* sample id: pid 5, tid 6 */
	rec[2] = 777;                   /* time */
	rec[3] = 42;                    /* identifier */
	h->type = PERF_RECORD_SWITCH;
	h->misc = PERF_RECORD_MISC_SWITCH_OUT | PERF_RECORD_MISC_SWITCH_OUT_PREEMPT;
	h->size = 4 * 8;
	assert_int_equal(sg_perf_parse(rec, 4 * 8, type, 0, &r), 0);
	assert_int_equal(r.type, PERF_RECORD_SWITCH);
	assert_true(r.misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT);
	assert_int_equal(r.tid, 6);
	assert_int_equal(r.time_ns, 777);
	assert_int_equal(r.id, 42);
	h->size = 2 * 8;
	assert_int_equal(sg_perf_parse(rec, 2 * 8, type, 0, &r), SG_ECORRUPT);
	/* A sample: identifier, then tid and time. */
	rec[1] = 43;
	rec[2] = 5 | (uint64_t)6 << 32;
	rec[3] = 888;
	h->type = PERF_RECORD_SAMPLE;
	h->size = 4 * 8;
	assert_int_equal(sg_perf_parse(rec, 4 * 8, type, 0, &r), 0);
	assert_int_equal(r.id, 43);
	assert_int_equal(r.tid, 6);
	assert_int_equal(r.time_ns, 888);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_perf_samples_child),
	    cmocka_unit_test(test_perf_open_missing_pid),
	    cmocka_unit_test(test_perf_parse_sample),
	    cmocka_unit_test(test_perf_parse_mmap2),
	    cmocka_unit_test(test_perf_parse_switch_and_identifier),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
