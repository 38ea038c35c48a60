/* SPDX-License-Identifier: MIT */
/* The library dl.c loads after spyglass has attached. */
#include <stdint.h>
#include <time.h>

static volatile uint64_t sink;

__attribute__((noinline)) static void lib_inner(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		sink += i * 5;
}

void lib_spin(double seconds);

void lib_spin(double seconds)
{
	struct timespec ts, now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	do {
		lib_inner(100000);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((double)(now.tv_sec - ts.tv_sec) + (double)(now.tv_nsec - ts.tv_nsec) / 1e9 <
	         seconds);
}
