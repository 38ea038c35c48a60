/* SPDX-License-Identifier: MIT */
/*
 * How fast the profile aggregates and each format writes: 1M
 * sg_profile_add_at calls over 100k distinct stacks (depth 8..39, 20k
 * distinct frames, 8 threads, a timeline of ~180k runs), then a write of
 * every format to /dev/null. Prints each phase's time and peak RSS. Built and
 * run by `make bench`.
 * The stacks are random, so few flame graph boxes are wide enough to be
 * drawn: its time is mostly building the merged tree.
 *
 * Then a long run, in a process of its own: 3 minutes of 4 threads sampled
 * at 10 kHz in wall mode (7.2M samples), each thread's stack changing every
 * 1 to 3 samples among 4000 stacks of its own, as a busy program's do; its
 * RSS every 30 s of run, the longest a sample took to add (what coarsening
 * the timeline makes the sampler wait), then the peak while writing pprof
 * and collapsed.
 *
 * Then one refresh of spyglass top over that profile (time_top).
 *
 * With a spyglass binary as argument, also how long `spyglass report`
 * takes on the first profile written as pprof (reading included), for its
 * flat table, its tree and a --callers query, each in a process of its own;
 * and `spyglass diff` of it against a NEW that is the same profile plus 200k
 * samples (10 ms apart, after it) of 2,000 of its stacks, so that their
 * functions' shares move: to text, and to a differential flame graph.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/resource.h>
#include <time.h>

#include "formats/format.h"
#include "profile/profile.h"
#include "formats/top.h"
#include "profile/live.h"
#include "profile/query.h"

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

/* This process's CPU time: steadier than the wall clock on a shared
 * machine, for work that runs on one thread. */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
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

/* The analysis alone, in process: the query, then each view. */
static int time_query(const struct sg_profile *p)
{
	struct sg_query *q;
	struct sg_query_row *rows;
	struct sg_query_node *nodes;
	struct sg_query_edge *edges;
	size_t n, nnodes;
	uint64_t through;
	regex_t re;
	double t0 = now_s(), t1, t2, t3, t4;

	if (sg_query_new(p, SG_BY_FUNCTION, NULL, &q))
		return 1;
	t1 = now_s();
	if (sg_query_flat(q, SG_SORT_SELF, &rows, &n))
		return 1;
	free(rows);
	t2 = now_s();
	if (sg_query_tree(q, false, false, &nodes, &nnodes))
		return 1;
	free(nodes);
	t3 = now_s();
	if (regcomp(&re, "method_1$", REG_EXTENDED | REG_NOSUB) ||
	    sg_query_neighbours(q, &re, true, &edges, &n, &through))
		return 1;
	regfree(&re);
	free(edges);
	t4 = now_s();
	sg_query_free(q);
	printf("report's analysis in process: query %.3f s, flat table %.3f s, tree %.3f s "
	       "(%zu nodes), callers %.3f s\n",
	       t1 - t0, t2 - t1, t3 - t2, nnodes, t4 - t3);
	return 0;
}

/* One refresh of spyglass top over the whole profile, as if all of it had
 * come in the last interval: the reading, the view (two queries, and two
 * per thread shown) and the screen laid out, at 80x24 and whole as --once
 * prints it. CPU time, best of 3 each; curses' own update of 24 lines is
 * not in it. */
static int time_top(const struct sg_profile *p)
{
	static const char *const what[] = {"functions, 80x24", "per thread, 80x24",
	                                   "functions, --once text"};
	struct sg_live_view_opts o = {.sort = SG_LIVE_SELF, .idle = true, .max_threads = 9};
	struct sg_top_head h = {.opts = &o,
	                        .command = "bench",
	                        .python = "3.13.0",
	                        .mode = "cpu",
	                        .rate_hz = 100,
	                        .cpu = -1,
	                        .gil = -1};

	printf("spyglass top, one refresh in process (CPU time, best of 3):\n");
	for (int k = 0; k < 3; k++) {
		double best = 1e9, read_s = 0, view_s = 0, layout_s = 0;
		size_t bytes = 0;

		o.by_thread = k == 1;
		h.keys = k < 2;
		for (int rep = 0; rep < 3; rep++) {
			struct sg_strbuf sb = SG_STRBUF_INIT;
			struct sg_live_view v;
			struct sg_live *l;
			double t0 = cpu_s(), t1, t2, t3;

			if (sg_live_new(p, &l) || sg_live_read(l))
				return 1;
			t1 = cpu_s();
			if (sg_live_view(l, &o, &v))
				return 1;
			t2 = cpu_s();
			if (sg_top_format(&h, &v, k < 2 ? 80 : SIZE_MAX, k < 2 ? 24 : 0, &sb))
				return 1;
			t3 = cpu_s();
			if (t3 - t0 < best) {
				best = t3 - t0;
				read_s = t1 - t0;
				view_s = t2 - t1;
				layout_s = t3 - t2;
				bytes = sb.len;
			}
			sg_strbuf_release(&sb);
			sg_live_view_release(&v);
			sg_live_free(l);
		}
		printf("  %-24s %.3f s (reading %.3f, view %.3f, layout %.4f; %zu bytes)\n",
		       what[k], best, read_s, view_s, layout_s, bytes);
	}
	return 0;
}

