/* SPDX-License-Identifier: MIT */
/*
 * The store over a day: one process's windows for 24 hours (8640 windows
 * of 10 s, a wall and a cpu row each, as the agent writes them), each a
 * copy of one real window read from the pprof file given (`make bench`
 * records one: 10 s of tests/workloads/threads.py at the agent's 19 Hz, in
 * wall mode), written straight into a fresh store. Prints the time to write
 * them, the store's size and so its growth per process-hour, and how long
 * queries take: a day merged, an hour merged, and the series listed, each
 * from a store opened afresh (as `spyglass query` does).
 *
 * Usage: bench_store WINDOW.pb.gz [DIR]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "formats/format.h"
#include "profile/profile.h"
#include "store/store.h"

#define WINDOWS  8640
#define WINDOW_S 10
#define NS       1000000000ull

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count(void *ctx, const struct sg_store_series *s)
{
	(void)s;
	++*(int *)ctx;
	return 0;
}

static int merge(const char *path, uint64_t from, uint64_t to, const char *what)
{
	struct sg_store_filter f = {.from_ns = from, .to_ns = to, .mode = SG_MODE_CPU};
	struct sg_profile *p = sg_profile_new();
	struct sg_store *s;
	char why[512];
	double t0 = now_s();
	uint64_t n;

	if (!p || sg_store_open(path, false, true, &s, why, sizeof(why)) ||
	    sg_store_merge(s, &f, p, &n, why, sizeof(why))) {
		fprintf(stderr, "bench_store: %s\n", why);
		return 1;
	}
	printf("  query %-6s %6llu windows %10llu samples %8.3f s\n", what, (unsigned long long)n,
	       (unsigned long long)sg_profile_total(p), now_s() - t0);
	sg_store_close(s);
	sg_profile_free(p);
	return 0;
}

int main(int argc, char **argv)
{
	struct sg_store_label labels[] = {{"host", "bench"},
	                                  {"pid", "4242"},
	                                  {"service", "web"},
	                                  {"python", "3.12.1"},
	                                  {"command", "python3 web.py --port 8080"}};
	struct sg_profile *wall = sg_profile_new(), *cpu = sg_profile_new();
	struct sg_store_filter all = {.to_ns = UINT64_MAX, .mode = SG_MODE_UNKNOWN};
	char path[4096], why[512];
	struct sg_store *s;
	struct stat st;
	uint64_t base = 1764633600ull * NS; /* 2025-12-02T00:00:00Z */
	double t0;
	int series = 0;
	FILE *in;

	if (argc < 2 || !wall || !cpu || !(in = fopen(argv[1], "r"))) {
		fprintf(stderr, "usage: bench_store WINDOW.pb.gz [DIR]\n");
		return 2;
	}
	if (sg_format_by_name("pprof")->read(in, wall, why, sizeof(why))) {
		fprintf(stderr, "bench_store: %s: %s\n", argv[1], why);
		return 1;
	}
	fclose(in);
	snprintf(path, sizeof(path), "%s/bench-store.db", argc > 2 ? argv[2] : "/tmp");
	unlink(path);
	if (sg_store_open(path, true, false, &s, why, sizeof(why))) {
		fprintf(stderr, "bench_store: %s\n", why);
		return 1;
	}
	printf("bench_store: a day of one process's windows (%d x %d s, wall + cpu), from %s\n",
	       WINDOWS, WINDOW_S, argv[1]);
	t0 = now_s();
	for (int i = 0; i < WINDOWS; i++) {
		const struct sg_profile *both[] = {wall, cpu};

		sg_profile_meta(wall)->start_unix_ns = base + (uint64_t)i * WINDOW_S * NS;
		sg_profile_meta(wall)->duration_ns = WINDOW_S * NS;
		if (sg_profile_clear(cpu) || sg_profile_merge_on_cpu(cpu, wall) ||
		    sg_store_put(s, labels, sizeof(labels) / sizeof(labels[0]), both, 2, why,
		                 sizeof(why))) {
			fprintf(stderr, "bench_store: %s\n", why);
			return 1;
		}
	}
	sg_store_close(s);
	if (stat(path, &st))
		return 1;
	printf("  write  %d windows %8.3f s (%.2f ms each, synced)\n", WINDOWS, now_s() - t0,
	       (now_s() - t0) * 1e3 / WINDOWS);
	printf("  store  %.1f MiB: %.2f MiB per process-hour (%.1f KiB per window, both modes)\n",
	       (double)st.st_size / 1048576, (double)st.st_size / 1048576 / 24,
	       (double)st.st_size / 1024 / WINDOWS);
	if (merge(path, base, base + 24 * 3600 * NS, "a day") ||
	    merge(path, base + 12 * 3600 * NS, base + 13 * 3600 * NS, "1 hour"))
		return 1;
	t0 = now_s();
	if (sg_store_open(path, false, true, &s, why, sizeof(why)) ||
	    sg_store_list(s, &all, count, &series, why, sizeof(why))) {
		fprintf(stderr, "bench_store: %s\n", why);
		return 1;
	}
	printf("  list   %d series %8.3f s\n", series, now_s() - t0);
	sg_store_close(s);
	sg_profile_free(wall);
	sg_profile_free(cpu);
	unlink(path);
	return 0;
}
