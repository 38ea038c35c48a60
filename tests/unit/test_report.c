/* SPDX-License-Identifier: MIT */
/* Self and total per function, and the printed table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

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
	assert_int_equal(sg_report_print_top(p, max, out), 0);
	fclose(out);
	return buf;
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
	/* p = 0.75 of n = 100: 1.96 * sqrt(.75 * .25 / 100) = 8.49%;
	 * p = 0.25 likewise. No file: no parentheses. */
	assert_string_equal(text, "    self%  +/-95%  total%   samples  function\n"
	                          "    75.00    8.49  100.00        75  main (m.py)\n"
	                          "    25.00    8.49   25.00        25  hot\n");
	free(text);
	text = print_to_string(empty, 10);
	assert_string_equal(text, "    self%  +/-95%  total%   samples  function\n");
	free(text);
	sg_profile_free(empty);
	sg_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_self_total_recursion),
	    cmocka_unit_test(test_ordering_and_limits),
	    cmocka_unit_test(test_print_interval),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