/* spyglass COMMAND PATH [PATH2] ARGS... (up to 3), output to /dev/null: its
 * time and peak RSS. */
static int time_command(const char *spyglass, const char *command, const char *path,
                        const char *path2, const char *what, const char *a1, const char *a2,
                        const char *a3)
{
	struct rusage ru;
	double t0 = now_s();
	int status;
	pid_t child;

	fflush(stdout); /* or the child's copy of the buffer is written again */
	child = fork();
	if (child == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(1);
		if (path2)
			execl(spyglass, spyglass, command, path, path2, a1, a2, a3, (char *)NULL);
		else
			execl(spyglass, spyglass, command, path, a1, a2, a3, (char *)NULL);
		_exit(127);
	}
	if (child < 0 || wait4(child, &status, 0, &ru) != child)
		return 1;
	printf("  %-26s %8.3f s %10.1f MiB%s\n", what, now_s() - t0, (double)ru.ru_maxrss / 1024,
	       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "" : "  (failed)");
	return !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}

static int time_report(const char *spyglass, const char *path, const char *what, const char *a1,
                       const char *a2)
{
	return time_command(spyglass, "report", path, NULL, what, a1, a2, NULL);
}

/* p written as pprof to a new file named in path (a mkstemp template). */
static int write_pprof(const struct sg_profile *p, char *path)
{
	const struct sg_format *fmt = sg_format_by_name("pprof");
	struct sg_write_opts opts = {0};
	int fd = mkstemp(path);
	FILE *out = fd < 0 ? NULL : fdopen(fd, "w");

	return !out || fmt->write(p, &opts, out) || fclose(out);
}

/* NEW for diff: p, then 200k samples of 2,000 of its stacks (8 threads in
 * turn, 10 ms apart as p's, after p's last). */
static struct sg_profile *changed(const struct sg_profile *p)
{
	struct sg_profile *n = sg_profile_new();
	uint64_t end = 0, seed = 0x5bd1e995u;

	for (size_t i = 0; i < sg_profile_nruns(p); i++)
		if (sg_profile_run(p, i)->end_ns > end)
			end = sg_profile_run(p, i)->end_ns;

	if (!n || sg_profile_merge(n, p)) {
		sg_profile_free(n);
		return NULL;
	}
	for (uint32_t i = 0; i < 200000; i++) {
		uint32_t t = i % NTHREADS;
		struct sg_labels labels = {.pid = 4242, .tid = 4242 + (pid_t)t};
		uint32_t stack = (uint32_t)(next_rand(&seed) % 2000);

		if (sg_profile_add_at(n, stack, &labels, 1, 10000000,
		                      end + (uint64_t)(i / NTHREADS + 1) * 10000000)) {
			sg_profile_free(n);
			return NULL;
		}
	}
	return n;
}

static int time_reports(const struct sg_profile *p, const char *spyglass)
{
	char path[] = "/tmp/spyglass-bench-XXXXXX", path2[] = "/tmp/spyglass-bench-XXXXXX";
	struct sg_profile *n;
	int failed;

	if (write_pprof(p, path))
		return 1;
	printf("spyglass report on it (as pprof, reading included):\n");
	failed = time_report(spyglass, path, "flat table", "--limit", "30");
	failed |= time_report(spyglass, path, "--tree", "--tree", NULL);
	failed |= time_report(spyglass, path, "--callers 'method_1$'", "--callers", "method_1$");
	n = changed(p);
	if (!n || write_pprof(n, path2)) {
		sg_profile_free(n);
		unlink(path);
		return 1;
	}
	printf("spyglass diff of it and NEW (%llu samples, as pprof, reading included):\n",
	       (unsigned long long)sg_profile_total(n));
	sg_profile_free(n);
	failed |= time_command(spyglass, "diff", path, path2, "to text", NULL, NULL, NULL);
	failed |= time_command(spyglass, "diff", path, path2, "to JSON", "-f", "json", NULL);
	failed |= time_command(spyglass, "diff", path, path2, "to SVG", "-o", "/dev/null", NULL);
	unlink(path);
	unlink(path2);
	return failed;
}

