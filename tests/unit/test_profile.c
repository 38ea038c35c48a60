/* SPDX-License-Identifier: MIT */
/* The profile model: interning, aggregation, meta and process names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/profile.h"
#include "util/err.h"

#include "profile_fixtures.h"

static void test_strings(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t a;

	(void)state;
	assert_non_null(p);
	assert_int_equal(sg_profile_intern(p, "", 0), 0);
	assert_string_equal(sg_profile_str(p, 0), "");
	a = sg_profile_intern(p, "main", 4);
	assert_int_equal(a, 1);                                 /* ids are dense */
	assert_int_equal(sg_profile_intern(p, "mainly", 4), a); /* only len bytes count */
	assert_string_equal(sg_profile_str(p, a), "main");
	assert_int_not_equal(sg_profile_intern(p, "mai", 3), a);
	/* Unknown ids read as "", never as a dangling pointer. */
	assert_string_equal(sg_profile_str(p, 999), "");
	sg_profile_free(p);
	sg_profile_free(NULL);
}

static void test_frames_and_stacks(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t a, b, c, s1, s2, s0;
	struct sg_frame native;
	size_t n;

	(void)state;
	a = fx_frame(p, "f", "x.py", 3);
	b = fx_frame(p, "f", "x.py", 4);
	assert_int_not_equal(a, b);
	assert_int_equal(fx_frame(p, "f", "x.py", 3), a);
	native = *sg_profile_frame(p, a);
	native.type = SG_FRAME_NATIVE;
	c = sg_profile_frame_id(p, &native);
	assert_int_not_equal(c, a); /* the type tells frames apart too */
	assert_int_equal(sg_profile_nframes(p), 3);
	assert_string_equal(sg_profile_str(p, sg_profile_frame(p, b)->file), "x.py");
	assert_int_equal(sg_profile_frame(p, b)->line, 4);
	assert_null(sg_profile_frame(p, 3));

	s1 = sg_profile_stack_id(p, (uint32_t[]){a, b}, 2);
	s2 = sg_profile_stack_id(p, (uint32_t[]){b, a}, 2);
	assert_int_not_equal(s1, s2); /* order matters: root first */
	assert_int_equal(sg_profile_stack_id(p, (uint32_t[]){a, b}, 2), s1);
	assert_int_equal(sg_profile_stack(p, s2, &n)[0], b);
	assert_int_equal(n, 2);
	s0 = sg_profile_stack_id(p, NULL, 0);
	assert_int_not_equal(s0, UINT32_MAX);
	sg_profile_stack(p, s0, &n);
	assert_int_equal(n, 0);
	assert_int_equal(sg_profile_nstacks(p), 3);
	/* A frame id that does not exist cannot enter a stack. */
	assert_int_equal(sg_profile_stack_id(p, (uint32_t[]){a, 77}, 2), UINT32_MAX);
	assert_null(sg_profile_stack(p, 99, &n));
	assert_int_equal(n, 0);
	sg_profile_free(p);
}

/* A target that keeps making code under fresh names: past the budget each
 * new frame and stack is the one stand-in, what came before keeps its id,
 * and the refusals are counted. A clear keeps the budget. */
