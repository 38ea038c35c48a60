/* SPDX-License-Identifier: MIT */
/* A filling profile read now and then: the interval between readings, the
 * totals since the start, threads, and views built again from the same
 * readings while the profile goes on filling. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "profile/live.h"
#include "util/err.h"

#include "profile_fixtures.h"

static const struct sg_live_fn *fn_named(const struct sg_live_fn *fns, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(fns[i].key, key) == 0)
			return &fns[i];
	return NULL;
}

static void test_intervals(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t main_ = fx_frame(p, "main", "app.py", 1), hot = fx_frame(p, "hot", "app.py", 5);
	uint32_t wait = fx_frame(p, "wait", "app.py", 9), late = fx_frame(p, "late", "app.py", 12);
	struct sg_live_view_opts o = {.sort = SG_LIVE_SELF, .idle = true};
	struct sg_live_view v;
	const struct sg_live_fn *f;
	struct sg_live *l;

	(void)state;
	assert_int_equal(sg_live_new(p, &l), 0);
	/* No reading yet: an empty view. */
	assert_int_equal(sg_live_view(l, &o, &v), 0);
	assert_int_equal(v.nfns, 0);
	sg_live_view_release(&v);

	/* First interval: main;hot x6 in thread 10 (holding the GIL),
	 * main;wait x2 idle in thread 11. */
	fx_add(p, (uint32_t[]){main_, hot}, 2, 1, 10, "MainThread", SG_SAMPLE_GIL, 6);
	fx_add(p, (uint32_t[]){main_, wait}, 2, 1, 11, "waiter", SG_SAMPLE_IDLE, 2);
	assert_int_equal(sg_live_read(l), 0);
	/* Second: hot x1 more, late x3 (a new row), wait x2 more. */
	fx_add(p, (uint32_t[]){main_, hot}, 2, 1, 10, "MainThread", SG_SAMPLE_GIL, 1);
	fx_add(p, (uint32_t[]){main_, late}, 2, 1, 10, "MainThread", 0, 3);
	fx_add(p, (uint32_t[]){main_, wait}, 2, 1, 11, "waiter", SG_SAMPLE_IDLE, 2);
	assert_int_equal(sg_live_read(l), 0);
	/* Added after the reading: not in any view until the next one. */
	fx_add(p, (uint32_t[]){main_, hot}, 2, 1, 10, "MainThread", SG_SAMPLE_GIL, 100);

	assert_int_equal(sg_live_view(l, &o, &v), 0);
	assert_int_equal(v.samples, 6);
	assert_int_equal(v.idle, 2);
	assert_int_equal(v.gil, 1);
	assert_int_equal(v.all_samples, 14);
	assert_int_equal(v.all_idle, 4);
	assert_int_equal(v.npids, 1);
	assert_int_equal(v.pids[0], 1);
	/* By self in the interval: late 3, then wait 2, hot 1; main has none
	 * but its total puts it ahead of nothing: it comes last. */
	assert_int_equal(v.nfns, 4);
	assert_string_equal(v.fns[0].key, "late (app.py)");
	assert_string_equal(v.fns[1].key, "wait (app.py)");
	assert_string_equal(v.fns[2].key, "hot (app.py)");
	assert_string_equal(v.fns[3].key, "main (app.py)");
	f = fn_named(v.fns, v.nfns, "hot (app.py)");
	assert_int_equal(f->self, 1);
	assert_int_equal(f->all_self, 7);
	assert_int_equal(f->all_total, 7);
	f = fn_named(v.fns, v.nfns, "main (app.py)");
	assert_int_equal(f->total, 6);
	assert_int_equal(f->total_idle, 2);
	assert_int_equal(f->all_total, 14);
	/* Threads: 10 had 4 in the interval, 11 had 2 (idle). */
	assert_int_equal(v.nthreads, 2);
	assert_int_equal(v.threads[0].tid, 10);
	assert_string_equal(v.threads[0].name, "MainThread");
	assert_int_equal(v.threads[0].samples, 4);
	assert_int_equal(v.threads[0].gil, 1);
	assert_int_equal(v.threads[0].all_samples, 10);
	assert_int_equal(v.threads[1].samples, 2);
	assert_int_equal(v.threads[1].idle, 2);
	assert_null(v.threads[0].fns);
	sg_live_view_release(&v);

	/* Since the start by self: hot 7 first. Idle left out: wait is gone. */
	o.sort = SG_LIVE_ALL_SELF;
	o.idle = false;
	assert_int_equal(sg_live_view(l, &o, &v), 0);
	assert_int_equal(v.nfns, 3);
	assert_string_equal(v.fns[0].key, "hot (app.py)");
	assert_null(fn_named(v.fns, v.nfns, "wait (app.py)"));
	assert_int_equal(fn_named(v.fns, v.nfns, "main (app.py)")->total, 6); /* idle kept apart */
	assert_int_equal(sg_live_fn_total(fn_named(v.fns, v.nfns, "main (app.py)"), false), 4);
	sg_live_view_release(&v);

	/* By total in the interval, each thread's functions apart. */
	o.sort = SG_LIVE_TOTAL;
	o.idle = true;
	o.by_thread = true;
	o.max_threads = 1;
	assert_int_equal(sg_live_view(l, &o, &v), 0);
	assert_string_equal(v.fns[0].key, "main (app.py)");
	assert_int_equal(v.threads[0].nfns, 3); /* main, late, hot: not wait */
	assert_string_equal(v.threads[0].fns[0].key, "main (app.py)");
	assert_int_equal(v.threads[0].fns[0].total, 4);
	assert_string_equal(v.threads[0].fns[1].key, "late (app.py)");
	assert_null(fn_named(v.threads[0].fns, v.threads[0].nfns, "wait (app.py)"));
	assert_null(v.threads[1].fns); /* past max_threads */
	sg_live_view_release(&v);

	/* The next reading takes in the 100 added since. */
	assert_int_equal(sg_live_read(l), 0);
	o.by_thread = false;
	assert_int_equal(sg_live_view(l, &o, &v), 0);
	assert_int_equal(v.samples, 100);
	/* hot ties main at 100 in total, and has more self. */
	assert_string_equal(v.fns[0].key, "hot (app.py)");
	sg_live_view_release(&v);
	sg_live_free(l);
	sg_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_intervals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
