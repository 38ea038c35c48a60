/* SPDX-License-Identifier: MIT */
/*
 * A native link in an exec chain, for test_exec_handover.py: it spends
 * SECONDS (argv[1]) of its own CPU in burn, then execs PROGRAM with its
 * arguments (argv[2] on), as a wrapper that starts a Python program does.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile uint64_t sink;

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Its own CPU, not wall time: the samples it gets do not depend on the
 * machine's load. noinline, so that it is a frame of its own. */
__attribute__((noinline)) void burn(uint64_t ns)
{
	uint64_t t0 = cpu_ns();

	do {
		for (int i = 0; i < 10000; i++)
			sink += (uint64_t)i * i;
	} while (cpu_ns() - t0 < ns);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fputs("usage: exec_after SECONDS PROGRAM [ARGS...]\n", stderr);
		return 2;
	}
	burn((uint64_t)(atof(argv[1]) * 1e9));
	execv(argv[2], argv + 2);
	perror(argv[2]);
	return 127;
}