static void test_budget_bounds_new_code(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t first, over = UINT32_MAX, s;
	char name[32];
	size_t frames, n;
	const uint32_t *stack;

	(void)state;
	first = fx_frame(p, "main", "app.py", 1);
	assert_int_equal(sg_profile_set_budget(p, 256 << 10), 0);
	for (unsigned i = 0; i < 50000; i++) {
		uint32_t f;

		snprintf(name, sizeof(name), "<churn %u>", i);
		f = fx_frame(p, name, "<string>", 1);
		assert_int_not_equal(f, UINT32_MAX);
		s = sg_profile_stack_id(p, (uint32_t[]){first, f}, 2);
		assert_int_not_equal(s, UINT32_MAX);
		if (strcmp(sg_profile_str(p, sg_profile_frame(p, f)->name),
		           SG_PROFILE_OVER_BUDGET) == 0)
			over = f;
	}
	frames = sg_profile_nframes(p);
	assert_int_not_equal(over, UINT32_MAX);
	assert_true(frames > 100 && frames < 50000);
	assert_true(sg_profile_refused(p) > 0);
	assert_int_equal(fx_frame(p, "main", "app.py", 1), first);
	/* A new stack past the budget is the stand-in's own. */
	for (unsigned i = 0; i < 50000; i++)
		s = sg_profile_stack_id(
		    p, (uint32_t[]){first, (uint32_t)(i % frames), (uint32_t)(i / frames % frames)},
		    3);
	stack = sg_profile_stack(p, s, &n);
	assert_int_equal(n, 1);
	assert_int_equal(stack[0], over);
	assert_int_equal(sg_profile_clear(p), 0);
	for (unsigned i = 0; i < 50000; i++) {
		snprintf(name, sizeof(name), "<again %u>", i);
		fx_frame(p, name, "<string>", 1);
	}
	assert_true(sg_profile_nframes(p) < 50000 && sg_profile_refused(p) > 0);
	sg_profile_free(p);
}

static void test_ids_stable_as_tables_grow(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t first = fx_frame(p, "first", "a.py", 1), stack;
	char name[32];

	(void)state;
	stack = sg_profile_stack_id(p, &first, 1);
	for (int i = 0; i < 50000; i++) {
		uint32_t f;

		snprintf(name, sizeof(name), "fn%d", i);
		f = fx_frame(p, name, "a.py", i);
		assert_int_not_equal(sg_profile_stack_id(p, (uint32_t[]){first, f}, 2), UINT32_MAX);
	}
	assert_int_equal(fx_frame(p, "first", "a.py", 1), first);
	assert_int_equal(sg_profile_stack_id(p, &first, 1), stack);
	assert_string_equal(sg_profile_str(p, sg_profile_frame(p, first)->name), "first");
	assert_int_equal(fx_str(p, "fn49999"), sg_profile_frame(p, first + 50000)->name);
	sg_profile_free(p);
}

static void test_meta_defaults(void **state)
{
	struct sg_profile *p = sg_profile_new();
	struct sg_meta *m = sg_profile_meta(p);

	(void)state;
	assert_non_null(m->command);
	assert_string_equal(m->command, "");
	assert_string_equal(m->python_version, "");
	assert_int_equal(m->mode, SG_MODE_CPU);
	assert_int_equal(m->samples, 0);
	assert_int_equal(sg_profile_set_meta_str(p, &m->command, "python x.py"), 0);
	assert_int_equal(sg_profile_set_meta_str(p, &m->python_version, "3.12.1"), 0);
	assert_int_equal(sg_profile_set_meta_str(p, &m->python_version, NULL), 0);
	assert_string_equal(sg_profile_meta_const(p)->command, "python x.py");
	assert_string_equal(sg_profile_meta_const(p)->python_version, "");
	sg_profile_free(p);
}

static void test_aggregation(void **state)
{
	struct sg_profile *p = sg_profile_new();
	struct sg_labels bad = {0};
	uint32_t f[2];

	(void)state;
	f[0] = fx_frame(p, "main", "m.py", 1);
	f[1] = fx_frame(p, "work", "m.py", 9);
	assert_int_equal(sg_profile_total(p), 0);
	fx_add(p, f, 2, 100, 7, "MainThread", 0, 3);
	fx_add(p, f, 2, 100, 7, "MainThread", 0, 2);
	fx_add(p, f, 2, 100, 7, "MainThread", SG_SAMPLE_IDLE, 1);
	fx_add(p, f, 2, 100, 7, "renamed", 0, 1);
	fx_add(p, f, 2, 101, 7, "MainThread", 0, 1);
	fx_add(p, f, 1, 100, 8, "worker", 0, 4);
	assert_int_equal(sg_profile_nsamples(p), 5);
	/* First-seen order, and every label keeps rows apart. */
	assert_int_equal(sg_profile_sample(p, 0)->count, 5);
	assert_int_equal(sg_profile_sample(p, 0)->weight_ns, 5000);
	assert_int_equal(sg_profile_sample(p, 1)->labels.flags, SG_SAMPLE_IDLE);
	assert_int_equal(sg_profile_sample(p, 3)->labels.pid, 101);
	assert_int_equal(sg_profile_sample(p, 4)->count, 4);
	assert_null(sg_profile_sample(p, 5));
	assert_int_equal(sg_profile_total(p), 12);
	assert_int_equal(sg_profile_add(p, 1234, &bad, 1, 0), SG_EUSAGE);
	assert_int_equal(sg_profile_total(p), 12);
	sg_profile_free(p);
}

