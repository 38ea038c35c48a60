/* SPDX-License-Identifier: MIT */
/* Self and total per function, and the printed table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/report.h"
#include "util/err.h"

#include "profile_fixtures.h"

static void test_self_total_recursion(void **state)
{
	struct sg_profile *p = sg_profile_new();
	struct sg_report_row rows[8];
	uint32_t f[4];
	int n;

	(void)state;
	f[0] = fx_frame(p, "main", "m.py", 1);
	f[1] = fx_frame(p, "rec", "m.py", 5);
	f[2] = fx_frame(p, "rec", "m.py", 6); /* another line of the same function */
	f[3] = fx_frame(p, "leaf", "m.py", 9);
	fx_add(p, f, 4, 1, 1, "t", 0, 6);                        /* main;rec;rec;leaf */
	fx_add(p, f, 3, 1, 1, "t", SG_SAMPLE_IDLE, 3);           /* main;rec;rec, idle */
	fx_add(p, (uint32_t[]){f[0]}, 1, 1, 1, "t", 0, 1);       /* main */
	fx_add(p, (uint32_t[]){f[1], f[1]}, 2, 1, 1, "t", 0, 2); /* rec;rec, same line */
	n = sg_report_top_self(p, rows, 8);
	assert_int_equal(n, 3);
	assert_string_equal(sg_profile_str(p, rows[0].name), "leaf");
	assert_int_equal(rows[0].self, 6);
	assert_int_equal(rows[0].total, 6);
	assert_string_equal(sg_profile_str(p, rows[1].name), "rec");
	assert_int_equal(rows[1].self, 5);
	assert_int_equal(rows[1].total, 11); /* recursion counted once per sample */
	assert_string_equal(sg_profile_str(p, rows[2].name), "main");
	assert_int_equal(rows[2].self, 1);
	assert_int_equal(rows[2].total, 10);
	assert_string_equal(sg_profile_str(p, rows[2].file), "m.py");
	sg_profile_free(p);
}

static void test_ordering_and_limits(void **state)
{
	struct sg_profile *p = sg_profile_new();
	struct sg_report_row rows[8];
	uint32_t root = fx_frame(p, "root", "r.py", 1);

	(void)state;
	/* Same name, different files: two functions. Ties go by name, then file. */
	fx_add(p, (uint32_t[]){root, fx_frame(p, "b", "2.py", 1)}, 2, 1, 1, "t", 0, 4);
	fx_add(p, (uint32_t[]){root, fx_frame(p, "b", "1.py", 1)}, 2, 1, 1, "t", 0, 4);
	fx_add(p, (uint32_t[]){root, fx_frame(p, "a", "9.py", 1)}, 2, 1, 1, "t", 0, 4);
	fx_add(p, (uint32_t[]){root, fx_frame(p, "z", "9.py", 1)}, 2, 1, 1, "t", 0, 5);
	assert_int_equal(sg_report_top_self(p, rows, 8), 4); /* root has no self */
	assert_string_equal(sg_profile_str(p, rows[0].name), "z");
	assert_string_equal(sg_profile_str(p, rows[1].name), "a");
	assert_string_equal(sg_profile_str(p, rows[2].file), "1.py");
	assert_string_equal(sg_profile_str(p, rows[3].file), "2.py");
	assert_int_equal(sg_report_top_self(p, rows, 1), 1);
	assert_string_equal(sg_profile_str(p, rows[0].name), "z");
	assert_int_equal(sg_report_top_self(p, rows, 0), 0);
	sg_profile_free(p);
}

static char *print_to_string(const struct sg_profile *p, size_t max)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	assert_int_equal(sg_report_print_top(p, max, false, out), 0);
	fclose(out);
	return buf;
}

