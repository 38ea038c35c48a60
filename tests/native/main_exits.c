/* SPDX-License-Identifier: MIT */
/*
 * A program whose main thread exits first (pthread_exit): the process
 * lives on in its worker, which spins in keep_working for SECONDS
 * (argv[1]), while the kernel shows the leader as a zombie with no
 * memory maps of its own. For test_native.py.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static volatile uint64_t sink;

__attribute__((noinline)) void keep_working(double seconds)
{
	struct timespec now, end;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += (time_t)seconds;
	do {
		for (uint64_t i = 0; i < 100000; i++)
			sink += i * i;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec < end.tv_sec ||
	         (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));
}

static void *worker(void *arg)
{
	keep_working(*(double *)arg);
	return NULL;
}

int main(int argc, char **argv)
{
	static double seconds;
	pthread_t t;

	seconds = argc > 1 ? atof(argv[1]) : 3;
	if (pthread_create(&t, NULL, worker, &seconds))
		return 1;
	pthread_exit(NULL);
}
