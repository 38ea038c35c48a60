/* SPDX-License-Identifier: MIT */
/*
 * A native workload with known hot functions, for test_native.py. The main
 * thread alternates spin_a (two units of work) and spin_b (one unit, all of
 * it in inlined_work, which the compiler inlines), timing each with its own
 * thread CPU clock; a second thread sleeps in nanosleep, a third blocks in
 * read(2) on a pipe nobody writes. After SECONDS (argv[1]) it writes, as
 * JSON to $SPYGLASS_TRUTH, the CPU each function used (ns) and the wall
 * time its work took (s). With ROUNDS
 * (argv[2]) it does that many rounds of work instead, however long they
 * take (for bench/bench_native.py's slowdown).
 *
 * Built by the tests with and without -fno-omit-frame-pointer.
 */
#include <pthread.h>
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

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A call now and then makes the hot functions non-leaf, so that built with
 * -fno-omit-frame-pointer they set up a frame pointer of their own. */
__attribute__((noinline)) void tick(void)
{
	sink++;
}

__attribute__((noinline)) void spin_a(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		sink += i * i;
		if ((i & 4095) == 0)
			tick();
	}
}

static inline __attribute__((always_inline)) void inlined_work(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		sink ^= i * 2654435761u;
		if ((i & 4095) == 0)
			tick();
	}
}

__attribute__((noinline)) void spin_b(uint64_t n)
{
	inlined_work(n);
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;) {
		struct timespec ts = {0, 50 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void *reader(void *arg)
{
	int *fds = arg;
	char c;

	if (read(fds[0], &c, 1) < 0)
		perror("read");
	return NULL;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3, begin, end;
	long rounds = argc > 2 ? atol(argv[2]) : 0;
	uint64_t a = 0, b = 0, t0, t1, t2, unit = 200000;
	static int fds[2];
	pthread_t t;
	const char *truth = getenv("SPYGLASS_TRUTH");
	FILE *f;

	if (pipe(fds) || pthread_create(&t, NULL, sleeper, NULL) ||
	    pthread_create(&t, NULL, reader, fds))
		return 1;
	begin = wall_s();
	end = begin + seconds;
	for (long r = 0; rounds ? r < rounds : wall_s() < end; r++) {
		t0 = cpu_ns();
		spin_a(2 * unit);
		t1 = cpu_ns();
		spin_b(unit);
		t2 = cpu_ns();
		a += t1 - t0;
		b += t2 - t1;
	}
	if (truth && (f = fopen(truth, "w"))) {
		fprintf(f, "{\"spin_a\": %llu, \"inlined_work\": %llu, \"wall_s\": %f}\n",
		        (unsigned long long)a, (unsigned long long)b, wall_s() - begin);
		fclose(f);
	}
	return 0;
}