static void test_timeline(void **state)
{
	struct sg_profile *p = sg_profile_new();
	struct sg_labels t7 = {.pid = 100, .tid = 7}, t8 = {.pid = 100, .tid = 8};
	const uint64_t ms = 1000000;
	uint32_t f[2], a, b;

	(void)state;
	f[0] = fx_frame(p, "main", "m.py", 1);
	f[1] = fx_frame(p, "work", "m.py", 9);
	a = sg_profile_stack_id(p, f, 2);
	b = sg_profile_stack_id(p, f, 1);
	/* Thread 7: a a (jittered) | b | a; thread 8 interleaved, one run. */
	assert_int_equal(sg_profile_add_at(p, a, &t7, 1, 10 * ms, 0), 0);
	assert_int_equal(sg_profile_add_at(p, a, &t8, 1, 10 * ms, 1 * ms), 0);
	assert_int_equal(sg_profile_add_at(p, a, &t7, 1, 10 * ms, 14 * ms), 0);
	assert_int_equal(sg_profile_add_at(p, a, &t8, 1, 10 * ms, 11 * ms), 0);
	assert_int_equal(sg_profile_add_at(p, b, &t7, 1, 10 * ms, 20 * ms), 0);
	assert_int_equal(sg_profile_add_at(p, a, &t7, 1, 10 * ms, 30 * ms), 0);
	/* A gap of more than half a period (a tick the thread was off CPU)
	 * breaks a run even when the stack is the same. */
	assert_int_equal(sg_profile_add_at(p, a, &t7, 1, 10 * ms, 46 * ms), 0);
	assert_int_equal(sg_profile_nruns(p), 5);
	assert_int_equal(sg_profile_run(p, 0)->count, 2);
	assert_int_equal(sg_profile_run(p, 0)->start_ns, 0);
	assert_int_equal(sg_profile_run(p, 0)->end_ns, 24 * ms);
	assert_int_equal(sg_profile_run(p, 1)->count, 2); /* thread 8 */
	assert_int_equal(sg_profile_run(p, 1)->row, 1);
	assert_int_equal(sg_profile_run(p, 2)->start_ns, 20 * ms);
	assert_int_equal(sg_profile_run(p, 3)->row, sg_profile_run(p, 0)->row);
	assert_int_equal(sg_profile_run(p, 4)->start_ns, 46 * ms);
	assert_null(sg_profile_run(p, 5));
	/* The rows hold the same samples as the runs. */
	assert_int_equal(sg_profile_sample(p, 0)->count, 4);
	assert_int_equal(sg_profile_total(p), 7);
	sg_profile_free(p);
}

/* A thread's early samples, under a placeholder, take its name at the end:
 * merged into the rows that already have it, with the timeline following. */
