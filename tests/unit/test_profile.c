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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_frames_and_stacks),
	    cmocka_unit_test(test_ids_stable_as_tables_grow),
	    cmocka_unit_test(test_meta_defaults),
	    cmocka_unit_test(test_aggregation),
	    cmocka_unit_test(test_timeline),
	    cmocka_unit_test(test_process_names),
	    cmocka_unit_test(test_many_stacks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