static double rss_mib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024;
}

#define LONG_THREADS   4
#define LONG_RATE      10000
#define LONG_SECONDS   180
#define LONG_STACKS    4000 /* per thread */
#define LONG_PERIOD_NS (1000000000 / LONG_RATE)

/* The long run (see the top); returns non-zero on failure. */
static int long_run(void)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t *stacks = malloc(LONG_THREADS * LONG_STACKS * sizeof(*stacks));
	uint32_t buf[24], current[LONG_THREADS] = {0}, left[LONG_THREADS] = {0};
	uint64_t seed = 0x2545f4914f6cdd1dull;
	const char *const formats[] = {"pprof", "collapsed"};
	double t0 = now_s(), t1, longest = 0;

	if (!p || !stacks)
		return 1;
	for (uint32_t i = 0; i < LONG_THREADS * LONG_STACKS; i++) {
		/* 20 shared outer frames, then 4 of the stack's own. */
		for (uint32_t k = 0; k < 24; k++) {
			char fn[48];
			struct sg_frame f = {.type = SG_FRAME_PYTHON, .line = (int32_t)k + 1};
			int n = k < 20 ? snprintf(fn, sizeof(fn), "outer_%u", k)
			               : snprintf(fn, sizeof(fn), "inner_%u_%u", i, k);

			f.name = sg_profile_intern(p, fn, (size_t)n);
			f.file = sg_profile_intern(p, "app.py", 6);
			buf[k] = sg_profile_frame_id(p, &f);
		}
		stacks[i] = sg_profile_stack_id(p, buf, 24);
		if (stacks[i] == UINT32_MAX)
			return 1;
	}
	printf("long run: %d threads at %d Hz for %d s, wall mode, stacks changing every 1-3 "
	       "samples:\n",
	       LONG_THREADS, LONG_RATE, LONG_SECONDS);
	for (uint64_t tick = 0; tick < (uint64_t)LONG_RATE * LONG_SECONDS; tick++) {
		for (uint32_t t = 0; t < LONG_THREADS; t++) {
			struct sg_labels labels = {.pid = 4242, .tid = 4242 + (pid_t)t};
			/* Off the tick by up to half a period, as record's jitter. */
			uint64_t at =
			    tick * LONG_PERIOD_NS + next_rand(&seed) % (LONG_PERIOD_NS / 2);

			if (left[t] == 0) {
				current[t] =
				    t * LONG_STACKS + (uint32_t)(next_rand(&seed) % LONG_STACKS);
				left[t] = 1 + (uint32_t)(next_rand(&seed) % 3);
			}
			left[t]--;
			t1 = now_s();
			if (sg_profile_add_at(p, stacks[current[t]], &labels, 1, LONG_PERIOD_NS,
			                      at))
				return 1;
			t1 = now_s() - t1;
			longest = t1 > longest ? t1 : longest;
		}
		if ((tick + 1) % ((uint64_t)LONG_RATE * 30) == 0)
			printf("  after %3llu s: %9zu runs (grid %6.1f ms), peak RSS %6.1f MiB, "
			       "longest "
			       "add %.0f ms\n",
			       (unsigned long long)((tick + 1) / LONG_RATE), sg_profile_nruns(p),
			       (double)sg_profile_timeline_grid(p) / 1e6, rss_mib(), longest * 1e3);
	}
	printf("  built in %.2f s (%.0f ns per sample)\n", now_s() - t0,
	       (now_s() - t0) * 1e9 / ((double)LONG_RATE * LONG_SECONDS * LONG_THREADS));
	fflush(stdout);
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (time_format(p, formats[i]))
			return 1;
	sg_profile_free(p);
	free(stacks);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
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
	failed |= time_query(p);
	failed |= time_top(p);
	if (argc > 1)
		failed |= time_reports(p, argv[1]);
	sg_profile_free(p);
	free(frames);
	free(stacks);
	fflush(stdout);
	/* A process of its own, so that its peaks are its own. */
	{
		pid_t child = fork();
		int status;

		if (child == 0)
			_exit(long_run());
		if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			failed = 1;
	}
	return failed;
}