static void test_rename_threads(void **state)
{
	struct sg_profile *p = sg_profile_new();
	struct sg_u64map names = SG_U64MAP_INIT;
	struct sg_labels early = {.pid = 100, .tid = 7}, named = {.pid = 100, .tid = 7};
	struct sg_labels other = {.pid = 100, .tid = 8};
	const uint64_t ms = 1000000;
	uint32_t f[2], a, b;

	(void)state;
	f[0] = fx_frame(p, "main", "m.py", 1);
	f[1] = fx_frame(p, "work", "m.py", 9);
	a = sg_profile_stack_id(p, f, 2);
	b = sg_profile_stack_id(p, f, 1);
	early.thread_name = fx_str(p, "placeholder 1");
	named.thread_name = fx_str(p, "worker");
	other.thread_name = fx_str(p, "placeholder 2");
	assert_int_equal(sg_profile_add_at(p, a, &early, 1, 10 * ms, 0), 0);
	assert_int_equal(sg_profile_add_at(p, b, &early, 1, 10 * ms, 10 * ms), 0);
	assert_int_equal(sg_profile_add_at(p, a, &other, 1, 10 * ms, 10 * ms), 0);
	assert_int_equal(sg_profile_add_at(p, a, &named, 2, 20 * ms, 20 * ms), 0);
	assert_int_equal(sg_u64map_put(&names, early.thread_name, named.thread_name), 0);
	assert_int_equal(sg_u64map_put(&names, other.thread_name, 0), 0);
	assert_int_equal(sg_profile_rename_threads(p, &names), 0);
	/* Rows: (a, early) emptied into (a, named); (b, early) and (a, other)
	 * emptied into new rows. */
	assert_int_equal(sg_profile_sample(p, 0)->count, 0);
	assert_int_equal(sg_profile_sample(p, 0)->weight_ns, 0);
	assert_int_equal(sg_profile_sample(p, 3)->count, 3);
	assert_int_equal(sg_profile_sample(p, 3)->weight_ns, 30 * ms);
	assert_int_equal(sg_profile_sample(p, 4)->stack, b);
	assert_int_equal(sg_profile_sample(p, 4)->labels.thread_name, named.thread_name);
	assert_int_equal(sg_profile_sample(p, 5)->labels.thread_name, 0);
	assert_int_equal(sg_profile_sample(p, 5)->labels.tid, 8);
	assert_int_equal(sg_profile_total(p), 5);
	for (size_t i = 0; i < sg_profile_nruns(p); i++) {
		const struct sg_sample *row = sg_profile_sample(p, sg_profile_run(p, i)->row);

		assert_int_not_equal(row->count, 0);
		assert_int_not_equal(row->labels.thread_name, early.thread_name);
	}
	assert_int_equal(sg_profile_run(p, 0)->row, 3);
	assert_int_equal(sg_profile_run(p, 1)->row, 4);
	/* Nothing to rename: nothing changes. */
	assert_int_equal(sg_profile_rename_threads(p, &names), 0);
	assert_int_equal(sg_profile_nsamples(p), 6);
	sg_u64map_release(&names);
	sg_profile_free(p);
}

static void test_process_names(void **state)
{
	struct sg_profile *p = sg_profile_new();

	(void)state;
	assert_string_equal(sg_profile_process(p, 100), "");
	assert_int_equal(sg_profile_set_process(p, 100, "python m.py"), 0);
	assert_int_equal(sg_profile_set_process(p, 0, "pid zero"), 0);
	assert_string_equal(sg_profile_process(p, 100), "python m.py");
	assert_string_equal(sg_profile_process(p, 0), "pid zero");
	assert_string_equal(sg_profile_process(p, 101), "");
	/* After exec the same pid runs something else: the last name wins. */
	assert_int_equal(sg_profile_set_process(p, 100, "python other.py"), 0);
	assert_string_equal(sg_profile_process(p, 100), "python other.py");
	sg_profile_free(p);
}

static void test_many_stacks(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t f[3];

	(void)state;
	for (int i = 0; i < 20000; i++) {
		char name[32];

		snprintf(name, sizeof(name), "fn%d", i % 5000);
		f[0] = fx_frame(p, "main", "m.py", 1);
		f[1] = fx_frame(p, name, "m.py", i % 7 + 1);
		f[2] = fx_frame(p, "leaf", "m.py", i % 3 + 1);
		fx_add(p, f, 3, 1, 1, "t", 0, 1);
	}
	assert_int_equal(sg_profile_total(p), 20000);
	/* (i % 5000, i % 7) is distinct for every i below 35000: each middle
	 * frame, hence each stack, is new; main and the 3 leaves repeat. */
	assert_int_equal(sg_profile_nframes(p), 20000 + 1 + 3);
	assert_int_equal(sg_profile_nstacks(p), 20000);
	assert_int_equal(sg_profile_nsamples(p), 20000);
	sg_profile_free(p);
}

