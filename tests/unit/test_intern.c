/* SPDX-License-Identifier: MIT */
/* sg_intern: dense stable ids, one copy per key, aligned NUL-followed copies. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/intern.h"

static void test_ids(void **state)
{
	struct sg_intern t = SG_INTERN_INIT;
	uint32_t id;
	size_t len;

	(void)state;
	assert_int_equal(sg_intern_count(&t), 0);
	assert_int_equal(sg_intern_put(&t, "abc", 3, &id), 0);
	assert_int_equal(id, 0);
	assert_int_equal(sg_intern_put(&t, "", 0, &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(sg_intern_put(&t, NULL, 0, &id), 0);
	assert_int_equal(id, 1); /* empty is empty, whatever the pointer */
	assert_int_equal(sg_intern_put(&t, "abcd", 3, &id), 0);
	assert_int_equal(id, 0);
	assert_int_equal(sg_intern_put(&t, "a\0c", 3, &id), 0); /* bytes, not C strings */
	assert_int_equal(id, 2);
	assert_int_equal(sg_intern_count(&t), 3);
	assert_string_equal(sg_intern_get(&t, 0, &len), "abc");
	assert_int_equal(len, 3);
	assert_memory_equal(sg_intern_get(&t, 2, &len), "a\0c", 4);
	assert_string_equal(sg_intern_get(&t, 1, NULL), "");
	sg_intern_release(&t);
	assert_int_equal(sg_intern_count(&t), 0);
	sg_intern_release(&t); /* released twice: still fine */
}

static void test_growth_keeps_ids_and_alignment(void **state)
{
	struct sg_intern t;
	char key[32];
	uint32_t id;

	(void)state;
	sg_intern_init(&t);
	for (uint32_t i = 0; i < 100000; i++) {
		int n = snprintf(key, sizeof(key), "k%u", i);

		assert_int_equal(sg_intern_put(&t, key, (size_t)n, &id), 0);
		assert_int_equal(id, i);
	}
	for (uint32_t i = 0; i < 100000; i += 997) {
		int n = snprintf(key, sizeof(key), "k%u", i);
		const void *copy = sg_intern_get(&t, i, NULL);

		assert_int_equal(sg_intern_put(&t, key, (size_t)n, &id), 0);
		assert_int_equal(id, i);
		assert_string_equal(copy, key);
		assert_int_equal((uintptr_t)copy % 8, 0);
	}
	assert_int_equal(sg_intern_count(&t), 100000);
	sg_intern_release(&t);
}

/* Past its budget a table refuses new keys, finds old ones, and what it
 * uses stays within the budget however many keys are offered. */
static void test_budget(void **state)
{
	struct sg_intern t = SG_INTERN_INIT;
	char key[32];
	uint32_t id, kept = 0;
	int err = 0;

	(void)state;
	sg_intern_set_budget(&t, 64 << 10);
	for (unsigned i = 0; i < 100000 && err != SG_EFULL; i++) {
		int n = snprintf(key, sizeof(key), "frame-%u", i);

		err = sg_intern_put(&t, key, (size_t)n, &id);
		if (!err)
			kept = id + 1;
	}
	assert_int_equal(err, SG_EFULL);
	assert_true(kept > 500 && kept == sg_intern_count(&t));
	assert_true(t.bytes_len + t.n * sizeof(*t.entries) + t.nslots * sizeof(*t.slots) <=
	            64 << 10);
	/* Old keys are still found, new ones still refused. */
	assert_int_equal(sg_intern_put(&t, "frame-0", 7, &id), 0);
	assert_int_equal(id, 0);
	assert_int_equal(sg_intern_put(&t, "never seen", 10, &id), SG_EFULL);
	assert_int_equal(sg_intern_count(&t), kept);
	sg_intern_release(&t);
}

static void test_arrays(void **state)
{
	struct sg_intern t = SG_INTERN_INIT;
	const uint32_t a[] = {1, 2, 3}, b[] = {1, 2}, c[] = {3, 2, 1};
	const uint32_t *got;
	uint32_t ia, ib, ic;
	size_t len;

	(void)state;
	assert_int_equal(sg_intern_put(&t, a, sizeof(a), &ia), 0);
	assert_int_equal(sg_intern_put(&t, b, sizeof(b), &ib), 0);
	assert_int_equal(sg_intern_put(&t, c, sizeof(c), &ic), 0);
	assert_int_not_equal(ia, ib);
	assert_int_not_equal(ia, ic);
	got = sg_intern_get(&t, ic, &len);
	assert_int_equal(len, sizeof(c));
	assert_int_equal(got[0], 3);
	assert_int_equal(got[2], 1);
	sg_intern_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ids),
	    cmocka_unit_test(test_growth_keeps_ids_and_alignment),
	    cmocka_unit_test(test_arrays),
	    cmocka_unit_test(test_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
