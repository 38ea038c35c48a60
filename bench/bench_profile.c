/* SPDX-License-Identifier: MIT */
/*
 * How fast the profile aggregates and the collapsed writer writes: 1M
 * sg_profile_add calls over 100k distinct stacks (depth 8..39, 20k
 * distinct frames, one thread), then one collapsed write to /dev/null. Prints each
 * phase's time and the peak RSS. Built and run by `make bench`.
 *
 * Then the same profile as a flame graph, which must stay quick to write:
 * this times building the merged tree. The stacks are random, so few boxes
 * are wide enough to be drawn.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "formats/format.h"
#include "profile/profile.h"

#define NSTACKS  100000
#define NADDS    1000000
#define NFRAMES  20000
#define MAXDEPTH 40

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

int main(void)
{
	struct sg_write_opts opts = {.threads = true, .processes = true};
	struct sg_profile *p = sg_profile_new();
	uint32_t *frames = malloc(NFRAMES * sizeof(*frames));
	uint32_t *stacks = malloc(NSTACKS * sizeof(*stacks));
	uint32_t buf[MAXDEPTH];
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	struct rusage ru;
	FILE *null = fopen("/dev/null", "w");
	double t0, t1, t2, t3, t4;
	int err, fg_err;

	if (!p || !frames || !stacks || !null)
		return 1;
	t0 = now_s();
	for (uint32_t i = 0; i < NFRAMES; i++) {
		char name[48], file[48];
		struct sg_frame f = {.type = SG_FRAME_PYTHON, .line = (int32_t)(i % 500) + 1};
		int n = snprintf(name, sizeof(name), "module%u.Class.method_%u", i % 97, i);
		int m = snprintf(file, sizeof(file), "/usr/lib/python3/pkg/module%u.py", i % 97);

		f.name = sg_profile_intern(p, name, (size_t)n);
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
	for (uint32_t i = 0; i < NADDS; i++) {
		uint64_t r = next_rand(&seed);
		struct sg_labels labels = {.pid = 4242, .tid = 4242};

		if (sg_profile_add(p, stacks[r % NSTACKS], &labels, 1, 10000000))
			return 1;
	}
	t2 = now_s();
	err = sg_format_by_name("collapsed")->write(p, &opts, null);
	t3 = now_s();
	fg_err = sg_format_by_name("flamegraph")->write(p, &opts, null);
	t4 = now_s();
	fclose(null);
	getrusage(RUSAGE_SELF, &ru);
	printf("interning %u frames + %u stacks: %.3f s\n", NFRAMES, NSTACKS, t1 - t0);
	printf("%u sg_profile_add over %zu rows: %.3f s (%.0f ns each)\n", NADDS,
	       sg_profile_nsamples(p), t2 - t1, (t2 - t1) * 1e9 / NADDS);
	printf("collapsed write of %zu rows: %.3f s%s\n", sg_profile_nsamples(p), t3 - t2,
	       err ? " (failed)" : "");
	printf("flamegraph write of %zu rows: %.3f s%s\n", sg_profile_nsamples(p), t4 - t3,
	       fg_err ? " (failed)" : "");
	printf("peak RSS: %.1f MiB\n", (double)ru.ru_maxrss / 1024);
	sg_profile_free(p);
	free(frames);
	free(stacks);
	return err || fg_err ? 1 : 0;
}