/* A long run whose stacks change every sample: the timeline stays within
 * its budget, and still adds up to the rows, thread by thread in time
 * order (overlapping by less than the jitter moves a sample, as samples
 * do). 4 threads at 10 kHz for 100 s: 4M samples. */
static void test_timeline_budget(void **state)
{
	enum { NTHREADS = 4, NSTACKS = 64, PERIOD = 100000 };
	const uint64_t nticks = 1000000;
	struct sg_profile *p = sg_profile_new();
	uint32_t stacks[NSTACKS];
	uint64_t *row_counts, *last_end, *last_start, total = 0;

	(void)state;
	for (uint32_t i = 0; i < NSTACKS; i++) {
		char name[16];
		uint32_t f[2];

		snprintf(name, sizeof(name), "f%u", i);
		f[0] = fx_frame(p, "main", "m.py", 1);
		f[1] = fx_frame(p, name, "m.py", (int)i + 1);
		stacks[i] = sg_profile_stack_id(p, f, 2);
	}
	for (uint64_t t = 0; t < nticks; t++)
		for (pid_t th = 0; th < NTHREADS; th++) {
			struct sg_labels l = {.pid = 10, .tid = 10 + th};
			/* Off the tick by up to a tenth of a period, as jitter does. */
			uint64_t at = t * PERIOD + (t * 7919 % 10) * PERIOD / 100;

			assert_int_equal(
			    sg_profile_add_at(p, stacks[(t * 31 + (uint64_t)th) % NSTACKS], &l, 1,
			                      PERIOD, at),
			    0);
		}
	assert_true(sg_profile_nruns(p) <= SG_PROFILE_MAX_RUNS);
	assert_true(sg_profile_timeline_grid(p) > 0);
	row_counts = calloc(sg_profile_nsamples(p), sizeof(*row_counts));
	last_end = calloc(NTHREADS, sizeof(*last_end));
	last_start = calloc(NTHREADS, sizeof(*last_start));
	assert_non_null(last_start);
	assert_non_null(row_counts);
	assert_non_null(last_end);
	for (size_t i = 0; i < sg_profile_nruns(p); i++) {
		const struct sg_run *run = sg_profile_run(p, i);
		pid_t th = sg_profile_sample(p, run->row)->labels.tid - 10;

		assert_true(run->start_ns >= last_start[th]);
		assert_true(run->start_ns + PERIOD / 10 >= last_end[th]);
		assert_true(run->end_ns >= run->start_ns);
		last_start[th] = run->start_ns;
		last_end[th] = run->end_ns;
		row_counts[run->row] += run->count;
		total += run->count;
	}
	assert_int_equal(total, nticks * NTHREADS);
	assert_int_equal(sg_profile_total(p), nticks * NTHREADS);
	for (size_t r = 0; r < sg_profile_nsamples(p); r++)
		assert_int_equal(row_counts[r], sg_profile_sample(p, r)->count);
	/* The whole run is still covered: the last runs end near its end. */
	for (int th = 0; th < NTHREADS; th++)
		assert_true(last_end[th] >= (nticks - 1) * PERIOD);
	free(row_counts);
	free(last_end);
	free(last_start);
	sg_profile_free(p);
}

/* A window of one thread: n samples of main;f from t0_ns on (ms apart). */
static struct sg_profile *window(uint64_t start_unix_ns, const char *leaf, int n)
{
	struct sg_profile *p = sg_profile_new();
	struct sg_labels l = {.pid = 7, .tid = 8};
	uint32_t frames[2], stack;

