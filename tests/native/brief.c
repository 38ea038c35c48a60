/* SPDX-License-Identifier: MIT */
/*
 * A short-lived native program, for test_native.py: it spends MS
 * milliseconds (argv[1]) of its own CPU in brief_work and exits, so a
 * profile of it shows whether the first milliseconds of a launched program
 * are sampled. With CHILDREN (argv[2]) it then forks that many children one
 * after another, each spending MS of its CPU in child_work; it writes, as
 * JSON to $SPYGLASS_TRUTH, the CPU (ns) brief_work and the children's
 * child_work used, as each measured it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

static volatile uint64_t sink;

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Spin until ns of this thread's CPU are used; returns how many were. The
 * two differ (mul, xor), so that the compiler keeps both. */
__attribute__((noinline)) uint64_t brief_work(uint64_t ns)
{
	uint64_t t0 = cpu_ns(), t;

	do {
		for (int i = 0; i < 10000; i++)
			sink += (uint64_t)i * i;
		t = cpu_ns();
	} while (t - t0 < ns);
	return t - t0;
}

__attribute__((noinline)) uint64_t child_work(uint64_t ns)
{
	uint64_t t0 = cpu_ns(), t;

	do {
		for (int i = 0; i < 10000; i++)
			sink ^= (uint64_t)i * 2654435761u;
		t = cpu_ns();
	} while (t - t0 < ns);
	return t - t0;
}

int main(int argc, char **argv)
{
	uint64_t ns = (uint64_t)((argc > 1 ? atof(argv[1]) : 20) * 1e6), own, kids = 0;
	int children = argc > 2 ? atoi(argv[2]) : 0, fds[2];
	const char *truth = getenv("SPYGLASS_TRUTH");
	FILE *f;

	own = brief_work(ns);
	if (children && pipe(fds))
		return 1;
	for (int i = 0; i < children; i++) {
		pid_t pid = fork();
		uint64_t used;

		if (pid < 0)
			return 1;
		if (pid == 0) {
			used = child_work(ns);
			_exit(write(fds[1], &used, sizeof(used)) == sizeof(used) ? 0 : 1);
		}
		if (waitpid(pid, NULL, 0) != pid ||
		    read(fds[0], &used, sizeof(used)) != sizeof(used))
			return 1;
		kids += used;
	}
	if (truth && (f = fopen(truth, "w"))) {
		fprintf(f, "{\"brief_work\": %llu, \"child_work\": %llu}\n",
		        (unsigned long long)own, (unsigned long long)kids);
		fclose(f);
	}
	return 0;
}
