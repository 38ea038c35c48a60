/* SPDX-License-Identifier: MIT */
/* sg_grow: growth, overflow, failure leaves the array alone. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/err.h"

static void test_grow(void **state)
{
	uint64_t *a = NULL;
	size_t cap = 0;

	(void)state;
	assert_int_equal(sg_grow(&a, &cap, 0, sizeof(*a)), 0);
	assert_null(a); /* nothing needed, nothing allocated */
	for (size_t i = 0; i < 1000; i++) {
		assert_int_equal(sg_grow(&a, &cap, i + 1, sizeof(*a)), 0);
		assert_true(cap > i);
		a[i] = i;
	}
	for (size_t i = 0; i < 1000; i++)
		assert_int_equal(a[i], i);
	/* Capacity at least doubles: a few reallocations, not one per append. */
	assert_true(cap < 2048);
	free(a);
}

static void test_overflow(void **state)
{
	uint64_t *a = NULL;
	size_t cap = 0;

	(void)state;
	assert_int_equal(sg_grow(&a, &cap, 4, sizeof(*a)), 0);
	assert_non_null(a);
	a[0] = 42;
	assert_int_equal(sg_grow(&a, &cap, SIZE_MAX / 4, sizeof(*a)), SG_ENOMEM);
	assert_int_equal(sg_grow(&a, &cap, SIZE_MAX / 8 + 1, sizeof(*a)), SG_ENOMEM);
	assert_int_equal(sg_grow(&a, &cap, 1, 0), 0); /* already room */
	assert_int_equal(cap, 16);
	assert_int_equal(a[0], 42);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_grow),
	    cmocka_unit_test(test_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