	assert_non_null(p);
	frames[0] = fx_frame(p, "main", "m.py", 1);
	frames[1] = fx_frame(p, leaf, "m.py", 2);
	stack = sg_profile_stack_id(p, frames, 2);
	l.thread_name = fx_str(p, "MainThread");
	for (int i = 0; i < n; i++)
		assert_int_equal(
		    sg_profile_add_sample(p, stack, &l, 1000000, (uint64_t)i * 1000000, 1000000),
		    0);
	sg_profile_meta(p)->start_unix_ns = start_unix_ns;
	sg_profile_meta(p)->duration_ns = (uint64_t)n * 1000000;
	sg_profile_meta(p)->samples = (uint64_t)n;
	return p;
}

static void test_clear_keeps_the_run(void **state)
{
	struct sg_profile *p = window(5, "f", 10);
	struct sg_meta *m = sg_profile_meta(p);

	(void)state;
	assert_int_equal(sg_profile_set_meta_str(p, &m->command, "python m.py"), 0);
	assert_int_equal(sg_profile_set_meta_str(p, &m->python_version, "3.12.1"), 0);
	assert_int_equal(sg_profile_add_path_root(p, "/usr/lib/python3.12"), 0);
	assert_int_equal(sg_profile_set_process(p, 7, "python m.py"), 0);
	m->mode = SG_MODE_WALL;
	m->rate_asked_hz = 19;
	assert_int_equal(sg_profile_clear(p), 0);
	m = sg_profile_meta(p);
	assert_int_equal(sg_profile_total(p), 0);
	assert_int_equal(sg_profile_nsamples(p), 0);
	assert_int_equal(sg_profile_nruns(p), 0);
	assert_int_equal(sg_profile_nstacks(p), 0);
	assert_int_equal(sg_profile_nframes(p), 0);
	assert_int_equal(m->samples, 0);
	assert_int_equal(m->start_unix_ns, 0);
	assert_string_equal(m->command, "python m.py");
	assert_string_equal(m->python_version, "3.12.1");
	assert_string_equal(m->path_roots, "/usr/lib/python3.12/\n");
	assert_string_equal(sg_profile_process(p, 7), "python m.py");
	assert_int_equal(m->mode, SG_MODE_WALL);
	assert_true(m->rate_asked_hz == 19);
	sg_profile_free(p);
}

static void test_merge_windows(void **state)
{
	struct sg_profile *all = sg_profile_new();
	struct sg_profile *a = window(1000000000, "f", 10), *b = window(1020000000, "g", 5);
	struct sg_profile *c = window(1020000000, "f", 3);
	const struct sg_meta *m;
	const struct sg_run *last;
	uint64_t f = 0, g = 0;

	(void)state;
	assert_int_equal(sg_profile_merge(all, a), 0);
	assert_int_equal(sg_profile_merge(all, b), 0);
	assert_int_equal(sg_profile_merge(all, c), 0);
	/* Parts that started before the merge's start are refused. */
	assert_int_equal(sg_profile_merge(b, a), SG_EUSAGE);
	m = sg_profile_meta_const(all);
	assert_int_equal(m->start_unix_ns, 1000000000);
	assert_int_equal(m->duration_ns, 25000000); /* 20 ms to b's start + 5 ms of b */
	assert_int_equal(m->samples, 18);
	assert_int_equal(sg_profile_total(all), 18);
	/* Rows merge by stack and labels: f (10 + 3) and g (5). */
	assert_int_equal(sg_profile_nsamples(all), 2);
	for (size_t i = 0; i < sg_profile_nsamples(all); i++) {
		const struct sg_sample *s = sg_profile_sample(all, i);
		size_t n;
		const uint32_t *frames = sg_profile_stack(all, s->stack, &n);
		const char *leaf = sg_profile_str(all, sg_profile_frame(all, frames[1])->name);

		assert_string_equal(sg_profile_str(all, s->labels.thread_name), "MainThread");
		if (strcmp(leaf, "f") == 0)
			f += s->count;
		else
			g += s->count;
	}
	assert_int_equal(f, 13);
	assert_int_equal(g, 5);
	/* b's runs moved by 20 ms. */
	last = sg_profile_run(all, sg_profile_nruns(all) - 1);
	assert_int_equal(last->start_ns, 20000000);
	sg_profile_free(a);
	sg_profile_free(b);
	sg_profile_free(c);
	sg_profile_free(all);
}