static void test_interval_known_values(void **state)
{
	/* Wilson score intervals at 95%, from the closed form with z = 1.96
	 * (as tabulated, e.g. Newcombe 1998, Statistics in Medicine 17:857). */
	static const struct {
		uint64_t k, n;
		double lo, hi;
	} known[] = {
	    {1, 1, 0.206549, 1.0},         {0, 1, 0.0, 0.793451},
	    {0, 10, 0.0, 0.277533},        {5, 10, 0.236593, 0.763407},
	    {2, 3, 0.207660, 0.938508},    {75, 100, 0.656955, 0.824548},
	    {25, 100, 0.175452, 0.343045},
	};
	double lo, hi;

	(void)state;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		sg_report_interval(known[i].k, known[i].n, &lo, &hi);
		assert_float_equal(lo, known[i].lo, 1e-6);
		assert_float_equal(hi, known[i].hi, 1e-6);
	}
	/* Inside [0, 1] and never of zero width, however extreme. */
	for (uint64_t n = 1; n <= 1000; n = n * 3 + 1)
		for (uint64_t k = 0; k <= n; k += n / 7 + 1) {
			sg_report_interval(k, n, &lo, &hi);
			assert_true(lo >= 0 && hi <= 1 && lo < hi);
			assert_true(lo <= (double)k / (double)n && (double)k / (double)n <= hi);
		}
	sg_report_interval(0, 0, &lo, &hi);
	assert_true(lo == 0 && hi == 1);
}

static void test_print_interval(void **state)
{
	struct sg_profile *p = sg_profile_new(), *empty = sg_profile_new();
	uint32_t main_ = fx_frame(p, "main", "m.py", 1), hot = fx_frame(p, "hot", NULL, 0);
	char *text;

	(void)state;
	fx_add(p, (uint32_t[]){main_, hot}, 2, 1, 1, "t", 0, 25);
	fx_add(p, &main_, 1, 1, 1, "t", 0, 75);
	text = print_to_string(p, 10);
	/* 75 of 100: Wilson 65.7-82.5%; 25 of 100: 17.5-34.3%. No file: no
	 * parentheses. */
	assert_string_equal(text, "    self%      95% CI  total%  samples  function\n"
	                          "    75.00   65.7-82.5  100.00       75  main (m.py)\n"
	                          "    25.00   17.5-34.3   25.00       25  hot\n");
	free(text);
	text = print_to_string(empty, 10);
	assert_string_equal(text, "    self%      95% CI  total%  samples  function\n");
	free(text);
	sg_profile_free(empty);
	sg_profile_free(p);
}

static void test_print_one_sample(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t f = fx_frame(p, "only", "o.py", 1);
	char *text;

	(void)state;
	/* The normal approximation printed 100.00 +/- 0.00 here. */
	fx_add(p, &f, 1, 1, 1, "t", 0, 1);
	text = print_to_string(p, 10);
	assert_string_equal(text, "    self%      95% CI  total%  samples  function\n"
	                          "   100.00  20.7-100.0  100.00        1  only (o.py)\n");
	free(text);
	sg_profile_free(p);
}

static void test_print_wall_splits_idle(void **state)
{
	struct sg_profile *p = sg_profile_new();
	uint32_t run = fx_frame(p, "run", "w.py", 1),
	         wait = fx_frame(p, "Condition.wait", "t.py", 2),
	         work = fx_frame(p, "work", "w.py", 5);
	char *text;

	(void)state;
	sg_profile_meta(p)->mode = SG_MODE_WALL;
	/* A waiter idle 57% of the time, a worker on CPU 40%, and 3% of the
	 * worker's samples where the kernel had it off CPU. */
	fx_add(p, (uint32_t[]){run, wait}, 2, 1, 1, "t", SG_SAMPLE_IDLE, 57);
	fx_add(p, (uint32_t[]){run, work}, 2, 1, 2, "t", 0, 40);
	fx_add(p, (uint32_t[]){run, work}, 2, 1, 2, "t", SG_SAMPLE_IDLE, 3);
	text = print_to_string(p, 10);
	assert_string_equal(
	    text, "  on-CPU%      95% CI   idle%      95% CI  total%  samples  function\n"
	          "    40.00   30.9-49.8    3.00     1.0-8.5   43.00       43  work (w.py)\n"
	          "     0.00     0.0-3.7   57.00   47.2-66.3   57.00       57  "
	          "Condition.wait (t.py)\n");
	free(text);
	sg_profile_free(p);
}

/* A series of reads every 100 ms for 60 s, bytes(t) MiB. */
static struct sg_profile *series(double (*bytes)(double t))
{
	struct sg_profile *p = sg_profile_new();

