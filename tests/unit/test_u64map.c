/* SPDX-License-Identifier: MIT */
/* sg_u64map: get/put/replace, key 0, growth, iteration. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/u64map.h"

static void test_put_get(void **state)
{
	struct sg_u64map m = SG_U64MAP_INIT;
	uint64_t v = 0;

	(void)state;
	assert_false(sg_u64map_get(&m, 7, &v));
	assert_int_equal(sg_u64map_put(&m, 7, 70), 0);
	assert_true(sg_u64map_get(&m, 7, &v));
	assert_int_equal(v, 70);
	assert_true(sg_u64map_get(&m, 7, NULL));
	assert_int_equal(sg_u64map_put(&m, 7, 71), 0); /* replace */
	assert_true(sg_u64map_get(&m, 7, &v));
	assert_int_equal(v, 71);
	assert_int_equal(m.len, 1);
	assert_int_equal(sg_u64map_put(&m, 0, 1), SG_EUSAGE);
	assert_false(sg_u64map_get(&m, 0, &v));
	assert_int_equal(sg_u64map_put(&m, UINT64_MAX, 5), 0);
	assert_true(sg_u64map_get(&m, UINT64_MAX, &v));
	assert_int_equal(v, 5);
	sg_u64map_release(&m);
	assert_false(sg_u64map_get(&m, 7, &v));
}

static void test_growth_and_iteration(void **state)
{
	struct sg_u64map m;
	uint64_t key, value, sum = 0, seen = 0;
	size_t pos = 0;

	(void)state;
	sg_u64map_init(&m);
	/* Page-aligned addresses: keys that differ only in high bits. */
	for (uint64_t k = 1; k <= 10000; k++)
		assert_int_equal(sg_u64map_put(&m, k << 12, k), 0);
	assert_int_equal(m.len, 10000);
	assert_true(m.len * 4 <= m.cap * 3);
	for (uint64_t k = 1; k <= 10000; k++) {
		assert_true(sg_u64map_get(&m, k << 12, &value));
		assert_int_equal(value, k);
	}
	assert_false(sg_u64map_get(&m, 10001 << 12, NULL));
	while (sg_u64map_next(&m, &pos, &key, &value)) {
		assert_int_equal(key, value << 12);
		sum += value;
		seen++;
	}
	assert_int_equal(seen, 10000);
	assert_int_equal(sum, 10000 * 10001 / 2);
	assert_false(sg_u64map_next(&m, &pos, NULL, NULL));
	sg_u64map_release(&m);
	pos = 0;
	assert_false(sg_u64map_next(&m, &pos, &key, &value));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_put_get),
	    cmocka_unit_test(test_growth_and_iteration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