/* The RSS series: points merge in pairs at the budget, keeping every read's
 * lowest and highest, and stay evenly spaced; memory rows carry bytes. */
static void test_rss_series(void **state)
{
	struct sg_profile *p = sg_profile_new(), *q = sg_profile_new();
	size_t reads = 3 * SG_PROFILE_MAX_RSS_POINTS + 7;
	uint32_t f = fx_frame(p, "grow", "m.py", 3), stack = sg_profile_stack_id(p, &f, 1);
	struct sg_labels l = {.pid = 1, .tid = 1};

	(void)state;
	for (size_t i = 0; i < reads; i++)
		assert_int_equal(sg_profile_add_rss(p, i * 1000, 100 + i % 10), 0);
	/* Twice halved: each point covers 4 reads. */
	assert_int_equal(sg_profile_nrss(p), (reads + 3) / 4);
	for (size_t i = 0; i < sg_profile_nrss(p); i++) {
		const struct sg_rss_point *pt = sg_profile_rss(p, i);
		uint64_t lo = UINT64_MAX, hi = 0;

		for (size_t j = 4 * i; j < 4 * i + 4 && j < reads; j++) {
			lo = 100 + j % 10 < lo ? 100 + j % 10 : lo;
			hi = 100 + j % 10 > hi ? 100 + j % 10 : hi;
		}
		assert_int_equal(pt->t_ns, i * 4000);
		assert_int_equal(pt->min_bytes, lo);
		assert_int_equal(pt->max_bytes, hi);
	}
	assert_null(sg_profile_rss(p, sg_profile_nrss(p)));
	/* Bytes go to the row, created with no samples; merge keeps them. */
	assert_int_equal(sg_profile_add_memory(p, stack, &l, 4096, 0), 0);
	assert_int_equal(sg_profile_add_memory(p, stack, &l, 100, 50), 0);
	assert_int_equal(sg_profile_nsamples(p), 1);
	assert_int_equal(sg_profile_sample(p, 0)->count, 0);
	assert_int_equal(sg_profile_sample(p, 0)->rss_growth, 4196);
	assert_int_equal(sg_value_name(SG_VALUE_RSS_FREED)[4], 'f');
	assert_int_equal(sg_sample_value(sg_profile_sample(p, 0), SG_VALUE_RSS_FREED), 50);
	sg_profile_meta(p)->memory = true;
	assert_int_equal(sg_profile_merge(q, p), 0);
	assert_true(sg_profile_meta(q)->memory);
	assert_int_equal(sg_profile_sample(q, 0)->rss_growth, 4196);
	assert_int_equal(sg_profile_nrss(q), sg_profile_nrss(p));
	assert_int_equal(sg_profile_clear(p), 0);
	assert_true(sg_profile_meta(p)->memory);
	assert_int_equal(sg_profile_nrss(p), 0);
	sg_profile_free(p);
	sg_profile_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_frames_and_stacks),
	    cmocka_unit_test(test_ids_stable_as_tables_grow),
	    cmocka_unit_test(test_meta_defaults),
	    cmocka_unit_test(test_aggregation),
	    cmocka_unit_test(test_timeline),
	    cmocka_unit_test(test_rename_threads),
	    cmocka_unit_test(test_process_names),
	    cmocka_unit_test(test_many_stacks),
	    cmocka_unit_test(test_timeline_budget),
	    cmocka_unit_test(test_clear_keeps_the_run),
	    cmocka_unit_test(test_merge_windows),
	    cmocka_unit_test(test_rss_series),
	    cmocka_unit_test(test_budget_bounds_new_code),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