	for (int i = 0; i < 600; i++)
		assert_int_equal(sg_profile_add_rss(p, (uint64_t)i * 100000000,
		                                    (uint64_t)(bytes(i / 10.0) * 1048576)),
		                 0);
	return p;
}

/* A leak of 2 MiB/s, 100 MiB at the start, teeth of 4 MiB every 3 s, and
 * the fall at exit in its last second. */
static double staircase(double t)
{
	return t >= 59 ? 20 : 100 + 2 * t + (fmod(t, 3) < 1.5 ? 4 : 0);
}

/* 40 MiB filled over 10 s, then cleared, after a start-up ramp. */
static double sawtooth(double t)
{
	return t < 1 ? 10 + 40 * t : 50 + 4 * fmod(t, 10);
}

/* 200 MiB give or take 3, after a start-up ramp. */
static double flat(double t)
{
	return t < 1 ? 20 + 180 * t : 200 + 3 * sin(t);
}

static void test_memory_trends(void **state)
{
	double (*shapes[])(double) = {staircase, sawtooth, flat};
	enum sg_report_trend want[] = {SG_TREND_STAIRCASE, SG_TREND_SAWTOOTH, SG_TREND_FLAT};
	struct sg_report_memory m;

	(void)state;
	for (int i = 0; i < 3; i++) {
		struct sg_profile *p = series(shapes[i]);

		assert_int_equal(sg_report_memory(p, &m), 0);
		assert_int_equal(m.trend, want[i]);
		/* The sawtooth's floors are its 5 troughs (the 6th tooth does not
		 * climb back within the run). */
		assert_int_equal(m.windows, i == 1 ? 5 : SG_REPORT_TREND_WINDOWS);
		assert_int_equal(m.floors_are_troughs, i == 1);
		if (i == 0)
			/* 120 MiB/min, what the exit and the teeth leave of it. */
			assert_true(fabs(m.floor_slope * 60 / 1048576 - 120) < 10);
		else
			assert_true(fabs(m.floor_slope * 60 / 1048576) < 5);
		sg_profile_free(p);
	}
	/* No series: not recorded with --memory. */
	{
		struct sg_profile *p = sg_profile_new();

		assert_int_equal(sg_report_memory(p, &m), SG_EUSAGE);
		sg_profile_free(p);
	}
}

/* A cache filled at 1 MiB/s for 50 s, then cleared and filling again: a
 * sawtooth of one tooth in a 60 s run. */
static double one_cycle(double t)
{
	return 50 + fmod(t, 50);
}

/* A flat program whose start-up ramp takes the first 12 s (two windows of
 * ten) or 20 s (more than three). */
static double ramp_12(double t)
{
	return t < 12 ? 20 + 15 * t : 200;
}

static double ramp_20(double t)
{
	return t < 20 ? 20 + 9 * t : 200;
}

/* A leak of 6 MiB over the run, 0.1 MiB/s. */
static double slow_leak(double t)
{
	return 100 + 0.1 * t;
}

/* What the README says the classification cannot tell, as it is: a run
 * shorter than two of the program's cycles, a start-up ramp longer than a
 * window, a leak smaller than flat_below over the run. */
static void test_memory_trend_limits(void **state)
{
	double (*shapes[])(double) = {one_cycle, ramp_12, ramp_20, slow_leak};
	enum sg_report_trend want[] = {SG_TREND_STAIRCASE, SG_TREND_UNCLEAR, SG_TREND_STAIRCASE,
	                               SG_TREND_FLAT};
	struct sg_report_memory m;

	(void)state;
	for (int i = 0; i < 4; i++) {
		struct sg_profile *p = series(shapes[i]);

		assert_int_equal(sg_report_memory(p, &m), 0);
		assert_int_equal(m.trend, want[i]);
		/* One fall is no sawtooth: it takes two that climb back. */
		assert_true(m.teeth <= 1);
		sg_profile_free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_self_total_recursion),
	    cmocka_unit_test(test_memory_trends),
	    cmocka_unit_test(test_memory_trend_limits),
	    cmocka_unit_test(test_ordering_and_limits),
	    cmocka_unit_test(test_interval_known_values),
	    cmocka_unit_test(test_print_interval),
	    cmocka_unit_test(test_print_one_sample),
	    cmocka_unit_test(test_print_wall_splits_idle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
