/* SPDX-License-Identifier: MIT */
/* Holding one thread of a real child: it stops, its registers are where it
 * sleeps, it is let go and runs on, untraced, its sleep unharmed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "target/hold.h"
#include "target/proc.h"
#include "util/err.h"

/* Shared with the child: how many 1 ms sleeps it has finished. */
static volatile uint64_t *naps;

static pid_t start_napper(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct timespec ms = {0, 1000 * 1000};

		/* Bounded: the parent kills it; it ends by itself after 60 s. */
		for (int i = 0; i < 60000; i++) {
			nanosleep(&ms, NULL);
			(*naps)++;
		}
		_exit(0);
	}
	return pid;
}

static uint64_t naps_after(unsigned ms)
{
	struct timespec t = {0, (long)ms * 1000 * 1000};

	nanosleep(&t, NULL);
	return *naps;
}

static void stop_child(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_hold_stops_and_lets_go(void **state)
{
	struct sg_hold h;
	uint64_t regs[SG_HOLD_NREGS], held_ns, before, after;
	char status_line[64];
	pid_t pid = start_napper();
	char path[64];
	FILE *f;

	(void)state;
	assert_true(pid > 0);
	assert_true(naps_after(50) > 0);
	assert_int_equal(sg_hold(pid, pid, &h), 0);
	before = naps_after(0);
	after = naps_after(30);
	/* Still while held: no nap finished (one may have been ending). */
	assert_true(after <= before + 1);
#if defined(__x86_64__)
	assert_int_equal(sg_hold_regs(&h, regs), 0);
	/* sp and ip are set (ip in the child's libc or vdso). */
	assert_true(regs[7] != 0 && regs[8] != 0);
#endif
	sg_release(&h, &held_ns);
	assert_true(held_ns >= 25 * 1000 * 1000ull);
	/* Let go: it naps on, and nobody traces it. */
	before = naps_after(0);
	assert_true(naps_after(100) > before + 10);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	status_line[0] = '\0';
	while (fgets(status_line, sizeof(status_line), f))
		if (strncmp(status_line, "TracerPid:", 10) == 0)
			break;
	fclose(f);
	assert_int_equal(strtol(status_line + 10, NULL, 10), 0);
	stop_child(pid);
}

static void test_hold_gone(void **state)
{
	struct sg_hold h;
	pid_t pid = start_napper();

	(void)state;
	stop_child(pid);
	assert_int_equal(sg_hold(pid, pid, &h), SG_EGONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hold_stops_and_lets_go),
	    cmocka_unit_test(test_hold_gone),
	};

	naps = mmap(NULL, sizeof(*naps), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (naps == MAP_FAILED)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
