/* SPDX-License-Identifier: MIT */
/*
 * How fast the profile aggregates and each format writes: 1M
 * sg_profile_add_at calls over 100k distinct stacks (depth 8..39, 20k
 * distinct frames, 8 threads, a timeline of ~180k runs), then a write of
 * every format to /dev/null. Prints each phase's time and peak RSS. Built and
 * run by `make bench`.
 * The stacks are random, so few flame graph boxes are wide enough to be
 * drawn: its time is mostly building the merged tree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/resource.h>
#include <time.h>

#include "formats/format.h"
#include "profile/profile.h"

#define NSTACKS  100000
#define NADDS    1000000
#define NFRAMES  20000
#define MAXDEPTH 40
#define NTHREADS 8

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64: deterministic, so runs compare. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Write p in format name to /dev/null in a child process, so that each
 * format's peak RSS is its own (the profile itself is counted in all). */
static int time_format(const struct sg_profile *p, const char *name)
{
	const struct sg_format *fmt = sg_format_by_name(name);
	struct sg_write_opts opts = {.threads = true, .processes = true};
	struct rusage ru;
	double t0 = now_s();
	int status;
	pid_t child;

	if (!fmt)
		return 1;
	child = fork();
	if (child == 0) {
		FILE *null = fopen("/dev/null", "w");

		_exit(!null || fmt->write(p, &opts, null) || fclose(null));
	}
	if (child < 0 || wait4(child, &status, 0, &ru) != child)
		return 1;
	printf("  %-12s %8.3f s %10.1f MiB%s\n", name, now_s() - t0, (double)ru.ru_maxrss / 1024,
	       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "" : "  (failed)");
	return !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}

int main(void)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t *frames = malloc(NFRAMES * sizeof(*frames));
	uint32_t *stacks = malloc(NSTACKS * sizeof(*stacks));
	uint32_t buf[MAXDEPTH], current[NTHREADS], left[NTHREADS] = {0};
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	char names[256], *name, *save = NULL;
	struct rusage ru;
	double t0, t1, t2;
	int failed = 0;

	if (!p || !frames || !stacks)
		return 1;
	t0 = now_s();
	for (uint32_t i = 0; i < NFRAMES; i++) {
		char fn[48], file[48];
		struct sg_frame f = {.type = SG_FRAME_PYTHON, .line = (int32_t)(i % 500) + 1};
		int n = snprintf(fn, sizeof(fn), "module%u.Class.method_%u", i % 97, i);
		int m = snprintf(file, sizeof(file), "/usr/lib/python3/pkg/module%u.py", i % 97);

		f.name = sg_profile_intern(p, fn, (size_t)n);
		f.file = sg_profile_intern(p, file, (size_t)m);
		frames[i] = sg_profile_frame_id(p, &f);
	}
	for (uint32_t i = 0; i < NSTACKS; i++) {
		size_t depth = 8 + next_rand(&seed) % (MAXDEPTH - 8);

		for (size_t k = 0; k < depth; k++)
			buf[k] = frames[next_rand(&seed) % NFRAMES];
		stacks[i] = sg_profile_stack_id(p, buf, depth);
		if (stacks[i] == UINT32_MAX)
			return 1;
	}
	t1 = now_s();
	/* NTHREADS threads sampled in turn every 10 ms; each stays in a
	 * stack (one of its own) for 1 to 10 samples, so the timeline holds
	 * about 180k runs and every stack is used. */
	for (uint32_t t = 0; t < NTHREADS; t++)
		current[t] = t + NSTACKS - NTHREADS;
	for (uint32_t i = 0; i < NADDS; i++) {
		uint32_t t = i % NTHREADS;
		struct sg_labels labels = {.pid = 4242, .tid = 4242 + (pid_t)t};

		if (left[t] == 0) {
			/* Every thread goes through all of its stacks, in turn. */
			current[t] = (current[t] + NTHREADS) % NSTACKS;
			left[t] = 1 + (uint32_t)(next_rand(&seed) % 10);
		}
		left[t]--;
		if (sg_profile_add_at(p, stacks[current[t]], &labels, 1, 10000000,
		                      (uint64_t)(i / NTHREADS) * 10000000))
			return 1;
	}
	t2 = now_s();
	getrusage(RUSAGE_SELF, &ru);
	printf("interning %u frames + %u stacks: %.3f s\n", NFRAMES, NSTACKS, t1 - t0);
	printf("%u samples (%u threads) over %zu rows, %zu runs: %.3f s (%.0f ns each)\n", NADDS,
	       NTHREADS, sg_profile_nsamples(p), sg_profile_nruns(p), t2 - t1,
	       (t2 - t1) * 1e9 / NADDS);
	printf("profile built, peak RSS %.1f MiB; writing each format to /dev/null:\n",
	       (double)ru.ru_maxrss / 1024);
	printf("  %-12s %10s %14s\n", "format", "time", "peak RSS");
	snprintf(names, sizeof(names), "%s", sg_format_names());
	for (name = strtok_r(names, ", ", &save); name; name = strtok_r(NULL, ", ", &save))
		failed |= time_format(p, name);
	sg_profile_free(p);
	free(frames);
	free(stacks);
	return failed;
}
